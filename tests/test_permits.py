"""The client's concurrency bound (``_permits.Permits``): first come, first served, a
permit never lost or doubled by a cancellation, and the bound held over a real socket."""

from __future__ import annotations

import asyncio

from _loopback import Loopback, client
from aiohttp import web

from posthog_dash_async._permits import Permits


async def test_take_hands_out_free_permits_and_then_refuses() -> None:
    permits = Permits(2)
    assert permits.take()
    assert permits.take()
    assert not permits.take()
    assert permits.locked()
    permits.release()
    assert permits.free == 1
    assert not permits.locked()


async def test_waiters_are_served_in_arrival_order_and_newcomers_cannot_overtake() -> None:
    permits = Permits(1)
    assert permits.take()
    order: list[int] = []

    async def wait(n: int) -> None:
        await permits.acquire()
        order.append(n)

    tasks = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    permits.release()
    # The permit went to waiter 0, not back to the pool: a newcomer finds none free.
    assert not permits.take()
    await asyncio.sleep(0)
    assert order == [0]
    permits.release()
    permits.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    permits.release()
    assert permits.free == 1
    assert not permits._waiters


async def test_a_waiter_cancelled_while_waiting_leaves_the_line() -> None:
    permits = Permits(1)
    assert permits.take()
    waiting = asyncio.create_task(permits.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert not permits._waiters
    permits.release()
    assert permits.free == 1


async def test_a_permit_handed_to_a_task_cancelled_in_the_same_step_is_passed_on() -> None:
    permits = Permits(1)
    assert permits.take()
    first = asyncio.create_task(permits.acquire())
    second = asyncio.create_task(permits.acquire())
    await asyncio.sleep(0)
    permits.release()  # to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    await asyncio.gather(first, return_exceptions=True)
    assert first.cancelled()
    await asyncio.wait_for(second, 1.0)  # the permit went on to `second`
    assert permits.free == 0
    permits.release()
    assert permits.free == 1


async def test_the_client_never_has_more_requests_in_flight_than_its_permits() -> None:
    in_flight = peak = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return web.Response(body=b"{}", content_type="application/json")

    async with Loopback(handler) as srv, client(srv.url, max_concurrency=3) as ph:
        await asyncio.gather(*(ph.request("GET", f"dashboards/{n}/") for n in range(30)))
        assert ph._semaphore is not None
        assert ph._semaphore.free == 3
    assert peak == 3
    assert len(srv.hits) == 30
