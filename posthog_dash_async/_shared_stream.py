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
The record holds one dashboard's events, the same bound the stream itself has.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Hashable
from types import TracebackType
from typing import TYPE_CHECKING, Any

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


class _Upstream:
    """The one real stream of a key, the pump reading it, and the record of its events."""

    def __init__(self, hub: StreamHub, key: Hashable, stream: TileStream) -> None:
        self.hub = hub
        self.key = key
        self.stream = stream
        # (event class, encoded event), in the order the upstream yielded them.
        self.events: list[tuple[type[Any], bytes]] = []
        #: How the upstream ended: None while it runs, else the exception (None-like
        #: sentinel ``_ENDED`` for a normal end).
        self.outcome: BaseException | None = None
        self.ended = False
        self.opened = False
        self.open_error: BaseException | None = None
        self.consumers = 0
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._pump())

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self) -> None:
        await self._changed.wait()

    async def _pump(self) -> None:
        stream = self.stream
        try:
            try:
                await stream.__aenter__()
            except BaseException as exc:
                self.open_error = exc
                raise
            self.opened = True
            self._notify()
            async for event in stream:
                self.events.append((type(event), _encode(event)))
                self._notify()
        except asyncio.CancelledError:
            # Only the hub cancels the pump (when the last consumer left).
            self.outcome = None
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

    def leave(self) -> asyncio.Task[None] | None:
        """One consumer is gone; returns the pump when it was the last one and still runs."""
        self.consumers -= 1
        if self.consumers > 0:
            return None
        self.hub._forget(self)
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            return task
        return None


def stream_key(stream: TileStream) -> Hashable | None:
    """What makes two unopened streams the same request: every setting of a fresh
    :class:`TileStream` (dashboard, layout size, fallback, timeout, overrides, ...) but its
    client. ``None`` when a setting cannot be compared (the stream is then not shared)."""
    try:
        settings = {k: v for k, v in vars(stream).items() if k != "_client"}
        return _encode(sorted(settings.items()))
    except (TypeError, msgspec.EncodeError):
        return None


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
        upstream.consumers += 1
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
        self._cursor = 0
        self._shared_done = False
        self._tiles: list[Tile] | None = None
        self._client = stream._client
        self.dashboard_id = stream.dashboard_id
        self.layout_size = stream.layout_size
        self.fallback = stream.fallback
        self.fallback_used = False
        self.dashboard: Dashboard | None = None
        self.events_received = 0

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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Detach this consumer (idempotent); the last one to leave closes the upstream."""
        self._shared_done = True
        upstream, self._upstream = self._upstream, None
        if upstream is None:
            return
        pump = upstream.leave()
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
        while not upstream.opened:
            if upstream.open_error is not None:
                raise _own(upstream.open_error)
            if upstream.ended:
                raise ClientStateError("the shared tile stream closed before it opened")
            await upstream.wait_change()
        self.fallback_used = upstream.stream.fallback_used
        return upstream

    # --- iteration ----------------------------------------------------------------------

    def __aiter__(self) -> SharedTileStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._shared_done:
            raise StopAsyncIteration
        try:
            upstream = await self._attach()
            while self._cursor >= len(upstream.events):
                if upstream.ended:
                    outcome = upstream.outcome
                    if outcome is None:
                        raise StopAsyncIteration
                    raise self._rebuilt(outcome)
                await upstream.wait_change()
            kind, data = upstream.events[self._cursor]
            self._cursor += 1
            event: StreamEvent = _decoder(kind).decode(data)
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
    key = stream_key(stream)
    if key is None:
        return stream
    return hub.share(key, stream)
