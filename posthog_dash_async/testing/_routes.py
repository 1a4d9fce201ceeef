"""Every endpoint :class:`FakePostHog` serves, with the scope a personal API key needs.

One row per method and path. Paths are relative to ``/api/projects/{project}/`` (also served
under ``/api/environments/{project}/``, with ``@current`` for the key owner's project) unless
they start with ``/``; the trailing slash is optional; ``{name}`` matches one path segment.
The first row whose path matches wins, so literal segments come before ``{id}``.

``scope`` is what a personal API key must hold (``:write`` implies ``:read``, ``*`` holds all);
``UNSCOPED`` actions have no ``required_scopes`` in PostHog, so keys get 403 "This action does
not support personal API key access" unless ``allow_pak_on_unscoped_actions`` is on. ``ref``
is how the older server (``move_tile_flavour="ref"``) differs: ``UNSCOPED`` or ``ABSENT``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ._views import collaborators, dashboards, insights, sharing, stream, templates, tiles, users
from ._views._common import View

__all__ = ["ABSENT", "ROUTES", "UNSCOPED", "Route", "RouteGroup", "match"]

UNSCOPED = "<none>"
ABSENT = "<absent>"

DASH_R, DASH_W = "dashboard:read", "dashboard:write"
SHARE_R, SHARE_W = "sharing_configuration:read", "sharing_configuration:write"
INS_R, INS_W = "insight:read", "insight:write"
QUERY_R = "query:read"
TMPL_R = "dashboard_template:read"
USER_R = "user:read"


@dataclass(frozen=True)
class Route:
    """One endpoint: ``method`` on ``path`` served by ``view`` for keys holding ``scope``."""

    method: str
    path: str
    scope: str
    view: View
    ref: str | None = None
    sse: bool = False


R = Route

# fmt: off
#: The dashboards viewset: DRF's SSE renderer is one of its renderers, so an error there is
#: rendered as text for ``Accept: text/event-stream`` (see the module docstring of testing).
_DASHBOARD_VIEWSET: tuple[Route, ...] = (
    # dashboards.py
    R("GET",    "dashboards/",                            DASH_R,   dashboards.list_),
    R("POST",   "dashboards/",                            DASH_W,   dashboards.create),
    R("POST",   "dashboards/create_from_template_json/",  UNSCOPED, templates.from_json),
    R("GET",    "dashboards/{id}/",                       DASH_R,   dashboards.retrieve),
    R("PATCH",  "dashboards/{id}/",                       DASH_W,   dashboards.update),
    R("PUT",    "dashboards/{id}/",                       DASH_W,   dashboards.update),
    R("DELETE", "dashboards/{id}/",                       DASH_W,   dashboards.destroy),
    # tiles.py (PATCH "tiles" entries: tile_entries.py)
    R("PATCH",  "dashboards/{id}/move_tile/",             DASH_W,   tiles.move, ref=UNSCOPED),
    R("POST",   "dashboards/{id}/move_tile/",             DASH_W,   tiles.move, ref=ABSENT),
    R("POST",   "dashboards/{id}/copy_tile/",             DASH_W,   tiles.copy_tile),
    R("POST",   "dashboards/{id}/reorder_tiles/",         DASH_W,   tiles.reorder_tiles),
    R("POST",   "dashboards/{id}/create_text_tile/",      DASH_W,   tiles.create_text_tile),
    R("POST",   "dashboards/{id}/update_text_tile/",      DASH_W,   tiles.update_text_tile),
    R("POST",   "dashboards/{id}/delete_tile/",           DASH_W,   tiles.delete_tile),
    # insights.py
    R("GET",    "dashboards/{id}/run_insights/",          QUERY_R,  insights.run_insights),
    # stream.py
    R("GET",    "dashboards/{id}/stream_tiles/",          UNSCOPED, stream.stream_tiles),
)
_OTHER_VIEWSETS: tuple[Route, ...] = (
    # collaborators.py
    R("GET",    "dashboards/{id}/collaborators/",         DASH_R,   collaborators.list_),
    R("POST",   "dashboards/{id}/collaborators/",         DASH_W,   collaborators.add),
    R("DELETE", "dashboards/{id}/collaborators/{uuid}/",  DASH_W,   collaborators.remove),
    # sharing.py
    R("GET",    "dashboards/{id}/sharing/",               SHARE_R,  sharing.retrieve),
    R("PATCH",  "dashboards/{id}/sharing/",               SHARE_W,  sharing.update),
    R("POST",   "dashboards/{id}/sharing/refresh/",       SHARE_W,  sharing.refresh),
    R("POST",   "dashboards/{id}/sharing/passwords/",     SHARE_W,  sharing.add_password),
    R("DELETE", "dashboards/{id}/sharing/passwords/{password_id}/",
                                                          SHARE_W,  sharing.remove_password),
    # templates.py
    R("GET",    "dashboard_templates/",                   TMPL_R,   templates.list_),
    R("GET",    "dashboard_templates/{id}/",              TMPL_R,   templates.retrieve),
    # insights.py
    R("GET",    "insights/",                              INS_R,    insights.list_),
    R("POST",   "insights/",                              INS_W,    insights.create),
    R("GET",    "insights/{id}/",                         INS_R,    insights.retrieve),
    R("PATCH",  "insights/{id}/",                         INS_W,    insights.update),
    R("PUT",    "insights/{id}/",                         INS_W,    insights.update),
    R("DELETE", "insights/{id}/",                         INS_W,    insights.destroy),
    # users.py (outside the project prefix)
    R("GET",    "/api/users/@me/",                        USER_R,   users.me),
)
# fmt: on

ROUTES: tuple[Route, ...] = (
    *(replace(route, sse=True) for route in _DASHBOARD_VIEWSET),
    *_OTHER_VIEWSETS,
)


@dataclass
class RouteGroup:
    """The rows that share one path: what a URL resolves to before the method is looked at."""

    path: str
    pattern: re.Pattern[str]
    project: bool
    sse: bool
    methods: dict[str, Route] = field(default_factory=dict)


_PROJECT_PREFIX = r"^/api/(?:projects|environments)/(?P<project>[^/]+)/"


def _compile(path: str) -> tuple[re.Pattern[str], bool]:
    project = not path.startswith("/")
    body = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/.]+)", re.escape(path.strip("/")))
    prefix = _PROJECT_PREFIX if project else "^/"
    return re.compile(prefix + body + "/?$"), project


def _groups(routes: tuple[Route, ...]) -> tuple[RouteGroup, ...]:
    groups: dict[str, RouteGroup] = {}
    for route in routes:
        group = groups.get(route.path)
        if group is None:
            pattern, project = _compile(route.path)
            group = groups[route.path] = RouteGroup(route.path, pattern, project, route.sse)
        if route.method in group.methods:
            raise ValueError(f"duplicate route {route.method} {route.path}")
        group.methods[route.method] = route
    return tuple(groups.values())


GROUPS = _groups(ROUTES)


def match(path: str) -> tuple[RouteGroup | None, Mapping[str, str]]:
    """The route group of a request path and its path parameters."""
    for group in GROUPS:
        found = group.pattern.match(path)
        if found is not None:
            return group, {k: v for k, v in found.groupdict().items() if v is not None}
    return None, {}
