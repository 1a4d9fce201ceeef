"""The ``tiles`` entries of a dashboard PATCH (NEWEST): validated before any write, then
applied: text and button upserts, display fields, ``layouts`` merged per breakpoint and
checked on the 12-column grid, and ``duplicate_tiles``. An ``insight`` key is ignored: an
insight tile is added or removed through the insight's ``dashboards`` (``insights.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .._drf import APIError, parse_bool, parse_char, parse_int
from .._state import Button, Dashboard, State, Text, Tile, User, new_uuid7

__all__ = [
    "GRID_COLUMNS",
    "TEXT_BODY_MAX",
    "apply_entry",
    "duplicate_entries",
    "merge_layouts",
    "validate_entry",
]

GRID_COLUMNS = 12
TEXT_BODY_MAX = 4000
_DISPLAY_FIELDS = (
    "layouts",
    "color",
    "filters_overrides",
    "show_description",
    "transparent_background",
)


def validate_entry(state: State, dashboard: Dashboard, tile: Any) -> int | None:
    """Check one ``tiles`` entry before anything is written.

    Returns the id of a display-only entry that names no tile of this dashboard (the caller
    reports all of them at once, as PostHog does), else ``None``.
    """
    if not isinstance(tile, dict):
        name = "list" if isinstance(tile, list) else type(tile).__name__
        raise APIError.validation(f"Invalid data. Expected a dictionary, but got {name}.", "tiles")
    if "color" in tile:
        parse_char(tile["color"], "color", max_length=400, allow_null=True)
    for name in ("show_description", "transparent_background", "deleted"):
        if name in tile:
            parse_bool(tile[name], name, allow_null=True)
    overrides = tile.get("filters_overrides")
    if overrides is not None and not isinstance(overrides, dict):
        raise APIError.validation("Filters must be a dictionary", "filters_overrides")
    tile_id = tile.get("id")
    existing = state.tiles.get(tile_id) if isinstance(tile_id, int) else None
    if existing is not None and existing.dashboard_id != dashboard.id:
        existing = None
    if "layouts" in tile:
        merge_layouts(existing.layouts if existing is not None else {}, tile["layouts"])
    text = tile.get("text")
    if isinstance(text, dict):
        _validate_text(state, dashboard, text)
        return None
    button = tile.get("button_tile")
    if isinstance(button, dict):
        _validate_button(button)
        return None
    if tile_id is not None and existing is None:
        return tile_id if isinstance(tile_id, int) else None
    return None


def merge_layouts(stored: Any, given: Any) -> dict[str, Any]:
    """NEWEST's PATCH ``layouts``: merged per breakpoint over the stored ones, then checked.

    The merged ``sm`` layout must exist and fit the 12-column grid.
    """
    if not isinstance(given, dict):
        raise APIError.validation(
            f'Expected a dictionary of items but got type "{type(given).__name__}".',
            "layouts",
            "not_a_dict",
        )
    merged: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
    for size, layout in given.items():
        if not isinstance(layout, dict):
            raise APIError.validation(
                f'Expected a dictionary of items but got type "{type(layout).__name__}".',
                f"layouts__{size}",
                "not_a_dict",
            )
        before = merged.get(size)
        merged[size] = {**(before if isinstance(before, dict) else {}), **layout}
    sm = merged.get("sm")
    if not isinstance(sm, dict):
        raise APIError.validation("This field is required.", "layouts__sm", "required")
    bounds = {"x": (0, GRID_COLUMNS - 1), "y": (0, None), "w": (1, GRID_COLUMNS), "h": (1, None)}
    values: dict[str, int] = {}
    for key, (low, high) in bounds.items():
        attr = f"layouts__sm__{key}"
        if key not in sm:
            raise APIError.validation("This field is required.", attr, "required")
        if isinstance(sm[key], bool):
            raise APIError.validation("A valid integer is required.", attr)
        value = parse_int(sm[key], attr)
        assert value is not None
        if value < low:
            raise APIError.validation(
                f"Ensure this value is greater than or equal to {low}.", attr, "min_value"
            )
        if high is not None and value > high:
            raise APIError.validation(
                f"Ensure this value is less than or equal to {high}.", attr, "max_value"
            )
        values[key] = value
    if values["x"] + values["w"] > GRID_COLUMNS:
        raise APIError.validation(
            "The tile must fit within the 12-column dashboard grid.", "layouts__sm"
        )
    return merged


def _validate_text(state: State, dashboard: Dashboard, text: Mapping[str, Any]) -> None:
    if "body" in text:
        body = text["body"]
        if body is not None and not isinstance(body, str):
            raise APIError.validation("Not a valid string.", "text__body")
        if isinstance(body, str) and len(body) > TEXT_BODY_MAX:
            raise APIError.validation(
                f"Text body cannot exceed {TEXT_BODY_MAX} characters",
                "text__body",
                "max_length",
            )
    text_id = text.get("id")
    if text_id is not None:
        stored = state.texts.get(text_id) if isinstance(text_id, int) else None
        if stored is None:
            raise APIError.validation("Text tile not found.", "text")
        if stored.team_id != dashboard.team_id:
            raise APIError.validation("Text tile not found in this team.", "text")
    creator = text.get("created_by")
    if isinstance(creator, dict) and creator.get("id") not in state.users:
        raise APIError.validation("User not found in this organization.")


def _validate_button(button: Mapping[str, Any]) -> None:
    url = button.get("url")
    if url is not None:
        if not isinstance(url, str) or len(url) > 2000:
            raise APIError.validation("Enter a valid URL.", "button_tile__url")
        if not (url.startswith(("http://", "https://")) or url.startswith("/")):
            raise APIError.validation(
                "URL must be an absolute http(s) URL or a path starting with /",
                "button_tile__url",
            )
    label = button.get("text")
    if label is not None and (not isinstance(label, str) or len(label) > 200):
        raise APIError.validation(
            "Ensure this field has no more than 200 characters.",
            "button_tile__text",
            "max_length",
        )
    placement = button.get("placement")
    if placement is not None and placement not in ("left", "right"):
        raise APIError.validation(
            f'"{placement}" is not a valid choice.',
            "button_tile__placement",
            "invalid_choice",
        )


def _display(tile: Tile, data: Mapping[str, Any]) -> None:
    for name in _DISPLAY_FIELDS:
        if name == "layouts" and name in data:
            tile.layouts = merge_layouts(tile.layouts, data["layouts"])
        elif name in data:
            setattr(tile, name, data[name])
    if "deleted" in data:
        tile.deleted = bool(parse_bool(data["deleted"], "deleted", allow_null=True))


def apply_entry(state: State, dashboard: Dashboard, raw: dict[str, Any], user: User) -> None:
    """Write one validated ``tiles`` entry: a text or button upsert, or display fields."""
    data = {k: v for k, v in raw.items() if k not in ("is_cached", "order")}
    tile_id = data.get("id")
    existing = state.tiles.get(tile_id) if isinstance(tile_id, int) else None
    if existing is not None and existing.dashboard_id != dashboard.id:
        existing = None
    now = state.now_text()
    text_data = data.get("text")
    button_data = data.get("button_tile")
    if isinstance(text_data, dict):
        text: Text | None = None
        if text_data.get("id") is not None:
            text = state.texts[text_data["id"]]
            if "body" in text_data:
                text.body = text_data["body"]
            text.last_modified_by = user.id
            text.last_modified_at = now
        else:
            text = state.new_text(dashboard.team_id, text_data.get("body"), created_by=user.id)
        tile = existing or state.new_tile(
            dashboard.id, text_id=text.id, layouts={}, filters_overrides={}
        )
        tile.text_id, tile.insight_id, tile.button_id = text.id, None, None
        _display(tile, data)
        return
    if isinstance(button_data, dict):
        button_id = button_data.get("id")
        button = state.buttons.get(str(button_id)) if button_id is not None else None
        if button is None:
            button = Button(
                id=new_uuid7(),
                team_id=dashboard.team_id,
                url=str(button_data.get("url") or "/"),
                text=str(button_data.get("text") or ""),
                placement=str(button_data.get("placement") or "left"),
                style=button_data.get("style"),
                created_by=user.id,
                last_modified_at=now,
            )
            state.buttons[button.id] = button
        else:
            for name in ("url", "text", "placement", "style"):
                if name in button_data:
                    setattr(button, name, button_data[name])
            button.last_modified_by = user.id
            button.last_modified_at = now
        tile = existing or state.new_tile(
            dashboard.id, button_id=button.id, layouts={}, filters_overrides={}
        )
        tile.button_id, tile.insight_id, tile.text_id = button.id, None, None
        _display(tile, data)
        return
    if existing is not None:
        # An ``insight`` key is ignored: insight tiles cannot be re-pointed here.
        _display(existing, data)


def duplicate_entries(state: State, dashboard: Dashboard, items: list[Any], user: User) -> None:
    """``duplicate_tiles``: copy tiles (and their insight or text) on the same dashboard."""
    for item in items:
        tile_id = item.get("id") if isinstance(item, dict) else None
        tile = state.tiles.get(tile_id) if isinstance(tile_id, int) else None
        if tile is None or tile.dashboard_id != dashboard.id:
            continue
        refs: dict[str, Any] = {}
        if tile.insight_id is not None:
            copied = copy.deepcopy(state.insights[tile.insight_id].data)
            if copied.get("name"):
                copied["name"] = f"{copied['name']} (Copy)"
            for key in ("short_id", "created_at", "updated_at", "last_modified_at"):
                copied.pop(key, None)
            refs["insight_id"] = state.new_insight(dashboard.team_id, copied, created_by=user.id).id
        elif tile.text_id is not None:
            body = state.texts[tile.text_id].body
            refs["text_id"] = state.new_text(dashboard.team_id, body, created_by=user.id).id
        else:
            continue
        assert isinstance(item, dict)
        state.new_tile(
            dashboard.id,
            layouts=copy.deepcopy(item.get("layouts", tile.layouts)),
            color=tile.color,
            filters_overrides=copy.deepcopy(tile.filters_overrides),
            show_description=tile.show_description,
            transparent_background=tile.transparent_background,
            **refs,
        )
