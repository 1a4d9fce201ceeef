"""Loopback PostHog-shaped server for the benchmarks (aiohttp.web, run in its own process).

Every body is serialised once at start-up, so a request costs the server only HTTP work:

* ``GET /api/projects/42/dashboards/{id}/`` — a ~90 KB dashboard with 20 insight tiles
* ``GET /api/projects/42/dashboards/{id}/sharing/`` — a ~250-byte sharing configuration
* ``GET /api/projects/42/dashboards/?limit=&offset=`` — DRF limit/offset pages of a
  2,000-dashboard project, absolute ``next``/``previous`` URLs (§5)
* ``GET /api/projects/42/dashboards/{n}/stream_tiles/`` — SSE with ``n`` tiles of ~5 KB for each
  ``n`` in ``--stream-sizes`` (§8: ``data: <compact json>\\n\\n``; metadata with the first two
  tiles, then one ``tile`` event per remaining tile, then ``complete``)

Project 43 serves the same data, but each list page, dashboard and stream takes
``--list-latency-ms`` (20 ms) of server time before answering, as a database query would.
``GET /_stats`` answers how many requests each route received (``?reset=1`` starts over):
the web-app workload counts upstream requests with it. ``Authorization`` is accepted and
ignored. Prints ``PORT <n>`` on stdout once listening and serves until terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from multidict import MultiDict
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads

API = "/api/projects/{project:\\d+}"
JSON = "application/json"


class Bodies:
    """Pre-serialised response bodies."""

    def __init__(self, stream_sizes: list[int]) -> None:
        encode = msgspec.json.encode
        self.detail = encode(payloads.detail_dashboard())
        self.sharing = encode(payloads.sharing_configuration())
        self.list_items = [encode(item) for item in payloads.dashboard_list()]
        self.pages: dict[str, bytes] = {}
        self.streams: dict[int, tuple[bytes, bytes]] = {}
        for size in stream_sizes:
            self.streams[size] = self._stream(size)
        self.not_found = (
            b'{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":null}'
        )

    @staticmethod
    def _stream(dashboard_id: int) -> tuple[bytes, bytes]:
        """(metadata event, every later event) for a dashboard of ``dashboard_id`` tiles."""
        encode = msgspec.json.encode
        templates = payloads.stream_tile_templates(dashboard_id)
        tiles = []
        for order in range(dashboard_id):
            tile = dict(templates[order % len(templates)])
            tile["id"] = dashboard_id * 100_000 + order + 1
            tile["order"] = order
            tiles.append(tile)
        detail = payloads.make_dashboard_detail(dashboard_id, tiles[:2])
        head = b"data: " + encode({"type": "metadata", "dashboard": detail}) + b"\n\n"
        parts = [
            b"data: " + encode({"type": "tile", "order": tile["order"], "tile": tile}) + b"\n\n"
            for tile in tiles[2:]
        ]
        parts.append(b'data: {"type":"complete"}\n\n')
        return head, b"".join(parts)

    def page(self, url: URL, limit: int, offset: int) -> bytes:
        key = str(url)
        body = self.pages.get(key)
        if body is None:
            count = len(self.list_items)
            nxt = None
            if offset + limit < count:
                nxt = str(_with_query(url, limit=limit, offset=offset + limit))
            prev = None
            if offset > 0:
                prev_offset = offset - limit
                prev = str(
                    _with_query(url, limit=limit, offset=prev_offset if prev_offset > 0 else None)
                )
            results = b",".join(self.list_items[offset : offset + limit])
            head = msgspec.json.encode({"count": count, "next": nxt, "previous": prev})
            body = head[:-1] + b',"results":[' + results + b"]}"
            self.pages[key] = body
        return body


def _with_query(url: URL, *, limit: int, offset: int | None) -> URL:
    """``url`` with ``limit``/``offset`` replaced in place or appended; ``offset=None`` drops it."""
    query: MultiDict[str] = MultiDict()
    seen = set()
    for key, value in url.query.items():
        if key == "limit":
            value = str(limit)
        elif key == "offset":
            if offset is None:
                continue
            value = str(offset)
        seen.add(key)
        query.add(key, value)
    if "limit" not in seen:
        query.add("limit", str(limit))
    if "offset" not in seen and offset is not None:
        query.add("offset", str(offset))
    return url.with_query(query)


def _int_param(request: web.Request, name: str, default: int, minimum: int) -> int:
    """DRF's lenient parsing: bad or out-of-range values fall back to the default."""
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        return default
    return value if value >= minimum else default


def build_app(bodies: Bodies, chunk_size: int, latency: float) -> web.Application:
    counts: dict[str, int] = {}

    async def slow(request: web.Request) -> None:
        if int(request.match_info["project"]) == payloads.SLOW_PROJECT_ID:
            await asyncio.sleep(latency)

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.name
        if route is not None:
            counts[route] = counts.get(route, 0) + 1
        return await handler(request)  # type: ignore[no-any-return]

    async def stats(request: web.Request) -> web.Response:
        body = msgspec.json.encode(counts)
        if request.query.get("reset"):
            counts.clear()
        return web.Response(body=body, content_type=JSON)

    async def list_dashboards(request: web.Request) -> web.Response:
        if int(request.match_info["project"]) == payloads.SLOW_PROJECT_ID:
            await asyncio.sleep(latency)
        limit = _int_param(request, "limit", payloads.DEFAULT_PAGE_SIZE, 1)
        offset = _int_param(request, "offset", 0, 0)
        return web.Response(body=bodies.page(request.url, limit, offset), content_type=JSON)

    async def get_dashboard(request: web.Request) -> web.Response:
        dashboard_id = int(request.match_info["id"])
        if dashboard_id != payloads.DETAIL_DASHBOARD_ID and dashboard_id not in bodies.streams:
            return web.Response(status=404, body=bodies.not_found, content_type=JSON)
        await slow(request)
        return web.Response(body=bodies.detail, content_type=JSON)

    async def get_sharing(request: web.Request) -> web.Response:
        return web.Response(body=bodies.sharing, content_type=JSON)

    async def stream_tiles(request: web.Request) -> web.StreamResponse:
        stream = bodies.streams.get(int(request.match_info["id"]))
        if stream is None:
            return web.Response(status=404, body=bodies.not_found, content_type=JSON)
        head, rest = stream
        await slow(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(head)
        view = memoryview(rest)
        for start in range(0, len(view), chunk_size):
            await response.write(view[start : start + chunk_size])
        await response.write_eof()
        return response

    app = web.Application(middlewares=[count])
    # Project 42 answers at once; project 43 is the same project whose list pages,
    # dashboards and streams take ``latency`` seconds of server time each (database work on
    # a real server).
    for suffix, tag in (("/", ""), ("", "_bare")):
        app.router.add_get(f"{API}/dashboards{suffix}", list_dashboards, name=f"list{tag}")
        app.router.add_get(f"{API}/dashboards/{{id:\\d+}}{suffix}", get_dashboard, name=f"get{tag}")
        app.router.add_get(
            f"{API}/dashboards/{{id:\\d+}}/sharing{suffix}", get_sharing, name=f"sharing{tag}"
        )
        app.router.add_get(
            f"{API}/dashboards/{{id:\\d+}}/stream_tiles{suffix}",
            stream_tiles,
            name=f"stream{tag}",
        )
    app.router.add_get("/_stats", stats)
    return app


async def serve(stream_sizes: list[int], chunk_size: int, latency: float) -> None:
    bodies = Bodies(stream_sizes)
    gc.collect()
    gc.freeze()
    app = build_app(bodies, chunk_size, latency)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream-sizes", default="1000,20000", help="comma-separated tile counts")
    parser.add_argument("--chunk-size", type=int, default=32 * 1024, help="SSE write size (bytes)")
    parser.add_argument(
        "--list-latency-ms",
        type=float,
        default=20.0,
        help=f"server time per list page of project {payloads.SLOW_PROJECT_ID}",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.stream_sizes.split(",") if s]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(sizes, args.chunk_size, args.list_latency_ms / 1000))


if __name__ == "__main__":
    main()
