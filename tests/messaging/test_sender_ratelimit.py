"""Per-route rate limits: a token bucket counted in SMS segments, shared through Redis."""

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from sereno.lib.tokenbucket import LocalTokenBucket, RedisTokenBucket, token_bucket
from sereno.messaging.models import Channel
from tests.messaging.test_sender import RecordingTransport, queue, recording_transport, sender

__all__ = ["recording_transport"]  # the autouse fixture, for this module too
pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("SERENO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_bucket_lets_a_burst_through_then_the_rate():
    clock = Clock()
    bucket = LocalTokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.try_acquire(1) for _ in range(5)] == [0] * 5
    assert bucket.try_acquire(1) == pytest.approx(0.1)  # empty: one token in 1/10 s
    clock.now += 0.1
    assert bucket.try_acquire(1) == 0
    clock.now += 10  # never more than the burst saved up
    assert [bucket.try_acquire(1) for _ in range(6)][-1] > 0


def test_a_message_longer_than_the_burst_goes_once_the_bucket_is_full_and_leaves_a_debt():
    clock = Clock()
    bucket = LocalTokenBucket(rate=2, burst=3, clock=clock)
    assert bucket.try_acquire(7) == 0  # seven segments, burst three: goes, owes four
    assert bucket.try_acquire(1) == pytest.approx(2.5)  # (1 - (3 - 7)) / 2


def test_without_a_rate_there_is_no_limit():
    bucket = LocalTokenBucket(rate=0, burst=1)
    assert all(bucket.acquire(5, timeout=0) for _ in range(100))


def test_the_bucket_is_in_redis_when_redis_is_configured(settings):
    settings.REDIS_URL = ""
    assert isinstance(token_bucket("x", rate=1, burst=1), LocalTokenBucket)
    settings.REDIS_URL = REDIS_URL
    assert isinstance(token_bucket("x", rate=1, burst=1), RedisTokenBucket)


def test_without_redis_processes_that_share_a_route_each_get_their_part(settings):
    settings.REDIS_URL = ""
    part = token_bucket("x", rate=100, burst=10, share=4)  # `sereno sender --processes 4`
    assert (part.rate, part.burst) == (25, 2.5)
    settings.REDIS_URL = REDIS_URL
    assert token_bucket("x", rate=100, burst=10, share=4).rate == 100  # Redis: one bucket


def test_while_redis_is_unreachable_each_process_keeps_the_rate_itself():
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    bucket = RedisTokenBucket(client, "sereno-test:down", rate=10, burst=2)
    assert bucket.try_acquire(1) == 0 and bucket.try_acquire(1) == 0
    assert bucket.try_acquire(1) > 0  # the local fallback is empty too


def _within_rate(times_and_units, *, rate, burst, slack=0.15):
    """At every send, what went so far fits in the burst plus what the rate allows (with some
    slack: a time is taken after its tokens, by a thread that a busy machine may delay)."""
    start = times_and_units[0][0]
    total = 0
    for at, units in sorted(times_and_units):
        total += units
        assert total <= burst + rate * (at - start + slack), (total, at - start)


def test_the_sender_keeps_to_the_route_rate_counted_in_segments(settings):
    settings.REDIS_URL = ""
    channel = Channel.objects.create(
        kind="kannel", name="SMS", enabled=True, rate_per_second=40, burst=4
    )
    # 170 GSM-7 characters: two segments each, so 12 messages are 24 segments.
    rows = queue(channel, 12, text="Alerta {n:02d}: " + "x" * 160)
    assert {row.segments for row in rows} == {2}
    started = time.monotonic()
    assert sender(channel, threads=4).run(once=True).sent == 12
    elapsed = time.monotonic() - started
    assert elapsed >= (24 - 4) / 40 * 0.9  # half a second, not an instant
    _within_rate([(at, 2) for *_, at in RecordingTransport.calls], rate=40, burst=4)


_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import redis
    from sereno.lib.tokenbucket import RedisTokenBucket
    url, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bucket = RedisTokenBucket(redis.Redis.from_url(url), key, rate=100, burst=5)
    stamps = []
    for _ in range(count):
        bucket.acquire(1)
        stamps.append(time.time())
    print(json.dumps(stamps))
    """
)


@pytest.mark.redis
def test_two_processes_share_one_bucket_through_redis():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    key = f"sereno-test:bucket:{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, REDIS_URL, key, "60"],
            stdout=subprocess.PIPE,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "sereno.settings"},
        )
        for _ in range(2)
    ]
    stamps = [json.loads(proc.communicate(timeout=60)[0]) for proc in procs]
    both = sorted([(at, 1) for at in stamps[0]] + [(at, 1) for at in stamps[1]])
    # 120 tokens at 100/s with a burst of 5: over a second for the two together, where each
    # alone would have taken half of that.
    assert both[-1][0] - both[0][0] >= (120 - 5) / 100 * 0.9
    _within_rate(both, rate=100, burst=5)
    # Both really drew from it at the same time (interleaved, not one after the other).
    assert stamps[0][-1] > stamps[1][0] and stamps[1][-1] > stamps[0][0]


@pytest.mark.redis
def test_a_fast_route_takes_its_units_from_redis_a_chunk_at_a_time():
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    key = f"sereno-test:bucket:{uuid.uuid4().hex}"
    fast = RedisTokenBucket(client, key, rate=2000, burst=200)
    calls = []
    script = fast._script
    fast._script = lambda **kw: calls.append(kw["args"][2]) or script(**kw)
    assert fast.chunk == 40  # 20 ms of the rate
    for _ in range(400):
        assert fast.acquire(1)
    assert len(calls) <= 20  # about one round trip per 40 messages (a retry or two), not 400
    # A slow route is unchanged: one unit per round trip, the rate exact.
    slow = RedisTokenBucket(client, key + ":slow", rate=30, burst=60)
    assert slow.chunk == 1
    assert sum(slow.try_acquire(1) == 0 for _ in range(61)) == 60  # the burst, then wait
