"""One request budget for every process using a key: the limiter's counts kept in Redis.

PostHog counts the requests of a personal API key wherever they come from. Several worker
processes (on one machine or many) that each pace themselves to the full budget are
throttled at a multiple of it; with ``RateLimit(redis_url=...)`` they share one count.

The rule is the one of :class:`~posthog_dash_async._limiter.SlidingWindowLimiter`, applied
atomically by a Lua script on the Redis server with the server's clock (so machines whose
clocks disagree still agree on the windows):

- ``begin`` admits a request when every window has room, counting the requests that
  finished inside the window plus every request in flight (in any process), and records
  this one as in flight; otherwise it answers how long to wait;
- ``end`` moves the request from in flight to finished, timestamped at its end (never
  earlier than PostHog's own timestamp of it).

An in-flight entry carries a lease, so a process that dies mid-request does not hold a place
for ever. Keys are ``posthog-dash-async:{<digest>}:...`` where the digest is a salted SHA-256
of the API key: the key itself never reaches Redis.

When Redis cannot be reached the limiter says so in the log (once per outage, with the
address but never a password) and then, as configured, paces this process alone with the
per-process limiter (``redis_fallback="local"``, the default) or refuses the request with
:class:`~posthog_dash_async.RateLimiterUnavailableError` (``"refuse"``); it tries Redis
again a few seconds later.

The ``redis`` package (its asyncio client) is imported only when a ``redis_url`` is given:
``pip install 'posthog-dash-async[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import urlsplit

from ._limiter import SlidingWindowLimiter
from ._wire import forget_locals
from .errors import InvalidArgumentError, RateLimiterUnavailableError

__all__ = ["RedisLimiter", "shown_redis_url"]

log = logging.getLogger("posthog_dash_async")

#: How long a request may stay in flight before Redis forgets it (a process that died).
LEASE: Final = 120.0
#: After a failure, how long requests go to the fallback before Redis is tried again.
RETRY_AFTER: Final = 5.0
#: How long to wait for Redis on one call before it counts as unreachable.
REDIS_TIMEOUT: Final = 2.0
#: Poll interval while every place of a window is taken by requests in flight (another
#: process ends them; there is no cheaper way to hear of it).
POLL: Final = 0.02

# KEYS: finished (zset: token -> end ms), flight (zset: token -> lease deadline ms)
# ARGV: token, lease ms, then span ms / limit pairs. Returns 0 (admitted, recorded as in
# flight), a positive wait in ms, or -1 (wait for a request in flight to end).
_BEGIN: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local flying = redis.call('ZCARD', KEYS[2])
local longest = 0
local delay = 0
local i = 3
while ARGV[i] do
  local span = tonumber(ARGV[i])
  local limit = tonumber(ARGV[i + 1])
  if span > longest then longest = span end
  local free = limit - flying
  if free <= 0 then
    delay = -1
  elseif delay >= 0 then
    local horizon = now - span
    local live = redis.call('ZCOUNT', KEYS[1], '(' .. horizon, '+inf')
    if live >= free then
      local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. horizon, '+inf',
                                'WITHSCORES', 'LIMIT', live - free, 1)
      local wait = tonumber(oldest[2]) - horizon
      if wait < 1 then wait = 1 end
      if wait > delay then delay = wait end
    end
  end
  i = i + 2
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
if delay ~= 0 then return delay end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[2], lease + longest)
redis.call('PEXPIRE', KEYS[1], lease + longest)
return 0
"""

# KEYS: finished, flight. ARGV: token, time to keep ms.
_END: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 0
"""

# Which backend admitted the request the current task is sending: ("redis", token) or
# ("local", ""). begin() and end() of one request run in the same task.
_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "posthog_dash_async_shared_budget", default=None
)


def shown_redis_url(url: str) -> str:
    """``url`` as logs and errors show it: scheme, host, port and database, no password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "redis://(unparsable URL)"
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_redis_url(url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidArgumentError(
            f"RateLimit.redis_url must be a URL such as 'redis://localhost:6379/0', got {url!r}"
        )
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise InvalidArgumentError(
            "RateLimit.redis_url must start with redis://, rediss:// or unix://, got "
            f"{shown_redis_url(url)!r}"
        )
    return url


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise InvalidArgumentError(
            "RateLimit(redis_url=...) needs the asyncio Redis client: "
            "pip install 'posthog-dash-async[redis]'"
        ) from None
    return aioredis


class RedisLimiter:
    """The limiter interface of :class:`SlidingWindowLimiter` (``begin``/``end``/
    ``in_flight``), counting in Redis for every process that uses the same key.

    ``windows`` are ``(seconds, max requests)`` pairs; ``digest`` names the key's budget;
    ``fallback`` is ``"local"`` or ``"refuse"``.
    """

    def __init__(
        self,
        windows: Iterable[tuple[float, int]],
        *,
        redis_url: str,
        digest: str,
        fallback: str = "local",
    ) -> None:
        self._windows = [(float(span), int(limit)) for span, limit in windows]
        self._aioredis = _import_redis()
        self._url = check_redis_url(redis_url)
        self.shown_url = shown_redis_url(redis_url)
        self._fallback_mode = fallback
        self._local = SlidingWindowLimiter(self._windows)
        prefix = f"posthog-dash-async:{{{digest}}}"
        self._keys = (f"{prefix}:done", f"{prefix}:flight")
        longest = max((span for span, _ in self._windows), default=0.0)
        self._keep_ms = int((longest + LEASE) * 1000)
        self._window_args = [
            str(x) for span, limit in self._windows for x in (int(span * 1000), limit)
        ]
        self._tokens = itertools.count()
        self._process = f"{uuid.uuid4().hex[:12]}-{os.getpid()}"
        self._redis: Any = None
        self._begin_script: Any = None
        self._end_script: Any = None
        self._down_until = 0.0
        self._down = False
        self._in_flight = 0
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisLimiter({self.shown_url!r}, windows={self._windows!r})"

    @property
    def in_flight(self) -> int:
        """Requests of this process between :meth:`begin` and :meth:`end`."""
        return self._in_flight

    @property
    def using_fallback(self) -> bool:
        """True while Redis is considered unreachable."""
        return self._down

    def _client(self) -> Any:
        if self._redis is None:
            self._redis = self._aioredis.from_url(
                self._url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
                retry_on_timeout=False,
            )
            self._begin_script = self._redis.register_script(_BEGIN)
            self._end_script = self._redis.register_script(_END)
        return self._redis

    def _unreachable(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + RETRY_AFTER
        if self._down:
            return
        self._down = True
        if self._fallback_mode == "local":
            then = (
                "pacing this process alone with the per-process limiter until it is back "
                "(other processes using the key are not counted meanwhile)"
            )
        else:
            then = "refusing requests until it is back (redis_fallback='refuse')"
        log.warning(
            "rate limiter: Redis at %s is unreachable (%s); %s",
            self.shown_url,
            type(exc).__name__,
            then,
        )

    def _reachable(self) -> None:
        if self._down:
            self._down = False
            log.warning(
                "rate limiter: Redis at %s is reachable again; the budget is shared",
                self.shown_url,
            )

    async def begin(self) -> float:
        """Wait until the shared budget has room and count one request as in flight."""
        if not self._windows:
            self._in_flight += 1
            _current.set(("local", ""))
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        token = f"{self._process}-{next(self._tokens)}"
        while True:
            if self._down and time.monotonic() < self._down_until:
                return await self._begin_fallback(started)
            try:
                self._client()
                answer = int(
                    await self._begin_script(
                        keys=self._keys,
                        args=[token, int(LEASE * 1000), *self._window_args],
                    )
                )
            except (OSError, asyncio.TimeoutError, self._aioredis.RedisError) as exc:
                # The client's frames behind it hold the connection's settings (a password).
                forget_locals(exc)
                self._unreachable(exc)
                return await self._begin_fallback(started)
            self._reachable()
            if answer == 0:
                self._in_flight += 1
                _current.set(("redis", token))
                return loop.time() - started
            await asyncio.sleep(POLL if answer < 0 else answer / 1000)

    async def _begin_fallback(self, started: float) -> float:
        if self._fallback_mode == "refuse":
            raise RateLimiterUnavailableError(
                f"the shared rate budget in Redis at {self.shown_url} is unreachable and "
                "RateLimit(redis_fallback='refuse') forbids sending without it; nothing was sent",
                redis_url=self.shown_url,
            )
        await self._local.begin()
        self._in_flight += 1
        _current.set(("local", ""))
        return asyncio.get_running_loop().time() - started

    def end(self) -> None:
        """The request admitted by :meth:`begin` in this task is over."""
        if self._in_flight <= 0:
            raise RuntimeError("RedisLimiter.end() called without a matching begin()")
        self._in_flight -= 1
        current = _current.get()
        _current.set(None)
        if current is None or current[0] == "local":
            if self._windows:
                self._local.end()
            return
        # end() cannot wait (it runs in `finally` blocks, even of cancelled tasks): the
        # script runs in a task of its own, awaited by aclose().
        task = asyncio.get_running_loop().create_task(self._end_remote(current[1]))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _end_remote(self, token: str) -> None:
        try:
            await self._end_script(keys=self._keys, args=[token, self._keep_ms])
        except (OSError, asyncio.TimeoutError, self._aioredis.RedisError) as exc:
            # The lease frees the place when it expires.
            self._unreachable(exc)

    async def aclose(self) -> None:
        """Finish the pending ``end`` updates and close the connection to Redis."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
