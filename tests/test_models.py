"""Models: fixtures, older and newer servers, datetimes, reduced insights, layouts."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from conftest import dumps, fixture_path, load_fixture

import posthog_dash_async as pda
from posthog_dash_async.models import Layout

UTC = timezone.utc


def decode(payload: Any, type_: Any) -> Any:
    return msgspec.json.decode(dumps(payload), type=type_)


def _aware(value: datetime | None) -> None:
    assert isinstance(value, datetime)
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- fixtures ---------------------------------------------------------------------------


def test_dashboard_detail_fixture() -> None:
    raw = load_fixture("dashboard_detail.json")
    dashboard = decode(raw, pda.Dashboard)
    assert isinstance(dashboard, pda.Dashboard)
    assert isinstance(dashboard, pda.DashboardSummary)
    assert dashboard.id == 412
    assert dashboard.name == raw["name"]
    assert dashboard.description == raw["description"]
    assert dashboard.pinned is raw["pinned"]
    assert dashboard.filters == raw["filters"]
    assert dashboard.quick_filter_ids == raw["quick_filter_ids"]
    assert dashboard.team_id == 42
    _aware(dashboard.created_at)
    _aware(dashboard.last_accessed_at)
    assert isinstance(dashboard.created_by, pda.User)
    assert dashboard.created_by.uuid == raw["created_by"]["uuid"]
    assert [t.id for t in dashboard.tiles] == [9001, 9002, 9003]
    assert [t.kind for t in dashboard.tiles] == ["insight", "insight", "text"]
    first = dashboard.tiles[0]
    assert isinstance(first, pda.Tile)
    assert isinstance(first.insight, pda.Insight)
    raw_insight = raw["tiles"][0]["insight"]
    assert first.insight.id == raw_insight["id"]
    assert first.insight.short_id == raw_insight["short_id"]
    assert first.insight.query == raw_insight["query"]
    assert first.insight.result == raw_insight["result"]
    assert first.insight.filters_hash == raw_insight["filters_hash"]
    assert all(isinstance(ref, pda.TileRef) for ref in first.insight.dashboard_tiles)
    assert first.layouts == raw["tiles"][0]["layouts"]
    text = dashboard.tiles[2].text
    assert isinstance(text, pda.Text)
    assert text.body == raw["tiles"][2]["text"]["body"]
    assert dashboard.tiles[2].insight is None


def test_dashboard_list_page_fixture() -> None:
    raw = load_fixture("dashboards_list_page.json")
    page = decode(raw, pda.Page[pda.DashboardSummary])
    assert page.count == 7
    assert page.next == raw["next"]
    assert page.previous is None
    assert [d.id for d in page.results] == [item["id"] for item in raw["results"]]
    restricted = page.results[0]
    assert type(restricted) is pda.DashboardSummary
    assert restricted.id == 415
    assert restricted.restriction_level == 37
    assert restricted.effective_privilege_level == 21
    assert restricted.access_control_version == "v1"
    assert restricted.tags == ["finance"]
    assert restricted.creation_mode == "duplicate"
    for item in page.results:
        _aware(item.created_at)


def test_collaborator_fixture() -> None:
    raw = load_fixture("collaborator.json")
    collaborator = decode(raw, pda.Collaborator)
    assert collaborator.id == raw["id"]
    assert collaborator.dashboard_id == 415
    assert collaborator.level == 37
    assert collaborator.user.uuid == "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3"
    assert collaborator.user.first_name == "Tomás"
    assert collaborator.user.hedgehog_config == raw["user"]["hedgehog_config"]
    _aware(collaborator.added_at)
    _aware(collaborator.updated_at)
    many = decode([raw, raw], list[pda.Collaborator])
    assert [c.id for c in many] == [raw["id"], raw["id"]]


def test_sharing_configuration_fixture() -> None:
    raw = load_fixture("sharing_configuration.json")
    sharing = decode(raw, pda.SharingConfiguration)
    assert sharing.enabled is True
    assert sharing.access_token == raw["access_token"]
    assert sharing.settings == {"whitelabel": True, "noHeader": False}
    assert sharing.password_required is False
    assert sharing.share_passwords == []
    _aware(sharing.created_at)
    assert sharing.user_access_level is None


def test_unsaved_sharing_configuration() -> None:
    raw = {
        "created_at": None,
        "enabled": False,
        "access_token": "abcdefghijklmnopqrstuvwxyz0123",
        "settings": None,
        "password_required": False,
        "share_passwords": [],
    }
    sharing = decode(raw, pda.SharingConfiguration)
    assert sharing.created_at is None
    assert sharing.settings is None
    assert sharing.enabled is False


def test_share_passwords_decode() -> None:
    raw = load_fixture("sharing_configuration.json")
    raw["share_passwords"] = [
        {
            "id": "p1",
            "created_at": "2025-10-01T12:31:00Z",
            "note": "for the board",
            "created_by_email": "a@example.com",
            "is_active": True,
        }
    ]
    sharing = decode(raw, pda.SharingConfiguration)
    assert isinstance(sharing.share_passwords[0], pda.SharePassword)
    assert sharing.share_passwords[0].note == "for the board"
    _aware(sharing.share_passwords[0].created_at)


def _transcript_events() -> list[dict[str, Any]]:
    data = fixture_path("stream_tiles_transcript.sse").read_bytes()
    events = []
    for block in data.split(b"\n\n"):
        if block:
            assert block.startswith(b"data: ")
            events.append(json.loads(block[len(b"data: ") :]))
    return events


def test_transcript_events_decode() -> None:
    events = _transcript_events()
    assert [e["type"] for e in events] == ["metadata", "tile", "error", "complete"]
    meta = decode(events[0], pda.MetadataEvent)
    assert isinstance(meta.dashboard, pda.Dashboard)
    assert meta.dashboard.id == 412
    assert [t.id for t in meta.dashboard.tiles] == [9001, 9002]
    tile = decode(events[1], pda.TileEvent)
    assert tile.order == 2
    assert tile.tile.id == 9003
    assert tile.tile.kind == "text"
    failed = decode(events[2], pda.TileErrorEvent)
    assert failed.tile_id == 9004
    assert isinstance(failed.error, str)
    assert failed.error == events[2]["error"]
    assert decode(events[3], pda.CompleteEvent) == pda.CompleteEvent()


# --- older and newer servers ------------------------------------------------------------


def _old_server_detail() -> dict[str, Any]:
    raw = copy.deepcopy(load_fixture("dashboard_detail.json"))
    del raw["last_viewed_at"]
    del raw["quick_filter_ids"]
    for tile in raw["tiles"]:
        for key in ("button_tile", "show_description", "transparent_background"):
            tile.pop(key, None)
        if tile.get("insight"):
            for key in ("resolved_date_range", "alerts", "last_viewed_at"):
                tile["insight"].pop(key, None)
    return raw


def test_old_server_payload_decodes_with_defaults() -> None:
    raw = _old_server_detail()
    assert "quick_filter_ids" not in raw
    assert "alerts" not in raw["tiles"][0]["insight"]
    dashboard = decode(raw, pda.Dashboard)
    assert dashboard.last_viewed_at is None
    assert dashboard.quick_filter_ids == []
    assert [t.id for t in dashboard.tiles] == [9001, 9002, 9003]
    tile = dashboard.tiles[0]
    assert tile.button_tile is None
    assert tile.show_description is None
    assert tile.transparent_background is None
    assert tile.insight is not None
    assert tile.insight.alerts == []
    assert tile.insight.resolved_date_range is None
    assert tile.insight.last_viewed_at is None


def test_old_server_list_item_decodes() -> None:
    raw = copy.deepcopy(load_fixture("dashboards_list_page.json"))
    for item in raw["results"]:
        del item["last_viewed_at"]
    page = decode(raw, pda.Page[pda.DashboardSummary])
    assert all(d.last_viewed_at is None for d in page.results)


def test_old_server_tile_key_set() -> None:
    # The exact key set of a mid-2025 tile.
    raw = {
        "color": None,
        "filters_overrides": {},
        "id": 1,
        "insight": None,
        "is_cached": False,
        "last_refresh": None,
        "layouts": {},
        "order": 0,
        "text": {"id": 3, "body": "hello", "last_modified_at": "2025-06-01T00:00:00Z"},
    }
    tile = decode(raw, pda.Tile)
    assert tile.kind == "text"
    assert tile.text is not None
    assert tile.text.dashboard_tiles == []


def _new_server_detail() -> dict[str, Any]:
    raw = copy.deepcopy(load_fixture("dashboard_detail.json"))
    raw["folder"] = {"path": "Unfiled/Dashboards", "id": "f1"}
    raw["brand_new_field"] = [1, 2, 3]
    for tile in raw["tiles"]:
        tile["widget"] = None
        tile["future_tile_key"] = {"nested": True}
        if tile.get("insight"):
            tile["insight"]["future_insight_key"] = "x"
    raw["tiles"].append(
        {
            "id": 9100,
            "insight": None,
            "text": None,
            "button_tile": None,
            "widget": {"id": "w-1", "kind": "session_replays", "config": {"limit": 5}},
            "layouts": {"sm": {"x": 0, "y": 20, "w": 6, "h": 4}},
            "color": None,
            "filters_overrides": {},
            "show_description": None,
            "transparent_background": None,
            "order": 3,
            "last_refresh": None,
            "is_cached": False,
        }
    )
    return raw


def test_new_server_payload_decodes() -> None:
    dashboard = decode(_new_server_detail(), pda.Dashboard)
    assert [t.id for t in dashboard.tiles] == [9001, 9002, 9003, 9100]
    widget = dashboard.tiles[3]
    assert widget.kind == "widget"
    assert widget.widget == {"id": "w-1", "kind": "session_replays", "config": {"limit": 5}}
    assert dashboard.tiles[0].kind == "insight"


def test_new_server_list_item_with_search_match_type() -> None:
    raw = copy.deepcopy(load_fixture("dashboards_list_page.json"))
    raw["results"][0]["search_match_type"] = "exact"
    raw["results"][1]["search_match_type"] = "similar"
    raw["results"][1]["another_new_key"] = {"a": 1}
    raw["extra_page_key"] = True
    page = decode(raw, pda.Page[pda.DashboardSummary])
    assert page.results[0].search_match_type == "exact"
    assert page.results[1].search_match_type == "similar"
    assert page.results[2].search_match_type is None


def test_new_server_sharing_and_collaborator() -> None:
    sharing_raw = load_fixture("sharing_configuration.json")
    sharing_raw["user_access_level"] = "editor"
    sharing_raw["unknown"] = 1
    assert decode(sharing_raw, pda.SharingConfiguration).user_access_level == "editor"
    collaborator_raw = load_fixture("collaborator.json")
    collaborator_raw["unknown"] = {"x": 1}
    collaborator_raw["user"]["unknown"] = None
    assert decode(collaborator_raw, pda.Collaborator).level == 37


def test_reduced_insight_decodes() -> None:
    raw = load_fixture("dashboard_detail.json")
    raw["tiles"][0]["insight"] = {"id": 77, "short_id": "aBcD1234", "user_access_level": "none"}
    tile = decode(raw, pda.Dashboard).tiles[0]
    assert tile.kind == "insight"
    insight = tile.insight
    assert insight is not None
    assert (insight.id, insight.short_id, insight.user_access_level) == (77, "aBcD1234", "none")
    assert insight.name is None
    assert insight.result is None
    assert insight.query is None
    assert insight.filters == {}
    assert insight.dashboards == []
    assert insight.created_at is None


def test_tile_with_serialization_error() -> None:
    tile = decode(
        {"id": 9004, "error": {"type": "ValidationError", "message": "bad query"}}, pda.Tile
    )
    assert tile.kind == "error"
    assert tile.error == pda.TileErrorInfo(type="ValidationError", message="bad query")
    assert tile.insight is None
    assert tile.layout() is None


def test_button_tile_decodes() -> None:
    raw = {
        "id": 5,
        "insight": None,
        "text": None,
        "button_tile": {
            "id": "0190e1b2-0000-7000-8000-000000000001",
            "url": "/insights",
            "text": "Open",
            "placement": "right",
            "style": "primary",
        },
        "layouts": {},
    }
    tile = decode(raw, pda.Tile)
    assert tile.kind == "button"
    assert isinstance(tile.button_tile, pda.ButtonTile)
    assert tile.button_tile.placement == "right"


def test_tile_kind_unknown_when_empty() -> None:
    assert decode({"id": 1}, pda.Tile).kind == "unknown"


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode({"id": "412"}, pda.Dashboard)
    with pytest.raises(msgspec.ValidationError):
        decode({"count": 1, "results": [{"name": "no id"}]}, pda.Page[pda.DashboardSummary])


def test_models_are_frozen() -> None:
    dashboard = decode(load_fixture("dashboard_detail.json"), pda.Dashboard)
    with pytest.raises(AttributeError):
        dashboard.name = "changed"  # type: ignore[misc]
    renamed = msgspec.structs.replace(dashboard, name="changed")
    assert renamed.name == "changed"
    assert dashboard.name != "changed"


# --- datetimes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-03T09:41:27.512043Z", datetime(2025, 11, 3, 9, 41, 27, 512043, tzinfo=UTC)),
        ("2025-11-03T09:41:27Z", datetime(2025, 11, 3, 9, 41, 27, tzinfo=UTC)),
        ("2025-11-03T09:41:27+00:00", datetime(2025, 11, 3, 9, 41, 27, tzinfo=UTC)),
        ("2025-11-03T09:41:27.5+00:00", datetime(2025, 11, 3, 9, 41, 27, 500000, tzinfo=UTC)),
        ("2025-11-03T10:41:27+01:00", datetime(2025, 11, 3, 9, 41, 27, tzinfo=UTC)),
        ("2025-11-03 09:41:27Z", datetime(2025, 11, 3, 9, 41, 27, tzinfo=UTC)),
        ("2025-11-03T09:41:27.000001Z", datetime(2025, 11, 3, 9, 41, 27, 1, tzinfo=UTC)),
    ],
)
def test_datetime_forms(text: str, expected: datetime) -> None:
    summary = decode({"id": 1, "created_at": text, "last_refresh": text}, pda.DashboardSummary)
    for value in (summary.created_at, summary.last_refresh):
        assert isinstance(value, datetime)
        assert value.tzinfo is not None
        assert value == expected
    insight = decode({"id": 1, "last_refresh": text, "cache_target_age": text}, pda.Insight)
    assert insight.last_refresh == expected
    assert insight.cache_target_age == expected


def test_null_datetimes() -> None:
    summary = decode({"id": 1, "created_at": None, "last_refresh": None}, pda.DashboardSummary)
    assert summary.created_at is None
    assert summary.last_refresh is None


def test_every_fixture_datetime_is_aware() -> None:
    dashboard = decode(load_fixture("dashboard_detail.json"), pda.Dashboard)
    found = 0
    for tile in dashboard.tiles:
        for value in (tile.last_refresh,):
            if value is not None:
                _aware(value)
                found += 1
        if tile.insight is not None:
            for value in (
                tile.insight.created_at,
                tile.insight.updated_at,
                tile.insight.last_modified_at,
                tile.insight.last_refresh,
            ):
                if value is not None:
                    _aware(value)
                    found += 1
    assert found >= 4


# --- layouts ----------------------------------------------------------------------------


def test_layout_with_numbers() -> None:
    tile = decode({"id": 1, "layouts": {"sm": {"x": 0, "y": 2, "w": 6, "h": 5}}}, pda.Tile)
    assert tile.layout() == Layout(x=0, y=2, w=6, h=5)
    assert tile.layout("sm") == tile.layout()


def test_layout_with_string_and_float_numbers() -> None:
    raw = {
        "id": 1,
        "layouts": {
            "sm": {"x": "0", "y": " 12 ", "w": 6.0, "h": "5", "i": "1", "minW": 3, "moved": False},
            "xs": {"x": "zero", "y": True, "w": 1.5, "h": None},
        },
    }
    tile = decode(raw, pda.Tile)
    assert tile.layout("sm") == Layout(x=0, y=12, w=6, h=5)
    assert tile.layout("xs") == Layout(x=None, y=None, w=None, h=None)


def test_missing_layouts() -> None:
    assert decode({"id": 1}, pda.Tile).layout() is None
    assert decode({"id": 1, "layouts": {}}, pda.Tile).layout() is None
    only_sm = decode({"id": 1, "layouts": {"sm": {"x": 1, "y": 1}}}, pda.Tile)
    assert only_sm.layout("xs") is None
    assert only_sm.layout("sm") == Layout(x=1, y=1, w=None, h=None)
    not_a_dict = decode({"id": 1, "layouts": {"sm": "broken"}}, pda.Tile)
    assert not_a_dict.layout() is None


def test_fixture_layouts() -> None:
    raw = load_fixture("dashboard_detail.json")
    dashboard = decode(raw, pda.Dashboard)
    for tile, raw_tile in zip(dashboard.tiles, raw["tiles"], strict=True):
        layout = tile.layout("sm")
        assert layout is not None
        assert layout.y == int(raw_tile["layouts"]["sm"]["y"])
        assert layout.x == int(raw_tile["layouts"]["sm"]["x"])
