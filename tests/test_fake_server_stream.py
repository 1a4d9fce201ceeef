"""FakePostHog's ``stream_tiles``: the exact byte framing of the spec and every stream fault."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from _fake_shapes import transcript_2026
from conftest import fixture_bytes
from multidict import CIMultiDictProxy

from posthog_dash_async.testing import FakePostHog, text_tile, trends_tile

STREAMED_AT = datetime(2025, 11, 3, 9, 52, 8, 207716, tzinfo=timezone.utc)
TIMEOUT_MESSAGE = (
    "Query exceeded the maximum execution time while computing insight 'Revenue by plan'."
)


def events(body: bytes, newline: bytes = b"\n") -> list[dict[str, Any]]:
    """Decode a well-formed stream: blocks separated by a blank line, ``data:`` lines."""
    out = []
    for block in body.split(newline * 2):
        data = [line[6:] for line in block.split(newline) if line.startswith(b"data: ")]
        if data:
            out.append(json.loads(b"\n".join(data)))
    return out


async def stream(
    server: FakePostHog,
    session: aiohttp.ClientSession,
    dashboard_id: int,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    url = f"{server.url}/api/projects/42/dashboards/{dashboard_id}/stream_tiles/"
    sent = {"Authorization": f"Bearer {server.api_key}", **(headers or {})}
    async with session.get(url, params=params, headers=sent) as response:
        return response.status, response.headers, await response.read()


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(now=lambda: STREAMED_AT, allow_pak_on_unscoped_actions=True) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# --------------------------------------------------------------------------------------------
# exact framing


async def test_transcript_is_byte_identical_from_the_fixture(
    session: aiohttp.ClientSession,
) -> None:
    detail = json.loads(fixture_bytes("dashboard_detail.json"))
    async with FakePostHog(
        seed=False, now=lambda: STREAMED_AT, allow_pak_on_unscoped_actions=True
    ) as server:
        server.import_dashboard(detail)
        server.add_tile(412, trends_tile("Revenue by plan", tile_id=9004, layout=(0, 6, 12, 5)))
        server.set_stream_faults(tile_errors={9004: TIMEOUT_MESSAGE})
        status, _, body = await stream(server, session, 412, params={"layout_size": "sm"})
    assert status == 200
    assert body == transcript_2026(fixture_bytes("stream_tiles_transcript.sse"))


async def test_transcript_is_byte_identical_from_the_seed(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    failing = trends_tile(
        "Revenue by plan", tile_id=9004, layout=(0, 6, 12, 5), stream_error=TIMEOUT_MESSAGE
    )
    server.add_tile(412, failing)
    _, _, body = await stream(server, session, 412, params={"layout_size": "sm"})
    assert body == transcript_2026(fixture_bytes("stream_tiles_transcript.sse"))
    assert server.dashboard(412)["last_accessed_at"] == "2025-11-03T09:52:08.207716Z"


async def test_stream_headers(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    status, headers, _ = await stream(server, session, 412, headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert "Content-Encoding" not in headers
    assert headers["Cache-Control"] == "no-cache, no-transform"
    assert headers["X-Accel-Buffering"] == "no"
    server.new_sse_headers = False
    _, headers, _ = await stream(server, session, 412)
    assert "Cache-Control" not in headers
    assert "X-Accel-Buffering" not in headers


async def test_metadata_then_tiles_then_complete(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    _, _, body = await stream(server, session, 388)
    received = events(body)
    assert [e["type"] for e in received] == ["metadata"] + ["tile"] * 4 + ["complete"]
    metadata = received[0]["dashboard"]
    assert list(metadata) == list(server.dashboard(388))
    assert [t["order"] for t in metadata["tiles"]] == [0, 1]
    assert [t["id"] for t in metadata["tiles"]] == [9301, 9302]
    assert [(e["order"], e["tile"]["order"], e["tile"]["id"]) for e in received[1:5]] == [
        (2, 2, 9303),
        (3, 3, 9304),
        (4, 4, 9305),
        (5, 5, 9306),
    ]
    assert received[-1] == {"type": "complete"}
    assert body.endswith(b'data: {"type":"complete"}\n\n')


async def test_layout_size_selects_the_sort(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    def layouts(sm_x: int, sm_y: int, xs_y: int) -> dict[str, Any]:
        return {"sm": {"x": sm_x, "y": sm_y}, "xs": {"x": 0, "y": xs_y}}

    created = server.add_dashboard(
        "Mobile first",
        tiles=[
            text_tile("A", layouts=layouts(0, 0, 5)),
            text_tile("B", layouts=layouts(6, 0, 10)),
            text_tile("C", layouts=layouts(0, 5, 0)),
        ],
    )

    async def order(params: dict[str, str]) -> list[str]:
        _, _, body = await stream(server, session, created["id"], params=params)
        received = events(body)
        tiles = received[0]["dashboard"]["tiles"] + [e["tile"] for e in received[1:-1]]
        return [tile["text"]["body"] for tile in tiles]

    assert await order({}) == ["A", "B", "C"]
    assert await order({"layout_size": "xs"}) == ["C", "A", "B"]
    assert await order({"layoutSize": "xs"}) == ["C", "A", "B"]
    assert await order({"layout_size": "lg"}) == ["A", "B", "C"]


async def test_empty_dashboard(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    _, _, body = await stream(server, session, 433)
    received = events(body)
    assert [e["type"] for e in received] == ["metadata", "complete"]
    assert received[0]["dashboard"]["tiles"] == []


async def test_tile_errors(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(tile_errors={9301: "boom", 9304: "slow query"})
    _, _, body = await stream(server, session, 388)
    received = events(body)
    assert received[0]["dashboard"]["tiles"][0] == {
        "id": 9301,
        "error": {"type": "Exception", "message": "boom"},
    }
    assert received[2] == {"type": "error", "tile_id": 9304, "error": "slow query"}
    assert [e["type"] for e in received] == [
        "metadata",
        "tile",
        "error",
        "tile",
        "tile",
        "complete",
    ]


# --------------------------------------------------------------------------------------------
# pre-stream failures


async def test_pre_stream_errors_are_plain_responses(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    status, _, body = await stream(server, session, 470)
    assert (status, json.loads(body)) == (
        404,
        {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None},
    )
    assert (await stream(server, session, 999999))[0] == 404
    server.allow_pak_on_unscoped_actions = False
    status, headers, body = await stream(server, session, 412)
    assert (status, headers["Content-Type"]) == (403, "application/json")
    assert json.loads(body)["detail"] == "This action does not support personal API key access"


async def test_accept_event_stream_alone_makes_errors_non_json(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    only_sse = {"Accept": "text/event-stream"}
    status, headers, body = await stream(server, session, 470, headers=only_sse)
    assert (status, body) == (404, b"typecodedetailattr")
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    both = {"Accept": "text/event-stream, application/json"}
    status, headers, body = await stream(server, session, 470, headers=both)
    assert (status, headers["Content-Type"], json.loads(body)["code"]) == (
        404,
        "application/json",
        "not_found",
    )
    url = f"{server.url}/api/projects/42/dashboards/412/stream_tiles/"
    async with session.get(url, headers=only_sse) as response:
        assert (response.status, await response.read()) == (401, b"typecodedetailattr")


async def test_throttled_stream_and_stream_cap(session: aiohttp.ClientSession) -> None:
    async with FakePostHog(
        burst_limit=1, allow_pak_on_unscoped_actions=True, max_concurrent_streams=1
    ) as server:
        assert (await stream(server, session, 433))[0] == 200
        status, _, body = await stream(server, session, 433)
        assert status == 429
        assert json.loads(body)["code"] == "throttled"

    async with FakePostHog(allow_pak_on_unscoped_actions=True, max_concurrent_streams=1) as server:
        server.set_stream_faults(stall_after=1)
        url = f"{server.url}/api/projects/42/dashboards/412/stream_tiles/"
        auth = {"Authorization": f"Bearer {server.api_key}"}
        async with session.get(url, headers=auth) as held:
            await held.content.readuntil(b"\n\n")
            server.random.seed(7)
            waits = set()
            for _ in range(30):
                status, headers, body = await stream(server, session, 433)
                assert (status, body) == (503, b"")
                assert "Content-Type" not in headers
                assert headers["Cache-Control"] == "no-cache, no-transform"
                assert headers["X-Accel-Buffering"] == "no"
                waits.add(int(headers["Retry-After"]))
            # 15 + random 0..29 s: never below 15 or above 44, and not one fixed value.
            assert min(waits) >= 15
            assert max(waits) <= 44
            assert len(waits) > 1


# --------------------------------------------------------------------------------------------
# stream faults


async def test_truncate_after(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(truncate_after=2)
    status, _, body = await stream(server, session, 388)
    assert status == 200
    assert [e["type"] for e in events(body)] == ["metadata", "tile"]


async def test_fatal_error_after(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(fatal_error_after=1, fatal_error_message="ClickHouse went away")
    _, _, body = await stream(server, session, 388)
    received = events(body)
    assert received[1:] == [{"type": "error", "error": "ClickHouse went away"}]


async def test_reset_after(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(reset_after=1)
    with pytest.raises(aiohttp.ClientError):
        await stream(server, session, 388)


async def test_stall_after_holds_the_connection(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    server.set_stream_faults(stall_after=1)
    url = f"{server.url}/api/projects/42/dashboards/388/stream_tiles/"
    async with session.get(url, headers={"Authorization": f"Bearer {server.api_key}"}) as resp:
        first = await resp.content.readuntil(b"\n\n")
        assert json.loads(first[6:])["type"] == "metadata"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resp.content.read(1), timeout=0.2)
        assert server.in_flight == 1
    # Closing the response drops the connection; the server notices and lets go.
    for _ in range(100):
        if server.in_flight == 0:
            break
        await asyncio.sleep(0.02)
    assert server.in_flight == 0


async def test_tile_delay(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(tile_delay=0.05)
    started = time.monotonic()
    _, _, body = await stream(server, session, 388)
    assert time.monotonic() - started >= 0.2
    assert len(events(body)) == 6


async def test_huge_tiles(server: FakePostHog, session: aiohttp.ClientSession) -> None:
    server.set_stream_faults(huge_tiles={9303: 2_000_000, 9301: 50_000})
    _, _, body = await stream(server, session, 388)
    blocks = body.split(b"\n\n")
    assert len(blocks[1]) >= 2_000_000
    assert len(blocks[0]) >= 50_000
    received = events(body)
    assert received[1]["tile"]["insight"]["result"][-1].startswith("xxx")
    assert received[-1] == {"type": "complete"}


async def test_crlf_comments_event_lines_and_chunks(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    _, _, plain = await stream(server, session, 412)
    expected = events(plain)

    server.set_stream_faults(crlf=True)
    _, _, body = await stream(server, session, 412)
    assert b"\n\n" not in body
    assert events(body, b"\r\n") == expected

    server.set_stream_faults(crlf=False, comments=True, event_lines=True)
    _, _, body = await stream(server, session, 412)
    assert body.startswith(b": keep-alive\n\nevent: metadata\nid: 1\ndata: {")
    # Three tiles: metadata (two of them), one tile event, complete.
    assert b"\n\nevent: tile\nid: 2\ndata: " in body
    assert body.endswith(b': keep-alive\n\nevent: complete\nid: 3\ndata: {"type":"complete"}\n\n')
    assert events(body) == expected

    server.reset_faults()
    server.set_stream_faults(chunk_size=7)
    _, _, body = await stream(server, session, 412)
    assert body == plain


async def test_faults_apply_per_stream_and_reset(
    server: FakePostHog, session: aiohttp.ClientSession
) -> None:
    faults = server.set_stream_faults(truncate_after=1)
    assert faults.truncate_after == 1
    assert len(events((await stream(server, session, 412))[2])) == 1
    server.reset_faults()
    assert len(events((await stream(server, session, 412))[2])) == 3
    with pytest.raises(TypeError):
        server.set_stream_faults(explode=True)
