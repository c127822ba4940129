"""Token buckets: at most `rate` units per second on average, `burst` at once.

    bucket = token_bucket("outbox:<channel uuid>", rate=10, burst=20)
    bucket.acquire(2)          # blocks until two units (e.g. SMS segments) may go

With Redis configured (SERENO_REDIS_URL) the bucket lives in Redis and every process shares
it: the refill and the take are one Lua script run atomically on the server, on the server's
clock (TIME), so processes on different machines agree. Without Redis the bucket is in the
process (one sender process per route is then the way to respect the route's limit).

A take larger than the burst is allowed once the bucket is full and leaves it in debt, so a
long message is never stuck forever and the average rate still holds.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings

log = logging.getLogger(__name__)


class TokenBucket:
    rate: float
    burst: float

    def try_acquire(self, units: float) -> float:
        """Take `units` now and return 0, or take nothing and return the seconds to wait."""
        raise NotImplementedError

    def acquire(
        self,
        units: float = 1,
        *,
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> bool:
        """Block until `units` are taken (True), or until `timeout` passes or `stop` is set
        (False, nothing taken)."""
        if self.rate <= 0:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.try_acquire(units)
            if wait <= 0:
                return True
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)


class LocalTokenBucket(TokenBucket):
    """A bucket shared by the threads of one process."""

    def __init__(self, *, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def try_acquire(self, units: float) -> float:
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            need = min(units, self.burst)
            if self._tokens >= need:
                self._tokens -= units
                return 0.0
            return (need - self._tokens) / self.rate


# KEYS[1] bucket; ARGV rate, burst, units. Returns "0" when taken, else the seconds to wait (as
# a string: Lua numbers become integers on the way back).
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local need = math.min(units, burst)
local wait = 0
if tokens >= need then
  tokens = tokens - units
else
  wait = (need - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


# How far ahead a process takes units from a Redis bucket for its own threads (see below).
RESERVE_SECONDS = 0.02


class RedisTokenBucket(TokenBucket):
    """A bucket shared by every process that uses the same Redis and key.

    A process takes units a chunk at a time and hands them to its threads, so that a fast
    route costs one round trip to Redis per chunk rather than per message (at 1,000 messages
    a second that round trip was a fifth of the sender's CPU). A chunk is at most
    RESERVE_SECONDS of the rate and a quarter of the burst: at 30/s it is one unit (nothing
    changes), at 2,000/s forty. What a process holds is spent within that blink, and the
    average rate and the burst hold as before: units are never created, only taken earlier.
    """

    def __init__(self, client, key: str, *, rate: float, burst: float):
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self.key = key
        self.chunk = max(1.0, min(self.burst / 4, self.rate * RESERVE_SECONDS))
        self._reserve = 0.0
        self._lock = threading.Lock()
        self._script = client.register_script(_TAKE_SCRIPT)
        # While Redis cannot be reached, this process keeps to the rate on its own.
        self._fallback = LocalTokenBucket(rate=rate, burst=burst)
        self._down_since: float | None = None

    def try_acquire(self, units: float) -> float:
        if self.rate <= 0:
            return 0.0
        with self._lock:
            if self._reserve >= units:
                self._reserve -= units
                return 0.0
            # A whole chunk or nothing: when the route is at its limit, this waits the chunk's
            # time (RESERVE_SECONDS at most) rather than asking Redis for a unit at a time.
            take = max(self.chunk, units - self._reserve)
            wait = self._take(take)
            if wait > 0:
                return wait
            self._reserve += take - units
            return 0.0

    def _take(self, units: float) -> float:
        if self._down_since is not None and time.monotonic() - self._down_since < 5:
            return self._fallback.try_acquire(units)
        try:
            wait = float(self._script(keys=[self.key], args=[self.rate, self.burst, units]))
        except Exception as error:  # redis.RedisError, OSError: the limit still holds locally
            if self._down_since is None:
                log.warning(
                    "token bucket %s: Redis unreachable (%s)", self.key, type(error).__name__
                )
            self._down_since = time.monotonic()
            return self._fallback.try_acquire(units)
        self._down_since = None
        return wait


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def redis_client(url: str | None = None):
    """One client (and connection pool) per URL and process; None without Redis."""
    url = url if url is not None else getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)
            _clients[url] = client
        return client


def token_bucket(
    name: str, *, rate: float, burst: float, redis_url: str | None = None, share: int = 1
):
    """A bucket in Redis when it is configured, else in this process. Without Redis, `share`
    processes that serve the same route each get that fraction of the rate and burst."""
    client = redis_client(redis_url)
    if client is None:
        share = max(1, share)
        return LocalTokenBucket(rate=rate / share, burst=max(1.0, burst / share))
    return RedisTokenBucket(client, f"sereno:tokenbucket:{name}", rate=rate, burst=burst)
