"""``dashboards/{id}/sharing/``: the public link, its settings, token refresh and passwords."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from aiohttp import web

from .._drf import APIError, RawError, parse_bool, parse_char
from .._state import SHARING_SETTINGS_KEYS, SharingConfig, share_token
from ._common import RequestContext, get_dashboard, object_data, require_edit, respond

__all__ = ["refresh", "retrieve", "update"]

#: How long a token replaced by ``refresh`` keeps working, in seconds.
SHARE_TOKEN_GRACE = 300.0


async def retrieve(ctx: RequestContext) -> web.StreamResponse:
    """GET: the saved configuration, or an unsaved one with a fresh token."""
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    config = dashboard.sharing
    if config is None:
        # Nothing is saved: every GET shows a fresh, unsaved token.
        config = SharingConfig(created_at=None, enabled=False, access_token=share_token())
    return respond(ctx, 200, ctx.state.sharing_json(config))


async def update(ctx: RequestContext) -> web.StreamResponse:
    """PATCH ``{enabled?, settings?, password_required?}``."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    enabled = parse_bool(data["enabled"], "enabled") if "enabled" in data else None
    password_required = (
        parse_bool(data["password_required"], "password_required")
        if "password_required" in data
        else None
    )
    settings: dict[str, Any] | None = None
    if "settings" in data:
        raw = data["settings"]
        if raw is not None and not isinstance(raw, dict):
            raise APIError.validation("Invalid settings format", "settings")
        if raw is not None:
            settings = {k: raw[k] for k in SHARING_SETTINGS_KEYS if k in raw and raw[k] is not None}
    if password_required and not state.advanced_permissions:
        raise RawError(
            403, {"error": "Sharing with password requires the Advanced Permissions feature"}
        )
    if enabled and not ctx.server.public_sharing:
        raise APIError.permission_denied("Public sharing is disabled for this organization.")
    config = dashboard.sharing
    if config is None:
        config = SharingConfig(
            created_at=state.now_text(), enabled=False, access_token=share_token()
        )
        dashboard.sharing = config
    if enabled is not None:
        config.enabled = enabled
    if "settings" in data:
        config.settings = settings
    if password_required is not None:
        config.password_required = password_required
    return respond(ctx, 200, state.sharing_json(config))


async def refresh(ctx: RequestContext) -> web.StreamResponse:
    """POST ``sharing/refresh/``: a new token; the old one keeps working for a grace period."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    old = dashboard.sharing
    config = SharingConfig(created_at=state.now_text(), enabled=False, access_token=share_token())
    if old is not None:
        config.enabled = old.enabled
        config.settings = copy.deepcopy(old.settings)
        config.password_required = old.password_required
        config.share_passwords = copy.deepcopy(old.share_passwords)
        config.retired_tokens = dict(old.retired_tokens)
        config.retired_tokens[old.access_token] = ctx.server._timer() + SHARE_TOKEN_GRACE
    dashboard.sharing = config
    return respond(ctx, 200, state.sharing_json(config))


# --------------------------------------------------------------------------------------------
# share-link passwords (2026)

_NO_PASSWORDS = "Password management requires the Advanced Permissions feature"


async def add_password(ctx: RequestContext) -> web.StreamResponse:
    """POST ``sharing/passwords/`` ``{raw_password?, note?}`` → 201 with the plaintext, once."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    config = dashboard.sharing
    if config is None or not config.password_required:
        raise RawError(
            400, {"error": "Password protection must be enabled before creating passwords"}
        )
    if not state.advanced_permissions:
        raise RawError(403, {"error": _NO_PASSWORDS})
    data = object_data(ctx)
    raw = data.get("raw_password")
    if raw is not None and raw != "":
        password = parse_char(raw, "raw_password") or ""
        if len(password) < 8:
            raise APIError.validation(
                "Password must be at least 8 characters long.", "raw_password"
            )
    else:
        password = secrets.token_urlsafe(12)
    note = parse_char(data.get("note") or "", "note", max_length=100) or ""
    record = {
        "id": secrets.token_hex(8),
        "note": note,
        "created_at": state.now_text(),
        "created_by_email": ctx.viewer.email,
        "is_active": True,
        "password": password,
    }
    config.share_passwords.append(record)
    shown = {k: record[k] for k in ("id", "password", "note", "created_at", "created_by_email")}
    return respond(ctx, 201, shown)


async def remove_password(ctx: RequestContext) -> web.StreamResponse:
    """DELETE ``sharing/passwords/{password_id}/`` → 204 (the password stops working)."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    if not state.advanced_permissions:
        raise RawError(403, {"error": _NO_PASSWORDS})
    config = dashboard.sharing
    wanted = ctx.params["password_id"]
    record = next(
        (
            p
            for p in (config.share_passwords if config is not None else [])
            if str(p.get("id")) == wanted and p.get("is_active", True)
        ),
        None,
    )
    if record is None:
        raise RawError(404, {"error": "Password not found"})
    record["is_active"] = False
    return web.Response(status=204)
