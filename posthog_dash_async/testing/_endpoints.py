"""The endpoints of :class:`FakePostHog`: dashboards, tiles, collaborators, sharing, SSE.

:class:`DashboardEndpoints` is a mixin holding one method per view (``_view_<route>``) plus the
request-body parsing and response rendering they share; the request pipeline in front of it
(faults, routing, negotiation, authentication, scopes, throttling) lives in ``_server.py``.
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import re
import socket
import struct
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib import parse

import msgspec
from aiohttp import web
from multidict import MultiDict

from ._builders import TileSpec
from ._drf import (
    APIError,
    RawError,
    parse_bool,
    parse_char,
    parse_choice,
    parse_datetime,
    parse_int,
    parse_json_body,
    parse_list,
    parse_uuid,
    remove_query_param,
    render_sse_fallback,
    replace_query_param,
    validate_template,
)
from ._faults import RecordedRequest, StreamFaults
from ._loader import load_tile
from ._seed import BUILTIN_TEMPLATES
from ._state import (
    SHARING_SETTINGS_KEYS,
    ApiKey,
    Button,
    Collaborator,
    Dashboard,
    SharingConfig,
    State,
    Text,
    Tile,
    User,
    ViewOptions,
    new_uuid7,
    share_token,
)

__all__ = [
    "DashboardEndpoints",
    "RequestContext",
    "ServerError",
    "encode_json",
    "last_param",
    "reset_transport",
]

encode_json = msgspec.json.Encoder().encode

_SHARE_TOKEN_GRACE = 300.0
_TEXT_BODY_MAX = 4000
_PAGE_SIZE = 100
_TEMPLATE_MODEL_FIELDS = frozenset(
    {
        "id",
        "team_id",
        "created_at",
        "created_by",
        "template_name",
        "dashboard_description",
        "dashboard_filters",
        "tiles",
        "variables",
        "tags",
        "image_url",
        "deleted",
        "scope",
        "availability_contexts",
        "is_featured",
        "github_url",
    }
)
_TILE_DISPLAY_FIELDS = (
    "layouts",
    "color",
    "filters_overrides",
    "show_description",
    "transparent_background",
)
_GZIP_PATH = re.compile(r"^/api/projects/\d+/dashboards/(?:\d+/?)?$")


def last_param(query: MultiDict[str], key: str) -> str | None:
    """A query parameter as Django reads it: the *last* value when it is repeated."""
    values = query.getall(key, [])
    return values[-1] if values else None


def _positive_int(text: str | None, *, strict: bool) -> int | None:
    # DRF pagination's ``_positive_int``: lenient, any failure means "use the default".
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    if value < 0 or (value == 0 and strict):
        return None
    return value


def reset_transport(request: web.Request) -> None:
    """Drop the request's connection with a TCP RST ("connection reset by peer").

    ``SO_LINGER`` 0 is what turns the close into a reset rather than an orderly FIN.
    """
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


@dataclass
class RequestContext:
    """Everything a view needs about the request being served."""

    request: web.Request
    record: RecordedRequest
    route: str
    params: dict[str, str]
    renderer: str = "json"
    user: User | None = None
    key: ApiKey | None = None
    project_id: int = 0
    data_cache: Any = None
    data_parsed: bool = False

    @property
    def viewer(self) -> User:
        """The authenticated user (views only run after authentication)."""
        assert self.user is not None
        return self.user

    @property
    def query(self) -> MultiDict[str]:
        """The decoded query string."""
        return self.record.query


class DashboardEndpoints:
    """The views of the dashboards API; mixed into :class:`FakePostHog`."""

    state: State
    move_tile_flavour: str
    public_sharing: bool
    max_concurrent_streams: int | None
    new_sse_headers: bool
    stream_faults: StreamFaults
    _active_streams: int
    _timer: Callable[[], float]
    _closing: asyncio.Event

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

    def _respond(
        self,
        ctx: RequestContext,
        status: int,
        data: Any,
        headers: Mapping[str, str] | None = None,
        *,
        compressible: bool = False,
    ) -> web.Response:
        if ctx.renderer == "sse":
            # DRF picked the SSE renderer, which hands the data to Django untouched.
            body = render_sse_fallback(data)
            content_type = "text/event-stream; charset=utf-8"
        else:
            body = encode_json(data)
            content_type = "application/json"
        response = web.Response(
            status=status, body=body, headers={"Content-Type": content_type, **(headers or {})}
        )
        accept_encoding = ctx.request.headers.get("Accept-Encoding", "")
        if (
            compressible
            and ctx.renderer == "json"
            and "gzip" in accept_encoding.lower()
            and _GZIP_PATH.match(ctx.request.path)
            and len(body) >= 200
        ):
            response.enable_compression(web.ContentCoding.gzip)
        return response

    # ----------------------------------------------------------------------------------------
    # request bodies

    def _data(self, ctx: RequestContext, *, quiet: bool = False, json_only: bool = False) -> Any:
        if ctx.data_parsed:
            return ctx.data_cache
        if quiet:
            # Authentication peeks at the body; the view parses it again with its own rules.
            try:
                return self._parse_body(ctx, json_only=False)
            except APIError:
                return None
        data = self._parse_body(ctx, json_only=json_only)
        ctx.data_cache, ctx.data_parsed = data, True
        return data

    @staticmethod
    def _parse_body(ctx: RequestContext, *, json_only: bool) -> Any:
        raw = ctx.record.body
        content_type = ctx.request.headers.get("Content-Type")
        if not raw or content_type is None:
            return {}
        media = content_type.split(";")[0].strip().lower()
        if media == "application/json":
            return parse_json_body(raw)
        if json_only:
            raise APIError.unsupported_media_type(content_type)
        if media == "application/x-www-form-urlencoded":
            text = raw.decode("utf-8", errors="replace")
            return dict(parse.parse_qsl(text, keep_blank_values=True))
        if media == "multipart/form-data":
            header = f"Content-Type: {content_type}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
            form: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = part.get_payload(decode=True)
                    if isinstance(payload, bytes):
                        form[name] = payload.decode("utf-8", errors="replace")
            return form
        raise APIError.unsupported_media_type(content_type)

    def _object_data(self, ctx: RequestContext) -> dict[str, Any]:
        data = self._data(ctx)
        if not isinstance(data, dict):
            name = "list" if isinstance(data, list) else type(data).__name__
            raise APIError.validation(f"Invalid data. Expected a dictionary, but got {name}.")
        return data

    # ----------------------------------------------------------------------------------------
    # lookups

    def _dashboard(
        self,
        ctx: RequestContext,
        raw_id: str | int,
        *,
        include_deleted: bool = False,
        message: str = "Not found.",
    ) -> Dashboard:
        try:
            dashboard_id = int(raw_id)
        except (TypeError, ValueError):
            raise APIError.not_found(message) from None
        dashboard = self.state.dashboards.get(dashboard_id)
        if dashboard is None or dashboard.team_id != ctx.project_id:
            raise APIError.not_found(message)
        if dashboard.deleted and not include_deleted:
            raise APIError.not_found(message)
        return dashboard

    def _require_edit(self, dashboard: Dashboard, user: User, *, destination: bool = False) -> None:
        if not self.state.can_edit(dashboard, user):
            what = "the destination dashboard" if destination else "this dashboard"
            raise APIError.permission_denied(f"You don't have edit permissions for {what}.")

    def _options(self, ctx: RequestContext, layout_size: str = "sm") -> ViewOptions:
        return ViewOptions(
            viewer=ctx.viewer,
            layout_size=layout_size,
            filters_override=_json_param(ctx.query, "filters_override"),
            variables_override=_json_param(ctx.query, "variables_override"),
        )

    def _detail(self, ctx: RequestContext, dashboard: Dashboard, status: int = 200) -> web.Response:
        data = self.state.dashboard_json(dashboard, self._options(ctx))
        return self._respond(ctx, status, data, compressible=True)

    # ----------------------------------------------------------------------------------------
    # /dashboards/

    async def _view_collection(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        if method == "POST":
            return self._create(ctx)
        return self._list(ctx)

    def _list(self, ctx: RequestContext) -> web.Response:
        query = ctx.query
        items = [
            d
            for d in self.state.dashboards.values()
            if d.team_id == ctx.project_id and not d.deleted
        ]
        mode = last_param(query, "creation_mode")
        if mode is None:
            items = [d for d in items if d.creation_mode != "unlisted"]
        else:
            items = [d for d in items if d.creation_mode == mode]
        if "tags" in query:
            wanted = set(query.getall("tags"))
            items = [d for d in items if wanted.intersection(d.tags)]
        if last_param(query, "exclude_generated") == "true":
            items = [d for d in items if not (d.name or "").startswith("Generated Dashboard")]
        items.sort(key=lambda d: (not d.pinned, d.name is None, d.name or "", d.id))

        count = len(items)
        limit = _positive_int(last_param(query, "limit"), strict=True) or _PAGE_SIZE
        offset = _positive_int(last_param(query, "offset"), strict=False) or 0
        page = [] if count == 0 or offset > count else items[offset : offset + limit]
        request = ctx.request
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        next_url = None
        if offset + limit < count:
            next_url = replace_query_param(url, "limit", limit)
            next_url = replace_query_param(next_url, "offset", offset + limit)
        previous_url = None
        if offset > 0:
            previous_url = replace_query_param(url, "limit", limit)
            if offset - limit <= 0:
                previous_url = remove_query_param(previous_url, "offset")
            else:
                previous_url = replace_query_param(previous_url, "offset", offset - limit)
        body = {
            "count": count,
            "next": next_url,
            "previous": previous_url,
            "results": [self.state.dashboard_basic_json(d, ctx.viewer) for d in page],
        }
        return self._respond(ctx, 200, body, compressible=True)

    def _validate_dashboard_fields(
        self, data: Mapping[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        # Serializer field order decides which error is reported first.
        out: dict[str, Any] = {}
        if "name" in data:
            out["name"] = parse_char(data["name"], "name", max_length=400, allow_null=True)
        if "description" in data:
            out["description"] = parse_char(data["description"], "description")
        if "pinned" in data:
            out["pinned"] = parse_bool(data["pinned"], "pinned")
        if "last_accessed_at" in data:
            out["last_accessed_at"] = parse_datetime(data["last_accessed_at"], "last_accessed_at")
        if "deleted" in data:
            out["deleted"] = parse_bool(data["deleted"], "deleted")
        if "use_template" in data:
            out["use_template"] = parse_char(data["use_template"], "use_template")
        if "use_dashboard" in data:
            out["use_dashboard"] = parse_int(
                data["use_dashboard"], "use_dashboard", allow_null=True
            )
        if "delete_insights" in data:
            out["delete_insights"] = parse_bool(data["delete_insights"], "delete_insights")
        if "breakdown_colors" in data:
            out["breakdown_colors"] = data["breakdown_colors"]
        if "data_color_theme_id" in data:
            out["data_color_theme_id"] = parse_int(
                data["data_color_theme_id"], "data_color_theme_id", allow_null=True
            )
        if "tags" in data:
            out["tags"] = _clean_tags(parse_list(data["tags"], "tags"))
        if "restriction_level" in data:
            out["restriction_level"] = parse_choice(
                data["restriction_level"], "restriction_level", (21, 37)
            )
        if "last_refresh" in data:
            out["last_refresh"] = parse_datetime(data["last_refresh"], "last_refresh")
        if "quick_filter_ids" in data:
            ids = parse_list(data["quick_filter_ids"], "quick_filter_ids")
            parsed: list[str] = []
            for value in ids:
                try:
                    parsed.append(parse_uuid(value, "quick_filter_ids"))
                except APIError:
                    raise APIError.validation(
                        f"Invalid UUID: {value}", "quick_filter_ids"
                    ) from None
            missing = [value for value in parsed if value not in self.state.quick_filters]
            if missing:
                raise APIError.validation(
                    f"Quick filters not found: {', '.join(missing)}", "quick_filter_ids"
                )
            out["quick_filter_ids"] = parsed
        if "_create_in_folder" in data:
            parse_char(data["_create_in_folder"], "_create_in_folder", allow_null=True)
        if creating and out.get("use_template") and out.get("use_dashboard") is not None:
            raise APIError.validation("`use_dashboard` and `use_template` cannot be used together")
        return out

    @staticmethod
    def _check_filters(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        value = data.get(key)
        if not value:
            return None
        if not isinstance(value, dict):
            # PostHog uses the same text for bad ``variables``.
            raise APIError.validation("Filters must be a dictionary")
        return value

    def _create(self, ctx: RequestContext) -> web.Response:
        data = self._object_data(ctx)
        fields_ = self._validate_dashboard_fields(data, creating=True)
        user = ctx.viewer
        filters = self._check_filters(data, "filters")
        source: Dashboard | None = None
        if fields_.get("use_dashboard") is not None:
            try:
                source = self._dashboard(ctx, fields_["use_dashboard"])
            except APIError:
                raise APIError.validation("Invalid value provided", "use_dashboard") from None
        template_key = fields_.get("use_template") or None
        template = self._template(template_key) if template_key else None

        now = self.state.now_text()
        dashboard = Dashboard(
            id=self.state.allocate("dashboard", self.state.dashboards),
            team_id=ctx.project_id,
            name=fields_.get("name"),
            description=fields_.get("description") or "",
            pinned=bool(fields_.get("pinned", False)),
            created_at=now,
            created_by=user.id,
            last_accessed_at=fields_.get("last_accessed_at"),
            deleted=bool(fields_.get("deleted", False)),
            breakdown_colors=fields_.get("breakdown_colors", []),
            data_color_theme_id=fields_.get("data_color_theme_id"),
            tags=fields_.get("tags", []) if self.state.tagging else [],
            restriction_level=fields_.get("restriction_level", 21),
            last_refresh=fields_.get("last_refresh"),
            quick_filter_ids=fields_.get("quick_filter_ids", []),
        )
        if filters is not None:
            dashboard.filters = dict(filters)
        self.state.dashboards[dashboard.id] = dashboard
        if template is not None:
            name, description, template_filters, tiles = template
            dashboard.creation_mode = "template"
            if not dashboard.name:
                dashboard.name = name
                dashboard.description = description
                if filters is None:
                    dashboard.filters = dict(template_filters)
            for position, spec in enumerate(tiles):
                load_tile(self.state, dashboard, spec, position=position, default_user=user.id)
        elif source is not None:
            dashboard.creation_mode = "duplicate"
            self._duplicate_into(
                source, dashboard, deep=bool(data.get("duplicate_tiles")), user=user
            )
            if filters is None:
                dashboard.filters = dict(source.filters)
            dashboard.variables = copy.deepcopy(source.variables)
            if "breakdown_colors" not in fields_:
                dashboard.breakdown_colors = copy.deepcopy(source.breakdown_colors)
            if "data_color_theme_id" not in fields_:
                dashboard.data_color_theme_id = source.data_color_theme_id
            if "quick_filter_ids" not in fields_:
                dashboard.quick_filter_ids = list(source.quick_filter_ids)
        return self._detail(ctx, dashboard, status=201)

    def _template(self, key: str) -> tuple[str, str, dict[str, Any], list[TileSpec]]:
        builtin = BUILTIN_TEMPLATES.get(key)
        if builtin is not None:
            name, description, filters, factory = builtin
            return name, description, filters, factory()
        stored = self.state.templates.get(key)
        if stored is None:
            raise APIError.validation(f"Invalid template provided: {key}", "use_template")
        specs = [self._template_tile(tile) for tile in stored.get("tiles") or []]
        return (
            str(stored.get("template_name") or key),
            str(stored.get("dashboard_description") or ""),
            dict(stored.get("dashboard_filters") or {}),
            [spec for spec in specs if spec is not None],
        )

    @staticmethod
    def _template_tile(tile: Mapping[str, Any]) -> TileSpec | None:
        kind = tile.get("type")
        layouts = tile.get("layouts") or {}
        if kind == "INSIGHT":
            query = tile.get("query")
            insight: dict[str, Any] = {
                "name": tile.get("name"),
                "description": tile.get("description"),
                "query": query,
                "filters": {} if query else dict(tile.get("filters") or {}),
                "is_sample": True,
                "saved": False,
            }
            return TileSpec(
                tile={"insight": insight, "layouts": layouts, "color": tile.get("color")}
            )
        if kind == "TEXT":
            text = {"body": tile.get("body"), "created_by": None}
            return TileSpec(tile={"text": text, "layouts": layouts, "color": tile.get("color")})
        return None

    def _duplicate_into(
        self, source: Dashboard, target: Dashboard, *, deep: bool, user: User
    ) -> None:
        for tile in self.state.sorted_tiles(source):
            refs: dict[str, Any] = {}
            if tile.insight_id is not None:
                insight = self.state.insights[tile.insight_id]
                if deep:
                    copied = copy.deepcopy(insight.data)
                    if copied.get("name"):
                        copied["name"] = f"{copied['name']} (Copy)"
                    for key in ("short_id", "created_at", "updated_at", "last_modified_at"):
                        copied.pop(key, None)
                    refs["insight_id"] = self.state.new_insight(
                        target.team_id, copied, created_by=user.id
                    ).id
                else:
                    refs["insight_id"] = insight.id
            elif tile.text_id is not None:
                text = self.state.texts[tile.text_id]
                if deep:
                    refs["text_id"] = self.state.new_text(
                        target.team_id, text.body, created_by=user.id
                    ).id
                else:
                    refs["text_id"] = text.id
            elif tile.button_id is not None:
                refs["button_id"] = tile.button_id
            self.state.new_tile(
                target.id,
                layouts=copy.deepcopy(tile.layouts),
                color=tile.color,
                filters_overrides=copy.deepcopy(tile.filters_overrides),
                show_description=tile.show_description,
                transparent_background=tile.transparent_background,
                **refs,
            )

    # ----------------------------------------------------------------------------------------
    # /dashboards/{id}/

    async def _view_detail(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        if method == "DELETE":
            # A bare Response(status=405): no body, no Content-Type, no lookup.
            raise RawError(405)
        if method == "GET":
            return self._retrieve(ctx)
        return self._update(ctx)

    def _retrieve(self, ctx: RequestContext) -> web.Response:
        dashboard = self._dashboard(ctx, ctx.params["id"])
        refresh = last_param(ctx.query, "refresh")
        if refresh in ("blocking", "force_blocking", "true"):
            self._recompute(dashboard)
        dashboard.last_accessed_at = self.state.now_text()
        return self._detail(ctx, dashboard)

    def _recompute(self, dashboard: Dashboard) -> None:
        now = self.state.now_text()
        for tile in self.state.live_tiles(dashboard):
            if tile.insight_id is not None:
                insight = self.state.insights[tile.insight_id]
                insight.data["last_refresh"] = now
                insight.data["is_cached"] = False
        dashboard.last_refresh = now

    def _update(self, ctx: RequestContext) -> web.Response:
        data = self._object_data(ctx)
        restoring = False
        if "deleted" in data:
            try:
                restoring = parse_bool(data["deleted"], "deleted") is False
            except APIError:
                restoring = False
        dashboard = self._dashboard(ctx, ctx.params["id"], include_deleted=restoring)
        user = ctx.viewer
        self._require_edit(dashboard, user)
        fields_ = self._validate_dashboard_fields(data, creating=False)
        if (
            "restriction_level" in fields_
            and fields_["restriction_level"] != dashboard.restriction_level
            and not self.state.has_inherent_access(dashboard, user)
        ):
            raise APIError.permission_denied(
                "Only the dashboard owner and project admins have the restriction rights "
                "required to change the dashboard's restriction level."
            )
        filters = self._check_filters(data, "filters")
        variables = self._check_filters(data, "variables")
        tiles = data.get("tiles")
        if tiles is not None:
            tiles = parse_list(tiles, "tiles")
            for tile in tiles:
                self._validate_tile(dashboard, tile)

        for name in (
            "name",
            "description",
            "pinned",
            "last_accessed_at",
            "breakdown_colors",
            "data_color_theme_id",
            "restriction_level",
            "last_refresh",
            "quick_filter_ids",
        ):
            if name in fields_:
                setattr(dashboard, name, fields_[name])
        if "tags" in fields_ and self.state.tagging:
            dashboard.tags = fields_["tags"]
        if filters is not None:
            dashboard.filters = dict(filters)
        if variables is not None:
            dashboard.variables = dict(variables)
        if fields_.get("deleted") is True and not dashboard.deleted:
            dashboard.deleted = True
            self._cascade_delete(dashboard, delete_insights=bool(fields_.get("delete_insights")))
        elif fields_.get("deleted") is False and dashboard.deleted:
            dashboard.deleted = False
            self._cascade_restore(dashboard)
        for tile in tiles or []:
            self._apply_tile(dashboard, tile, user)
        duplicates = data.get("duplicate_tiles")
        if isinstance(duplicates, list):
            self._duplicate_tiles(dashboard, duplicates, user)
        return self._detail(ctx, dashboard)

    def _cascade_delete(self, dashboard: Dashboard, *, delete_insights: bool) -> None:
        own = [t for t in self.state.tiles.values() if t.dashboard_id == dashboard.id]
        if delete_insights:
            for tile in own:
                if tile.insight_id is None or tile.deleted:
                    continue
                elsewhere = any(
                    other.insight_id == tile.insight_id
                    and other.dashboard_id != dashboard.id
                    and not other.deleted
                    and not self.state.dashboards[other.dashboard_id].deleted
                    for other in self.state.tiles.values()
                )
                if not elsewhere:
                    self.state.insights[tile.insight_id].deleted = True
        for tile in own:
            tile.deleted = True

    def _cascade_restore(self, dashboard: Dashboard) -> None:
        for tile in self.state.tiles.values():
            if tile.dashboard_id != dashboard.id:
                continue
            tile.deleted = False
            if tile.insight_id is not None:
                self.state.insights[tile.insight_id].deleted = False

    def _validate_tile(self, dashboard: Dashboard, tile: Any) -> None:
        if not isinstance(tile, dict):
            raise ServerError
        if "color" in tile:
            parse_char(tile["color"], "color", max_length=400, allow_null=True)
        for name in ("show_description", "transparent_background", "deleted"):
            if name in tile:
                parse_bool(tile[name], name, allow_null=True)
        text = tile.get("text")
        if isinstance(text, dict):
            if "body" in text:
                body = text["body"]
                if body is not None and not isinstance(body, str):
                    raise APIError.validation("Not a valid string.", "text__body")
                if isinstance(body, str) and len(body) > _TEXT_BODY_MAX:
                    raise APIError.validation(
                        f"Text body cannot exceed {_TEXT_BODY_MAX} characters",
                        "text__body",
                        "max_length",
                    )
            text_id = text.get("id")
            if text_id is not None:
                stored = self.state.texts.get(text_id) if isinstance(text_id, int) else None
                if stored is None:
                    raise APIError.validation("Text tile not found.", "text")
                if stored.team_id != dashboard.team_id:
                    raise APIError.validation("Text tile not found in this team.", "text")
            creator = text.get("created_by")
            if isinstance(creator, dict) and creator.get("id") not in self.state.users:
                raise APIError.validation("User not found in this organization.")
            return
        button = tile.get("button_tile")
        if isinstance(button, dict):
            url = button.get("url")
            if url is not None:
                if not isinstance(url, str) or len(url) > 2000:
                    raise APIError.validation("Enter a valid URL.", "button_tile__url")
                if not (url.startswith(("http://", "https://")) or url.startswith("/")):
                    raise APIError.validation(
                        "URL must be an absolute http(s) URL or a path starting with /",
                        "button_tile__url",
                    )
            label = button.get("text")
            if label is not None and (not isinstance(label, str) or len(label) > 200):
                raise APIError.validation(
                    "Ensure this field has no more than 200 characters.",
                    "button_tile__text",
                    "max_length",
                )
            placement = button.get("placement")
            if placement is not None and placement not in ("left", "right"):
                raise APIError.validation(
                    f'"{placement}" is not a valid choice.',
                    "button_tile__placement",
                    "invalid_choice",
                )
            return
        tile_id = tile.get("id")
        if tile_id is not None:
            existing = self.state.tiles.get(tile_id) if isinstance(tile_id, int) else None
            if existing is None or existing.dashboard_id != dashboard.id:
                # REF tries to insert a tile without insight/text and the database refuses.
                raise ServerError

    def _tile_display(self, tile: Tile, data: Mapping[str, Any]) -> None:
        for name in _TILE_DISPLAY_FIELDS:
            if name in data:
                setattr(tile, name, data[name])
        if "deleted" in data:
            tile.deleted = bool(parse_bool(data["deleted"], "deleted", allow_null=True))

    def _apply_tile(self, dashboard: Dashboard, raw: dict[str, Any], user: User) -> None:
        data = {k: v for k, v in raw.items() if k not in ("is_cached", "order")}
        tile_id = data.get("id")
        existing = self.state.tiles.get(tile_id) if isinstance(tile_id, int) else None
        if existing is not None and existing.dashboard_id != dashboard.id:
            existing = None
        now = self.state.now_text()
        text_data = data.get("text")
        button_data = data.get("button_tile")
        if isinstance(text_data, dict):
            text: Text | None = None
            if text_data.get("id") is not None:
                text = self.state.texts[text_data["id"]]
                if "body" in text_data:
                    text.body = text_data["body"]
                text.last_modified_by = user.id
                text.last_modified_at = now
            else:
                text = self.state.new_text(
                    dashboard.team_id, text_data.get("body"), created_by=user.id
                )
            tile = existing or self.state.new_tile(
                dashboard.id, text_id=text.id, layouts={}, filters_overrides={}
            )
            tile.text_id, tile.insight_id, tile.button_id = text.id, None, None
            self._tile_display(tile, data)
            return
        if isinstance(button_data, dict):
            button_id = button_data.get("id")
            button = self.state.buttons.get(str(button_id)) if button_id is not None else None
            if button is None:
                button = Button(
                    id=new_uuid7(),
                    team_id=dashboard.team_id,
                    url=str(button_data.get("url") or "/"),
                    text=str(button_data.get("text") or ""),
                    placement=str(button_data.get("placement") or "left"),
                    style=button_data.get("style"),
                    created_by=user.id,
                    last_modified_at=now,
                )
                self.state.buttons[button.id] = button
            else:
                for name in ("url", "text", "placement", "style"):
                    if name in button_data:
                        setattr(button, name, button_data[name])
                button.last_modified_by = user.id
                button.last_modified_at = now
            tile = existing or self.state.new_tile(
                dashboard.id, button_id=button.id, layouts={}, filters_overrides={}
            )
            tile.button_id, tile.insight_id, tile.text_id = button.id, None, None
            self._tile_display(tile, data)
            return
        if existing is not None:
            # An ``insight`` key is ignored: insight tiles cannot be re-pointed here.
            self._tile_display(existing, data)

    def _duplicate_tiles(self, dashboard: Dashboard, items: list[Any], user: User) -> None:
        for item in items:
            tile_id = item.get("id") if isinstance(item, dict) else None
            tile = self.state.tiles.get(tile_id) if isinstance(tile_id, int) else None
            if tile is None or tile.dashboard_id != dashboard.id:
                continue
            refs: dict[str, Any] = {}
            if tile.insight_id is not None:
                copied = copy.deepcopy(self.state.insights[tile.insight_id].data)
                if copied.get("name"):
                    copied["name"] = f"{copied['name']} (Copy)"
                for key in ("short_id", "created_at", "updated_at", "last_modified_at"):
                    copied.pop(key, None)
                refs["insight_id"] = self.state.new_insight(
                    dashboard.team_id, copied, created_by=user.id
                ).id
            elif tile.text_id is not None:
                body = self.state.texts[tile.text_id].body
                refs["text_id"] = self.state.new_text(
                    dashboard.team_id, body, created_by=user.id
                ).id
            else:
                continue
            self.state.new_tile(
                dashboard.id,
                layouts=copy.deepcopy(item.get("layouts", tile.layouts)),
                color=tile.color,
                filters_overrides=copy.deepcopy(tile.filters_overrides),
                show_description=tile.show_description,
                transparent_background=tile.transparent_background,
                **refs,
            )

    # ----------------------------------------------------------------------------------------
    # move_tile

    async def _view_move_tile(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        source = self._dashboard(ctx, ctx.params["id"])
        user = ctx.viewer
        self._require_edit(source, user)
        data = self._data(ctx)
        if self.move_tile_flavour == "new":
            if not isinstance(data, dict):
                raise APIError.validation(
                    f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                )
            tile_data = data.get("tile")
            if not isinstance(tile_data, dict):
                raise APIError.validation("This field is required.", "tile", "required")
            if "id" not in tile_data:
                raise APIError.validation("This field is required.", "tile__id", "required")
            tile_id = parse_int(tile_data["id"], "tile__id")
            if "to_dashboard" not in data:
                raise APIError.validation("This field is required.", "to_dashboard", "required")
            target_id: Any = parse_int(data["to_dashboard"], "to_dashboard")
        else:
            # REF indexes the body directly: anything missing is a KeyError, i.e. a 500.
            try:
                tile_id = data["tile"]["id"]
                target_id = data["toDashboard"]
            except (KeyError, TypeError):
                raise ServerError from None
        tile = self.state.tiles.get(tile_id) if isinstance(tile_id, int) else None
        if tile is None or tile.dashboard_id != source.id or tile.deleted:
            raise APIError.not_found()
        if isinstance(target_id, str) and not target_id.strip().isdigit():
            raise ServerError
        target = self._dashboard(ctx, target_id)
        self._require_edit(target, user, destination=True)
        for other in list(self.state.tiles.values()):
            if other.dashboard_id != target.id or other.id == tile.id:
                continue
            same = (tile.insight_id is not None and other.insight_id == tile.insight_id) or (
                tile.text_id is not None and other.text_id == tile.text_id
            )
            if not same:
                continue
            if other.deleted:
                del self.state.tiles[other.id]
            else:
                raise APIError.validation("Invalid request data for moving tile.")
        tile.dashboard_id = target.id
        return self._detail(ctx, source)

    # ----------------------------------------------------------------------------------------
    # create_from_template_json

    async def _view_template(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        data = self._data(ctx, json_only=True)
        if not isinstance(data, dict) or "template" not in data:
            raise ServerError
        template = data["template"]
        validate_template(template)
        assert isinstance(template, dict)
        if set(template) - _TEMPLATE_MODEL_FIELDS:
            raise ServerError
        user = ctx.viewer
        dashboard = Dashboard(
            id=self.state.allocate("dashboard", self.state.dashboards),
            team_id=ctx.project_id,
            name=template["template_name"],
            description=template["dashboard_description"],
            created_at=self.state.now_text(),
            created_by=user.id,
            filters=dict(template["dashboard_filters"]),
            tags=_clean_tags(template.get("tags") or []) if self.state.tagging else [],
        )
        self.state.dashboards[dashboard.id] = dashboard
        position = 0
        for tile in template["tiles"]:
            if "type" not in tile:
                # The view deletes the half-built dashboard before the error surfaces.
                for tile_id in [t.id for t in self.state.tiles.values()]:
                    if self.state.tiles[tile_id].dashboard_id == dashboard.id:
                        del self.state.tiles[tile_id]
                del self.state.dashboards[dashboard.id]
                raise ServerError
            spec = self._template_tile(tile)
            if spec is None:
                continue
            load_tile(self.state, dashboard, spec, position=position, default_user=user.id)
            position += 1
        return self._detail(ctx, dashboard)

    # ----------------------------------------------------------------------------------------
    # collaborators

    async def _view_collaborators(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        dashboard = self._dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
        if method == "GET":
            active = [
                self.state.collaborator_json(c)
                for c in dashboard.collaborators.values()
                if (user := self.state.users.get(c.user_id)) is not None and user.is_active
            ]
            return self._respond(ctx, 200, active)
        caller = ctx.viewer
        self._require_edit(dashboard, caller)
        data = self._object_data(ctx)
        if "level" not in data:
            raise APIError.validation("This field is required.", "level", "required")
        level = parse_choice(data["level"], "level", (21, 37))
        if "user_uuid" not in data:
            raise APIError.validation("This field is required.", "user_uuid", "required")
        user_uuid = parse_uuid(data["user_uuid"], "user_uuid")
        if self.state.effective_restriction(dashboard) == 21:
            raise APIError.validation(
                "Cannot add collaborators to a dashboard on the lowest restriction level."
            )
        if level != 37:
            raise APIError.validation("Only edit access can be explicitly specified currently.")
        target = next(
            (u for u in self.state.users.values() if u.uuid == user_uuid and u.is_active), None
        )
        if target is None:
            raise APIError.validation("User does not exist.")
        if not self.state.has_project_access(target, dashboard.team_id):
            raise APIError.validation(
                "Cannot add collaborators that have no access to the project."
            )
        if self.state.has_inherent_access(dashboard, target):
            raise APIError.validation(
                "Cannot add collaborators that already have inherent access "
                "(the dashboard owner or a project admins)."
            )
        if target.id in dashboard.collaborators:
            raise APIError.validation("User already is a collaborator.")
        now = self.state.now_text()
        collaborator = Collaborator(
            id=new_uuid7(),
            dashboard_id=dashboard.id,
            user_id=target.id,
            level=37,
            added_at=now,
            updated_at=now,
        )
        dashboard.collaborators[target.id] = collaborator
        return self._respond(ctx, 201, self.state.collaborator_json(collaborator))

    async def _view_collaborator(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        dashboard = self._dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
        self._require_edit(dashboard, ctx.viewer)
        wanted = ctx.params["uuid"]
        match = next(
            (
                c
                for c in dashboard.collaborators.values()
                if (user := self.state.users.get(c.user_id)) is not None and user.uuid == wanted
            ),
            None,
        )
        if match is None:
            raise APIError.not_found()
        if self.state.effective_restriction(dashboard) == 21:
            raise APIError.validation(
                "Cannot remove collaborators from a dashboard on the lowest restriction level."
            )
        del dashboard.collaborators[match.user_id]
        return web.Response(status=204)

    # ----------------------------------------------------------------------------------------
    # sharing

    async def _view_sharing(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        dashboard = self._dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
        if method == "GET":
            config = dashboard.sharing
            if config is None:
                # Nothing is saved: every GET shows a fresh, unsaved token.
                config = SharingConfig(created_at=None, enabled=False, access_token=share_token())
            return self._respond(ctx, 200, self.state.sharing_json(config))
        self._require_edit(dashboard, ctx.viewer)
        data = self._object_data(ctx)
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
                settings = {
                    k: raw[k] for k in SHARING_SETTINGS_KEYS if k in raw and raw[k] is not None
                }
        if password_required and not self.state.advanced_permissions:
            raise RawError(
                403, {"error": "Sharing with password requires the Advanced Permissions feature"}
            )
        if enabled and not self.public_sharing:
            raise APIError.permission_denied("Public sharing is disabled for this organization.")
        config = dashboard.sharing
        if config is None:
            config = SharingConfig(
                created_at=self.state.now_text(), enabled=False, access_token=share_token()
            )
            dashboard.sharing = config
        if enabled is not None:
            config.enabled = enabled
        if "settings" in data:
            config.settings = settings
        if password_required is not None:
            config.password_required = password_required
        return self._respond(ctx, 200, self.state.sharing_json(config))

    async def _view_sharing_refresh(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        dashboard = self._dashboard(ctx, ctx.params["id"], message="Dashboard not found.")
        self._require_edit(dashboard, ctx.viewer)
        old = dashboard.sharing
        config = SharingConfig(
            created_at=self.state.now_text(), enabled=False, access_token=share_token()
        )
        if old is not None:
            config.enabled = old.enabled
            config.settings = copy.deepcopy(old.settings)
            config.password_required = old.password_required
            config.share_passwords = copy.deepcopy(old.share_passwords)
            config.retired_tokens = dict(old.retired_tokens)
            config.retired_tokens[old.access_token] = self._timer() + _SHARE_TOKEN_GRACE
        dashboard.sharing = config
        return self._respond(ctx, 200, self.state.sharing_json(config))

    # ----------------------------------------------------------------------------------------
    # stream_tiles

    async def _view_stream_tiles(self, ctx: RequestContext, method: str) -> web.StreamResponse:
        dashboard = self._dashboard(ctx, ctx.params["id"])
        cap = self.max_concurrent_streams
        if cap is not None and self._active_streams >= cap:
            raise RawError(503, headers={"Retry-After": "15"})
        requested = last_param(ctx.query, "layoutSize") or last_param(ctx.query, "layout_size")
        size = "xs" if requested == "xs" else "sm"
        dashboard.last_accessed_at = self.state.now_text()
        options = self._options(ctx, size)
        faults = copy.deepcopy(self.stream_faults)
        headers = {"Content-Type": "text/event-stream"}
        if self.new_sse_headers:
            headers["Cache-Control"] = "no-cache, no-transform"
            headers["X-Accel-Buffering"] = "no"
        response = web.StreamResponse(status=200, headers=headers)
        response.enable_chunked_encoding()
        self._active_streams += 1
        try:
            await response.prepare(ctx.request)
            await self._write_stream(ctx, response, dashboard, options, faults)
        except ConnectionError:
            # The client went away mid-stream; nothing left to do.
            pass
        finally:
            self._active_streams -= 1
        return response

    def _tile_payload(
        self, tile: Tile, order: int, options: ViewOptions, faults: StreamFaults
    ) -> dict[str, Any]:
        data = self.state.tile_json(tile, order, options.viewer)
        size = faults.huge_tiles.get(tile.id)
        if size:
            _pad_tile(data, size)
        return data

    async def _events(
        self, dashboard: Dashboard, options: ViewOptions, faults: StreamFaults
    ) -> AsyncGenerator[dict[str, Any], None]:
        tiles = self.state.sorted_tiles(dashboard, options.layout_size)
        first: list[dict[str, Any]] = []
        for order, tile in enumerate(tiles[:2]):
            error = faults.tile_errors.get(tile.id) or tile.stream_error
            if error:
                first.append({"id": tile.id, "error": {"type": "Exception", "message": error}})
            else:
                first.append(self._tile_payload(tile, order, options, faults))
        detail = self.state.dashboard_json(dashboard, options, tiles=first)
        yield {"type": "metadata", "dashboard": detail}
        for order, tile in enumerate(tiles[2:], start=2):
            await self._sleep(faults.tile_delay)
            error = faults.tile_errors.get(tile.id) or tile.stream_error
            if error:
                yield {"type": "error", "tile_id": tile.id, "error": error}
            else:
                yield {
                    "type": "tile",
                    "order": order,
                    "tile": self._tile_payload(tile, order, options, faults),
                }
        yield {"type": "complete"}

    async def _write_stream(
        self,
        ctx: RequestContext,
        response: web.StreamResponse,
        dashboard: Dashboard,
        options: ViewOptions,
        faults: StreamFaults,
    ) -> None:
        newline = b"\r\n" if faults.crlf else b"\n"
        sent = 0

        async def write(payload: dict[str, Any]) -> None:
            frame = b""
            if faults.comments:
                frame += b": keep-alive" + newline + newline
            if faults.event_lines:
                frame += f"event: {payload['type']}".encode() + newline
                frame += f"id: {sent + 1}".encode() + newline
            frame += b"data: " + encode_json(payload) + newline + newline
            step = faults.chunk_size
            if step:
                for start in range(0, len(frame), step):
                    await response.write(frame[start : start + step])
                    await asyncio.sleep(0)
            else:
                await response.write(frame)

        events = self._events(dashboard, options, faults)
        try:
            while True:
                if faults.fatal_error_after == sent:
                    await write({"type": "error", "error": faults.fatal_error_message})
                    break
                if faults.truncate_after == sent:
                    break
                if faults.stall_after == sent:
                    await self._hang_until_cancelled()
                    return
                if faults.reset_after == sent:
                    reset_transport(ctx.request)
                    await self._hang_until_cancelled()
                    return
                try:
                    payload = await events.__anext__()
                except StopAsyncIteration:
                    break
                await write(payload)
                sent += 1
        finally:
            await events.aclose()
        await response.write_eof()


class ServerError(Exception):
    """An unhandled error in a view (PostHog's KeyError/TypeError paths): answered with 500."""


def _clean_tags(tags: Sequence[Any]) -> list[str]:
    # Tag names are trimmed and lower-cased; the set replaces the old one, first spelling wins.
    cleaned: list[str] = []
    for tag in tags:
        text = str(tag).strip().lower()
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


def _json_param(query: MultiDict[str], key: str) -> dict[str, Any] | None:
    text = last_param(query, key)
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def _pad_tile(tile: dict[str, Any], size: int) -> None:
    missing = size - len(encode_json(tile))
    if missing <= 0:
        return
    filler = "x" * max(missing - 3, 1)
    insight = tile.get("insight")
    if isinstance(insight, dict):
        padded = dict(insight)
        result = padded.get("result")
        items = list(result) if isinstance(result, list) else ([] if result is None else [result])
        padded["result"] = [*items, filler]
        tile["insight"] = padded
        return
    text = tile.get("text")
    if isinstance(text, dict):
        tile["text"] = {**text, "body": (text.get("body") or "") + filler}
