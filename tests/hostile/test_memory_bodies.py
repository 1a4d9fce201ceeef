"""Response bodies are bounded by ``max_response_bytes`` (after decompression), error bodies
by a small fixed cap; peak memory is measured with tracemalloc around the call."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _leaks import KEY
from _scripted import HOLD, ScriptedServer, head, http

import posthog_dash_async as pda
from posthog_dash_async._transport import MAX_ERROR_BODY_BYTES

CAP = 256 * 1024
#: aiohttp inflates a compressed body up to about 2 MiB ahead of the reader before its flow
#: control pauses it (measured: the same for an 8 MiB and a 128 MiB bomb), plus the
#: client's and the test server's own allocations.
SLACK = 3 * 2**20


def gzip_stream(size: int) -> bytes:
    """A gzip member inflating to ``size`` bytes of ``[``, built 1 MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"[" * 2**20
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


def client(server: ScriptedServer, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
        "max_response_bytes": CAP,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


async def peak_during(call: Callable[[], Awaitable[Any]]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        try:
            await call()
        except BaseException as exc:
            error: BaseException | None = exc
        else:
            error = None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return error, peak


def test_the_default_cap_and_bad_values() -> None:
    ph = pda.AsyncPostHog(api_key=KEY, host="http://127.0.0.1:9")
    assert ph.max_response_bytes == 64 * 2**20
    for bad in (0, 1023, -1, 2.5, True, "1"):
        with pytest.raises(pda.InvalidArgumentError, match="max_response_bytes"):
            pda.AsyncPostHog(api_key=KEY, host="http://127.0.0.1:9", max_response_bytes=bad)


async def test_a_gzip_bomb_fails_fast_having_read_no_more_than_the_cap() -> None:
    # Attack: 90 KB on the wire that inflate to 96 MiB. aiohttp decompresses as it is read;
    # the client stops at the cap, so memory stays within a small multiple of it.
    body = gzip_stream(96 * 2**20)
    bomb = http(200, body, headers=[("Content-Encoding", "gzip")], content_type="application/json")
    async with ScriptedServer(bomb) as server, client(server) as ph:
        error, peak = await peak_during(lambda: ph.dashboards.get(1))
    assert isinstance(error, pda.ResponseTooLargeError)
    assert error.limit == CAP
    assert "max_response_bytes" in str(error)
    assert peak < 2 * CAP + SLACK  # against 96 MiB inflated
    assert len(server.requests) == 1  # never retried


async def test_a_huge_content_length_fails_before_reading_the_body() -> None:
    # The server announces 50 GB and then sends nothing more: the client does not wait.
    claim = head(200, [("Content-Type", "application/json"), ("Content-Length", str(50 * 10**9))])
    async with ScriptedServer([claim, HOLD]) as server, client(server) as ph:
        with pytest.raises(pda.ResponseTooLargeError, match="Content-Length"):
            await ph.dashboards.get(1)


async def test_an_endless_body_without_length_stops_at_the_cap() -> None:
    endless = [head(200, [("Content-Type", "application/json")]), *([b"[" * 65536] * 64), HOLD]
    async with ScriptedServer(endless) as server, client(server) as ph:
        error, peak = await peak_during(lambda: ph.request("GET", "dashboards/"))
    assert isinstance(error, pda.ResponseTooLargeError)
    assert peak < 2 * CAP + SLACK


async def test_a_huge_error_body_is_read_only_up_to_its_small_cap() -> None:
    # Attack: a 500 whose HTML page never ends. The error is raised with what was read (the
    # kept part smaller still), and the connection is dropped instead of drained.
    page = [head(500, [("Content-Type", "text/html")]), *([b"<p>" * 20000] * 200), HOLD]
    async with ScriptedServer(page) as server, client(server, max_response_bytes=64 * 2**20) as ph:
        error, peak = await peak_during(lambda: ph.dashboards.get(1))
    assert isinstance(error, pda.ServerError)
    assert len(error.body) <= 8192
    assert error.detail is not None
    assert error.detail.startswith("<p>")
    assert peak < 2 * MAX_ERROR_BODY_BYTES + SLACK


async def test_a_bomb_in_an_error_body_is_bounded_too() -> None:
    body = gzip_stream(64 * 2**20)
    bomb = http(502, body, headers=[("Content-Encoding", "gzip")], content_type="text/plain")
    async with ScriptedServer(bomb) as server, client(server) as ph:
        error, peak = await peak_during(lambda: ph.dashboards.get(1))
    assert isinstance(error, pda.ServerError)
    assert error.status == 502
    assert peak < 2 * MAX_ERROR_BODY_BYTES + SLACK


async def test_bodies_under_the_cap_are_read_whole() -> None:
    big = {"id": 1, "name": "x" * (CAP - 100)}
    async with ScriptedServer(http(200, big)) as server, client(server) as ph:
        got = await ph.request("GET", "dashboards/1/")
    assert got["name"] == big["name"]
