"""A hostile loopback server: it answers each request with bytes the test scripts.

aiohttp.web always speaks correct HTTP; a hostile or broken server does not. Here a test
writes the exact bytes the client receives (a lying ``Content-Length``, a gzip bomb, a key
echoed in a header, a stream cut mid-event), with pauses, resets and held connections, so the
attack and its expected outcome stand side by side in the test.

    async with ScriptedServer(http(200, b'{"id": 1}')) as server:
        async with pda.AsyncPostHog(host=server.url, api_key=KEY, ...) as ph:
            ...
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"

A script is a sequence of steps: ``bytes`` are written, a ``float`` sleeps that many seconds,
``CLOSE`` closes the connection cleanly, ``RESET`` aborts it (RST), ``HOLD`` keeps it open
without writing until the server stops. A script that ends without one of those leaves the
connection open for the next request on it (keep-alive). ``ScriptedServer`` takes one script
per request in arrival order (the last one repeats), or a function of the parsed request.
"""

from __future__ import annotations

import asyncio
import gzip
import json as _json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CLOSE = object()
RESET = object()
HOLD = object()

Step = bytes | float | object
Script = Sequence[Step]
Responder = Callable[["Request"], Script]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Request:
    """One request as the server parsed it (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # the index of the TCP connection it arrived on

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def head(status: int, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A status line and headers, ending with the blank line; no body, no Content-Length."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http(
    status: int,
    body: bytes | Any = b"",
    *,
    headers: Iterable[tuple[str, str]] = (),
    content_type: str | None = None,
) -> bytes:
    """A whole response with a correct ``Content-Length``; non-bytes bodies are sent as JSON."""
    if not isinstance(body, bytes):
        body = _json.dumps(body).encode()
        content_type = content_type or "application/json"
    hdrs = list(headers)
    if content_type is not None:
        hdrs.append(("Content-Type", content_type))
    hdrs.append(("Content-Length", str(len(body))))
    return head(status, hdrs) + body


def gzip_bomb(size: int, *, status: int = 200, content_type: str = "application/json") -> bytes:
    """A response whose small gzip body inflates to ``size`` bytes of ``[`` (never valid JSON)."""
    body = gzip.compress(b"[" * size, compresslevel=9)
    return http(
        status,
        body,
        headers=[("Content-Encoding", "gzip")],
        content_type=content_type,
    )


def sse_head(status: int = 200, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """The head of an event stream that ends when the connection closes (no length, no chunks)."""
    return head(
        status,
        [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), *extra],
    )


def sse_event(data: bytes | Any) -> bytes:
    """One ``data:`` event; non-bytes are JSON-encoded."""
    if not isinstance(data, bytes):
        data = _json.dumps(data).encode()
    return b"data: " + data + b"\n\n"


@dataclass
class ScriptedServer:
    """A TCP server on 127.0.0.1 (a free port) that replays scripts; see the module docstring."""

    scripts: tuple[Script | Responder, ...] = ()
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    port: int = 0

    def __init__(self, *scripts: Script | Responder | bytes) -> None:
        self.scripts = tuple([s] if isinstance(s, bytes) else s for s in scripts)
        self.requests = []
        self.connections = 0
        self.url = ""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping = asyncio.Event()

    def _script_for(self, request: Request) -> Script:
        if not self.scripts:
            return [http(404, {"detail": "Not found."}), CLOSE]
        index = min(len(self.requests) - 1, len(self.scripts) - 1)
        chosen = self.scripts[index]
        return chosen(request) if callable(chosen) else chosen

    async def _read_request(self, reader: asyncio.StreamReader, conn: int) -> Request | None:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        lines = raw.decode("latin-1").split("\r\n")
        method, target, *_ = [*lines[0].split(" ", 2), "", ""]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = b""
        length = int(headers.get("content-length", "0") or 0)
        if length:
            body = await reader.readexactly(length)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        return Request(method, target, headers, body, conn)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self.connections
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader, conn)
                if request is None:
                    return
                self.requests.append(request)
                for step in self._script_for(request):
                    if step is CLOSE:
                        await writer.drain()
                        return
                    if step is RESET:
                        writer.transport.abort()
                        return
                    if step is HOLD:
                        await self._stopping.wait()
                        return
                    if isinstance(step, float | int):
                        await asyncio.sleep(step)
                    else:
                        assert isinstance(step, bytes)
                        writer.write(step)
                        await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
