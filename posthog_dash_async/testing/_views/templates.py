"""Templates: ``use_template`` names, ``create_from_template_json`` and ``dashboard_templates/``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .._builders import TileSpec
from .._drf import APIError, validate_template
from .._loader import load_tile
from .._seed import BUILTIN_TEMPLATES
from .._state import Dashboard, State
from ._common import (
    RequestContext,
    ServerError,
    clean_tags,
    dashboard_detail,
    last_param,
    page,
    request_data,
    respond,
    search_matches,
)

__all__ = ["from_json", "list_", "resolve", "retrieve", "template_records", "template_tile"]

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


# --------------------------------------------------------------------------------------------
# dashboard_templates/ (2026, scope dashboard_template:read)

_TEMPLATE_ORDERINGS = ("template_name", "-template_name", "created_at", "-created_at")
_BUILTIN_CREATED_AT = "2024-01-15T10:00:00Z"


def _spec_to_template_tile(spec: TileSpec) -> dict[str, Any]:
    tile = spec.tile
    insight = tile.get("insight")
    text = tile.get("text")
    if isinstance(insight, dict):
        return {
            "type": "INSIGHT",
            "name": insight.get("name"),
            "description": insight.get("description"),
            "query": insight.get("query"),
            "layouts": tile.get("layouts") or {},
            "color": tile.get("color"),
        }
    body = text.get("body") if isinstance(text, dict) else None
    return {"type": "TEXT", "body": body, "layouts": tile.get("layouts") or {}}


def template_records(state: State) -> list[dict[str, Any]]:
    """Every template the project can see: the built-in ones (global) and the stored ones."""
    records: list[dict[str, Any]] = []
    for key, (_, description, filters, factory) in BUILTIN_TEMPLATES.items():
        records.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"posthog-dash-template:{key}")),
                "template_name": key,
                "dashboard_description": description,
                "dashboard_filters": dict(filters),
                "tags": [],
                "tiles": [_spec_to_template_tile(spec) for spec in factory()],
                "variables": [],
                "deleted": False,
                "created_at": _BUILTIN_CREATED_AT,
                "created_by": None,
                "image_url": None,
                "team_id": None,
                "scope": "global",
                "availability_contexts": ["general"],
                "is_featured": key == "DEFAULT_APP",
            }
        )
    for stored in state.templates.values():
        out = {
            "id": stored.get("id"),
            "template_name": stored.get("template_name"),
            "dashboard_description": stored.get("dashboard_description") or "",
            "dashboard_filters": stored.get("dashboard_filters") or {},
            "tags": list(stored.get("tags") or []),
            "tiles": list(stored.get("tiles") or []),
            "variables": list(stored.get("variables") or []),
            "deleted": bool(stored.get("deleted", False)),
            "created_at": stored.get("created_at") or _BUILTIN_CREATED_AT,
            "created_by": stored.get("created_by"),
            "image_url": stored.get("image_url"),
            "team_id": stored.get("team_id"),
            "scope": stored.get("scope") or "team",
            "availability_contexts": stored.get("availability_contexts") or ["general"],
            "is_featured": bool(stored.get("is_featured", False)),
        }
        records.append(out)
    return records


def _visible(record: Mapping[str, Any], project_id: int) -> bool:
    return record["scope"] == "global" or record.get("team_id") in (None, project_id)


async def list_(ctx: RequestContext) -> web.StreamResponse:
    """GET ``dashboard_templates/``: ``scope``, ``search``, ``is_featured``, ``ordering``."""

    query = ctx.query
    items = [
        r for r in template_records(ctx.state) if not r["deleted"] and _visible(r, ctx.project_id)
    ]
    scope = last_param(query, "scope")
    if scope is None:
        items = [r for r in items if r["scope"] in ("global", "team")]
    else:
        items = [r for r in items if r["scope"] == scope]
    featured = last_param(query, "is_featured")
    if featured is not None:
        want = featured.lower() in ("true", "1", "yes")
        items = [r for r in items if r["is_featured"] == want]
    search = last_param(query, "search")
    if search:
        matched = search_matches(
            search,
            (
                (index, [str(r["template_name"] or ""), str(r["dashboard_description"] or "")])
                for index, r in enumerate(items)
            ),
        )
        items = [r for index, r in enumerate(items) if index in matched]
    ordering = last_param(query, "ordering") or "template_name"
    if ordering not in _TEMPLATE_ORDERINGS:
        ordering = "template_name"
    field = ordering.lstrip("-")
    items.sort(key=lambda r: str(r[field] or "").lower(), reverse=ordering.startswith("-"))
    items.sort(key=lambda r: not r["is_featured"])
    return page(ctx, items, dict)


async def retrieve(ctx: RequestContext) -> web.StreamResponse:
    """GET ``dashboard_templates/{id}/`` (a UUID)."""
    wanted = ctx.params["id"]
    for record in template_records(ctx.state):
        if str(record["id"]) == wanted and _visible(record, ctx.project_id):
            return respond(ctx, 200, record)
    raise APIError.not_found()
