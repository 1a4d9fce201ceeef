"""``stream_tiles`` / TileStream over real loopback sockets: framing, typed events, outcomes,
lifecycle (the connection and the concurrency permit are given back at once), fallback."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from conftest import fixture_bytes
from test_streaming_support import (
    API,
    API_KEY,
    COMPLETE,
    StreamServer,
    dashboard,
    dumps,
    sse,
    stream_of,
    text_tile,
)

import posthog_dash_async as pda
from posthog_dash_async._streaming import _Fatal, _Malformed, decode_event, order_tiles
from posthog_dash_async.models import (
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

TRANSCRIPT = fixture_bytes("stream_tiles_transcript.sse")
# Long enough for a released permit to be picked up, far shorter than any timeout involved.
PROMPT = 1.0


@pytest.fixture
def _no_resource_leaks() -> Iterator[None]:
    yield
    # Whatever the test left unclosed reports itself here, attributed to this test.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks


@pytest.fixture
async def server(_no_resource_leaks: None) -> AsyncIterator[StreamServer]:
    srv = StreamServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.fixture
async def debug_loop() -> None:
    """Debug mode makes aiohttp report a response that is garbage-collected unclosed (it is
    slow, so only the lifecycle tests use it)."""
    asyncio.get_running_loop().set_debug(True)


def meta(dashboard_id: int, tiles: list[dict[str, Any]]) -> bytes:
    return sse({"type": "metadata", "dashboard": dashboard(dashboard_id, tiles)})


def tile_event(tile_id: int, order: int, **options: Any) -> bytes:
    return sse({"type": "tile", "order": order, "tile": text_tile(tile_id, order=order, **options)})


HEAD = [meta(1, [text_tile(11, order=0), text_tile(12, order=1)])]


def check_transcript(events: list[StreamEvent]) -> None:
    assert [type(e) for e in events] == [MetadataEvent, TileEvent, TileErrorEvent, CompleteEvent]
    first, second, third, _ = events
    assert isinstance(first, MetadataEvent)
    assert first.dashboard.id == 412
    assert first.dashboard.name == "Growth overview"
    assert [t.id for t in first.dashboard.tiles] == [9001, 9002]
    assert isinstance(second, TileEvent)
    assert second.order == 2
    assert second.tile.id == 9003
    assert second.tile.text is not None
    assert isinstance(third, TileErrorEvent)
    assert third.tile_id == 9004
    assert third.error.startswith("Query exceeded the maximum execution time")


async def consume(
    stream: pda.TileStream, into: list[StreamEvent] | None = None, *, block: bool = False
) -> None:
    """Iterate ``stream`` to its end (inside ``async with`` when ``block``), keeping the
    events in ``into``."""
    if block:
        async with stream:
            await consume(stream, into)
        return
    async for event in stream:
        if into is not None:
            into.append(event)


async def get_promptly(ph: pda.AsyncPostHog, server: StreamServer, dashboard_id: int = 1) -> None:
    """A plain request completes at once: the stream gave back its permit (and connection)."""
    server.dashboards.setdefault(dashboard_id, dashboard(dashboard_id, []))
    got = await asyncio.wait_for(ph.dashboards.get(dashboard_id), PROMPT)
    assert got.id == dashboard_id


# --- framing: the fixture transcript and its variants --------------------------------------


async def test_fixture_transcript_served_byte_for_byte(server: StreamServer) -> None:
    server.serve([TRANSCRIPT])
    async with server.client() as ph, ph.dashboards.stream_tiles(412) as stream:
        events = [event async for event in stream]
    check_transcript(events)
    assert stream.events_received == 4
    assert not stream.fallback_used
    assert stream.dashboard is not None
    assert stream.dashboard.id == 412
    (seen,) = server.seen
    assert seen.path == f"{API}/dashboards/412/stream_tiles/"
    assert seen.query == {"layout_size": "sm"}
    assert seen.headers["Accept"] == "text/event-stream, application/json"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("piece", [3, 100, 4096])
async def test_fixture_transcript_in_small_writes(server: StreamServer, piece: int) -> None:
    server.serve([TRANSCRIPT], piece=piece)
    async with server.client() as ph:
        events = [event async for event in ph.dashboards.stream_tiles(412)]
    check_transcript(events)
    expected = [decode_event(line[6:]) for line in TRANSCRIPT.split(b"\n") if line]
    assert events == expected


async def test_crlf_framing_bom_comments_and_other_fields_end_to_end(
    server: StreamServer,
) -> None:
    decorated = TRANSCRIPT.replace(b"\n", b"\r\n").replace(
        b"data: ", b": keep-alive\r\nevent: message\r\nid: 7\r\nretry: 1000\r\ndata: "
    )
    body = b"\xef\xbb\xbf: stream opened\r\n\r\n" + decorated
    server.serve([body], piece=97)
    async with server.client() as ph:
        events = [event async for event in ph.dashboards.stream_tiles(412)]
    check_transcript(events)


async def test_collect_fixture_keeps_failed_tile_in_place(server: StreamServer) -> None:
    server.serve([TRANSCRIPT])
    async with server.client() as ph:
        stream = ph.dashboards.stream_tiles(412)
        result = await stream.collect()
        with pytest.raises(pda.ClientStateError):
            await stream.collect()
    assert isinstance(result, Dashboard)
    assert result.name == "Growth overview"
    assert [t.id for t in result.tiles] == [9001, 9002, 9003, 9004]
    message = "Query exceeded the maximum execution time while computing insight 'Revenue by plan'."
    assert result.tiles[3] == Tile(id=9004, error=TileErrorInfo(message=message))
    assert result.tiles[3].kind == "error"
    assert [t.order for t in result.tiles[:3]] == [0, 1, 2]


async def test_events_are_yielded_as_their_bytes_arrive(server: StreamServer) -> None:
    # The server sends the rest only once the client has handed out the first event; a
    # client that waited for more bytes would deadlock here.
    first_seen = asyncio.Event()
    rest = [tile_event(13, 2), COMPLETE]

    async def gated(request: web.Request) -> web.StreamResponse:
        response = await server.open_sse(request)
        await response.write(HEAD[0])
        await asyncio.wait_for(first_seen.wait(), 5.0)
        for part in rest:
            await response.write(part)
        await response.write_eof()
        return response

    server.stream = gated
    async with server.client() as ph, ph.dashboards.stream_tiles(1) as stream:
        started = time.perf_counter()
        first = await stream.__anext__()
        time_to_first = time.perf_counter() - started
        first_seen.set()
        others = [event async for event in stream]
    assert isinstance(first, MetadataEvent)
    assert time_to_first < 1.0
    assert [type(e) for e in others] == [TileEvent, CompleteEvent]


# --- typed events ---------------------------------------------------------------------------


async def test_unknown_event_type_is_yielded_and_the_stream_goes_on(
    server: StreamServer,
) -> None:
    server.serve([*HEAD, sse({"type": "progress", "done": 1}), tile_event(13, 2), COMPLETE])
    async with server.client() as ph:
        events = [event async for event in ph.dashboards.stream_tiles(1)]
    assert [type(e) for e in events] == [MetadataEvent, UnknownEvent, TileEvent, CompleteEvent]
    assert events[1] == UnknownEvent(type="progress", raw={"type": "progress", "done": 1})


async def test_metadata_tile_with_an_error_object_decodes(server: StreamServer) -> None:
    failed = {"id": 7, "error": {"type": "ValidationError", "message": "bad query"}}
    server.serve([meta(1, [failed, text_tile(8, order=1)]), tile_event(9, 2), COMPLETE])
    async with server.client() as ph:
        result = await ph.dashboards.stream_tiles(1).collect()
    assert [t.id for t in result.tiles] == [7, 8, 9]
    assert result.tiles[0].error == TileErrorInfo(type="ValidationError", message="bad query")
    assert result.tiles[0].kind == "error"
    assert result.tiles[0].insight is None
    assert result.tiles[0].text is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"type":"complete"}', CompleteEvent()),
        (
            b'{"type":"tile","tile":{"id":5,"order":4}}',
            TileEvent(order=4, tile=Tile(id=5, order=4)),
        ),
        (b'{"type":"error","tile_id":5,"error":"boom"}', TileErrorEvent(tile_id=5, error="boom")),
        (
            b'{"type":"error","tile_id":5,"error":{"type":"E","message":"boom"}}',
            TileErrorEvent(tile_id=5, error="boom"),
        ),
        (
            b'{"type":"ping","order":"soon"}',
            UnknownEvent(type="ping", raw={"type": "ping", "order": "soon"}),
        ),
    ],
)
def test_decode_event(data: bytes, expected: StreamEvent) -> None:
    assert decode_event(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"tile","order":2,"tile":{"id":"not an int"}}',
        b'{"type":"tile","order":2}',
        b'{"type":"metadata"}',
        b'{"type":"metadata","dashboard":[]}',
        b'{"type":"tile","order":2,"tile":"a string"}',
    ],
)
def test_decode_event_refuses_a_known_type_with_a_broken_shape(data: bytes) -> None:
    with pytest.raises(_Malformed):
        decode_event(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"kind":"tile"}',
        b'{"type":7}',
        b"[1,2]",
        b'"tile"',
        b"not json",
        b'{"type":"tile","order":2,"tile":{"id":5}',
        b'{"type":"ping","note":"a\x01b"}',
        b'{"type":"ping","note":"\xff"}',
        b"",
    ],
    ids=[
        "no_type",
        "type_not_a_string",
        "array",
        "string",
        "not_json",
        "truncated",
        "raw_control_character",
        "invalid_utf8",
        "empty",
    ],
)
def test_decode_event_refuses_what_is_not_a_well_formed_event(data: bytes) -> None:
    # Only well-formed JSON of an unknown type is an UnknownEvent; anything else would be
    # passed on as a shrug and lose whatever the server meant.
    with pytest.raises(_Malformed) as info:
        decode_event(data)
    assert info.value.kind in ("", "ping")


def test_decode_event_fatal_error() -> None:
    with pytest.raises(_Fatal) as info:
        decode_event(b'{"type":"error","error":"Dashboard computation failed"}')
    assert info.value.message == "Dashboard computation failed"


async def test_malformed_tile_event_raises_and_releases(server: StreamServer) -> None:
    broken = sse({"type": "tile", "order": 2, "tile": {"id": "x"}})
    server.serve([*HEAD, broken], then="stall")
    async with server.client(max_concurrency=1) as ph:
        with pytest.raises(pda.StreamDecodeError, match="'tile' event could not be decoded"):
            async for _ in ph.dashboards.stream_tiles(1):
                pass
        await get_promptly(ph, server)


# --- outcomes -------------------------------------------------------------------------------


async def test_fatal_error_event_raises_stream_error(server: StreamServer) -> None:
    fatal = sse({"type": "error", "error": "Dashboard computation failed"})
    server.serve([*HEAD, tile_event(13, 2), fatal], then="stall")
    async with server.client(max_concurrency=1) as ph:
        stream = ph.dashboards.stream_tiles(1)
        seen: list[StreamEvent] = []
        with pytest.raises(pda.StreamError) as info:
            await consume(stream, seen)
        assert [type(e) for e in seen] == [MetadataEvent, TileEvent]
        assert info.value.error == "Dashboard computation failed"
        assert "Dashboard computation failed" in str(info.value)
        assert isinstance(info.value.received, Dashboard)
        assert info.value.received.id == 1
        await get_promptly(ph, server)

        with pytest.raises(pda.StreamError) as collected:
            await ph.dashboards.stream_tiles(1).collect()
        received = collected.value.received
        assert isinstance(received, Dashboard)
        assert [t.id for t in received.tiles] == [11, 12, 13]
        await get_promptly(ph, server)


async def test_eof_before_complete_raises_incomplete(server: StreamServer) -> None:
    server.serve([*HEAD, tile_event(13, 2)])
    async with server.client(max_concurrency=1) as ph:
        with pytest.raises(pda.StreamIncompleteError) as info:
            async for _ in ph.dashboards.stream_tiles(1):
                pass
        assert isinstance(info.value.received, Dashboard)
        assert info.value.received.id == 1
        assert "2 events received" in str(info.value)
        await get_promptly(ph, server)

        with pytest.raises(pda.StreamIncompleteError) as collected:
            await ph.dashboards.stream_tiles(1).collect()
        received = collected.value.received
        assert isinstance(received, Dashboard)
        assert [t.id for t in received.tiles] == [11, 12, 13]


async def test_connection_dropped_mid_body_raises_connection_error(
    server: StreamServer,
) -> None:
    # Not a clean end of the body: a transport failure, reported as such.
    server.serve([*HEAD, tile_event(13, 2)], delay=0.05, then="drop")
    async with server.client(max_concurrency=1) as ph:
        stream = ph.dashboards.stream_tiles(1)
        seen: list[StreamEvent] = []
        with pytest.raises(pda.APIConnectionError) as info:
            await consume(stream, seen)
        assert not isinstance(info.value, pda.APITimeoutError)
        assert [type(e) for e in seen] == [MetadataEvent, TileEvent]
        await get_promptly(ph, server)


async def test_empty_body_raises_incomplete(server: StreamServer) -> None:
    server.serve([])
    async with server.client() as ph:
        with pytest.raises(pda.StreamIncompleteError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert info.value.received is None or info.value.received == []


@pytest.mark.usefixtures("debug_loop")
async def test_event_over_max_event_bytes_raises_and_releases(server: StreamServer) -> None:
    big = tile_event(13, 2, body="x" * 65536)
    server.serve_forever([*HEAD, big])
    async with server.client(max_concurrency=1, max_event_bytes=4096) as ph:
        seen: list[StreamEvent] = []
        with pytest.raises(pda.EventTooLargeError) as info:
            await consume(ph.dashboards.stream_tiles(1), seen, block=True)
        assert info.value.limit == 4096
        # Events completed in the same chunk as the oversized one may be dropped with it.
        assert [type(e) for e in seen] in ([], [MetadataEvent])
        await get_promptly(ph, server)
        # The server notices the connection went away.
        await asyncio.wait_for(server.stream_finished.wait(), 2.0)


@pytest.mark.parametrize("silent_from", ["after_metadata", "before_any_byte"])
async def test_no_data_within_stream_idle_raises_timeout(
    server: StreamServer, silent_from: str
) -> None:
    server.serve(HEAD if silent_from == "after_metadata" else [], then="stall")
    async with server.client(max_concurrency=1, timeout=pda.Timeout(stream_idle=0.3)) as ph:
        started = time.perf_counter()
        with pytest.raises(pda.APITimeoutError) as info:
            async for _ in ph.dashboards.stream_tiles(1):
                pass
        elapsed = time.perf_counter() - started
        assert isinstance(info.value, pda.PostHogError)
        assert 0.25 < elapsed < 2.0
        if silent_from == "after_metadata":
            assert "Timeout.stream_idle" in str(info.value)
        await get_promptly(ph, server)


async def test_slow_but_steady_stream_outlives_read_and_total(server: StreamServer) -> None:
    detail = dashboard(1, [text_tile(i, sm=(0, i)) for i in range(1, 13)])
    server.serve(stream_of(detail), delay=0.1)
    timeout = pda.Timeout(connect=2.0, read=0.2, total=0.2, stream_idle=1.0)
    async with server.client(timeout=timeout) as ph:
        started = time.perf_counter()
        result = await ph.dashboards.stream_tiles(1).collect()
        assert time.perf_counter() - started > 0.6
    assert [t.id for t in result.tiles] == list(range(1, 13))


_AUTH_FAILED = {
    "type": "authentication_error",
    "code": "authentication_failed",
    "detail": "Personal API key found in request Authorization header is invalid.",
    "attr": None,
}
_MISSING_SCOPE = {
    "type": "authentication_error",
    "code": "permission_denied",
    "detail": "API key missing required scope 'dashboard:read'",
    "attr": None,
}
_UNSUPPORTED = {
    "type": "authentication_error",
    "code": "permission_denied",
    "detail": "This action does not support personal API key access",
    "attr": None,
}
_NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
_THROTTLED = {
    "type": "throttled_error",
    "code": "throttled",
    "detail": "Request was throttled. Expected available in 3 seconds.",
    "attr": None,
}


@pytest.mark.parametrize(
    ("status", "body", "fallback", "error"),
    [
        (401, _AUTH_FAILED, True, pda.AuthenticationError),
        (403, _MISSING_SCOPE, True, pda.MissingScopeError),
        (403, _UNSUPPORTED, False, pda.UnsupportedForApiKeyError),
        (404, _NOT_FOUND, False, pda.NotFoundError),
        (429, _THROTTLED, True, pda.RateLimitError),
        (500, None, True, pda.ServerError),
    ],
)
async def test_error_status_raises_the_status_error_with_the_body(
    server: StreamServer,
    status: int,
    body: dict[str, Any] | None,
    fallback: bool,
    error: type[pda.APIStatusError],
) -> None:
    server.refuse(status, body)
    async with server.client(max_concurrency=1) as ph:
        with pytest.raises(error) as info:
            await consume(ph.dashboards.stream_tiles(1, fallback=fallback), block=True)
        assert info.value.status == status
        assert info.value.body == (b"" if body is None else dumps(body))
        if body is not None:
            assert info.value.detail == body["detail"]
        # No fallback request was made for these.
        assert len(server.seen) == 1
        await get_promptly(ph, server)


# --- lifecycle ------------------------------------------------------------------------------


@pytest.mark.usefixtures("debug_loop")
@pytest.mark.parametrize("with_block", [True, False], ids=["async_with", "plain_for"])
@pytest.mark.parametrize("server_state", ["still_streaming", "stalled"])
async def test_break_releases_connection_and_permit_at_once(
    server: StreamServer, with_block: bool, server_state: str
) -> None:
    if server_state == "still_streaming":
        server.serve_forever(HEAD)
    else:
        server.serve(HEAD, then="stall")
    async with server.client(max_concurrency=1) as ph:
        if with_block:
            async with ph.dashboards.stream_tiles(1) as stream:
                async for _ in stream:
                    break
        else:

            async def abandon_after_break() -> None:
                async for _ in ph.dashboards.stream_tiles(1):
                    break
                gc.collect()

            # Abandoned open: garbage collection releases it, and says so.
            with pytest.warns(ResourceWarning, match="unclosed TileStream"):
                await abandon_after_break()
        await get_promptly(ph, server)
        if server_state == "still_streaming":
            # The server notices the connection went away.
            await asyncio.wait_for(server.stream_finished.wait(), 2.0)


class Boom(Exception):
    pass


@pytest.mark.usefixtures("debug_loop")
@pytest.mark.parametrize("with_block", [True, False], ids=["async_with", "plain_for"])
async def test_exception_in_the_loop_releases_at_once(
    server: StreamServer, with_block: bool
) -> None:
    server.serve_forever(HEAD)
    async with server.client(max_concurrency=1) as ph:

        async def fail_in_the_loop() -> None:
            if with_block:
                async with ph.dashboards.stream_tiles(1) as stream:
                    async for _ in stream:
                        raise Boom
            else:
                async for _ in ph.dashboards.stream_tiles(1):
                    raise Boom

        # Without a block the stream is abandoned open: garbage collection releases it, and
        # says so.
        abandoned = (
            contextlib.nullcontext()
            if with_block
            else pytest.warns(ResourceWarning, match="unclosed TileStream")
        )
        with abandoned:
            with pytest.raises(Boom):
                await fail_in_the_loop()
            gc.collect()
        await get_promptly(ph, server)
        await asyncio.wait_for(server.stream_finished.wait(), 2.0)


@pytest.mark.usefixtures("debug_loop")
@pytest.mark.parametrize("with_block", [True, False], ids=["async_with", "plain_for"])
@pytest.mark.parametrize("where", ["waiting_for_an_event", "in_the_loop_body"])
async def test_cancelling_the_consumer_releases_at_once(
    server: StreamServer, with_block: bool, where: str
) -> None:
    if where == "waiting_for_an_event":
        server.serve(HEAD, then="stall")
    else:
        server.serve_forever(HEAD)
    got_one = asyncio.Event()

    async def body() -> None:
        got_one.set()
        if where == "in_the_loop_body":
            await asyncio.sleep(30)

    async with server.client(max_concurrency=1) as ph:
        # Kept alive past the task, so that the release cannot come from garbage collection.
        streams: list[pda.TileStream] = []

        async def consume() -> None:
            if with_block:
                async with ph.dashboards.stream_tiles(1) as stream:
                    streams.append(stream)
                    async for _ in stream:
                        await body()
            else:
                async for _ in ph.dashboards.stream_tiles(1):
                    await body()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_one.wait(), 2.0)
        await asyncio.sleep(0.05)
        # Cancelled in the loop body without a block, the stream is abandoned open: garbage
        # collection releases it, and says so.
        abandoned = (
            pytest.warns(ResourceWarning, match="unclosed TileStream")
            if where == "in_the_loop_body" and not with_block
            else contextlib.nullcontext()
        )
        with abandoned:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task
            gc.collect()
        await get_promptly(ph, server)


async def test_open_stream_holds_its_permit_until_it_is_left(server: StreamServer) -> None:
    server.serve(HEAD, then="stall")
    server.dashboards[1] = dashboard(1, [])
    async with server.client(max_concurrency=1) as ph:
        async with ph.dashboards.stream_tiles(1) as stream:
            assert isinstance(await stream.__anext__(), MetadataEvent)
            waiting = asyncio.create_task(ph.dashboards.get(1))
            await asyncio.sleep(0.2)
            assert not waiting.done()
        await asyncio.wait_for(waiting, PROMPT)


@pytest.mark.usefixtures("debug_loop")
@pytest.mark.parametrize(
    ("parts", "then", "error"),
    [
        ([TRANSCRIPT], "stall", None),
        ([*HEAD, sse({"type": "error", "error": "failed"})], "stall", pda.StreamError),
        ([*HEAD], "end", pda.StreamIncompleteError),
    ],
    ids=["complete", "fatal_error", "eof"],
)
async def test_plain_iteration_releases_at_the_end_of_the_stream(
    server: StreamServer, parts: list[bytes], then: str, error: type[Exception] | None
) -> None:
    # After its last event the server keeps the connection open where it can; holding the
    # stream object keeps garbage collection out of the picture: the release is the
    # stream's own doing.
    server.serve(parts, then=then)
    async with server.client(max_concurrency=1) as ph:
        stream = ph.dashboards.stream_tiles(412 if error is None else 1)
        if error is None:
            events = [event async for event in stream]
            check_transcript(events)
        else:
            with pytest.raises(error):
                async for _ in stream:
                    pass
        await get_promptly(ph, server)
        assert [event async for event in stream] == []
        del stream


async def test_connection_goes_back_to_the_pool_after_complete(server: StreamServer) -> None:
    # The end of the body comes a moment after `complete`, as in separate TCP segments.
    server.serve([TRANSCRIPT], end_after=0.05)
    async with server.client(max_concurrency=1) as ph:
        events = [event async for event in ph.dashboards.stream_tiles(412)]
        check_transcript(events)
        await get_promptly(ph, server, 412)
    stream_request, get_request = server.seen
    assert stream_request.peer_port == get_request.peer_port


@pytest.mark.usefixtures("debug_loop")
async def test_complete_then_connection_kept_open_does_not_hang(server: StreamServer) -> None:
    server.serve([TRANSCRIPT], then="stall")
    async with server.client(max_concurrency=1) as ph:
        started = time.perf_counter()
        result = await asyncio.wait_for(ph.dashboards.stream_tiles(412).collect(), 2.0)
        assert time.perf_counter() - started < 1.0
        assert len(result.tiles) == 4
        await get_promptly(ph, server, 412)
    stream_request, get_request = server.seen
    assert stream_request.peer_port != get_request.peer_port


# --- collect() and the fallback -------------------------------------------------------------


def detail_fixture() -> dict[str, Any]:
    value: dict[str, Any] = json.loads(fixture_bytes("dashboard_detail.json"))
    return value


async def test_collect_falls_back_to_retrieve_on_403_for_api_keys(server: StreamServer) -> None:
    server.refuse_for_api_key()
    detail = detail_fixture()
    server.dashboards[412] = detail
    async with server.client(max_concurrency=1) as ph:
        stream = ph.dashboards.stream_tiles(412)
        result = await stream.collect()
    assert stream.fallback_used
    assert [s.path for s in server.seen] == [
        f"{API}/dashboards/412/stream_tiles/",
        f"{API}/dashboards/412/",
    ]
    assert result == msgspec.json.decode(dumps(detail), type=Dashboard)
    assert [t.id for t in result.tiles] == [9001, 9002, 9003]


async def test_fallback_yields_the_same_events_as_the_stream(server: StreamServer) -> None:
    detail = dashboard(5, [text_tile(i, order=i - 1, sm=(0, i)) for i in range(1, 6)])
    server.dashboards[5] = detail
    server.serve(stream_of(detail))
    async with server.client() as ph:
        streamed = ph.dashboards.stream_tiles(5)
        streamed_events = [event async for event in streamed]
        server.refuse_for_api_key()
        replayed = ph.dashboards.stream_tiles(5)
        async with replayed:
            replayed_events = [event async for event in replayed]
    assert not streamed.fallback_used
    assert replayed.fallback_used
    assert replayed_events == streamed_events
    assert [type(e) for e in replayed_events] == [MetadataEvent, *[TileEvent] * 3, CompleteEvent]
    assert replayed.events_received == 5


async def test_fallback_on_404_when_the_dashboard_exists(server: StreamServer) -> None:
    server.refuse(404, _NOT_FOUND)
    server.dashboards[412] = detail_fixture()
    async with server.client() as ph:
        stream = ph.dashboards.stream_tiles(412)
        result = await stream.collect()
    assert stream.fallback_used
    assert [t.id for t in result.tiles] == [9001, 9002, 9003]


async def test_404_on_the_dashboard_too_raises_not_found(server: StreamServer) -> None:
    server.refuse(404, _NOT_FOUND)
    async with server.client(max_concurrency=1) as ph:
        stream = ph.dashboards.stream_tiles(77)
        with pytest.raises(pda.NotFoundError):
            await stream.collect()
        assert not stream.fallback_used
        await get_promptly(ph, server)
    assert server.seen[1].path == f"{API}/dashboards/77/"


async def test_fallback_false_raises_unsupported_for_api_key(server: StreamServer) -> None:
    server.refuse_for_api_key()
    server.dashboards[412] = detail_fixture()
    async with server.client() as ph:
        with pytest.raises(pda.UnsupportedForApiKeyError):
            await ph.dashboards.stream_tiles(412, fallback=False).collect()
    assert len(server.seen) == 1


async def test_fallback_orders_tiles_by_the_requested_layout_size(server: StreamServer) -> None:
    # Retrieve lists tiles in sm order; with layout_size="xs" the server streams them by the
    # xs layout (y, then x; a missing layout counts as 100; ties by tile id).
    tiles = [
        text_tile(30, order=0, sm=(0, 0), xs=(0, 10)),
        text_tile(20, order=1, sm=(6, 0), xs=(0, 0)),
        text_tile(10, order=2, sm=(0, 5)),
        text_tile(50, order=3, sm=(6, 5), xs=(0, 5)),
        text_tile(40, order=4, sm=(0, 10), xs=(0, 5)),
    ]
    server.refuse_for_api_key()
    server.dashboards[3] = dashboard(3, tiles)
    async with server.client() as ph:
        stream = ph.dashboards.stream_tiles(3, layout_size="xs")
        events = [event async for event in stream]
    assert server.seen[0].query == {"layout_size": "xs"}
    first = events[0]
    assert isinstance(first, MetadataEvent)
    assert [t.id for t in first.dashboard.tiles] == [20, 40]
    assert [t.order for t in first.dashboard.tiles] == [0, 1]
    rest = [e for e in events if isinstance(e, TileEvent)]
    assert [(e.order, e.tile.id, e.tile.order) for e in rest] == [
        (2, 50, 2),
        (3, 30, 3),
        (4, 10, 4),
    ]


def test_order_tiles_keeps_the_retrieve_order_for_sm_ties() -> None:
    # Retrieve already sorts by sm, stably over the database order the stream also uses.
    tiles = [
        Tile(id=9, layouts={"sm": {"x": 0, "y": 0}}),
        Tile(id=3, layouts={"sm": {"x": 0, "y": 0}}),
    ]
    assert [t.id for t in order_tiles(tiles, "sm")] == [9, 3]
    assert [t.id for t in order_tiles(tiles, "xs")] == [3, 9]
    loose = [Tile(id=1, layouts={"sm": {"x": "6", "y": "0"}}), Tile(id=2, layouts={"sm": {"x": 0}})]
    assert [(t.id, t.order) for t in order_tiles(loose, "sm")] == [(1, 0), (2, 1)]
