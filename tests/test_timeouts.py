"""Timeouts: per request, overridable per call, wrapped as APITimeoutError, and never eaten
by the wait for a concurrency permit or for the rate limiter.

Real waits stay well under a second per test.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from _loopback import KEY, Handler, Loopback, RecordingSleep, answer, client, closed_port
from aiohttp import web
from aiohttp.client_proto import ResponseHandler

import posthog_dash_async as pda
from posthog_dash_async._limiter import SlidingWindowLimiter
from posthog_dash_async._transport import _ReadDeadlineHandler, make_connector

OK = b'{"ok":true}'
DASHBOARD = b'{"id":1,"name":"d","tiles":[]}'


def slow(delay: float, body: bytes = OK) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return web.Response(body=body, content_type="application/json")

    return handler


async def test_read_timeout_raises_api_timeout_error_with_the_cause() -> None:
    async with (
        Loopback(slow(0.3)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.1), max_retries=0) as ph,
    ):
        with pytest.raises(pda.APITimeoutError) as info:
            await ph.request("GET", "dashboards/")
    assert isinstance(info.value, pda.APIConnectionError)
    assert isinstance(info.value.__cause__, asyncio.TimeoutError)
    assert isinstance(info.value.__cause__, aiohttp.ServerTimeoutError)
    assert KEY not in str(info.value)


async def test_a_get_that_timed_out_before_the_answer_is_retried() -> None:
    async with (
        Loopback(slow(0.3)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.05), max_retries=1) as ph,
    ):
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APITimeoutError):
            await ph.request("GET", "dashboards/")
    assert len(sleep.waits) == 1
    assert len(srv.hits) == 2


async def test_a_post_that_timed_out_is_not_retried() -> None:
    async with (
        Loopback(slow(0.3)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.05), max_retries=2) as ph,
    ):
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APITimeoutError):
            await ph.request("POST", "dashboards/", json={"name": "x"})
    # It may have been acted on: the server got it, only the answer was late.
    assert sleep.waits == []
    assert len(srv.hits) == 1


async def test_per_call_timeout_beats_the_client_default() -> None:
    async with (
        Loopback(slow(0.25, DASHBOARD)) as srv,
        client(srv.url, timeout=5.0, max_retries=0) as ph,
    ):
        with pytest.raises(pda.APITimeoutError):
            await ph.dashboards.get(1, timeout=0.05)
        with pytest.raises(pda.APITimeoutError):
            await ph.request("GET", "dashboards/1/", timeout=pda.Timeout(read=0.05))
        assert (await ph.dashboards.get(1)).id == 1


async def test_per_call_timeout_can_also_be_longer_than_the_default() -> None:
    async with (
        Loopback(slow(0.25, DASHBOARD)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.05), max_retries=0) as ph,
    ):
        with pytest.raises(pda.APITimeoutError):
            await ph.dashboards.get(1)
        dashboard = await ph.dashboards.get(1, timeout=pda.Timeout(read=2.0))
        assert dashboard.id == 1


async def test_total_timeout_bounds_a_response_that_trickles_in() -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(20):
            await response.write(b" ")
            await asyncio.sleep(0.03)
        await response.write_eof(b"{}")
        return response

    # Every chunk comes well within the read timeout; only `total` can stop it.
    async with (
        Loopback(trickle) as srv,
        client(srv.url, timeout=pda.Timeout(read=1.0, total=0.15), max_retries=0) as ph,
    ):
        with pytest.raises(pda.APITimeoutError):
            await ph.request("GET", "dashboards/")


def slow_path(delay: float) -> Handler:
    """Answers at once, except paths ending in ``/slow/``: those after ``delay`` seconds."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/slow/"):
            await asyncio.sleep(delay)
        return web.Response(body=OK, content_type="application/json")

    return handler


async def test_waiting_for_a_busy_permit_does_not_count_against_the_read_timeout() -> None:
    async with (
        Loopback(slow_path(0.5)) as srv,
        client(srv.url, max_concurrency=1, max_retries=0) as ph,
    ):
        holder = asyncio.create_task(ph.request("GET", "slow/", timeout=5.0))
        await asyncio.sleep(0.05)
        assert ph._semaphore is not None
        assert ph._semaphore.locked()
        # Waits ~0.45 s for the permit, then gets its answer at once: no timeout.
        assert await ph.request("GET", "fast/", timeout=pda.Timeout(read=0.2, total=0.2)) == {
            "ok": True
        }
        assert holder.done()
        assert await holder == {"ok": True}
    assert [path for _, path in srv.hits] == ["/api/projects/1/slow/", "/api/projects/1/fast/"]


async def test_waiting_for_the_rate_limiter_does_not_count_against_the_timeout() -> None:
    async with (
        Loopback(answer(200, OK)) as srv,
        client(srv.url, max_retries=0) as ph,
    ):
        ph._limiter = SlidingWindowLimiter([(0.4, 1)])
        await ph.request("GET", "dashboards/")
        # The window is full for ~0.4 s, twice the whole timeout of the next call.
        assert await ph.request("GET", "dashboards/", timeout=0.2) == {"ok": True}


async def test_connection_refused_is_an_api_connection_error_with_its_cause() -> None:
    async with client(f"http://127.0.0.1:{closed_port()}", max_retries=0) as ph:
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.get(1, timeout=1.0)
    assert not isinstance(info.value, pda.APITimeoutError)
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert info.value.method == "GET"


@pytest.mark.parametrize("value", [0, -1, float("inf"), "1", True])
def test_invalid_timeouts_are_refused_before_sending(value: object) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        pda.Timeout.coerce(value)  # type: ignore[arg-type]


# --- the read timeout as a deadline (transport._ReadDeadlineHandler) --------------------


def trickle(pieces: int, gap: float, then_stall: float = 0.0) -> Handler:
    """A JSON body sent one byte of padding at a time, ``gap`` seconds apart, optionally
    stalling ``then_stall`` seconds before its last byte."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(pieces):
            await response.write(b" ")
            await asyncio.sleep(gap)
        await asyncio.sleep(then_stall)
        await response.write_eof(OK)
        return response

    return handler


def protocols(ph: pda.AsyncPostHog) -> list[object]:
    session = ph._transport._session
    assert session is not None
    assert session.connector is not None
    conns = session.connector._conns
    return [proto for entries in conns.values() for proto, _ in entries]


async def test_a_body_that_keeps_arriving_outlasts_the_read_timeout_many_times() -> None:
    # 12 pieces 0.04 s apart: the whole body takes ~0.5 s, five times the read timeout,
    # and no gap between two pieces comes near it.
    async with (
        Loopback(trickle(12, 0.04)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.1), max_retries=0) as ph,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await ph.request("GET", "dashboards/") == {"ok": True}
        assert loop.time() - started > 0.4


async def test_a_body_that_stalls_times_out_one_read_timeout_after_its_last_bytes() -> None:
    async with (
        Loopback(trickle(6, 0.04, then_stall=5.0)) as srv,
        client(srv.url, timeout=pda.Timeout(read=0.15), max_retries=0) as ph,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(pda.APITimeoutError) as info:
            await ph.request("GET", "dashboards/")
        waited = loop.time() - started
    assert isinstance(info.value.__cause__, aiohttp.ServerTimeoutError)
    # The last piece arrives at ~0.2 s; the deadline is 0.15 s later, not 0.15 s after
    # the first piece nor at the 5 s stall's end.
    assert 0.3 <= waited < 1.5


async def test_a_shorter_read_timeout_on_a_reused_connection_is_not_held_up() -> None:
    # The first call leaves its connection in the pool with a timer armed ~30 s ahead; the
    # second call on that connection asks for 0.05 s and must get it.
    async with (
        Loopback(slow_path(3.0)) as srv,
        client(srv.url, max_concurrency=1, timeout=pda.Timeout(read=30.0), max_retries=0) as ph,
    ):
        assert await ph.request("GET", "fast/") == {"ok": True}
        assert len(protocols(ph)) == 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(pda.APITimeoutError):
            await ph.request("GET", "slow/", timeout=pda.Timeout(read=0.05))
        assert loop.time() - started < 1.0


async def test_pooled_connections_keep_the_read_timeout_as_a_deadline() -> None:
    async with (
        Loopback(answer(200, OK)) as srv,
        client(srv.url, max_retries=0) as ph,
    ):
        for _ in range(3):
            assert await ph.request("GET", "dashboards/") == {"ok": True}
        (proto,) = protocols(ph)
        assert isinstance(proto, _ReadDeadlineHandler)
        # The request is over: nothing is awaited, whatever timer is still armed lapses.
        assert proto._read_deadline is None
        loop = asyncio.get_running_loop()
        armed = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        assert len([h for h in armed if h._callback == proto._deadline_reached]) <= 1
    # Closed with the client: no timer is left holding the connection.
    await asyncio.sleep(0)
    assert proto._read_timeout_handle is None
    assert not [
        h
        for h in loop._scheduled  # type: ignore[attr-defined]
        if not h.cancelled() and h._callback == proto._deadline_reached
    ]


async def test_without_the_hooks_it_needs_the_connector_keeps_aiohttps_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(ResponseHandler, "_reschedule_timeout")
    connector = make_connector(4)
    try:
        assert connector._factory.func is ResponseHandler  # type: ignore[attr-defined]
    finally:
        await connector.close()
