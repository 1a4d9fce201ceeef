"""The hostile suite's scripted server does what its scripts say (its own sanity checks)."""

from __future__ import annotations

import aiohttp
import pytest
from _scripted import CLOSE, RESET, ScriptedServer, http


async def test_replays_scripts_in_order_and_records_requests() -> None:
    async with (
        ScriptedServer(http(200, {"n": 1}), http(201, {"n": 2}), http(418, b"teapot")) as server,
        aiohttp.ClientSession() as session,
    ):
        for expected in (200, 201, 418, 418):
            async with session.post(f"{server.url}/x?y=1", data=b"abc") as response:
                assert response.status == expected
                await response.read()
    assert [r.method for r in server.requests] == ["POST"] * 4
    assert server.requests[0].target == "/x?y=1"
    assert server.requests[0].path == "/x"
    assert server.requests[0].body == b"abc"
    assert server.connections == 1  # keep-alive: every request on one connection


async def test_reset_and_close_end_the_connection() -> None:
    async with (
        ScriptedServer([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", CLOSE]) as server,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(server.url) as response:
                await response.read()
    async with ScriptedServer([RESET]) as server, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(server.url) as response:
                await response.read()


async def test_a_responder_sees_the_parsed_request() -> None:
    def echo(request):  # type: ignore[no-untyped-def]
        return [http(200, {"auth": request.headers.get("authorization")})]

    async with ScriptedServer(echo) as server, aiohttp.ClientSession() as session:
        response = await session.get(server.url, headers={"Authorization": "Bearer k"})
        assert await response.json() == {"auth": "Bearer k"}
        response.release()
