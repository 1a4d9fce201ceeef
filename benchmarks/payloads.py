"""Deterministic, realistic PostHog Dashboards API payloads for the benchmark server.

Shapes and key order follow ``spec/posthog-api.md`` §6 and the constructed fixtures
(``dashboard_detail.json``, ``dashboards_list_page.json``, ``sharing_configuration.json``);
values are invented. Everything here is plain Python data; the server serialises it once.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

PROJECT_ID = 42
SLOW_PROJECT_ID = 43  # same data; list pages answered after a simulated query time
TEAM_ID = 42
DETAIL_DASHBOARD_ID = 412
DETAIL_TILE_COUNT = 20
LIST_DASHBOARD_COUNT = 2000
DEFAULT_PAGE_SIZE = 100

_EPOCH = datetime(2025, 9, 1, 8, 0, 0, tzinfo=timezone.utc)
_FIRST_NAMES = ["Priya", "Tomás", "Aiko", "Lena", "Kwame", "Marta", "Noor", "Jonas"]
_LAST_NAMES = ["Raman", "Ibarra", "Sato", "Keller", "Mensah", "Nowak", "Haddad", "Berg"]
_EVENTS = ["$pageview", "user signed up", "$autocapture", "invoice paid", "feature used"]
_COLORS = ["blue", "green", "purple", "black", None]


def _ts(rng: random.Random) -> str:
    """An ISO-8601 UTC timestamp with microseconds, as PostHog renders them."""
    moment = _EPOCH + timedelta(
        seconds=rng.randrange(0, 60 * 86400), microseconds=rng.randrange(1, 10**6)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def make_user(rng: random.Random) -> dict[str, Any]:
    """A nested ``UserBasic`` (§6.1)."""
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    hedgehog = (
        {"use_as_profile": True, "color": "blue", "accessories": ["beret"], "skin": "default"}
        if rng.random() < 0.3
        else None
    )
    return {
        "id": rng.randrange(1000, 2000),
        "uuid": _uuid(rng),
        "distinct_id": f"{rng.getrandbits(200):050x}"[:43],
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}@acme-analytics.example",
        "is_email_verified": True,
        "hedgehog_config": hedgehog,
        "role_at_organization": rng.choice(["engineering", "product", "founder", None]),
    }


def _trends_result(rng: random.Random, event: str, points: int) -> list[dict[str, Any]]:
    days = [(_EPOCH + timedelta(days=7 * i)).strftime("%Y-%m-%d") for i in range(points)]
    labels = [(_EPOCH + timedelta(days=7 * i)).strftime("%-d-%b-%Y") for i in range(points)]
    data = [float(rng.randrange(200, 5000)) for _ in range(points)]
    return [
        {
            "action": {
                "id": event,
                "type": "events",
                "order": 0,
                "name": event,
                "custom_name": None,
                "math": "dau",
                "math_property": None,
                "math_hogql": None,
                "math_group_type_index": None,
                "properties": {},
            },
            "label": event,
            "count": sum(data),
            "data": data,
            "labels": labels,
            "days": days,
            "filter": {
                "date_from": "2025-10-04T00:00:00Z",
                "date_to": "2025-11-03T23:59:59.999999Z",
                "display": "ActionsLineGraph",
                "interval": "week",
                "insight": "TRENDS",
            },
        }
    ]


def _funnel_result(rng: random.Random, steps: int) -> list[dict[str, Any]]:
    count = rng.randrange(2000, 9000)
    out: list[dict[str, Any]] = []
    for order in range(steps):
        event = _EVENTS[order % len(_EVENTS)]
        out.append(
            {
                "action_id": event,
                "name": event,
                "custom_name": None,
                "order": order,
                "people": [],
                "count": count,
                "type": "events",
                "average_conversion_time": None if order == 0 else round(rng.uniform(100, 9000), 1),
                "median_conversion_time": None if order == 0 else round(rng.uniform(100, 9000), 1),
                "breakdown": None,
                "breakdown_value": None,
            }
        )
        count = int(count * rng.uniform(0.3, 0.9))
    return out


def make_insight(
    rng: random.Random, insight_id: int, tile_id: int, dashboard_id: int, points: int
) -> dict[str, Any]:
    """An embedded insight (§6.4), trends or funnel, with a cached result."""
    creator = make_user(rng)
    event = rng.choice(_EVENTS)
    refreshed = _ts(rng)
    if rng.random() < 0.7:
        query: dict[str, Any] = {
            "kind": "InsightVizNode",
            "source": {
                "kind": "TrendsQuery",
                "series": [{"kind": "EventsNode", "event": event, "name": event, "math": "dau"}],
                "interval": "week",
                "dateRange": {"date_from": "-30d", "explicitDate": False},
                "filterTestAccounts": True,
                "trendsFilter": {"display": "ActionsLineGraph"},
            },
        }
        result: Any = _trends_result(rng, event, points)
        types: Any = [["date", "Array(DateTime)"], ["total", "Array(Float64)"]]
        hogql = "SELECT arrayMap(number -> plus(toStartOfWeek(...))) AS date, ... FROM events ..."
    else:
        steps = max(2, points // 6)
        query = {
            "kind": "InsightVizNode",
            "source": {
                "kind": "FunnelsQuery",
                "series": [
                    {"kind": "EventsNode", "event": _EVENTS[i % 5], "name": _EVENTS[i % 5]}
                    for i in range(steps)
                ],
                "dateRange": {"date_from": "-30d", "explicitDate": False},
                "funnelsFilter": {
                    "funnelVizType": "steps",
                    "funnelWindowInterval": 14,
                    "funnelWindowIntervalUnit": "day",
                },
                "filterTestAccounts": True,
            },
        }
        result = _funnel_result(rng, steps)
        types = [[f"step_{i + 1}", "UInt64"] for i in range(steps)]
        hogql = "SELECT countIf(ifNull(equals(steps, 1), 0)) AS step_1, ... FROM (...)"
    return {
        "id": insight_id,
        "short_id": f"{rng.getrandbits(48):012x}"[:8],
        "name": f"{event} weekly",
        "derived_name": None,
        "filters": {},
        "query": query,
        "order": None,
        "deleted": False,
        "dashboards": [dashboard_id],
        "dashboard_tiles": [{"id": tile_id, "dashboard_id": dashboard_id, "deleted": None}],
        "last_refresh": refreshed,
        "cache_target_age": refreshed,
        "next_allowed_client_refresh": refreshed,
        "result": result,
        "hasMore": None,
        "columns": None,
        "created_at": _ts(rng),
        "created_by": creator,
        "description": "Distinct users with at least one event, per week.",
        "updated_at": _ts(rng),
        "tags": [],
        "favorited": False,
        "saved": True,
        "last_modified_at": _ts(rng),
        "last_modified_by": creator,
        "is_sample": False,
        "effective_restriction_level": 21,
        "effective_privilege_level": 37,
        "user_access_level": "manager",
        "timezone": "UTC",
        "is_cached": True,
        "query_status": None,
        "hogql": hogql,
        "types": types,
        "resolved_date_range": {
            "date_from": "2025-10-04T00:00:00Z",
            "date_to": "2025-11-03T23:59:59.999999Z",
        },
        "alerts": [],
        "last_viewed_at": _ts(rng),
        "filters_hash": f"cache_{rng.getrandbits(128):032x}",
    }


def _layouts(tile_id: int, order: int) -> dict[str, Any]:
    x = (order % 2) * 6
    y = (order // 2) * 5
    return {
        "sm": {"i": str(tile_id), "x": x, "y": y, "w": 6, "h": 5, "minW": 3, "minH": 5},
        "xs": {"i": str(tile_id), "x": 0, "y": order * 5, "w": 1, "h": 5, "minW": 1, "minH": 5},
    }


def make_tile(rng: random.Random, dashboard_id: int, order: int, points: int) -> dict[str, Any]:
    """A dashboard tile (§6.4): mostly insights, every tenth one a markdown text card."""
    tile_id = dashboard_id * 100_000 + order + 1
    insight: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    refreshed: str | None = None
    if order % 10 == 9:
        text = {
            "id": tile_id,
            "created_by": make_user(rng),
            "last_modified_by": None,
            "body": "## Section\n" + "Everything below tracks the first-week experience. " * 66,
            "dashboard_tiles": [{"id": tile_id, "dashboard_id": dashboard_id, "deleted": None}],
            "last_modified_at": _ts(rng),
            "team": TEAM_ID,
        }
    else:
        insight = make_insight(rng, 2_000_000 + tile_id, tile_id, dashboard_id, points)
        refreshed = insight["last_refresh"]
    return {
        "id": tile_id,
        "insight": insight,
        "text": text,
        "button_tile": None,
        "layouts": _layouts(tile_id, order),
        "color": rng.choice(_COLORS),
        "filters_overrides": {},
        "show_description": None,
        "transparent_background": None,
        "order": order,
        "last_refresh": refreshed,
        "is_cached": insight is not None,
    }


def make_dashboard_summary(rng: random.Random, dashboard_id: int) -> dict[str, Any]:
    """A list item (§6.2)."""
    restricted = rng.random() < 0.1
    return {
        "id": dashboard_id,
        "name": f"Dashboard {dashboard_id:05d} — {rng.choice(_EVENTS)} health",
        "description": "Weekly health of acquisition and activation." if rng.random() < 0.5 else "",
        "pinned": rng.random() < 0.05,
        "created_at": _ts(rng),
        "created_by": make_user(rng),
        "last_accessed_at": _ts(rng),
        "last_viewed_at": None,
        "is_shared": rng.random() < 0.2,
        "deleted": False,
        "creation_mode": rng.choice(["default", "template", "duplicate"]),
        "tags": rng.sample(
            ["growth", "weekly", "finance", "product", "ops"], k=rng.randrange(0, 3)
        ),
        "restriction_level": 37 if restricted else 21,
        "effective_restriction_level": 37 if restricted else 21,
        "effective_privilege_level": 21 if restricted else 37,
        "user_access_level": "viewer" if restricted else "editor",
        "access_control_version": "v1" if restricted else "v2",
        "last_refresh": _ts(rng) if rng.random() < 0.7 else None,
        "team_id": TEAM_ID,
    }


def make_dashboard_detail(
    dashboard_id: int, tiles: list[dict[str, Any]], seed: int = 7
) -> dict[str, Any]:
    """A detail object (§6.3) holding ``tiles``."""
    rng = random.Random(seed)
    body = make_dashboard_summary(rng, dashboard_id)
    detail: dict[str, Any] = {}
    for key, value in body.items():
        if key == "tags":
            detail["filters"] = {"date_from": "-30d"}
            detail["variables"] = {}
            detail["breakdown_colors"] = []
            detail["data_color_theme_id"] = None
        if key == "team_id":
            detail["persisted_filters"] = {"date_from": "-30d"}
            detail["persisted_variables"] = None
        detail[key] = value
    detail["quick_filter_ids"] = []
    detail["tiles"] = tiles
    return detail


def detail_dashboard(
    dashboard_id: int = DETAIL_DASHBOARD_ID, tile_count: int = DETAIL_TILE_COUNT
) -> dict[str, Any]:
    """The ~90 KB dashboard served by ``GET dashboards/{id}/``."""
    rng = random.Random(dashboard_id)
    tiles = [make_tile(rng, dashboard_id, i, points=44) for i in range(tile_count)]
    return make_dashboard_detail(dashboard_id, tiles)


def stream_tile_templates(dashboard_id: int, count: int = 16) -> list[dict[str, Any]]:
    """Distinct ~5 KB tiles that a stream cycles through (ids and order are rewritten)."""
    rng = random.Random(dashboard_id)
    return [make_tile(rng, dashboard_id, i, points=57) for i in range(count)]


def dashboard_list(count: int = LIST_DASHBOARD_COUNT) -> list[dict[str, Any]]:
    """Every dashboard of the 2,000-dashboard project, in server order (pinned first, then name)."""
    rng = random.Random(2000)
    items = [make_dashboard_summary(rng, 1 + i) for i in range(count)]
    items.sort(key=lambda d: (not d["pinned"], d["name"]))
    return items


def sharing_configuration() -> dict[str, Any]:
    """A saved, enabled sharing configuration (§6.6), ~250 bytes compact."""
    return {
        "created_at": "2025-10-01T12:30:45.118032Z",
        "enabled": True,
        "access_token": "u7Qm2xKp-9WcTz4rLbN0aE_5sVdJhY",
        "settings": {"whitelabel": True, "noHeader": False, "showInspector": False},
        "password_required": False,
        "share_passwords": [],
        "user_access_level": "editor",
    }
