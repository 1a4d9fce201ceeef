"""Templates: ``use_template`` names, and ``create_from_template_json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .._builders import TileSpec
from .._drf import APIError, validate_template
from .._loader import load_tile
from .._seed import BUILTIN_TEMPLATES
from .._state import Dashboard, State
from ._common import RequestContext, ServerError, clean_tags, dashboard_detail, request_data

__all__ = ["from_json", "resolve", "template_tile"]

_MODEL_FIELDS = frozenset(
    {
        "id",
        "team_id",
        "created_at",
        "created_by",
        "template_name",
        "dashboard_description",
        "dashboard_filters",
        "tiles",
        "variables",
        "tags",
        "image_url",
        "deleted",
        "scope",
        "availability_contexts",
        "is_featured",
        "github_url",
    }
)


def resolve(state: State, key: str) -> tuple[str, str, dict[str, Any], list[TileSpec]]:
    """``use_template=key``: name, description, filters and tiles, or 400 ``use_template``."""
    builtin = BUILTIN_TEMPLATES.get(key)
    if builtin is not None:
        name, description, filters, factory = builtin
        return name, description, filters, factory()
    stored = state.templates.get(key)
    if stored is None:
        raise APIError.validation(f"Invalid template provided: {key}", "use_template")
    specs = [template_tile(tile) for tile in stored.get("tiles") or []]
    return (
        str(stored.get("template_name") or key),
        str(stored.get("dashboard_description") or ""),
        dict(stored.get("dashboard_filters") or {}),
        [spec for spec in specs if spec is not None],
    )


def template_tile(tile: Mapping[str, Any]) -> TileSpec | None:
    """A template's tile as a :class:`TileSpec` (``None`` for kinds that are skipped)."""
    kind = tile.get("type")
    layouts = tile.get("layouts") or {}
    if kind == "INSIGHT":
        query = tile.get("query")
        insight: dict[str, Any] = {
            "name": tile.get("name"),
            "description": tile.get("description"),
            "query": query,
            "filters": {} if query else dict(tile.get("filters") or {}),
            "is_sample": True,
            "saved": False,
        }
        return TileSpec(tile={"insight": insight, "layouts": layouts, "color": tile.get("color")})
    if kind == "TEXT":
        text = {"body": tile.get("body"), "created_by": None}
        return TileSpec(tile={"text": text, "layouts": layouts, "color": tile.get("color")})
    return None


async def from_json(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/create_from_template_json/`` (scope-less: keys get 403)."""
    state = ctx.state
    data = request_data(ctx, json_only=True)
    if not isinstance(data, dict) or "template" not in data:
        raise ServerError
    template = data["template"]
    validate_template(template)
    assert isinstance(template, dict)
    if set(template) - _MODEL_FIELDS:
        raise ServerError
    user = ctx.viewer
    dashboard = Dashboard(
        id=state.allocate("dashboard", state.dashboards),
        team_id=ctx.project_id,
        name=template["template_name"],
        description=template["dashboard_description"],
        created_at=state.now_text(),
        created_by=user.id,
        filters=dict(template["dashboard_filters"]),
        tags=clean_tags(template.get("tags") or []) if state.tagging else [],
    )
    state.dashboards[dashboard.id] = dashboard
    position = 0
    for tile in template["tiles"]:
        if "type" not in tile:
            # The view deletes the half-built dashboard before the error surfaces.
            for tile_id in [t.id for t in state.tiles.values()]:
                if state.tiles[tile_id].dashboard_id == dashboard.id:
                    del state.tiles[tile_id]
            del state.dashboards[dashboard.id]
            raise ServerError
        spec = template_tile(tile)
        if spec is None:
            continue
        load_tile(state, dashboard, spec, position=position, default_user=user.id)
        position += 1
    return dashboard_detail(ctx, dashboard)
