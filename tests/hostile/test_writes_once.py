"""Writes happen as often as the caller asked.

aiohttp re-sends an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT and DELETE) once by
itself when the connection it used turns out dropped (``ServerDisconnectedError`` or
``ClientOSError``), even when the server had read the request. The client stops that for
every method but GET/HEAD/OPTIONS, and for every method when ``max_retries=0``; only the
retry policy sends a request again, and a write only when it provably never left.

The hostile server here answers a first request normally (the connection is kept alive),
then reads the next request on it and closes the connection without answering: the case of
a server that acted on the request and crashed, or a stale pooled connection.
"""

from __future__ import annotations

from typing import Any

import pytest
from _leaks import KEY
from _scripted import CLOSE, ScriptedServer, http

import posthog_dash_async as pda

ANSWER = http(200, {"id": 1, "name": "d"})


def read_then_hang_up() -> ScriptedServer:
    # 1st request: answered, connection kept. Every later one: read, then closed unanswered.
    return ScriptedServer([ANSWER], [CLOSE])


def client(server: ScriptedServer, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {"api_key": KEY, "host": server.url, "project_id": 42}
    settings.update(rate_limit=None, **options)
    return pda.AsyncPostHog(**settings)


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "POST"])
async def test_a_write_dropped_after_it_was_sent_is_sent_once(method: str) -> None:
    async with read_then_hang_up() as server, client(server, max_retries=2) as ph:
        await ph.request("GET", "dashboards/1/")
        with pytest.raises(pda.APIConnectionError):
            await ph.request(method, "dashboards/1/", json={"name": "x"})
    assert [r.method for r in server.requests] == ["GET", method]


async def test_with_retries_off_not_even_a_get_is_sent_twice() -> None:
    async with read_then_hang_up() as server, client(server, max_retries=0) as ph:
        await ph.dashboards.get(1)
        with pytest.raises(pda.APIConnectionError):
            await ph.dashboards.get(1)
    assert [r.method for r in server.requests] == ["GET", "GET"]


async def test_with_retries_off_a_server_error_is_not_retried_either() -> None:
    async with (
        ScriptedServer(http(503, {"detail": "busy"}, headers=[("Retry-After", "0")])) as (server),
        client(server, max_retries=0) as ph,
    ):
        with pytest.raises(pda.ServerError):
            await ph.request("POST", "dashboards/", json={"name": "x"})
    assert len(server.requests) == 1


async def test_sdk_write_calls_are_sent_once_too() -> None:
    async with read_then_hang_up() as server, client(server) as ph:
        await ph.dashboards.get(1)
        with pytest.raises(pda.APIConnectionError):
            await ph.dashboards.delete(1)
    assert [r.method for r in server.requests] == ["GET", "PATCH"]


async def test_a_get_may_be_sent_again_when_retries_are_on() -> None:
    # The other side of the rule: a GET is safe to repeat, and is, within max_retries.
    async with (
        ScriptedServer([ANSWER], [CLOSE], [ANSWER]) as server,
        client(server, max_retries=1) as ph,
    ):
        await ph.dashboards.get(1)
        assert (await ph.dashboards.get(1)).id == 1
    assert [r.method for r in server.requests] == ["GET", "GET", "GET"]


async def test_a_write_that_never_left_is_retried() -> None:
    # Nothing listens at first: the connection cannot be made, so the POST provably never
    # reached a server and the retry policy may send it.
    async with ScriptedServer(ANSWER) as server:
        port = server.port
    ph = pda.AsyncPostHog(
        api_key=KEY, host=f"http://127.0.0.1:{port}", project_id=42, rate_limit=None, max_retries=1
    )
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    ph._sleep = no_sleep
    async with ph:
        with pytest.raises(pda.APIConnectionError, match="could not connect"):
            await ph.request("POST", "dashboards/", json={"name": "x"})
    assert len(waits) == 1  # one retry of the POST: it was never sent
