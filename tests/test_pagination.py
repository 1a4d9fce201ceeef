"""``dashboards.iter()`` against a loopback server that paginates like DRF's
LimitOffsetPagination, including servers that clamp, repeat, grow or fail."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import RecordingServer, make_client

import posthog_dash_async as pda


def _int(text: str | None, default: int, minimum: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if value >= minimum else default


class Listing:
    """``GET dashboards/`` over a mutable list of dashboards, paginated like DRF.

    ``clamp(request_number) -> int | None`` caps the page size; ``repeat`` ignores the offset
    (every page is the first, with the same ``next``); ``endless_next`` always sends a
    ``next`` link; ``after_request(n)`` runs after the n-th request (1-based) is answered;
    ``fail_offset`` answers that offset with a 500.
    """

    def __init__(
        self,
        n: int,
        *,
        delay: float = 0.0,
        clamp: Callable[[int], int | None] | None = None,
        repeat: bool = False,
        endless_next: bool = False,
        after_request: Callable[[int], None] | None = None,
        fail_offset: int | None = None,
    ) -> None:
        self.items: list[dict[str, Any]] = [make_item(i) for i in range(1, n + 1)]
        self.delay = delay
        self.clamp = clamp
        self.repeat = repeat
        self.endless_next = endless_next
        self.after_request = after_request
        self.fail_offset = fail_offset
        self.served = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.served += 1
        number = self.served
        query = request.rel_url.query
        limit = _int(query.get("limit"), 100, 1)
        offset = _int(query.get("offset"), 0, 0)
        if self.clamp is not None:
            cap = self.clamp(number)
            if cap is not None:
                limit = min(limit, cap)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_offset is not None and offset == self.fail_offset:
            return web.json_response(
                {"type": "server_error", "code": "error", "detail": "A server error occurred."},
                status=500,
            )
        if self.repeat:
            offset = 0
        count = len(self.items)
        results = self.items[offset : offset + limit]
        url = request.url
        next_url = None
        if self.repeat or self.endless_next or offset + limit < count:
            next_url = str(url.update_query(limit=limit, offset=offset + limit))
        previous = None
        if offset > 0:
            prev_query = {k: v for k, v in url.query.items() if k != "offset"}
            prev_query["limit"] = str(limit)
            if offset - limit > 0:
                prev_query["offset"] = str(offset - limit)
            previous = str(url.with_query(prev_query))
        body = {"count": count, "next": next_url, "previous": previous, "results": results}
        if self.after_request is not None:
            self.after_request(number)
        return web.json_response(body)


def make_item(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"Dashboard {i:05d}", "pinned": False, "tags": []}


async def collect(ph: pda.AsyncPostHog, **kwargs: Any) -> list[int]:
    ids: list[int] = []

    async def run() -> None:
        async for dashboard in ph.dashboards.iter(**kwargs):
            assert type(dashboard) is pda.DashboardSummary
            ids.append(dashboard.id)

    await asyncio.wait_for(run(), 20)  # a looping iterator fails instead of hanging
    return ids


def offsets_requested(recorder: RecordingServer) -> list[int]:
    return [int(dict(r.query).get("offset", "0")) for r in recorder.requests]


def sdk_tasks() -> list[asyncio.Task[Any]]:
    """Pending tasks running this SDK's code (the server's own tasks are left out)."""
    out = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and "posthog_dash_async" in code.co_filename:
            out.append(task)
    return out


async def settle() -> list[asyncio.Task[Any]]:
    for _ in range(200):
        if not sdk_tasks():
            break
        await asyncio.sleep(0.005)
    return sdk_tasks()


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250, 2000])
async def test_every_item_once_in_server_order(recorder: RecordingServer, n: int) -> None:
    recorder.handler = Listing(n)
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, n + 1))
    assert len(recorder.requests) == max(1, math.ceil(n / 100))
    assert sorted(offsets_requested(recorder)) == list(range(0, max(n, 1), 100))
    for seen in recorder.requests:
        assert seen.method == "GET"
        assert seen.path == "/api/projects/42/dashboards/"
        assert dict(seen.query)["limit"] == "100"
    assert "offset" not in dict(recorder.requests[0].query)


async def test_page_size_is_the_limit(recorder: RecordingServer) -> None:
    recorder.handler = Listing(95)
    async with make_client(recorder) as ph:
        assert await collect(ph, page_size=30) == list(range(1, 96))
    assert [dict(r.query)["limit"] for r in recorder.requests] == ["30"] * 4
    assert sorted(offsets_requested(recorder)) == [0, 30, 60, 90]


async def test_later_pages_are_fetched_concurrently(recorder: RecordingServer) -> None:
    recorder.handler = Listing(1000, delay=0.02)
    async with make_client(recorder, max_concurrency=4) as ph:
        assert await collect(ph) == list(range(1, 1001))
    # The whole prefetch window is in flight at once, and never more than the permits.
    assert recorder.max_in_flight == 4


async def test_single_permit_still_works(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250, delay=0.005)
    async with make_client(recorder, max_concurrency=1) as ph:
        assert await collect(ph) == list(range(1, 251))
    assert recorder.max_in_flight == 1


async def test_server_that_clamps_the_limit(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250, clamp=lambda _: 30)
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, 251))
    assert len(recorder.requests) <= math.ceil(250 / 30) + 1
    assert len(set(offsets_requested(recorder))) == len(recorder.requests)


async def test_server_that_clamps_harder_on_later_pages(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250, clamp=lambda number: 30 if number == 1 else 20)
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, 251))
    assert len(recorder.requests) < 60


async def test_next_that_repeats_the_same_page(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250, repeat=True)
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, 101))
    assert len(recorder.requests) <= 5


async def test_next_that_never_ends(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250, endless_next=True)
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, 251))
    assert len(recorder.requests) <= 5


async def test_count_that_grows_during_iteration(recorder: RecordingServer) -> None:
    listing = Listing(250)

    def grow(number: int) -> None:
        if number == 1:
            listing.items.extend(make_item(i) for i in range(251, 311))

    listing.after_request = grow
    recorder.handler = listing
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, 311))


async def test_count_that_grows_by_whole_pages(recorder: RecordingServer) -> None:
    listing = Listing(250)

    def grow(number: int) -> None:
        if number <= 3:
            start = len(listing.items) + 1
            listing.items.extend(make_item(i) for i in range(start, start + 150))

    listing.after_request = grow
    recorder.handler = listing
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert ids == list(range(1, len(listing.items) + 1))
    assert len(ids) == 700


async def test_rows_shifting_forward_are_not_repeated(recorder: RecordingServer) -> None:
    listing = Listing(250)

    def shift(number: int) -> None:
        if number == 1:
            # Ten new dashboards sort first: every later row moves ten places down.
            listing.items[:0] = [make_item(i) for i in range(1001, 1011)]

    listing.after_request = shift
    recorder.handler = listing
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert len(ids) == len(set(ids))
    assert set(range(1, 251)) <= set(ids)


async def test_rows_removed_during_iteration(recorder: RecordingServer) -> None:
    listing = Listing(250)

    def shrink(number: int) -> None:
        if number == 1:
            del listing.items[:10]

    listing.after_request = shrink
    recorder.handler = listing
    async with make_client(recorder) as ph:
        ids = await collect(ph, page_size=100)
    assert len(ids) == len(set(ids))
    assert set(ids) <= set(range(1, 251))
    assert ids[:100] == list(range(1, 101))


async def test_filters_are_sent_on_every_page(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250)
    async with make_client(recorder) as ph:
        ids = await collect(
            ph,
            tags=["growth", "board"],
            exclude_generated=True,
            creation_mode="template",
            search="weekly",
        )
    assert ids == list(range(1, 251))
    assert len(recorder.requests) == 3
    for seen in recorder.requests:
        query = seen.query
        assert [v for k, v in query if k == "tags"] == ["growth", "board"]
        assert ("exclude_generated", "true") in query
        assert ("creation_mode", "template") in query
        assert ("search", "weekly") in query
        assert ("limit", "100") in query
        assert sum(1 for k, _ in query if k == "limit") == 1
        assert sum(1 for k, _ in query if k == "offset") <= 1


async def test_break_with_aclosing_leaves_no_pending_task(
    recorder: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.handler = Listing(2000, delay=0.01)
    async with make_client(recorder, max_concurrency=4) as ph:
        seen = []
        async with contextlib.aclosing(ph.dashboards.iter()) as dashboards:
            async for dashboard in dashboards:
                seen.append(dashboard.id)
                if dashboard.id == 150:
                    break
        assert sdk_tasks() == []
        assert seen == list(range(1, 151))
        # The permits came back: a full set of concurrent calls still goes through.
        recorder.handler = Listing(1)
        await asyncio.wait_for(asyncio.gather(*(ph.dashboards.list() for _ in range(4))), 5)
    assert len(recorder.requests) < 20
    assert "Task was destroyed" not in caplog.text


async def test_plain_break_leaves_no_pending_task(
    recorder: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    recorder.handler = Listing(2000, delay=0.01)
    async with make_client(recorder, max_concurrency=4) as ph:
        async for dashboard in ph.dashboards.iter():
            if dashboard.id == 5:
                break
        gc.collect()
        assert await settle() == []
    assert "Task was destroyed" not in caplog.text


async def test_failing_page_raises_and_leaves_no_pending_task(recorder: RecordingServer) -> None:
    recorder.handler = Listing(1000, delay=0.005, fail_offset=300)
    ids: list[int] = []
    async with make_client(recorder, max_concurrency=4) as ph:

        async def consume() -> None:
            async with contextlib.aclosing(ph.dashboards.iter()) as dashboards:
                async for dashboard in dashboards:
                    ids.append(dashboard.id)

        with pytest.raises(pda.ServerError):
            await consume()
        assert await settle() == []
    assert ids == list(range(1, 301))


async def test_list_follows_nothing_by_itself(recorder: RecordingServer) -> None:
    recorder.handler = Listing(250)
    async with make_client(recorder) as ph:
        page = await ph.dashboards.list(limit=100, offset=100)
    assert page.count == 250
    assert [d.id for d in page.results] == list(range(101, 201))
    assert page.next is not None
    assert page.next.endswith("offset=200")
    assert page.previous is not None
    assert "offset" not in page.previous
    assert len(recorder.requests) == 1
