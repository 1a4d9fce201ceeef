"""DashboardDocument: the format, its stable JSON, located errors, identity and the pure
mapping from a server dashboard (plain values, no server)."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import msgspec
import pytest
from conftest import load_fixture

import posthog_dash_async as pda
from posthog_dash_async._document import (
    button_key,
    dashboard_identity_tag,
    dashboard_key_of_tags,
    derived_dashboard_key,
    derived_tile_key,
    document_from_dashboard,
    insight_identity_tag,
    split_text_marker,
    text_marker,
)

HOST = "https://us.posthog.com"


def sample() -> pda.DashboardDocument:
    return pda.DashboardDocument(
        key="growth",
        name="Growth",
        description="Acquisition",
        tags=["weekly", "growth"],
        filters={"date_from": "-30d"},
        tiles=[
            pda.InsightTileDocument(
                key="wau",
                name="WAU",
                query={"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}},
                layouts=pda.TileLayouts(sm=pda.TileLayout(x=0, y=0, w=6, h=5)),
            ),
            pda.TextTileDocument(
                key="notes",
                body="# Notes",
                color="blue",
                layouts=pda.TileLayouts(
                    sm=pda.TileLayout(x=6, y=0, w=6, h=5), xs=pda.TileLayout(x=0, y=5, w=1, h=2)
                ),
            ),
            pda.ButtonTileDocument(key="cta", url="https://example.com", text="Open"),
        ],
    )


def as_data(doc: pda.DashboardDocument) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(doc.to_json())
    return data


# --- to_json / from_json ------------------------------------------------------------------


def test_to_json_is_sorted_indented_and_ends_with_one_newline() -> None:
    text = sample().to_json()
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["tiles"][0]) == sorted(data["tiles"][0])
    assert data["version"] == pda.DOCUMENT_VERSION == 1
    assert '\n  "key": "growth",\n' in text
    # The same document gives the same bytes, and reading it back gives the same document.
    again = pda.DashboardDocument.from_json(text)
    assert again == sample()
    assert again.to_json() == text


def test_to_json_has_no_server_ids_and_keeps_tile_kinds() -> None:
    data = as_data(sample())
    assert [t["kind"] for t in data["tiles"]] == ["insight", "text", "button"]
    assert data["tiles"][1]["layouts"] == {
        "sm": {"h": 5, "w": 6, "x": 6, "y": 0},
        "xs": {"h": 2, "w": 1, "x": 0, "y": 5},
    }
    assert "id" not in data
    assert all("id" not in t for t in data["tiles"])


@pytest.mark.parametrize(
    ("mutate", "where", "words"),
    [
        (lambda d: d["tiles"][1]["layouts"]["sm"].update(w="6"), "tiles[1].layouts.sm.w", "int"),
        (lambda d: d["tiles"][1]["layouts"]["sm"].update(w=0), "tiles[1].layouts.sm.w", ">= 1"),
        (lambda d: d["tiles"][1]["layouts"]["sm"].update(x=8), "tiles[1].layouts.sm.w", "x + w"),
        (lambda d: d["tiles"][1]["layouts"]["sm"].update(x=12), "tiles[1].layouts.sm.x", "11"),
        (lambda d: d["tiles"][1]["layouts"].update(md={}), "tiles[1].layouts", "md"),
        (lambda d: d["tiles"][0].update(colour="red"), "tiles[0]", "colour"),
        (lambda d: d["tiles"][0].update(kind="chart"), "tiles[0].kind", "chart"),
        (lambda d: d["tiles"][0].pop("query"), "tiles[0]", "query"),
        (lambda d: d["tiles"][0]["query"].pop("kind"), "tiles[0].query.kind", "kind"),
        (lambda d: d["tiles"][2].update(key="wau"), "tiles[2].key", "tiles[0]"),
        (lambda d: d["tiles"][2].update(key="no spaces"), "tiles[2].key", "not a valid key"),
        (lambda d: d["tiles"][1].update(body=""), "tiles[1].body", "body"),
        (lambda d: d["tiles"][1].update(body="x" * 4000), "tiles[1].body", "at most"),
        (lambda d: d.update(tags=["pda:other"]), "tags[0]", "reserved"),
        (lambda d: d.update(key=""), "key", "not a valid key"),
        (lambda d: d.update(version=2), "version", "newer than this SDK"),
        (lambda d: d.update(version="1"), "version", "positive integer"),
        (lambda d: d.pop("version"), "version", "missing"),
        (lambda d: d.update(filters=[]), "filters", "object"),
    ],
)
def test_from_json_names_the_place_of_the_problem(mutate: Any, where: str, words: str) -> None:
    data = as_data(sample())
    mutate(data)
    with pytest.raises(pda.DocumentError) as info:
        pda.DashboardDocument.from_json(json.dumps(data), source="growth.json")
    err = info.value
    assert err.where == where
    assert words in err.problem
    assert str(err).startswith(f"growth.json: {where}: ")
    assert isinstance(err, ValueError)
    assert isinstance(err, pda.PostHogError)


def test_from_json_rejects_text_that_is_not_a_json_object() -> None:
    with pytest.raises(pda.DocumentError, match="not valid JSON"):
        pda.DashboardDocument.from_json("{nope")
    with pytest.raises(pda.DocumentError, match="JSON object, got list"):
        pda.DashboardDocument.from_json("[]")


def test_building_a_bad_document_in_python_fails_the_same_way() -> None:
    with pytest.raises(pda.DocumentError) as info:
        pda.DashboardDocument(
            key="k",
            name="x",
            tiles=[
                pda.TextTileDocument(key="a", body="1"),
                pda.TextTileDocument(key="a", body="2"),
            ],
        )
    assert info.value.where == "tiles[1].key"


def test_document_error_pickles() -> None:
    err = pda.DocumentError("tiles[0].key", "bad", source="f.json")
    back = pickle.loads(pickle.dumps(err))
    assert (back.where, back.problem, back.source, str(back)) == (
        "tiles[0].key",
        "bad",
        "f.json",
        str(err),
    )


# --- identity -------------------------------------------------------------------------------


def test_identity_tags_and_text_marker() -> None:
    assert dashboard_identity_tag("growth") == "pda:growth" == sample().identity_tag
    assert insight_identity_tag("growth", "wau") == "pda:growth/wau"
    assert dashboard_key_of_tags(["a", "pda:growth/wau", "pda:growth"]) == "growth"
    assert dashboard_key_of_tags(["a", "pda:"]) is None
    body = "# Notes\n\nsome text" + text_marker("notes")
    assert split_text_marker(body) == ("# Notes\n\nsome text", "notes")
    assert split_text_marker("plain [pda] text") == ("plain [pda] text", None)


def test_derived_keys_are_stable_and_depend_on_where_the_thing_lives() -> None:
    a = derived_dashboard_key(HOST, 42, 412)
    assert a == derived_dashboard_key(HOST + "/", 42, 412)
    assert a != derived_dashboard_key(HOST, 43, 412)
    assert a != derived_dashboard_key("https://eu.posthog.com", 42, 412)
    assert derived_tile_key(HOST, 42, 9001) != derived_tile_key(HOST, 42, 9002)
    assert button_key("/a", "A", "left", None) == button_key("/a", "A", "left", None)
    assert button_key("/a", "A", "left", None) != button_key("/a", "B", "left", None)


# --- from a server dashboard (the spec's fixture) --------------------------------------------


def fixture_dashboard(**changes: Any) -> pda.Dashboard:
    data = load_fixture("dashboard_detail.json")
    data.update(changes)
    return msgspec.convert(data, pda.Dashboard)


def test_document_from_the_fixture_dashboard() -> None:
    raw = load_fixture("dashboard_detail.json")
    doc, unsupported = document_from_dashboard(fixture_dashboard(), host=HOST, project=42)
    assert unsupported == []
    assert doc.key == derived_dashboard_key(HOST, 42, 412)
    assert doc.name == raw["name"]
    assert doc.description == raw["description"]
    assert doc.tags == sorted(raw["tags"])
    assert doc.filters == raw["filters"]
    by_id = {t["id"]: t for t in raw["tiles"]}
    insight_tiles = [t for t in doc.tiles if isinstance(t, pda.InsightTileDocument)]
    server_insights = [t for t in raw["tiles"] if t["insight"]]
    assert len(insight_tiles) == len(server_insights)
    for tile_doc, tile in zip(insight_tiles, sorted(server_insights, key=_sm_order), strict=True):
        # The query is kept exactly: same JSON, byte for byte once keys are sorted.
        assert msgspec.json.encode(tile_doc.query, order="sorted") == msgspec.json.encode(
            tile["insight"]["query"], order="sorted"
        )
        assert tile_doc.key == derived_tile_key(HOST, 42, tile["id"])
        sm = tile["layouts"]["sm"]
        assert tile_doc.layouts.sm == pda.TileLayout(x=sm["x"], y=sm["y"], w=sm["w"], h=sm["h"])
    assert set(by_id) >= {9001, 9002, 9003}
    text = next(t for t in doc.tiles if isinstance(t, pda.TextTileDocument))
    assert text.body == by_id[9003]["text"]["body"]
    # No server-assigned values anywhere in the text.
    text_json = doc.to_json()
    for value in ("2301", "aZ3kP9qW", "Priya", "2025-", '"id"'):
        assert value not in text_json


def _sm_order(tile: dict[str, Any]) -> tuple[int, int]:
    sm = tile["layouts"]["sm"]
    return (sm["y"], sm["x"])


def test_tiles_come_in_layout_order() -> None:
    raw = load_fixture("dashboard_detail.json")
    tiles = copy.deepcopy(raw["tiles"])
    tiles[0]["layouts"]["sm"] = {"x": 6, "y": 20, "w": 6, "h": 5}  # move the first to the end
    doc, _ = document_from_dashboard(fixture_dashboard(tiles=tiles), host=HOST, project=42)
    assert doc.tiles[-1].key == derived_tile_key(HOST, 42, tiles[0]["id"])


def test_sdk_made_things_keep_their_keys_and_lose_their_markers() -> None:
    raw = load_fixture("dashboard_detail.json")
    tiles = copy.deepcopy(raw["tiles"])
    tiles[0]["insight"]["tags"] = ["pda:growth/wau", "team"]
    text = next(t for t in tiles if t["text"])
    text["text"]["body"] = "Hello" + text_marker("hello")
    d = fixture_dashboard(tiles=tiles, tags=["pda:growth", "weekly"])
    doc, _ = document_from_dashboard(d, host=HOST, project=42)
    assert doc.key == "growth"
    assert doc.tags == ["weekly"]
    assert doc.tile("wau") is not None
    hello = doc.tile("hello")
    assert isinstance(hello, pda.TextTileDocument)
    assert hello.body == "Hello"


def test_tiles_a_document_cannot_describe_are_reported() -> None:
    raw = load_fixture("dashboard_detail.json")
    tiles = copy.deepcopy(raw["tiles"])
    tiles[0]["insight"]["query"] = None  # a legacy filters-only insight
    tiles.append(
        {"id": 9999, "widget": {"id": "w", "widget_type": "x"}, "layouts": {}, "insight": None}
    )
    tiles.append({"id": 9998, "error": {"type": "DashboardTileError", "message": "broken"}})
    doc, unsupported = document_from_dashboard(
        fixture_dashboard(tiles=tiles), host=HOST, project=42
    )
    assert sorted(u.tile_id for u in unsupported) == [tiles[0]["id"], 9998, 9999]
    assert "legacy" in next(u.reason for u in unsupported if u.tile_id == tiles[0]["id"])
    assert len(doc.tiles) == len(raw["tiles"]) - 1


def test_unusable_server_layouts_are_left_out_not_invented() -> None:
    raw = load_fixture("dashboard_detail.json")
    tiles = copy.deepcopy(raw["tiles"])
    tiles[0]["layouts"] = {"sm": {"x": "2", "y": 0, "w": 4, "h": 3}, "xs": {"x": 0}}
    doc, _ = document_from_dashboard(fixture_dashboard(tiles=tiles), host=HOST, project=42)
    tile = doc.tile(derived_tile_key(HOST, 42, tiles[0]["id"]))
    assert tile is not None
    assert tile.layouts == pda.TileLayouts(sm=pda.TileLayout(x=2, y=0, w=4, h=3))
