"""The client-side sliding-window limiter, in fake time.

Most tests run on an event loop whose clock is virtual: when nothing is ready to run, the loop
jumps straight to the next timer instead of sleeping. An hour of pacing takes milliseconds,
and every admission time is exact. One test runs in real time against a loopback server that
throttles like DRF, with windows of a quarter of a second.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from _loopback import THROTTLED, Loopback, client
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async._limiter import SlidingWindowLimiter

T = TypeVar("T")


class _TimeTravelSelector(selectors.DefaultSelector):
    """Never blocks: a wait for the next timer advances the virtual clock instead."""

    now = 0.0

    def select(self, timeout: float | None = None) -> Any:
        events = super().select(0)
        if not events:
            if timeout is None:
                raise RuntimeError("deadlock: every task waits and no timer is scheduled")
            self.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._travel = _TimeTravelSelector()
        super().__init__(self._travel)

    def time(self) -> float:
        return self._travel.now


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def now() -> float:
    return asyncio.get_running_loop().time()


async def at(when: float) -> None:
    await asyncio.sleep(when - now())


# --- windows -------------------------------------------------------------------------------


def test_requests_under_the_limit_go_at_once() -> None:
    async def main() -> list[float]:
        limiter = SlidingWindowLimiter([(60.0, 3)])
        return [await limiter.acquire() for _ in range(3)]

    assert run_virtual(main) == [0.0, 0.0, 0.0]


def test_the_minute_window_paces_the_next_request() -> None:
    async def main() -> list[float]:
        limiter = SlidingWindowLimiter(pda.RateLimit(per_minute=3, per_hour=None))
        times = []
        for _ in range(7):
            await limiter.acquire()
            times.append(now())
        return times

    assert run_virtual(main) == [0, 0, 0, 60, 60, 60, 120]


def test_both_windows_apply() -> None:
    async def main() -> list[float]:
        limiter = SlidingWindowLimiter(pda.RateLimit(per_minute=2, per_hour=3))
        times = []
        for _ in range(6):
            await limiter.acquire()
            times.append(now())
        return times

    # The third waits for the minute window, the fourth for the hour window.
    assert run_virtual(main) == [0, 0, 60, 3600, 3600, 3660]


def test_an_injected_clock_and_sleep_are_used() -> None:
    class FakeClock:
        def __init__(self) -> None:
            self.now = 1000.0
            self.sleeps: list[float] = []

        def __call__(self) -> float:
            return self.now

        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += seconds

    async def main() -> tuple[list[float], list[float]]:
        clock = FakeClock()
        limiter = SlidingWindowLimiter([(60.0, 2)], clock=clock, sleep=clock.sleep)
        waited = [await limiter.acquire() for _ in range(3)]
        return waited, clock.sleeps

    assert asyncio.run(main()) == ([0.0, 0.0, 60.0], [60.0])


def test_no_windows_means_no_waiting() -> None:
    async def main() -> float:
        limiter = SlidingWindowLimiter(pda.RateLimit(per_minute=None, per_hour=None))
        for _ in range(10_000):
            await limiter.begin()
            limiter.end()
        return now()

    assert run_virtual(main) == 0.0


def test_client_wiring() -> None:
    ph = pda.AsyncPostHog(api_key="phx_x" * 4)
    assert ph._limiter is not None
    assert [(w.span, w.limit) for w in ph._limiter._windows] == [(60.0, 480), (3600.0, 4800)]
    assert pda.AsyncPostHog(api_key="phx_x" * 4, rate_limit=None)._limiter is None
    with pytest.raises(ValueError, match="positive"):
        SlidingWindowLimiter([(0.0, 3)])


# --- in flight: a request counts until it ends, then from its end ---------------------------


def test_in_flight_requests_count_until_they_end_then_from_their_end() -> None:
    async def main() -> float:
        limiter = SlidingWindowLimiter([(10.0, 2)])
        await limiter.begin()
        await limiter.begin()

        async def finish(when: float) -> None:
            await at(when)
            limiter.end()

        enders = [asyncio.create_task(finish(4.0)), asyncio.create_task(finish(5.0))]
        # Both places are taken by requests still in flight: only an end makes progress,
        # and then the earliest end must leave the window.
        await limiter.begin()
        admitted = now()
        limiter.end()
        await asyncio.gather(*enders)
        return admitted

    assert run_virtual(main) == 14.0


def _drf_server(windows: list[tuple[float, int]]) -> tuple[Callable[[float], bool], list[int]]:
    """DRF's SimpleRateThrottle: refuse when the window already holds `limit` requests;
    refused requests are not recorded."""
    histories = [deque[float]() for _ in windows]
    refused = [0]

    def arrive(t: float) -> bool:
        for (span, limit), history in zip(windows, histories, strict=True):
            while history and history[0] <= t - span:
                history.popleft()
            if len(history) >= limit:
                refused[0] += 1
                return False
        for history in histories:
            history.append(t)
        return True

    return arrive, refused


def test_5000_queued_requests_are_paced_under_the_servers_count() -> None:
    windows = [(60.0, 480), (3600.0, 4800)]
    rng = random.Random(20250101)

    async def main() -> tuple[int, float, list[float]]:
        limiter = SlidingWindowLimiter(pda.RateLimit())
        arrive, refused = _drf_server(windows)
        sent: list[float] = []

        async def request() -> None:
            await limiter.begin()
            try:
                sent.append(now())
                # Latency varies per request (and a few are very slow): the server's
                # timestamp lies anywhere between sending and the answer.
                slow = rng.random() < 0.02
                await asyncio.sleep(rng.uniform(0.001, 20.0 if slow else 0.3))
                arrive(now())
                await asyncio.sleep(rng.uniform(0.001, 20.0 if slow else 0.3))
            finally:
                limiter.end()

        await asyncio.gather(*(request() for _ in range(5000)))
        return refused[0], now(), sent

    refused, finished, sent = run_virtual(main)
    assert refused == 0
    assert len(sent) == 5000
    # Paced, not stalled: a full minute's budget goes at once, and the hour's budget is
    # used up within its hour; the last 200 wait for the first requests to leave the hour.
    assert sent.count(0.0) == 480
    assert sorted(sent)[4799] < 3600
    assert 3600 < finished < 3700


def test_counting_from_the_send_time_would_be_refused_by_the_server() -> None:
    """The reason requests count until they end: the server model above does catch a
    limiter that counts from the moment of sending."""

    async def main() -> int:
        limiter = SlidingWindowLimiter([(60.0, 2)])
        arrive, refused = _drf_server([(60.0, 2)])

        async def request(uplink: float) -> None:
            await limiter.acquire()  # counted at send time
            await asyncio.sleep(uplink)
            arrive(now())

        # The first request is slow on the way in; the third leaves one window after it
        # left, and arrives before the first has left the server's window.
        await asyncio.gather(request(1.0), request(0.01), request(0.01))
        return refused[0]

    assert run_virtual(main) == 1


# --- fairness and cancellation --------------------------------------------------------------


def test_waiters_are_served_in_arrival_order() -> None:
    async def main() -> list[tuple[int, float]]:
        limiter = SlidingWindowLimiter([(10.0, 1)])
        order: list[tuple[int, float]] = []

        async def request(i: int) -> None:
            await limiter.acquire()
            order.append((i, now()))

        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(request(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert run_virtual(main) == [(i, 10.0 * i) for i in range(6)]


def test_a_newcomer_does_not_overtake_a_woken_waiter() -> None:
    async def main() -> dict[str, float]:
        limiter = SlidingWindowLimiter([(10.0, 2)])
        await limiter.acquire()
        await limiter.acquire()
        admitted: dict[str, float] = {}

        async def request(name: str, arrive: float) -> None:
            await at(arrive)
            await limiter.acquire()
            admitted[name] = now()

        a = asyncio.create_task(request("a", 0.0))
        b = asyncio.create_task(request("b", 0.0))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        # Arrives exactly when A is admitted and B is being woken, with one slot free.
        d = asyncio.create_task(request("d", 10.0))
        await asyncio.gather(a, b, d)
        return admitted

    assert run_virtual(main) == {"a": 10.0, "b": 10.0, "d": 20.0}


def test_cancelled_waiters_take_no_slot_and_leave_the_queue_working() -> None:
    async def main() -> tuple[dict[str, float], int, bool]:
        limiter = SlidingWindowLimiter([(10.0, 1)])
        await limiter.acquire()
        admitted: dict[str, float] = {}

        async def request(name: str) -> None:
            await limiter.acquire()
            admitted[name] = now()

        a = asyncio.create_task(request("a"))  # will hold the lock, sleeping until 10
        await asyncio.sleep(0)
        b = asyncio.create_task(request("b"))  # waits for the lock
        await asyncio.sleep(0)
        c = asyncio.create_task(request("c"))
        await asyncio.sleep(0)
        await at(1.0)
        b.cancel()
        await at(2.0)
        a.cancel()
        await c
        assert a.cancelled()
        assert b.cancelled()
        await request("e")
        assert limiter._lock is not None
        return admitted, limiter._queued, limiter._lock.locked()

    admitted, queued, locked = run_virtual(main)
    # C takes the slot at 10 that A would have had; nobody lost a turn to the cancelled ones.
    assert admitted == {"c": 10.0, "e": 20.0}
    assert queued == 0
    assert not locked


def test_a_waiter_cancelled_while_waiting_for_an_end_takes_no_slot() -> None:
    async def main() -> tuple[float, int]:
        limiter = SlidingWindowLimiter([(10.0, 1)])
        await limiter.begin()
        waiter = asyncio.create_task(limiter.begin())
        await at(1.0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await at(3.0)
        limiter.end()
        await limiter.begin()
        admitted = now()
        limiter.end()
        return admitted, limiter.in_flight

    assert run_virtual(main) == (13.0, 0)


def test_end_without_begin_is_a_bug() -> None:
    async def main() -> None:
        SlidingWindowLimiter([(1.0, 1)]).end()

    with pytest.raises(RuntimeError, match="without a matching begin"):
        run_virtual(main)


# --- the client, in real time, against a server that throttles like DRF ----------------------


async def test_the_client_stays_under_a_drf_throttle_on_loopback() -> None:
    windows = [(0.25, 3)]
    arrive, refused = _drf_server(windows)
    rng = random.Random(7)

    async def handler(request: web.Request) -> web.StreamResponse:
        # Uneven latency before the server counts the request, and before it answers.
        await asyncio.sleep(rng.uniform(0.0, 0.03))
        if not arrive(asyncio.get_running_loop().time()):
            return web.Response(status=429, body=THROTTLED, content_type="application/json")
        await asyncio.sleep(rng.uniform(0.0, 0.03))
        return web.Response(body=b"{}", content_type="application/json")

    # Twelve identical GETs at once would be coalesced into one: each is its own here.
    async with Loopback(handler) as srv, client(srv.url, max_retries=0, coalesce=False) as ph:
        ph._limiter = SlidingWindowLimiter(windows)
        await asyncio.gather(*(ph.request("GET", "dashboards/") for _ in range(12)))
        assert ph._limiter.in_flight == 0
    assert refused[0] == 0
    assert len(srv.hits) == 12
