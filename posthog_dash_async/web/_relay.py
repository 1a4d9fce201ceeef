"""A tile stream relayed to a browser as Server-Sent Events."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import msgspec
from aiohttp import web

from .._streaming import TileStream
from ..errors import InvalidArgumentError, PostHogError
from ..models import CompleteEvent, StreamEvent, UnknownEvent

__all__ = ["DEFAULT_HEARTBEAT", "SSE_HEADERS", "event_payload", "sse_relay"]

SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    # Tell nginx-style proxies not to buffer: events must reach the browser as they come.
    "X-Accel-Buffering": "no",
}

_ENCODER: Final = msgspec.json.Encoder()
# Browser went away: aiohttp raises one of these from a write on a closed connection.
_GONE: Final = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def event_payload(event: StreamEvent) -> Any:
    """A typed stream event back in PostHog's wire shape (``{"type": ..., ...}``).

    Known events encode with their ``type`` tag; an unknown one is passed on as it came.
    """
    if isinstance(event, UnknownEvent):
        return event.raw if isinstance(event.raw, dict) else {"type": event.type, "raw": event.raw}
    return event


#: Seconds between two keep-alive comments of :func:`sse_relay` by default.
DEFAULT_HEARTBEAT: Final = 15.0
_KEEP_ALIVE: Final = b": keep-alive\n\n"


def check_heartbeat(heartbeat: float | None) -> None:
    """Refuse a ``heartbeat`` that is not a positive number of seconds or ``None``."""
    if heartbeat is None:
        return
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)) or heartbeat <= 0:
        raise InvalidArgumentError(
            f"heartbeat must be a positive number or None, got {heartbeat!r}"
        )


async def sse_relay(
    request: web.Request, stream: TileStream, *, heartbeat: float | None = DEFAULT_HEARTBEAT
) -> web.StreamResponse:
    """Answer ``request`` with ``stream``'s events as ``text/event-stream``; return the response.

    ``stream`` is a stream not yet entered, e.g. ``ph.dashboards.stream_tiles(412)``; the
    relay enters it, writes one ``data: <json>`` event per stream event, and closes it. The
    events keep PostHog's shapes (``metadata``, ``tile``, ``error`` with ``tile_id``), with
    two differences a browser needs:

    - ``complete`` carries ``fallback_used`` (whether PostHog streamed, or the SDK read the
      dashboard in one request because the server refused the stream);
    - a failure (an SDK :class:`~posthog_dash_async.PostHogError`: the dashboard does not
      exist, the key lacks a scope, the stream broke) becomes a last
      ``{"type": "error", "error": <message>, "kind": <exception class>}`` event without
      ``tile_id``, on a 200 answer: ``EventSource`` hides the body of a non-200 response.
      Messages of SDK errors never contain the API key.

    Every ``heartbeat`` seconds (``None``: never) a ``: keep-alive`` comment line is
    written, which ``EventSource`` ignores: tiles can take minutes to compute, and a proxy
    between the browser and this server would otherwise close the quiet connection (and
    the browser reconnect, replaying the dashboard).

    A browser that disconnects ends the relay and the upstream stream (at once when the
    application runs with ``handler_cancellation=True``, else at the next write).
    """
    check_heartbeat(heartbeat)
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    # One writer at a time: an event and a keep-alive never interleave.
    lock = asyncio.Lock()

    async def write(data: bytes) -> None:
        async with lock:
            await response.write(data)

    async def send(payload: Any) -> None:
        await write(b"data: " + _ENCODER.encode(payload) + b"\n\n")

    async def beat(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await write(_KEEP_ALIVE)
            except _GONE:
                return

    beater = None if heartbeat is None else asyncio.create_task(beat(float(heartbeat)))
    try:
        async with stream:
            async for event in stream:
                if isinstance(event, CompleteEvent):
                    await send({"type": "complete", "fallback_used": stream.fallback_used})
                else:
                    await send(event_payload(event))
    except PostHogError as exc:
        try:
            await send({"type": "error", "error": str(exc), "kind": type(exc).__name__})
        except _GONE:
            return response
    except _GONE:
        # Leaving the ``async with`` above already closed the PostHog stream.
        return response
    finally:
        if beater is not None:
            beater.cancel()
            await asyncio.gather(beater, return_exceptions=True)
    try:
        await response.write_eof()
    except _GONE:
        pass
    return response
