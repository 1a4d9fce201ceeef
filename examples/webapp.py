"""A small aiohttp web app on posthog-dash-async: the live dashboard view plus JSON endpoints.

    python examples/webapp.py [--port 8080]

then open http://127.0.0.1:8080/. The page and its tile stream come from the SDK's
:func:`posthog_dash_async.web.mount` (the same view as ``posthog-dash view``); this app adds
its own JSON route next to them. Routes:

- ``GET /`` — the live view: a dashboard list, and one dashboard laid out on PostHog's grid,
  tiles drawn as they arrive (``/?dashboard=412`` opens one directly);
- ``GET /api/dashboards`` — id, name and pinned flag of every dashboard (all pages);
- ``GET /api/dashboards/{id}/stream`` — ``stream_tiles`` relayed to the browser as
  server-sent events by :func:`posthog_dash_async.web.sse_relay`;
- ``GET /api/dashboards/{id}`` — one dashboard with its tiles, as JSON (this file's own route).

One :class:`AsyncPostHog` is created at startup (``cleanup_ctx``) and shared by every
request: its semaphore bounds what all visitors together ask of PostHog, and the API key
stays in this process (the page only talks to this server). Configured by
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
from typing import Any

import msgspec
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async.web import mount

PH: web.AppKey[pda.AsyncPostHog] = web.AppKey("posthog", pda.AsyncPostHog)


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


async def get_dashboard(request: web.Request) -> web.Response:
    """One dashboard with its tiles, as JSON."""
    ph = request.app[PH]
    try:
        dashboard = await ph.dashboards.get(_dashboard_id(request))
    except pda.PostHogError as exc:
        return _error(exc)
    return _json(dashboard)


def create_app(settings: Settings | None = None) -> web.Application:
    """The web application; PostHog is configured by ``settings`` (see :class:`Settings`)."""
    app = web.Application()
    app.cleanup_ctx.append(_posthog_context(settings or Settings()))
    # The page, its static files, /api/dashboards and /api/dashboards/{id}/stream.
    mount(app, PH)
    app.router.add_get("/api/dashboards/{id}", get_dashboard)
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
