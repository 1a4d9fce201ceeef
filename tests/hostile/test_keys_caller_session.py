"""A caller's own aiohttp session: whatever it is set up to do, the client's key is the one
credential sent, errors stay the SDK's typed errors, and a loopback host stays off proxies."""

from __future__ import annotations

import warnings
from pathlib import Path

import aiohttp
import pytest
from _leaks import KEY, assert_no_key
from _scripted import CLOSE, ScriptedServer, http

import posthog_dash_async as pda

SHARING = {"created_at": None, "enabled": True, "access_token": "tok"}


def client(server: ScriptedServer, session: aiohttp.ClientSession, **options: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
        "session": session,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)  # type: ignore[arg-type]


async def test_raise_for_status_on_the_session_still_gives_typed_errors() -> None:
    # aiohttp's ClientResponseError (which holds the request headers, key included) never
    # surfaces: the status becomes the SDK's error, and a 200 is just a 200.
    async with (
        ScriptedServer(http(200, SHARING), http(404, {"detail": "Not found."})) as server,
        aiohttp.ClientSession(raise_for_status=True) as session,
        client(server, session) as ph,
    ):
        assert (await ph.dashboards.sharing.get(1)).enabled is True
        with pytest.raises(pda.NotFoundError) as info:
            await ph.dashboards.sharing.get(2)
    assert info.value.detail == "Not found."
    assert_no_key(info.value)


async def test_session_basic_auth_is_replaced_by_the_key() -> None:
    # aiohttp 3.14 deprecates BasicAuth (older releases do not say so); sessions built with
    # it are still common.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        session = aiohttp.ClientSession(auth=aiohttp.BasicAuth("someone", "hunter2"))
    async with ScriptedServer(http(200, SHARING)) as server, session, client(server, session) as ph:
        await ph.dashboards.sharing.get(1)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_session_default_authorization_header_is_replaced_by_the_key() -> None:
    async with (
        ScriptedServer(http(200, SHARING)) as server,
        aiohttp.ClientSession(
            headers={"Authorization": "Bearer phx_SomeoneElsesKey000000", "X-Team": "t"}
        ) as session,
        client(server, session) as ph,
    ):
        await ph.dashboards.sharing.get(1)
    request = server.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-team"] == "t"  # the session's other defaults still apply


async def test_netrc_and_proxy_from_trust_env_do_not_apply_to_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # trust_env=True on the caller's session: aiohttp would add BasicAuth from .netrc
    # (clashing with the key) and send everything to HTTP_PROXY in clear text.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with (
        ScriptedServer([http(502, b"proxy"), CLOSE]) as proxy,
        ScriptedServer(http(200, SHARING)) as server,
    ):
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        async with (
            aiohttp.ClientSession(trust_env=True) as session,
            client(server, session) as ph,
        ):
            await ph.dashboards.sharing.get(1)
    assert proxy.requests == []
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_a_session_header_the_wire_cannot_carry_is_an_invalid_argument() -> None:
    async with (
        ScriptedServer(http(200, SHARING)) as server,
        aiohttp.ClientSession(headers={"X-Trace": "a\r\nInjected: 1"}) as session,
        client(server, session) as ph,
    ):
        with pytest.raises(pda.InvalidArgumentError) as info:
            await ph.dashboards.sharing.get(1)
    assert server.requests == []
    assert_no_key(info.value)


async def test_the_caller_session_stays_open_and_keeps_its_own_middlewares() -> None:
    seen: list[str] = []

    async def tag(req: aiohttp.ClientRequest, handler):  # type: ignore[no-untyped-def]
        seen.append(req.headers["Authorization"])
        return await handler(req)

    async with (
        ScriptedServer(http(200, SHARING)) as server,
        aiohttp.ClientSession(middlewares=(tag,)) as session,
    ):
        async with client(server, session) as ph:
            await ph.dashboards.sharing.get(1)
        assert not session.closed
    assert seen == [f"Bearer {KEY}"]
