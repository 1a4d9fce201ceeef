"""pydantic v2 models for contender (c), mirroring ``floor_models`` field for field.

This is the decoding stack of Stainless-generated SDKs (httpx + pydantic v2). Unknown fields
are ignored (pydantic's default), datetimes parse to ``datetime``, free-form JSON is ``Any``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter


class User(BaseModel):
    id: int
    uuid: str
    distinct_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_email_verified: bool | None = None
    hedgehog_config: Any = None
    role_at_organization: str | None = None


class TileRef(BaseModel):
    id: int
    dashboard_id: int
    deleted: bool | None = None


class Insight(BaseModel):
    id: int
    short_id: str = ""
    name: str | None = None
    derived_name: str | None = None
    filters: Any = None
    query: Any = None
    order: int | None = None
    deleted: bool = False
    dashboards: list[int] = []
    dashboard_tiles: list[TileRef] = []
    last_refresh: datetime | None = None
    cache_target_age: datetime | None = None
    next_allowed_client_refresh: datetime | None = None
    result: Any = None
    has_more: bool | None = Field(default=None, alias="hasMore")
    columns: list[str] | None = None
    created_at: datetime | None = None
    created_by: User | None = None
    description: str | None = None
    updated_at: datetime | None = None
    tags: list[str] = []
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
    query_status: Any = None
    hogql: str | None = None
    types: Any = None
    resolved_date_range: Any = None
    alerts: list[Any] = []
    last_viewed_at: datetime | None = None
    filters_hash: str | None = None


class Text(BaseModel):
    id: int
    created_by: User | None = None
    last_modified_by: User | None = None
    body: str | None = None
    dashboard_tiles: list[TileRef] = []
    last_modified_at: datetime | None = None
    team: int | None = None


class ButtonTile(BaseModel):
    id: str
    created_by: User | None = None
    last_modified_by: User | None = None
    url: str = ""
    text: str = ""
    placement: str = "left"
    style: str | None = None
    dashboard_tiles: list[TileRef] = []
    last_modified_at: datetime | None = None
    team: int | None = None


class Tile(BaseModel):
    id: int
    insight: Insight | None = None
    text: Text | None = None
    button_tile: ButtonTile | None = None
    layouts: dict[str, Any] = {}
    color: str | None = None
    filters_overrides: Any = None
    show_description: bool | None = None
    transparent_background: bool | None = None
    order: int | None = None
    last_refresh: datetime | None = None
    is_cached: bool = False
    error: Any = None


class DashboardSummary(BaseModel):
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
    tags: list[str] = []
    restriction_level: int = 21
    effective_restriction_level: int = 21
    effective_privilege_level: int = 37
    user_access_level: str | None = None
    access_control_version: str | None = None
    last_refresh: datetime | None = None
    team_id: int | None = None


class Dashboard(DashboardSummary):
    filters: Any = None
    variables: Any = None
    breakdown_colors: Any = None
    data_color_theme_id: int | None = None
    persisted_filters: Any = None
    persisted_variables: Any = None
    quick_filter_ids: list[str] = []
    tiles: list[Tile] = []


class Page(BaseModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[DashboardSummary] = []


class SharePassword(BaseModel):
    id: Any = None
    created_at: datetime | None = None
    note: str | None = None
    created_by_email: str | None = None
    is_active: bool = True


class SharingConfiguration(BaseModel):
    created_at: datetime | None = None
    enabled: bool = False
    access_token: str | None = None
    settings: Any = None
    password_required: bool = False
    share_passwords: list[SharePassword] = []
    user_access_level: str | None = None


class MetadataEvent(BaseModel):
    type: Literal["metadata"]
    dashboard: Dashboard


class TileEvent(BaseModel):
    type: Literal["tile"]
    order: int
    tile: Tile


class ErrorEvent(BaseModel):
    type: Literal["error"]
    error: Any = None
    tile_id: int | None = None


class CompleteEvent(BaseModel):
    type: Literal["complete"]


Event = Annotated[
    Union[MetadataEvent, TileEvent, ErrorEvent, CompleteEvent],  # noqa: UP007
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
