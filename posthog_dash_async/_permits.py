"""The client's concurrency bound: ``max_concurrency`` permits, handed out first come, first
served.

It does what ``asyncio.Semaphore`` does, with two differences that matter on the request
path: taking a free permit is one method call that never suspends (``take``), so the common
case costs no coroutine; and a released permit goes straight to the longest waiter, so a
task arriving while others wait can never overtake them.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Permits"]


class Permits:
    """``value`` permits; ``take()`` or ``await acquire()``, then ``release()`` once."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: int) -> None:
        self._value = value
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"<Permits free={self._value} waiting={len(self._waiters)}>"

    @property
    def free(self) -> int:
        """Permits nobody holds right now."""
        return self._value

    def locked(self) -> bool:
        """True when a caller would have to wait."""
        return self._value == 0

    def take(self) -> bool:
        """Take a permit if one is free (never while others wait); True when taken."""
        if self._value > 0:
            self._value -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a permit, waiting in line for one when none is free."""
        if self.take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The permit was handed over in the same step as the cancellation: it is
                # this task's, and it passes it on.
                self.release()
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:  # already taken off the line by release()
                    pass
            raise

    def release(self) -> None:
        """Give a permit back: to the longest waiter still waiting, or to the free pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._value += 1
