from django.test import RequestFactory
from django_otp.middleware import OTPMiddleware
from django_otp.oath import totp

from sereno.accounts.selectors import staff_verified


def current_code(device) -> str:
    """The code the user's authenticator app shows right now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def verified(client, user) -> bool:
    """staff_verified() for a request carrying `client`'s session, as a staff view sees it."""
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    seen = {}
    OTPMiddleware(lambda r: seen.setdefault("ok", staff_verified(r)))(request)
    return seen["ok"]


def cache_dump() -> dict[str, str]:
    """Every cache entry, key → raw value, as the cache server holds it (Redis or the table)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from django.db import connection

    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        return {key.decode(): repr(client.dump(key)) for key in client.scan_iter(count=1000)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM sereno_cache")
        return {key: value for key, value in cursor.fetchall()}


def stored_counters() -> dict[str, int]:
    """Every rate-limit counter with its seconds to live (Redis or the database table)."""
    import time
    from datetime import UTC

    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from django.db import connection

    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        return {
            key.decode(): client.ttl(key) for key in client.scan_iter(match="*rl:*", count=1000)
        }
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, expires FROM sereno_cache WHERE cache_key LIKE '%rl:%'")
        rows = cursor.fetchall()
    # SQLite hands back naive datetimes in UTC.
    return {
        key: int((e if e.tzinfo else e.replace(tzinfo=UTC)).timestamp() - time.time())
        for key, e in rows
    }
