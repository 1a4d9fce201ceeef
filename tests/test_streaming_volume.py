"""Tile streams at volume over a loopback socket: a multi-megabyte event, and memory that
stays flat however many tiles pass through."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from test_streaming_support import COMPLETE, StreamServer, dashboard, sse, text_tile

import posthog_dash_async as pda
from posthog_dash_async.models import CompleteEvent, MetadataEvent, TileEvent


@pytest.fixture
async def server() -> AsyncIterator[StreamServer]:
    srv = StreamServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.aclose()


def insight_tile(tile_id: int, order: int, points: int) -> dict[str, Any]:
    """A trends-insight tile with ``points`` data points in its cached result."""
    tile = text_tile(tile_id, order=order, sm=(0, order))
    tile["text"] = None
    tile["insight"] = {
        "id": tile_id + 500_000,
        "short_id": "aZ3kP9qW",
        "name": f"Insight {tile_id}",
        "filters": {},
        "query": {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery"}},
        "result": [
            {
                "label": "$pageview",
                "data": [(i * 37) % 1000 for i in range(points)],
                "days": [f"2025-10-{1 + i % 28:02d}" for i in range(points)],
            }
        ],
        "last_refresh": "2025-11-03T09:40:02.771930Z",
        "is_cached": True,
    }
    return tile


async def test_a_3_mib_tile_arriving_in_many_chunks_decodes(server: StreamServer) -> None:
    big = insight_tile(3, 2, points=200_000)
    event = sse({"type": "tile", "order": 2, "tile": big})
    assert len(event) > 3 * 2**20
    first_two = [insight_tile(1, 0, 5), insight_tile(2, 1, 5)]
    head = sse({"type": "metadata", "dashboard": dashboard(1, first_two)})
    server.serve([head, event, COMPLETE], piece=16 * 1024)
    async with server.client() as ph, ph.dashboards.stream_tiles(1) as stream:
        events = [e async for e in stream]
    assert [type(e) for e in events] == [MetadataEvent, TileEvent, CompleteEvent]
    tile = events[1]
    assert isinstance(tile, TileEvent)
    assert tile.tile.insight is not None
    assert tile.tile.insight.result[0]["data"][-1] == ((200_000 - 1) * 37) % 1000
    assert len(tile.tile.insight.result[0]["days"]) == 200_000


def serve_many(server: StreamServer, count: int) -> int:
    """Generate ``count`` tiles on the fly (the server keeps no list of them); returns the
    size of one tile event. Tile ``n`` has id ``n`` and order ``n``."""
    card = text_tile(999_999, order=999_999, sm=(0, 999_999), body="Weekly notes. " * 50)
    template = sse({"type": "tile", "order": 999_999, "tile": card})

    def one(order: int) -> bytes:
        return template.replace(b"999999", str(order).encode())

    async def behaviour(request: web.Request) -> web.StreamResponse:
        response = await server.open_sse(request)
        first_two = [insight_tile(i, i, 30) for i in range(2)]
        await response.write(sse({"type": "metadata", "dashboard": dashboard(1, first_two)}))
        batch: list[bytes] = []
        for order in range(2, count):
            batch.append(one(order))
            if len(batch) == 64:
                await response.write(b"".join(batch))
                batch.clear()
        batch.append(COMPLETE)
        await response.write(b"".join(batch))
        await response.write_eof()
        return response

    server.stream = behaviour
    return len(one(12345))


async def memory_of_a_stream(ph: pda.AsyncPostHog, count: int) -> tuple[int, int]:
    """(peak, retained): traced memory above what was allocated before a stream of
    ``count`` tiles whose consumer keeps nothing, at its highest and after the stream."""
    tracemalloc.start()
    try:
        tiles = 0
        async for event in ph.dashboards.stream_tiles(1):
            if type(event) is TileEvent:
                tiles += 1
            elif type(event) is MetadataEvent:
                tiles += len(event.dashboard.tiles)
        del event
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tiles == count
    return peak, retained


async def test_memory_stays_flat_whatever_the_tile_count(server: StreamServer) -> None:
    # The server runs in this process too; its allocations are bounded by aiohttp's write
    # buffer and count against the same limit.
    async with server.client() as ph:
        serve_many(server, 200)
        await memory_of_a_stream(ph, 200)  # one-time allocations happen here
        serve_many(server, 2_000)
        small_peak, small_retained = await memory_of_a_stream(ph, 2_000)
        event_size = serve_many(server, 20_000)
        large_peak, large_retained = await memory_of_a_stream(ph, 20_000)
    assert 20_000 * event_size > 3 * 5 * 2**20  # far more than would fit under the bound
    assert small_peak < 5 * 2**20
    assert large_peak < 5 * 2**20
    # Ten times the tiles: the peak moves only with how much the socket buffers at once.
    assert large_peak < small_peak + 2**20, (small_peak, large_peak)
    # Nothing is kept per tile: even 16 bytes a tile would show as 320 KB here.
    assert small_retained < 128 * 1024
    assert large_retained < 128 * 1024, large_retained


async def test_a_large_stream_collects_every_tile_in_order(server: StreamServer) -> None:
    serve_many(server, 3_000)
    async with server.client() as ph:
        result = await ph.dashboards.stream_tiles(1).collect()
    assert len(result.tiles) == 3_000
    assert [t.order for t in result.tiles] == list(range(3_000))
    assert [t.id for t in result.tiles[:4]] == [0, 1, 2, 3]
    assert result.tiles[-1].text is not None
