"""Typed response models (msgspec Structs) for PostHog's Dashboards API.

Field names and types follow the server's serializers (REF version). Every field that some
server version omits has a default, so responses of older and newer servers decode too;
unknown fields are ignored. Free-form JSON (``query``, ``result``, ``filters``, ``layouts``,
...) stays plain Python data. Datetimes decode to :class:`datetime.datetime`.

Structs are frozen: use :func:`msgspec.structs.replace` to derive a changed copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import msgspec

__all__ = [
    "ButtonTile",
    "Collaborator",
    "CompleteEvent",
    "Dashboard",
    "DashboardSummary",
    "DashboardTemplate",
    "Insight",
    "InsightRun",
    "Layout",
    "MetadataEvent",
    "NewSharePassword",
    "Page",
    "RunInsightsResult",
    "SharePassword",
    "SharingConfiguration",
    "StreamEvent",
    "Text",
    "Tile",
    "TileErrorEvent",
    "TileErrorInfo",
    "TileEvent",
    "TileLayout",
    "TileRef",
    "UnknownEvent",
    "User",
]

T = TypeVar("T")

JSONObject = dict[str, Any]


class _Model(msgspec.Struct, kw_only=True, frozen=True, repr_omit_defaults=True):
    """Base of every response model."""


class User(_Model, frozen=True):
    """A user as nested in responses (``UserBasicSerializer``)."""

    id: int
    uuid: str
    distinct_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_email_verified: bool | None = None
    hedgehog_config: JSONObject | None = None
    role_at_organization: str | None = None


class TileRef(_Model, frozen=True):
    """A reference from an insight, text or button to a tile that shows it."""

    id: int
    dashboard_id: int
    deleted: bool | None = None


class Insight(_Model, frozen=True):
    """An insight embedded in a dashboard tile.

    When the caller may not view the insight, the server sends only ``id``, ``short_id``
    and ``user_access_level``; every other field then keeps its default.
    """

    id: int
    short_id: str = ""
    name: str | None = None
    derived_name: str | None = None
    filters: JSONObject = msgspec.field(default_factory=dict)
    query: JSONObject | None = None
    order: int | None = None
    deleted: bool = False
    served_dashboards: list[int] | None = msgspec.field(default=None, name="dashboards")
    dashboard_tiles: list[TileRef] = msgspec.field(default_factory=list)
    last_refresh: datetime | None = None
    cache_target_age: datetime | None = None
    next_allowed_client_refresh: datetime | None = None
    result: Any = None
    hasMore: bool | None = None
    columns: list[str] | None = None
    created_at: datetime | None = None
    created_by: User | None = None
    description: str | None = None
    updated_at: datetime | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    favorited: bool = False
    saved: bool = False
    last_modified_at: datetime | None = None
    last_modified_by: User | None = None
    is_sample: bool = False
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    user_access_level: str | None = None
    timezone: str | None = None
    is_cached: bool = False
    query_status: JSONObject | None = None
    hogql: str | None = None
    types: list[Any] | None = None
    resolved_date_range: JSONObject | None = None
    alerts: list[Any] = msgspec.field(default_factory=list)
    last_viewed_at: datetime | None = None
    filters_hash: str | None = None

    @property
    def dashboards(self) -> list[int]:
        """Ids of the dashboards that show this insight.

        The server's deprecated ``dashboards`` list when it sent one
        (``served_dashboards``; newer servers send it only on request), else the
        dashboards of the insight's tiles that are not deleted (``dashboard_tiles``).
        """
        if self.served_dashboards is not None:
            return list(self.served_dashboards)
        ids: list[int] = []
        for ref in self.dashboard_tiles:
            if not ref.deleted and ref.dashboard_id not in ids:
                ids.append(ref.dashboard_id)
        return ids


class Text(_Model, frozen=True):
    """A text (markdown) card shown by a tile."""

    id: int
    created_by: User | None = None
    last_modified_by: User | None = None
    body: str | None = None
    dashboard_tiles: list[TileRef] = msgspec.field(default_factory=list)
    last_modified_at: datetime | None = None
    team: int | None = None


class ButtonTile(_Model, frozen=True):
    """A button (link) shown by a tile."""

    id: str
    created_by: User | None = None
    last_modified_by: User | None = None
    url: str = ""
    text: str = ""
    placement: str = "left"
    style: str | None = None
    dashboard_tiles: list[TileRef] = msgspec.field(default_factory=list)
    last_modified_at: datetime | None = None
    team: int | None = None


class TileErrorInfo(_Model, frozen=True):
    """Why a tile could not be serialized (``{"type": <exception class>, "message": ...}``)."""

    type: str = ""
    message: str = ""


class TileLayout(msgspec.Struct, frozen=True):
    """Where a tile sits on one breakpoint's grid, for sending: ``TileLayout(x, y, w, h)``.

    The ``sm`` grid has 12 columns: ``x`` 0-11, ``w`` 1-12 with ``x + w <= 12``; ``y >= 0``
    and ``h >= 1`` everywhere. Construction checks what holds on every breakpoint (whole
    numbers, ``x``/``y`` >= 0, ``w``/``h`` >= 1); the ``sm`` column bounds are checked
    where the layout is used as ``layouts={"sm": ...}``.
    """

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        from .errors import InvalidArgumentError

        for name, low in (("x", 0), ("y", 0), ("w", 1), ("h", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(
                    f"TileLayout.{name} must be an int >= {low}, got {value!r}"
                )

    def to_dict(self) -> dict[str, int]:
        """The JSON object the server stores (``{"x": .., "y": .., "w": .., "h": ..}``)."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


class Layout(_Model, frozen=True):
    """One grid placement of a tile (``layouts["sm"]``), with lenient number parsing."""

    x: int | None = None
    y: int | None = None
    w: int | None = None
    h: int | None = None


def lenient_int(value: Any) -> int | None:
    """A layout number as servers have stored it (int, whole float or numeric string);
    ``None`` for anything else, booleans included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


class Tile(_Model, frozen=True):
    """A dashboard tile: exactly one of ``insight``, ``text``, ``button_tile`` (or, on newer
    servers, ``widget``) is set. ``error`` is set when the tile could not be serialized."""

    id: int
    insight: Insight | None = None
    text: Text | None = None
    button_tile: ButtonTile | None = None
    widget: Any = None
    layouts: JSONObject = msgspec.field(default_factory=dict)
    color: str | None = None
    filters_overrides: JSONObject | None = None
    show_description: bool | None = None
    transparent_background: bool | None = None
    order: int | None = None
    last_refresh: datetime | None = None
    is_cached: bool = False
    error: TileErrorInfo | None = None

    @property
    def kind(self) -> Literal["insight", "text", "button", "widget", "error", "unknown"]:
        """What the tile shows."""
        if self.error is not None:
            return "error"
        if self.insight is not None:
            return "insight"
        if self.text is not None:
            return "text"
        if self.button_tile is not None:
            return "button"
        if self.widget is not None:
            return "widget"
        return "unknown"

    def layout(self, size: str = "sm") -> Layout | None:
        """The tile's placement for a layout size, numbers parsed leniently; ``None`` if absent.

        Layouts are stored verbatim by the server and may hold strings or be empty.
        """
        raw = self.layouts.get(size)
        if not isinstance(raw, dict):
            return None
        return Layout(
            x=lenient_int(raw.get("x")),
            y=lenient_int(raw.get("y")),
            w=lenient_int(raw.get("w")),
            h=lenient_int(raw.get("h")),
        )


class DashboardSummary(_Model, frozen=True):
    """A dashboard as listed by ``GET dashboards/`` (no tiles)."""

    id: int
    name: str | None = None
    description: str = ""
    pinned: bool = False
    created_at: datetime | None = None
    created_by: User | None = None
    last_accessed_at: datetime | None = None
    last_viewed_at: datetime | None = None
    is_shared: bool = False
    deleted: bool = False
    creation_mode: str = "default"
    tags: list[str] = msgspec.field(default_factory=list)
    restriction_level: int = 21
    effective_restriction_level: int = 21
    effective_privilege_level: int = 37
    user_access_level: str | None = None
    access_control_version: str | None = None
    last_refresh: datetime | None = None
    team_id: int | None = None
    search_match_type: str | None = None
    #: The project folder the dashboard is filed in (a path string; ``None``: not filed).
    #: Some earlier server revisions sent an object instead, kept as plain data.
    folder: str | JSONObject | None = None


class Dashboard(DashboardSummary, frozen=True):
    """A dashboard with its tiles, as returned by retrieve, create, update and move_tile."""

    filters: JSONObject = msgspec.field(default_factory=dict)
    variables: JSONObject | None = None
    breakdown_colors: Any = None
    data_color_theme_id: int | None = None
    persisted_filters: JSONObject | None = None
    persisted_variables: JSONObject | None = None
    quick_filter_ids: list[str] = msgspec.field(default_factory=list)
    tiles: list[Tile] = msgspec.field(default_factory=list)


class Collaborator(_Model, frozen=True):
    """An explicit editor of a restricted dashboard."""

    id: str
    dashboard_id: int
    user: User
    level: int = 37
    added_at: datetime | None = None
    updated_at: datetime | None = None


class SharePassword(_Model, frozen=True):
    """A password that unlocks a password-protected share link."""

    id: Any
    created_at: datetime | None = None
    note: str | None = None
    created_by_email: str | None = None
    is_active: bool = True


class NewSharePassword(SharePassword, frozen=True):
    """A share password just created: the only answer that shows its plaintext
    (``password``), which ``repr()`` does not."""

    password: str = ""

    def __repr__(self) -> str:
        return (
            f"NewSharePassword(id={self.id!r}, note={self.note!r}, password='***', "
            f"created_by_email={self.created_by_email!r})"
        )


class SharingConfiguration(_Model, frozen=True):
    """The public sharing settings of a dashboard.

    ``created_at`` is ``None`` while the configuration was never saved; the server then
    shows a fresh, unsaved ``access_token`` on every read.
    """

    created_at: datetime | None = None
    enabled: bool = False
    access_token: str | None = None
    settings: JSONObject | None = None
    password_required: bool = False
    share_passwords: list[SharePassword] = msgspec.field(default_factory=list)
    user_access_level: str | None = None


class InsightRun(_Model, frozen=True):
    """One insight tile of ``run_insights``: the tile ``id``, its insight (``id``,
    ``short_id``, ``name``, ``derived_name`` and ``result``) and its position ``order``."""

    id: int
    insight: Insight
    order: int | None = None
    last_refresh: datetime | None = None
    is_cached: bool = False


class RunInsightsResult(_Model, frozen=True):
    """What ``run_insights`` answers: one :class:`InsightRun` per insight tile, in order."""

    results: list[InsightRun] = msgspec.field(default_factory=list)


class DashboardTemplate(_Model, frozen=True):
    """A dashboard template (``dashboard_templates/``); its ``template_name`` is what
    ``dashboards.create(use_template=...)`` takes."""

    id: str
    template_name: str | None = None
    dashboard_description: str | None = None
    dashboard_filters: JSONObject | None = None
    tags: list[str] | None = None
    tiles: list[Any] | None = None
    variables: list[Any] | None = None
    deleted: bool | None = None
    created_at: datetime | None = None
    created_by: int | User | None = None
    image_url: str | None = None
    team_id: int | None = None
    scope: str | None = None
    availability_contexts: list[str] | None = None
    is_featured: bool = False


class Page(_Model, Generic[T], frozen=True):
    """One page of a limit/offset paginated list."""

    count: int
    next: str | None = None
    previous: str | None = None
    results: list[T] = msgspec.field(default_factory=list)


# --- tile stream events ---------------------------------------------------------------
# The known events are tagged with the server's ``type``, so ``msgspec.json.encode(event)``
# gives back the wire shape (``{"type": "tile", "order": 2, "tile": {...}}``): relaying a
# stream takes no mapping code. ``UnknownEvent.raw`` is already the wire shape.


class MetadataEvent(_Model, frozen=True, tag_field="type", tag="metadata"):
    """First event of a tile stream: the dashboard, whose ``tiles`` hold the first ≤ 2 tiles."""

    dashboard: Dashboard


class TileEvent(_Model, frozen=True, tag_field="type", tag="tile"):
    """One tile, in stream order (``order`` counts on from the metadata's tiles)."""

    order: int
    tile: Tile


class TileErrorEvent(_Model, frozen=True, tag_field="type", tag="error"):
    """A tile that failed to serialize; the stream goes on."""

    tile_id: int
    error: str


class CompleteEvent(_Model, frozen=True, tag_field="type", tag="complete"):
    """Last event of a successful stream."""


class UnknownEvent(_Model, frozen=True):
    """An event whose ``type`` this version of the SDK does not know (``raw`` is its JSON)."""

    type: str
    raw: Any


StreamEvent = MetadataEvent | TileEvent | TileErrorEvent | CompleteEvent | UnknownEvent
