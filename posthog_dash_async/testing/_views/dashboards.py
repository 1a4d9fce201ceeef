"""``/dashboards/`` and ``/dashboards/{id}/``: list, create, retrieve, update, (no) delete.

Tile entries of a PATCH are validated and applied by ``tile_entries.py``; ``use_template``
is resolved by ``templates.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .._drf import (
    APIError,
    RawError,
    parse_bool,
    parse_char,
    parse_choice,
    parse_datetime,
    parse_int,
    parse_list,
    parse_uuid,
)
from .._loader import load_tile
from .._state import Dashboard, State, User
from . import templates, tile_entries
from ._common import (
    RequestContext,
    clean_tags,
    dashboard_detail,
    get_dashboard,
    last_param,
    object_data,
    page,
    require_edit,
    search_matches,
)

__all__ = [
    "apply_refresh",
    "cascade_delete",
    "create",
    "destroy",
    "list_",
    "retrieve",
    "update",
]


async def list_(ctx: RequestContext) -> web.StreamResponse:
    """GET ``dashboards/``: pinned first, then by name; DRF limit/offset pages."""
    query = ctx.query
    items = [
        d for d in ctx.state.dashboards.values() if d.team_id == ctx.project_id and not d.deleted
    ]
    mode = last_param(query, "creation_mode")
    if mode is None:
        items = [d for d in items if d.creation_mode != "unlisted"]
    else:
        items = [d for d in items if d.creation_mode == mode]
    if "tags" in query:
        wanted = set(query.getall("tags"))
        items = [d for d in items if wanted.intersection(d.tags)]
    if last_param(query, "exclude_generated") == "true":
        items = [d for d in items if not (d.name or "").startswith("Generated Dashboard")]
    if last_param(query, "pinned") == "true":
        items = [d for d in items if d.pinned]
    folder = last_param(query, "folder")
    if folder is not None:
        wanted_folder = folder.strip("/")
        items = [d for d in items if (d.folder or "").strip("/") == wanted_folder]
    items.sort(key=lambda d: (not d.pinned, d.name is None, d.name or "", d.id))
    matched: dict[int, str] = {}
    search = last_param(query, "search")
    if search:
        matched = search_matches(
            search, ((d.id, [d.name or "", d.description or ""]) for d in items)
        )
        items = [d for d in items if d.id in matched]

    def render(dashboard: Dashboard) -> dict[str, Any]:
        out = ctx.state.dashboard_basic_json(dashboard, ctx.viewer)
        out["search_match_type"] = matched.get(dashboard.id)
        return out

    return page(ctx, items, render)


def _validate_fields(
    ctx: RequestContext, data: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    # Serializer field order decides which error is reported first.
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = parse_char(data["name"], "name", max_length=400, allow_null=True)
    if "description" in data:
        out["description"] = parse_char(data["description"], "description")
    if "pinned" in data:
        out["pinned"] = parse_bool(data["pinned"], "pinned")
    if "last_accessed_at" in data:
        out["last_accessed_at"] = parse_datetime(data["last_accessed_at"], "last_accessed_at")
    if "deleted" in data:
        out["deleted"] = parse_bool(data["deleted"], "deleted")
    if "use_template" in data:
        out["use_template"] = parse_char(data["use_template"], "use_template")
    if "use_dashboard" in data:
        out["use_dashboard"] = parse_int(data["use_dashboard"], "use_dashboard", allow_null=True)
    if "delete_insights" in data:
        out["delete_insights"] = parse_bool(data["delete_insights"], "delete_insights")
    if "breakdown_colors" in data:
        out["breakdown_colors"] = data["breakdown_colors"]
    if "data_color_theme_id" in data:
        out["data_color_theme_id"] = parse_int(
            data["data_color_theme_id"], "data_color_theme_id", allow_null=True
        )
    if "tags" in data:
        out["tags"] = clean_tags(parse_list(data["tags"], "tags"))
    if "restriction_level" in data:
        out["restriction_level"] = parse_choice(
            data["restriction_level"], "restriction_level", (21, 37)
        )
    if "last_refresh" in data:
        out["last_refresh"] = parse_datetime(data["last_refresh"], "last_refresh")
    if "quick_filter_ids" in data:
        ids = parse_list(data["quick_filter_ids"], "quick_filter_ids")
        parsed: list[str] = []
        for value in ids:
            try:
                parsed.append(parse_uuid(value, "quick_filter_ids"))
            except APIError:
                raise APIError.validation(f"Invalid UUID: {value}", "quick_filter_ids") from None
        missing = [value for value in parsed if value not in ctx.state.quick_filters]
        if missing:
            raise APIError.validation(
                f"Quick filters not found: {', '.join(missing)}", "quick_filter_ids"
            )
        out["quick_filter_ids"] = parsed
    if "_create_in_folder" in data:
        out["_create_in_folder"] = parse_char(
            data["_create_in_folder"], "_create_in_folder", allow_null=True
        )
    if creating and out.get("use_template") and out.get("use_dashboard") is not None:
        raise APIError.validation("`use_dashboard` and `use_template` cannot be used together")
    return out


def _check_filters(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if not value:
        return None
    if not isinstance(value, dict):
        # PostHog uses the same text for bad ``variables``.
        raise APIError.validation("Filters must be a dictionary")
    return value


async def create(ctx: RequestContext) -> web.StreamResponse:
    """POST ``dashboards/``: blank, ``use_template`` or ``use_dashboard`` (duplicate)."""
    state = ctx.state
    data = object_data(ctx)
    fields_ = _validate_fields(ctx, data, creating=True)
    user = ctx.viewer
    filters = _check_filters(data, "filters")
    source: Dashboard | None = None
    if fields_.get("use_dashboard") is not None:
        try:
            source = get_dashboard(ctx, fields_["use_dashboard"])
        except APIError:
            raise APIError.validation("Invalid value provided", "use_dashboard") from None
    template_key = fields_.get("use_template") or None
    template = templates.resolve(state, template_key) if template_key else None
    limit = ctx.server.max_dashboards
    if limit is not None:
        current = sum(
            1 for d in state.dashboards.values() if d.team_id == ctx.project_id and not d.deleted
        )
        if current >= limit:
            raise APIError.limit_exceeded("analytics.max_dashboards_per_team", limit, current)

    now = state.now_text()
    dashboard = Dashboard(
        id=state.allocate("dashboard", state.dashboards),
        team_id=ctx.project_id,
        name=fields_.get("name"),
        description=fields_.get("description") or "",
        pinned=bool(fields_.get("pinned", False)),
        created_at=now,
        created_by=user.id,
        last_accessed_at=fields_.get("last_accessed_at"),
        deleted=bool(fields_.get("deleted", False)),
        breakdown_colors=fields_.get("breakdown_colors", []),
        data_color_theme_id=fields_.get("data_color_theme_id"),
        tags=fields_.get("tags", []) if state.tagging else [],
        restriction_level=fields_.get("restriction_level", 21),
        last_refresh=fields_.get("last_refresh"),
        quick_filter_ids=fields_.get("quick_filter_ids", []),
        folder=fields_.get("_create_in_folder") or None,
    )
    if filters is not None:
        dashboard.filters = dict(filters)
    state.dashboards[dashboard.id] = dashboard
    if template is not None:
        name, description, template_filters, specs = template
        dashboard.creation_mode = "template"
        if not dashboard.name:
            dashboard.name = name
            dashboard.description = description
            if filters is None:
                dashboard.filters = dict(template_filters)
        for position, spec in enumerate(specs):
            load_tile(state, dashboard, spec, position=position, default_user=user.id)
    elif source is not None:
        dashboard.creation_mode = "duplicate"
        _duplicate_into(state, source, dashboard, deep=bool(data.get("duplicate_tiles")), user=user)
        if filters is None:
            dashboard.filters = dict(source.filters)
        dashboard.variables = copy.deepcopy(source.variables)
        if "breakdown_colors" not in fields_:
            dashboard.breakdown_colors = copy.deepcopy(source.breakdown_colors)
        if "data_color_theme_id" not in fields_:
            dashboard.data_color_theme_id = source.data_color_theme_id
        if "quick_filter_ids" not in fields_:
            dashboard.quick_filter_ids = list(source.quick_filter_ids)
    return dashboard_detail(ctx, dashboard, status=201)


def _duplicate_into(
    state: State, source: Dashboard, target: Dashboard, *, deep: bool, user: User
) -> None:
    for tile in state.sorted_tiles(source):
        refs: dict[str, Any] = {}
        if tile.insight_id is not None:
            insight = state.insights[tile.insight_id]
            if deep:
                copied = copy.deepcopy(insight.data)
                if copied.get("name"):
                    copied["name"] = f"{copied['name']} (Copy)"
                for key in ("short_id", "created_at", "updated_at", "last_modified_at"):
                    copied.pop(key, None)
                refs["insight_id"] = state.new_insight(
                    target.team_id, copied, created_by=user.id
                ).id
            else:
                refs["insight_id"] = insight.id
        elif tile.text_id is not None:
            text = state.texts[tile.text_id]
            if deep:
                refs["text_id"] = state.new_text(target.team_id, text.body, created_by=user.id).id
            else:
                refs["text_id"] = text.id
        elif tile.button_id is not None:
            refs["button_id"] = tile.button_id
        state.new_tile(
            target.id,
            layouts=copy.deepcopy(tile.layouts),
            color=tile.color,
            filters_overrides=copy.deepcopy(tile.filters_overrides),
            show_description=tile.show_description,
            transparent_background=tile.transparent_background,
            **refs,
        )


async def retrieve(ctx: RequestContext) -> web.StreamResponse:
    """GET ``dashboards/{id}/``; ``refresh=blocking`` recomputes; bumps ``last_accessed_at``."""
    dashboard = get_dashboard(ctx, ctx.params["id"])
    apply_refresh(ctx, dashboard)
    dashboard.last_accessed_at = ctx.state.now_text()
    return dashboard_detail(ctx, dashboard)


#: ``refresh`` values that compute fresh results before answering (GET and the stream).
_BLOCKING = frozenset({"blocking", "force_blocking", "true", "1", "yes"})


def apply_refresh(ctx: RequestContext, dashboard: Dashboard) -> None:
    """``?refresh=blocking`` (or ``force_blocking``, ``true``): results computed now."""
    refresh = last_param(ctx.query, "refresh")
    if refresh is not None and refresh.lower() in _BLOCKING:
        _recompute(ctx.state, dashboard)


def _recompute(state: State, dashboard: Dashboard) -> None:
    now = state.now_text()
    for tile in state.live_tiles(dashboard):
        if tile.insight_id is not None:
            insight = state.insights[tile.insight_id]
            insight.data["last_refresh"] = now
            insight.data["is_cached"] = False
    dashboard.last_refresh = now


async def destroy(ctx: RequestContext) -> web.StreamResponse:
    """DELETE ``dashboards/{id}/``: a bare 405 (no body, no lookup); deletion is a PATCH."""
    raise RawError(405)


async def update(ctx: RequestContext) -> web.StreamResponse:
    """PATCH/PUT ``dashboards/{id}/``: fields, soft delete/restore, tiles, duplicate_tiles."""
    state = ctx.state
    data = object_data(ctx)
    restoring = False
    if "deleted" in data:
        try:
            restoring = parse_bool(data["deleted"], "deleted") is False
        except APIError:
            restoring = False
    dashboard = get_dashboard(ctx, ctx.params["id"], include_deleted=restoring)
    user = ctx.viewer
    require_edit(ctx, dashboard)
    fields_ = _validate_fields(ctx, data, creating=False)
    if (
        "restriction_level" in fields_
        and fields_["restriction_level"] != dashboard.restriction_level
        and not state.has_inherent_access(dashboard, user)
    ):
        raise APIError.permission_denied(
            "Only the dashboard owner and project admins have the restriction rights "
            "required to change the dashboard's restriction level."
        )
    filters = _check_filters(data, "filters")
    variables = _check_filters(data, "variables")
    entries = data.get("tiles")
    if entries is not None:
        entries = parse_list(entries, "tiles")
        unknown = [tile_entries.validate_entry(state, dashboard, entry) for entry in entries]
        missing = [tile_id for tile_id in unknown if tile_id is not None]
        if missing:
            raise APIError.validation(f"Tile IDs not found on this dashboard: {missing}.", "tiles")

    for name in (
        "name",
        "description",
        "pinned",
        "last_accessed_at",
        "breakdown_colors",
        "data_color_theme_id",
        "restriction_level",
        "last_refresh",
        "quick_filter_ids",
    ):
        if name in fields_:
            setattr(dashboard, name, fields_[name])
    if "tags" in fields_ and state.tagging:
        dashboard.tags = fields_["tags"]
    # ``{}`` clears the stored value (NEWEST); ``null`` or a missing key leaves it.
    if filters is not None or data.get("filters") == {}:
        dashboard.filters = dict(filters or {})
    if variables is not None or data.get("variables") == {}:
        dashboard.variables = dict(variables or {})
    if fields_.get("deleted") is True and not dashboard.deleted:
        dashboard.deleted = True
        cascade_delete(state, dashboard, delete_insights=bool(fields_.get("delete_insights")))
    elif fields_.get("deleted") is False and dashboard.deleted:
        dashboard.deleted = False
        _cascade_restore(state, dashboard)
    for entry in entries or []:
        tile_entries.apply_entry(state, dashboard, entry, user)
    duplicates = data.get("duplicate_tiles")
    if isinstance(duplicates, list):
        tile_entries.duplicate_entries(state, dashboard, duplicates, user)
    return dashboard_detail(ctx, dashboard)


def cascade_delete(state: State, dashboard: Dashboard, *, delete_insights: bool) -> None:
    """Soft-delete a dashboard's tiles (and, when asked, insights found nowhere else)."""
    own = [t for t in state.tiles.values() if t.dashboard_id == dashboard.id]
    if delete_insights:
        for tile in own:
            if tile.insight_id is None or tile.deleted:
                continue
            elsewhere = any(
                other.insight_id == tile.insight_id
                and other.dashboard_id != dashboard.id
                and not other.deleted
                and not state.dashboards[other.dashboard_id].deleted
                for other in state.tiles.values()
            )
            if not elsewhere:
                state.insights[tile.insight_id].deleted = True
    for tile in own:
        tile.deleted = True


def _cascade_restore(state: State, dashboard: Dashboard) -> None:
    for tile in state.tiles.values():
        if tile.dashboard_id != dashboard.id:
            continue
        tile.deleted = False
        if tile.insight_id is not None:
            state.insights[tile.insight_id].deleted = False
