"""TileStream: ``stream_tiles`` Server-Sent Events -> typed events, ``collect()``, fallback.

The server frames each event as ``data: <compact JSON>\\n\\n`` and tells events apart only
by the JSON ``type``: ``metadata`` (first), ``tile`` (one per remaining tile), ``error``
(with ``tile_id``: that tile failed, the stream goes on; without: fatal, last event) and
``complete`` (last event of a good stream). A stream that ends without ``complete`` failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec

from ._config import Timeout
from ._sse import SSEDecoder
from ._transport import StreamResponse
from .errors import (
    NotFoundError,
    StreamError,
    StreamIncompleteError,
    UnsupportedForApiKeyError,
)
from .models import (
    CompleteEvent,
    Dashboard,
    MetadataEvent,
    StreamEvent,
    Tile,
    TileErrorEvent,
    TileErrorInfo,
    TileEvent,
    UnknownEvent,
)

if TYPE_CHECKING:
    from ._client import AsyncPostHog

__all__ = ["TileStream", "decode_event", "order_tiles"]

STREAM_ACCEPT = "text/event-stream, application/json"


class _WireEvent(msgspec.Struct):
    """Every field any known event carries; one decoding pass per event."""

    type: str
    dashboard: Dashboard | None = None
    order: int | None = None
    tile: Tile | None = None
    tile_id: int | None = None
    error: Any = None


_event_decoder = msgspec.json.Decoder(_WireEvent)
_any_decoder = msgspec.json.Decoder()
_KNOWN = frozenset({"metadata", "tile", "error", "complete"})
_COMPLETE = CompleteEvent()


class _Fatal(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _unknown(data: bytes) -> UnknownEvent:
    try:
        raw = _any_decoder.decode(data)
    except msgspec.DecodeError:
        return UnknownEvent(type="", raw=data.decode("utf-8", "replace"))
    kind = raw.get("type") if isinstance(raw, dict) else None
    return UnknownEvent(type=kind if isinstance(kind, str) else "", raw=raw)


def decode_event(data: bytes) -> StreamEvent:
    """Turn one event's data into a typed event.

    Raises ``_Fatal`` for a fatal server error event. An event of a type this version does
    not know, or one that is not valid JSON, becomes :class:`UnknownEvent`.
    """
    try:
        wire = _event_decoder.decode(data)
    except msgspec.DecodeError:
        return _unknown(data)
    kind = wire.type
    if kind == "tile" and wire.tile is not None:
        order = wire.order if wire.order is not None else wire.tile.order
        return TileEvent(order=order if order is not None else -1, tile=wire.tile)
    if kind == "metadata" and wire.dashboard is not None:
        return MetadataEvent(dashboard=wire.dashboard)
    if kind == "error":
        message = wire.error if isinstance(wire.error, str) else str(wire.error)
        if wire.tile_id is None:
            raise _Fatal(message)
        return TileErrorEvent(tile_id=wire.tile_id, error=message)
    if kind == "complete":
        return _COMPLETE
    return _unknown(data)


def _layout_key(tile: Tile, size: str) -> tuple[int, int, int]:
    layout = tile.layout(size)
    y = layout.y if layout is not None and layout.y is not None else 100
    x = layout.x if layout is not None and layout.x is not None else 100
    return (y, x, tile.id)


def order_tiles(tiles: list[Tile], size: str) -> list[Tile]:
    """Tiles sorted the way the server sorts them for a layout size (y, then x; a missing
    coordinate counts as 100), with ``order`` renumbered from 0."""
    ordered = sorted(tiles, key=lambda t: _layout_key(t, size))
    return [
        t if t.order == i else msgspec.structs.replace(t, order=i) for i, t in enumerate(ordered)
    ]


class TileStream:
    """The events of one ``stream_tiles`` call: an async context manager and async iterator.

    ``async with ph.dashboards.stream_tiles(12) as stream: async for event in stream: ...``
    Leaving the block (normally, by ``break``, an exception or cancellation) releases the
    connection and the concurrency permit at once. ``fallback_used`` tells whether the
    events came from ``GET dashboards/{id}/`` because the server refused the stream.
    """

    def __init__(
        self,
        client: AsyncPostHog,
        dashboard_id: int,
        *,
        layout_size: str = "sm",
        fallback: bool = True,
        timeout: Timeout | None = None,
    ) -> None:
        self._client = client
        self.dashboard_id = dashboard_id
        self.layout_size = layout_size
        self.fallback = fallback
        self._timeout = timeout
        self.fallback_used = False
        #: The dashboard of the metadata event, once received.
        self.dashboard: Dashboard | None = None
        #: How many events were yielded so far.
        self.events_received = 0
        self._cm: AbstractAsyncContextManager[StreamResponse] | None = None
        self._events: AsyncIterator[StreamEvent] | None = None
        self._opened = False
        self._done = False
        self._collected: list[Tile] | None = None

    def __repr__(self) -> str:
        return (
            f"TileStream(dashboard_id={self.dashboard_id}, layout_size={self.layout_size!r}, "
            f"events_received={self.events_received}, fallback_used={self.fallback_used})"
        )

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> TileStream:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection and the permit (idempotent)."""
        self._done = True
        cm, self._cm = self._cm, None
        if cm is not None:
            await cm.__aexit__(None, None, None)

    async def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        client = self._client
        path = f"dashboards/{self.dashboard_id}/stream_tiles/"
        params = [("layout_size", self.layout_size)]
        cm = client._stream(path, params=params, accept=STREAM_ACCEPT, timeout=self._timeout)
        try:
            resp = await cm.__aenter__()
        except (UnsupportedForApiKeyError, NotFoundError) as exc:
            if not self.fallback:
                raise
            self._events = await self._fallback_events(exc)
            return
        self._cm = cm
        self._events = self._stream_events(resp)

    async def _fallback_events(
        self, refused: UnsupportedForApiKeyError | NotFoundError
    ) -> AsyncIterator[StreamEvent]:
        # A 404 means "no such endpoint" only if the dashboard itself exists; otherwise the
        # dashboard's own 404 is the truthful answer.
        try:
            dashboard = await self._client.dashboards.get(self.dashboard_id, timeout=self._timeout)
        except NotFoundError:
            if isinstance(refused, NotFoundError):
                raise refused from None
            raise
        self.fallback_used = True
        return self._replay(dashboard)

    async def _replay(self, dashboard: Dashboard) -> AsyncIterator[StreamEvent]:
        tiles = order_tiles(dashboard.tiles, self.layout_size)
        head, rest = tiles[:2], tiles[2:]
        yield MetadataEvent(dashboard=msgspec.structs.replace(dashboard, tiles=head))
        for tile in rest:
            yield TileEvent(order=tile.order if tile.order is not None else -1, tile=tile)
        yield _COMPLETE

    async def _stream_events(self, resp: StreamResponse) -> AsyncIterator[StreamEvent]:
        decoder = SSEDecoder(self._client.max_event_bytes)
        decode = decode_event
        async for chunk in resp.chunks():
            for data in decoder.feed(chunk):
                try:
                    event = decode(data)
                except _Fatal as fatal:
                    raise StreamError(
                        f"dashboard {self.dashboard_id}: the server ended the stream with an "
                        f"error: {fatal.message}",
                        error=fatal.message,
                        received=self._partial(),
                    ) from None
                yield event
                if event is _COMPLETE:
                    return
        decoder.close()
        raise StreamIncompleteError(
            f"dashboard {self.dashboard_id}: the stream ended before its 'complete' event "
            f"({self.events_received} events received)",
            received=self._partial(),
        )

    def _partial(self) -> Dashboard | None:
        """What arrived so far: the metadata dashboard, with every tile received when
        collecting (while iterating, tiles were handed to the caller and are not kept)."""
        if self.dashboard is None:
            return None
        if self._collected is None:
            return self.dashboard
        return msgspec.structs.replace(self.dashboard, tiles=list(self._collected))

    # --- iteration ----------------------------------------------------------------------

    def __aiter__(self) -> TileStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._done:
            raise StopAsyncIteration
        if self._events is None:
            await self._open()
        assert self._events is not None
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise
        self.events_received += 1
        if type(event) is MetadataEvent:
            self.dashboard = event.dashboard
        return event

    async def collect(self) -> Dashboard:
        """Read the whole stream and return the dashboard with every tile, in stream order.

        A tile the server failed to serialize is kept in place as a :class:`Tile` with only
        ``id`` and ``error`` set. Raises :class:`StreamError` / :class:`StreamIncompleteError`
        (whose ``received`` holds the dashboard as far as it arrived).
        """
        tiles: list[Tile] = []
        self._collected = tiles
        async with self:
            async for event in self:
                if type(event) is TileEvent:
                    tiles.append(event.tile)
                elif type(event) is MetadataEvent:
                    tiles.extend(event.dashboard.tiles)
                elif type(event) is TileErrorEvent:
                    tiles.append(
                        Tile(
                            id=event.tile_id, error=TileErrorInfo(type="error", message=event.error)
                        )
                    )
        if self.dashboard is None:
            raise StreamIncompleteError(
                f"dashboard {self.dashboard_id}: the stream carried no metadata event",
                received=None,
            )
        return msgspec.structs.replace(self.dashboard, tiles=tiles)
