"""The web view's routes: the page, its static files, the dashboard list and the tile stream."""

from __future__ import annotations

from pathlib import Path
from typing import Final, TypeAlias

import msgspec
from aiohttp import web

from .._client import AsyncPostHog
from ..errors import InvalidArgumentError, NotFoundError, PostHogError
from ._relay import DEFAULT_HEARTBEAT, check_heartbeat, sse_relay

__all__ = ["STATIC_DIR", "PostHogSource", "create_app", "mount"]

#: The page, its script and stylesheet, and ``vendor/`` (third-party libraries + licences).
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

#: Where a handler finds its client: the client itself, or the application key it is
#: stored under (for a client created in a ``cleanup_ctx``, as aiohttp recommends).
PostHogSource: TypeAlias = "AsyncPostHog | web.AppKey[AsyncPostHog]"

# The page is the only HTML served; it loads nothing from elsewhere and runs no inline
# script, so even markup that got past the sanitiser could not execute.
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ENCODER: Final = msgspec.json.Encoder()


class _Summary(msgspec.Struct, frozen=True):
    id: int
    name: str | None
    pinned: bool


def _check_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        raise InvalidArgumentError(
            f"prefix must be '' or a path like '/dashboards' (no trailing slash), got {prefix!r}"
        )
    return prefix


def mount(
    app: web.Application,
    ph: PostHogSource,
    *,
    prefix: str = "",
    dashboard_id: int | None = None,
    list_dashboards: bool = True,
    heartbeat: float | None = DEFAULT_HEARTBEAT,
) -> None:
    """Add the live dashboard view to ``app`` under ``prefix``.

    Routes (with ``prefix=""``):

    - ``GET /`` the page; ``/?dashboard=412`` shows dashboard 412. With ``dashboard_id``,
      a bare ``/`` redirects to that dashboard;
    - ``GET /static/...`` the page's script, stylesheet and vendored libraries;
    - ``GET /api/dashboards`` ``[{"id", "name", "pinned"}, ...]`` for the page's dashboard
      list (left out with ``list_dashboards=False``, and the page then shows none);
    - ``GET /api/dashboards/{id}/stream`` the tile stream, relayed by :func:`sse_relay`.

    ``ph`` is the client, or the :class:`aiohttp.web.AppKey` under which the application
    stores it. Every browser connection to the stream route opens its own
    ``ph.dashboards.stream_tiles``; with ``AsyncPostHog(coalesce=True)`` viewers of the same
    dashboard share one upstream stream. Run the application with
    ``handler_cancellation=True`` so that a closed tab ends its upstream stream at once.
    ``heartbeat`` is passed to :func:`sse_relay` (keep-alive comments on quiet streams).
    """
    prefix = _check_prefix(prefix)
    check_heartbeat(heartbeat)
    if dashboard_id is not None and (
        isinstance(dashboard_id, bool) or not isinstance(dashboard_id, int) or dashboard_id <= 0
    ):
        raise InvalidArgumentError(f"dashboard_id must be a positive int, got {dashboard_id!r}")

    def client(request: web.Request) -> AsyncPostHog:
        if isinstance(ph, AsyncPostHog):
            return ph
        return request.app[ph]

    async def page(request: web.Request) -> web.StreamResponse:
        if dashboard_id is not None and "dashboard" not in request.query:
            raise web.HTTPFound(f"{prefix}/?dashboard={dashboard_id}")
        return web.FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    async def to_page(request: web.Request) -> web.StreamResponse:
        # The page's links are relative: it must be served from a path ending in "/".
        raise web.HTTPFound(f"{prefix}/")

    async def dashboards(request: web.Request) -> web.Response:
        try:
            items = [
                _Summary(id=d.id, name=d.name, pinned=d.pinned)
                async for d in client(request).dashboards.iter()
            ]
        except PostHogError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 502
            return _json({"error": str(exc), "kind": type(exc).__name__}, status)
        return _json(items)

    async def stream(request: web.Request) -> web.StreamResponse:
        try:
            wanted = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound(text="dashboard ids are integers") from None
        if wanted <= 0:
            raise web.HTTPNotFound(text="dashboard ids are positive")
        resource = client(request).dashboards
        if request.query.get("layout") == "xs":
            stream = resource.stream_tiles(wanted, layout_size="xs")
        else:
            stream = resource.stream_tiles(wanted)
        return await sse_relay(request, stream, heartbeat=heartbeat)

    app.router.add_get(f"{prefix}/", page)
    if prefix:
        app.router.add_get(prefix, to_page)
    if list_dashboards:
        app.router.add_get(f"{prefix}/api/dashboards", dashboards)
    app.router.add_get(f"{prefix}/api/dashboards/{{id}}/stream", stream)
    app.router.add_static(f"{prefix}/static/", STATIC_DIR, append_version=False)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=_ENCODER.encode(data), status=status, content_type="application/json")


def create_app(
    ph: PostHogSource, *, dashboard_id: int | None = None, list_dashboards: bool = True
) -> web.Application:
    """An application serving only the view (see :func:`mount`), at ``/``.

    The caller owns ``ph`` and closes it; the application never does.
    """
    app = web.Application()
    mount(app, ph, dashboard_id=dashboard_id, list_dashboards=list_dashboards)
    return app
