"""Client-side sliding-window rate limiter, shared by every task of one client.

PostHog counts requests per personal API key in sliding windows (DRF's throttles: a request
is refused when the last ``window`` seconds already hold ``limit`` requests, counted at the
moment each request reached the server). This limiter applies the same rule before sending,
so a batch job is paced instead of throttled.

The server's timestamp of a request lies somewhere between the moment the client sent it and
the moment the response came back, and network latency varies from request to request. A
limiter that counted each request from the moment it was *sent* would let request N+1 leave
exactly one window after request 1 left; if request 1 was slower on the way in than request
N+1, the server still holds request 1 in its window and refuses N+1. So a request counts as
*in flight* (it occupies a place in every window and never expires) from :meth:`begin` until
:meth:`end`, and from then on it counts from the end time, which is never earlier than the
server's own timestamp. The windows as this limiter sees them are therefore always at least as
full as the server's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from ._config import RateLimit

__all__ = ["Limiter", "SlidingWindowLimiter", "make_limiter"]


class Limiter(Protocol):
    """What the client needs of a limiter: ``await begin()`` before a request is sent,
    ``end()`` when its answer is in (or it failed), ``aclose()`` with the client."""

    @property
    def in_flight(self) -> int: ...

    async def begin(self) -> float: ...

    def end(self) -> None: ...

    async def aclose(self) -> None: ...


def make_limiter(
    rate_limit: RateLimit,
    *,
    digest: str,
    windows: Iterable[tuple[float, int]] | None = None,
) -> Limiter:
    """The limiter for ``rate_limit``: per process, or shared through Redis when it has a
    ``redis_url`` (``digest`` then names the key's budget there). ``windows`` replaces the
    minute and hour windows (tests use windows of a second)."""
    pairs = list(rate_limit.windows() if windows is None else windows)
    if rate_limit.redis_url is None:
        return SlidingWindowLimiter(pairs)
    from ._redis_limiter import RedisLimiter

    return RedisLimiter(
        pairs,
        redis_url=rate_limit.redis_url,
        digest=digest,
        fallback=rate_limit.redis_fallback,
    )


# The shortest wait: a deadline computed in floating point can come out a few ulps short of
# the clock value that really frees the slot; waiting at least this long always gets past
# it instead of spinning on waits too small to move the clock.
_MIN_SLEEP = 0.001


class _Window:
    __slots__ = ("history", "limit", "span")

    def __init__(self, span: float, limit: int) -> None:
        self.span = span
        self.limit = limit
        # Finished requests, oldest first; every entry is appended at "now" from a monotonic
        # clock, so the deque stays sorted without any work.
        self.history: deque[float] = deque()


class SlidingWindowLimiter:
    """Waits until every configured window has room, then counts the request.

    ``windows`` is a :class:`RateLimit` or ``(seconds, max requests)`` pairs (the latter lets
    tests use windows of a fraction of a second). ``clock`` and ``sleep`` default to the
    running event loop's clock and :func:`asyncio.sleep`, and can be replaced by fakes.

    Waiters are served first come, first served: a caller arriving while others wait queues
    behind them even if a slot happens to be free at that instant.
    """

    def __init__(
        self,
        windows: RateLimit | Iterable[tuple[float, int]],
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        pairs = windows.windows() if isinstance(windows, RateLimit) else windows
        self._windows = [_Window(float(span), int(limit)) for span, limit in pairs]
        for window in self._windows:
            if not (window.span > 0 and window.limit > 0):
                raise ValueError("every window needs a positive length and a positive limit")
        self._clock = clock
        self._sleep = sleep
        self._lock: asyncio.Lock | None = None
        self._queued = 0  # callers inside _wait_for_room (holding or waiting for the lock)
        self._in_flight = 0
        self._finished: asyncio.Event | None = None

    @property
    def in_flight(self) -> int:
        """Requests between :meth:`begin` and :meth:`end`."""
        return self._in_flight

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    def _delay(self, now: float) -> float | None:
        """Seconds until every window has room: 0 when a request may go now, ``None`` when
        room only comes after an in-flight request ends (no amount of waiting helps before)."""
        delay = 0.0
        for window in self._windows:
            history = window.history
            horizon = now - window.span
            # Same rule as DRF: an entry leaves the window once it is `span` seconds old.
            while history and history[0] <= horizon:
                history.popleft()
            free = window.limit - self._in_flight
            if free <= 0:
                return None
            if len(history) >= free:
                # The oldest entries that must expire so that `free - 1` remain; expiry only
                # moves forward, and an in-flight request ending appends a newer entry, so
                # this deadline cannot move later while we sleep.
                delay = max(delay, history[len(history) - free] - horizon)
        return delay

    async def acquire(self) -> float:
        """Wait for room and count one request as sent and finished now.

        For callers that cannot report when their request ends; prefer :meth:`begin` and
        :meth:`end`. Returns how long this call waited (seconds).
        """
        waited = await self._wait_for_room()
        self._record(self._now())
        return waited

    async def begin(self) -> float:
        """Wait for room and count one request as in flight until :meth:`end`.

        Every successful ``begin()`` must be paired with exactly one ``end()`` (use
        ``try``/``finally``). Returns how long this call waited (seconds).
        """
        waited = await self._wait_for_room()
        # No await between the room check and this increment: nobody can take the slot.
        self._in_flight += 1
        return waited

    def end(self) -> None:
        """The request that :meth:`begin` admitted is over (answered, failed or cancelled).

        It keeps counting from now: even a failed or cancelled request may have reached the
        server and been counted there.
        """
        if self._in_flight <= 0:
            raise RuntimeError("SlidingWindowLimiter.end() called without a matching begin()")
        self._in_flight -= 1
        if not self._windows:
            return
        self._record(self._now())
        if self._finished is not None:
            self._finished.set()

    async def aclose(self) -> None:
        """Nothing to release (the shared limiter closes its Redis connection here)."""

    async def _wait_for_room(self) -> float:
        if not self._windows:
            return 0.0
        if self._lock is None:
            self._lock = asyncio.Lock()
        started = self._now()
        # Fast path only when nobody is queued, so that a newcomer never overtakes a waiter
        # that has just been woken but not yet run.
        if self._queued == 0 and self._delay(started) == 0:
            return 0.0
        self._queued += 1
        try:
            async with self._lock:  # asyncio.Lock wakes waiters in arrival order
                while True:
                    now = self._now()
                    delay = self._delay(now)
                    if delay is None:
                        self._finished = asyncio.Event()
                        try:
                            await self._finished.wait()
                        finally:
                            self._finished = None
                    elif delay > 0:
                        await self._sleep(max(delay, _MIN_SLEEP))
                    else:
                        return now - started
        finally:
            self._queued -= 1

    def _record(self, now: float) -> None:
        for window in self._windows:
            window.history.append(now)
