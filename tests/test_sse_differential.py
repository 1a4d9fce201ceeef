"""Differential tests: ``SSEDecoder`` against ``aiohttp-sse-client`` over a real socket.

The reference client is only trusted on input it handles correctly, so the streams here are
well formed: valid UTF-8, LF or CRLF line endings (it splits on LF only), no BOM (it does not
strip one), data values that do not start with a space (it strips all leading spaces, not one),
no trailing empty ``data`` line (it strips every trailing LF of the payload), and lines well
under its 512 KiB ``readline`` limit. On a finished stream it reconnects and replays the
events, so it is read until the expected number of events and then closed.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp_sse_client.client import EventSource  # type: ignore[import-untyped]
from conftest import fixture_bytes

from posthog_dash_async._sse import SSEDecoder

_TEXT_ALPHABET = "abcXYZ019 :{}[],\"'-_.éüß€ж😀"


def _text(rng: random.Random, size: int) -> str:
    text = "".join(rng.choice(_TEXT_ALPHABET) for _ in range(size))
    return text.lstrip(" ")


def random_stream(seed: int) -> tuple[bytes, int]:
    """A well-formed stream built from ``seed`` and the number of events it carries."""
    rng = random.Random(seed)
    eol = rng.choice(["\n", "\r\n", "mixed"])
    lines: list[str] = []
    count = 0
    for _ in range(rng.randint(3, 12)):
        data_lines = 0
        last_data_empty = False
        for _ in range(rng.randint(0, 5)):
            kind = rng.choice(["data", "data", "data", "comment", "event", "id"])
            if kind == "data":
                value = _text(rng, rng.choice([0, 1, 10, 200, 5000, 40_000]))
                lines.append(rng.choice(["data: ", "data:"]) + value)
                data_lines += 1
                last_data_empty = value == ""
            elif kind == "comment":
                lines.append(":" + _text(rng, rng.randint(0, 30)))
            else:
                lines.append(f"{kind}: {_text(rng, rng.randint(1, 10))}")
        if last_data_empty:
            # The reference client would strip the LF this empty line contributes.
            lines.append("data: end")
        count += data_lines > 0
        lines.append("")
    if eol == "mixed":
        body = "".join(line + rng.choice(["\n", "\r\n"]) for line in lines)
    else:
        body = "".join(line + eol for line in lines)
    return body.encode(), count


def _big_events_stream() -> tuple[bytes, int]:
    payloads = [
        json.dumps({"type": "tile", "n": n, "blob": "é" * (n // 2)}, ensure_ascii=False)
        for n in (1_000, 50_000, 100_000)
    ]
    return b"".join(b"data: " + p.encode() + b"\n\n" for p in payloads), len(payloads)


def _cases() -> list[object]:
    fixed = {
        "lf": (b"data: a\n\ndata: b\n\n", 2),
        "crlf": (b"data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n", 2),
        "comments_fields_multiline": (
            b': hello\nevent: tile\nid: 1\ndata: {"a": 1}\ndata: second line\n\n'
            b"id: 2\n\n"
            b": keep-alive\n\n"
            b"event: x\ndata:no-space\ndata\ndata:two: colons\ndata: z\n\n",
            2,
        ),
        "big_events": _big_events_stream(),
        "posthog_transcript": (fixture_bytes("stream_tiles_transcript.sse"), 4),
    }
    params: list[object] = [pytest.param(s, n, id=name) for name, (s, n) in fixed.items()]
    params += [pytest.param(*random_stream(seed), id=f"random_{seed}") for seed in range(12)]
    return params


def _chunk(stream: bytes, rng: random.Random) -> list[bytes]:
    chunks: list[bytes] = []
    pos = 0
    while pos < len(stream):
        size = rng.choice([1, 2, 7, 100, 4096, 65536])
        chunks.append(stream[pos : pos + size])
        pos += size
    return chunks


async def _reference_events(chunks: list[bytes], expected: int) -> tuple[list[bytes], int]:
    """Serve ``chunks`` over HTTP and read ``expected`` events with aiohttp-sse-client.

    Returns the payloads and how many requests the server saw.
    """
    requests = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal requests
        requests += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/stream", handler)
    received: list[bytes] = []
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        source = EventSource(
            str(server.make_url("/stream")),
            session=session,
            reconnection_time=timedelta(milliseconds=1),
            max_connect_retry=0,
        )
        async with source:

            async def collect() -> None:
                async for message in source:
                    received.append(message.data.encode())
                    if len(received) == expected:
                        return

            await asyncio.wait_for(collect(), timeout=30)
    return received, requests


@pytest.mark.parametrize(("stream", "expected"), _cases())
async def test_matches_aiohttp_sse_client(stream: bytes, expected: int) -> None:
    assert expected > 0
    chunks = _chunk(stream, random.Random(len(stream)))
    assert b"".join(chunks) == stream

    decoder = SSEDecoder()
    ours: list[bytes] = []
    for chunk in chunks:
        ours += decoder.feed(chunk)
    assert decoder.close() is False

    theirs, requests = await _reference_events(chunks, expected)
    # One request: every compared event came from the stream itself, not from a replay.
    assert requests == 1
    assert len(ours) == len(theirs) == expected
    assert ours == theirs
