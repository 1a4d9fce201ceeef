"""``dashboards/{id}/collaborators/``: explicit edit rights on restricted dashboards (EE)."""

from __future__ import annotations

from aiohttp import web

from .._drf import APIError, parse_choice, parse_uuid
from .._state import Collaborator, new_uuid7
from ._common import RequestContext, get_dashboard, object_data, require_edit, respond

__all__ = ["add", "list_", "remove"]


async def list_(ctx: RequestContext) -> web.StreamResponse:
    """GET: active collaborators (no pagination)."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    active = [
        state.collaborator_json(c)
        for c in dashboard.collaborators.values()
        if (user := state.users.get(c.user_id)) is not None and user.is_active
    ]
    return respond(ctx, 200, active)


async def add(ctx: RequestContext) -> web.StreamResponse:
    """POST ``{user_uuid, level: 37}`` → 201 collaborator."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    data = object_data(ctx)
    if "level" not in data:
        raise APIError.validation("This field is required.", "level", "required")
    level = parse_choice(data["level"], "level", (21, 37))
    if "user_uuid" not in data:
        raise APIError.validation("This field is required.", "user_uuid", "required")
    user_uuid = parse_uuid(data["user_uuid"], "user_uuid")
    if state.effective_restriction(dashboard) == 21:
        raise APIError.validation(
            "Cannot add collaborators to a dashboard on the lowest restriction level."
        )
    if level != 37:
        raise APIError.validation("Only edit access can be explicitly specified currently.")
    target = next((u for u in state.users.values() if u.uuid == user_uuid and u.is_active), None)
    if target is None:
        raise APIError.validation("User does not exist.")
    if not state.has_project_access(target, dashboard.team_id):
        raise APIError.validation("Cannot add collaborators that have no access to the project.")
    if state.has_inherent_access(dashboard, target):
        raise APIError.validation(
            "Cannot add collaborators that already have inherent access "
            "(the dashboard owner or a project admins)."
        )
    if target.id in dashboard.collaborators:
        raise APIError.validation("User already is a collaborator.")
    now = state.now_text()
    collaborator = Collaborator(
        id=new_uuid7(),
        dashboard_id=dashboard.id,
        user_id=target.id,
        level=37,
        added_at=now,
        updated_at=now,
    )
    dashboard.collaborators[target.id] = collaborator
    return respond(ctx, 201, state.collaborator_json(collaborator))


async def remove(ctx: RequestContext) -> web.StreamResponse:
    """DELETE ``collaborators/{user_uuid}/`` → 204."""
    state = ctx.state
    dashboard = get_dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
    require_edit(ctx, dashboard)
    wanted = ctx.params["uuid"]
    match = next(
        (
            c
            for c in dashboard.collaborators.values()
            if (user := state.users.get(c.user_id)) is not None and user.uuid == wanted
        ),
        None,
    )
    if match is None:
        raise APIError.not_found()
    if state.effective_restriction(dashboard) == 21:
        raise APIError.validation(
            "Cannot remove collaborators from a dashboard on the lowest restriction level."
        )
    del dashboard.collaborators[match.user_id]
    return web.Response(status=204)
