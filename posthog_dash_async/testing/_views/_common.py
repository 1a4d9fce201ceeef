"""What every view of :class:`FakePostHog` shares: the request context, bodies, lookups, replies.

Views are ``async def view(ctx: RequestContext) -> web.StreamResponse`` functions listed in
``_routes.py``; they reach the server (its state and switches) through ``ctx.server``. The
pipeline in front of them (faults, routing, negotiation, authentication, scopes, throttling)
lives in ``_server.py``.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib import parse

import msgspec
from aiohttp import web
from multidict import MultiDict

from .._drf import (
    APIError,
    parse_json_body,
    remove_query_param,
    render_sse_fallback,
    replace_query_param,
)
from .._faults import RecordedRequest
from .._state import ApiKey, Dashboard, State, User, ViewOptions

if TYPE_CHECKING:
    from .._server import FakePostHog

__all__ = [
    "PAGE_SIZE",
    "RequestContext",
    "ServerError",
    "View",
    "clean_tags",
    "dashboard_detail",
    "encode_json",
    "get_dashboard",
    "json_param",
    "last_param",
    "object_data",
    "page",
    "positive_int",
    "request_data",
    "require_edit",
    "reset_transport",
    "respond",
    "search_matches",
    "view_options",
]

encode_json = msgspec.json.Encoder().encode

PAGE_SIZE = 100
_GZIP_PATH = re.compile(r"^/api/projects/\d+/dashboards/(?:\d+/?)?$")


class ServerError(Exception):
    """An unhandled error in a view (PostHog's KeyError/TypeError paths): answered with 500."""


@dataclass
class RequestContext:
    """Everything a view needs about the request being served."""

    server: FakePostHog
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
    def state(self) -> State:
        """The server's stored data."""
        return self.server.state

    @property
    def viewer(self) -> User:
        """The authenticated user (views only run after authentication)."""
        assert self.user is not None
        return self.user

    @property
    def query(self) -> MultiDict[str]:
        """The decoded query string."""
        return self.record.query


View = Callable[[RequestContext], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------------------------
# small parsing helpers


def last_param(query: MultiDict[str], key: str) -> str | None:
    """A query parameter as Django reads it: the *last* value when it is repeated."""
    values = query.getall(key, [])
    return values[-1] if values else None


def positive_int(text: str | None, *, strict: bool) -> int | None:
    """DRF pagination's ``_positive_int``: lenient, any failure means "use the default"."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    if value < 0 or (value == 0 and strict):
        return None
    return value


def json_param(ctx: RequestContext, key: str, *, strict: bool) -> dict[str, Any] | None:
    """A JSON-object query parameter such as ``filters_override``.

    ``strict`` answers invalid JSON with PostHog's 400 (``attr`` = the parameter name);
    otherwise (REF) it is ignored. A valid value that is not an object is ignored either way.
    """
    text = last_param(ctx.query, key)
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        if strict:
            raise APIError.validation(f"Invalid JSON passed in {key} parameter", key) from None
        return None
    return value if isinstance(value, dict) else None


def clean_tags(tags: Sequence[Any]) -> list[str]:
    """Tag names trimmed and lower-cased; the set replaces the old one, first spelling wins."""
    cleaned: list[str] = []
    for tag in tags:
        text = str(tag).strip().lower()
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


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


def search_matches(
    term: str, candidates: Iterable[tuple[int, list[str]]], *, threshold: float = 0.3
) -> dict[int, str]:
    """PostHog's trigram search: ``"exact"`` (a case-insensitive substring of a field) when any
    item matches so, else ``"similar"`` items (trigram similarity of at least ``threshold``)."""
    needle = term.strip().lower()
    exact: dict[int, str] = {}
    similar: dict[int, str] = {}
    wanted = _trigrams(needle)
    for item_id, texts in candidates:
        lowered = [text.lower() for text in texts if text]
        if any(needle in text for text in lowered):
            exact[item_id] = "exact"
        elif wanted and any(_similarity(wanted, _trigrams(text)) >= threshold for text in lowered):
            similar[item_id] = "similar"
    return exact or similar


def _trigrams(text: str) -> set[str]:
    # pg_trgm: every word padded with two spaces in front and one behind.
    grams: set[str] = set()
    for word in "".join(c if c.isalnum() else " " for c in text).split():
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def _similarity(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# --------------------------------------------------------------------------------------------
# replies


def respond(
    ctx: RequestContext,
    status: int,
    data: Any,
    headers: Mapping[str, str] | None = None,
    *,
    compressible: bool = False,
) -> web.Response:
    """Render ``data`` with the negotiated renderer (JSON, or DRF's SSE renderer)."""
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


def page(
    ctx: RequestContext, items: Sequence[Any], render: Callable[[Any], dict[str, Any]]
) -> web.Response:
    """A DRF ``LimitOffsetPagination`` page of ``items`` with its ``next``/``previous`` links."""
    query = ctx.query
    count = len(items)
    limit = positive_int(last_param(query, "limit"), strict=True) or PAGE_SIZE
    offset = positive_int(last_param(query, "offset"), strict=False) or 0
    chunk = [] if count == 0 or offset > count else items[offset : offset + limit]
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
        "results": [render(item) for item in chunk],
    }
    return respond(ctx, 200, body, compressible=True)


# --------------------------------------------------------------------------------------------
# request bodies


def request_data(ctx: RequestContext, *, quiet: bool = False, json_only: bool = False) -> Any:
    """The parsed body (JSON, form or multipart), parsed once per request.

    ``quiet`` (authentication peeking at the body) turns a parse failure into ``None``
    without caching, so that the view parses it again with its own rules.
    """
    if ctx.data_parsed:
        return ctx.data_cache
    if quiet:
        try:
            return _parse_body(ctx, json_only=False)
        except APIError:
            return None
    data = _parse_body(ctx, json_only=json_only)
    ctx.data_cache, ctx.data_parsed = data, True
    return data


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
        if "boundary=" not in content_type.lower():
            raise APIError.parse_error(
                "Multipart message missing boundary in Content-Type header", json_body=False
            )
        header = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", errors="replace")
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


def object_data(ctx: RequestContext) -> dict[str, Any]:
    """The body, which must be an object (DRF's "Expected a dictionary" otherwise)."""
    data = request_data(ctx)
    if not isinstance(data, dict):
        name = "list" if isinstance(data, list) else type(data).__name__
        raise APIError.validation(f"Invalid data. Expected a dictionary, but got {name}.")
    return data


# --------------------------------------------------------------------------------------------
# lookups and the dashboard detail


def get_dashboard(
    ctx: RequestContext,
    raw_id: str | int,
    *,
    include_deleted: bool = False,
    message: str = "Not found.",
) -> Dashboard:
    """A dashboard of the request's project, or 404 (deleted ones only when asked)."""
    try:
        dashboard_id = int(raw_id)
    except (TypeError, ValueError):
        raise APIError.not_found(message) from None
    dashboard = ctx.state.dashboards.get(dashboard_id)
    if dashboard is None or dashboard.team_id != ctx.project_id:
        raise APIError.not_found(message)
    if dashboard.deleted and not include_deleted:
        raise APIError.not_found(message)
    return dashboard


def require_edit(ctx: RequestContext, dashboard: Dashboard, *, destination: bool = False) -> None:
    """403 unless the requesting user may change ``dashboard``."""
    if not ctx.state.can_edit(dashboard, ctx.viewer):
        what = "the destination dashboard" if destination else "this dashboard"
        raise APIError.permission_denied(f"You don't have edit permissions for {what}.")


def view_options(ctx: RequestContext, layout_size: str = "sm") -> ViewOptions:
    """Serialisation inputs from the query: layout size and the override parameters.

    With ``merge_overrides`` (NEWEST) invalid JSON in an override is a 400 naming the
    parameter; the older server ignored it.
    """
    strict = ctx.server.merge_overrides
    per_tile = json_param(ctx, "tile_filters_override", strict=strict)
    tile_filters: dict[int, dict[str, Any]] = {}
    for key, value in (per_tile or {}).items():
        if isinstance(value, dict) and key.strip().isascii() and key.strip().isdigit():
            tile_filters[int(key)] = value
    return ViewOptions(
        viewer=ctx.viewer,
        layout_size=layout_size,
        filters_override=json_param(ctx, "filters_override", strict=strict),
        variables_override=json_param(ctx, "variables_override", strict=strict),
        merge_overrides=strict,
        tile_filters_override=tile_filters or None,
    )


def dashboard_detail(ctx: RequestContext, dashboard: Dashboard, status: int = 200) -> web.Response:
    """The dashboard's detail object as this request sees it."""
    data = ctx.state.dashboard_json(dashboard, view_options(ctx))
    return respond(ctx, status, data, compressible=True)
