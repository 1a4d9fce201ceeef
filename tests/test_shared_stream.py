"""Shared tile streams: concurrent identical ``stream_tiles`` read one upstream stream."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog, text_tile

STREAM = "/api/projects/42/dashboards/{}/stream_tiles/"


def streams(server: FakePostHog, dashboard: int = 412) -> int:
    return len([r for r in server.requests if r.path == STREAM.format(dashboard)])


async def started(server: FakePostHog, dashboard: int = 412) -> None:
    for _ in range(2000):
        if streams(server, dashboard):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the stream was never requested")


async def big_dashboard(server: FakePostHog, tiles: int = 8) -> int:
    dashboard = server.add_dashboard(
        "Many tiles", tiles=[text_tile(f"tile {i}") for i in range(tiles)]
    )
    return int(dashboard["id"])


FIXED = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)


def fake(**options: Any) -> FakePostHog:
    # A fixed clock: last_accessed_at is the same in every answer, so sequences compare.
    return FakePostHog(allow_pak_on_unscoped_actions=True, now=lambda: FIXED, **options)


async def read_all(stream: pda.TileStream) -> list[Any]:
    """Every event, then how the stream ended (None, or the exception)."""
    seen: list[Any] = []
    try:
        async with stream:
            async for event in stream:
                seen.append(event)
    except pda.PostHogError as exc:
        seen.append(exc)
    return seen


async def lone_sequence(server: FakePostHog, dashboard: int) -> list[Any]:
    async with connect(server, coalesce=False) as ph:
        return await read_all(ph.dashboards.stream_tiles(dashboard))


async def test_concurrent_consumers_share_one_upstream_and_see_the_lone_sequence() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        expected = await lone_sequence(server, dashboard)
        server.clear_requests()
        server.set_stream_faults(tile_delay=0.02)
        async with connect(server) as ph:
            results = await asyncio.gather(
                *(read_all(ph.dashboards.stream_tiles(dashboard)) for _ in range(10))
            )
            assert ph._stream_hub is not None
            assert ph._stream_hub.upstreams == 0
        assert streams(server, dashboard) == 1
        for seen in results:
            assert seen == expected
        assert isinstance(expected[-1], pda.CompleteEvent)


async def test_a_late_consumer_first_receives_what_was_already_seen() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        expected = await lone_sequence(server, dashboard)
        server.clear_requests()
        server.set_stream_faults(tile_delay=0.05)
        async with connect(server) as ph:
            early = ph.dashboards.stream_tiles(dashboard)
            early_seen: list[Any] = []
            async with early:
                async for event in early:
                    early_seen.append(event)
                    if len(early_seen) == 4:
                        late = asyncio.create_task(read_all(ph.dashboards.stream_tiles(dashboard)))
            late_seen = await late
        assert streams(server, dashboard) == 1
        assert early_seen == expected
        assert late_seen == expected


async def test_consumers_never_share_models() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(tile_delay=0.02)
        async with connect(server) as ph:
            first, second = await asyncio.gather(
                ph.dashboards.stream_tiles(dashboard).collect(),
                ph.dashboards.stream_tiles(dashboard).collect(),
            )
        assert streams(server, dashboard) == 1
        assert first == second
        assert first.tiles is not second.tiles
        assert first.tiles[0] is not second.tiles[0]
        first.tiles.clear()
        assert len(second.tiles) == 8


async def test_a_consumer_that_leaves_does_not_disturb_the_others() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        expected = await lone_sequence(server, dashboard)
        server.clear_requests()
        server.set_stream_faults(tile_delay=0.03)
        async with connect(server) as ph:

            async def leave_early() -> int:
                count = 0
                async with ph.dashboards.stream_tiles(dashboard) as stream:
                    async for _ in stream:
                        count += 1
                        if count == 2:
                            break
                return count

            async def cancelled() -> None:
                async with ph.dashboards.stream_tiles(dashboard) as stream:
                    async for _ in stream:
                        await asyncio.sleep(10)

            victim = asyncio.create_task(cancelled())
            full = asyncio.create_task(read_all(ph.dashboards.stream_tiles(dashboard)))
            assert await leave_early() == 2
            await started(server, dashboard)
            await asyncio.sleep(0.1)
            victim.cancel()
            with pytest.raises(asyncio.CancelledError):
                await victim
            assert await full == expected
        assert streams(server, dashboard) == 1


async def test_the_upstream_and_its_permit_go_when_the_last_consumer_leaves() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server, tiles=20)
        server.set_stream_faults(tile_delay=0.05)
        async with connect(server, max_concurrency=1) as ph:
            streams_ = [ph.dashboards.stream_tiles(dashboard) for _ in range(3)]
            for stream in streams_:
                await stream.__aenter__()
            assert ph._stream_hub is not None
            assert ph._stream_hub.upstreams == 1
            assert server.in_flight == 1
            for stream in streams_[:2]:
                await stream.aclose()
            assert ph._stream_hub.upstreams == 1
            await streams_[2].aclose()
            assert ph._stream_hub.upstreams == 0
            # The one permit is free again: a plain GET goes through at once.
            assert (await ph.dashboards.get(412)).id == 412
            for _ in range(200):
                if server.in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert server.in_flight == 0


async def test_a_fatal_error_reaches_every_consumer_like_a_lone_one() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(fatal_error_after=3)
        expected = await lone_sequence(server, dashboard)
        assert isinstance(expected[-1], pda.StreamError)
        server.clear_requests()
        server.set_stream_faults(fatal_error_after=3, tile_delay=0.02)
        async with connect(server) as ph:
            results = await asyncio.gather(
                *(read_all(ph.dashboards.stream_tiles(dashboard)) for _ in range(3))
            )
        assert streams(server, dashboard) == 1
        for seen in results:
            assert seen[:-1] == expected[:-1]
            error = seen[-1]
            assert isinstance(error, pda.StreamError)
            assert str(error) == str(expected[-1])
            assert error.error == expected[-1].error
            assert error.received == expected[-1].received
        assert len({id(seen[-1]) for seen in results}) == 3


async def test_collect_keeps_received_tiles_on_a_truncated_stream() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(truncate_after=4)
        async with connect(server, coalesce=False) as lone:
            with pytest.raises(pda.StreamIncompleteError) as alone:
                await lone.dashboards.stream_tiles(dashboard).collect()
        server.set_stream_faults(truncate_after=4, tile_delay=0.02)
        async with connect(server) as ph:
            outcomes = await asyncio.gather(
                ph.dashboards.stream_tiles(dashboard).collect(),
                ph.dashboards.stream_tiles(dashboard).collect(),
                return_exceptions=True,
            )
        for outcome in outcomes:
            assert isinstance(outcome, pda.StreamIncompleteError)
            assert str(outcome) == str(alone.value)
            assert outcome.received == alone.value.received
            assert outcome.received is not None
            assert len(outcome.received.tiles) == 5  # metadata's 2 + 3 tile events


async def test_an_open_error_reaches_every_consumer() -> None:
    async with FakePostHog() as server, connect(server) as ph:
        server.set_delay(0.1)
        outcomes = await asyncio.gather(
            *(read_all(ph.dashboards.stream_tiles(999_999)) for _ in range(3))
        )
        for seen in outcomes:
            assert len(seen) == 1
            assert isinstance(seen[0], pda.NotFoundError)


async def test_the_fallback_is_shared_too() -> None:
    # Personal API keys are refused the stream (403): the fallback GET serves everyone.
    async with FakePostHog(now=lambda: FIXED) as server:
        async with connect(server, coalesce=False) as lone:
            expected = await read_all(lone.dashboards.stream_tiles(412))
        server.clear_requests()
        server.set_delay(0.1)
        async with connect(server) as ph:
            handles = [ph.dashboards.stream_tiles(412) for _ in range(4)]
            results = await asyncio.gather(*(read_all(h) for h in handles))
        assert all(seen == expected for seen in results)
        assert all(h.fallback_used for h in handles)
        assert len([r for r in server.requests if r.path.endswith("/412/")]) == 1
        assert streams(server, 412) == 1


async def test_different_parameters_do_not_share() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(tile_delay=0.01)
        async with connect(server) as ph:
            await asyncio.gather(
                ph.dashboards.stream_tiles(dashboard).collect(),
                ph.dashboards.stream_tiles(dashboard, layout_size="xs").collect(),
                ph.dashboards.stream_tiles(412).collect(),
            )
        assert streams(server, dashboard) == 2
        assert streams(server, 412) == 1


async def test_overrides_are_part_of_what_is_shared() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(tile_delay=0.01)
        async with connect(server) as ph:
            await asyncio.gather(
                ph.dashboards.stream_tiles(dashboard, refresh="blocking").collect(),
                ph.dashboards.stream_tiles(dashboard, refresh="blocking").collect(),
                ph.dashboards.stream_tiles(
                    dashboard, filters_override={"date_from": "-7d"}
                ).collect(),
            )
        assert streams(server, dashboard) == 2


async def test_a_stream_after_the_end_opens_a_fresh_upstream() -> None:
    async with fake() as server, connect(server) as ph:
        await ph.dashboards.stream_tiles(412).collect()
        await ph.dashboards.stream_tiles(412).collect()
        assert streams(server, 412) == 2


async def test_without_coalescing_every_stream_is_its_own() -> None:
    async with fake() as server:
        server.set_stream_faults(tile_delay=0.01)
        async with connect(server, coalesce=False) as ph:
            await asyncio.gather(*(ph.dashboards.stream_tiles(412).collect() for _ in range(3)))
        assert streams(server, 412) == 3


async def test_collect_twice_is_refused() -> None:
    async with fake() as server, connect(server) as ph:
        stream = ph.dashboards.stream_tiles(412)
        await stream.collect()
        with pytest.raises(pda.ClientStateError):
            await stream.collect()


async def test_past_the_replay_limit_newcomers_open_their_own_stream() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        detail = server.dashboard(dashboard)
        tile_ids = [t["id"] for t in detail["tiles"]]
        # 300 KB per tile: the replay passes REPLAY_LIMIT (1 MiB) after a few events.
        server.set_stream_faults(huge_tiles={t: 300_000 for t in tile_ids})
        expected = await lone_sequence(server, dashboard)
        server.clear_requests()
        async with connect(server) as ph:
            first = ph.dashboards.stream_tiles(dashboard)
            first_seen: list[Any] = []
            async with first:
                async for event in first:
                    first_seen.append(event)
                    if len(first_seen) == 6:
                        assert ph._stream_hub is not None
                        assert ph._stream_hub.upstreams == 0  # no longer joinable
                        second = await read_all(ph.dashboards.stream_tiles(dashboard))
        assert first_seen == expected
        assert second == expected
        assert streams(server, dashboard) == 2


async def first_event_then_drop(stream: pda.TileStream) -> None:
    async for _ in stream:
        break


async def test_a_consumer_dropped_without_closing_leaves() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(tile_delay=0.05)
        async with connect(server, max_concurrency=1) as ph:
            with pytest.warns(ResourceWarning, match="left open"):
                await first_event_then_drop(ph.dashboards.stream_tiles(dashboard))
            # No `async with`: the consumer is garbage-collected, warns, detaches, and the
            # upstream gives back the only permit.
            assert (await asyncio.wait_for(ph.dashboards.get(412), 5)).id == 412
            assert ph._stream_hub is not None
            assert ph._stream_hub.upstreams == 0


async def test_two_tasks_reading_one_consumer_get_a_clear_error() -> None:
    async with fake() as server:
        dashboard = await big_dashboard(server)
        server.set_stream_faults(tile_delay=0.2)
        async with connect(server) as ph, ph.dashboards.stream_tiles(dashboard) as stream:
            assert isinstance(await stream.__anext__(), pda.MetadataEvent)
            first = asyncio.create_task(stream.__anext__())
            await asyncio.sleep(0.05)  # the first task now waits for the next tile
            with pytest.raises(pda.ClientStateError, match="already being read"):
                await stream.__anext__()
            assert isinstance(await first, pda.TileEvent)
            # One reader at a time, not one task for ever: reading on from here works.
            assert isinstance(await stream.__anext__(), pda.TileEvent)
