"""Tiles: ``move_tile`` and the 2026 tile actions (``copy_tile``, ``reorder_tiles``,
``create_text_tile``, ``update_text_tile``, ``delete_tile``).

The ``tiles`` entries of a dashboard PATCH are ``tile_entries.py``; insight tiles are added
and removed through an insight's ``dashboards`` (``insights.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .._drf import APIError, RawError, parse_int, parse_list
from .._state import Dashboard, State, Tile
from ._common import (
    RequestContext,
    ServerError,
    dashboard_detail,
    get_dashboard,
    object_data,
    request_data,
    require_edit,
    respond,
)
from .tile_entries import GRID_COLUMNS, TEXT_BODY_MAX

__all__ = [
    "check_tile_limit",
    "compact",
    "copy_tile",
    "create_text_tile",
    "delete_tile",
    "move",
    "reorder_tiles",
    "update_text_tile",
]

# --------------------------------------------------------------------------------------------
# move_tile


async def move(ctx: RequestContext) -> web.StreamResponse:
    """PATCH (REF) or PATCH/POST (NEW) ``dashboards/{id}/move_tile/``; answers the source."""
    state = ctx.state
    source = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, source)
    data = request_data(ctx)
    if ctx.server.move_tile_flavour == "new":
        if not isinstance(data, dict):
            raise APIError.validation(
                f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
            )
        tile_data = data.get("tile")
        if not isinstance(tile_data, dict):
            raise APIError.validation("This field is required.", "tile", "required")
        if "id" not in tile_data:
            raise APIError.validation("This field is required.", "tile__id", "required")
        tile_id = parse_int(tile_data["id"], "tile__id")
        if "to_dashboard" not in data:
            raise APIError.validation("This field is required.", "to_dashboard", "required")
        target_id: Any = parse_int(data["to_dashboard"], "to_dashboard")
    else:
        # REF indexes the body directly: anything missing is a KeyError, i.e. a 500.
        try:
            tile_id = data["tile"]["id"]
            target_id = data["toDashboard"]
        except (KeyError, TypeError):
            raise ServerError from None
    tile = state.tiles.get(tile_id) if isinstance(tile_id, int) else None
    if tile is None or tile.dashboard_id != source.id or tile.deleted:
        raise APIError.not_found()
    if isinstance(target_id, str) and not target_id.strip().isdigit():
        raise ServerError
    target = get_dashboard(ctx, target_id)
    require_edit(ctx, target, destination=True)
    for other in list(state.tiles.values()):
        if other.dashboard_id != target.id or other.id == tile.id:
            continue
        same = (tile.insight_id is not None and other.insight_id == tile.insight_id) or (
            tile.text_id is not None and other.text_id == tile.text_id
        )
        if not same:
            continue
        if other.deleted:
            del state.tiles[other.id]
        else:
            raise APIError.validation("Invalid request data for moving tile.")
    tile.dashboard_id = target.id
    return dashboard_detail(ctx, source)


# --------------------------------------------------------------------------------------------
# the 2026 tile actions: copy_tile, reorder_tiles, create/update_text_tile, delete_tile

_REORDER_W, _REORDER_H = 6, 5
_REORDER_MODES = ("preserve", "two_column", "three_column", "full_width")


def _required(data: Mapping[str, Any], name: str) -> Any:
    if name not in data:
        raise APIError.validation("This field is required.", name, "required")
    return data[name]


def _live_tile(state: State, dashboard: Dashboard, tile_id: Any) -> Tile:
    tile = state.tiles.get(tile_id) if isinstance(tile_id, int) else None
    if tile is None or tile not in state.live_tiles(dashboard):
        raise APIError.not_found()
    return tile


def check_tile_limit(ctx: RequestContext, dashboard: Dashboard, adding: int = 1) -> None:
    """402 ``limit_exceeded`` when the dashboard already holds its maximum of live tiles."""
    limit = ctx.server.max_tiles_per_dashboard
    if limit is None:
        return
    current = len(ctx.state.live_tiles(dashboard))
    if current + adding > limit:
        raise APIError.limit_exceeded("analytics.max_insights_per_dashboard", limit, current)


def _bottom(state: State, dashboard: Dashboard, size: str) -> int:
    bottom = 0
    for tile in state.live_tiles(dashboard):
        layout = tile.layouts.get(size) if isinstance(tile.layouts, dict) else None
        if isinstance(layout, dict):
            y, h = layout.get("y"), layout.get("h")
            if isinstance(y, int) and isinstance(h, int):
                bottom = max(bottom, y + h)
    return bottom


def _placed_below(state: State, dashboard: Dashboard, layouts: Any) -> dict[str, Any]:
    # A copied tile keeps its size and lands under everything already on the destination.
    out: dict[str, Any] = {}
    if not isinstance(layouts, dict):
        return out
    for size, layout in layouts.items():
        if isinstance(layout, dict):
            out[size] = {**layout, "y": _bottom(state, dashboard, size)}
    return out


async def copy_tile(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/{id}/copy_tile/`` ``{fromDashboardId, tileId}`` onto dashboard {id}."""
    state = ctx.state
    destination = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, destination)
    data = object_data(ctx)
    source_id = parse_int(_required(data, "fromDashboardId"), "fromDashboardId") or 0
    tile_id = parse_int(_required(data, "tileId"), "tileId")
    if source_id == destination.id:
        raise APIError.validation("Destination must be a different dashboard than the source.")
    source = get_dashboard(ctx, source_id)
    tile = _live_tile(state, source, tile_id)
    if tile.insight_id is None and tile.text_id is None and tile.widget is None:
        raise APIError.validation(
            "Only insight, text, and widget tiles can be copied between dashboards."
        )
    for other in state.live_tiles(destination):
        if tile.insight_id is not None and other.insight_id == tile.insight_id:
            raise APIError.validation("This insight is already on the destination dashboard.")
        if tile.text_id is not None and other.text_id == tile.text_id:
            raise APIError.validation("This text card is already on the destination dashboard.")
    check_tile_limit(ctx, destination)
    state.new_tile(
        destination.id,
        insight_id=tile.insight_id,
        text_id=tile.text_id,
        widget=copy.deepcopy(tile.widget),
        layouts=_placed_below(state, destination, copy.deepcopy(tile.layouts)),
        color=tile.color,
        filters_overrides=copy.deepcopy(tile.filters_overrides),
        show_description=tile.show_description,
        transparent_background=tile.transparent_background,
    )
    return dashboard_detail(ctx, destination)


def _int_list(value: Any, attr: str) -> list[int]:
    items = parse_list(value, attr)
    out: list[int] = []
    for index, item in enumerate(items):
        parsed = parse_int(item, f"{attr}__{index}")
        assert parsed is not None
        out.append(parsed)
    return out


async def reorder_tiles(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/{id}/reorder_tiles/`` ``{tile_order, layout?}``: repack in that order."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    order = _int_list(_required(data, "tile_order"), "tile_order")
    if not order:
        raise APIError.validation(
            "Ensure this field has at least 1 elements.", "tile_order", "min_length"
        )
    mode = data.get("layout", "preserve")
    if isinstance(mode, (dict, list)) or mode not in _REORDER_MODES:
        raise APIError.validation(f'"{mode}" is not a valid choice.', "layout", "invalid_choice")
    if len(set(order)) != len(order):
        raise RawError(400, {"detail": "tile_order must contain unique tile IDs"})
    live = {tile.id: tile for tile in state.live_tiles(dashboard)}
    missing = sorted({tile_id for tile_id in order if tile_id not in live})
    if missing:
        raise RawError(404, {"detail": f"Tile IDs not found on this dashboard: {missing}"})
    _repack([live[tile_id] for tile_id in order], mode)
    return dashboard_detail(ctx, dashboard)


def _repack(ordered: list[Tile], mode: str) -> None:
    # PostHog's _apply_reorder_layout: fixed grids overwrite w/h; ``preserve`` keeps each
    # tile's size and drops it at the leftmost lowest segment of a 12-column skyline.
    columns = {"two_column": 2, "three_column": 3, "full_width": 1}.get(mode)
    if columns is not None:
        width = GRID_COLUMNS // columns
        for index, tile in enumerate(ordered):
            row, col = divmod(index, columns)
            tile.layouts = {
                "sm": {"x": col * width, "y": row * _REORDER_H, "w": width, "h": _REORDER_H},
                "xs": {"x": 0, "y": index * _REORDER_H, "w": 1, "h": _REORDER_H},
            }
        return
    heights = [0] * GRID_COLUMNS
    xs_y = 0
    for tile in ordered:
        sm = tile.layouts.get("sm") if isinstance(tile.layouts, dict) else None
        w, h = _REORDER_W, _REORDER_H
        if isinstance(sm, dict):
            if isinstance(sm.get("w"), int) and not isinstance(sm["w"], bool) and sm["w"] > 0:
                w = sm["w"]
            if isinstance(sm.get("h"), int) and not isinstance(sm["h"], bool) and sm["h"] > 0:
                h = sm["h"]
        w = max(1, min(w, GRID_COLUMNS))
        best_x, best_y = 0, max(heights[0:w])
        for x in range(1, GRID_COLUMNS - w + 1):
            top = max(heights[x : x + w])
            if top < best_y:
                best_x, best_y = x, top
        tile.layouts = {
            "sm": {"x": best_x, "y": best_y, "w": w, "h": h},
            "xs": {"x": 0, "y": xs_y, "w": 1, "h": h},
        }
        for column in range(best_x, best_x + w):
            heights[column] = best_y + h
        xs_y += h


def _text_body(value: Any, prefix: str) -> str:
    if value is None or isinstance(value, (bool, dict, list)):
        raise APIError.validation("Not a valid string.", "body")
    text = str(value)
    if not text.strip():
        raise APIError.validation(f"{prefix} body cannot be empty", "body")
    if len(text) > TEXT_BODY_MAX:
        raise APIError.validation(
            f"{prefix} body cannot exceed {TEXT_BODY_MAX} characters", "body", "max_length"
        )
    return text


def _text_color(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise APIError.validation("Not a valid string.", "color")
    text = str(value)
    if len(text) > 400:
        raise APIError.validation("Color cannot exceed 400 characters", "color", "max_length")
    return text or None


def _action_layouts(value: Any) -> dict[str, Any]:
    # The tile actions store ``{sm?, xs?: {x?, y?, w?, h?: int}}`` without bounds checks.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise APIError.validation(
            f'Expected a dictionary of items but got type "{type(value).__name__}".',
            "layouts",
            "not_a_dict",
        )
    out: dict[str, Any] = {}
    for size, layout in value.items():
        if size not in ("sm", "xs"):
            continue
        if not isinstance(layout, dict):
            raise APIError.validation(
                f'Expected a dictionary of items but got type "{type(layout).__name__}".',
                f"layouts__{size}",
                "not_a_dict",
            )
        cleaned: dict[str, Any] = {}
        for key in ("x", "y", "w", "h"):
            if key in layout:
                cleaned[key] = parse_int(layout[key], f"layouts__{size}__{key}")
        out[size] = cleaned
    return out


async def create_text_tile(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/{id}/create_text_tile/`` ``{body, layouts?, color?}`` → 201 tile."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    body = _text_body(_required(data, "body"), "Tile")
    color = _text_color(data.get("color"))
    layouts = _action_layouts(data.get("layouts"))
    kind = data.get("type", "text")
    if isinstance(kind, (dict, list)) or kind not in ("text", "image"):
        raise APIError.validation(f'"{kind}" is not a valid choice.', "type", "invalid_choice")
    check_tile_limit(ctx, dashboard)
    text = state.new_text(dashboard.team_id, body, created_by=ctx.viewer.id)
    tile = state.new_tile(
        dashboard.id, text_id=text.id, layouts=layouts, color=color, filters_overrides={}
    )
    return respond(ctx, 201, state.tile_json(tile, None, ctx.viewer))


async def update_text_tile(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/{id}/update_text_tile/`` ``{tile_id, body?, layouts?, color?}``."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    tile_id = parse_int(_required(data, "tile_id"), "tile_id")
    body = _text_body(data["body"], "Text") if "body" in data else None
    color = _text_color(data.get("color"))
    layouts = _action_layouts(data["layouts"]) if "layouts" in data else None
    tile = _live_tile(state, dashboard, tile_id)
    if tile.text_id is None:
        raise APIError.validation("Tile is not a text tile.")
    text = state.texts[tile.text_id]
    if body is not None:
        text.body = body
        text.last_modified_by = ctx.viewer.id
        text.last_modified_at = state.now_text()
    if "color" in data:
        tile.color = color
    if layouts is not None:
        tile.layouts = layouts
    return respond(ctx, 200, state.tile_json(tile, None, ctx.viewer))


async def delete_tile(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/{id}/delete_tile/`` ``{tile_id}``: soft delete, compact, 204."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"])
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    tile_id = parse_int(_required(data, "tile_id"), "tile_id")
    tile = _live_tile(state, dashboard, tile_id)
    tile.deleted = True
    compact(state.live_tiles(dashboard))
    return web.Response(status=204)


def compact(tiles: list[Tile]) -> None:
    """Pull every layout up to the lowest free row, per breakpoint (react-grid-layout's
    vertical compaction, as PostHog's ``_compact_tile_layouts``)."""
    sizes: set[str] = set()
    for tile in tiles:
        if isinstance(tile.layouts, dict):
            sizes.update(k for k, v in tile.layouts.items() if isinstance(v, dict))
    for size in sorted(sizes):
        entries = [t for t in tiles if isinstance(t.layouts, dict) and size in t.layouts]
        entries = [t for t in entries if isinstance(t.layouts[size], dict)]
        entries.sort(key=lambda t: _sort_key(t.layouts[size], t.id))
        placed: list[tuple[int, int, int, int]] = []
        for tile in entries:
            layout = tile.layouts[size]
            x, w, h = _num(layout, "x", 0), _num(layout, "w", 1), _num(layout, "h", 1)
            y = 0
            while True:
                hits = [p for p in placed if _overlap((x, y, w, h), p)]
                if not hits:
                    break
                y = max(p[1] + p[3] for p in hits)
            placed.append((x, y, w, h))
            if layout.get("y", 0) != y:
                # New dicts: a stored layout may be shared with the data it was loaded from.
                tile.layouts = {**tile.layouts, size: {**layout, "y": y}}


def _num(layout: Mapping[str, Any], key: str, default: int) -> int:
    value = layout.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _sort_key(layout: Mapping[str, Any], tile_id: int) -> tuple[int, int, int]:
    return (_num(layout, "y", 0), _num(layout, "x", 0), tile_id)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return not (ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay)
