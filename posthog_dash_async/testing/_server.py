"""The :class:`FakePostHog` server: routing, auth, throttling, the endpoints and the SSE stream."""

from __future__ import annotations

import asyncio
import copy
import math
import random
import re
import secrets
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import fields, replace
from datetime import datetime, timezone
from types import TracebackType
from typing import IO, Any, TypeAlias

from aiohttp import web
from multidict import MultiDict

from ._builders import TileSpec
from ._drf import APIError, RawError, negotiate
from ._faults import FaultRule, RecordedRequest, StreamFaults, make_rule
from ._loader import load_dashboard, load_tile, register_user
from ._routes import ABSENT, UNSCOPED, Route, RouteGroup, match
from ._seed import seed_dashboards, seed_users
from ._state import (
    ApiKey,
    Collaborator,
    Project,
    State,
    User,
    ViewOptions,
    new_uuid7,
)
from ._views._common import (
    RequestContext,
    ServerError,
    encode_json,
    last_param,
    request_data,
    reset_transport,
    respond,
)
from ._views.dashboards import cascade_delete
from ._views.stream import overloaded

__all__ = ["FakePostHog", "serve_forever"]

DelaySetting: TypeAlias = "float | Callable[[RecordedRequest], float] | None"

_JSON = ("json", "application/json")
_SSE = ("sse", "text/event-stream")
_FORMATS = {"json": "json", "sse": "txt"}
_BEARER = re.compile(r"^Bearer\s+(\S.*)$")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _SlidingWindow:
    """DRF's ``SimpleRateThrottle`` history for one rate (per personal API key)."""

    def __init__(self, limit: int | None, duration: float) -> None:
        self.limit = limit
        self.duration = duration
        self.history: dict[str, list[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        if not self.limit:
            return True
        history = self.history.setdefault(key, [])
        while history and history[-1] <= now - self.duration:
            history.pop()
        if len(history) >= self.limit:
            return False
        history.insert(0, now)
        return True

    def wait(self, key: str, now: float) -> float | None:
        assert self.limit
        history = self.history.get(key, [])
        remaining = self.duration - (now - history[-1]) if history else self.duration
        available = self.limit - len(history) + 1
        if available <= 0:
            return None
        return remaining / float(available)


class FakePostHog:
    """A stateful PostHog Dashboards API server on loopback, faithful to the spec.

    See the :mod:`posthog_dash_async.testing` module docstring for the options, the fault
    switches and the seed data.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: int = 42,
        api_key: str | None = None,
        scopes: Sequence[str] = ("*",),
        allow_pak_on_unscoped_actions: bool = False,
        move_tile_flavour: str = "new",
        new_sse_headers: bool = True,
        merge_overrides: bool = True,
        burst_limit: int | None = 480,
        sustained_limit: int | None = 4800,
        retry_after_header: bool = True,
        max_dashboards: int | None = 500,
        max_tiles_per_dashboard: int | None = 5000,
        seed: bool = True,
        tagging: bool = True,
        advanced_permissions: bool = True,
        public_sharing: bool = True,
        max_concurrent_streams: int | None = None,
        now: Callable[[], datetime] | None = None,
        timer: Callable[[], float] | None = None,
    ) -> None:
        if move_tile_flavour not in ("ref", "new"):
            raise ValueError("move_tile_flavour must be 'ref' or 'new'")
        self.host = host
        self.port = port
        self.project_id = project_id
        #: Scope-less actions (move_tile [REF], stream_tiles, create_from_template_json)
        #: accept personal API keys when true; PostHog answers 403 to them.
        self.allow_pak_on_unscoped_actions = allow_pak_on_unscoped_actions
        #: ``"ref"``: ``toDashboard``, PATCH only, no scope. ``"new"``: ``to_dashboard``
        #: required, PATCH or POST, ``dashboard:write``.
        self.move_tile_flavour = move_tile_flavour
        #: Add NEW's ``Cache-Control`` and ``X-Accel-Buffering`` headers to streams.
        self.new_sse_headers = new_sse_headers
        #: Merge ``filters_override``/``variables_override`` over the stored values and answer
        #: invalid JSON there with 400 (NEWEST); off: the override replaces, bad JSON is ignored.
        self.merge_overrides = merge_overrides
        #: Send ``Retry-After`` on throttled (429) answers (drf-exceptions-hog >= 0.4).
        self.retry_after_header = retry_after_header
        #: Live dashboards per project before ``create`` answers 402 (``None``: no limit).
        self.max_dashboards = max_dashboards
        #: Live tiles per dashboard before adding one answers 402 (``None``: no limit).
        self.max_tiles_per_dashboard = max_tiles_per_dashboard
        #: Random source of the stream overload's ``Retry-After`` (seed it for repeatability).
        self.random = random.Random()
        #: When false, enabling sharing answers 403 (organisation setting).
        self.public_sharing = public_sharing
        #: NEW's per-process stream cap: beyond it ``stream_tiles`` answers 503.
        self.max_concurrent_streams = max_concurrent_streams
        self._timer = timer or time.monotonic
        self.state = State(
            now=now or _utcnow, tagging=tagging, advanced_permissions=advanced_permissions
        )
        self._burst = _SlidingWindow(burst_limit, 60.0)
        self._sustained = _SlidingWindow(sustained_limit, 3600.0)

        self.state.projects[project_id] = Project(id=project_id)
        self.user_id = seed_users(self.state, project_id, everyone=seed)
        if seed:
            seed_dashboards(self.state, project_id, self.user_id)
        self.api_key = self.add_key(api_key, scopes)

        #: Every request received, in arrival order.
        self.requests: list[RecordedRequest] = []
        #: Requests being handled right now, and the highest that number has been.
        self.in_flight = 0
        self.max_in_flight = 0
        #: Faults applied to ``stream_tiles`` (mutable; see :meth:`set_stream_faults`).
        self.stream_faults = StreamFaults()
        self._rules: list[FaultRule] = []
        self._delay: DelaySetting = None
        self._active_streams = 0
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=64 * 2**20)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    # ----------------------------------------------------------------------------------------
    # lifecycle

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:54321``."""
        if self._runner is None:
            raise RuntimeError("FakePostHog is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def tagging(self) -> bool:
        """Whether the organisation has the tagging feature (tags ignored otherwise)."""
        return self.state.tagging

    @tagging.setter
    def tagging(self, value: bool) -> None:
        self.state.tagging = value

    @property
    def advanced_permissions(self) -> bool:
        """Whether dashboard restriction levels and password sharing are available."""
        return self.state.advanced_permissions

    @advanced_permissions.setter
    def advanced_permissions(self, value: bool) -> None:
        self.state.advanced_permissions = value

    async def start(self) -> FakePostHog:
        """Bind and start serving; returns ``self``."""
        if self._runner is not None:
            return self
        self._closing = asyncio.Event()
        runner = web.AppRunner(
            self.app,
            handle_signals=False,
            access_log=None,
            # Cancel a handler when its client goes away, as a real worker would stop
            # writing; in-flight counts then drop as soon as the client gives up.
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop serving; stalled streams and pending delays are released first."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()

    async def __aenter__(self) -> FakePostHog:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------------------------------
    # programmatic setup

    def add_key(
        self,
        key: str | None = None,
        scopes: Sequence[str] = ("*",),
        *,
        user_id: int | None = None,
        projects: Collection[int] | None = None,
    ) -> str:
        """Register a personal API key (generated ``phx_...`` when ``key`` is None).

        ``user_id`` defaults to the current user; ``projects`` limits the key to those ids.
        """
        value = key or "phx_" + secrets.token_urlsafe(32)
        owner = self.user_id if user_id is None else user_id
        if owner not in self.state.users:
            raise ValueError(f"unknown user {owner}")
        self.state.keys[value] = ApiKey(
            value=value,
            user_id=owner,
            scopes=tuple(scopes),
            scoped_projects=frozenset(projects) if projects is not None else None,
        )
        return value

    def add_user(
        self,
        first_name: str,
        last_name: str = "",
        *,
        email: str | None = None,
        user_id: int | None = None,
        uuid: str | None = None,
        project_access: bool = True,
        admin: bool = False,
        active: bool = True,
        role_at_organization: str | None = None,
    ) -> dict[str, Any]:
        """Add an organisation member; returns the nested user object (§6.1)."""
        if user_id is None:
            user_id = self.state.allocate("user", self.state.users)
        registered = register_user(
            self.state,
            {
                "id": user_id,
                "uuid": uuid or new_uuid7(),
                "first_name": first_name,
                "last_name": last_name,
                "email": email or f"{first_name.lower()}@acme-analytics.example",
                "distinct_id": secrets.token_urlsafe(32)[:43],
                "role_at_organization": role_at_organization,
            },
        )
        assert registered is not None
        user = self.state.users[registered]
        user.is_admin = admin
        user.is_active = active
        if project_access:
            self.state.projects[self.project_id].member_ids.add(user.id)
            user.current_project_id = self.project_id
        return user.basic()

    def add_project(self, project_id: int, *, member_ids: Collection[int] = ()) -> None:
        """Add another project; only ``member_ids`` may use it."""
        self.state.projects[project_id] = Project(id=project_id, member_ids=set(member_ids))

    def add_dashboard(
        self,
        name: str | None = "New dashboard",
        *,
        tiles: Sequence[TileSpec | Mapping[str, Any]] = (),
        description: str = "",
        pinned: bool = False,
        tags: Sequence[str] = (),
        restriction_level: int = 21,
        creation_mode: str = "default",
        created_by: int | None = None,
        deleted: bool = False,
        filters: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        project_id: int | None = None,
        dashboard_id: int | None = None,
        created_at: str | None = None,
        last_accessed_at: str | None = None,
        last_refresh: str | None = None,
        shared: bool = False,
        folder: str | None = None,
    ) -> dict[str, Any]:
        """Store a dashboard with ``tiles``; returns its detail object as the current user sees it.

        Tiles come from :func:`trends_tile`, :func:`funnel_tile`, :func:`number_tile`,
        :func:`text_tile`, :func:`insight_tile` or API-shaped dicts; tiles without layouts are
        placed two per row.
        """
        creator = self.user_id if created_by is None else created_by
        if creator not in self.state.users:
            raise ValueError(f"unknown user {creator}")
        detail: dict[str, Any] = {
            "id": dashboard_id,
            "name": name,
            "description": description,
            "pinned": pinned,
            "created_at": created_at,
            "last_accessed_at": last_accessed_at,
            "deleted": deleted,
            "creation_mode": creation_mode,
            "filters": dict(filters or {}),
            "variables": dict(variables or {}),
            "tags": list(tags),
            "restriction_level": restriction_level,
            "last_refresh": last_refresh,
            "team_id": project_id or self.project_id,
            "is_shared": shared,
            "created_by": self.state.user_basic(creator),
            "folder": folder,
        }
        dashboard = load_dashboard(
            self.state,
            detail,
            team_id=project_id or self.project_id,
            viewer_id=self.user_id,
            tiles=list(tiles),
        )
        if deleted:
            cascade_delete(self.state, dashboard, delete_insights=False)
        return self.dashboard(dashboard.id)

    def import_dashboard(
        self, detail: Mapping[str, Any], *, project_id: int | None = None
    ) -> dict[str, Any]:
        """Store a dashboard given as a retrieve response (e.g. a fixture file), ids kept.

        Replaces any dashboard with the same id; nested users are created when unknown.
        """
        dashboard = load_dashboard(
            self.state,
            copy.deepcopy(dict(detail)),
            team_id=project_id or self.project_id,
            viewer_id=self.user_id,
        )
        return self.dashboard(dashboard.id)

    def add_tile(self, dashboard_id: int, tile: TileSpec | Mapping[str, Any]) -> dict[str, Any]:
        """Add one tile to a stored dashboard; returns the tile object."""
        dashboard = self.state.dashboards[dashboard_id]
        position = len(self.state.live_tiles(dashboard))
        stored = load_tile(
            self.state, dashboard, tile, position=position, default_user=self.user_id
        )
        return self.state.tile_json(stored, None, self._current_user())

    def add_collaborator(self, dashboard_id: int, user_id: int, level: int = 37) -> dict[str, Any]:
        """Give ``user_id`` an explicit privilege on a dashboard (no validation)."""
        now = self.state.now_text()
        collaborator = Collaborator(
            id=new_uuid7(),
            dashboard_id=dashboard_id,
            user_id=user_id,
            level=level,
            added_at=now,
            updated_at=now,
        )
        self.state.dashboards[dashboard_id].collaborators[user_id] = collaborator
        return self.state.collaborator_json(collaborator)

    def add_template(self, template: Mapping[str, Any]) -> dict[str, Any]:
        """Store a dashboard template usable as ``use_template=<template_name>``.

        It is listed by ``dashboard_templates/`` (scope ``team`` of this project unless the
        template says otherwise); an ``id`` (UUID) is given when it has none. Returns the
        stored copy.
        """
        stored = copy.deepcopy(dict(template))
        stored.setdefault("id", str(uuid.uuid4()))
        stored.setdefault("team_id", self.project_id)
        self.state.templates[str(template["template_name"])] = stored
        return copy.deepcopy(stored)

    def add_quick_filter(self, quick_filter_id: str) -> None:
        """Make a quick filter id valid for ``quick_filter_ids``."""
        self.state.quick_filters.add(quick_filter_id)

    # ----------------------------------------------------------------------------------------
    # state views for assertions

    def _current_user(self) -> User:
        return self.state.users[self.user_id]

    @property
    def user(self) -> dict[str, Any]:
        """The nested user object of the default key's owner."""
        return self._current_user().basic()

    @property
    def users(self) -> list[dict[str, Any]]:
        """All users (active or not) as nested user objects."""
        return [user.basic() for user in self.state.users.values()]

    def dashboard(self, dashboard_id: int) -> dict[str, Any]:
        """A stored dashboard's detail object (even if soft-deleted), without side effects."""
        dashboard = self.state.dashboards[dashboard_id]
        return self.state.dashboard_json(dashboard, ViewOptions(viewer=self._current_user()))

    @property
    def dashboards(self) -> dict[int, dict[str, Any]]:
        """Snapshot of every stored dashboard (deleted ones included) by id."""
        return {
            dashboard_id: self.dashboard(dashboard_id) for dashboard_id in self.state.dashboards
        }

    def sharing_configuration(self, dashboard_id: int) -> dict[str, Any] | None:
        """The saved sharing configuration of a dashboard, or ``None`` if never saved."""
        config = self.state.dashboards[dashboard_id].sharing
        return self.state.sharing_json(config) if config is not None else None

    def collaborators(self, dashboard_id: int) -> list[dict[str, Any]]:
        """Explicit collaborators of a dashboard."""
        dashboard = self.state.dashboards[dashboard_id]
        return [self.state.collaborator_json(c) for c in dashboard.collaborators.values()]

    def is_share_token_valid(self, token: str) -> bool:
        """Whether a public sharing token works now (current, or retired < 5 minutes ago)."""
        now = self._timer()
        for dashboard in self.state.dashboards.values():
            config = dashboard.sharing
            if config is None or dashboard.deleted:
                continue
            if config.access_token == token:
                return config.enabled
            expires = config.retired_tokens.get(token)
            if expires is not None and now < expires:
                return config.enabled
        return False

    def requests_matching(
        self, method: str | None = None, path: str | re.Pattern[str] | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests filtered by method and a regex searched in the path."""
        pattern = re.compile(path) if isinstance(path, str) else path
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (pattern is None or pattern.search(r.path))
        ]

    def clear_requests(self) -> None:
        """Forget recorded requests and restart ``max_in_flight`` from the current count."""
        self.requests.clear()
        self.max_in_flight = self.in_flight

    # ----------------------------------------------------------------------------------------
    # fault switches

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str | Collection[str] | None = None,
        path: str | re.Pattern[str] | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status``.

        ``body`` is bytes/str sent as is, any other value is sent as JSON; the default is
        PostHog's ``server_error`` envelope. ``path`` is a regex searched in the path.
        """
        self._rules.append(
            make_rule(
                "status",
                count,
                method,
                path,
                status=status,
                body=body,
                headers=dict(headers or {}),
            )
        )

    def throttle_next(
        self,
        count: int = 1,
        *,
        wait: int = 37,
        retry_after: bool | int | str = False,
        method: str | Collection[str] | None = None,
        path: str | re.Pattern[str] | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with PostHog's 429 body.

        ``retry_after``: ``False`` (faithful: no header), ``True`` (header = ``wait``), or
        an explicit header value (int seconds or an HTTP date string).
        """
        headers: dict[str, str] = {}
        if retry_after is True:
            headers["Retry-After"] = str(wait)
        elif retry_after is not False:
            headers["Retry-After"] = str(retry_after)
        self._rules.append(make_rule("throttle", count, method, path, wait=wait, headers=headers))

    def overload_next(
        self,
        count: int = 1,
        *,
        retry_after: int | None = None,
        method: str | Collection[str] | None = None,
        path: str | re.Pattern[str] | None = r"/stream_tiles/?$",
    ) -> None:
        """Answer the next ``count`` matching requests (streams by default) as an overloaded
        PostHog does: 503, empty body, ``Retry-After`` of 15-44 s (or ``retry_after``) and the
        stream's ``Cache-Control``/``X-Accel-Buffering`` headers."""
        wait = -1 if retry_after is None else retry_after
        self._rules.append(make_rule("overload", count, method, path, wait=wait))

    def reset_next(
        self,
        count: int = 1,
        *,
        method: str | Collection[str] | None = None,
        path: str | re.Pattern[str] | None = None,
    ) -> None:
        """Reset the connection of the next ``count`` matching requests before any byte.

        Note that aiohttp's client transparently retries an idempotent request once when a
        reused connection is reset, so one GET may consume two resets.
        """
        self._rules.append(make_rule("reset", count, method, path))

    def set_delay(self, delay: DelaySetting) -> None:
        """Delay every request by ``delay`` seconds (or ``delay(request)``); ``None`` stops."""
        self._delay = delay

    def set_stream_faults(self, **changes: Any) -> StreamFaults:
        """Update fields of :attr:`stream_faults` (see :class:`StreamFaults`)."""
        names = {f.name for f in fields(StreamFaults)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown stream fault(s): {', '.join(sorted(unknown))}")
        self.stream_faults = replace(self.stream_faults, **changes)
        return self.stream_faults

    def reset_faults(self) -> None:
        """Turn every fault switch off (pending faults, delay, stream faults)."""
        self._rules.clear()
        self._delay = None
        self.stream_faults = StreamFaults()

    def pending_faults(self) -> int:
        """How many injected faults are still waiting for a request."""
        return sum(rule.remaining for rule in self._rules)

    # ----------------------------------------------------------------------------------------
    # request pipeline

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=MultiDict(request.query),
            headers=dict(request.headers),
            body=body,
            started_at=self._timer(),
        )
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._serve(request, record)
            record.status = response.status
            return response
        finally:
            self.in_flight -= 1

    def _take_rule(self, record: RecordedRequest) -> FaultRule | None:
        for rule in self._rules:
            if rule.matches(record.method, record.path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule
        return None

    async def _serve(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        delay = self._delay
        if delay is not None:
            await self._sleep(delay(record) if callable(delay) else delay)
        rule = self._take_rule(record)
        if rule is not None:
            record.fault = rule.kind
            if rule.kind == "reset":
                reset_transport(request)
                # The reset cancels this handler; only a server shutdown gets past the wait.
                await self._hang_until_cancelled()
                return web.Response(status=499)
            if rule.kind == "throttle":
                error = APIError.throttled(rule.wait, rule.headers)
                return self._plain_json(error.status, error.body(), error.headers)
            if rule.kind == "overload":
                stub = RequestContext(self, request, record, "", {})
                busy = overloaded(stub, rule.wait if rule.wait >= 0 else None)
                return web.Response(status=busy.status, headers=busy.headers)
            return self._status_fault(rule)

        group, params = match(request.path)
        ctx = RequestContext(
            server=self,
            request=request,
            record=record,
            route=group.path if group is not None else "",
            params=dict(params),
        )
        try:
            if group is None:
                raise APIError.not_found()
            return await self._dispatch(ctx, group)
        except APIError as error:
            return respond(ctx, error.status, error.body(), error.headers)
        except RawError as error:
            if error.body is None:
                return web.Response(status=error.status, headers=error.headers)
            return self._plain_json(error.status, error.body, error.headers)
        except ServerError:
            failure = APIError.server_error()
            return respond(ctx, failure.status, failure.body())

    @staticmethod
    def _plain_json(
        status: int, data: Any, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            status=status,
            body=encode_json(data),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _status_fault(self, rule: FaultRule) -> web.Response:
        body = rule.body
        if body is None:
            body = APIError.server_error().body()
        if isinstance(body, (bytes, str)):
            raw = body.encode() if isinstance(body, str) else body
            headers = {"Content-Type": "text/plain; charset=utf-8", **rule.headers}
            return web.Response(status=rule.status, body=raw, headers=headers)
        return self._plain_json(rule.status, body, rule.headers)

    def _served(self, group: RouteGroup, method: str) -> tuple[Route | None, str | None]:
        # The route serving ``method`` and the scope it needs (``None``: no scope exists).
        route = group.methods.get(method)
        if route is None:
            return None, None
        scope = route.scope
        if route.ref is not None and self.move_tile_flavour == "ref":
            if route.ref == ABSENT:
                return None, None
            scope = route.ref
        return route, None if scope == UNSCOPED else scope

    async def _dispatch(self, ctx: RequestContext, group: RouteGroup) -> web.StreamResponse:
        self._negotiate(ctx, group)
        self._authenticate(ctx)
        method = ctx.record.method
        route, scope = self._served(group, method)
        if route is not None:
            self._check_scope(ctx, scope)
        if group.project:
            self._resolve_project(ctx)
        self._throttle(ctx)
        if route is None:
            raise APIError.method_not_allowed(method)
        return await route.view(ctx)

    async def _sleep(self, seconds: float) -> None:
        # Sleeps end early when the server stops, so ``stop()`` never waits for a fault.
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def _hang_until_cancelled(self) -> None:
        # The handler is cancelled when its client disconnects (``handler_cancellation``);
        # otherwise it is released when the server stops.
        await self._closing.wait()

    # ----------------------------------------------------------------------------------------
    # negotiation, authentication, permissions, throttling

    def _negotiate(self, ctx: RequestContext, group: RouteGroup) -> None:
        renderers = [_JSON, _SSE] if group.sse else [_JSON]
        fmt = last_param(ctx.query, "format")
        if fmt is not None:
            renderers = [r for r in renderers if _FORMATS[r[0]] == fmt]
            if not renderers:
                raise APIError.not_found()
        chosen = negotiate(ctx.request.headers.get("Accept"), renderers)
        if chosen is None:
            raise APIError.not_acceptable()
        ctx.renderer = chosen

    def _authenticate(self, ctx: RequestContext) -> None:
        header = ctx.request.headers.get("Authorization", "")
        match = _BEARER.match(header)
        token: str | None = None
        source = "Authorization header"
        if match is not None:
            token = match.group(1).strip()
        else:
            data = request_data(ctx, quiet=True)
            if isinstance(data, dict) and data.get("personal_api_key"):
                token, source = str(data["personal_api_key"]), "body"
            elif last_param(ctx.query, "personal_api_key"):
                token, source = last_param(ctx.query, "personal_api_key"), "query string"
        if token is None:
            raise APIError.not_authenticated()
        key = self.state.keys.get(token)
        user = self.state.users.get(key.user_id) if key is not None else None
        if key is None or user is None or not user.is_active:
            raise APIError.authentication_failed(source)
        ctx.key, ctx.user = key, user

    def _check_scope(self, ctx: RequestContext, scope: str | None) -> None:
        assert ctx.key is not None
        if scope is None:
            if self.allow_pak_on_unscoped_actions:
                return
            raise APIError.permission_denied("This action does not support personal API key access")
        if not ctx.key.allows(scope):
            raise APIError.permission_denied(f"API key missing required scope '{scope}'")

    def _resolve_project(self, ctx: RequestContext) -> None:
        raw = ctx.params["project"]
        user = ctx.viewer
        project_id: int | None
        if raw == "@current":
            project_id = user.current_project_id
        else:
            # ASCII digits only: ``int("²")`` fails although ``"²".isdigit()`` holds.
            project_id = int(raw) if raw.isascii() and raw.isdigit() else None
        if project_id is None or project_id not in self.state.projects:
            raise APIError.not_found("Project not found.")
        key = ctx.key
        if (
            key is not None
            and key.scoped_projects is not None
            and (project_id not in key.scoped_projects)
        ):
            raise APIError.permission_denied(
                f"API key does not have access to the requested project: ID {project_id}."
            )
        if not self.state.has_project_access(user, project_id):
            raise APIError.permission_denied("You don't have access to the project.")
        ctx.project_id = project_id

    def _throttle(self, ctx: RequestContext) -> None:
        assert ctx.key is not None
        now = self._timer()
        waits = []
        # DRF asks every throttle and records the request in those that allow it.
        for window in (self._burst, self._sustained):
            if not window.allow(ctx.key.value, now):
                waits.append(window.wait(ctx.key.value, now))
        if not waits:
            return
        known = [w for w in waits if w is not None]
        wait = max(known) if known else None
        headers: dict[str, str] = {}
        if self.retry_after_header and wait is not None:
            headers["Retry-After"] = str(math.ceil(wait))
        raise APIError.throttled(wait, headers)


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8010,
    *,
    out: IO[str] | None = None,
    **options: Any,
) -> None:
    """Run a :class:`FakePostHog` until cancelled (Ctrl-C under ``asyncio.run``).

    Prints the URL, then ``export POSTHOG_HOST=...``, ``export POSTHOG_PERSONAL_API_KEY=...``
    and ``export POSTHOG_PROJECT_ID=...`` lines to ``out`` (stdout by default) that can be
    pasted into another shell. ``options`` are :class:`FakePostHog` keyword arguments.
    """
    stream = out if out is not None else sys.stdout
    async with FakePostHog(host=host, port=port, **options) as server:
        print(f"FakePostHog listening on {server.url}", file=stream)
        print(f"export POSTHOG_HOST={shlex.quote(server.url)}", file=stream)
        print(f"export POSTHOG_PERSONAL_API_KEY={shlex.quote(server.api_key)}", file=stream)
        print(f"export POSTHOG_PROJECT_ID={server.project_id}", file=stream)
        stream.flush()
        await asyncio.Event().wait()
