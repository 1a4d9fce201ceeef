"""The plan's comparison as pure functions on plain values (no server)."""

from __future__ import annotations

from typing import Any

import msgspec

import posthog_dash_async as pda
from posthog_dash_async._ascode import diff_document, prune_steps
from posthog_dash_async._document import derived_tile_key, text_marker

HOST = "https://eu.posthog.com"
QUERY = {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}}


def layout(x: int, y: int, w: int = 6, h: int = 5) -> pda.TileLayouts:
    return pda.TileLayouts(sm=pda.TileLayout(x=x, y=y, w=w, h=h))


def doc(**changes: Any) -> pda.DashboardDocument:
    fields: dict[str, Any] = {
        "key": "growth",
        "name": "Growth",
        "tags": ["weekly"],
        "tiles": [
            pda.InsightTileDocument(key="wau", name="WAU", query=QUERY, layouts=layout(0, 0)),
            pda.TextTileDocument(key="notes", body="Notes", layouts=layout(6, 0)),
        ],
    }
    fields.update(changes)
    return pda.DashboardDocument(**fields)


def server(*, tiles: list[dict[str, Any]] | None = None, **changes: Any) -> pda.Dashboard:
    data: dict[str, Any] = {
        "id": 7,
        "name": "Growth",
        "description": "",
        "tags": ["weekly", "pda:growth"],
        "filters": {},
        "variables": None,
        "team_id": 3,
        "tiles": tiles
        if tiles is not None
        else [
            insight_tile(100, 500, tags=["pda:growth/wau"]),
            text_tile(101, 600, "Notes" + text_marker("notes"), sm=(6, 0)),
        ],
    }
    data.update(changes)
    return msgspec.convert(data, pda.Dashboard)


def insight_tile(
    tile_id: int,
    insight_id: int,
    *,
    tags: list[str],
    name: str = "WAU",
    query: dict[str, Any] | None = None,
    sm: tuple[int, int] = (0, 0),
    color: str | None = None,
) -> dict[str, Any]:
    return {
        "id": tile_id,
        "color": color,
        "layouts": {"sm": {"x": sm[0], "y": sm[1], "w": 6, "h": 5}},
        "insight": {
            "id": insight_id,
            "name": name,
            "description": None,
            "tags": tags,
            "query": query if query is not None else QUERY,
        },
    }


def text_tile(tile_id: int, text_id: int, body: str, *, sm: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": tile_id,
        "layouts": {"sm": {"x": sm[0], "y": sm[1], "w": 6, "h": 5}},
        "text": {"id": text_id, "body": body},
    }


def diff(
    document: pda.DashboardDocument,
    current: pda.Dashboard | None,
    *,
    managed: bool = True,
    prune: bool = False,
) -> Any:
    return diff_document(document, current, managed=managed, host=HOST, project=3, prune=prune)


def summary(steps: list[pda.Step]) -> list[tuple[str, str, str | None, list[str]]]:
    return [(s.action, s.kind, s.tile, [c.field for c in s.changes]) for s in steps]


def test_a_matching_dashboard_needs_no_step() -> None:
    result = diff(doc(), server())
    assert result.steps == []
    assert [(u.kind, u.tile, u.id) for u in result.unchanged] == [
        ("dashboard", None, 7),
        ("insight", "wau", 100),
        ("text", "notes", 101),
    ]


def test_a_new_dashboard_is_created_with_every_tile() -> None:
    result = diff(doc(), None, managed=False)
    assert [(s.action, s.kind, s.tile) for s in result.steps] == [
        ("create", "dashboard", None),
        ("create", "insight", "wau"),
        ("create", "text", "notes"),
    ]
    assert result.unchanged == []


def test_changes_are_named_field_by_field() -> None:
    changed = doc(
        name="Growth v2",
        filters={"date_from": "-7d"},
        tiles=[
            pda.InsightTileDocument(
                key="wau", name="WAU", query={**QUERY, "full": True}, layouts=layout(0, 5)
            ),
            pda.TextTileDocument(key="notes", body="New notes", color="red", layouts=layout(6, 0)),
        ],
    )
    result = diff(changed, server())
    assert summary(result.steps) == [
        ("update", "dashboard", None, ["name", "filters"]),
        ("update", "insight", "wau", ["query"]),
        ("update", "tile", "wau", ["layouts.sm"]),
        ("update", "text", "notes", ["body"]),
        ("update", "tile", "notes", ["color"]),
    ]
    insight_step = result.steps[1]
    assert insight_step.id == 500  # the insight, not the tile
    layout_step = result.steps[2]
    assert layout_step.id == 100
    assert layout_step.changes[0].old == {"x": 0, "y": 0, "w": 6, "h": 5}
    assert layout_step.changes[0].new == {"x": 0, "y": 5, "w": 6, "h": 5}


def test_a_breakpoint_the_document_leaves_out_is_not_touched() -> None:
    current = server()
    no_layouts = doc(
        tiles=[
            pda.InsightTileDocument(key="wau", name="WAU", query=QUERY),
            pda.TextTileDocument(key="notes", body="Notes"),
        ]
    )
    assert diff(no_layouts, current).steps == []


def test_removal_only_with_prune_and_only_of_sdk_made_tiles() -> None:
    hand_made = insight_tile(102, 501, tags=["mine"], name="Hand made", sm=(0, 5))
    hand_text = text_tile(103, 601, "Someone's note", sm=(6, 5))
    current = server(
        tiles=[
            insight_tile(100, 500, tags=["pda:growth/wau"]),
            text_tile(101, 600, "Notes" + text_marker("notes"), sm=(6, 0)),
            hand_made,
            hand_text,
        ]
    )
    only_wau = doc(tiles=[pda.InsightTileDocument(key="wau", name="WAU", query=QUERY)])
    kept = diff(only_wau, current)
    assert kept.steps == []
    assert summary(kept.not_pruned) == [("remove", "text", "notes", [])]
    pruned = diff(only_wau, current, prune=True)
    assert [(s.action, s.kind, s.id) for s in pruned.steps] == [("remove", "text", 101)]


def test_a_pulled_dashboard_is_matched_by_derived_tile_keys() -> None:
    current = server(
        tags=["weekly"],
        tiles=[insight_tile(100, 500, tags=[]), text_tile(101, 600, "Notes", sm=(6, 0))],
    )
    pulled = doc(
        tiles=[
            pda.InsightTileDocument(
                key=derived_tile_key(HOST, 3, 100), name="WAU", query=QUERY, layouts=layout(0, 0)
            ),
            pda.TextTileDocument(
                key=derived_tile_key(HOST, 3, 101), body="Notes", layouts=layout(6, 0)
            ),
        ]
    )
    result = diff(pulled, current, managed=False)
    # Nothing to do, and no identity tag is added to a dashboard the SDK did not create.
    assert result.steps == []
    # Even with prune, tiles the SDK did not make are never removed.
    assert diff(doc(tiles=[]), current, managed=False, prune=True).steps == []


def test_an_sdk_dashboard_that_lost_its_identity_tag_gets_it_back() -> None:
    result = diff(doc(), server(tags=["weekly"]))
    assert summary(result.steps) == [("update", "dashboard", None, ["tags"])]
    assert result.steps[0].changes[0].new == ["pda:growth", "weekly"]


def test_a_tile_whose_kind_changed_is_created_anew() -> None:
    as_text = doc(tiles=[pda.TextTileDocument(key="wau", body="now text")])
    result = diff(as_text, server(), prune=True)
    assert summary(result.steps) == [
        ("create", "text", "wau", ["body", "color", "layouts"]),
        ("remove", "text", "notes", []),
    ]


def test_prune_steps_remove_sdk_insights_then_the_dashboard() -> None:
    current = server(
        tiles=[
            insight_tile(100, 500, tags=["pda:growth/wau"]),
            insight_tile(102, 501, tags=["other"], sm=(0, 5)),
        ]
    )
    steps = prune_steps("growth", current)
    assert [(s.kind, s.id) for s in steps] == [("insight", 500), ("dashboard", 7)]


def test_step_describe_reads_well() -> None:
    result = diff(doc(name="Growth v2"), server())
    assert result.steps[0].describe() == "update dashboard 'Growth v2' (#7): name"


def test_a_text_body_ending_in_a_newline_keeps_it() -> None:
    current = server(
        tiles=[
            insight_tile(100, 500, tags=["pda:growth/wau"]),
            text_tile(101, 600, "Notes\n" + text_marker("notes") + "\n", sm=(6, 0)),
        ]
    )
    with_newline = doc(
        tiles=[
            pda.InsightTileDocument(key="wau", name="WAU", query=QUERY, layouts=layout(0, 0)),
            pda.TextTileDocument(key="notes", body="Notes\n", layouts=layout(6, 0)),
        ]
    )
    assert diff(with_newline, current).steps == []
    assert [s.changes[0].new for s in diff(doc(), current).steps] == ["Notes"]


def test_an_sdk_insight_also_on_other_dashboards_only_leaves_this_one() -> None:
    shared = insight_tile(100, 500, tags=["pda:growth/wau"])
    shared["insight"]["dashboard_tiles"] = [
        {"id": 100, "dashboard_id": 7, "deleted": False},
        {"id": 300, "dashboard_id": 9, "deleted": False},
    ]
    current = server(tiles=[shared])
    result = diff(doc(tiles=[]), current, prune=True)
    [step] = result.steps
    assert (step.action, step.kind, step.id) == ("remove", "insight", 500)
    assert step.changes == [pda.Change("dashboards", [7, 9], [9])]
    assert step.describe().endswith("leaves this dashboard, stays on the others")
    [alone] = prune_steps("growth", current)[:-1]
    assert alone.changes == [pda.Change("dashboards", [7, 9], [9])]
