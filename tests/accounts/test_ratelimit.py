import time

import pytest
from django.test import RequestFactory

from sereno.lib import ratelimit
from sereno.lib.errors import TooMany
from tests.accounts.helpers import stored_counters

pytestmark = pytest.mark.django_db


def request_from(addr: str):
    return RequestFactory().get("/", REMOTE_ADDR=addr)


def test_parse_rate():
    assert ratelimit.parse_rate("20/3600") == (20, 3600)
    for bad in ["", "20", "x/60", "0/60", "5/0", "5/-1"]:
        with pytest.raises(ValueError):
            ratelimit.parse_rate(bad)


def test_hit_counts_and_raises_with_retry_after():
    for expected in (1, 2, 3):
        ratelimit.hit("t", "k", "3/600")
        assert ratelimit.peek("t", "k", "3/600") == expected
    with pytest.raises(TooMany) as exc:
        ratelimit.hit("t", "k", "3/600")
    assert 1 <= exc.value.retry_after <= 600
    assert exc.value.status == 429
    ratelimit.hit("t", "other", "3/600")  # keys are independent
    ratelimit.hit("other-scope", "k", "3/600")  # and so are scopes


def test_reset_and_refund():
    ratelimit.hit("t", "k", "2/600")
    ratelimit.hit("t", "k", "2/600")
    ratelimit.refund("t", "k", "2/600")
    assert ratelimit.peek("t", "k", "2/600") == 1
    ratelimit.reset("t", "k")
    assert ratelimit.peek("t", "k", "2/600") == 0
    ratelimit.refund("t", "k", "2/600")  # nothing to refund: stays at 0
    assert ratelimit.peek("t", "k", "2/600") == 0


def test_retry_after_is_the_rest_of_the_window(monkeypatch):
    start = (int(time.time()) // 100 + 1) * 100  # the start of a 100-second window
    clock = [start + 40.0]
    monkeypatch.setattr(ratelimit, "_clock", lambda: clock[0])
    ratelimit.hit("t", "k", "1/100")
    clock[0] = start + 99.2
    with pytest.raises(TooMany) as exc:
        ratelimit.hit("t", "k", "1/100")
    assert exc.value.retry_after == 1


def test_client_key_hides_and_rotates(monkeypatch):
    key = ratelimit.client_key(request_from("203.0.113.7"))
    assert len(key) == 32 and "203" not in key
    assert key == ratelimit.client_key(request_from("203.0.113.7"))
    assert key != ratelimit.client_key(request_from("203.0.113.8"))
    monkeypatch.setattr(ratelimit, "_utc_day", lambda: "2031-01-02")
    assert key != ratelimit.client_key(request_from("203.0.113.7"))


def test_client_key_ignores_forwarding_headers():
    plain = ratelimit.client_key(request_from("203.0.113.7"))
    spoofed = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert ratelimit.client_key(spoofed) == plain


def test_client_key_groups_an_ipv6_slash_64():
    a = ratelimit.client_key(request_from("2001:db8:1:2::1"))
    b = ratelimit.client_key(request_from("2001:db8:1:2:ffff::9"))
    c = ratelimit.client_key(request_from("2001:db8:1:3::1"))
    assert a == b != c
    mapped = ratelimit.client_key(request_from("::ffff:203.0.113.7"))
    assert mapped == ratelimit.client_key(request_from("203.0.113.7"))


def test_cache_never_holds_the_key_itself():
    ratelimit.hit("t", "ada@example.org", "5/600")
    keys = stored_counters()
    assert keys and not any("ada" in key for key in keys)


def test_counters_expire_with_their_window():
    ratelimit.hit("t", "expiring", "5/600")
    ratelimit.hit("t", "expiring", "5/600")
    assert ratelimit.peek("t", "expiring", "5/600") == 2
    ttls = stored_counters().values()
    assert ttls and all(0 < ttl <= 600 for ttl in ttls)


@pytest.fixture
def redis_cache(settings):
    """Rate limits on a real Redis (the production setting), whatever this run's cache is."""
    import os

    import redis
    from django.core.cache import caches

    url = os.environ.get("SERENO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {url}")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "sereno-test",
        }
    }
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_redis_counters_are_atomic_under_concurrency(redis_cache):
    from concurrent.futures import ThreadPoolExecutor

    from django.core.cache import caches

    def hit(_):
        caches["default"] = redis_cache  # each thread has its own handle; use the same server
        ratelimit.hit("t", "crowd", "1000/600")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(hit, range(200)))
    assert ratelimit.peek("t", "crowd", "1000/600") == 200
    assert all(0 < ttl <= 600 for ttl in stored_counters().values())


def test_redis_limit_blocks_at_the_limit(redis_cache):
    for _ in range(3):
        ratelimit.hit("t", "k", "3/600")
    with pytest.raises(TooMany):
        ratelimit.hit("t", "k", "3/600")
    ratelimit.refund("t", "k", "3/600")
    assert ratelimit.peek("t", "k", "3/600") == 3  # the refused hit was counted too
