"""``insights/``: list, create, retrieve, update (no delete); and ``run_insights``.

An insight's ``dashboards`` list is the only way to add or remove an insight tile: create puts
one tile on each listed dashboard, update sets the membership to exactly that list (a removal
soft-deletes the tile, a re-add restores it). ``dashboards`` is only shown on read with
``?include_dashboards=true``; ``dashboard_tiles`` always is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from .._drf import APIError, RawError, parse_bool, parse_char, parse_int, parse_list
from .._state import Dashboard, Insight, State
from ._common import (
    RequestContext,
    clean_tags,
    get_dashboard,
    json_param,
    last_param,
    object_data,
    page,
    respond,
    search_matches,
)
from .tiles import check_tile_limit

__all__ = ["create", "destroy", "list_", "retrieve", "run_insights", "update"]

_QUERY_DOCS = "See https://posthog.com/docs/api/insights"
_VIZ_SOURCES = frozenset(
    {
        "TrendsQuery",
        "FunnelsQuery",
        "RetentionQuery",
        "PathsQuery",
        "StickinessQuery",
        "LifecycleQuery",
    }
)
_RESULT_KEYS = ("result", "hasMore", "columns")
_TRUTHY = ("true", "1", "yes", "t", "y", "on")


def _insight_json(ctx: RequestContext, insight: Insight) -> dict[str, Any]:
    out = ctx.state.insight_json(insight, ctx.viewer)
    if (last_param(ctx.query, "include_dashboards") or "").lower() not in _TRUTHY:
        out.pop("dashboards", None)
    if (last_param(ctx.query, "basic") or "").lower() in _TRUTHY:
        for key in _RESULT_KEYS:
            out.pop(key, None)
    return out


def _get_insight(ctx: RequestContext, raw: str, *, include_deleted: bool = False) -> Insight:
    state = ctx.state
    found: Insight | None = None
    if raw.isascii() and raw.isdigit():
        found = state.insights.get(int(raw))
    if found is None:
        found = next((i for i in state.insights.values() if i.data.get("short_id") == raw), None)
    if found is None or found.team_id != ctx.project_id:
        raise APIError.not_found()
    if found.deleted and not include_deleted:
        raise APIError.not_found()
    return found


# --------------------------------------------------------------------------------------------
# list


def _json_list(ctx: RequestContext, key: str) -> list[Any] | None:
    text = last_param(ctx.query, key)
    if text is None:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise APIError.validation(f"Invalid JSON passed in {key} parameter", key) from None
    if not isinstance(value, list):
        raise APIError.validation(f"{key} must be a JSON list", key)
    return value


def _on_dashboards(state: State, insight: Insight) -> set[int]:
    return {
        tile.dashboard_id
        for tile in state.tiles.values()
        if tile.insight_id == insight.id
        and not tile.deleted
        and not state.dashboards[tile.dashboard_id].deleted
    }


async def list_(ctx: RequestContext) -> web.StreamResponse:
    """GET ``insights/``: the filters of ``InsightViewSet._filter_request``, DRF pages."""
    state = ctx.state
    query = ctx.query
    items = [i for i in state.insights.values() if i.team_id == ctx.project_id and not i.deleted]
    short_id = last_param(query, "short_id")
    if short_id is not None:
        items = [i for i in items if i.data.get("short_id") == short_id]
    saved = last_param(query, "saved")
    if saved is not None:
        want = saved.lower() in _TRUTHY
        items = [
            i
            for i in items
            if (bool(i.data.get("saved")) or bool(_on_dashboards(state, i))) == want
        ]
    favorited = last_param(query, "favorited")
    if favorited is not None:
        items = [i for i in items if bool(i.data.get("favorited"))]
    if last_param(query, "user") is not None:
        items = [i for i in items if i.created_by == ctx.viewer.id]
    dashboards = _json_list(ctx, "dashboards")
    if dashboards:
        wanted = {d for d in dashboards if isinstance(d, int)}
        items = [i for i in items if wanted <= _on_dashboards(state, i)]
    tags = _json_list(ctx, "tags")
    if tags:
        items = [i for i in items if set(tags) & set(i.data.get("tags") or [])]
    created_by = _json_list(ctx, "created_by")
    if created_by:
        items = [i for i in items if i.created_by in created_by]
    items.sort(key=lambda i: (i.data.get("order") is None, i.data.get("order") or 0, i.id))
    matched: dict[int, str] = {}
    search = last_param(query, "search")
    if search:
        if len(search) > 200:
            raise APIError.validation(
                "Ensure this field has no more than 200 characters.", "search", "max_length"
            )
        matched = search_matches(
            search,
            (
                (
                    i.id,
                    [
                        str(i.data.get("name") or ""),
                        str(i.data.get("derived_name") or ""),
                        str(i.data.get("description") or ""),
                        *[str(t) for t in i.data.get("tags") or []],
                    ],
                )
                for i in items
            ),
        )
        items = [i for i in items if i.id in matched]

    def render(insight: Insight) -> dict[str, Any]:
        out = _insight_json(ctx, insight)
        if search:
            out["search_match_type"] = matched.get(insight.id)
        return out

    return page(ctx, items, render)


# --------------------------------------------------------------------------------------------
# writes


def _query(value: Any, *, creating: bool) -> dict[str, Any]:
    if value is None or value == {}:
        if creating:
            raise APIError.validation(f"Creating an insight needs a query. {_QUERY_DOCS}", "query")
        raise APIError.validation(f"An insight needs a query. {_QUERY_DOCS}", "query")
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise APIError.validation(
            "Invalid query: a query node needs a string 'kind'.", "query", "parse_error"
        )
    kind = value["kind"]
    if kind in _VIZ_SOURCES:
        return {"kind": "InsightVizNode", "source": value}
    if kind == "HogQLQuery":
        return {"kind": "DataVisualizationNode", "source": value}
    return value


def _dashboard_ids(ctx: RequestContext, value: Any) -> list[Dashboard]:
    ids: list[int] = []
    for index, item in enumerate(parse_list(value, "dashboards")):
        parsed = parse_int(item, f"dashboards__{index}")
        assert parsed is not None
        if parsed not in ids:
            ids.append(parsed)
    found: list[Dashboard] = []
    missing: list[int] = []
    for dashboard_id in ids:
        dashboard = ctx.state.dashboards.get(dashboard_id)
        if dashboard is None or dashboard.deleted or dashboard.team_id != ctx.project_id:
            missing.append(dashboard_id)
        else:
            found.append(dashboard)
    if missing:
        raise APIError.validation(
            f"Dashboard not found: {', '.join(str(m) for m in missing)}", "dashboards"
        )
    return found


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = parse_char(data["name"], "name", max_length=400, allow_null=True)
    if "description" in data:
        out["description"] = parse_char(
            data["description"], "description", max_length=400, allow_null=True
        )
    for name in ("favorited", "saved"):
        if name in data:
            out[name] = parse_bool(data[name], name)
    if "order" in data:
        out["order"] = parse_int(data["order"], "order", allow_null=True)
    if "tags" in data:
        out["tags"] = clean_tags(parse_list(data["tags"], "tags"))
    return out


def _set_dashboards(ctx: RequestContext, insight: Insight, targets: list[Dashboard]) -> None:
    state = ctx.state
    wanted = {d.id for d in targets}
    current = {t.dashboard_id: t for t in state.tiles.values() if t.insight_id == insight.id}
    for dashboard in targets:
        tile = current.get(dashboard.id)
        if tile is not None and not tile.deleted:
            continue
        if not state.can_edit(dashboard, ctx.viewer):
            raise APIError.permission_denied(
                f"You don't have permission to add insights to dashboard: {dashboard.id}"
            )
        check_tile_limit(ctx, dashboard)
    for dashboard_id, tile in current.items():
        if dashboard_id in wanted or tile.deleted:
            continue
        dashboard = state.dashboards[dashboard_id]
        if not dashboard.deleted and not state.can_edit(dashboard, ctx.viewer):
            raise APIError.permission_denied(
                f"You don't have permission to remove insights from dashboard: {dashboard_id}"
            )
    for dashboard in targets:
        tile = current.get(dashboard.id)
        if tile is None:
            state.new_tile(dashboard.id, insight_id=insight.id, layouts={}, filters_overrides={})
        elif tile.deleted:
            tile.deleted = False
    for dashboard_id, tile in current.items():
        if dashboard_id not in wanted and not tile.deleted:
            tile.deleted = True


async def create(ctx: RequestContext) -> web.StreamResponse:
    """POST ``insights/`` → 201; ``dashboards`` puts one tile on each (``saved`` is not set)."""
    state = ctx.state
    data = object_data(ctx)
    if "query" not in data and data.get("filters"):
        raise APIError.permission_denied(
            "Creating or updating insights with legacy filters is not available for this user. "
            f"Send a query instead. {_QUERY_DOCS}"
        )
    query = _query(data.get("query"), creating=True)
    fields = _fields(data)
    targets = _dashboard_ids(ctx, data["dashboards"]) if "dashboards" in data else []
    for dashboard in targets:
        if not state.can_edit(dashboard, ctx.viewer):
            raise APIError.permission_denied(
                f"You don't have permission to add insights to dashboard: {dashboard.id}"
            )
        check_tile_limit(ctx, dashboard)
    fields.setdefault("saved", False)
    insight = state.new_insight(
        ctx.project_id, {**fields, "query": query}, created_by=ctx.viewer.id
    )
    for dashboard in targets:
        state.new_tile(dashboard.id, insight_id=insight.id, layouts={}, filters_overrides={})
    return respond(ctx, 201, _insight_json(ctx, insight))


async def retrieve(ctx: RequestContext) -> web.StreamResponse:
    """GET ``insights/{id}/`` (``id`` is the pk or the 8-character ``short_id``)."""
    return respond(ctx, 200, _insight_json(ctx, _get_insight(ctx, ctx.params["id"])))


async def update(ctx: RequestContext) -> web.StreamResponse:
    """PATCH ``insights/{id}/``: fields, ``dashboards`` membership, soft delete and restore."""
    state = ctx.state
    data = object_data(ctx)
    restoring = "deleted" in data and data["deleted"] in (False, "false", 0, "0")
    insight = _get_insight(ctx, ctx.params["id"], include_deleted=restoring)
    if "query" not in data and data.get("filters"):
        raise APIError.permission_denied(
            "Creating or updating insights with legacy filters is not available for this user. "
            f"Send a query instead. {_QUERY_DOCS}"
        )
    query = _query(data["query"], creating=False) if "query" in data else None
    fields = _fields(data)
    deleted = parse_bool(data["deleted"], "deleted") if "deleted" in data else None
    targets = _dashboard_ids(ctx, data["dashboards"]) if "dashboards" in data else None
    if targets is not None:
        _set_dashboards(ctx, insight, targets)
    if query is not None:
        insight.data["query"] = query
    fields.setdefault("saved", True)
    insight.data.update(fields)
    now = state.now_text()
    insight.data["last_modified_at"] = now
    insight.data["updated_at"] = now
    insight.last_modified_by = ctx.viewer.id
    if deleted is not None:
        insight.deleted = deleted
    return respond(ctx, 200, _insight_json(ctx, insight))


async def destroy(ctx: RequestContext) -> web.StreamResponse:
    """DELETE ``insights/{id}/``: a bare 405; deleting is PATCH ``{"deleted": true}``."""
    raise RawError(405)


# --------------------------------------------------------------------------------------------
# run_insights


_RESPONSE_BUDGET = 30_000


async def run_insights(ctx: RequestContext) -> web.StreamResponse:
    """GET ``dashboards/{id}/run_insights/`` (scope ``query:read``): every insight tile's result."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"])
    query = ctx.query
    output = last_param(query, "output_format") or "optimized"
    if output not in ("optimized", "json"):
        raise APIError.validation(
            f'"{output}" is not a valid choice.', "output_format", "invalid_choice"
        )
    max_chars = 2000
    raw_max = last_param(query, "max_result_chars")
    if raw_max is not None:
        try:
            max_chars = int(raw_max)
        except ValueError:
            raise APIError.validation("max_result_chars must be an integer.") from None
        if max_chars < 0:
            raise APIError.validation("max_result_chars must be zero or greater.")
    json_param(ctx, "filters_override", strict=True)
    json_param(ctx, "variables_override", strict=True)
    ordered = state.sorted_tiles(dashboard)
    positions = {tile.id: order for order, tile in enumerate(ordered)}
    wanted: list[int] | None = None
    raw_ids = last_param(query, "tile_ids")
    if raw_ids is not None:
        parts = [p.strip() for p in raw_ids.split(",") if p.strip()]
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise APIError.validation("tile_ids must be a comma-separated list of integers.")
        wanted = [int(p) for p in parts]
        unknown = [t for t in wanted if t not in positions]
        if unknown:
            raise APIError.validation(
                f"These tile IDs are not on this dashboard: {', '.join(map(str, unknown))}. "
                "Read the dashboard to see the tiles it has."
            )
    results: list[dict[str, Any]] = []
    budget = _RESPONSE_BUDGET
    for tile in ordered:
        if wanted is not None and tile.id not in wanted:
            continue
        insight = state.insights.get(tile.insight_id) if tile.insight_id is not None else None
        if insight is None or not insight.data.get("query"):
            continue
        result: Any = insight.data.get("result")
        if output == "optimized":
            if budget < 200:
                result = f"[Not run. The response is full; ask again with tile_ids={tile.id}.]"
            else:
                text = msgspec.json.encode(result).decode()
                limit = min(max_chars or len(text), budget)
                result = _cut_middle(text, limit)
                budget -= len(result)
        results.append(
            {
                "id": tile.id,
                "insight": {
                    "id": insight.id,
                    "short_id": insight.data.get("short_id"),
                    "name": insight.data.get("name"),
                    "derived_name": insight.data.get("derived_name"),
                    "result": result,
                },
                "order": positions[tile.id],
                "last_refresh": None,
                "is_cached": False,
            }
        )
    return respond(ctx, 200, {"results": results})


def _cut_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = " … "
    keep = max(limit - len(marker), 0)
    head = keep - keep // 2
    return text[:head] + marker + text[len(text) - keep // 2 :]
