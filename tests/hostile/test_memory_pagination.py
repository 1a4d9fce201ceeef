"""``dashboards.iter()`` against a server whose ``count`` lies: planning is lazy, prefetch is
bounded by ``max_concurrency``, and pages that bring nothing new end the iteration."""

from __future__ import annotations

import tracemalloc
from urllib.parse import parse_qs, urlsplit

from _leaks import KEY
from _scripted import Request, ScriptedServer, http

import posthog_dash_async as pda
from posthog_dash_async._pagination import EMPTY_RUN_LIMIT

HUGE = 10**15
WINDOW = 4


def offset_of(request: Request) -> int:
    query = parse_qs(urlsplit(request.target).query)
    return int(query.get("offset", ["0"])[0])


def page(server_url: str, offset: int, ids: list[int], count: int = HUGE) -> bytes:
    return http(
        200,
        {
            "count": count,
            "next": f"{server_url}/api/projects/42/dashboards/?limit=2&offset={offset + 2}"
            if offset + 2 < count
            else None,
            "previous": None,
            "results": [{"id": i, "name": f"d{i}"} for i in ids],
        },
    )


def client(server: ScriptedServer) -> pda.AsyncPostHog:
    return pda.AsyncPostHog(
        api_key=KEY,
        host=server.url,
        project_id=42,
        rate_limit=None,
        max_retries=0,
        max_concurrency=WINDOW,
    )


async def test_a_count_of_10_to_the_15_costs_nothing_until_consumed_and_empty_pages_end_it() -> (
    None
):
    # Attack: the first page claims 10**15 dashboards, every later page is empty. Before,
    # every offset was planned up front (a list of 5 * 10**14 ints) and then fetched.
    server = ScriptedServer(
        lambda r: [page(server.url, offset_of(r), [1, 2] if offset_of(r) == 0 else [])]
    )
    async with server, client(server) as ph:
        tracemalloc.start()
        try:
            items = ph.dashboards.iter(page_size=2)
            first = await anext(items)
            assert len(server.requests) == 1  # nothing planned is fetched yet
            rest = [d.id async for d in items]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert [first.id, *rest] == [1, 2]
    # The first page, a window of prefetched pages, and one more fetch started as each
    # empty page of the run was taken: EMPTY_RUN_LIMIT empty pages end it.
    assert len(server.requests) <= 1 + WINDOW + EMPTY_RUN_LIMIT
    assert peak < 2 * 2**20


async def test_pages_repeating_the_same_items_end_the_iteration() -> None:
    # Attack: every offset answers with the same two dashboards.
    server = ScriptedServer(lambda r: [page(server.url, offset_of(r), [1, 2])])
    async with server, client(server) as ph:
        ids = [d.id async for d in ph.dashboards.iter(page_size=2)]
    assert ids == [1, 2]
    assert len(server.requests) <= 1 + WINDOW + EMPTY_RUN_LIMIT


async def test_an_honest_server_is_still_read_to_the_end() -> None:
    # Pages with new items keep it going, an empty page in the middle alone does not stop it.
    def answer(r: Request) -> list[bytes]:
        offset = offset_of(r)
        ids = [] if offset == 4 else [offset + 1, offset + 2]
        return [page(server.url, offset, ids, count=10)]

    server = ScriptedServer(answer)
    async with server, client(server) as ph:
        ids = [d.id async for d in ph.dashboards.iter(page_size=2)]
    assert ids == [1, 2, 3, 4, 7, 8, 9, 10]


async def test_prefetch_never_runs_more_than_max_concurrency_pages_ahead() -> None:
    server = ScriptedServer(lambda r: [page(server.url, offset_of(r), [offset_of(r) + 1])])
    async with server, client(server) as ph:
        items = ph.dashboards.iter(page_size=1)
        taken = [(await anext(items)).id for _ in range(3)]
        await items.aclose()
    assert taken == [1, 2, 3]
    # The first page, the two consumed after it, and at most a window in flight.
    assert len(server.requests) <= 3 + WINDOW
