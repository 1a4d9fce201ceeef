"""A small aiohttp web app on posthog-dash-async: JSON endpoints and a live tile page.

    python examples/webapp.py [--port 8080]

then open http://127.0.0.1:8080/. Routes:

- ``GET /`` — a page that lists dashboards and shows one's tiles as they arrive
  (``EventSource`` on the stream endpoint below; ``/?dashboard=412`` opens one directly);
- ``GET /api/dashboards`` — every dashboard (all pages), as a JSON array;
- ``GET /api/dashboards/{id}`` — one dashboard with its tiles, as JSON;
- ``GET /api/dashboards/{id}/stream`` — the SDK's ``stream_tiles`` relayed to the browser
  as server-sent events, one ``data: <json>`` per typed event.

One :class:`AsyncPostHog` is created at startup (``cleanup_ctx``) and shared by every
request: its semaphore bounds what all visitors together ask of PostHog. Configured by
``POSTHOG_HOST`` / ``POSTHOG_PERSONAL_API_KEY`` / ``POSTHOG_PROJECT_ID``; when those are
not set it starts an embedded FakePostHog so the page works without an account.

With a personal API key, PostHog Cloud refuses ``stream_tiles`` (it accepts only browser
sessions there); the SDK then reads the dashboard in one request and replays it as the
same events, so this page still works, only without tiles trickling in.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

import posthog_dash_async as pda

STATIC = Path(__file__).with_name("static")
PH: web.AppKey[pda.AsyncPostHog] = web.AppKey("posthog", pda.AsyncPostHog)
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    # Tell nginx-style proxies not to buffer: events must reach the browser as they come.
    "X-Accel-Buffering": "no",
}


@dataclass
class Settings:
    """Where the app's PostHog is. Empty means: the environment, else an embedded fake."""

    api_key: str | None = None
    host: str | None = None
    project_id: int | str | None = None
    #: FakePostHog options when the embedded fake is used.
    fake_options: dict[str, Any] = field(default_factory=dict)
    #: Streamed tiles are delayed by this much on the embedded fake, to look live.
    fake_tile_delay: float = 0.25
    #: Called with the fake server once it runs (tests use it to add faults).
    on_fake_started: Callable[[Any], None] | None = None

    def use_fake(self) -> bool:
        """Whether nothing points at a real PostHog."""
        if self.host or self.api_key:
            return False
        return not (os.environ.get("POSTHOG_HOST") or os.environ.get("POSTHOG_PERSONAL_API_KEY"))


def _posthog_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        if not settings.use_fake():
            async with pda.AsyncPostHog(
                api_key=settings.api_key, host=settings.host, project_id=settings.project_id
            ) as ph:
                app[PH] = ph
                yield
            return
        from posthog_dash_async.testing import FakePostHog

        options = {"allow_pak_on_unscoped_actions": True, **settings.fake_options}
        async with FakePostHog(**options) as server:
            server.set_stream_faults(tile_delay=settings.fake_tile_delay)
            if settings.on_fake_started is not None:
                settings.on_fake_started(server)
            async with pda.AsyncPostHog(
                api_key=server.api_key, host=server.url, project_id=server.project_id
            ) as ph:
                app[PH] = ph
                yield

    return context


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _error(exc: pda.PostHogError) -> web.Response:
    """SDK failures as HTTP answers: PostHog's 404 stays a 404, the rest is a bad gateway."""
    status = 404 if isinstance(exc, pda.NotFoundError) else 502
    return _json({"error": str(exc), "kind": type(exc).__name__}, status=status)


def _dashboard_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="dashboard ids are integers") from None
    if value <= 0:
        raise web.HTTPNotFound(text="dashboard ids are positive")
    return value


async def index(request: web.Request) -> web.FileResponse:
    """The page."""
    return web.FileResponse(STATIC / "index.html")


async def list_dashboards(request: web.Request) -> web.Response:
    """Every dashboard, all pages, as a JSON array."""
    ph = request.app[PH]
    try:
        items = [d async for d in ph.dashboards.iter()]
    except pda.PostHogError as exc:
        return _error(exc)
    return _json(items)


async def get_dashboard(request: web.Request) -> web.Response:
    """One dashboard with its tiles, as JSON."""
    ph = request.app[PH]
    try:
        dashboard = await ph.dashboards.get(_dashboard_id(request))
    except pda.PostHogError as exc:
        return _error(exc)
    return _json(dashboard)


def event_payload(event: pda.StreamEvent) -> Any:
    """A typed event back in the server's wire shape: known events encode with their
    ``type`` tag; an unknown one is passed on as it came."""
    if isinstance(event, pda.UnknownEvent):
        return event.raw if isinstance(event.raw, dict) else {"type": event.type, "raw": event.raw}
    return event


async def stream_dashboard(request: web.Request) -> web.StreamResponse:
    """Relay ``stream_tiles`` as server-sent events.

    Failures are sent as a final ``{"type": "error", "error": ...}`` event (no ``tile_id``:
    the fatal form) on a 200 response, because ``EventSource`` hides the body of a non-200
    answer from the page and would only say that something failed.
    """
    ph = request.app[PH]
    dashboard_id = _dashboard_id(request)
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)

    async def send(payload: Any) -> None:
        await response.write(b"data: " + msgspec.json.encode(payload) + b"\n\n")

    try:
        async with ph.dashboards.stream_tiles(dashboard_id) as stream:
            async for event in stream:
                if isinstance(event, pda.CompleteEvent):
                    # The page says whether PostHog streamed or the SDK fell back to a GET.
                    await send({"type": "complete", "fallback_used": stream.fallback_used})
                else:
                    await send(event_payload(event))
    except pda.PostHogError as exc:
        try:
            await send({"type": "error", "error": str(exc), "kind": type(exc).__name__})
        except ConnectionResetError:
            pass
    except ConnectionResetError:
        # The browser went away; leaving the block above already closed the PostHog stream.
        return response
    try:
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


def create_app(settings: Settings | None = None) -> web.Application:
    """The web application; PostHog is configured by ``settings`` (see :class:`Settings`)."""
    app = web.Application()
    app.cleanup_ctx.append(_posthog_context(settings or Settings()))
    app.router.add_get("/", index)
    app.router.add_get("/api/dashboards", list_dashboards)
    app.router.add_get("/api/dashboards/{id}", get_dashboard)
    app.router.add_get("/api/dashboards/{id}/stream", stream_dashboard)
    app.router.add_static("/static/", STATIC)
    return app


async def run(
    host: str = "127.0.0.1", port: int = 8080, settings: Settings | None = None
) -> web.AppRunner:
    """Start the app (without blocking) and return its runner; ``await runner.cleanup()``
    stops it. ``port=0`` picks a free port (see ``runner.addresses``)."""
    runner = web.AppRunner(
        create_app(settings),
        access_log=None,
        # A visitor who closes the page cancels its handler, which closes the PostHog
        # stream (and frees its semaphore permit) at once instead of at the next write.
        handler_cancellation=True,
        # Open event streams must not hold up a shutdown for aiohttp's default minute.
        shutdown_timeout=2.0,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    async def serve() -> None:
        runner = await run(args.host, args.port)
        address = runner.addresses[0]
        print(f"open http://{address[0]}:{address[1]}/  (Ctrl-C stops)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
