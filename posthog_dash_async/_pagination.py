"""``dashboards.iter()``: every page, fetched concurrently, yielded in server order once.

The first page tells the total (``count``) and the page size the server really used (it may
clamp ``limit``). The remaining pages are then requested by offset, at most
``max_concurrency`` ahead of the consumer, and yielded strictly in order. Guards:

- a page shorter than planned (the server clamped harder, or rows moved) is completed by
  fetching the gap, so no item is lost;
- items already yielded (rows that shifted between pages) are skipped by id;
- when more items exist than the first ``count`` said, the rest is read page by page until
  the server reports no ``next``, stopping if a ``next`` link repeats or a page brings
  nothing new, so a misbehaving server cannot make the loop spin;
- offsets are planned lazily (a first page claiming ``count=10**15`` costs nothing), and
  a run of pages that bring nothing new (empty, or only items already yielded) ends the
  iteration instead of fetching every offset the count promised.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar

from ._config import Timeout
from ._wire import plan_offsets
from .models import DashboardSummary, Page

if TYPE_CHECKING:
    from ._client import AsyncPostHog

__all__ = ["iterate_dashboards", "iterate_pages"]

log = logging.getLogger("posthog_dash_async")

#: Consecutive pages without a new item after which the count is taken to have been a lie.
EMPTY_RUN_LIMIT = 2


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


ItemT = TypeVar("ItemT", bound=_HasId)


def iterate_dashboards(
    client: AsyncPostHog,
    decode: Callable[[bytes], Page[DashboardSummary]],
    params: list[tuple[str, str]],
    page_size: int,
    timeout: Timeout | float | None,
) -> AsyncIterator[DashboardSummary]:
    return iterate_pages(client, "dashboards/", decode, params, page_size, timeout)


async def iterate_pages(
    client: AsyncPostHog,
    path: str,
    decode: Callable[[bytes], Page[ItemT]],
    params: list[tuple[str, str]],
    page_size: int,
    timeout: Timeout | float | None,
) -> AsyncIterator[ItemT]:
    """Every item of the limit/offset paginated list at ``path`` (items have an ``id``)."""
    filters = [(k, v) for k, v in params if k not in ("limit", "offset")]

    async def fetch(offset: int, limit: int) -> Page[ItemT]:
        query = [*filters, ("limit", str(limit))]
        if offset:
            query.append(("offset", str(offset)))
        return await client._call("GET", path, decode, params=query, timeout=timeout)

    seen: set[int] = set()

    def fresh(items: Iterable[ItemT]) -> list[ItemT]:
        out = []
        for item in items:
            if item.id not in seen:
                seen.add(item.id)
                out.append(item)
        return out

    first = await fetch(0, page_size)
    for item in fresh(first.results):
        yield item
    if first.next is None or not first.results:
        return

    step = len(first.results)
    if step < page_size:
        log.debug("server returned %d items for limit=%d; paging by %d", step, page_size, step)
    offsets = plan_offsets(first.count, 0, step)
    # At most this many pages are requested ahead of the consumer (and held decoded).
    window = max(1, client.max_concurrency)
    pending: deque[tuple[int, asyncio.Task[Page[ItemT]]]] = deque()
    planned = iter(offsets)
    position = step  # first offset not yet covered
    last = first
    empty_run = 0
    try:
        for offset in planned:
            pending.append((offset, asyncio.ensure_future(fetch(offset, step))))
            if len(pending) >= window:
                break
        while pending:
            offset, task = pending.popleft()
            next_offset = next(planned, None)
            if next_offset is not None:
                pending.append((next_offset, asyncio.ensure_future(fetch(next_offset, step))))
            page = await task
            last = page
            new = fresh(page.results)
            empty_run = 0 if new else empty_run + 1
            if empty_run >= EMPTY_RUN_LIMIT:
                log.debug(
                    "%d pages in a row brought nothing new at offset %d (count said %d): stopping",
                    empty_run,
                    offset,
                    first.count,
                )
                return
            for item in new:
                yield item
            got = len(page.results)
            expected = min(step, max(0, first.count - offset))
            # Fill a short page so that nothing between this page and the next is lost.
            while 0 < got < expected:
                gap = await fetch(offset + got, expected - got)
                if not gap.results:
                    break
                got += len(gap.results)
                for item in fresh(gap.results):
                    yield item
            position = offset + max(got, expected)
    finally:
        for _, task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(t for _, t in pending), return_exceptions=True)

    # More items than the first count promised: continue page by page, guarded.
    seen_next: set[str] = set()
    while last.next is not None and last.next not in seen_next:
        seen_next.add(last.next)
        page = await fetch(position, step)
        new = fresh(page.results)
        if not page.results or not new:
            return
        for item in new:
            yield item
        position += len(page.results)
        last = page
