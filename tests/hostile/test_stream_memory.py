"""A server that streams an event of a hundred thousand tiny ``data:`` lines, or one endless
line, over a real socket: the client holds memory in proportion to ``max_event_bytes``
(tracemalloc), stops with ``EventTooLargeError`` where the event is over it, and gives its
permit back.

The socket's and aiohttp's read buffers come on top of the decoder's memory and depend on
how fast the bytes arrive, not on their shape; each test measures them on a control stream
of the same volume whose lines the decoder ignores (long comment lines), and allows the
attack a small multiple of ``max_event_bytes`` beyond that.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest
from _leaks import KEY
from _scripted import CLOSE, ScriptedServer, Step, http, sse_event, sse_head

import posthog_dash_async as pda

LIMIT = 64 * 1024
FACTOR = 3
VOLUME = 2 * 2**20
SHARING = {"created_at": None, "enabled": True, "access_token": "tok"}
META = {"type": "metadata", "dashboard": {"id": 1, "name": "d", "tiles": []}}
COMPLETE = sse_event({"type": "complete"})


def client(server: ScriptedServer) -> pda.AsyncPostHog:
    return pda.AsyncPostHog(
        api_key=KEY,
        host=server.url,
        project_id=42,
        rate_limit=None,
        max_retries=0,
        max_concurrency=1,
        coalesce=False,
        max_event_bytes=LIMIT,
    )


def body(piece: bytes, total: int = VOLUME, start: bytes = b"", end: bytes = b"") -> list[Step]:
    """The SSE head, the metadata, ``start``, ``total`` bytes of ``piece`` in 64 KB writes,
    ``end``, and the end of the body."""
    block = piece * (65536 // len(piece))
    blocks = [block] * max(1, total // len(block))
    return [sse_head(), sse_event(META), start, *blocks, end, CLOSE]


async def traced_peak(script: list[Step], outcome: type[BaseException] | None) -> int:
    """Peak traced memory while a whole stream is read; checks how it ends and that the
    permit is back afterwards."""
    async with ScriptedServer(script, http(200, SHARING)) as server, client(server) as ph:
        tracemalloc.start()
        try:
            if outcome is None:
                await ph.dashboards.stream_tiles(1).collect()
            else:
                with pytest.raises(outcome):
                    await ph.dashboards.stream_tiles(1).collect()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (await asyncio.wait_for(ph.dashboards.sharing.get(1), 5)).enabled is True
    return peak


CONTROL = body(b":" + b"c" * 1022 + b"\n", end=COMPLETE)


@pytest.mark.parametrize(
    ("attack", "outcome"),
    [
        # One event just under the limit, of 32,767 one-byte lines: accepted by the decoder
        # (then refused as the JSON it is not). A list of a part per line cost ~40x the
        # limit here.
        pytest.param(
            body(b"data:x\n", total=7 * (LIMIT // 2 - 1), end=b"\n" + COMPLETE),
            pda.StreamDecodeError,
            id="tiny_data_lines_accepted",
        ),
        pytest.param(body(b"data:x\n"), pda.EventTooLargeError, id="tiny_data_lines_endless"),
        pytest.param(body(b"data\r"), pda.EventTooLargeError, id="empty_data_lines_cr"),
        pytest.param(body(b"y", start=b"data: "), pda.EventTooLargeError, id="endless_data_line"),
        pytest.param(body(b"c", start=b":"), pda.EventTooLargeError, id="endless_comment"),
        pytest.param(body(b"f"), pda.EventTooLargeError, id="endless_field_name"),
    ],
)
async def test_an_event_of_any_line_shape_costs_memory_in_proportion_to_max_event_bytes(
    attack: list[Any], outcome: type[BaseException] | None
) -> None:
    control = await traced_peak(CONTROL, None)
    peak = await traced_peak(attack, outcome)
    assert peak - control < FACTOR * LIMIT, (
        f"{(peak - control) / LIMIT:.1f}x max_event_bytes beyond the control's {control} bytes"
    )


async def test_events_before_an_oversized_one_in_the_same_read_are_delivered_first() -> None:
    # The metadata and the start of an endless line arrive in one read: the metadata is
    # not lost with the chunk, the error comes after it.
    attack = [sse_head(), sse_event(META) + b"data: " + b"y" * (LIMIT * 2), CLOSE]
    async with ScriptedServer(attack) as server, client(server) as ph:
        stream = ph.dashboards.stream_tiles(1)
        assert isinstance(await stream.__anext__(), pda.MetadataEvent)
        with pytest.raises(pda.EventTooLargeError):
            await stream.__anext__()
        assert [event async for event in stream] == []
