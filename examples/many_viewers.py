"""Serving many viewers with one key: several worker processes, one budget, shared streams.

    python examples/many_viewers.py --workers 4 --port 8080 --redis-url redis://127.0.0.1:6379/0

then open http://127.0.0.1:8080/ in a few browser tabs. Every worker is a process of its own
serving the same port (``SO_REUSEPORT``: the kernel spreads the connections), with its own
:class:`AsyncPostHog`:

- ``RateLimit(redis_url=...)`` makes the workers share PostHog's per-key budget (480
  requests a minute, 4,800 an hour) through Redis instead of each pacing itself to the full
  budget; without ``--redis-url`` (or ``REDIS_URL``) each worker paces itself alone;
- coalescing (on by default) sends identical GETs in flight once, and the tabs of one worker
  that watch one dashboard share one upstream tile stream (a tab that opens late first gets
  the tiles already seen, then the live ones);
- :func:`posthog_dash_async.web.sse_relay` relays a stream to the browser as server-sent
  events.

Routes of every worker: ``GET /`` (a page that streams ``?dashboard=ID``, default 412),
``GET /dashboards/{id}/stream`` (the tile stream as server-sent events),
``GET /dashboards/{id}`` (the dashboard as JSON) and ``GET /worker`` (which process
answered, and how many upstream streams it has open). Each answer carries ``X-Worker: <pid>``.

PostHog is configured by ``POSTHOG_HOST`` / ``POSTHOG_PERSONAL_API_KEY`` /
``POSTHOG_PROJECT_ID``; when they are not set, the main process starts an embedded
FakePostHog (streams allowed, tiles a little slow to look live) that every worker talks to.
Ctrl-C (or SIGTERM) stops the workers and the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import msgspec
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async.web import sse_relay

PH: web.AppKey[pda.AsyncPostHog] = web.AppKey("posthog", pda.AsyncPostHog)

PAGE = """<!doctype html>
<meta charset="utf-8"><title>Dashboard {id}</title>
<h1>Dashboard <span id="name">{id}</span></h1>
<p id="status">connecting…</p>
<ol id="tiles"></ol>
<script>
const source = new EventSource("/dashboards/{id}/stream");
const tiles = document.getElementById("tiles");
const status = document.getElementById("status");
function add(text) {{
  const li = document.createElement("li"); li.textContent = text; tiles.append(li);
}}
const title = (tile) => tile.insight?.name || tile.text?.body || "tile " + tile.id;
source.onmessage = (message) => {{
  const event = JSON.parse(message.data);
  if (event.type === "metadata") {{
    document.getElementById("name").textContent = event.dashboard.name || "{id}";
    for (const tile of event.dashboard.tiles) add(title(tile));
  }} else if (event.type === "tile") {{
    add(title(event.tile));
  }} else if (event.type === "error") {{
    status.textContent = "error: " + event.error; if (!event.tile_id) source.close();
  }} else if (event.type === "complete") {{
    status.textContent = "complete"; source.close();
  }}
}};
</script>
"""


def _dashboard_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="dashboard ids are integers") from None
    if value <= 0:
        raise web.HTTPNotFound(text="dashboard ids are positive")
    return value


async def page(request: web.Request) -> web.Response:
    try:
        dashboard = int(request.query.get("dashboard", "412"))
    except ValueError:
        raise web.HTTPBadRequest(text="dashboard must be an id") from None
    return web.Response(text=PAGE.format(id=dashboard), content_type="text/html")


async def stream(request: web.Request) -> web.StreamResponse:
    """The tile stream, relayed; tabs of this worker watching one dashboard share one."""
    ph = request.app[PH]
    return await sse_relay(request, ph.dashboards.stream_tiles(_dashboard_id(request)))


async def dashboard(request: web.Request) -> web.Response:
    ph = request.app[PH]
    try:
        found = await ph.dashboards.get(_dashboard_id(request))
    except pda.NotFoundError as exc:
        return web.json_response({"error": str(exc)}, status=404)
    except pda.PostHogError as exc:
        return web.json_response({"error": str(exc), "kind": type(exc).__name__}, status=502)
    return web.Response(body=msgspec.json.encode(found), content_type="application/json")


async def worker_info(request: web.Request) -> web.Response:
    ph = request.app[PH]
    hub = ph._stream_hub
    return web.json_response(
        {"pid": os.getpid(), "upstream_streams": hub.upstreams if hub is not None else 0}
    )


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Worker"] = str(os.getpid())


def create_app(redis_url: str | None) -> web.Application:
    """One worker's application: its own client, sharing the budget through Redis."""

    async def client(app: web.Application) -> Any:
        rate_limit = pda.RateLimit(redis_url=redis_url) if redis_url else pda.RateLimit()
        async with pda.AsyncPostHog(rate_limit=rate_limit) as ph:
            app[PH] = ph
            yield

    app = web.Application()
    app.cleanup_ctx.append(client)
    app.on_response_prepare.append(_on_prepare)
    app.router.add_get("/", page)
    app.router.add_get("/worker", worker_info)
    app.router.add_get("/dashboards/{id}/stream", stream)
    app.router.add_get("/dashboards/{id}", dashboard)
    return app


async def serve_worker(host: str, port: int, redis_url: str | None) -> None:
    """Run one worker until SIGTERM/SIGINT."""
    runner = web.AppRunner(create_app(redis_url), access_log=None, handle_signals=False)
    await runner.setup()
    # Every worker binds the same port; the kernel spreads new connections over them.
    site = web.TCPSite(runner, host, port, reuse_port=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def main(
    workers: int, host: str, port: int, redis_url: str | None, tile_delay: float = 0.2
) -> None:
    """Start the workers (and, without a PostHog in the environment, a FakePostHog for
    them) and wait for SIGTERM/SIGINT."""
    env = dict(os.environ)
    fake = None
    if not (env.get("POSTHOG_HOST") or env.get("POSTHOG_PERSONAL_API_KEY")):
        from posthog_dash_async.testing import FakePostHog

        fake = FakePostHog(allow_pak_on_unscoped_actions=True)
        await fake.start()
        fake.set_stream_faults(tile_delay=tile_delay)
        env.update(
            POSTHOG_HOST=fake.url,
            POSTHOG_PERSONAL_API_KEY=fake.api_key,
            POSTHOG_PROJECT_ID=str(fake.project_id),
        )
    procs = []
    try:
        for _ in range(workers):
            args = [__file__, "--serve-worker", "--host", host, "--port", str(port)]
            if redis_url:
                args += ["--redis-url", redis_url]
            procs.append(await asyncio.create_subprocess_exec(sys.executable, *args, env=env))
        if redis_url:
            budget = f"one budget in Redis at {redis_url.rsplit('@', 1)[-1]}"
        else:
            budget = "no --redis-url: each worker paces itself alone"
        print(f"serving on http://{host}:{port}/ with {workers} workers ({budget})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ended = [asyncio.ensure_future(p.wait()) for p in procs]
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([stopper, *ended], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            await proc.wait()
        if fake is not None:
            await fake.stop()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_worker:
        asyncio.run(serve_worker(args.host, args.port, args.redis_url))
    else:
        asyncio.run(main(args.workers, args.host, args.port, args.redis_url))


if __name__ == "__main__":
    cli()
