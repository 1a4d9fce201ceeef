"""Coalescing: identical GETs in flight are sent once, over a real socket to FakePostHog."""

from __future__ import annotations

import asyncio

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async._coalesce import SharedReads
from posthog_dash_async._transport import Response
from posthog_dash_async.testing import FakePostHog

DETAIL = "/api/projects/42/dashboards/412/"


def gets(server: FakePostHog, path: str = DETAIL) -> int:
    return len([r for r in server.requests if r.method == "GET" and r.path == path])


async def wait_for_requests(server: FakePostHog, count: int) -> None:
    """Yield to the loop until the server has received ``count`` requests."""
    for _ in range(2000):
        if len(server.requests) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the server received {len(server.requests)} requests, not {count}")


async def test_identical_gets_in_flight_are_sent_once() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.2)
        results = await asyncio.gather(*(ph.dashboards.get(412) for _ in range(20)))
        assert gets(server) == 1
        assert all(r == results[0] for r in results)
        assert results[0].name == "Growth overview"


async def test_callers_never_share_models() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.2)
        first, second = await asyncio.gather(ph.dashboards.get(412), ph.dashboards.get(412))
        assert gets(server) == 1
        assert first is not second
        assert first.tiles is not second.tiles
        count = len(second.tiles)
        first.tiles.clear()  # one caller changes its own model...
        first.filters["date_from"] = "-1y"
        assert len(second.tiles) == count  # ...and the other does not see it
        assert second.filters.get("date_from") != "-1y"


async def test_different_parameters_are_separate_requests() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.2)
        await asyncio.gather(
            ph.dashboards.get(412),
            ph.dashboards.get(412, refresh="blocking"),
            ph.dashboards.get(415),
            ph.dashboards.list(limit=2),
            ph.dashboards.list(limit=3),
        )
        assert len(server.requests) == 5


async def test_coalesce_false_sends_every_request() -> None:
    async with FakePostHog() as server, connect(server, coalesce=False) as ph:
        server.set_delay(0.1)
        await asyncio.gather(*(ph.dashboards.get(412) for _ in range(5)))
        assert gets(server) == 5
        assert ph.coalesce is False


async def test_sequential_gets_are_not_coalesced() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        await ph.dashboards.get(412)
        await ph.dashboards.get(412)
        assert gets(server) == 2


async def test_request_escape_hatch_coalesces_gets() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.2)
        a, b = await asyncio.gather(
            ph.request("GET", "dashboards/412/"), ph.request("GET", "dashboards/412/")
        )
        assert gets(server) == 1
        assert a == b
        assert a is not b


async def test_cancelled_caller_does_not_cancel_the_shared_request() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.3)
        leader = asyncio.create_task(ph.dashboards.get(412))
        followers = [asyncio.create_task(ph.dashboards.get(412)) for _ in range(3)]
        await wait_for_requests(server, 1)
        leader.cancel()
        followers[0].cancel()
        results = await asyncio.gather(*followers[1:])
        assert [r.id for r in results] == [412, 412]
        with pytest.raises(asyncio.CancelledError):
            await leader
        with pytest.raises(asyncio.CancelledError):
            await followers[0]
        assert gets(server) == 1
        assert server.requests[0].status == 200


async def test_request_is_cancelled_when_every_caller_left() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.5)
        callers = [asyncio.create_task(ph.dashboards.get(412)) for _ in range(3)]
        await wait_for_requests(server, 1)
        for task in callers:
            task.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        assert ph._reads is not None
        assert ph._reads.in_flight == 0
        # The next caller starts afresh instead of joining the abandoned request.
        server.set_delay(None)
        dashboard = await ph.dashboards.get(412)
        assert dashboard.id == 412
        assert gets(server) == 2


async def test_errors_reach_every_waiter_as_their_own_exception() -> None:
    async with FakePostHog() as server, connect(server, max_retries=0) as ph:
        server.set_delay(0.2)
        server.fail_next(status=500, path="dashboards/412/")
        results = await asyncio.gather(
            *(ph.dashboards.get(412) for _ in range(4)), return_exceptions=True
        )
        assert gets(server) == 1
        assert all(isinstance(r, pda.ServerError) for r in results)
        assert len({id(r) for r in results}) == 4  # each waiter its own copy
        assert all(r.status == 500 for r in results if isinstance(r, pda.ServerError))
        # A failure is not remembered: the next call asks again.
        assert (await ph.dashboards.get(412)).id == 412


async def test_missing_dashboard_is_one_request_and_a_404_for_all() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.2)
        results = await asyncio.gather(
            *(ph.dashboards.get(999_999) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, pda.NotFoundError) for r in results)
        assert len(server.requests) == 1


async def test_a_get_after_a_write_does_not_join_a_get_from_before_it() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(lambda r: 0.3 if r.method == "GET" else 0.0)
        before = asyncio.create_task(ph.dashboards.get(412))
        await wait_for_requests(server, 1)
        await ph.dashboards.update(412, name="Renamed")
        after = await ph.dashboards.get(412)
        assert after.name == "Renamed"
        assert (await before).id == 412
        assert gets(server) == 2


async def test_iter_pages_still_arrive_in_order_with_coalescing() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        everything = [d.id async for d in ph.dashboards.iter(page_size=2)]
        listed = await ph.dashboards.list(limit=100)
        assert everything == [d.id for d in listed.results]


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_coalesce_must_be_a_bool(bad: object) -> None:
    with pytest.raises(pda.InvalidArgumentError, match="coalesce"):
        pda.AsyncPostHog(api_key="phx_x", coalesce=bad)  # type: ignore[arg-type]


# --- the flight machinery itself (SharedReads), with a send the test controls -----------


class Gate:
    """A ``send`` that waits until the test answers it; counts how often it was sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.cancelled = 0
        self.answer: asyncio.Future[Response] | None = None

    async def send(self) -> Response:
        self.sent += 1
        self.answer = asyncio.get_running_loop().create_future()
        try:
            return await self.answer
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def shared() -> SharedReads:
    return SharedReads(credential="c", coalesce=True, cache=None)


async def test_callers_joining_a_flight_share_its_one_response() -> None:
    reads, gate = shared(), Gate()
    callers = [asyncio.create_task(reads.get("http://h/a/", None, gate.send)) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert reads.in_flight == 1
    assert gate.answer is not None
    gate.answer.set_result(Response(200, {}, b"{}"))
    results = await asyncio.gather(*callers)
    assert gate.sent == 1
    assert all(r is results[0] for r in results)
    assert reads.in_flight == 0


async def test_a_caller_cancelled_in_the_step_its_request_failed_receives_the_failure() -> None:
    reads, gate = shared(), Gate()
    caller = asyncio.create_task(reads.get("http://h/a/", None, gate.send))
    await asyncio.sleep(0.01)
    assert gate.answer is not None
    gate.answer.set_exception(pda.ServerError("boom", status=500))
    await asyncio.sleep(0)  # the request fails and hands the failure over...
    caller.cancel()  # ...while the caller is cancelled before it runs again
    with pytest.raises(pda.ServerError, match="boom"):
        await caller


async def test_a_caller_cancelled_in_the_step_its_answer_came_is_cancelled() -> None:
    reads, gate = shared(), Gate()
    caller = asyncio.create_task(reads.get("http://h/a/", None, gate.send))
    await asyncio.sleep(0.01)
    assert gate.answer is not None
    gate.answer.set_result(Response(200, {}, b"{}"))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_the_request_outlives_a_cancelled_caller_and_dies_with_the_last() -> None:
    reads, gate = shared(), Gate()
    callers = [asyncio.create_task(reads.get("http://h/a/", None, gate.send)) for _ in range(2)]
    await asyncio.sleep(0.01)
    callers[0].cancel()
    await asyncio.sleep(0.01)
    assert gate.cancelled == 0
    assert reads.in_flight == 1
    callers[1].cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    await asyncio.sleep(0)
    assert gate.cancelled == 1
    assert reads.in_flight == 0
