"""TileStream: ``stream_tiles`` Server-Sent Events -> typed events, ``collect()``, fallback.

The server frames each event as ``data: <compact JSON>\\n\\n`` and tells events apart only
by the JSON ``type``: ``metadata`` (first), ``tile`` (one per remaining tile), ``error``
(with ``tile_id``: that tile failed, the stream goes on; without: fatal, last event) and
``complete`` (last event of a good stream). A stream that ends without ``complete`` failed.

The body is read with ``readany()`` (whatever bytes the socket delivered) and fed to the
pure :class:`~posthog_dash_async._sse.SSEDecoder`; the raw payloads it returns wait in a
queue and are decoded one at a time as the caller asks for them, so an event is typed only
when it is consumed and a fatal error still comes after the events that preceded it.

Nothing is dropped silently: an event whose data is not JSON, not an object with a string
``type``, or a known type whose payload lacks that type's shape raises
:class:`~posthog_dash_async.errors.StreamDecodeError`, as does an event out of the protocol's
order (a tile before the metadata, a second metadata, a tile ``order`` that skips tiles).
Only well-formed JSON of an unknown ``type`` becomes :class:`UnknownEvent`. Text the server
put into an error (its message, the undecodable bytes) is scrubbed of API keys before an
exception carries it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import deque
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._config import Timeout
from ._sse import SSEDecoder
from ._transport import StreamResponse
from .errors import (
    MAX_BODY_KEPT,
    APITimeoutError,
    ClientStateError,
    EventTooLargeError,
    NotFoundError,
    PostHogError,
    StreamDecodeError,
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

# After `complete` the server ends the body at once, but the end of a chunked body usually
# arrives a moment after the last event. Waiting that moment lets the connection go back to
# the pool instead of being dropped; the bound keeps a server that never ends the body from
# holding the caller.
_EOF_GRACE: Final = 0.2
# How much of a server's error message an exception's text shows (``.error`` keeps more).
_MESSAGE_SHOWN: Final = 500


class _WireEvent(msgspec.Struct, gc=False):
    """Every field any known event carries; one decoding pass per event.

    Instances live only until they are turned into a public event and never take part in a
    reference cycle, so the garbage collector need not track them.
    """

    type: str
    dashboard: Dashboard | None = None
    order: int | None = None
    tile: Tile | None = None
    tile_id: int | None = None
    error: Any = None


_decode_wire = msgspec.json.Decoder(_WireEvent).decode
_decode_any = msgspec.json.Decoder().decode
_decode_dashboard = msgspec.json.Decoder(Dashboard).decode
_TOO_DEEP: Final = "its JSON is nested too deeply to decode"
_KNOWN: Final = frozenset({"metadata", "tile", "error", "complete"})
_COMPLETE: Final = CompleteEvent()


class _Fatal(Exception):
    """A fatal ``error`` event (no ``tile_id``): the server gave up on the stream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Malformed(Exception):
    """Event data that is not a stream event: not JSON, not an object with a string
    ``type`` (``kind`` is then ``""``), or a known type without that type's shape."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind!r} event: {detail}")
        self.kind = kind
        self.detail = detail


def _error_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return str(value["message"])
    if value is None:
        return ""
    return msgspec.json.encode(value).decode()


def _not_wire_shaped(data: bytes, exc: msgspec.DecodeError) -> UnknownEvent:
    """The payload did not decode as ``_WireEvent``: an event of a type this version does
    not know (kept as plain data), or else ``_Malformed``."""
    try:
        raw = _decode_any(data)
    except msgspec.DecodeError as bad:
        raise _Malformed("", f"its data is not JSON ({bad})") from None
    except RecursionError:
        raise _Malformed("", _TOO_DEEP) from None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(kind, str):
        raise _Malformed("", "its data is not a JSON object with a string 'type'")
    if kind in _KNOWN:
        raise _Malformed(kind, str(exc))
    return UnknownEvent(type=kind, raw=raw)


def decode_event(data: bytes) -> StreamEvent:
    """Turn one event's data into a typed event.

    A JSON object whose ``type`` this version does not know becomes :class:`UnknownEvent`,
    so that a newer server cannot break an older client. Raises ``_Fatal`` for a fatal
    server error event and ``_Malformed`` for anything else that is not a well-formed event
    (not JSON, not an object with a string ``type``, a known type whose payload does not fit
    it): dropping or passing on such an event would lose a tile without a trace.
    """
    try:
        wire = _decode_wire(data)
    except msgspec.DecodeError as exc:
        return _not_wire_shaped(data, exc)
    except RecursionError:
        raise _Malformed("", _TOO_DEEP) from None
    kind = wire.type
    if kind == "tile":
        tile = wire.tile
        if tile is None:
            raise _Malformed(kind, "it has no 'tile'")
        order = wire.order
        if order is None:
            order = tile.order if tile.order is not None else -1
        return TileEvent(order=order, tile=tile)
    if kind == "metadata":
        if wire.dashboard is None:
            raise _Malformed(kind, "it has no 'dashboard'")
        return MetadataEvent(dashboard=wire.dashboard)
    if kind == "error":
        message = _error_text(wire.error)
        if wire.tile_id is None:
            raise _Fatal(message)
        return TileErrorEvent(tile_id=wire.tile_id, error=message)
    if kind == "complete":
        return _COMPLETE
    try:
        # The typed pass skipped the unknown fields without checking them.
        raw = _decode_any(data)
    except msgspec.DecodeError as bad:
        raise _Malformed(kind, f"its data is not JSON ({bad})") from None
    except RecursionError:
        raise _Malformed(kind, _TOO_DEEP) from None
    return UnknownEvent(type=kind, raw=raw)


def _yx(tile: Tile, size: str) -> tuple[int, int]:
    layout = tile.layout(size)
    if layout is None:
        return (100, 100)
    return (
        layout.y if layout.y is not None else 100,
        layout.x if layout.x is not None else 100,
    )


def order_tiles(tiles: list[Tile], size: str) -> list[Tile]:
    """Tiles in the order the server streams them for a layout size, ``order`` renumbered
    from 0.

    The server sorts by (y, x) of that size, a missing layout or coordinate counting as 100,
    stably over its database order. A retrieve response lists the tiles in that database
    order already sorted by ``sm``, so for ``sm`` ties keep the given order; for any other
    size the database order is unknown and ties are broken by tile id.
    """
    if size == "sm":
        ordered = sorted(tiles, key=lambda t: _yx(t, size))
    else:
        ordered = sorted(tiles, key=lambda t: (*_yx(t, size), t.id))
    return [
        t if t.order == i else msgspec.structs.replace(t, order=i) for i, t in enumerate(ordered)
    ]


def _replay_events(dashboard: Dashboard, size: str) -> deque[StreamEvent]:
    """The event sequence ``stream_tiles`` would have sent for a retrieved dashboard."""
    tiles = order_tiles(dashboard.tiles, size)
    events: deque[StreamEvent] = deque()
    events.append(MetadataEvent(dashboard=msgspec.structs.replace(dashboard, tiles=tiles[:2])))
    events.extend(TileEvent(order=i, tile=t) for i, t in enumerate(tiles[2:], 2))
    events.append(_COMPLETE)
    return events


def _is_json(headers: Any) -> bool:
    media = str(headers.get("Content-Type", "")).split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _exit_soon(loop: asyncio.AbstractEventLoop, cm: AbstractAsyncContextManager[Any]) -> None:
    """Leave a stream's permit + connection context from a finalizer: on its own loop, in a
    task of its own (finalizers may run anywhere, and must not run loop code themselves)."""

    def start() -> None:
        loop.create_task(cm.__aexit__(None, None, None))

    try:
        loop.call_soon_threadsafe(start)
    except RuntimeError:
        # The loop is closed, and the connections and the semaphore went with it.
        pass


class TileStream:
    """The events of one ``stream_tiles`` call: an async context manager and async iterator.

    ``async with ph.dashboards.stream_tiles(12) as stream: async for event in stream: ...``
    Leaving the block (normally, by ``break``, an exception or cancellation) releases the
    connection and the concurrency permit at once; so does the end of the stream (its
    ``complete`` event or any error) when the stream is iterated without ``async with``. A
    stream abandoned open (iterated without ``async with`` and left by ``break`` or an
    exception of the loop's body) is released when it is garbage-collected, with a
    ``ResourceWarning``. One stream has one reader: a second task calling ``__anext__``
    while the first waits raises :class:`ClientStateError`.
    ``fallback_used`` tells whether the events were replayed from a dashboard body instead
    of streamed: from ``GET dashboards/{id}/`` because the server refused the stream, or
    because the stream URL itself answered with the dashboard's JSON.
    """

    def __init__(
        self,
        client: AsyncPostHog,
        dashboard_id: int,
        *,
        layout_size: str = "sm",
        fallback: bool = True,
        timeout: Timeout | None = None,
        params: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._client = client
        self.dashboard_id = dashboard_id
        self.layout_size = layout_size
        self.fallback = fallback
        self._timeout = timeout
        # refresh and the overrides, encoded: sent on the stream and on the fallback GET.
        self._params = list(params)
        self.fallback_used = False
        #: The dashboard of the metadata event, once received.
        self.dashboard: Dashboard | None = None
        #: How many events were yielded so far.
        self.events_received = 0
        # How many tiles the events so far delivered (metadata tiles, tile and tile error
        # events): the `order` the next tile event must carry.
        self._tiles_seen = 0
        # The permit + connection context of AsyncPostHog._stream while the stream is open,
        # and the loop it belongs to (a finalizer releases it there).
        self._cm: AbstractAsyncContextManager[StreamResponse] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resp: StreamResponse | None = None
        self._decoder: SSEDecoder | None = None
        # Payloads the decoder completed that were not handed out yet, and the error that
        # stopped the decoder after them (raised once they are handed out).
        self._pending: deque[bytes] = deque()
        self._deferred: EventTooLargeError | None = None
        # The events of the fallback path, when it ran.
        self._replay: deque[StreamEvent] | None = None
        self._opened = False
        self._done = False
        # A task is inside __anext__ waiting for the server: nobody else may read.
        self._busy = False
        self._collected: list[Tile] | None = None

    def __repr__(self) -> str:
        return (
            f"TileStream(dashboard_id={self.dashboard_id}, layout_size={self.layout_size!r}, "
            f"events_received={self.events_received}, fallback_used={self.fallback_used})"
        )

    def __del__(self) -> None:
        cm = self.__dict__.get("_cm")
        loop = self.__dict__.get("_loop")
        if cm is None or loop is None:
            return
        self._cm = None
        # Release first: with warnings turned into errors the warning raises.
        _exit_soon(loop, cm)
        warnings.warn(
            f"unclosed {self!r}: use 'async with', read it to its end or 'await "
            "stream.aclose()'; its connection and permit are released now",
            ResourceWarning,
            stacklevel=1,
            source=self,
        )

    @property
    def _path(self) -> str:
        return f"dashboards/{self.dashboard_id}/stream_tiles/"

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> TileStream:
        try:
            await self._open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection and the permit (idempotent); iteration then stops."""
        self._done = True
        self._pending.clear()
        self._replay = None
        await self._release()

    async def _release(self) -> None:
        self._resp = None
        self._decoder = None
        cm, self._cm = self._cm, None
        if cm is not None:
            # Closes or pools the connection and returns the permit without suspending, so
            # this completes even in a task that is being cancelled.
            await cm.__aexit__(None, None, None)

    async def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        client = self._client
        cm = client._stream(
            self._path,
            params=[("layout_size", self.layout_size), *self._params],
            accept=STREAM_ACCEPT,
            timeout=self._timeout,
        )
        try:
            resp = await cm.__aenter__()
        except (UnsupportedForApiKeyError, NotFoundError) as refused:
            if not self.fallback:
                raise
            dashboard = await self._fallback_dashboard(refused)
            self.fallback_used = True
            self._replay = _replay_events(dashboard, self.layout_size)
            return
        self._cm = cm
        self._loop = asyncio.get_running_loop()
        if _is_json(resp.headers):
            # We accept JSON too: a server (or a proxy) may answer the stream URL with the
            # dashboard itself. It is served as what it is, the fallback's event sequence.
            try:
                body = await resp.read()
            finally:
                await self._release()
            self._replay = _replay_events(self._dashboard_body(body), self.layout_size)
            self.fallback_used = True
            return
        self._resp = resp
        self._decoder = SSEDecoder(client.max_event_bytes)

    def _dashboard_body(self, body: bytes) -> Dashboard:
        try:
            return _decode_dashboard(body)
        except msgspec.DecodeError as exc:
            detail = f"the JSON answer is not a dashboard ({exc})"
        except RecursionError:
            detail = f"the JSON answer is not a dashboard ({_TOO_DEEP})"
        # Raised outside the handler: the decoder's exception stays out of the chain.
        raise self._undecodable(body, detail, kind=None)

    async def _fallback_dashboard(
        self, refused: UnsupportedForApiKeyError | NotFoundError
    ) -> Dashboard:
        # A 404 means "no such endpoint" only if the dashboard itself exists; otherwise the
        # stream's own 404 is the truthful answer.
        try:
            return await self._client.dashboards._retrieve(
                self.dashboard_id, self._params, self._timeout
            )
        except NotFoundError:
            if isinstance(refused, NotFoundError):
                raise refused from None
            raise

    async def _finish(self) -> None:
        """The ``complete`` event arrived: release everything before it is handed out."""
        self._done = True
        resp = self._resp
        self._busy = True
        try:
            if resp is not None and not resp.body_finished:
                await resp.wait_eof(_EOF_GRACE)
        finally:
            self._busy = False
            await self.aclose()

    # --- iteration ----------------------------------------------------------------------

    def __aiter__(self) -> TileStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._busy:
            raise self._second_reader()
        # Hot path: one payload of the last chunk is decoded, with no further await.
        pending = self._pending
        if not pending:
            replayed = await self._fill()
            if replayed is not None:
                return self._count(replayed)
        data = pending.popleft()
        failure: PostHogError | None
        try:
            event = decode_event(data)
        except (_Fatal, _Malformed) as exc:
            failure = (
                self._fatal(exc.message)
                if isinstance(exc, _Fatal)
                else self._undecodable(data, exc.detail, kind=exc.kind or None)
            )
        else:
            failure = None
        if failure is not None:
            # Raised outside the handler, so that the internal exception (which holds the
            # unscrubbed server text) is not kept as its __context__.
            await self.aclose()
            raise failure
        if type(event) is TileEvent:
            if self.dashboard is None or event.order > self._tiles_seen:
                await self.aclose()
                raise self._out_of_order(data, event.order)
            self._tiles_seen += 1
            self.events_received += 1
            return event
        if type(event) is MetadataEvent:
            if self.dashboard is not None:
                await self.aclose()
                raise self._undecodable(data, "a second 'metadata' event", kind="metadata")
            self.dashboard = event.dashboard
            self._tiles_seen = len(event.dashboard.tiles)
        elif type(event) is TileErrorEvent:
            if self.dashboard is None:
                await self.aclose()
                raise self._undecodable(data, "it came before the 'metadata'", kind="error")
            self._tiles_seen += 1
        elif event is _COMPLETE:
            self.events_received += 1
            await self._finish()
            return event
        self.events_received += 1
        return event

    async def _fill(self) -> StreamEvent | None:
        """Open the stream if needed and read until the decoder completes an event.

        Returns the next event itself on the fallback path, else None with ``_pending``
        filled. Any failure (transport, timeout, oversized event, EOF before ``complete``,
        cancellation, any other exception) releases the connection and the permit before it
        propagates.
        """
        if self._done:
            raise StopAsyncIteration
        self._busy = True
        try:
            if not self._opened:
                await self._open()
            replay = self._replay
            if replay is not None:
                if replay:
                    return replay.popleft()
                self._done = True
                raise StopAsyncIteration
            resp = self._resp
            decoder = self._decoder
            if resp is None or decoder is None:
                raise StopAsyncIteration
            pending = self._pending
            while not pending:
                deferred = self._deferred
                if deferred is not None:
                    self._deferred = None
                    raise deferred
                try:
                    chunk = await resp.readany()
                except Exception as exc:
                    if self._done or self._client.is_closed:
                        # Whatever the closed connection made aiohttp raise.
                        closed = self._closed_while_reading()
                        raise closed from (exc if isinstance(exc, PostHogError) else None)
                    if isinstance(exc, APITimeoutError):
                        raise self._idle_timeout(exc) from exc
                    raise
                if self._done or self._client.is_closed:
                    raise self._closed_while_reading()
                if not chunk:
                    decoder.close()
                    raise self._incomplete()
                try:
                    pending.extend(decoder.feed(chunk))
                except EventTooLargeError as exc:
                    # Events that came before the oversized one are delivered first.
                    completed = decoder.take_completed()
                    if not completed:
                        raise
                    pending.extend(completed)
                    self._deferred = exc
        except BaseException:
            await self.aclose()
            raise
        finally:
            self._busy = False
        return None

    def _count(self, event: StreamEvent) -> StreamEvent:
        self.events_received += 1
        if type(event) is MetadataEvent:
            self.dashboard = event.dashboard
        elif event is _COMPLETE:
            self._done = True
        return event

    # --- errors -------------------------------------------------------------------------

    def _partial(self) -> Dashboard | None:
        """What arrived so far: the metadata dashboard, with every tile received when
        collecting (while iterating, tiles were handed to the caller and are not kept)."""
        if self.dashboard is None:
            return None
        if self._collected is None:
            return self.dashboard
        return msgspec.structs.replace(self.dashboard, tiles=list(self._collected))

    def _scrub(self, text: str) -> str:
        """Server-provided text as an exception may show it: no API key in it."""
        return self._client._scrub_text(text)

    def _fatal(self, message: str) -> StreamError:
        message = self._scrub(message[:MAX_BODY_KEPT])
        shown = message if len(message) <= _MESSAGE_SHOWN else message[:_MESSAGE_SHOWN] + "…"
        return StreamError(
            f"dashboard {self.dashboard_id}: the server ended the stream with an error: "
            f"{shown or '(no message)'}",
            error=message,
            received=self._partial(),
        )

    def _undecodable(self, data: bytes, detail: str, *, kind: str | None) -> StreamDecodeError:
        what = f"a {kind!r} event" if kind else "an event"
        # Scrubbed before it is cut, so that no key is cut in half and half of it kept.
        raw = self._client._scrubbed(data[: MAX_BODY_KEPT + 512])[:MAX_BODY_KEPT]
        return StreamDecodeError(
            f"dashboard {self.dashboard_id}: {what} could not be decoded: "
            f"{self._scrub(detail[:_MESSAGE_SHOWN])} ({len(data)} bytes, after "
            f"{self.events_received} events)",
            raw=raw,
            event_type=kind,
            events_received=self.events_received,
            received=self._partial(),
        )

    def _out_of_order(self, data: bytes, order: int) -> PostHogError:
        if self.dashboard is None:
            return self._undecodable(data, "it came before the 'metadata'", kind="tile")
        seen = self._tiles_seen
        return StreamIncompleteError(
            f"dashboard {self.dashboard_id}: the server sent the tile of order {order} "
            f"after {seen} tiles: tiles {seen}..{order - 1} never arrived "
            f"({self.events_received} events received)",
            received=self._partial(),
        )

    def _second_reader(self) -> ClientStateError:
        return ClientStateError(
            f"{self!r} is already being read by another task: a TileStream has one reader "
            "(AsyncPostHog(coalesce=True) shares one upstream stream between callers)"
        )

    def _closed_while_reading(self) -> ClientStateError:
        what = "the client was closed" if self._client.is_closed else "aclose() was called"
        return ClientStateError(
            f"dashboard {self.dashboard_id}: {what} while the tile stream was being read "
            f"({self.events_received} events received)"
        )

    def _incomplete(self) -> StreamIncompleteError:
        return StreamIncompleteError(
            f"dashboard {self.dashboard_id}: the stream ended before its 'complete' event "
            f"({self.events_received} events received)",
            received=self._partial(),
        )

    def _idle_timeout(self, exc: APITimeoutError) -> APITimeoutError:
        idle = (self._timeout or self._client.timeout).stream_idle
        return APITimeoutError(
            f"dashboard {self.dashboard_id}: no data from the server for {idle} s "
            f"(Timeout.stream_idle) after {self.events_received} events",
            method=exc.method,
            url=exc.url,
        )

    # --- whole dashboard ----------------------------------------------------------------

    async def collect(self) -> Dashboard:
        """Read the whole stream and return the dashboard with every tile, in stream order.

        A tile the server failed to serialize is kept in place as a :class:`Tile` with only
        ``id`` and ``error`` set. Raises :class:`StreamError` (:class:`StreamDecodeError`
        for an event that does not decode) / :class:`StreamIncompleteError` (also when a
        tile ``order`` shows that tiles were skipped), whose ``received`` holds the
        dashboard as far as it arrived: never fewer tiles than the server sent.
        """
        if self.events_received or self._done:
            raise ClientStateError("collect() needs a TileStream whose events were not read yet")
        tiles: list[Tile] = []
        self._collected = tiles
        append = tiles.append
        async with self:
            async for event in self:
                if type(event) is TileEvent:
                    append(event.tile)
                elif type(event) is MetadataEvent:
                    tiles.extend(event.dashboard.tiles)
                elif type(event) is TileErrorEvent:
                    append(Tile(id=event.tile_id, error=TileErrorInfo(message=event.error)))
        if self.dashboard is None:
            raise StreamIncompleteError(
                f"dashboard {self.dashboard_id}: the stream carried no metadata event",
                received=None,
            )
        return msgspec.structs.replace(self.dashboard, tiles=tiles)
