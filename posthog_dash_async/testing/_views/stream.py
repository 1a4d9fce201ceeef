"""``dashboards/{id}/stream_tiles/``: the Server-Sent Events stream and its fault switches."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from .._drf import RawError
from .._faults import StreamFaults
from .._state import Dashboard, State, Tile, ViewOptions
from ._common import (
    RequestContext,
    encode_json,
    get_dashboard,
    last_param,
    reset_transport,
    view_options,
)
from .dashboards import apply_refresh

__all__ = ["overloaded", "sse_headers", "stream_tiles"]


async def stream_tiles(ctx: RequestContext) -> web.StreamResponse:
    """GET: ``metadata`` (with the first two tiles), one ``tile`` event per tile, ``complete``."""
    server = ctx.server
    dashboard = get_dashboard(ctx, ctx.params["id"])
    cap = server.max_concurrent_streams
    if cap is not None and server._active_streams >= cap:
        raise overloaded(ctx)
    requested = last_param(ctx.query, "layoutSize") or last_param(ctx.query, "layout_size")
    size = "xs" if requested == "xs" else "sm"
    apply_refresh(ctx, dashboard)
    dashboard.last_accessed_at = ctx.state.now_text()
    options = view_options(ctx, size)
    faults = copy.deepcopy(server.stream_faults)
    headers = {"Content-Type": "text/event-stream", **sse_headers(ctx)}
    response = web.StreamResponse(status=200, headers=headers)
    response.enable_chunked_encoding()
    server._active_streams += 1
    try:
        await response.prepare(ctx.request)
        await _write_stream(ctx, response, dashboard, options, faults)
    except ConnectionError:
        # The client went away mid-stream; nothing left to do.
        pass
    finally:
        server._active_streams -= 1
    return response


def sse_headers(ctx: RequestContext) -> dict[str, str]:
    """NEWEST's anti-buffering headers, on every stream answer (``new_sse_headers``)."""
    if not ctx.server.new_sse_headers:
        return {}
    return {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


def overloaded(ctx: RequestContext, retry_after: int | None = None) -> RawError:
    """The per-process stream cap's answer: 503, empty body, ``Retry-After`` 15 + 0..29 s."""
    wait = retry_after if retry_after is not None else 15 + ctx.server.random.randint(0, 29)
    return RawError(503, headers={"Retry-After": str(wait), **sse_headers(ctx)})


def _tile_payload(
    state: State, tile: Tile, order: int, options: ViewOptions, faults: StreamFaults
) -> dict[str, Any]:
    data = state.tile_view(tile, order, options)
    size = faults.huge_tiles.get(tile.id)
    if size:
        _pad_tile(data, size)
    return data


async def _events(
    ctx: RequestContext, dashboard: Dashboard, options: ViewOptions, faults: StreamFaults
) -> AsyncGenerator[dict[str, Any], None]:
    state = ctx.state
    tiles = state.sorted_tiles(dashboard, options.layout_size)
    first: list[dict[str, Any]] = []
    for order, tile in enumerate(tiles[:2]):
        error = faults.tile_errors.get(tile.id) or tile.stream_error
        if error:
            first.append({"id": tile.id, "error": {"type": "Exception", "message": error}})
        else:
            first.append(_tile_payload(state, tile, order, options, faults))
    detail = state.dashboard_json(dashboard, options, tiles=first)
    yield {"type": "metadata", "dashboard": detail}
    for order, tile in enumerate(tiles[2:], start=2):
        await ctx.server._sleep(faults.tile_delay)
        error = faults.tile_errors.get(tile.id) or tile.stream_error
        if error:
            yield {"type": "error", "tile_id": tile.id, "error": error}
        else:
            yield {
                "type": "tile",
                "order": order,
                "tile": _tile_payload(state, tile, order, options, faults),
            }
    yield {"type": "complete"}


async def _write_stream(
    ctx: RequestContext,
    response: web.StreamResponse,
    dashboard: Dashboard,
    options: ViewOptions,
    faults: StreamFaults,
) -> None:
    newline = b"\r\n" if faults.crlf else b"\n"
    sent = 0

    async def write(payload: dict[str, Any]) -> None:
        frame = b""
        if faults.comments:
            frame += b": keep-alive" + newline + newline
        if faults.event_lines:
            frame += f"event: {payload['type']}".encode() + newline
            frame += f"id: {sent + 1}".encode() + newline
        frame += b"data: " + encode_json(payload) + newline + newline
        step = faults.chunk_size
        if step:
            for start in range(0, len(frame), step):
                await response.write(frame[start : start + step])
                await asyncio.sleep(0)
        else:
            await response.write(frame)

    server = ctx.server
    events = _events(ctx, dashboard, options, faults)
    try:
        while True:
            if faults.fatal_error_after == sent:
                await write({"type": "error", "error": faults.fatal_error_message})
                break
            if faults.truncate_after == sent:
                break
            if faults.stall_after == sent:
                await server._hang_until_cancelled()
                return
            if faults.reset_after == sent:
                reset_transport(ctx.request)
                await server._hang_until_cancelled()
                return
            try:
                payload = await events.__anext__()
            except StopAsyncIteration:
                break
            await write(payload)
            sent += 1
    finally:
        await events.aclose()
    await response.write_eof()


def _pad_tile(tile: dict[str, Any], size: int) -> None:
    missing = size - len(encode_json(tile))
    if missing <= 0:
        return
    filler = "x" * max(missing - 3, 1)
    insight = tile.get("insight")
    if isinstance(insight, dict):
        padded = dict(insight)
        result = padded.get("result")
        items = list(result) if isinstance(result, list) else ([] if result is None else [result])
        padded["result"] = [*items, filler]
        tile["insight"] = padded
        return
    text = tile.get("text")
    if isinstance(text, dict):
        tile["text"] = {**text, "body": (text.get("body") or "") + filler}
