"""FakePostHog's fault switches, request recording, pytest fixtures and standalone serving."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from posthog_dash_async.testing import FakePostHog, RecordedRequest, serve_forever


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog() as running:
        yield running


@pytest.fixture
async def session(server: FakePostHog) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with aiohttp.ClientSession(base_url=server.url, headers=headers) as client:
        yield client


async def status_of(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> int:
    async with session.request(method, path, **kw) as response:
        await response.read()
        return response.status


async def test_fail_next_with_filters(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.fail_next(2, status=502, method="GET", path=r"/dashboards/412/?$")
    async with session.get("/api/projects/42/dashboards/412/") as response:
        assert response.status == 502
        assert await response.json() == {
            "type": "server_error",
            "code": "error",
            "detail": "A server error occurred.",
            "attr": None,
        }
    assert await status_of(session, "GET", "/api/projects/42/dashboards/388/") == 200
    assert await status_of(session, "PATCH", "/api/projects/42/dashboards/412/", json={}) == 200
    assert await status_of(session, "GET", "/api/projects/42/dashboards/412") == 502
    assert server.pending_faults() == 0
    assert await status_of(session, "GET", "/api/projects/42/dashboards/412/") == 200
    assert [r.fault for r in server.requests] == ["status", None, None, "status", None]
    assert [r.status for r in server.requests] == [502, 200, 200, 502, 200]


async def test_fail_next_custom_body_and_headers(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    server.fail_next(status=503, body="upstream connect error", headers={"Retry-After": "2"})
    server.fail_next(status=500, body={"oops": True})
    async with session.get("/api/projects/42/dashboards/") as response:
        assert (response.status, await response.text()) == (503, "upstream connect error")
        assert response.headers["Retry-After"] == "2"
    async with session.get("/api/projects/42/dashboards/") as response:
        assert (response.status, await response.json()) == (500, {"oops": True})


async def test_throttle_next(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.throttle_next(wait=1)
    server.throttle_next(retry_after=True)
    server.throttle_next(retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    async with session.get("/api/projects/42/dashboards/") as response:
        assert response.status == 429
        assert "Retry-After" not in response.headers
        assert await response.json() == {
            "type": "throttled_error",
            "code": "throttled",
            "detail": "Request was throttled. Expected available in 1 second.",
            "attr": None,
        }
    async with session.get("/api/projects/42/dashboards/") as response:
        assert response.headers["Retry-After"] == "37"
        assert (await response.json())["detail"].endswith("in 37 seconds.")
    async with session.get("/api/projects/42/dashboards/") as response:
        assert response.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert await status_of(session, "GET", "/api/projects/42/dashboards/") == 200


async def test_reset_before_any_byte(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.reset_next(method="POST")
    with pytest.raises(aiohttp.ClientConnectionError):
        await status_of(session, "POST", "/api/projects/42/dashboards/", json={"name": "x"})
    assert (server.requests[-1].fault, server.requests[-1].status) == ("reset", None)
    assert await status_of(session, "POST", "/api/projects/42/dashboards/", json={}) == 201
    # aiohttp retries an idempotent request once after a reset, so two resets are needed.
    server.reset_next(2, path="/dashboards/412/")
    with pytest.raises(aiohttp.ClientConnectionError):
        await status_of(session, "GET", "/api/projects/42/dashboards/412/")
    assert [r.fault for r in server.requests_matching("GET", "/412/")] == ["reset", "reset"]


async def test_fixed_delay_and_in_flight_peak(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    server.set_delay(0.2)
    started = time.monotonic()
    statuses = await asyncio.gather(
        *(status_of(session, "GET", f"/api/projects/42/dashboards/{i}/") for i in (412, 415, 388))
    )
    assert statuses == [200, 200, 200]
    assert time.monotonic() - started >= 0.2
    assert (server.max_in_flight, server.in_flight) == (3, 0)
    server.clear_requests()
    assert (server.requests, server.max_in_flight) == ([], 0)


async def test_per_request_delay(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    seen: list[str] = []

    def delay(request: RecordedRequest) -> float:
        seen.append(request.path)
        return 0.15 if request.path.endswith("/412/") else 0.0

    server.set_delay(delay)
    started = time.monotonic()
    assert await status_of(session, "GET", "/api/projects/42/dashboards/388/") == 200
    fast = time.monotonic() - started
    assert await status_of(session, "GET", "/api/projects/42/dashboards/412/") == 200
    assert time.monotonic() - started - fast >= 0.15
    assert seen == ["/api/projects/42/dashboards/388/", "/api/projects/42/dashboards/412/"]


async def test_reset_faults(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.fail_next(5)
    server.throttle_next(5)
    server.reset_next(5)
    server.set_delay(10)
    server.set_stream_faults(stall_after=0)
    assert server.pending_faults() == 15
    server.reset_faults()
    assert server.pending_faults() == 0
    assert server.stream_faults.stall_after is None
    assert await status_of(session, "GET", "/api/projects/42/dashboards/") == 200
    with pytest.raises(ValueError, match="count"):
        server.fail_next(0)


async def test_requests_are_recorded(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    await status_of(session, "GET", "/api/projects/42/dashboards/?tags=a&tags=b&limit=2")
    await status_of(
        session,
        "PATCH",
        "/api/projects/42/dashboards/412/",
        json={"name": "Renamed"},
        headers={"X-Trace": "t-1"},
    )
    listed, patched = server.requests
    assert (listed.method, listed.path) == ("GET", "/api/projects/42/dashboards/")
    assert listed.query.getall("tags") == ["a", "b"]
    assert listed.query["limit"] == "2"
    assert (listed.body, listed.json(), listed.status) == (b"", None, 200)
    assert listed.authorization == f"Bearer {server.api_key}"
    assert patched.json() == {"name": "Renamed"}
    assert json.loads(patched.body) == {"name": "Renamed"}
    assert patched.headers["X-Trace"] == "t-1"
    assert server.requests_matching(method="patch") == [patched]
    assert server.requests_matching(path=r"dashboards/$") == [listed]


async def test_stop_releases_stalled_streams() -> None:
    server = FakePostHog(allow_pak_on_unscoped_actions=True)
    await server.start()
    server.set_stream_faults(stall_after=1)
    url = f"{server.url}/api/projects/42/dashboards/412/stream_tiles/"
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as held:
        await held.content.readuntil(b"\n\n")
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 1.5
        try:
            rest = await asyncio.wait_for(held.content.read(), timeout=2)
        except aiohttp.ClientPayloadError:
            rest = b""
        assert b"complete" not in rest
    await server.stop()


async def test_url_requires_start_and_ports_are_ephemeral() -> None:
    idle = FakePostHog(seed=False)
    with pytest.raises(RuntimeError):
        _ = idle.url
    async with FakePostHog(seed=False) as one, FakePostHog(seed=False, api_key="phx_x") as two:
        assert one.url != two.url
        assert one.url.startswith("http://127.0.0.1:")
        assert one.api_key.startswith("phx_")
        assert two.api_key == "phx_x"
        assert one.dashboards == {}
        assert one.user["id"] == 1043


async def test_posthog_server_fixture(posthog_server: FakePostHog) -> None:
    assert 412 in posthog_server.dashboards
    async with aiohttp.ClientSession() as client:
        url = f"{posthog_server.url}/api/projects/42/dashboards/"
        auth = {"Authorization": f"Bearer {posthog_server.api_key}"}
        async with client.get(url, headers=auth) as response:
            assert response.status == 200


async def test_posthog_server_factory_fixture(
    posthog_server_factory: Callable[..., Awaitable[FakePostHog]],
) -> None:
    first = await posthog_server_factory(seed=False, project_id=7)
    second = await posthog_server_factory(burst_limit=1)
    assert (first.project_id, first.dashboards) == (7, {})
    assert second.url != first.url


async def test_serve_forever_prints_connection_details() -> None:
    out = io.StringIO()
    task = asyncio.create_task(serve_forever(port=0, out=out, seed=False, api_key="phx_serve"))
    for _ in range(200):
        if "POSTHOG_PROJECT_ID" in out.getvalue():
            break
        await asyncio.sleep(0.01)
    lines = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.getvalue().splitlines()
        if line.startswith("export POSTHOG_")
    )
    assert lines["POSTHOG_PERSONAL_API_KEY"] == "phx_serve"
    assert lines["POSTHOG_PROJECT_ID"] == "42"
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            lines["POSTHOG_HOST"] + "/api/projects/42/dashboards/",
            headers={"Authorization": "Bearer phx_serve"},
        ) as response,
    ):
        assert (await response.json())["count"] == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
