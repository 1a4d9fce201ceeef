"""The 2026 calls against FakePostHog over real loopback sockets: tiles, insights,
run_insights, share passwords, templates, the stream's parameters, and a round trip that
puts an insight on a dashboard, streams it, moves it and deletes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog

PAGEVIEWS: dict[str, Any] = {
    "kind": "InsightVizNode",
    "source": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}]},
}


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as fake:
        yield fake


@pytest.fixture
async def ph(server: FakePostHog) -> AsyncIterator[pda.AsyncPostHog]:
    async with connect(server) as client:
        yield client


async def new_board(ph: pda.AsyncPostHog, name: str) -> pda.Dashboard:
    return await ph.dashboards.create(name=name)


def tile_ids(dashboard: pda.Dashboard) -> list[int]:
    return [t.id for t in dashboard.tiles]


# --- the round trip -------------------------------------------------------------------------


async def test_insight_round_trip_create_stream_move_delete(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Round trip: source")
    other = await new_board(ph, "Round trip: destination")

    insight = await ph.insights.create(name="Pageviews", query=PAGEVIEWS, dashboards=[board.id])
    assert type(insight) is pda.Insight
    assert insight.saved is True
    assert insight.dashboards == [board.id]

    streamed = await ph.dashboards.stream_tiles(board.id).collect()
    (tile,) = [t for t in streamed.tiles if t.insight is not None]
    assert tile.insight is not None
    assert tile.insight.id == insight.id
    assert type(tile.insight) is pda.Insight

    moved = await ph.insights.update(insight.id, dashboards=[other.id])
    assert moved.dashboards == [other.id]
    assert all(t.insight is None for t in (await ph.dashboards.get(board.id)).tiles)
    on_other = await ph.dashboards.stream_tiles(other.id).collect()
    assert [t.insight.id for t in on_other.tiles if t.insight is not None] == [insight.id]

    deleted = await ph.insights.delete(insight.id)
    assert deleted.deleted is True
    assert all(t.insight is None for t in (await ph.dashboards.get(other.id)).tiles)
    with pytest.raises(pda.NotFoundError):
        await ph.insights.get(insight.id)


# --- tiles ------------------------------------------------------------------------------------


async def test_text_tile_lifecycle(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Text tiles")
    made = await ph.dashboards.tiles.create_text(
        board.id, "## Hello", color="blue", layouts={"sm": pda.TileLayout(0, 0, 6, 2)}
    )
    assert type(made) is pda.Tile
    assert made.text is not None
    assert made.text.body == "## Hello"
    assert made.layout("sm") == pda.Layout(x=0, y=0, w=6, h=2)
    detail = await ph.dashboards.get(board.id)
    assert made.id in tile_ids(detail)
    streamed = await ph.dashboards.stream_tiles(board.id).collect()
    assert made.id in tile_ids(streamed)

    edited = await ph.dashboards.tiles.update(board.id, made.id, body="## Bye", color=None)
    assert edited.text is not None
    assert edited.text.body == "## Bye"
    assert not edited.color

    placed = await ph.dashboards.tiles.update(
        board.id, made.id, layouts={"xs": {"x": 0, "y": 3, "w": 1, "h": 2}}
    )
    assert placed.layout("xs") == pda.Layout(x=0, y=3, w=1, h=2)
    assert placed.layout("sm") == pda.Layout(x=0, y=0, w=6, h=2)  # merged, not replaced

    assert await ph.dashboards.tiles.delete(board.id, made.id) is None
    assert made.id not in tile_ids(await ph.dashboards.get(board.id))
    with pytest.raises(pda.NotFoundError):
        await ph.dashboards.tiles.delete(board.id, made.id)


async def test_update_colour_of_an_insight_tile(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Colours")
    insight = await ph.insights.create(query=PAGEVIEWS, dashboards=[board.id])
    (tile,) = (await ph.dashboards.get(board.id)).tiles
    assert tile.insight is not None
    assert tile.insight.id == insight.id
    coloured = await ph.dashboards.tiles.update(board.id, tile.id, color="green")
    assert coloured.kind == "insight"
    assert coloured.color == "green"
    with pytest.raises(pda.BadRequestError):
        await ph.dashboards.tiles.update(board.id, tile.id, body="not text")


async def test_reorder_and_copy(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Reorder")
    other = await new_board(ph, "Copy target")
    a = await ph.dashboards.tiles.create_text(board.id, "A")
    b = await ph.dashboards.tiles.create_text(board.id, "B")
    c = await ph.dashboards.tiles.create_text(board.id, "C")
    reordered = await ph.dashboards.tiles.reorder(board.id, [c.id, a.id, b.id])
    assert type(reordered) is pda.Dashboard
    streamed = await ph.dashboards.stream_tiles(board.id).collect()
    assert tile_ids(streamed) == [c.id, a.id, b.id]

    with pytest.raises(pda.NotFoundError):
        await ph.dashboards.tiles.reorder(board.id, [a.id, 999_999])

    destination = await ph.dashboards.tiles.copy(other.id, a.id, from_dashboard=board.id)
    assert destination.id == other.id
    copies = [t for t in destination.tiles if t.text is not None]
    assert [t.text.body for t in copies if t.text is not None] == ["A"]
    assert a.id in tile_ids(await ph.dashboards.get(board.id))  # a copy, not a move


# --- insights ---------------------------------------------------------------------------------


async def test_insights_get_by_short_id_list_and_iter(ph: pda.AsyncPostHog) -> None:
    made = await ph.insights.create(name="Findable signups", query=PAGEVIEWS, tags=["t"])
    by_short = await ph.insights.get(made.short_id)
    assert by_short.id == made.id
    page = await ph.insights.list(short_id=made.short_id)
    assert [i.id for i in page.results] == [made.id]
    found = await ph.insights.list(search="Findable signups")
    assert made.id in [i.id for i in found.results]
    every = [i.id async for i in ph.insights.iter(page_size=2)]
    assert made.id in every
    assert len(every) == len(set(every))
    renamed = await ph.insights.update(made.id, name="Renamed", tags=[])
    assert (renamed.name, renamed.tags) == ("Renamed", [])


async def test_run_insights(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Run")
    insight = await ph.insights.create(name="Run me", query=PAGEVIEWS, dashboards=[board.id])
    await ph.dashboards.tiles.create_text(board.id, "text tiles are skipped")
    result = await ph.dashboards.run_insights(board.id, output_format="json")
    assert type(result) is pda.RunInsightsResult
    assert [run.insight.id for run in result.results] == [insight.id]
    assert result.results[0].insight.short_id == insight.short_id


# --- stream parameters ---------------------------------------------------------------------


async def test_stream_overrides_reach_the_metadata(ph: pda.AsyncPostHog) -> None:
    board = await ph.dashboards.create(name="Overrides", filters={"date_from": "-30d"})
    override = {"properties": [{"key": "$browser", "value": "Chrome"}]}
    streamed = await ph.dashboards.stream_tiles(board.id, filters_override=override).collect()
    got = await ph.dashboards.get(board.id, filters_override=override)
    # Merged over the stored filters: the key not overridden stays.
    assert streamed.filters.get("date_from") == "-30d"
    assert streamed.filters.get("properties") == override["properties"]
    assert got.filters == streamed.filters


async def test_stream_fallback_keeps_overrides() -> None:
    async with FakePostHog() as server, connect(server) as client:
        board = await client.dashboards.create(name="Fallback", filters={"date_from": "-30d"})
        override = {"date_to": "-1d"}
        async with client.dashboards.stream_tiles(board.id, filters_override=override) as stream:
            events = [e async for e in stream]
        assert stream.fallback_used is True
        meta = events[0]
        assert isinstance(meta, pda.MetadataEvent)
        assert meta.dashboard.filters.get("date_to") == "-1d"
        assert meta.dashboard.filters.get("date_from") == "-30d"


# --- sharing passwords and templates ----------------------------------------------------------


async def test_share_passwords(ph: pda.AsyncPostHog) -> None:
    board = await new_board(ph, "Shared")
    await ph.dashboards.sharing.update(board.id, enabled=True, password_required=True)
    made = await ph.dashboards.sharing.add_password(board.id, note="board members")
    assert type(made) is pda.NewSharePassword
    assert len(made.password) >= 8
    assert made.password not in repr(made)
    config = await ph.dashboards.sharing.get(board.id)
    assert [p.id for p in config.share_passwords] == [made.id]
    assert await ph.dashboards.sharing.remove_password(board.id, made.id) is None
    assert (await ph.dashboards.sharing.get(board.id)).share_passwords == []


async def test_templates(ph: pda.AsyncPostHog) -> None:
    page = await ph.dashboards.templates.list()
    assert page.results
    first = page.results[0]
    assert type(first) is pda.DashboardTemplate
    again = await ph.dashboards.templates.get(first.id)
    assert again.template_name == first.template_name
