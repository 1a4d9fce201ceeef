"""Tile streams from a server whose events do not decode: nothing is skipped or passed on as
an ``UnknownEvent``; iteration raises ``StreamDecodeError`` with the bytes and what came
before, ``collect()`` never returns fewer tiles than the server sent, and no key echoed into
an event reaches an exception."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from _leaks import KEY, KEY_TAIL, assert_no_key
from _scripted import CLOSE, Request, ScriptedServer, Step, http, sse_event, sse_head

import posthog_dash_async as pda
from posthog_dash_async.errors import MAX_BODY_KEPT

SHARING = {"created_at": None, "enabled": True, "access_token": "tok"}
META = {
    "type": "metadata",
    "dashboard": {"id": 1, "name": "d", "tiles": [{"id": 11, "order": 0}, {"id": 12, "order": 1}]},
}
TILE_13 = {"type": "tile", "order": 2, "tile": {"id": 13, "order": 2}}
TILE_14 = {"type": "tile", "order": 3, "tile": {"id": 14, "order": 3}}
COMPLETE = {"type": "complete"}


def client(server: ScriptedServer, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
        "max_concurrency": 1,
        "coalesce": False,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


async def read_into(stream: pda.TileStream, seen: list[pda.StreamEvent]) -> None:
    async for event in stream:
        seen.append(event)


def stream(*events: Any) -> list[Step]:
    """A whole stream: the SSE head, one ``data:`` event per item, then the end."""
    return [sse_head(), *(sse_event(e) for e in events), CLOSE]


async def permit_is_back(ph: pda.AsyncPostHog) -> None:
    # With max_concurrency=1 a request only goes out once the stream gave its permit back.
    assert (await asyncio.wait_for(ph.dashboards.sharing.get(1), 5)).enabled is True


# Each attack: the bytes of the event after the metadata, and the `type` the error names.
UNDECODABLE = [
    pytest.param(b'{"type":"tile","order":2,"tile":{"id":13', "", id="truncated_json"),
    pytest.param(b'{"type":"tile","order":2,"tile":{"id":13,"color":"a\x01b"}}', "", id="raw_ctl"),
    pytest.param(b'{"type":"tile","order":2,"tile":"<tile 13>"}', "tile", id="tile_is_a_string"),
    pytest.param(b'{"type":"tile","order":2,"tile":{"id":"13"}}', "tile", id="tile_id_string"),
    pytest.param(b'{"type":"tile","order":"2","tile":{"id":13}}', "tile", id="order_string"),
    pytest.param(b'{"type":"tile","order":2}', "tile", id="tile_missing"),
    pytest.param(b'{"type":"error","tile_id":"x","error":"e"}', "error", id="tile_id_not_int"),
    pytest.param(b'{"tile":{"id":13}}', "", id="no_type"),
    pytest.param(b'{"type":null}', "", id="type_null"),
    pytest.param(b'[{"type":"tile"}]', "", id="not_an_object"),
    pytest.param(b"<html>502 Bad Gateway</html>", "", id="html"),
    pytest.param(b'{"type":"tile","order":2,"tile":{"id":13,"color":"\xff"}}', "", id="bad_utf8"),
    pytest.param(b'{"type":"progress","note":"\xc3\x28"}', "progress", id="bad_utf8_unknown"),
    pytest.param(b"", "", id="empty_data"),
]


@pytest.mark.parametrize(("bad", "kind"), UNDECODABLE)
async def test_an_undecodable_event_raises_with_its_bytes_and_what_came_before(
    bad: bytes, kind: str
) -> None:
    # The attack: metadata, then an event that does not decode, then events that do.
    attack = [sse_head(), sse_event(META), b"data: " + bad + b"\n\n", sse_event(TILE_13)]
    async with (
        ScriptedServer([*attack, sse_event(COMPLETE), CLOSE], http(200, SHARING)) as server,
        client(server) as ph,
    ):
        seen: list[pda.StreamEvent] = []
        with pytest.raises(pda.StreamDecodeError) as info:
            await read_into(ph.dashboards.stream_tiles(1), seen)
        await permit_is_back(ph)
    # Expected: the metadata came through, then the typed error; nothing after it.
    assert [type(e) for e in seen] == [pda.MetadataEvent]
    error = info.value
    assert isinstance(error, pda.StreamError)
    assert error.raw == bad
    assert error.events_received == 1
    assert error.event_type == (kind or None)
    assert isinstance(error.received, pda.Dashboard)
    assert error.received.id == 1
    assert "could not be decoded" in str(error)


@pytest.mark.parametrize(("bad", "kind"), UNDECODABLE[:4])
async def test_collect_never_drops_a_tile_it_could_not_decode(bad: bytes, kind: str) -> None:
    attack = [sse_head(), sse_event(META), sse_event(TILE_13), b"data: " + bad + b"\n\n"]
    async with (
        ScriptedServer([*attack, sse_event(TILE_14), sse_event(COMPLETE), CLOSE]) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.StreamDecodeError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    # What arrived before the bad event is kept, in order.
    assert [t.id for t in info.value.received.tiles] == [11, 12, 13]


async def test_a_raw_newline_inside_a_json_string_is_not_skipped() -> None:
    # SSE cuts the line at the raw LF: the event's data is a truncated JSON text, and the
    # rest of the line is an unknown field. Reported, not dropped.
    broken = b'data: {"type":"tile","order":2,"tile":{"id":13,"name":"a\nb"}}\n\n'
    async with (
        ScriptedServer([sse_head(), sse_event(META), broken, sse_event(COMPLETE), CLOSE]) as srv,
        client(srv) as ph,
    ):
        with pytest.raises(pda.StreamDecodeError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert info.value.raw == b'{"type":"tile","order":2,"tile":{"id":13,"name":"a'


async def test_an_unknown_type_is_still_an_unknown_event_and_the_stream_goes_on() -> None:
    # Well-formed JSON of a type this version does not know: a newer server, not an attack.
    progress = {"type": "progress", "done": 1, "extra": {"nested": [1, 2]}}
    async with (
        ScriptedServer(stream(META, progress, TILE_13, COMPLETE)) as server,
        client(server) as ph,
    ):
        events = [event async for event in ph.dashboards.stream_tiles(1)]
        dashboard = await ph.dashboards.stream_tiles(1).collect()
    assert [type(e) for e in events] == [
        pda.MetadataEvent,
        pda.UnknownEvent,
        pda.TileEvent,
        pda.CompleteEvent,
    ]
    assert events[1] == pda.UnknownEvent(type="progress", raw=progress)
    assert [t.id for t in dashboard.tiles] == [11, 12, 13]


@pytest.mark.parametrize(
    ("events", "missing"),
    [
        # A tile `order` that jumps: tiles 2 and 3 never arrived.
        pytest.param([META, {**TILE_13, "order": 4}, COMPLETE], "2..3", id="order_gap"),
        # Metadata carries the first min(2, N) tiles: one tile there means N = 1, so a tile
        # of order 2 says tile 1 was lost.
        pytest.param(
            [{**META, "dashboard": {"id": 1, "tiles": [{"id": 11}]}}, TILE_13, COMPLETE],
            "1..1",
            id="short_metadata",
        ),
    ],
)
async def test_collect_refuses_a_stream_whose_tile_orders_show_lost_tiles(
    events: list[Any], missing: str
) -> None:
    async with ScriptedServer(stream(*events)) as server, client(server) as ph:
        with pytest.raises(pda.StreamIncompleteError) as info:
            await ph.dashboards.stream_tiles(1).collect()
        with pytest.raises(pda.StreamIncompleteError):
            async for _ in ph.dashboards.stream_tiles(1):
                pass
    assert f"tiles {missing} never arrived" in str(info.value)
    assert isinstance(info.value.received, pda.Dashboard)


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([TILE_13, META, COMPLETE], id="tile_before_metadata"),
        pytest.param([{"type": "error", "tile_id": 5, "error": "x"}, META], id="error_first"),
        pytest.param([META, TILE_13, META, COMPLETE], id="second_metadata"),
    ],
)
async def test_events_out_of_the_protocols_order_are_refused(events: list[Any]) -> None:
    async with ScriptedServer(stream(*events)) as server, client(server) as ph:
        with pytest.raises(pda.StreamDecodeError):
            await ph.dashboards.stream_tiles(1).collect()


async def test_a_huge_undecodable_event_keeps_only_a_bounded_prefix() -> None:
    bad = b'{"type":"tile","order":2,"tile":' + b"[" * 500_000
    async with (
        ScriptedServer([sse_head(), sse_event(META), b"data: " + bad + b"\n\n", CLOSE]) as srv,
        client(srv) as ph,
    ):
        with pytest.raises(pda.StreamDecodeError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert info.value.raw == bad[:MAX_BODY_KEPT]
    assert len(str(info.value)) < 2000


# --- JSON on the stream URL -----------------------------------------------------------------


def dashboard_body(tiles: int) -> dict[str, Any]:
    return {
        "id": 1,
        "name": "d",
        "tiles": [
            {"id": 100 + i, "layouts": {"sm": {"x": 0, "y": i, "w": 6, "h": 5}}}
            for i in range(tiles)
        ],
    }


async def test_a_json_answer_on_the_stream_url_is_served_as_the_dashboard_it_is() -> None:
    # A proxy, or a server that does not stream, answers with the dashboard's JSON: the
    # caller gets the fallback's event sequence, not an "incomplete stream".
    def answer(request: Request) -> list[Step]:
        if request.path.endswith("/stream_tiles/"):
            return [http(200, dashboard_body(4))]
        return [http(200, SHARING)]

    async with ScriptedServer(answer) as server, client(server) as ph:
        stream_ = ph.dashboards.stream_tiles(1)
        events = [event async for event in stream_]
        await permit_is_back(ph)
        collected = await ph.dashboards.stream_tiles(1).collect()
    assert [type(e) for e in events] == [
        pda.MetadataEvent,
        pda.TileEvent,
        pda.TileEvent,
        pda.CompleteEvent,
    ]
    assert stream_.fallback_used is True
    assert [t.id for t in collected.tiles] == [100, 101, 102, 103]
    # One request each: the JSON answer itself, not a second GET.
    paths = [r.path for r in server.requests]
    assert paths.count("/api/projects/42/dashboards/1/stream_tiles/") == 2


async def test_a_json_answer_that_is_not_a_dashboard_is_a_decode_error() -> None:
    async with (
        ScriptedServer(http(200, {"detail": "ok", "echo": KEY}), http(200, SHARING)) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.StreamDecodeError) as info:
            await ph.dashboards.stream_tiles(1).collect()
        await permit_is_back(ph)
    assert b'"detail"' in info.value.raw
    assert_no_key(info.value)


async def test_a_json_answer_is_read_only_up_to_max_response_bytes() -> None:
    huge = b'{"id":1,"name":"' + b"x" * 3_000_000 + b'","tiles":[]}'
    async with (
        ScriptedServer(http(200, huge, content_type="application/json")) as server,
        client(server, max_response_bytes=1_000_000) as ph,
    ):
        with pytest.raises(pda.PostHogError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert isinstance(info.value, pda.ResponseTooLargeError)


# --- keys echoed into events ----------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(f"auth failed for Bearer {KEY}", id="plain"),
        pytest.param(f"token={KEY}; retry", id="in_text"),
    ],
)
async def test_a_key_echoed_in_a_fatal_error_event_reaches_no_exception(message: str) -> None:
    fatal = {"type": "error", "error": message}
    async with ScriptedServer(stream(META, fatal)) as server, client(server) as ph:
        with pytest.raises(pda.StreamError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert "***" in info.value.error
    assert_no_key(info.value)


async def test_a_key_spelled_with_json_escapes_in_a_fatal_error_is_scrubbed() -> None:
    # Decoding the JSON turns \u0070hx_... back into the key: scrubbed after decoding.
    fatal = json.dumps({"type": "error", "error": f"bad key {KEY}"})
    escaped = fatal.replace("phx_", "\\u0070hx_").encode()
    async with (
        ScriptedServer([sse_head(), sse_event(META), b"data: " + escaped + b"\n\n"]) as srv,
        client(srv) as ph,
    ):
        with pytest.raises(pda.StreamError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert_no_key(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(f'{{"type":"tile","tile":"{KEY}"}}'.encode(), id="plain"),
        pytest.param(f'{{"type":"tile","tile":"\\u0070hx_{KEY_TAIL}"}}'.encode(), id="escaped"),
        pytest.param(
            b'{"type":"tile","tile":' + b" " * (MAX_BODY_KEPT - 30) + f'"{KEY}"}}'.encode(),
            id="across_the_cut",
        ),
    ],
)
async def test_a_key_inside_an_undecodable_event_is_scrubbed_from_its_raw_bytes(
    bad: bytes,
) -> None:
    async with (
        ScriptedServer([sse_head(), sse_event(META), b"data: " + bad + b"\n\n", CLOSE]) as srv,
        client(srv) as ph,
    ):
        with pytest.raises(pda.StreamDecodeError) as info:
            await ph.dashboards.stream_tiles(1).collect()
    assert_no_key(info.value)
