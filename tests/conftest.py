"""Shared helpers: fixture files, a recording loopback HTTP server and a client factory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog

API_KEY = "phx_TestOnlyKey0123456789abcdefXYZ"
PROJECT = 42
BASE = f"/api/projects/{PROJECT}/"

#: The spec's example payloads and SSE transcript (see fixtures/README.md).
FIXTURES = Path(__file__).parent / "fixtures"


def fixture_path(name: str) -> Path:
    """The path of a spec fixture file."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"fixture {name!r} not found in {FIXTURES}")
    return path


def fixture_bytes(name: str) -> bytes:
    return fixture_path(name).read_bytes()


def load_fixture(name: str) -> Any:
    return json.loads(fixture_path(name).read_text(encoding="utf-8"))


def dumps(value: Any) -> bytes:
    """Compact JSON, as PostHog writes it."""
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str  # percent-encoded, without the query
    query: list[tuple[str, str]]
    headers: CIMultiDict[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


class RecordingServer:
    """A real HTTP server on 127.0.0.1 that records every request.

    It answers from replies registered with :meth:`reply` (keyed by method and path), or
    through ``handler`` when one is set, else with PostHog's 404 body. ``in_flight`` and
    ``max_in_flight`` count requests being handled at once.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.handler: Handler | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.url = ""
        self._replies: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self._runner: web.AppRunner | None = None

    def reply(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``method path`` (a path relative to the project unless it starts with /)."""
        full = path if path.startswith("/") else BASE + path
        hdrs = dict(headers or {})
        if body is None:
            body = b"" if json is None else dumps(json)
            if json is not None:
                hdrs.setdefault("Content-Type", "application/json")
        self._replies[(method, full)] = (status, body, hdrs)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.rel_url.raw_path,
                query=list(request.rel_url.query.items()),
                headers=CIMultiDict(request.headers),
                body=body,
            )
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.handler is not None:
                return await self.handler(request)
            canned = self._replies.get((request.method, request.rel_url.raw_path))
            if canned is None:
                return web.json_response(_NOT_FOUND, status=404)
            status, payload, headers = canned
            return web.Response(status=status, body=payload, headers=headers)
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class CannedResponse(aiohttp.ClientResponse):
    """``response_class`` for aioresponses: its 0.7 releases build responses without the
    ``stream_writer`` argument that aiohttp 3.12+ requires."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def make_client(server: RecordingServer, **options: Any) -> pda.AsyncPostHog:
    """A client for ``server`` with the limiter and retries off unless ``options`` say so."""
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "host": server.url,
        "project_id": PROJECT,
        "rate_limit": None,
        "max_retries": 0,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


@pytest.fixture(autouse=True)
def _no_posthog_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real PostHog settings."""
    for name in ("POSTHOG_PERSONAL_API_KEY", "POSTHOG_HOST", "POSTHOG_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def recorder() -> AsyncIterator[RecordingServer]:
    server = RecordingServer()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def ph(recorder: RecordingServer) -> AsyncIterator[pda.AsyncPostHog]:
    async with make_client(recorder) as client:
        yield client


@asynccontextmanager
async def connect(server: FakePostHog, **options: Any) -> AsyncIterator[pda.AsyncPostHog]:
    """One client for ``server``; the client-side limiter is off unless ``options`` say so."""
    settings: dict[str, Any] = {
        "api_key": server.api_key,
        "host": server.url,
        "project_id": server.project_id,
        "rate_limit": None,
    }
    settings.update(options)
    async with pda.AsyncPostHog(**settings) as ph:
        yield ph
