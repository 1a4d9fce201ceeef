"""Client-side sliding-window rate limiter, shared by every task of one client.

PostHog counts requests per personal API key in sliding windows (DRF's throttles: a request
is refused when the last ``window`` seconds already hold ``limit`` requests). This limiter
applies the same rule before sending, so a batch job is paced instead of throttled.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from ._config import RateLimit

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """Waits until every configured window has room, then records the request."""

    def __init__(
        self,
        rate_limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._windows = [(span, limit, deque[float]()) for span, limit in rate_limit.windows()]
        self._clock = clock
        self._sleep = sleep
        self._lock: asyncio.Lock | None = None

    def _delay(self, now: float) -> float:
        """Seconds until all windows have room (0 when a request may go now)."""
        delay = 0.0
        for span, limit, history in self._windows:
            horizon = now - span
            while history and history[0] <= horizon:
                history.popleft()
            if len(history) >= limit:
                delay = max(delay, history[len(history) - limit] - horizon)
        return delay

    async def acquire(self) -> float:
        """Wait for room; return how long this call waited (seconds)."""
        if not self._windows:
            return 0.0
        now = self._clock()
        if self._lock is None:
            self._lock = asyncio.Lock()
        # Fast path: nobody is queued and there is room.
        if not self._lock.locked() and self._delay(now) <= 0:
            self._record(now)
            return 0.0
        started = now
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._record(now)
                    return now - started
                await self._sleep(delay)

    def _record(self, now: float) -> None:
        for _span, _limit, history in self._windows:
            history.append(now)
