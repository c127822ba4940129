"""Fixed-window rate limits in the Django cache, keyed without ever storing a client address.

    hit("login.user", username, settings.RATE_LOGIN_USER)   # raises TooMany when over
    hit("report.create", client_key(request), settings.RATE_REPORTS)

Threat: the people who report to Sereno, and the staff who moderate, can face retaliation
from organised crime or corrupt officials. A list of client addresses with times is exactly
what an adversary who seizes, hacks or subpoenas the server wants. So no address is stored or
logged: `client_key` is an HMAC of it under a key derived from SECRET_KEY and the UTC date,
so the same address gives unrelated keys on different days (yesterday's counters cannot be
linked to today's); the cache key is a further hash of that; counters expire with their
window. Someone holding SECRET_KEY could still test guessed addresses against counters that
have not expired yet, which is why windows are short and nothing else is kept.
"""

import functools
import hashlib
import hmac
import ipaddress
import math
import time
import weakref
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.utils.translation import ngettext

from sereno.lib.errors import TooMany

KEY_HEX_CHARS = 32  # 128 bits: no collisions between clients in practice, nothing to reverse


def parse_rate(rate: str) -> tuple[int, int]:
    """Parse "20/3600" into (20, 3600): at most 20 hits per 3600-second window."""
    count, sep, seconds = rate.partition("/")
    try:
        parsed = int(count), int(seconds)
    except ValueError:
        parsed = (0, 0)
    if not sep or parsed[0] < 1 or parsed[1] < 1:
        raise ValueError(f"rate must look like '20/3600' (count/seconds), not {rate!r}")
    return parsed


def _utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


def _day_key(day: str) -> bytes:
    return _derive_day_key(settings.SECRET_KEY, day)


@functools.lru_cache(maxsize=4)
def _derive_day_key(secret: str, day: str) -> bytes:
    return hmac.new(
        secret.encode(), f"sereno.ratelimit.client:{day}".encode(), hashlib.sha256
    ).digest()


def _client_address(request) -> str:
    # REMOTE_ADDR only: every forwarding header can be set by the client. Behind a reverse
    # proxy REMOTE_ADDR is the proxy's address unless the proxy hands gunicorn the client's
    # (see docs/accounts.md, "Client addresses behind a proxy").
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return raw
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        # One IPv6 subscriber usually holds a whole /64 and can rotate through it freely.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_key(request) -> str:
    """A keyed hash of the client address that changes every UTC day; never the address."""
    message = _client_address(request).encode()
    return hmac.new(_day_key(_utc_day()), message, hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]


def _cache_key(scope: str, key: str) -> str:
    digest = hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()[:KEY_HEX_CHARS]
    return f"rl:{scope}:{digest}"


def _clock() -> float:
    return time.time()


def _window_left(seconds: int) -> int:
    """Seconds until the current window (aligned to the epoch) ends; at least 1."""
    return max(1, math.ceil(seconds - _clock() % seconds))


# INCR and, for a new counter, EXPIRE in one atomic round trip; a counter that somehow lost its
# expiry gets one again, so no key can outlive its window.
_INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""
_redis_scripts: "weakref.WeakKeyDictionary[RedisCache, object]" = weakref.WeakKeyDictionary()


def _redis_increment(backend: RedisCache, cache_key: str, ttl: int) -> int:
    # Django's RedisCache builds a new client object for every operation (about half a
    # millisecond of CPU each); one client per process on the backend's own pool is enough.
    script = _redis_scripts.get(backend)
    if script is None:
        script = backend._cache.get_client(write=True).register_script(_INCR_SCRIPT)
        _redis_scripts[backend] = script
    return int(script(keys=[backend.make_and_validate_key(cache_key)], args=[ttl]))


def _increment(cache_key: str, ttl: int) -> int:
    backend = caches["default"]  # the backend itself: `cache` is a proxy (isinstance fails)
    if isinstance(backend, RedisCache):
        return _redis_increment(backend, cache_key, ttl)
    if isinstance(backend, DatabaseCache):
        # BaseCache.incr is get-then-set and resets the timeout to the default, so the
        # database cache does both itself: inside a transaction, which on SQLite (BEGIN
        # IMMEDIATE) serialises concurrent hits. With PostgreSQL, use Redis.
        with transaction.atomic():
            count = (cache.get(cache_key) or 0) + 1
            cache.set(cache_key, count, timeout=ttl)
        return count
    cache.add(cache_key, 0, timeout=ttl)
    try:
        return cache.incr(cache_key)  # atomic on Redis, keeps the key's expiry
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=ttl)
        return 1


def hit(scope: str, key: str, rate: str) -> None:
    """Count one hit for `key` in `scope`; raise TooMany once the window's count is exceeded."""
    count, seconds = parse_rate(rate)
    ttl = _window_left(seconds)
    if _increment(_cache_key(scope, key), ttl) > count:
        minutes = math.ceil(ttl / 60)
        message = ngettext(
            "Too many attempts. Try again in %(minutes)d minute.",
            "Too many attempts. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
        raise TooMany(message, retry_after=ttl)


def peek(scope: str, key: str, rate: str) -> int:
    """Hits counted so far in the current window (0 when none)."""
    parse_rate(rate)
    return int(cache.get(_cache_key(scope, key)) or 0)


def reset(scope: str, key: str) -> None:
    cache.delete(_cache_key(scope, key))


def refund(scope: str, key: str, rate: str) -> None:
    """Take back one hit, e.g. for a login attempt that turned out to succeed."""
    _, seconds = parse_rate(rate)
    cache_key = _cache_key(scope, key)
    if isinstance(caches["default"], DatabaseCache):
        with transaction.atomic():
            count = cache.get(cache_key)
            if count:
                cache.set(cache_key, count - 1, timeout=_window_left(seconds))
        return
    try:
        if cache.decr(cache_key) < 0:
            cache.set(cache_key, 0, timeout=_window_left(seconds))
    except ValueError:  # nothing counted in this window
        pass
