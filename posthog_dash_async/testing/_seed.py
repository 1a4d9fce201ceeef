"""Seed data: the fixture dashboard 412 "Growth overview" and a realistic project around it.

All ids and timestamps are fixed so that tests can name them. The current user is Priya Raman
(1043, a project member); Tomás Ibarra (1077) is a project admin; Lena Fischer (1102) is a
member who can be added as a collaborator; Sam Okafor (1120) belongs to the organisation but
has no access to the project; Alex Moreau (1133) is deactivated.

Dashboards of project 42 (pinned first, then by name, as the list endpoint orders them):

==== ====================================== =====================================================
id   name                                   notes
==== ====================================== =====================================================
415  Billing health                         pinned, restriction 37 by Tomás (Priya: view only),
                                            Lena is an explicit collaborator, tag ``finance``
412  Growth overview                        pinned, the fixture dashboard: trends + funnel + text,
                                            shared, tags ``growth`` ``weekly``
450  Generated Dashboard: $pageview trends  hidden by ``exclude_generated=true``
377  Web analytics                          created from the ``WEBSITE_TRAFFIC`` template
420  Website SEO                            restriction 37 owned by Priya (collaborators work)
388  Weekly KPIs                            six big-number tiles, tag ``kpi``
401  Weekly retention                       funnel, trends and a text card, tag ``weekly``
433  (no name)                              empty; sorts last
460  Session replay embed                   ``creation_mode`` unlisted: only listed on request
470  Old experiments                        soft-deleted (restorable)
==== ====================================== =====================================================
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ._builders import TileSpec, funnel_tile, number_tile, text_tile, trends_tile
from ._loader import load_dashboard, register_user
from ._state import Collaborator, Project, SharingConfig, State

__all__ = [
    "BUILTIN_TEMPLATES",
    "CURRENT_USER",
    "seed_dashboards",
    "seed_users",
]

PRIYA: dict[str, Any] = {
    "id": 1043,
    "uuid": "0189f2c1-7d3e-7a10-8a5e-6b1f0c2d4e71",
    "distinct_id": "Kx9v2mQ8pL3rT7wYbN4cZ1aS6dF0gH5jE8uI2oP7qRs",
    "first_name": "Priya",
    "last_name": "Raman",
    "email": "priya@acme-analytics.example",
    "is_email_verified": True,
    "hedgehog_config": None,
    "role_at_organization": "product",
}
TOMAS: dict[str, Any] = {
    "id": 1077,
    "uuid": "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3",
    "distinct_id": "pW4eR8tY2uI6oP0aS3dF7gH1jK5lZ9xC2vB6nM0qWe",
    "first_name": "Tomás",
    "last_name": "Ibarra",
    "email": "tomas@acme-analytics.example",
    "is_email_verified": True,
    "hedgehog_config": {
        "use_as_profile": True,
        "color": "blue",
        "accessories": ["beret"],
        "skin": "default",
    },
    "role_at_organization": "engineering",
}
LENA: dict[str, Any] = {
    "id": 1102,
    "uuid": "018d7e21-4b6a-7c3f-9e12-0a4b8c6d2f90",
    "distinct_id": "Zq3wE5rT7yU9iO1pA2sD4fG6hJ8kL0zX3cV5bN7mQa",
    "first_name": "Lena",
    "last_name": "Fischer",
    "email": "lena@acme-analytics.example",
    "is_email_verified": True,
    "hedgehog_config": None,
    "role_at_organization": "engineering",
}
SAM: dict[str, Any] = {
    "id": 1120,
    "uuid": "018e0b93-2c7d-7f45-8a31-5d9e7b1c4a26",
    "distinct_id": "Rt6yU8iO0pA1sD3fG5hJ7kL9zX2cV4bN6mQ8wE0rTy",
    "first_name": "Sam",
    "last_name": "Okafor",
    "email": "sam@acme-analytics.example",
    "is_email_verified": False,
    "hedgehog_config": None,
    "role_at_organization": "sales",
}
ALEX: dict[str, Any] = {
    "id": 1133,
    "uuid": "018e5c40-9d12-7b8e-b6f3-2e7a9c0d5b14",
    "distinct_id": "Mn2bV4cX6zL8kJ0hG2fD4sA6pO8iU0yT2rE4wQ6eRt",
    "first_name": "Alex",
    "last_name": "Moreau",
    "email": "alex@acme-analytics.example",
    "is_email_verified": True,
    "hedgehog_config": None,
    "role_at_organization": None,
}

#: The user the server's default API key belongs to.
CURRENT_USER = PRIYA

#: Tiles of dashboard 412 exactly as in spec/fixtures/dashboard_detail.json.
GROWTH_TILES: list[dict[str, Any]] = [
    {
        "id": 9001,
        "insight": {
            "id": 2301,
            "short_id": "aZ3kP9qW",
            "name": "Weekly active users",
            "derived_name": None,
            "filters": {},
            "query": {
                "kind": "InsightVizNode",
                "source": {
                    "kind": "TrendsQuery",
                    "series": [
                        {
                            "kind": "EventsNode",
                            "event": "$pageview",
                            "name": "$pageview",
                            "math": "dau",
                        }
                    ],
                    "interval": "week",
                    "dateRange": {"date_from": "-30d", "explicitDate": False},
                    "filterTestAccounts": True,
                    "trendsFilter": {"display": "ActionsLineGraph"},
                },
            },
            "order": None,
            "last_refresh": "2025-11-03T09:40:02.771930Z",
            "cache_target_age": "2025-11-03T10:40:02.771930Z",
            "next_allowed_client_refresh": "2025-11-03T09:55:02.771930Z",
            "result": [
                {
                    "action": {
                        "id": "$pageview",
                        "type": "events",
                        "order": 0,
                        "name": "$pageview",
                        "custom_name": None,
                        "math": "dau",
                        "math_property": None,
                        "math_hogql": None,
                        "math_group_type_index": None,
                        "properties": {},
                    },
                    "label": "$pageview",
                    "count": 6463.0,
                    "data": [1412.0, 1530.0, 1498.0, 1621.0, 402.0],
                    "labels": [
                        "5-Oct-2025",
                        "12-Oct-2025",
                        "19-Oct-2025",
                        "26-Oct-2025",
                        "2-Nov-2025",
                    ],
                    "days": ["2025-10-05", "2025-10-12", "2025-10-19", "2025-10-26", "2025-11-02"],
                    "filter": {
                        "date_from": "2025-10-04T00:00:00Z",
                        "date_to": "2025-11-03T23:59:59.999999Z",
                        "display": "ActionsLineGraph",
                        "interval": "week",
                        "insight": "TRENDS",
                    },
                }
            ],
            "hasMore": None,
            "columns": None,
            "created_at": "2025-09-14T08:05:40.120394Z",
            "created_by": PRIYA,
            "description": "Distinct users with at least one pageview, per week.",
            "updated_at": "2025-10-22T11:17:03.458812Z",
            "tags": [],
            "favorited": False,
            "saved": True,
            "last_modified_at": "2025-10-22T11:17:03.458812Z",
            "last_modified_by": PRIYA,
            "is_sample": False,
            "timezone": "UTC",
            "is_cached": True,
            "query_status": None,
            "hogql": "SELECT arrayMap(number -> "
            "plus(toStartOfWeek(assumeNotNull(toDateTime('2025-10-04 00:00:00')), "
            "0), toIntervalWeek(number)), range(0, 5)) AS date, ... FROM events "
            "WHERE equals(event, '$pageview') ...",
            "types": [["date", "Array(DateTime)"], ["total", "Array(Float64)"]],
            "resolved_date_range": {
                "date_from": "2025-10-04T00:00:00Z",
                "date_to": "2025-11-03T23:59:59.999999Z",
            },
            "alerts": [],
            "last_viewed_at": "2025-11-02T16:05:51.882310Z",
            "filters_hash": "cache_5b2e6f0a9c8d47e1b3a6f9d2c4e8a1b7",
        },
        "text": None,
        "layouts": {
            "sm": {"i": "9001", "x": 0, "y": 0, "w": 6, "h": 5, "minW": 3, "minH": 5},
            "xs": {"i": "9001", "x": 0, "y": 0, "w": 1, "h": 5, "minW": 1, "minH": 5},
        },
        "color": "blue",
    },
    {
        "id": 9002,
        "insight": {
            "id": 2302,
            "short_id": "Qm7tR2xV",
            "name": "Pricing → signup funnel",
            "derived_name": None,
            "filters": {},
            "query": {
                "kind": "InsightVizNode",
                "source": {
                    "kind": "FunnelsQuery",
                    "series": [
                        {
                            "kind": "EventsNode",
                            "event": "$pageview",
                            "name": "$pageview",
                            "custom_name": "Viewed pricing",
                            "properties": [
                                {
                                    "key": "$pathname",
                                    "value": "/pricing",
                                    "operator": "exact",
                                    "type": "event",
                                }
                            ],
                        },
                        {"kind": "EventsNode", "event": "user signed up", "name": "user signed up"},
                    ],
                    "dateRange": {"date_from": "-30d", "explicitDate": False},
                    "funnelsFilter": {
                        "funnelVizType": "steps",
                        "funnelWindowInterval": 14,
                        "funnelWindowIntervalUnit": "day",
                    },
                    "filterTestAccounts": True,
                },
            },
            "order": None,
            "last_refresh": "2025-11-03T09:41:29.004512Z",
            "cache_target_age": None,
            "next_allowed_client_refresh": "2025-11-03T09:56:29.004512Z",
            "result": [
                {
                    "action_id": "$pageview",
                    "name": "$pageview",
                    "custom_name": "Viewed pricing",
                    "order": 0,
                    "people": [],
                    "count": 2480,
                    "type": "events",
                    "average_conversion_time": None,
                    "median_conversion_time": None,
                    "breakdown": None,
                    "breakdown_value": None,
                },
                {
                    "action_id": "user signed up",
                    "name": "user signed up",
                    "custom_name": None,
                    "order": 1,
                    "people": [],
                    "count": 612,
                    "type": "events",
                    "average_conversion_time": 5321.4,
                    "median_conversion_time": 1804.0,
                    "breakdown": None,
                    "breakdown_value": None,
                },
            ],
            "hasMore": None,
            "columns": None,
            "created_at": "2025-09-14T08:09:12.551027Z",
            "created_by": PRIYA,
            "description": None,
            "updated_at": "2025-09-30T15:44:21.009113Z",
            "tags": [],
            "favorited": False,
            "saved": True,
            "last_modified_at": "2025-09-30T15:44:21.009113Z",
            "last_modified_by": PRIYA,
            "is_sample": False,
            "timezone": "UTC",
            "is_cached": False,
            "query_status": None,
            "hogql": "SELECT countIf(ifNull(equals(steps, 1), 0)) AS step_1, "
            "countIf(ifNull(equals(steps, 2), 0)) AS step_2, ... FROM (...)",
            "types": [["step_1", "UInt64"], ["step_2", "UInt64"]],
            "resolved_date_range": {
                "date_from": "2025-10-04T00:00:00Z",
                "date_to": "2025-11-03T23:59:59.999999Z",
            },
            "alerts": [],
            "last_viewed_at": "2025-11-02T16:05:51.882310Z",
            "filters_hash": "cache_c07d94e2a1f35b68e4d2907a6b1c3f58",
        },
        "text": None,
        "layouts": {
            "sm": {"i": "9002", "x": 6, "y": 0, "w": 6, "h": 5, "minW": 3, "minH": 5},
            "xs": {"i": "9002", "x": 0, "y": 5, "w": 1, "h": 5, "minW": 1, "minH": 5},
        },
        "color": None,
    },
    {
        "id": 9003,
        "insight": None,
        "text": {
            "id": 318,
            "created_by": PRIYA,
            "last_modified_by": None,
            "body": "## Activation\nEverything below this line tracks the first-week experience.",
            "last_modified_at": "2025-10-21T13:12:55.208840Z",
            "team": 42,
        },
        "layouts": {
            "sm": {"i": "9003", "x": 0, "y": 5, "w": 12, "h": 1},
            "xs": {"i": "9003", "x": 0, "y": 10, "w": 1, "h": 1},
        },
        "color": None,
    },
]

GROWTH_SHARING = SharingConfig(
    created_at="2025-10-01T12:30:45.118032Z",
    enabled=True,
    access_token="u7Qm2xKp-9WcTz4rLbN0aE_5sVdJhY",
    settings={"whitelabel": True, "noHeader": False},
)


def seed_users(state: State, project_id: int, *, everyone: bool) -> int:
    """Create the current user (and, with ``everyone``, the other seed users); return its id."""
    members = [PRIYA, TOMAS, LENA] if everyone else [PRIYA]
    others = [SAM, ALEX] if everyone else []
    project = state.projects.setdefault(project_id, Project(id=project_id))
    for data in [*members, *others]:
        user_id = register_user(state, data)
        assert user_id is not None
        user = state.users[user_id]
        user.current_project_id = project_id if data in members else None
        if data in members:
            project.member_ids.add(user_id)
    if everyone:
        state.users[TOMAS["id"]].is_admin = True
        state.users[ALEX["id"]].is_active = False
        # Alex used to be a member: deactivation, not removal, is what hides them.
        project.member_ids.add(ALEX["id"])
    return int(PRIYA["id"])


def _stamped(spec: TileSpec, when: str, insight_id: int | None = None) -> TileSpec:
    insight = spec.tile.get("insight")
    if isinstance(insight, dict):
        if insight_id is not None:
            insight["id"] = insight_id
        for key in ("created_at", "updated_at", "last_modified_at", "last_refresh"):
            insight.setdefault(key, when)
    text = spec.tile.get("text")
    if isinstance(text, dict):
        text.setdefault("last_modified_at", when)
    return spec


def _website_traffic() -> list[TileSpec]:
    return [
        trends_tile("Unique visitors", math="dau", layout=(0, 0, 6, 5)),
        trends_tile(
            "Page views",
            data=(410.0, 452.0, 430.0, 501.0, 488.0, 530.0, 512.0),
            layout=(6, 0, 6, 5),
        ),
        funnel_tile(
            "Landing page → signup",
            steps=(("$pageview", 5200), ("signup started", 640), ("user signed up", 410)),
            layout=(0, 5, 6, 5),
        ),
        text_tile("Traffic excludes internal and test accounts.", layout=(6, 5, 6, 2)),
    ]


def _default_app() -> list[TileSpec]:
    return [
        trends_tile("Daily active users (DAUs)", math="dau", layout=(0, 0, 6, 5)),
        trends_tile(
            "Weekly active users (WAUs)",
            math="weekly_active",
            interval="week",
            data=(820.0, 861.0, 900.0, 934.0),
            layout=(6, 0, 6, 5),
        ),
        funnel_tile(
            "Pageview funnel, by browser",
            steps=(("$pageview", 3000), ("$pageview", 1200), ("$pageview", 420)),
            layout=(0, 5, 6, 5),
        ),
        number_tile("Referring domain (last 14 days)", value=57.0, layout=(6, 5, 6, 5)),
    ]


#: ``use_template`` keys built into PostHog: name, description, filters and a tile factory.
BUILTIN_TEMPLATES: dict[str, tuple[str, str, dict[str, Any], Callable[[], list[TileSpec]]]] = {
    "DEFAULT_APP": (
        "My App Dashboard",
        "Active users, retention and acquisition at a glance.",
        {},
        _default_app,
    ),
    "WEBSITE_TRAFFIC": (
        "Website traffic",
        "Unique visitors, page views and the signup funnel of the website.",
        {"date_from": "-30d"},
        _website_traffic,
    ),
}


def seed_dashboards(state: State, project_id: int, viewer_id: int) -> None:
    """Create the seed dashboards of the module docstring in ``project_id``."""

    def load(detail: dict[str, Any], tiles: list[Any]) -> None:
        load_dashboard(state, detail, team_id=project_id, viewer_id=viewer_id, tiles=tiles)

    load(
        {
            "id": 412,
            "name": "Growth overview",
            "description": "Weekly health of acquisition and activation.",
            "pinned": True,
            "created_at": "2025-09-14T08:02:11.350918Z",
            "created_by": PRIYA,
            "last_accessed_at": "2025-11-03T09:41:27.512043Z",
            "last_viewed_at": "2025-11-02T16:05:44.101223Z",
            "filters": {"date_from": "-30d"},
            "tags": ["growth", "weekly"],
            "last_refresh": "2025-11-03T09:40:02.771930Z",
        },
        [dict(tile) for tile in GROWTH_TILES],
    )
    # A copy: every server changes its own sharing configuration, never the constant.
    state.dashboards[412].sharing = copy.deepcopy(GROWTH_SHARING)

    when = "2025-10-02T17:20:08.004113Z"
    load(
        {
            "id": 415,
            "name": "Billing health",
            "pinned": True,
            "created_at": when,
            "created_by": TOMAS,
            "last_accessed_at": "2025-11-01T08:15:00.930001Z",
            "creation_mode": "duplicate",
            "tags": ["finance"],
            "restriction_level": 37,
        },
        [
            _stamped(
                number_tile(
                    "MRR", value=48210.0, event="subscription paid", tile_id=9101, color="green"
                ),
                when,
                2501,
            ),
            _stamped(
                trends_tile(
                    "Failed payments",
                    event="payment failed",
                    data=(3.0, 1.0, 4.0, 0.0, 2.0, 5.0, 1.0),
                    tile_id=9102,
                ),
                when,
                2502,
            ),
        ],
    )
    state.dashboards[415].collaborators[int(LENA["id"])] = Collaborator(
        id="018f3b7c-5a20-7d41-9c41-e6b8d2f07a19",
        dashboard_id=415,
        user_id=int(LENA["id"]),
        level=37,
        added_at="2025-11-03T10:02:17.640201Z",
        updated_at="2025-11-03T10:02:17.640219Z",
    )

    when = "2025-06-11T10:48:33.771520Z"
    traffic = _website_traffic()
    for index, spec in enumerate(traffic):
        spec.tile["id"] = 9201 + index
        _stamped(spec, when, 2601 + index)
    load(
        {
            "id": 377,
            "name": "Web analytics",
            "description": "Created from the website traffic template.",
            "created_at": when,
            "created_by": PRIYA,
            "creation_mode": "template",
            "filters": {"date_from": "-30d"},
            "last_refresh": "2025-10-30T22:03:41.118440Z",
        },
        list(traffic),
    )

    when = "2025-07-02T09:15:00.000000Z"
    kpis = [
        ("Signups (7d)", 412.0, "user signed up"),
        ("Activated accounts", 187.0, "project created"),
        ("Paying customers", 96.0, "subscription paid"),
        ("Churned customers", 4.0, "subscription cancelled"),
        ("Support tickets", 23.0, "ticket opened"),
        ("NPS responses", 61.0, "survey sent"),
    ]
    load(
        {
            "id": 388,
            "name": "Weekly KPIs",
            "description": "Six numbers the leadership meeting starts with.",
            "created_at": "2025-07-02T09:15:00Z",
            "created_by": PRIYA,
            "tags": ["kpi"],
            "last_accessed_at": "2025-11-03T08:00:12.004500Z",
        },
        [
            _stamped(
                number_tile(
                    name,
                    value=value,
                    event=event,
                    tile_id=9301 + index,
                    layout=((index % 3) * 4, (index // 3) * 3, 4, 3),
                ),
                when,
                2701 + index,
            )
            for index, (name, value, event) in enumerate(kpis)
        ],
    )

    when = "2025-08-19T14:30:05.250000Z"
    load(
        {
            "id": 401,
            "name": "Weekly retention",
            "description": "Do new users come back in their second week?",
            "created_at": when,
            "created_by": PRIYA,
            "tags": ["weekly"],
        },
        [
            _stamped(
                funnel_tile(
                    "Signup → second-week return",
                    steps=(("user signed up", 900), ("$pageview", 410)),
                    tile_id=9401,
                    layout=(0, 0, 8, 5),
                ),
                when,
                2801,
            ),
            _stamped(
                trends_tile(
                    "Returning users",
                    math="dau",
                    interval="week",
                    data=(310.0, 333.0, 351.0, 342.0),
                    tile_id=9402,
                    layout=(8, 0, 4, 5),
                ),
                when,
                2802,
            ),
            _stamped(
                text_tile(
                    "Retention is measured on the **second** calendar week after signup.",
                    tile_id=9403,
                    text_id=331,
                    layout=(0, 5, 12, 1),
                    color="purple",
                ),
                when,
            ),
        ],
    )

    when = "2025-09-30T07:45:10.100000Z"
    load(
        {
            "id": 420,
            "name": "Website SEO",
            "created_at": when,
            "created_by": PRIYA,
            "tags": ["marketing"],
            "restriction_level": 37,
        },
        [_stamped(trends_tile("Organic sessions", event="$pageview", tile_id=9501), when, 2901)],
    )

    load(
        {
            "id": 433,
            "name": None,
            "created_at": "2025-10-20T11:00:00.500000Z",
            "created_by": LENA,
        },
        [],
    )

    when = "2025-10-25T16:20:44.000100Z"
    load(
        {
            "id": 450,
            "name": "Generated Dashboard: $pageview trends",
            "description": "Generated from the $pageview insight.",
            "created_at": when,
            "created_by": PRIYA,
        },
        [_stamped(trends_tile("$pageview trends", tile_id=9601), when, 3001)],
    )

    load(
        {
            "id": 460,
            "name": "Session replay embed",
            "created_at": "2025-10-27T09:00:00.250000Z",
            "created_by": PRIYA,
            "creation_mode": "unlisted",
        },
        [_stamped(text_tile("Embedded in the replay product.", tile_id=9701, text_id=340), when)],
    )

    when = "2025-03-04T12:00:00.000001Z"
    load(
        {
            "id": 470,
            "name": "Old experiments",
            "description": "Archived experiment results.",
            "created_at": when,
            "created_by": PRIYA,
            "deleted": True,
        },
        [
            _stamped(trends_tile("Experiment A conversions", tile_id=9801), when, 3101),
            _stamped(text_tile("Archived.", tile_id=9802, text_id=350), when),
        ],
    )
    for tile in state.tiles.values():
        if tile.dashboard_id == 470:
            tile.deleted = True
