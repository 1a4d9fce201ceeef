"""The contenders: one class per HTTP client stack, each driving the same workloads.

* (a) ``aiohttp_json``     raw aiohttp + ``json.loads``
* (b) ``aiohttp_msgspec``  raw aiohttp + msgspec Structs — the floor
* (c) ``httpx_pydantic``   httpx.AsyncClient + pydantic v2 (the Stainless-generated SDK stack)
* (d) ``sse_client``       aiohttp-sse-client ``EventSource`` (stream workloads only)
* (s) ``sdk``              posthog_dash_async through its public API

Every contender counts what it decoded so the harness can check that all of them did the same
work; none keeps decoded tiles of a stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import floor_models as fm
from sse import FastSplitter, LineDecoder

if TYPE_CHECKING:  # imported lazily so that a stream worker loads only its own stack
    import httpx

API_KEY = "phx_bench"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SSE_ACCEPT = {**AUTH, "Accept": "text/event-stream, application/json"}

OnFirst = Callable[[], None]


class ContenderError(RuntimeError):
    """A contender returned something other than what the server sent."""


class Contender:
    """Base class: ``open``/``close`` bracket a measured block; workloads are coroutines."""

    key: ClassVar[str]
    label: ClassVar[str]
    streams_only: ClassVar[bool] = False

    def __init__(self, base_url: str, project_id: int = 42) -> None:
        self.base_url = base_url
        self.project_id = project_id
        self.api = f"{base_url}/api/projects/{project_id}"

    async def open(self, concurrency: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def get_dashboard(self, dashboard_id: int) -> int:
        """Fetch and decode one dashboard; returns its tile count."""
        raise NotImplementedError

    async def get_sharing(self, dashboard_id: int) -> bool:
        """Fetch and decode the (tiny) sharing configuration; returns ``enabled``."""
        raise NotImplementedError

    async def list_sequential(self, page_size: int) -> int:
        """Every dashboard, following ``next`` one page at a time; returns the item count."""
        raise NotImplementedError

    async def list_concurrent(self, page_size: int, concurrency: int) -> int:
        """First page, then the remaining pages at once (limit/offset); returns the item count."""
        raise NotImplementedError

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        """Consume ``stream_tiles``, calling ``on_first`` at the first decoded event.

        Returns the number of tiles seen (metadata tiles + tile events); keeps none of them.
        """
        raise NotImplementedError


def _check_status(status: int, url: object) -> None:
    if status != 200:
        raise ContenderError(f"HTTP {status} for {url}")


async def _gather_pages(
    fetch: Callable[[int], Any], first_count: int, page_size: int, concurrency: int
) -> list[Any]:
    """Fetch offsets ``page_size, 2*page_size, ...`` below ``first_count`` through a semaphore."""
    sem = asyncio.Semaphore(concurrency)

    async def one(offset: int) -> Any:
        async with sem:
            return await fetch(offset)

    return await asyncio.gather(*(one(o) for o in range(page_size, first_count, page_size)))


class _AiohttpBase(Contender):
    """Raw aiohttp with a ``limit=concurrency`` connector; subclasses choose the JSON decoder."""

    session: aiohttp.ClientSession

    async def open(self, concurrency: int) -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        self.session = aiohttp.ClientSession(connector=connector, headers=AUTH)

    async def close(self) -> None:
        await self.session.close()

    async def _get(self, url: str, params: dict[str, int] | None = None) -> bytes:
        async with self.session.get(url, params=params) as resp:
            _check_status(resp.status, url)
            return await resp.read()


class AiohttpJson(_AiohttpBase):
    key = "a"
    label = "aiohttp + json.loads"

    async def get_dashboard(self, dashboard_id: int) -> int:
        body = json.loads(await self._get(f"{self.api}/dashboards/{dashboard_id}/"))
        return len(body["tiles"])

    async def get_sharing(self, dashboard_id: int) -> bool:
        body = json.loads(await self._get(f"{self.api}/dashboards/{dashboard_id}/sharing/"))
        return bool(body["enabled"])

    async def list_sequential(self, page_size: int) -> int:
        url: str | None = f"{self.api}/dashboards/?limit={page_size}"
        total = 0
        while url is not None:
            page = json.loads(await self._get(url))
            total += len(page["results"])
            url = page["next"]
        return total

    async def list_concurrent(self, page_size: int, concurrency: int) -> int:
        url = f"{self.api}/dashboards/"
        first = json.loads(await self._get(url, {"limit": page_size}))

        async def fetch(offset: int) -> Any:
            return json.loads(await self._get(url, {"limit": page_size, "offset": offset}))

        rest = await _gather_pages(fetch, first["count"], page_size, concurrency)
        return len(first["results"]) + sum(len(p["results"]) for p in rest)

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        url = f"{self.api}/dashboards/{dashboard_id}/stream_tiles/"
        tiles = 0
        first = True
        splitter = FastSplitter()
        async with self.session.get(url, headers=SSE_ACCEPT) as resp:
            _check_status(resp.status, url)
            async for chunk in resp.content.iter_any():
                for data in splitter.feed(chunk):
                    event = json.loads(data)
                    if first:
                        on_first()
                        first = False
                    kind = event["type"]
                    if kind == "tile":
                        tiles += 1
                    elif kind == "metadata":
                        tiles += len(event["dashboard"]["tiles"])
                    elif kind == "complete":
                        return tiles
        raise ContenderError("stream ended without complete")


class AiohttpMsgspec(_AiohttpBase):
    key = "b"
    label = "aiohttp + msgspec (floor)"

    async def get_dashboard(self, dashboard_id: int) -> int:
        body = await self._get(f"{self.api}/dashboards/{dashboard_id}/")
        return len(fm.DASHBOARD_DECODER.decode(body).tiles)

    async def get_sharing(self, dashboard_id: int) -> bool:
        body = await self._get(f"{self.api}/dashboards/{dashboard_id}/sharing/")
        return fm.SHARING_DECODER.decode(body).enabled

    async def list_sequential(self, page_size: int) -> int:
        url: str | None = f"{self.api}/dashboards/?limit={page_size}"
        total = 0
        while url is not None:
            page = fm.PAGE_DECODER.decode(await self._get(url))
            total += len(page.results)
            url = page.next
        return total

    async def list_concurrent(self, page_size: int, concurrency: int) -> int:
        url = f"{self.api}/dashboards/"
        first = fm.PAGE_DECODER.decode(await self._get(url, {"limit": page_size}))

        async def fetch(offset: int) -> fm.Page:
            body = await self._get(url, {"limit": page_size, "offset": offset})
            return fm.PAGE_DECODER.decode(body)

        rest = await _gather_pages(fetch, first.count, page_size, concurrency)
        return len(first.results) + sum(len(p.results) for p in rest)

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        url = f"{self.api}/dashboards/{dashboard_id}/stream_tiles/"
        decode = fm.EVENT_DECODER.decode
        tiles = 0
        first = True
        splitter = FastSplitter()
        async with self.session.get(url, headers=SSE_ACCEPT) as resp:
            _check_status(resp.status, url)
            async for chunk in resp.content.iter_any():
                for data in splitter.feed(chunk):
                    event = decode(data)
                    if first:
                        on_first()
                        first = False
                    if type(event) is fm.TileEvent:
                        tiles += 1
                    elif type(event) is fm.MetadataEvent:
                        tiles += len(event.dashboard.tiles)
                    elif type(event) is fm.CompleteEvent:
                        return tiles
        raise ContenderError("stream ended without complete")


class HttpxPydantic(Contender):
    key = "c"
    label = "httpx + pydantic v2"

    client: httpx.AsyncClient
    pm: Any

    async def open(self, concurrency: int) -> None:
        import httpx
        import pydantic_models

        self.pm = pydantic_models
        # The connection limits of openai-python (a Stainless-generated SDK).
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        self.client = httpx.AsyncClient(limits=limits, headers=AUTH, timeout=60.0)

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, url: str, params: dict[str, int] | None = None) -> bytes:
        resp = await self.client.get(url, params=params)
        _check_status(resp.status_code, url)
        return resp.content

    async def get_dashboard(self, dashboard_id: int) -> int:
        body = await self._get(f"{self.api}/dashboards/{dashboard_id}/")
        return len(self.pm.Dashboard.model_validate_json(body).tiles)

    async def get_sharing(self, dashboard_id: int) -> bool:
        body = await self._get(f"{self.api}/dashboards/{dashboard_id}/sharing/")
        return self.pm.SharingConfiguration.model_validate_json(body).enabled

    async def list_sequential(self, page_size: int) -> int:
        url: str | None = f"{self.api}/dashboards/?limit={page_size}"
        total = 0
        while url is not None:
            page = self.pm.Page.model_validate_json(await self._get(url))
            total += len(page.results)
            url = page.next
        return total

    async def list_concurrent(self, page_size: int, concurrency: int) -> int:
        url = f"{self.api}/dashboards/"
        first = self.pm.Page.model_validate_json(await self._get(url, {"limit": page_size}))

        async def fetch(offset: int) -> Any:
            body = await self._get(url, {"limit": page_size, "offset": offset})
            return self.pm.Page.model_validate_json(body)

        rest = await _gather_pages(fetch, first.count, page_size, concurrency)
        return len(first.results) + sum(len(p.results) for p in rest)

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        url = f"{self.api}/dashboards/{dashboard_id}/stream_tiles/"
        validate = self.pm.EVENT_ADAPTER.validate_json
        tiles = 0
        first = True
        decoder = LineDecoder()
        async with self.client.stream("GET", url, headers=SSE_ACCEPT) as resp:
            _check_status(resp.status_code, url)
            async for chunk in resp.aiter_bytes():
                for data in decoder.feed(chunk):
                    event = validate(data)
                    if first:
                        on_first()
                        first = False
                    if isinstance(event, self.pm.TileEvent):
                        tiles += 1
                    elif isinstance(event, self.pm.MetadataEvent):
                        tiles += len(event.dashboard.tiles)
                    elif isinstance(event, self.pm.CompleteEvent):
                        return tiles
        raise ContenderError("stream ended without complete")


class SseClient(Contender):
    """aiohttp-sse-client, decoding each event with the floor's msgspec Structs."""

    key = "d"
    label = "aiohttp-sse-client + msgspec"
    streams_only = True

    session: aiohttp.ClientSession

    async def open(self, concurrency: int) -> None:
        connector = aiohttp.TCPConnector(limit=concurrency)
        self.session = aiohttp.ClientSession(connector=connector, headers=AUTH)

    async def close(self) -> None:
        await self.session.close()

    async def get_sharing(self, dashboard_id: int) -> bool:
        # Used only to warm the connection up before a stream is measured.
        url = f"{self.api}/dashboards/{dashboard_id}/sharing/"
        async with self.session.get(url) as resp:
            _check_status(resp.status, url)
            return fm.SHARING_DECODER.decode(await resp.read()).enabled

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        url = f"{self.api}/dashboards/{dashboard_id}/stream_tiles/"
        decode = fm.EVENT_DECODER.decode
        tiles = 0
        first = True
        from aiohttp_sse_client.client import EventSource

        # EventSource reconnects after the server's normal close, so stop at "complete".
        async with EventSource(url, session=self.session, headers=dict(AUTH)) as source:
            async for message in source:
                event = decode(message.data)
                if first:
                    on_first()
                    first = False
                if type(event) is fm.TileEvent:
                    tiles += 1
                elif type(event) is fm.MetadataEvent:
                    tiles += len(event.dashboard.tiles)
                elif type(event) is fm.CompleteEvent:
                    return tiles
        raise ContenderError("stream ended without complete")


class Sdk(Contender):
    """posthog_dash_async, public API only.

    ``coalesce=False``: the per-request rows send every request, as the floor does (the
    workers of a row all ask for the same URL, which coalescing would send once). The
    default configuration is contender ``v`` (:class:`SdkShared`).
    """

    key = "s"
    label = "posthog_dash_async (SDK)"
    coalesce = False

    ph: Any
    pda: Any

    async def open(self, concurrency: int) -> None:
        import posthog_dash_async as pda

        self.pda = pda
        self.ph = pda.AsyncPostHog(
            api_key=API_KEY,
            host=self.base_url,
            project_id=self.project_id,
            max_concurrency=concurrency,
            rate_limit=None,
            max_retries=0,
            coalesce=self.coalesce,
        )
        await self.ph.__aenter__()

    async def close(self) -> None:
        await self.ph.__aexit__(None, None, None)

    async def get_dashboard(self, dashboard_id: int) -> int:
        return len((await self.ph.dashboards.get(dashboard_id)).tiles)

    async def get_sharing(self, dashboard_id: int) -> bool:
        return bool((await self.ph.dashboards.sharing.get(dashboard_id)).enabled)

    async def list_iter(self, page_size: int) -> int:
        return len([d async for d in self.ph.dashboards.iter(page_size=page_size)])

    async def stream(self, dashboard_id: int, on_first: OnFirst) -> int:
        pda = self.pda
        tiles = 0
        first = True
        completed = False
        async with self.ph.dashboards.stream_tiles(dashboard_id) as stream:
            async for event in stream:
                if first:
                    on_first()
                    first = False
                if isinstance(event, pda.TileEvent):
                    tiles += 1
                elif isinstance(event, pda.MetadataEvent):
                    tiles += len(event.dashboard.tiles)
                elif isinstance(event, pda.CompleteEvent):
                    completed = True
        if not completed:
            raise ContenderError("stream ended without complete")
        return tiles


class SdkShared(Sdk):
    """posthog_dash_async as configured by default: identical GETs in flight coalesced,
    identical tile streams shared."""

    key = "v"
    label = "posthog_dash_async, coalesce=True (default)"
    coalesce = True


ALL: dict[str, type[Contender]] = {
    c.key: c for c in (AiohttpJson, AiohttpMsgspec, HttpxPydantic, SseClient, Sdk, SdkShared)
}


def sdk_status() -> str | None:
    """None when the SDK imports and exposes ``AsyncPostHog``; otherwise why it is skipped."""
    try:
        import posthog_dash_async as pda
    except Exception as exc:
        return f"import posthog_dash_async failed: {type(exc).__name__}: {exc}"
    if not hasattr(pda, "AsyncPostHog"):
        return "posthog_dash_async has no AsyncPostHog yet"
    return None
