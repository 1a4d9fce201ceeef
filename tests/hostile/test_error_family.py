"""One error family: whatever the caller passes and whatever the server sends, only
``PostHogError`` subclasses come out (bad arguments before any byte is sent)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from _leaks import KEY
from _scripted import CLOSE, HOLD, RESET, Request, ScriptedServer, head, http

import posthog_dash_async as pda

HUGE_INT = 10**5000  # beyond Python's limit on digits an int may be formatted with


def client(server: ScriptedServer, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


def self_referencing() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


def too_deep() -> list[Any]:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    return value


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda ph: ph.dashboards.get(HUGE_INT), id="huge-id"),
        pytest.param(lambda ph: ph.dashboards.get(2**63), id="id-beyond-64-bits"),
        pytest.param(lambda ph: ph.dashboards.list(limit=HUGE_INT), id="huge-limit"),
        pytest.param(lambda ph: ph.request("GET", "x/", params={"a": HUGE_INT}), id="huge-param"),
        pytest.param(lambda ph: ph.request("GET", "x/", params={HUGE_INT: 1}), id="huge-name"),
        pytest.param(lambda ph: ph.request("POST", "x/", json={"a": HUGE_INT}), id="huge-json"),
        pytest.param(lambda ph: ph.request("POST", "x/", json=self_referencing()), id="self-ref"),
        pytest.param(lambda ph: ph.request("POST", "x/", json=too_deep()), id="too-deep"),
        pytest.param(
            lambda ph: ph.dashboards.update(1, filters=self_referencing()), id="self-ref-arg"
        ),
        pytest.param(lambda ph: ph.request("GÉT", "x/"), id="non-ascii-method"),
        pytest.param(lambda ph: ph.request("GET /x HTTP/1.1\r\n", "x/"), id="method-injection"),
        pytest.param(lambda ph: ph.request("", "x/"), id="empty-method"),
        pytest.param(lambda ph: ph.request("CONNECT", "x/"), id="connect"),
        pytest.param(lambda ph: ph.request(b"GET", "x/"), id="bytes-method"),
        pytest.param(lambda ph: ph.request("GET", "x\r\nHost: evil/"), id="crlf-in-path"),
        pytest.param(lambda ph: ph.request("GET", "x\x00/"), id="nul-in-path"),
        pytest.param(lambda ph: ph.request("GET", "\udcff/"), id="surrogate-in-path"),
    ],
)
async def test_bad_arguments_are_refused_before_any_byte(call: Any) -> None:
    async with ScriptedServer(http(200, {})) as server, client(server) as ph:
        with pytest.raises(pda.InvalidArgumentError):
            await call(ph)
    assert server.requests == []


@pytest.mark.parametrize("key", ["phx_abc\x00def123", "phx_abc\x7fdef123", "phx_\u00e9tait123"])
def test_keys_with_control_or_non_ascii_characters_are_refused(key: str) -> None:
    with pytest.raises(pda.InvalidArgumentError, match="api_key"):
        pda.AsyncPostHog(api_key=key, host="http://127.0.0.1:9")


async def test_a_valid_token_method_is_sent() -> None:
    async with ScriptedServer(http(200, {"ok": True})) as server, client(server) as ph:
        assert await ph.request("propfind", "x/") == {"ok": True}
    assert server.requests[0].method == "PROPFIND"


async def test_a_response_nested_too_deeply_is_a_typed_decode_error() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    async with (
        ScriptedServer(http(200, deep, content_type="application/json")) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.ResponseDecodeError, match="nested too deeply"):
            await ph.request("GET", "x/")
        with pytest.raises(pda.ResponseDecodeError):
            await ph.dashboards.get(1)
    # An error status with such a body is still the status error.
    async with (
        ScriptedServer(http(400, deep, content_type="application/json")) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.BadRequestError):
            await ph.dashboards.get(1)


async def test_a_response_of_the_wrong_shape_is_a_typed_decode_error() -> None:
    async with ScriptedServer(http(200, {"id": "not an int"})) as server, client(server) as ph:
        with pytest.raises(pda.ResponseDecodeError):
            await ph.dashboards.get(1)


GARBAGE: list[list[object]] = [
    [b"not http at all\r\n\r\n", CLOSE],
    [b"HTTP/1.1 abc Nope\r\n\r\n", CLOSE],
    [b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", CLOSE],
    [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", CLOSE],
    [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", CLOSE],
    [head(200, [("X-Long", "a" * 70_000)]), CLOSE],
    [head(200, [("Content-Encoding", "gzip"), ("Content-Length", "4")]) + b"abcd", CLOSE],
    [head(200, [("Content-Encoding", "br"), ("Content-Length", "4")]) + b"abcd", CLOSE],
    [b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n", CLOSE],
    [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xff\xfe", CLOSE],
    [b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"\\ud800"', CLOSE],
    [b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", CLOSE],
    [http(301, b"", headers=[("Location", "http://evil.invalid/")])],
    [http(200, b"[1, 2", content_type="application/json")],
    [RESET],
    [CLOSE],
]


@pytest.mark.parametrize("script", GARBAGE, ids=range(len(GARBAGE)))
async def test_whatever_the_server_sends_only_sdk_errors_come_out(script: list[object]) -> None:
    async with ScriptedServer(script) as server, client(server) as ph:
        for call in (
            lambda: ph.dashboards.get(1),
            lambda: ph.request("GET", "x/"),
            lambda: ph.dashboards.sharing.get(1),
        ):
            try:
                await call()
            except pda.PostHogError:
                pass


async def test_random_bytes_never_escape_as_bare_exceptions() -> None:
    rng = random.Random(11)
    for _ in range(40):
        prefix = rng.choice(
            [b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 500 X\r\nContent-Length: 3\r\n"]
        )
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        async with ScriptedServer([prefix + noise, CLOSE]) as server, client(server) as ph:
            try:
                await ph.dashboards.get(1)
            except pda.PostHogError:
                pass


async def test_aclose_while_requests_are_in_flight() -> None:
    # Requests waiting on the server, on the semaphore and on the retry sleep: aclose()
    # ends each with ClientStateError (or APIConnectionError), never an AssertionError or
    # RuntimeError from inside aiohttp.
    arrived = asyncio.Event()

    def hold(request: Request) -> list[object]:
        if len(server.requests) >= 2:
            arrived.set()
        return [HOLD]

    server = ScriptedServer(hold)
    async with server:
        ph = client(server, max_concurrency=2)
        async with ph:
            tasks = [asyncio.ensure_future(ph.dashboards.get(i + 1)) for i in range(6)]
            tasks.append(asyncio.ensure_future(ph.request("PATCH", "x/", json={"a": 1})))
            await arrived.wait()
            await ph.aclose()
            results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        assert isinstance(result, (pda.ClientStateError, pda.APIConnectionError)), repr(result)
    assert any(isinstance(r, pda.ClientStateError) for r in results)
    with pytest.raises(pda.ClientStateError):
        await ph.dashboards.get(1)
