"""One upstream tile stream, many consumers.

Concurrent ``stream_tiles`` calls of one client for the same dashboard with the same
parameters share one upstream :class:`~posthog_dash_async.TileStream`. A pump task reads it
and records what it yields: every event (as its encoded bytes) and, at the end, how it
ended (normally after ``complete``, or with an exception). Each consumer is a
:class:`SharedTileStream` with a cursor into that record: a consumer that joins late first
receives the events already seen, in order, then the live ones, so every consumer sees
exactly the sequence a lone consumer would have seen, errors included. Each consumer
decodes its own events from the recorded bytes, so nobody sees another consumer's models.

Consumers can leave at any time; when the last one leaves, the pump is cancelled and the
upstream stream (its connection and its concurrency permit) is released. Once the upstream
has ended, new calls open a fresh stream: only streams that overlap in time are shared.

Memory stays bounded: consumers may join while the record is under ``REPLAY_LIMIT`` bytes
(the start of the stream); past that, new callers get a stream of their own, and events that
every consumer has read are dropped. The pump stops reading while the slowest consumer has
``BACKLOG_LIMIT`` events unread, so a slow consumer holds the upstream back as a lone one
would. Once nobody can join and one consumer is left, events pass through without a copy.
"""

from __future__ import annotations

import asyncio
import copy
import warnings
import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._streaming import TileStream
from .errors import ClientStateError, StreamError, StreamIncompleteError
from .models import (
    CompleteEvent,
    Dashboard,
    MetadataEvent,
    StreamEvent,
    Tile,
    TileErrorEvent,
    TileErrorInfo,
    TileEvent,
)

if TYPE_CHECKING:
    from ._client import AsyncPostHog

__all__ = ["SharedTileStream", "StreamHub", "share_stream", "stream_key"]

_encode = msgspec.json.Encoder().encode
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = _DECODERS[kind] = msgspec.json.Decoder(kind)
    return decoder


#: While the events recorded so far fit in this many bytes, a new consumer may join and be
#: replayed everything from the start; past it, new callers open a stream of their own and
#: what every consumer has read is dropped.
REPLAY_LIMIT: Final = 1 << 20
#: The pump stops reading while the slowest consumer has this many events unread, so a
#: slow consumer holds back the upstream (as a lone one would) instead of memory growing.
BACKLOG_LIMIT: Final = 8


class _Upstream:
    """The one real stream of a key, the pump reading it, and the record of its events."""

    def __init__(self, hub: StreamHub, key: Hashable, stream: TileStream) -> None:
        self.hub = hub
        self.key = key
        self.stream = stream
        # Entries from absolute index `base` on: (event class, encoded event or None, the
        # event itself when it can only ever go to the one consumer left).
        self.events: list[tuple[type[Any], bytes | None, StreamEvent | None]] = []
        self.base = 0
        self.recorded_bytes = 0
        self.joinable = True
        #: How the upstream ended: None for a normal end, else the exception.
        self.outcome: BaseException | None = None
        self.ended = False
        self.opened = False
        self.open_error: BaseException | None = None
        self.fallback_used = False
        # Consumer token -> absolute index of its next event; consumers are not referenced,
        # so one that is dropped unclosed can be garbage-collected (and then leaves).
        self.cursors: dict[int, int] = {}
        self._next_token = 0
        self._changed = asyncio.Event()
        self._consumed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def end_index(self) -> int:
        return self.base + len(self.events)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._pump())

    def join(self) -> int:
        token = self._next_token
        self._next_token += 1
        self.cursors[token] = 0
        return token

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self) -> None:
        await self._changed.wait()

    def advanced(self, token: int, cursor: int) -> None:
        """A consumer has read up to ``cursor``; drop what nobody needs any more."""
        self.cursors[token] = cursor
        if not self.joinable:
            self._trim()
        self._consumed.set()

    def _trim(self) -> None:
        low = min(self.cursors.values(), default=self.end_index)
        drop = low - self.base
        if drop > 0:
            del self.events[:drop]
            self.base = low

    def _backlogged(self) -> bool:
        if not self.cursors:
            return False
        return self.end_index - min(self.cursors.values()) >= BACKLOG_LIMIT

    async def _pump(self) -> None:
        stream = self.stream
        try:
            try:
                await stream.__aenter__()
            except BaseException as exc:
                self.open_error = exc
                raise
            self.opened = True
            self.fallback_used = stream.fallback_used
            self._notify()
            async for event in stream:
                kind = type(event)
                if self.joinable or len(self.cursors) > 1:
                    data = _encode(event)
                    self.events.append((kind, data, None))
                    self.recorded_bytes += len(data)
                    if self.joinable and self.recorded_bytes > REPLAY_LIMIT:
                        # From now on only the consumers already here share this stream.
                        self.joinable = False
                        self.hub._forget(self)
                        self._trim()
                else:
                    # Nobody can join and one consumer is left: it gets the event itself.
                    self.events.append((kind, None, event))
                self._notify()
                while self._backlogged():
                    self._consumed.clear()
                    await self._consumed.wait()
        except asyncio.CancelledError:
            # Only the hub cancels the pump (when the last consumer left).
            raise
        except BaseException as exc:
            self.outcome = exc
        finally:
            self.ended = True
            self.hub._forget(self)
            try:
                await stream.aclose()
            finally:
                self._notify()

    def leave(self, token: int) -> asyncio.Task[None] | None:
        """A consumer is gone; returns the pump when it was the last one and still runs."""
        if self.cursors.pop(token, None) is None:
            return None
        if self.cursors:
            if not self.joinable:
                self._trim()
            self._consumed.set()
            return None
        self.hub._forget(self)
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            return task
        return None


def _left_unclosed(loop: asyncio.AbstractEventLoop, upstream: _Upstream, token: int) -> None:
    """A consumer was garbage-collected without being closed (``async for`` left by
    ``break`` without ``async with``): detach it from the loop's own thread."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(upstream.leave, token)
    warnings.warn(
        "a shared tile stream was left open without being closed; use `async with`",
        ResourceWarning,
        stacklevel=1,
    )


def stream_key(stream: TileStream) -> Hashable:
    """What makes two unopened streams the same request: the dashboard, the layout size,
    the fallback switch, the per-call timeout and the encoded query parameters (refresh and
    the overrides). Built from the request's settings only, so a new piece of a stream's
    internal state can never make two identical requests look different."""
    return (
        stream.dashboard_id,
        stream.layout_size,
        stream.fallback,
        stream._timeout,
        tuple(stream._params),
    )


class StreamHub:
    """The upstream streams of one client that consumers may still join, by key."""

    def __init__(self) -> None:
        self._live: dict[Hashable, _Upstream] = {}

    @property
    def upstreams(self) -> int:
        """Upstream streams open (or opening) right now."""
        return len(self._live)

    def share(self, key: Hashable, stream: TileStream) -> SharedTileStream:
        """A consumer of the upstream stream for ``key``. ``stream`` (not opened yet) is
        the one opened when no upstream for ``key`` runs by the time the consumer starts;
        otherwise it is never used."""
        return SharedTileStream(self, key, stream)

    def _join(self, key: Hashable, stream: TileStream) -> _Upstream:
        upstream = self._live.get(key)
        if upstream is None:
            upstream = _Upstream(self, key, stream)
            self._live[key] = upstream
            upstream.start()
        return upstream

    def _forget(self, upstream: _Upstream) -> None:
        if self._live.get(upstream.key) is upstream:
            del self._live[upstream.key]


def _own(exc: BaseException) -> BaseException:
    try:
        dup = copy.copy(exc)
    except Exception:  # not copyable: shared as is
        return exc
    dup.__cause__ = exc.__cause__
    dup.__suppress_context__ = exc.__suppress_context__
    return dup.with_traceback(exc.__traceback__)


class SharedTileStream(TileStream):
    """One consumer of a shared tile stream; used exactly like :class:`TileStream`.

    ``async with`` it and ``async for`` over its events, or ``await stream.collect()``.
    Leaving (``break``, an exception, cancellation, :meth:`aclose`) only detaches this
    consumer; the upstream connection closes when the last consumer leaves.
    """

    def __init__(self, hub: StreamHub, key: Hashable, stream: TileStream) -> None:
        # The attributes TileStream's users read; the reading itself happens upstream.
        self._hub = hub
        self._key = key
        self._stream = stream
        self._upstream: _Upstream | None = None
        self._token = -1
        self._cursor = 0
        self._shared_done = False
        self._tiles: list[Tile] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._client = stream._client
        self.dashboard_id = stream.dashboard_id
        self.layout_size = stream.layout_size
        self.fallback = stream.fallback
        self.fallback_used = False
        self.dashboard: Dashboard | None = None
        self.events_received = 0
        self._reader: asyncio.Task[Any] | None = None  # the task inside __anext__

    def __repr__(self) -> str:
        return (
            f"SharedTileStream(dashboard_id={self.dashboard_id}, "
            f"layout_size={self.layout_size!r}, events_received={self.events_received}, "
            f"fallback_used={self.fallback_used})"
        )

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> SharedTileStream:
        try:
            await self._attach()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Detach this consumer (idempotent); the last one to leave closes the upstream."""
        self._shared_done = True
        upstream, self._upstream = self._upstream, None
        if upstream is None:
            return
        if self._finalizer is not None:
            self._finalizer.detach()
        pump = upstream.leave(self._token)
        if pump is not None:
            # Let the upstream release its connection and permit before returning; if this
            # task is itself being cancelled the pump still finishes on its own.
            await asyncio.wait([pump])

    async def _attach(self) -> _Upstream:
        upstream = self._upstream
        if upstream is not None:
            return upstream
        if self._shared_done:
            raise StopAsyncIteration
        upstream = self._hub._join(self._key, self._stream)
        self._upstream = upstream
        self._token = upstream.join()
        self._finalizer = weakref.finalize(
            self, _left_unclosed, asyncio.get_running_loop(), upstream, self._token
        )
        while not upstream.opened:
            if upstream.open_error is not None:
                raise _own(upstream.open_error)
            if upstream.ended:
                raise ClientStateError("the shared tile stream closed before it opened")
            await upstream.wait_change()
        self.fallback_used = upstream.fallback_used
        return upstream

    # --- iteration ----------------------------------------------------------------------

    def __aiter__(self) -> SharedTileStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._shared_done:
            raise StopAsyncIteration
        if self._reader is not None:
            raise self._second_reader()
        self._reader = asyncio.current_task()
        try:
            return await self._next()
        finally:
            self._reader = None

    async def _next(self) -> StreamEvent:
        try:
            upstream = await self._attach()
            while self._cursor >= upstream.end_index:
                if upstream.ended:
                    outcome = upstream.outcome
                    if outcome is None:
                        raise StopAsyncIteration
                    raise self._rebuilt(outcome)
                await upstream.wait_change()
            kind, data, event = upstream.events[self._cursor - upstream.base]
            self._cursor += 1
            upstream.advanced(self._token, self._cursor)
            if event is None:
                assert data is not None
                event = _decoder(kind).decode(data)
        except BaseException:
            await self.aclose()
            raise
        self.events_received += 1
        if kind is MetadataEvent:
            assert isinstance(event, MetadataEvent)
            self.dashboard = event.dashboard
        elif kind is CompleteEvent:
            await self.aclose()
        return event

    def _rebuilt(self, outcome: BaseException) -> BaseException:
        """This consumer's copy of how the upstream ended, with ``received`` as a lone
        consumer would have it (its own metadata dashboard, plus its tiles when collecting)."""
        exc = _own(outcome)
        if isinstance(exc, (StreamError, StreamIncompleteError)) and exc is not outcome:
            exc.received = self._partial_received()
        return exc

    def _partial_received(self) -> Dashboard | None:
        if self.dashboard is None:
            return None
        if self._tiles is None:
            return self.dashboard
        return msgspec.structs.replace(self.dashboard, tiles=list(self._tiles))

    # --- whole dashboard ----------------------------------------------------------------

    async def collect(self) -> Dashboard:
        """Read the whole stream and return the dashboard with every tile, in stream order
        (see :meth:`TileStream.collect`)."""
        if self.events_received or self._shared_done:
            raise ClientStateError("collect() needs a TileStream whose events were not read yet")
        tiles: list[Tile] = []
        self._tiles = tiles
        async with self:
            async for event in self:
                if type(event) is TileEvent:
                    tiles.append(event.tile)
                elif type(event) is MetadataEvent:
                    tiles.extend(event.dashboard.tiles)
                elif type(event) is TileErrorEvent:
                    tiles.append(Tile(id=event.tile_id, error=TileErrorInfo(message=event.error)))
        if self.dashboard is None:
            raise StreamIncompleteError(
                f"dashboard {self.dashboard_id}: the stream carried no metadata event",
                received=None,
            )
        return msgspec.structs.replace(self.dashboard, tiles=tiles)


def share_stream(client: AsyncPostHog, stream: TileStream) -> TileStream:
    """``stream`` itself, or a consumer of the shared upstream for its settings when the
    client coalesces."""
    hub = client._stream_hub
    if hub is None:
        return stream
    return hub.share(stream_key(stream), stream)
