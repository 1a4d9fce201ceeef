"""``/api/users/@me/``: who the key belongs to (what ``ph.request("/api/users/@me/")`` reads)."""

from __future__ import annotations

from aiohttp import web

from ._common import RequestContext, respond

__all__ = ["me"]


async def me(ctx: RequestContext) -> web.StreamResponse:
    """GET: the key owner as PostHog's ``UserSerializer`` shows them, with their project."""
    user = ctx.viewer
    project_id = user.current_project_id
    team = (
        {"id": project_id, "project_id": project_id, "name": "Default project"}
        if project_id is not None
        else None
    )
    body = {
        **user.basic(),
        "date_joined": "2024-03-01T09:00:00Z",
        "is_staff": False,
        "is_active": user.is_active,
        "team": team,
        "organization": {"id": "0189f2c0-0000-7000-8000-000000000001", "name": "Acme Analytics"},
        "scopes": list(ctx.key.scopes) if ctx.key is not None else [],
    }
    return respond(ctx, 200, body)
