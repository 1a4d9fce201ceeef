"""AsyncPostHog: secrets, session lifecycle, event loops, headers, request(), concurrency."""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import pickle
import warnings

import aiohttp
import pytest
from aiohttp import web
from conftest import API_KEY, PROJECT, RecordingServer, make_client

import posthog_dash_async as pda

DASHBOARD = {"id": 12, "name": "Growth", "tiles": []}


# --- secrets ----------------------------------------------------------------------------


def test_repr_and_str_never_show_the_key() -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, project_id=42, rate_limit=None)
    for text in (repr(ph), str(ph), f"{ph!r}", repr(ph.dashboards), repr(vars(ph)["_settings"])):
        assert API_KEY not in text
    assert "https://us.posthog.com" in repr(ph)
    assert "42" in repr(ph)


def test_key_from_environment_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", API_KEY)
    ph = pda.AsyncPostHog(rate_limit=None)
    assert API_KEY not in repr(ph)
    assert API_KEY not in str(ph)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_client_refuses_to_be_pickled(protocol: int) -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, rate_limit=None)
    with pytest.raises(TypeError) as info:
        pickle.dumps(ph, protocol=protocol)
    assert API_KEY not in str(info.value)


def test_nothing_reachable_from_the_client_pickles_the_key() -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, rate_limit=None)
    for value in (ph, ph.dashboards, ph.dashboards.collaborators, ph.dashboards.sharing):
        with pytest.raises(TypeError):
            pickle.dumps(value)
    with pytest.raises(TypeError):
        copy.copy(ph)
    with pytest.raises(TypeError):
        copy.deepcopy(ph)
    # Public configuration values pickle, without the key.
    for value in (ph.timeout, ph.host, ph.project_id, ph.rate_limit):
        assert API_KEY.encode() not in pickle.dumps(value)


# --- lifecycle --------------------------------------------------------------------------


def test_construction_outside_a_loop_creates_no_session() -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, rate_limit=None)
    assert ph._transport.session_open is False
    assert ph.is_closed is False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ph
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


async def test_session_is_created_lazily_on_first_request(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    ph = make_client(recorder)
    assert ph._transport.session_open is False
    async with ph as entered:
        assert entered is ph
        assert ph._transport.session_open is False
        await ph.dashboards.get(12)
        assert ph._transport.session_open is True
        session = ph._transport._session
    assert ph.is_closed
    assert session is not None
    assert session.closed


async def test_aclose_is_idempotent(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    ph = make_client(recorder)
    await ph.dashboards.get(12)
    await ph.aclose()
    await ph.aclose()
    assert ph.is_closed
    async with make_client(recorder) as other:
        pass
    await other.aclose()
    assert other.is_closed


async def test_calls_after_close_raise_client_state_error(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    ph = make_client(recorder)
    await ph.dashboards.get(12)
    await ph.aclose()
    sent = len(recorder.requests)
    calls = [
        ph.dashboards.get(12),
        ph.dashboards.list(),
        ph.dashboards.update(12, name="x"),
        ph.dashboards.collaborators.list(12),
        ph.dashboards.sharing.get(12),
        ph.request("GET", "dashboards/"),
    ]
    for call in calls:
        with pytest.raises(pda.ClientStateError, match="closed"):
            await call
    with pytest.raises(pda.ClientStateError):
        async for _ in ph.dashboards.iter():
            pass
    with pytest.raises(pda.ClientStateError):
        async with ph:
            pass
    assert len(recorder.requests) == sent


async def test_client_state_error_is_a_posthog_error() -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, rate_limit=None)
    await ph.aclose()
    with pytest.raises(pda.PostHogError):
        await ph.dashboards.get(1)


async def test_caller_owned_session_is_used_and_left_open(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    session = aiohttp.ClientSession(headers={"X-Caller-Session": "mine"})
    try:
        async with make_client(recorder, session=session) as ph:
            dashboard = await ph.dashboards.get(12)
            assert dashboard.id == 12
        assert ph.is_closed
        assert not session.closed
        assert recorder.requests[0].headers["X-Caller-Session"] == "mine"
        assert recorder.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
        # The session still works for its owner.
        async with session.get(f"{recorder.url}/api/projects/{PROJECT}/dashboards/12/") as resp:
            assert resp.status == 200
    finally:
        await session.close()


async def test_caller_owned_session_is_not_flagged_when_collected(
    recorder: RecordingServer,
) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    async with aiohttp.ClientSession() as session:
        ph = make_client(recorder, session=session)
        await ph.dashboards.get(12)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del ph
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


async def test_client_collected_while_open_warns(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    ph = make_client(recorder)
    await ph.dashboards.get(12)
    session = ph._transport._session
    assert session is not None
    holder = [ph]
    del ph
    try:
        with pytest.warns(ResourceWarning, match="unclosed"):
            _drop_and_collect(holder)
    finally:
        await session.close()


def _drop_and_collect(holder: list[object]) -> None:
    holder.clear()
    gc.collect()


async def test_closed_client_is_not_flagged_when_collected(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    ph = make_client(recorder)
    await ph.dashboards.get(12)
    await ph.aclose()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ph
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_second_event_loop_is_refused() -> None:
    ph = pda.AsyncPostHog(api_key=API_KEY, host="http://127.0.0.1:9", rate_limit=None)

    async def enter() -> None:
        await ph.__aenter__()

    async def use() -> None:
        await ph.dashboards.get(1)

    asyncio.run(enter())
    with pytest.raises(pda.ClientStateError, match="event loop"):
        asyncio.run(use())
    asyncio.run(ph.aclose())
    assert ph.is_closed


async def test_use_from_a_loop_in_another_thread_is_refused(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    async with make_client(recorder) as ph:
        await ph.dashboards.get(12)

        async def elsewhere() -> None:
            await ph.dashboards.get(12)

        with pytest.raises(pda.ClientStateError, match="event loop"):
            await asyncio.to_thread(asyncio.run, elsewhere())
        # Still usable from its own loop.
        assert (await ph.dashboards.get(12)).id == 12
    assert len(recorder.requests) == 2


# --- headers ----------------------------------------------------------------------------


async def test_request_headers(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    recorder.reply("PATCH", "dashboards/12/", json=DASHBOARD)
    await ph.dashboards.get(12)
    await ph.dashboards.update(12, name="Growth")
    get, patch = recorder.requests
    for seen in (get, patch):
        assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
        assert seen.headers["Accept"] == "application/json"
        assert seen.headers["User-Agent"].startswith("posthog-dash-async/")
        assert "aiohttp/" in seen.headers["User-Agent"]
    assert "Content-Type" not in get.headers
    assert get.body == b""
    assert patch.headers["Content-Type"] == "application/json"
    assert patch.json == {"name": "Growth"}
    assert "api_key" not in {k for k, _ in get.query}
    assert "personal_api_key" not in {k for k, _ in get.query}


async def test_key_from_environment_is_sent(
    recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_FromTheEnvironment42")
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "77")
    recorder.reply("GET", "/api/projects/77/dashboards/12/", json=DASHBOARD)
    async with pda.AsyncPostHog(host=recorder.url, rate_limit=None, max_retries=0) as ph:
        await ph.dashboards.get(12)
    assert recorder.requests[0].headers["Authorization"] == "Bearer phx_FromTheEnvironment42"
    assert recorder.requests[0].path == "/api/projects/77/dashboards/12/"


async def test_no_key_sends_no_authorization(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    async with make_client(recorder, api_key=None) as ph:
        await ph.dashboards.get(12)
    assert "Authorization" not in recorder.requests[0].headers


async def test_current_project_path(recorder: RecordingServer) -> None:
    recorder.reply("GET", "/api/projects/@current/dashboards/12/", json=DASHBOARD)
    async with make_client(recorder, project_id="@current") as ph:
        assert (await ph.dashboards.get(12)).id == 12
    assert recorder.requests[0].path == "/api/projects/@current/dashboards/12/"


# --- request(): the escape hatch --------------------------------------------------------


async def test_request_relative_path_is_project_relative(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    data = await ph.request("GET", "dashboards/12/")
    assert data == DASHBOARD
    assert type(data) is dict
    seen = recorder.requests[0]
    assert (seen.method, seen.path) == ("GET", "/api/projects/42/dashboards/12/")
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_request_leading_slash_is_host_relative(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    recorder.reply("GET", "/api/users/@me/", json={"uuid": "u", "teams": [1, 2]})
    assert await ph.request("get", "/api/users/@me/") == {"uuid": "u", "teams": [1, 2]}
    assert recorder.requests[0].path == "/api/users/@me/"
    assert recorder.requests[0].method == "GET"


async def test_request_params(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("GET", "insights/", json=[1, 2, 3])
    result = await ph.request(
        "GET",
        "insights/",
        params={
            "tags": ["a", "b c"],
            "limit": 5,
            "saved": True,
            "skipped": None,
            "filters_override": {"date_from": "-7d"},
            "ids": (1, 2),
        },
    )
    assert result == [1, 2, 3]
    assert recorder.requests[0].query == [
        ("tags", "a"),
        ("tags", "b c"),
        ("limit", "5"),
        ("saved", "true"),
        ("filters_override", '{"date_from":"-7d"}'),
        ("ids", "1"),
        ("ids", "2"),
    ]


async def test_request_json_body(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("POST", "insights/", status=201, json={"id": 5})
    body = {"name": "n", "query": {"kind": "TrendsQuery"}, "flag": None}
    assert await ph.request("POST", "insights/", json=body) == {"id": 5}
    seen = recorder.requests[0]
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == body


async def test_request_empty_body_returns_none(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    uuid = "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3"
    recorder.reply("DELETE", f"dashboards/1/collaborators/{uuid}/", status=204)
    assert await ph.request("DELETE", f"dashboards/1/collaborators/{uuid}/") is None
    assert recorder.requests[0].body == b""


async def test_request_errors_are_typed(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("DELETE", "dashboards/12/", status=405)
    recorder.reply(
        "GET",
        "dashboards/13/",
        status=403,
        json={"detail": "API key missing required scope 'dashboard:read'"},
    )
    with pytest.raises(pda.MethodNotAllowedError) as not_allowed:
        await ph.request("DELETE", "dashboards/12/")
    assert not_allowed.value.detail is None
    with pytest.raises(pda.MissingScopeError) as scope:
        await ph.request("GET", "dashboards/13/")
    assert scope.value.scope == "dashboard:read"
    with pytest.raises(pda.NotFoundError):
        await ph.request("GET", "nothing-here/")


async def test_request_non_json_success_is_a_connection_error(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    recorder.reply("GET", "weird/", body=b"<html></html>")
    with pytest.raises(pda.APIConnectionError):
        await ph.request("GET", "weird/")


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "https://evil.example.com/api/", None),
        ("GET", "//evil.example.com/api/", None),
        ("GET", "", None),
        ("GE T", "dashboards/", None),
        ("", "dashboards/", None),
        (None, "dashboards/", None),
        ("GET", None, None),
        ("GET", "dashboards/", [("a", "b")]),
        ("GET", "dashboards/", "a=b"),
    ],
)
async def test_request_refuses_bad_arguments(
    recorder: RecordingServer, ph: pda.AsyncPostHog, method: object, path: object, params: object
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await ph.request(method, path, params=params)  # type: ignore[arg-type]
    assert recorder.requests == []


async def test_request_refuses_unserializable_json(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await ph.request("POST", "insights/", json={"x": object()})
    assert recorder.requests == []


# --- timeouts ---------------------------------------------------------------------------


async def test_per_call_timeout(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3 if request.rel_url.path.endswith("/1/") else 0)
        return web.json_response({"id": 1})

    recorder.handler = slow
    with pytest.raises(pda.APITimeoutError):
        await ph.dashboards.get(1, timeout=0.1)
    with pytest.raises(pda.APITimeoutError):
        await ph.request("GET", "dashboards/1/", timeout=pda.Timeout(read=0.1))
    assert (await ph.dashboards.get(2, timeout=5)).id == 1


async def test_client_timeout_applies(recorder: RecordingServer) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.json_response({"id": 1})

    recorder.handler = slow
    async with make_client(recorder, timeout=pda.Timeout(read=0.1)) as ph:
        with pytest.raises(pda.APITimeoutError):
            await ph.dashboards.get(1)


async def test_bad_per_call_timeout_sends_nothing(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await ph.dashboards.get(1, timeout=-1)
    assert recorder.requests == []


# --- concurrency ------------------------------------------------------------------------


async def test_max_concurrency_bounds_requests_in_flight(recorder: RecordingServer) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.01)
        dashboard_id = int(request.rel_url.path.rstrip("/").rsplit("/", 1)[1])
        return web.json_response({"id": dashboard_id})

    recorder.handler = handler
    async with make_client(recorder, max_concurrency=8) as ph:
        results = await asyncio.gather(*(ph.dashboards.get(i) for i in range(1, 201)))
    assert [d.id for d in results] == list(range(1, 201))
    assert len(recorder.requests) == 200
    assert recorder.max_in_flight == 8


async def test_max_concurrency_one_serializes(recorder: RecordingServer) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.005)
        return web.json_response({"id": 1})

    recorder.handler = handler
    async with make_client(recorder, max_concurrency=1) as ph:
        await asyncio.gather(*(ph.dashboards.get(1) for _ in range(10)))
    assert recorder.max_in_flight == 1


# --- the key stays out of logs and messages ---------------------------------------------


async def test_key_never_logged(
    recorder: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder.reply("GET", "dashboards/12/", json=DASHBOARD)
    async with make_client(recorder, max_retries=1) as ph:
        ph._sleep = _no_sleep
        await ph.dashboards.get(12)
        with pytest.raises(pda.NotFoundError):
            await ph.dashboards.get(13)
        with pytest.raises(pda.NotFoundError):
            await ph.request("GET", "nothing/", params={"x": 1})
    assert caplog.records
    assert API_KEY not in caplog.text


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, b'{"detail":"Not found."}', pda.NotFoundError),
        (200, b"<html>not json</html>", pda.APIConnectionError),
    ],
)
async def test_key_put_into_a_request_path_is_never_shown(
    recorder: RecordingServer,
    ph: pda.AsyncPostHog,
    status: int,
    body: bytes,
    error: type[Exception],
) -> None:
    # A caller may paste the key into a path (e.g. a `personal_api_key` query string);
    # exceptions must still not show it.
    path = f"dashboards/12/?personal_api_key={API_KEY}"
    recorder.reply("GET", "dashboards/12/", status=status, body=body)
    with pytest.raises(error) as info:
        await ph.request("GET", path)
    assert API_KEY not in str(info.value)
    assert API_KEY not in getattr(info.value, "url", "")


async def test_refused_path_with_the_key_is_not_echoed(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    with pytest.raises(pda.InvalidArgumentError) as info:
        await ph.request("GET", f"https://us.posthog.com/api/?personal_api_key={API_KEY}")
    assert API_KEY not in str(info.value)
    assert recorder.requests == []


@pytest.mark.parametrize("echo", [API_KEY, "custom-token-0123456789"], ids=["phx-key", "other-key"])
async def test_key_echoed_by_the_server_is_kept_out_of_the_error(
    recorder: RecordingServer, echo: str
) -> None:
    # A proxy or server that repeats the Authorization value back in its error body must
    # not put the key into the exception's detail, body, message or pickle.
    recorder.reply(
        "GET",
        "dashboards/12/",
        status=400,
        json={"type": "validation_error", "code": "invalid_input", "detail": f"bad {echo}"},
    )
    async with make_client(recorder, api_key=echo) as client:
        with pytest.raises(pda.BadRequestError) as info:
            await client.dashboards.get(12)
    error = info.value
    shown = [str(error), repr(error), error.detail or "", repr(error.body)]
    shown.append(repr(pickle.dumps(error)))
    assert all(echo not in text for text in shown)
    assert error.detail is not None
    assert error.detail.startswith("bad ")


async def test_loopback_host_never_goes_through_the_environment_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A loopback "proxy": an HTTP proxy receives the absolute URL in the request line, and
    # with it the key in clear text. A loopback host is reached directly instead.
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"created_at": None, "enabled": False})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        # Nothing listens on the target itself: only the proxy could answer.
        async with pda.AsyncPostHog(
            api_key=API_KEY, host="http://localhost:9", project_id=PROJECT, rate_limit=None
        ) as client:
            with pytest.raises(pda.APIConnectionError):
                await client.dashboards.sharing.get(12)
    finally:
        await runner.cleanup()
    assert seen == []
