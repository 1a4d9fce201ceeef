"""The SDK against FakePostHog over a real loopback socket: tile streams (and their fallback),
``create_from_template_json`` and ``move_tile`` on both server flavours.

PostHog refuses these scope-less actions to personal API keys (§2.3); their happy paths run
on servers started with ``allow_pak_on_unscoped_actions=True`` (or, for ``move_tile``, the
``"new"`` flavour, which requires ``dashboard:write`` instead).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog, RecordedRequest, text_tile, trends_tile

BASE = "/api/projects/42/dashboards/"
STREAM_ACCEPT = "text/event-stream, application/json"
TEMPLATE: dict[str, Any] = {
    "template_name": "Onboarding funnel",
    "dashboard_description": "Where new users drop off.",
    "dashboard_filters": {"date_from": "-14d"},
    "tags": ["onboarding"],
    "tiles": [
        {
            "type": "INSIGHT",
            "name": "Signups",
            "description": "Daily signups",
            "query": {
                "kind": "InsightVizNode",
                "source": {"kind": "TrendsQuery", "series": [{"event": "user signed up"}]},
            },
            "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 5}},
            "color": "blue",
        },
        {
            "type": "TEXT",
            "body": "Read me first.",
            "layouts": {"sm": {"x": 6, "y": 0, "w": 6, "h": 5}},
        },
    ],
}


async def read_into(stream: pda.TileStream, seen: list[pda.StreamEvent]) -> None:
    """Append every event of ``stream`` to ``seen``, reading inside its ``async with``."""
    async with stream:
        async for event in stream:
            seen.append(event)


async def read_all(stream: pda.TileStream) -> list[pda.StreamEvent]:
    """Every event of ``stream``."""
    seen: list[pda.StreamEvent] = []
    await read_into(stream, seen)
    return seen


def calls(server: FakePostHog) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in server.requests]


def assert_stream_request(request: RecordedRequest, server: FakePostHog, size: str) -> None:
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {server.api_key}"
    assert request.headers["Accept"] == STREAM_ACCEPT
    # The body is read as sent: a compressed event stream would never decode.
    assert request.headers["Accept-Encoding"] == "identity"
    assert list(request.query.items()) == [("layout_size", size)]
    assert request.body == b""


def shape(events: list[pda.StreamEvent]) -> list[tuple[Any, ...]]:
    """What a stream said, without the per-request ``last_accessed_at`` of the metadata."""
    out: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, pda.MetadataEvent):
            out.append(("metadata", event.dashboard.id, tuple(event.dashboard.tiles)))
        elif isinstance(event, pda.TileEvent):
            out.append(("tile", event.order, event.tile))
        else:
            out.append((type(event).__name__,))
    return out


def layered_dashboard(server: FakePostHog) -> dict[str, Any]:
    """Five tiles whose ``sm`` and ``xs`` orders differ (xs stacks them in another order)."""
    specs = [
        ("A", {"x": 0, "y": 0, "w": 6, "h": 2}, {"x": 0, "y": 8, "w": 1, "h": 2}),
        ("B", {"x": 6, "y": 0, "w": 6, "h": 2}, {"x": 0, "y": 2, "w": 1, "h": 2}),
        ("C", {"x": 0, "y": 2, "w": 6, "h": 2}, {"x": 0, "y": 0, "w": 1, "h": 2}),
        ("D", {"x": 6, "y": 2, "w": 6, "h": 2}, {"x": 0, "y": 6, "w": 1, "h": 2}),
        ("E", {"x": 0, "y": 4, "w": 12, "h": 2}, {"x": 0, "y": 4, "w": 1, "h": 2}),
    ]
    tiles = [
        text_tile(f"Card {name}", layouts={"sm": sm, "xs": xs}, tile_id=7001 + index)
        if index % 2
        else trends_tile(f"Chart {name}", layouts={"sm": sm, "xs": xs}, tile_id=7001 + index)
        for index, (name, sm, xs) in enumerate(specs)
    ]
    return server.add_dashboard("Layered", tiles=tiles)


# --- stream_tiles -----------------------------------------------------------------------


async def test_stream_yields_metadata_tiles_and_complete_in_order(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    async with connect(server) as ph:
        async with ph.dashboards.stream_tiles(388) as stream:
            events = [event async for event in stream]
        expected = await ph.dashboards.get(388)

    assert not stream.fallback_used
    assert stream.events_received == len(events) == 1 + 4 + 1
    metadata, *tiles, complete = events
    assert isinstance(metadata, pda.MetadataEvent)
    assert metadata.dashboard.id == 388
    assert metadata.dashboard.name == "Weekly KPIs"
    assert [t.id for t in metadata.dashboard.tiles] == [9301, 9302]
    assert all(isinstance(event, pda.TileEvent) for event in tiles)
    assert [(e.order, e.tile.id) for e in tiles if isinstance(e, pda.TileEvent)] == [
        (2, 9303),
        (3, 9304),
        (4, 9305),
        (5, 9306),
    ]
    assert isinstance(complete, pda.CompleteEvent)
    assert stream.dashboard == metadata.dashboard
    streamed = [*metadata.dashboard.tiles] + [e.tile for e in tiles if isinstance(e, pda.TileEvent)]
    assert streamed == expected.tiles

    sent = server.requests[0]
    assert sent.path == f"{BASE}388/stream_tiles/"
    assert sent.status == 200
    assert_stream_request(sent, server, "sm")
    assert server.in_flight == 0


async def test_collect_equals_get_for_sm_and_follows_xs_layouts(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    board = layered_dashboard(server)
    async with connect(server) as ph:
        fetched = await ph.dashboards.get(board["id"])
        small = await ph.dashboards.stream_tiles(board["id"]).collect()
        tiny = await ph.dashboards.stream_tiles(board["id"], layout_size="xs").collect()

    assert [t.id for t in fetched.tiles] == [7001, 7002, 7003, 7004, 7005]
    assert small.tiles == fetched.tiles
    assert small.id == fetched.id
    assert small.name == "Layered"
    # xs stacks C, B, E, D, A; orders restart from 0 in that order.
    assert [t.id for t in tiny.tiles] == [7003, 7002, 7005, 7004, 7001]
    assert [t.order for t in tiny.tiles] == [0, 1, 2, 3, 4]

    streams = server.requests_matching("GET", "stream_tiles")
    assert [r.query["layout_size"] for r in streams] == ["sm", "xs"]
    for request, size in zip(streams, ("sm", "xs"), strict=True):
        assert_stream_request(request, server, size)


async def test_fallback_serves_the_same_events_when_the_key_is_refused(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    board = layered_dashboard(server)
    async with connect(server) as ph:
        streamed = ph.dashboards.stream_tiles(board["id"])
        direct = await read_all(streamed)
        # PostHog's default: personal API keys may not call stream_tiles (403).
        server.allow_pak_on_unscoped_actions = False
        server.clear_requests()
        fallback = ph.dashboards.stream_tiles(board["id"])
        replayed = await read_all(fallback)
        tiny = await ph.dashboards.stream_tiles(board["id"], layout_size="xs").collect()

    assert not streamed.fallback_used
    assert fallback.fallback_used
    assert shape(replayed) == shape(direct)
    assert [t.id for t in tiny.tiles] == [7003, 7002, 7005, 7004, 7001]

    refused, retrieve = server.requests[:2]
    assert (refused.path, refused.status) == (f"{BASE}{board['id']}/stream_tiles/", 403)
    assert_stream_request(refused, server, "sm")
    assert (retrieve.method, retrieve.path, retrieve.status) == (
        "GET",
        f"{BASE}{board['id']}/",
        200,
    )
    assert retrieve.headers["Accept"] == "application/json"


async def test_fallback_false_raises_unsupported_for_api_key(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        with pytest.raises(pda.UnsupportedForApiKeyError) as refused:
            await read_all(ph.dashboards.stream_tiles(412, fallback=False))

    error = refused.value
    assert isinstance(error, pda.PermissionDeniedError)
    assert error.status == 403
    assert error.detail == "This action does not support personal API key access"
    assert calls(server) == [("GET", f"{BASE}412/stream_tiles/", 403)]


async def test_stream_of_a_deleted_dashboard_is_not_found(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    async with connect(server) as ph:
        with pytest.raises(pda.NotFoundError):
            await ph.dashboards.stream_tiles(470).collect()
    # The stream's 404 made the SDK check the dashboard, which is gone too.
    assert calls(server) == [
        ("GET", f"{BASE}470/stream_tiles/", 404),
        ("GET", f"{BASE}470/", 404),
    ]


async def test_open_streams_hold_their_permits(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    # Slow tiles keep every stream open for a while.
    server.set_stream_faults(tile_delay=0.01)
    # Nine identical streams would share one upstream: each is its own here.
    async with connect(server, max_concurrency=3, coalesce=False) as ph:
        collected = await asyncio.gather(
            *(ph.dashboards.stream_tiles(388).collect() for _ in range(9))
        )
    assert all([t.id for t in d.tiles] == list(range(9301, 9307)) for d in collected)
    assert len(server.requests) == 9
    assert 1 < server.max_in_flight <= 3
    assert server.in_flight == 0


@pytest.mark.parametrize("chunk_size", [None, 3, 64, 1000])
async def test_streams_complete_whatever_the_write_sizes(
    posthog_server_factory: Any, chunk_size: int | None
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    small = server.add_dashboard(
        "Small", tiles=[text_tile(f"Card {i}") for i in range(4)], dashboard_id=6001
    )
    big = server.add_dashboard(
        "Big",
        tiles=[
            trends_tile(f"Chart {i}") if i % 2 else text_tile("x" * (100 * i)) for i in range(24)
        ],
        dashboard_id=6002,
    )
    server.set_stream_faults(chunk_size=chunk_size)
    # Writes of a few bytes are slow on the server side: those only stream the small board.
    boards = [small] if chunk_size is not None and chunk_size < 10 else [small, big]
    async with connect(server) as ph:
        for _ in range(2):
            for board in boards:
                expected = await ph.dashboards.get(board["id"])
                streamed = await ph.dashboards.stream_tiles(board["id"]).collect()
                assert streamed.tiles == expected.tiles
    statuses = [r.status for r in server.requests_matching("GET", "stream_tiles")]
    assert statuses == [200] * 2 * len(boards)


async def test_per_tile_errors_are_events_and_the_stream_goes_on(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    server.set_stream_faults(tile_errors={9301: "Query timed out", 9304: "Division by zero"})
    async with connect(server) as ph:
        events = await read_all(ph.dashboards.stream_tiles(388))
        collected = await ph.dashboards.stream_tiles(388).collect()

    metadata = events[0]
    assert isinstance(metadata, pda.MetadataEvent)
    # A failing first-two tile travels inside the metadata, as an error object.
    first = metadata.dashboard.tiles[0]
    assert first.id == 9301
    assert first.error is not None
    assert first.error.message == "Query timed out"
    failed = [e for e in events if isinstance(e, pda.TileErrorEvent)]
    assert failed == [pda.TileErrorEvent(tile_id=9304, error="Division by zero")]
    assert isinstance(events[-1], pda.CompleteEvent)
    # collect() keeps a failed tile in its place.
    assert [t.id for t in collected.tiles] == list(range(9301, 9307))
    assert [t.error.message for t in collected.tiles if t.error is not None] == [
        "Query timed out",
        "Division by zero",
    ]


@pytest.mark.parametrize(
    "faults",
    [
        {"crlf": True},
        {"comments": True, "event_lines": True},
        {"crlf": True, "comments": True, "event_lines": True, "chunk_size": 5},
    ],
    ids=["crlf", "comments-and-fields", "all-at-once"],
)
async def test_other_framings_decode_to_the_same_dashboard(
    posthog_server_factory: Any, faults: dict[str, Any]
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    async with connect(server) as ph:
        plain = await ph.dashboards.stream_tiles(401).collect()
        server.set_stream_faults(**faults)
        framed = await ph.dashboards.stream_tiles(401).collect()
    assert framed.tiles == plain.tiles


async def test_stream_ending_without_complete_raises_incomplete_with_what_arrived(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    server.set_stream_faults(truncate_after=3)
    async with connect(server) as ph:
        with pytest.raises(pda.StreamIncompleteError) as truncated:
            await ph.dashboards.stream_tiles(388).collect()
        # The connection and the permit were given back: the client goes on.
        server.reset_faults()
        again = await ph.dashboards.stream_tiles(388).collect()

    received = truncated.value.received
    assert isinstance(received, pda.Dashboard)
    assert [t.id for t in received.tiles] == [9301, 9302, 9303, 9304]
    assert len(again.tiles) == 6
    assert server.in_flight == 0


async def test_fatal_error_event_raises_stream_error(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    server.set_stream_faults(fatal_error_after=2, fatal_error_message="ClickHouse is down")
    async with connect(server) as ph:
        stream = ph.dashboards.stream_tiles(388)
        seen: list[pda.StreamEvent] = []
        with pytest.raises(pda.StreamError) as failed:
            await read_into(stream, seen)

    assert failed.value.error == "ClickHouse is down"
    # The events before the error were all delivered first.
    assert [type(e) for e in seen] == [pda.MetadataEvent, pda.TileEvent]
    assert server.in_flight == 0


async def test_reset_mid_stream_is_a_connection_error_not_a_retry(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    server.set_stream_faults(reset_after=1)
    async with connect(server) as ph:
        with pytest.raises(pda.APIConnectionError) as failed:
            await ph.dashboards.stream_tiles(388).collect()
    assert not isinstance(failed.value, pda.APITimeoutError)
    # No automatic reconnect once events flowed: it would replay the whole dashboard.
    assert len(server.requests_matching("GET", "stream_tiles")) == 1


async def test_silent_stream_hits_the_idle_timeout(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    server.set_stream_faults(stall_after=1)
    async with connect(server, timeout=pda.Timeout(stream_idle=0.2)) as ph:
        with pytest.raises(pda.APITimeoutError, match="stream_idle"):
            await ph.dashboards.stream_tiles(388).collect()
        # The client gave up on the connection; the server saw it go.
        for _ in range(100):
            if server.in_flight == 0:
                break
            await asyncio.sleep(0.01)
    assert server.in_flight == 0


async def test_stream_cap_503_is_raised_when_the_wait_is_too_long(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(
        allow_pak_on_unscoped_actions=True, max_concurrent_streams=0
    )
    async with connect(server, max_retry_wait=1) as ph:
        with pytest.raises(pda.ServerError) as refused:
            await ph.dashboards.stream_tiles(388).collect()
        # Its permit was released: a plain call still goes through.
        assert (await ph.dashboards.get(388)).id == 388
    assert refused.value.status == 503
    assert refused.value.body == b""
    assert 15 <= int(refused.value.headers["Retry-After"]) <= 44


# --- create_from_template_json ----------------------------------------------------------


async def test_create_from_template_json(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    async with connect(server) as ph:
        created = await ph.dashboards.create_from_template_json(
            TEMPLATE, creation_context="onboarding-wizard", create_in_folder="Shared/Growth"
        )

    assert isinstance(created, pda.Dashboard)
    assert created.name == "Onboarding funnel"
    assert created.description == "Where new users drop off."
    assert created.filters == {"date_from": "-14d"}
    assert created.tags == ["onboarding"]
    assert created.creation_mode == "default"
    insight, text = created.tiles
    assert insight.insight is not None
    assert insight.insight.name == "Signups"
    assert insight.insight.is_sample
    assert insight.color == "blue"
    assert text.text is not None
    assert text.text.body == "Read me first."

    sent = server.requests[0]
    assert (sent.method, sent.path, sent.status) == (
        "POST",
        f"{BASE}create_from_template_json/",
        200,
    )
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {
        "template": TEMPLATE,
        "creation_context": "onboarding-wizard",
        "_create_in_folder": "Shared/Growth",
    }
    assert server.dashboard(created.id)["name"] == "Onboarding funnel"


@pytest.mark.parametrize("missing", ["template_name", "dashboard_filters", "tiles"])
async def test_template_without_required_keys_sends_nothing(
    posthog_server_factory: Any, missing: str
) -> None:
    server: FakePostHog = await posthog_server_factory(allow_pak_on_unscoped_actions=True)
    template = {key: value for key, value in TEMPLATE.items() if key != missing}
    async with connect(server) as ph:
        with pytest.raises(pda.InvalidArgumentError, match=missing):
            await ph.dashboards.create_from_template_json(template)
    assert server.requests == []


async def test_template_json_is_refused_to_api_keys_by_default(
    posthog_server: FakePostHog,
) -> None:
    server = posthog_server
    before = set(server.dashboards)
    async with connect(server) as ph:
        with pytest.raises(pda.UnsupportedForApiKeyError) as refused:
            await ph.dashboards.create_from_template_json(TEMPLATE)
    assert refused.value.status == 403
    assert calls(server) == [("POST", f"{BASE}create_from_template_json/", 403)]
    assert set(server.dashboards) == before


# --- move_tile --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"allow_pak_on_unscoped_actions": True},
        {"move_tile_flavour": "new"},
    ],
    ids=["ref", "new"],
)
async def test_move_tile_on_both_server_flavours(
    posthog_server_factory: Any, options: dict[str, Any]
) -> None:
    server: FakePostHog = await posthog_server_factory(**options)
    async with connect(server) as ph:
        source = await ph.dashboards.move_tile(412, 9003, 388)
        destination = await ph.dashboards.get(388)
        source_again = await ph.dashboards.get(412)

    assert source.id == 412
    assert [t.id for t in source.tiles] == [9001, 9002]
    assert source_again.tiles == source.tiles
    moved = [t for t in destination.tiles if t.id == 9003]
    assert len(moved) == 1
    assert moved[0].text is not None

    sent = server.requests[0]
    assert (sent.method, sent.path, sent.status) == ("PATCH", f"{BASE}412/move_tile/", 200)
    # Both spellings: REF reads toDashboard, NEW requires to_dashboard.
    assert sent.json() == {"tile": {"id": 9003}, "toDashboard": 388, "to_dashboard": 388}
    assert sent.headers["Accept"] == "application/json"
    assert [t["id"] for t in server.dashboard(388)["tiles"]].count(9003) == 1


async def test_move_tile_is_refused_to_api_keys_on_ref(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(move_tile_flavour="ref")
    async with connect(server) as ph:
        with pytest.raises(pda.UnsupportedForApiKeyError):
            await ph.dashboards.move_tile(412, 9003, 388)
    assert [t["id"] for t in server.dashboard(412)["tiles"]] == [9001, 9002, 9003]


async def test_move_tile_on_new_needs_the_write_scope(posthog_server_factory: Any) -> None:
    server: FakePostHog = await posthog_server_factory(move_tile_flavour="new")
    reader = server.add_key(scopes=["dashboard:read"])
    async with connect(server, api_key=reader) as ph:
        with pytest.raises(pda.MissingScopeError) as refused:
            await ph.dashboards.move_tile(412, 9003, 388)
    assert refused.value.scope == "dashboard:write"
    assert server.requests[0].headers["Authorization"] == f"Bearer {reader}"
