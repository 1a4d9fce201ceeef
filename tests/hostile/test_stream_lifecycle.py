"""How a tile stream ends, whatever ends it: a second reader, the client closed under it, a
``break`` without ``async with``, an exception of any kind in the loop or in the read. Every
ending gives back the concurrency permit and the connection, and raises only the SDK's
errors (``ClientStateError`` / ``APIConnectionError``, never an aiohttp assertion)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _leaks import KEY
from _scripted import Request, ScriptedServer, Step, http, sse_event, sse_head

import posthog_dash_async as pda
from posthog_dash_async._transport import StreamResponse

SHARING = {"created_at": None, "enabled": True, "access_token": "tok"}
META = {"type": "metadata", "dashboard": {"id": 1, "name": "d", "tiles": []}}
#: A stream that never ends by itself: the metadata, then a comment every 20 ms (ignored by
#: the decoder) for ten seconds, so the server notices when the client drops the connection.
ENDLESS: list[Step] = [sse_head(), sse_event(META), *[0.02, b": tick\n"] * 500]


def answer(request: Request) -> list[Step]:
    if request.path.endswith("/stream_tiles/"):
        return ENDLESS
    return [http(200, SHARING)]


def client(server: ScriptedServer, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
        "max_concurrency": 1,
        "coalesce": False,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


async def permit_is_back(ph: pda.AsyncPostHog) -> None:
    # With max_concurrency=1 a request only goes out once the stream gave its permit back.
    assert (await asyncio.wait_for(ph.dashboards.sharing.get(1), 5)).enabled is True


async def connection_dropped(server: ScriptedServer) -> None:
    """The server's handler for the stream ended: its next write found the socket closed
    (called while the stream's is the only connection)."""
    for _ in range(500):
        if not server._writers:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the client kept the stream's connection open")


class Abort(BaseException):
    """Not an Exception: what a KeyboardInterrupt or SystemExit looks like to the SDK."""


# --- one reader -----------------------------------------------------------------------------


async def test_a_second_task_reading_the_same_stream_gets_client_state_error() -> None:
    async with ScriptedServer(answer) as server, client(server) as ph:
        async with ph.dashboards.stream_tiles(1) as stream:
            assert isinstance(await stream.__anext__(), pda.MetadataEvent)
            first = asyncio.create_task(stream.__anext__())
            await asyncio.sleep(0.05)  # the first reader now waits for the server
            with pytest.raises(pda.ClientStateError, match="already being read"):
                await stream.__anext__()
            # The first reader is undisturbed; leaving the block ends it cleanly.
            assert not first.done()
        with pytest.raises(pda.ClientStateError, match="aclose"):
            await first
        await connection_dropped(server)
        await permit_is_back(ph)


async def test_a_second_task_opening_the_same_stream_gets_client_state_error() -> None:
    # Both tasks start before the stream is open: the second does not see an empty stream.
    async with ScriptedServer(answer) as server, client(server) as ph:
        stream = ph.dashboards.stream_tiles(1)
        first = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0)
        with pytest.raises(pda.ClientStateError, match="already being read"):
            await stream.__anext__()
        assert isinstance(await first, pda.MetadataEvent)
        await stream.aclose()
        await permit_is_back(ph)


# --- the client closed under a stream -------------------------------------------------------


async def test_closing_the_client_ends_a_waiting_reader_with_client_state_error() -> None:
    async with ScriptedServer(answer) as server:
        ph = client(server)
        stream = ph.dashboards.stream_tiles(1)
        assert isinstance(await stream.__anext__(), pda.MetadataEvent)
        reader = asyncio.create_task(stream.__anext__())
        await asyncio.sleep(0.05)
        await ph.aclose()
        with pytest.raises((pda.ClientStateError, pda.APIConnectionError)) as info:
            await reader
        assert isinstance(info.value, pda.ClientStateError)
        assert "client was closed" in str(info.value)
        # The stream is over; the next read says so instead of touching the closed session.
        assert [event async for event in stream] == []
        await connection_dropped(server)


async def test_closing_the_client_between_reads_ends_the_stream_with_client_state_error() -> None:
    async with ScriptedServer(answer) as server:
        ph = client(server)
        async with ph.dashboards.stream_tiles(1) as stream:
            assert isinstance(await stream.__anext__(), pda.MetadataEvent)
            await ph.aclose()
            with pytest.raises(pda.ClientStateError):
                await stream.__anext__()
        with pytest.raises(pda.ClientStateError):
            await ph.dashboards.stream_tiles(1).collect()


# --- abandoned and interrupted streams ------------------------------------------------------


async def test_a_stream_abandoned_after_break_is_released_with_a_resource_warning() -> None:
    async def break_out(ph: pda.AsyncPostHog) -> None:
        async for _ in ph.dashboards.stream_tiles(1):
            break
        gc.collect()

    async with ScriptedServer(answer) as server, client(server) as ph:
        with pytest.warns(ResourceWarning, match="unclosed TileStream"):
            await break_out(ph)
        await connection_dropped(server)
        await permit_is_back(ph)


async def test_a_stream_left_by_break_inside_async_with_is_released_without_a_warning() -> None:
    async with ScriptedServer(answer) as server, client(server) as ph:
        async with ph.dashboards.stream_tiles(1) as stream:
            async for _ in stream:
                break
        gc.collect()  # the filterwarnings=error setting would turn a warning into a failure
        await connection_dropped(server)
        await permit_is_back(ph)


@pytest.mark.parametrize("error", [ValueError, Abort, asyncio.CancelledError])
async def test_an_exception_of_any_kind_in_the_loop_body_releases(
    error: type[BaseException],
) -> None:
    async def fail_in_the_loop(ph: pda.AsyncPostHog) -> None:
        async for _ in ph.dashboards.stream_tiles(1):
            raise error

    async def run_and_collect(ph: pda.AsyncPostHog) -> None:
        with pytest.raises(error):
            await asyncio.create_task(fail_in_the_loop(ph))
        gc.collect()

    async with ScriptedServer(answer) as server, client(server) as ph:
        with pytest.warns(ResourceWarning, match="unclosed TileStream"):
            await run_and_collect(ph)
        await connection_dropped(server)
        await permit_is_back(ph)


@pytest.mark.parametrize("error", [ValueError, Abort, GeneratorExit])
async def test_an_exception_of_any_kind_inside_the_read_releases(
    error: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever escapes the read (an Exception, a BaseException), the stream releases its
    # permit and connection before it propagates: no garbage collection involved.
    real = StreamResponse.readany
    calls = 0

    async def readany(self: StreamResponse) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return await real(self)

    monkeypatch.setattr(StreamResponse, "readany", readany)
    async with ScriptedServer(answer) as server, client(server) as ph:
        stream = ph.dashboards.stream_tiles(1)
        assert isinstance(await stream.__anext__(), pda.MetadataEvent)
        with pytest.raises(error):
            await asyncio.create_task(stream.__anext__())
        await connection_dropped(server)
        await permit_is_back(ph)
        assert [event async for event in stream] == []


async def test_an_async_generator_closed_around_a_stream_releases_it() -> None:
    # GeneratorExit thrown into the caller's generator at its yield: with `async with` the
    # stream is left at once; without, garbage collection releases it (and says so).
    async with ScriptedServer(answer) as server, client(server) as ph:

        async def with_block() -> AsyncIterator[pda.StreamEvent]:
            async with ph.dashboards.stream_tiles(1) as stream:
                async for event in stream:
                    yield event

        async def without_block() -> AsyncIterator[pda.StreamEvent]:
            async for event in ph.dashboards.stream_tiles(1):
                yield event

        events = with_block()
        assert isinstance(await events.__anext__(), pda.MetadataEvent)
        await events.aclose()
        await connection_dropped(server)

        async def close_and_collect() -> None:
            events = without_block()
            assert isinstance(await events.__anext__(), pda.MetadataEvent)
            await events.aclose()
            del events
            gc.collect()

        with pytest.warns(ResourceWarning, match="unclosed TileStream"):
            await close_and_collect()
        await connection_dropped(server)
        await permit_is_back(ph)


def test_a_stream_outliving_its_event_loop_warns_and_does_not_raise() -> None:
    # The finalizer runs after the loop closed: nothing to schedule on, nothing raised.
    async def open_one() -> pda.TileStream:
        async with ScriptedServer(answer) as server, client(server) as ph:
            stream = ph.dashboards.stream_tiles(1)
            await stream.__anext__()
            await stream._release()  # the connection goes with the server; the stream
            stream._cm = object()  # type: ignore[assignment]  # still looks open
            return stream

    def collect_it() -> None:
        streams = [asyncio.run(open_one())]
        streams.clear()
        gc.collect()

    with pytest.warns(ResourceWarning, match="unclosed TileStream"):
        collect_it()
