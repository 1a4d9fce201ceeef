"""The fake server's data: users, keys, projects, dashboards, tiles, insights, text cards.

Records are plain dataclasses; serialisers turn them into the exact JSON objects of spec §6 for
a given requesting user (several fields depend on who asks: privilege levels, access level,
``last_viewed_at``). Nothing here knows about HTTP.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._drf import format_datetime

__all__ = [
    "INSIGHT_KEYS",
    "ApiKey",
    "Button",
    "Collaborator",
    "Dashboard",
    "Insight",
    "Project",
    "SharingConfig",
    "State",
    "Text",
    "Tile",
    "User",
    "new_uuid7",
    "share_token",
]

RESTRICTION_EVERYONE = 21
RESTRICTION_INVITED = 37
PRIVILEGE_VIEW = 21
PRIVILEGE_EDIT = 37

#: Insight keys in serializer order (§6.4); derived keys are computed per request.
INSIGHT_KEYS = (
    "id",
    "short_id",
    "name",
    "derived_name",
    "filters",
    "query",
    "order",
    "deleted",
    "dashboards",
    "dashboard_tiles",
    "last_refresh",
    "cache_target_age",
    "next_allowed_client_refresh",
    "result",
    "hasMore",
    "columns",
    "created_at",
    "created_by",
    "description",
    "updated_at",
    "tags",
    "favorited",
    "saved",
    "last_modified_at",
    "last_modified_by",
    "is_sample",
    "effective_restriction_level",
    "effective_privilege_level",
    "user_access_level",
    "timezone",
    "is_cached",
    "query_status",
    "hogql",
    "types",
    "resolved_date_range",
    "alerts",
    "last_viewed_at",
    "filters_hash",
)
_INSIGHT_DERIVED = frozenset(
    {
        "id",
        "deleted",
        "dashboards",
        "dashboard_tiles",
        "created_by",
        "last_modified_by",
        "effective_restriction_level",
        "effective_privilege_level",
        "user_access_level",
    }
)
SHARING_SETTINGS_KEYS = (
    "whitelabel",
    "noHeader",
    "showInspector",
    "legend",
    "detailed",
    "hideExtraDetails",
)


def new_uuid7(now_ms: int | None = None) -> str:
    """A time-ordered UUID (version 7 layout), as PostHog uses for collaborator ids."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    rand = secrets.randbits(74)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def share_token() -> str:
    """A sharing access token: 30 URL-safe characters from 22 random bytes (§6.6)."""
    return secrets.token_urlsafe(22)


def _short_id(seed: int) -> str:
    alphabet = string.ascii_letters + string.digits
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(8))


@dataclass
class User:
    """A user of the organisation."""

    id: int
    uuid: str
    first_name: str
    last_name: str = ""
    email: str = ""
    distinct_id: str | None = None
    is_email_verified: bool | None = True
    hedgehog_config: dict[str, Any] | None = None
    role_at_organization: str | None = None
    is_active: bool = True
    #: Project admins have inherent edit rights on every dashboard of their projects.
    is_admin: bool = False
    #: The project ``@current`` resolves to for this user.
    current_project_id: int | None = None

    def basic(self) -> dict[str, Any]:
        """``UserBasicSerializer`` output (§6.1)."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "distinct_id": self.distinct_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "is_email_verified": self.is_email_verified,
            "hedgehog_config": self.hedgehog_config,
            "role_at_organization": self.role_at_organization,
        }


@dataclass
class ApiKey:
    """A personal API key."""

    value: str
    user_id: int
    scopes: tuple[str, ...] = ("*",)
    #: Projects the key is limited to; ``None`` means every project of the user.
    scoped_projects: frozenset[int] | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key's scopes satisfy ``scope`` (``:write`` implies ``:read``, ``*``)."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        obj, _, kind = scope.partition(":")
        return kind == "read" and f"{obj}:write" in self.scopes


@dataclass
class Project:
    """A project (single environment: the team id equals the project id)."""

    id: int
    member_ids: set[int] = field(default_factory=set)


@dataclass
class Insight:
    """An insight; ``data`` holds every non-derived serializer key."""

    id: int
    team_id: int
    data: dict[str, Any]
    created_by: int | None = None
    last_modified_by: int | None = None
    deleted: bool = False


@dataclass
class Text:
    """A text card."""

    id: int
    team_id: int
    body: str | None
    created_by: int | None = None
    last_modified_by: int | None = None
    last_modified_at: str = ""


@dataclass
class Button:
    """A button tile's payload (REF+)."""

    id: str
    team_id: int
    url: str
    text: str
    placement: str = "left"
    style: str | None = None
    created_by: int | None = None
    last_modified_by: int | None = None
    last_modified_at: str = ""


@dataclass
class Tile:
    """A dashboard tile: exactly one of insight, text card or button."""

    id: int
    dashboard_id: int
    insight_id: int | None = None
    text_id: int | None = None
    button_id: str | None = None
    layouts: Any = field(default_factory=dict)
    color: str | None = None
    filters_overrides: Any = field(default_factory=dict)
    show_description: bool | None = None
    transparent_background: bool | None = None
    #: ``None`` until a tile is ever deleted or restored (shows as ``null`` in insights).
    deleted: bool | None = None
    #: The tile-level ``error`` object of a query that failed schema validation (§6.4).
    error: dict[str, Any] | None = None
    #: A message that makes this tile fail during ``stream_tiles`` serialisation.
    stream_error: str | None = None
    #: A widget tile's payload (``{id, widget_type, config, ...}``); ``None`` otherwise.
    widget: dict[str, Any] | None = None


@dataclass
class Collaborator:
    """An explicit dashboard privilege (EE)."""

    id: str
    dashboard_id: int
    user_id: int
    level: int
    added_at: str
    updated_at: str


@dataclass
class SharingConfig:
    """A saved sharing configuration of a dashboard."""

    created_at: str | None
    enabled: bool
    access_token: str
    settings: dict[str, Any] | None = None
    password_required: bool = False
    share_passwords: list[dict[str, Any]] = field(default_factory=list)
    #: Tokens replaced by ``refresh`` and the monotonic time their grace period ends.
    retired_tokens: dict[str, float] = field(default_factory=dict)


@dataclass
class Dashboard:
    """A dashboard row (deleted ones are kept: deletion is soft)."""

    id: int
    team_id: int
    name: str | None
    description: str = ""
    pinned: bool = False
    created_at: str = ""
    created_by: int | None = None
    last_accessed_at: str | None = None
    #: ``last_viewed_at`` per user id: the web app's view log, never bumped by the API.
    viewed_at: dict[int, str] = field(default_factory=dict)
    deleted: bool = False
    creation_mode: str = "default"
    filters: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    breakdown_colors: Any = field(default_factory=list)
    data_color_theme_id: int | None = None
    tags: list[str] = field(default_factory=list)
    restriction_level: int = RESTRICTION_EVERYONE
    last_refresh: str | None = None
    quick_filter_ids: list[str] = field(default_factory=list)
    sharing: SharingConfig | None = None
    collaborators: dict[int, Collaborator] = field(default_factory=dict)
    #: The project-tree folder the dashboard is filed in (``None``: not filed).
    folder: str | None = None


@dataclass
class ViewOptions:
    """Per-request serialisation inputs."""

    viewer: User
    layout_size: str = "sm"
    filters_override: dict[str, Any] | None = None
    variables_override: dict[str, Any] | None = None
    #: NEWEST merges overrides over the stored values; REF replaced them.
    merge_overrides: bool = True
    #: Tile id -> filters merged over that tile's ``filters_overrides``.
    tile_filters_override: dict[int, dict[str, Any]] | None = None


class State:
    """Everything the fake server stores, plus the serialisers of §6."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        tagging: bool,
        advanced_permissions: bool,
    ) -> None:
        self.now = now
        self.tagging = tagging
        self.advanced_permissions = advanced_permissions
        self.users: dict[int, User] = {}
        self.keys: dict[str, ApiKey] = {}
        self.projects: dict[int, Project] = {}
        self.dashboards: dict[int, Dashboard] = {}
        self.tiles: dict[int, Tile] = {}
        self.insights: dict[int, Insight] = {}
        self.texts: dict[int, Text] = {}
        self.buttons: dict[str, Button] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.quick_filters: set[str] = set()
        self._next_ids: dict[str, int] = {
            "user": 2000,
            "dashboard": 1000,
            "tile": 20000,
            "insight": 5000,
            "text": 800,
        }

    # ----------------------------------------------------------------------------------------
    # ids and time

    def now_text(self) -> str:
        """The current time as the server renders it."""
        return format_datetime(self.now())

    def allocate(self, kind: str, taken: Iterable[int]) -> int:
        """The next free id of a kind (ids only grow, like database sequences)."""
        candidate = max([self._next_ids[kind] - 1, *taken], default=0) + 1
        self._next_ids[kind] = candidate + 1
        return candidate

    def reserve(self, kind: str, value: int) -> None:
        """Make sure later allocations of ``kind`` do not reuse ``value``."""
        self._next_ids[kind] = max(self._next_ids[kind], value + 1)

    # ----------------------------------------------------------------------------------------
    # users and permissions

    def user_basic(self, user_id: int | None) -> dict[str, Any] | None:
        """Nested user object, or ``None`` for a deleted/unknown user."""
        user = self.users.get(user_id) if user_id is not None else None
        return user.basic() if user is not None else None

    def has_project_access(self, user: User, project_id: int) -> bool:
        """Whether ``user`` is a member of the project."""
        project = self.projects.get(project_id)
        return project is not None and user.id in project.member_ids

    def effective_restriction(self, dashboard: Dashboard) -> int:
        """21 whenever the organisation lacks the dashboard-permissions feature."""
        if not self.advanced_permissions:
            return RESTRICTION_EVERYONE
        return dashboard.restriction_level

    def has_inherent_access(self, dashboard: Dashboard, user: User) -> bool:
        """The creator and project admins can always edit."""
        return dashboard.created_by == user.id or user.is_admin

    def privilege(self, dashboard: Dashboard, user: User) -> int:
        """Effective privilege of ``user`` on ``dashboard`` (§6.2)."""
        if self.effective_restriction(dashboard) == RESTRICTION_EVERYONE:
            return PRIVILEGE_EDIT
        if self.has_inherent_access(dashboard, user):
            return PRIVILEGE_EDIT
        collaborator = dashboard.collaborators.get(user.id)
        if collaborator is not None and collaborator.level >= PRIVILEGE_EDIT:
            return PRIVILEGE_EDIT
        return PRIVILEGE_VIEW

    def can_edit(self, dashboard: Dashboard, user: User) -> bool:
        """Whether ``user`` may change ``dashboard``."""
        return self.privilege(dashboard, user) >= PRIVILEGE_EDIT

    def access_level(self, dashboard: Dashboard, user: User) -> str:
        """RBAC ``user_access_level``: owners and admins manage, editors edit, others view."""
        if self.has_inherent_access(dashboard, user):
            return "manager"
        return "editor" if self.can_edit(dashboard, user) else "viewer"

    # ----------------------------------------------------------------------------------------
    # tiles

    def live_tiles(self, dashboard: Dashboard) -> list[Tile]:
        """Tiles shown on a dashboard: not deleted, and not pointing at a deleted insight."""
        tiles = []
        for tile in self.tiles.values():
            if tile.dashboard_id != dashboard.id or tile.deleted:
                continue
            if tile.insight_id is not None:
                insight = self.insights.get(tile.insight_id)
                if insight is None or insight.deleted:
                    continue
            tiles.append(tile)
        return tiles

    def sorted_tiles(self, dashboard: Dashboard, size: str = "sm") -> list[Tile]:
        """Tiles by ``(y, x)`` of the ``size`` layout, missing values as 100, ties by id."""
        return sorted(self.live_tiles(dashboard), key=lambda tile: _layout_key(tile, size))

    def _tile_refs(self, tiles: Iterable[Tile]) -> list[dict[str, Any]]:
        refs = []
        for tile in sorted(tiles, key=lambda item: item.id):
            dashboard = self.dashboards.get(tile.dashboard_id)
            if dashboard is None or dashboard.deleted or tile.deleted:
                continue
            refs.append({"id": tile.id, "dashboard_id": tile.dashboard_id, "deleted": tile.deleted})
        return refs

    # ----------------------------------------------------------------------------------------
    # serialisers

    def insight_json(self, insight: Insight, viewer: User) -> dict[str, Any]:
        """``InsightSerializer`` as embedded in a dashboard tile."""
        refs = self._tile_refs(t for t in self.tiles.values() if t.insight_id == insight.id)
        dashboards: list[int] = []
        for ref in refs:
            if ref["dashboard_id"] not in dashboards:
                dashboards.append(ref["dashboard_id"])
        owner = insight.created_by == viewer.id or viewer.is_admin
        derived: dict[str, Any] = {
            "id": insight.id,
            "deleted": insight.deleted,
            "dashboards": dashboards,
            "dashboard_tiles": refs,
            "created_by": self.user_basic(insight.created_by),
            "last_modified_by": self.user_basic(insight.last_modified_by),
            "effective_restriction_level": RESTRICTION_EVERYONE,
            "effective_privilege_level": PRIVILEGE_EDIT,
            "user_access_level": "manager" if owner else "editor",
        }
        out: dict[str, Any] = {}
        for key in INSIGHT_KEYS:
            if key in _INSIGHT_DERIVED:
                out[key] = derived[key]
            elif key == "tags":
                out[key] = list(insight.data.get("tags") or []) if self.tagging else []
            else:
                out[key] = insight.data.get(key)
        for key, value in insight.data.items():
            if key not in out:
                out[key] = value
        return out

    def text_json(self, text: Text) -> dict[str, Any]:
        """``TextSerializer`` output."""
        return {
            "id": text.id,
            "created_by": self.user_basic(text.created_by),
            "last_modified_by": self.user_basic(text.last_modified_by),
            "body": text.body,
            "dashboard_tiles": self._tile_refs(
                t for t in self.tiles.values() if t.text_id == text.id
            ),
            "last_modified_at": text.last_modified_at,
            "team": text.team_id,
        }

    def button_json(self, button: Button) -> dict[str, Any]:
        """Button tile payload."""
        return {
            "id": button.id,
            "created_by": self.user_basic(button.created_by),
            "last_modified_by": self.user_basic(button.last_modified_by),
            "url": button.url,
            "text": button.text,
            "placement": button.placement,
            "style": button.style,
            "dashboard_tiles": self._tile_refs(
                t for t in self.tiles.values() if t.button_id == button.id
            ),
            "last_modified_at": button.last_modified_at,
            "team": button.team_id,
        }

    def tile_json(self, tile: Tile, order: int | None, viewer: User) -> dict[str, Any]:
        """``DashboardTileSerializer`` output (§6.4)."""
        insight = self.insights.get(tile.insight_id) if tile.insight_id is not None else None
        text = self.texts.get(tile.text_id) if tile.text_id is not None else None
        button = self.buttons.get(tile.button_id) if tile.button_id is not None else None
        out: dict[str, Any] = {
            "id": tile.id,
            "insight": self.insight_json(insight, viewer) if insight is not None else None,
            "text": self.text_json(text) if text is not None else None,
            "button_tile": self.button_json(button) if button is not None else None,
            "layouts": tile.layouts,
            "color": tile.color,
            "filters_overrides": tile.filters_overrides,
            "show_description": tile.show_description,
            "transparent_background": tile.transparent_background,
            "order": order,
            "last_refresh": insight.data.get("last_refresh") if insight is not None else None,
            "is_cached": bool(insight.data.get("is_cached")) if insight is not None else False,
            "widget": tile.widget,
        }
        if tile.error is not None:
            out["error"] = tile.error
        return out

    def tile_view(self, tile: Tile, order: int | None, options: ViewOptions) -> dict[str, Any]:
        """A tile as one request sees it: ``tile_filters_override`` merged over its filters."""
        out = self.tile_json(tile, order, options.viewer)
        extra = (options.tile_filters_override or {}).get(tile.id)
        if extra:
            stored = tile.filters_overrides if isinstance(tile.filters_overrides, dict) else {}
            out["filters_overrides"] = {**stored, **extra}
        return out

    def _common(self, dashboard: Dashboard, viewer: User) -> dict[str, Any]:
        sharing = dashboard.sharing
        return {
            "id": dashboard.id,
            "name": dashboard.name,
            "description": dashboard.description,
            "pinned": dashboard.pinned,
            "created_at": dashboard.created_at,
            "created_by": self.user_basic(dashboard.created_by),
            "last_accessed_at": dashboard.last_accessed_at,
            "last_viewed_at": dashboard.viewed_at.get(viewer.id),
            "folder": dashboard.folder,
            "is_shared": bool(sharing is not None and sharing.enabled),
            "deleted": dashboard.deleted,
            "creation_mode": dashboard.creation_mode,
        }

    def _access(self, dashboard: Dashboard, viewer: User) -> dict[str, Any]:
        return {
            "tags": list(dashboard.tags) if self.tagging else [],
            "restriction_level": dashboard.restriction_level,
            "effective_restriction_level": self.effective_restriction(dashboard),
            "effective_privilege_level": self.privilege(dashboard, viewer),
            "user_access_level": self.access_level(dashboard, viewer),
            "access_control_version": (
                "v1" if dashboard.restriction_level > RESTRICTION_EVERYONE else "v2"
            ),
            "last_refresh": dashboard.last_refresh,
        }

    def dashboard_basic_json(self, dashboard: Dashboard, viewer: User) -> dict[str, Any]:
        """``DashboardBasicSerializer``: a list item, never with tiles (§6.2)."""
        out = self._common(dashboard, viewer)
        out.update(self._access(dashboard, viewer))
        out["team_id"] = dashboard.team_id
        return out

    def dashboard_json(
        self,
        dashboard: Dashboard,
        options: ViewOptions,
        *,
        tiles: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``DashboardSerializer``: the detail object (§6.3).

        ``tiles`` replaces the tile list (``stream_tiles`` sends only the first two).
        """
        viewer = options.viewer
        out = self._common(dashboard, viewer)
        out["filters"] = _overridden(dashboard.filters, options.filters_override, options)
        out["variables"] = _overridden(dashboard.variables, options.variables_override, options)
        out["breakdown_colors"] = dashboard.breakdown_colors
        out["data_color_theme_id"] = dashboard.data_color_theme_id
        out.update(self._access(dashboard, viewer))
        out["persisted_filters"] = dict(dashboard.filters) or None
        out["persisted_variables"] = dict(dashboard.variables) or None
        out["team_id"] = dashboard.team_id
        out["quick_filter_ids"] = list(dashboard.quick_filter_ids)
        if tiles is None:
            tiles = [
                self.tile_view(tile, order, options)
                for order, tile in enumerate(self.sorted_tiles(dashboard, options.layout_size))
            ]
        out["tiles"] = tiles
        return out

    def collaborator_json(self, collaborator: Collaborator) -> dict[str, Any]:
        """``DashboardCollaboratorSerializer`` output (§6.5)."""
        return {
            "id": collaborator.id,
            "dashboard_id": collaborator.dashboard_id,
            "user": self.user_basic(collaborator.user_id),
            "level": collaborator.level,
            "added_at": collaborator.added_at,
            "updated_at": collaborator.updated_at,
        }

    @staticmethod
    def sharing_json(config: SharingConfig) -> dict[str, Any]:
        """``SharingConfigurationSerializer`` output (§6.6)."""
        return {
            "created_at": config.created_at,
            "enabled": config.enabled,
            "access_token": config.access_token,
            "settings": config.settings,
            "password_required": config.password_required,
            "share_passwords": [
                {k: v for k, v in p.items() if k != "password"}
                for p in config.share_passwords
                if p.get("is_active", True)
            ],
        }

    # ----------------------------------------------------------------------------------------
    # creation helpers shared by the seed, the programmatic API and the endpoints

    def new_insight(
        self,
        team_id: int,
        fields: Mapping[str, Any],
        *,
        created_by: int | None,
        insight_id: int | None = None,
    ) -> Insight:
        """Store an insight, filling every serializer key the caller left out."""
        if insight_id is None:
            insight_id = self.allocate("insight", self.insights)
        else:
            self.reserve("insight", insight_id)
        now = self.now_text()
        digest = hashlib.md5(f"insight-{insight_id}".encode(), usedforsecurity=False)
        defaults: dict[str, Any] = {
            "short_id": _short_id(insight_id),
            "name": None,
            "derived_name": None,
            "filters": {},
            "query": None,
            "order": None,
            "last_refresh": None,
            "cache_target_age": None,
            "next_allowed_client_refresh": None,
            "result": None,
            "hasMore": None,
            "columns": None,
            "created_at": now,
            "description": None,
            "updated_at": now,
            "tags": [],
            "favorited": False,
            "saved": True,
            "last_modified_at": now,
            "is_sample": False,
            "timezone": "UTC",
            "is_cached": False,
            "query_status": None,
            "hogql": None,
            "types": None,
            "resolved_date_range": None,
            "alerts": [],
            "last_viewed_at": None,
            "filters_hash": "cache_" + digest.hexdigest(),
        }
        data: dict[str, Any] = {}
        for key in INSIGHT_KEYS:
            if key in _INSIGHT_DERIVED:
                continue
            data[key] = fields[key] if key in fields else defaults[key]
        for key, value in fields.items():
            if key not in data and key not in _INSIGHT_DERIVED:
                data[key] = value
        insight = Insight(
            id=insight_id,
            team_id=team_id,
            data=data,
            created_by=created_by,
            last_modified_by=created_by,
            deleted=bool(fields.get("deleted", False)),
        )
        self.insights[insight_id] = insight
        return insight

    def new_text(
        self,
        team_id: int,
        body: str | None,
        *,
        created_by: int | None,
        text_id: int | None = None,
        last_modified_by: int | None = None,
        last_modified_at: str | None = None,
    ) -> Text:
        """Store a text card."""
        if text_id is None:
            text_id = self.allocate("text", self.texts)
        else:
            self.reserve("text", text_id)
        text = Text(
            id=text_id,
            team_id=team_id,
            body=body,
            created_by=created_by,
            last_modified_by=last_modified_by,
            last_modified_at=last_modified_at or self.now_text(),
        )
        self.texts[text_id] = text
        return text

    def new_tile(self, dashboard_id: int, *, tile_id: int | None = None, **fields: Any) -> Tile:
        """Store a tile on a dashboard."""
        if tile_id is None:
            tile_id = self.allocate("tile", self.tiles)
        else:
            self.reserve("tile", tile_id)
        tile = Tile(id=tile_id, dashboard_id=dashboard_id, **fields)
        self.tiles[tile_id] = tile
        return tile


def _overridden(
    stored: Mapping[str, Any], override: dict[str, Any] | None, options: ViewOptions
) -> dict[str, Any]:
    # NEWEST: ``{**stored, **override}`` (top-level keys replace); REF: the override alone.
    if override is None:
        return dict(stored)
    if options.merge_overrides:
        return {**stored, **override}
    return override


def _coordinate(layout: Mapping[str, Any], key: str) -> float:
    value = layout.get(key, 100)
    if isinstance(value, bool) or value is None:
        return 100.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 100.0


def _layout_key(tile: Tile, size: str) -> tuple[float, float, int]:
    layouts = tile.layouts if isinstance(tile.layouts, Mapping) else {}
    layout = layouts.get(size)
    if not isinstance(layout, Mapping):
        return (100.0, 100.0, tile.id)
    return (_coordinate(layout, "y"), _coordinate(layout, "x"), tile.id)
