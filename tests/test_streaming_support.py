"""Support for the tile stream tests (no tests here): a loopback aiohttp server and
payload builders.

Each test sets ``server.stream`` to the behaviour of ``stream_tiles`` it needs and puts the
dashboards ``GET dashboards/{id}/`` should know into ``server.dashboards``. Handlers that
stall wait for ``server.stop``, which teardown sets, so that no test waits on the server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

import posthog_dash_async as pda

API_KEY = "phx_StreamTestKey0123456789abcdefXYZ"
PROJECT = 42
API = f"/api/projects/{PROJECT}"

_NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
_UNSUPPORTED = {
    "type": "authentication_error",
    "code": "permission_denied",
    "detail": "This action does not support personal API key access",
    "attr": None,
}

StreamBehaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dumps(value: Any) -> bytes:
    """Compact JSON, as PostHog writes it."""
    return json.dumps(value, separators=(",", ":")).encode()


def sse(value: Any) -> bytes:
    """One event exactly as ``stream_tiles`` frames it."""
    return b"data: " + dumps(value) + b"\n\n"


COMPLETE = sse({"type": "complete"})


def text_tile(
    tile_id: int,
    *,
    order: int | None = None,
    sm: tuple[int, int] | None = None,
    xs: tuple[int, int] | None = None,
    body: str = "",
) -> dict[str, Any]:
    """A markdown-card tile; ``sm``/``xs`` are (x, y) grid positions."""
    layouts: dict[str, Any] = {}
    if sm is not None:
        layouts["sm"] = {"i": str(tile_id), "x": sm[0], "y": sm[1], "w": 6, "h": 5}
    if xs is not None:
        layouts["xs"] = {"i": str(tile_id), "x": xs[0], "y": xs[1], "w": 1, "h": 5}
    return {
        "id": tile_id,
        "insight": None,
        "text": {"id": tile_id + 100_000, "body": body or f"card {tile_id}", "team": PROJECT},
        "button_tile": None,
        "layouts": layouts,
        "color": None,
        "filters_overrides": {},
        "show_description": None,
        "transparent_background": None,
        "order": order,
        "last_refresh": None,
        "is_cached": False,
    }


def dashboard(dashboard_id: int, tiles: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": dashboard_id,
        "name": f"Dashboard {dashboard_id}",
        "description": "",
        "pinned": False,
        "created_at": "2025-09-14T08:02:11.350918Z",
        "deleted": False,
        "filters": {},
        "tags": [],
        "tiles": tiles,
    }


def stream_of(detail: dict[str, Any]) -> list[bytes]:
    """The events ``stream_tiles`` sends for a dashboard whose tiles are already in order."""
    tiles = [dict(t, order=i) for i, t in enumerate(detail["tiles"])]
    events = [sse({"type": "metadata", "dashboard": dict(detail, tiles=tiles[:2])})]
    events += [sse({"type": "tile", "order": t["order"], "tile": t}) for t in tiles[2:]]
    events.append(COMPLETE)
    return events


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    peer_port: int


class StreamServer:
    def __init__(self) -> None:
        self.stream: StreamBehaviour | None = None
        self.dashboards: dict[int, dict[str, Any]] = {}
        self.seen: list[Seen] = []
        self.stop = asyncio.Event()
        # Set when a stream handler returns (it noticed the client went away, or it ended).
        self.stream_finished = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def _record(self, request: web.Request) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.seen.append(
            Seen(
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                peer_port=peer[1] if peer else -1,
            )
        )

    async def _stream_tiles(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        try:
            if self.stream is None:
                return web.json_response(_NOT_FOUND, status=404)
            return await self.stream(request)
        finally:
            self.stream_finished.set()

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        found = self.dashboards.get(int(request.match_info["id"]))
        if found is None:
            return web.json_response(_NOT_FOUND, status=404)
        return web.Response(body=dumps(found), content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(API + r"/dashboards/{id:\d+}/stream_tiles/", self._stream_tiles)
        app.router.add_get(API + r"/dashboards/{id:\d+}/", self._retrieve)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def aclose(self) -> None:
        self.stop.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def client(self, **options: Any) -> pda.AsyncPostHog:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "host": self.url,
            "project_id": PROJECT,
            "rate_limit": None,
            "max_retries": 0,
            # TileStream itself: streams shared between callers are test_shared_stream.py's.
            "coalesce": False,
        }
        settings.update(options)
        return pda.AsyncPostHog(**settings)

    # --- behaviours -----------------------------------------------------------------

    async def open_sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        return response

    def serve(
        self,
        parts: Iterable[bytes],
        *,
        piece: int | None = None,
        delay: float = 0.0,
        then: str = "end",
        end_after: float = 0.0,
    ) -> None:
        """Stream ``parts`` (each written separately, or re-cut into ``piece``-byte writes),
        ``delay`` seconds apart; ``then`` is "end" (finish the body, ``end_after`` seconds
        after the last part), "stall" (keep the connection open, sending nothing more) or
        "drop" (close the connection without finishing the body)."""
        parts = list(parts)
        if piece is not None:
            data = b"".join(parts)
            parts = [data[i : i + piece] for i in range(0, len(data), piece)]

        async def behaviour(request: web.Request) -> web.StreamResponse:
            response = await self.open_sse(request)
            try:
                for part in parts:
                    await response.write(part)
                    if delay:
                        await asyncio.sleep(delay)
                if then == "stall":
                    await self.stop.wait()
                    return response
                if then == "drop" and request.transport is not None:
                    # Gone mid-body: no terminating chunk, the socket just closes.
                    request.transport.abort()
                    return response
                if end_after:
                    await asyncio.sleep(end_after)
                await response.write_eof()
            except ConnectionError:
                pass
            return response

        self.stream = behaviour

    def serve_forever(self, head: list[bytes], *, interval: float = 0.01) -> None:
        """Send ``head``, then a tile event every ``interval`` seconds until the client leaves."""

        async def behaviour(request: web.Request) -> web.StreamResponse:
            response = await self.open_sse(request)
            try:
                for part in head:
                    await response.write(part)
                order = 2
                while not self.stop.is_set():
                    tile = text_tile(50_000 + order, order=order)
                    await response.write(sse({"type": "tile", "order": order, "tile": tile}))
                    order += 1
                    await asyncio.sleep(interval)
            except ConnectionError:
                pass
            return response

        self.stream = behaviour

    def refuse(self, status: int, body: dict[str, Any] | None) -> None:
        async def behaviour(request: web.Request) -> web.StreamResponse:
            if body is None:
                return web.Response(status=status)
            return web.Response(status=status, body=dumps(body), content_type="application/json")

        self.stream = behaviour

    def refuse_for_api_key(self) -> None:
        self.refuse(403, _UNSUPPORTED)
