"""Small loopback servers and fakes shared by the resilience tests.

Each test states the server's behaviour as a plain aiohttp handler, so the fault it needs
(a 429 with PostHog's body, a 5xx burst, a reset before any byte, a slow answer) is visible
in the test itself.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

import posthog_dash_async as pda

KEY = "phx_TestKeyThatMustNeverBeLogged0123456789"
THROTTLED = (
    b'{"type":"throttled_error","code":"throttled",'
    b'"detail":"Request was throttled. Expected available in 37 seconds.","attr":null}'
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Loopback:
    """An aiohttp.web server on 127.0.0.1 (free port) answering every path with ``handler``.

    ``hits`` lists ``(method, path_qs)`` of every request that reached a handler.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.hits: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append((request.method, request.path_qs))
        return await self._handler(request)

    async def __aenter__(self) -> Loopback:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # No access log: it would print request lines (and any key in a query) into caplog.
        # A short shutdown: a handler left waiting by a failed test must not hold it a minute.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused: the request never left)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(url: str, **kwargs: Any) -> pda.AsyncPostHog:
    kwargs.setdefault("rate_limit", None)
    return pda.AsyncPostHog(api_key=KEY, host=url, project_id=1, **kwargs)


class RecordingSleep:
    """Stands in for ``client._sleep``: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def answer(status: int, body: bytes = b"", **headers: str) -> Handler:
    """A handler that answers with ``status`` and a JSON ``body`` (a fresh response each time:
    aiohttp sends a response object only once)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            status=status, body=body, content_type="application/json", headers=headers
        )

    return handler


def scripted(*steps: Handler) -> Handler:
    """A handler that hands the n-th request to the n-th step; the last step repeats."""
    queue = list(steps)

    async def handler(request: web.Request) -> web.StreamResponse:
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        return await step(request)

    return handler


async def reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection before any response byte is written."""
    assert request.transport is not None
    request.transport.close()
    # Nothing can be written any more; the returned response is discarded by aiohttp.
    return web.Response(status=200)
