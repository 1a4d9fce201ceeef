"""Load API-shaped dashboards and tiles (retrieve responses, :class:`TileSpec`) into state."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from ._builders import TileSpec
from ._state import Button, Dashboard, SharingConfig, State, Tile, User, share_token

__all__ = ["auto_layouts", "load_dashboard", "load_tile", "register_user", "remove_dashboard"]


def register_user(state: State, data: Mapping[str, Any] | None) -> int | None:
    """Make sure a nested user object exists as a user; return its id."""
    if data is None:
        return None
    user_id = int(data["id"])
    if user_id not in state.users:
        state.users[user_id] = User(
            id=user_id,
            uuid=str(data.get("uuid") or uuid.uuid4()),
            first_name=str(data.get("first_name") or ""),
            last_name=str(data.get("last_name") or ""),
            email=str(data.get("email") or ""),
            distinct_id=data.get("distinct_id"),
            is_email_verified=data.get("is_email_verified", True),
            hedgehog_config=data.get("hedgehog_config"),
            role_at_organization=data.get("role_at_organization"),
        )
        state.reserve("user", user_id)
    return user_id


def auto_layouts(tile_id: int, position: int) -> dict[str, Any]:
    """Two tiles per row on the 12-column grid, stacked on mobile."""
    return {
        "sm": {
            "i": str(tile_id),
            "x": (position % 2) * 6,
            "y": (position // 2) * 5,
            "w": 6,
            "h": 5,
            "minW": 3,
            "minH": 5,
        },
        "xs": {"i": str(tile_id), "x": 0, "y": position * 5, "w": 1, "h": 5, "minW": 1, "minH": 5},
    }


def _user_ref(state: State, data: Mapping[str, Any], key: str, default: int | None) -> int | None:
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, Mapping):
        return register_user(state, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def load_tile(
    state: State,
    dashboard: Dashboard,
    spec: TileSpec | Mapping[str, Any],
    *,
    position: int,
    default_user: int | None,
) -> Tile:
    """Store one API-shaped tile on ``dashboard``.

    An ``insight`` (or ``text``) whose ``id`` already exists is linked rather than copied, so
    one insight can sit on several dashboards, as in PostHog.
    """
    # A copy: stored tiles are changed in place later, the spec (often seed data) never is.
    if isinstance(spec, TileSpec):
        data, stream_error = copy.deepcopy(dict(spec.tile)), spec.stream_error
    else:
        data, stream_error = copy.deepcopy(dict(spec)), None
    tile_id = data.get("id")
    if tile_id is not None and tile_id in state.tiles:
        raise ValueError(f"tile {tile_id} already exists")
    if tile_id is None:
        tile_id = state.allocate("tile", state.tiles)
    team_id = dashboard.team_id
    refs: dict[str, Any] = {}
    insight_data = data.get("insight")
    text_data = data.get("text")
    button_data = data.get("button_tile")
    if isinstance(insight_data, Mapping):
        existing = insight_data.get("id")
        if existing is not None and existing in state.insights:
            refs["insight_id"] = existing
        else:
            creator = _user_ref(state, insight_data, "created_by", default_user)
            insight = state.new_insight(
                team_id, insight_data, created_by=creator, insight_id=existing
            )
            insight.last_modified_by = _user_ref(state, insight_data, "last_modified_by", creator)
            refs["insight_id"] = insight.id
    elif isinstance(text_data, Mapping):
        existing = text_data.get("id")
        if existing is not None and existing in state.texts:
            refs["text_id"] = existing
        else:
            text = state.new_text(
                team_id,
                text_data.get("body"),
                created_by=_user_ref(state, text_data, "created_by", default_user),
                text_id=existing,
                last_modified_by=_user_ref(state, text_data, "last_modified_by", None),
                last_modified_at=text_data.get("last_modified_at"),
            )
            refs["text_id"] = text.id
    elif isinstance(button_data, Mapping):
        button_id = str(button_data.get("id") or uuid.uuid4())
        if button_id not in state.buttons:
            creator = _user_ref(state, button_data, "created_by", default_user)
            state.buttons[button_id] = Button(
                id=button_id,
                team_id=team_id,
                url=str(button_data.get("url") or "/"),
                text=str(button_data.get("text") or ""),
                placement=str(button_data.get("placement") or "left"),
                style=button_data.get("style"),
                created_by=creator,
                last_modified_by=_user_ref(state, button_data, "last_modified_by", None),
                last_modified_at=button_data.get("last_modified_at") or state.now_text(),
            )
        refs["button_id"] = button_id
    layouts = data.get("layouts")
    if layouts is None:
        layouts = auto_layouts(tile_id, position)
    return state.new_tile(
        dashboard.id,
        tile_id=tile_id,
        layouts=layouts,
        color=data.get("color"),
        filters_overrides=data.get("filters_overrides", {}),
        show_description=data.get("show_description"),
        transparent_background=data.get("transparent_background"),
        deleted=data.get("deleted"),
        error=data.get("error"),
        stream_error=stream_error,
        widget=data.get("widget"),
        **refs,
    )


def remove_dashboard(state: State, dashboard_id: int) -> None:
    """Forget a dashboard and its tiles entirely (used when a load replaces an id)."""
    state.dashboards.pop(dashboard_id, None)
    for tile_id in [t.id for t in state.tiles.values() if t.dashboard_id == dashboard_id]:
        del state.tiles[tile_id]


def load_dashboard(
    state: State,
    detail: Mapping[str, Any],
    *,
    team_id: int,
    viewer_id: int,
    tiles: list[TileSpec | Mapping[str, Any]] | None = None,
) -> Dashboard:
    """Store a dashboard given as a retrieve response (any subset of keys).

    ``last_viewed_at`` is recorded for ``viewer_id``; ``persisted_filters`` and
    ``persisted_variables`` win over the effective ``filters``/``variables``; an existing
    dashboard with the same id is replaced.
    """
    dashboard_id = detail.get("id")
    if dashboard_id is None:
        dashboard_id = state.allocate("dashboard", state.dashboards)
    else:
        dashboard_id = int(dashboard_id)
        remove_dashboard(state, dashboard_id)
        state.reserve("dashboard", dashboard_id)
    created_by = _user_ref(state, detail, "created_by", viewer_id)
    filters = (
        detail["persisted_filters"] if "persisted_filters" in detail else detail.get("filters")
    )
    variables = (
        detail["persisted_variables"]
        if "persisted_variables" in detail
        else detail.get("variables")
    )
    created_at = detail.get("created_at") or state.now_text()
    dashboard = Dashboard(
        id=dashboard_id,
        team_id=int(detail.get("team_id") or team_id),
        name=detail.get("name"),
        description=detail.get("description") or "",
        pinned=bool(detail.get("pinned", False)),
        created_at=created_at,
        created_by=created_by,
        last_accessed_at=detail.get("last_accessed_at"),
        deleted=bool(detail.get("deleted", False)),
        creation_mode=str(detail.get("creation_mode") or "default"),
        filters=dict(filters or {}),
        variables=dict(variables or {}),
        breakdown_colors=detail.get("breakdown_colors", []),
        data_color_theme_id=detail.get("data_color_theme_id"),
        tags=list(detail.get("tags") or []),
        restriction_level=int(detail.get("restriction_level") or 21),
        last_refresh=detail.get("last_refresh"),
        quick_filter_ids=list(detail.get("quick_filter_ids") or []),
        folder=detail.get("folder") if isinstance(detail.get("folder"), str) else None,
    )
    if detail.get("last_viewed_at"):
        dashboard.viewed_at[viewer_id] = str(detail["last_viewed_at"])
    if detail.get("is_shared"):
        dashboard.sharing = SharingConfig(
            created_at=created_at, enabled=True, access_token=share_token()
        )
    state.dashboards[dashboard_id] = dashboard
    specs = tiles if tiles is not None else list(detail.get("tiles") or [])
    for position, spec in enumerate(specs):
        load_tile(state, dashboard, spec, position=position, default_user=created_by)
    return dashboard
