"""``ph.insights``: the exact bytes each call sends (aioresponses), the typed ``Insight``
shared with the tile's insight, and arguments refused before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import msgspec
import pytest
from aioresponses import aioresponses
from conftest import API_KEY, CannedResponse, RecordingServer, load_fixture, make_client

import posthog_dash_async as pda

HOST = "https://us.posthog.com"
BASE = f"{HOST}/api/projects/42/insights/"
CANNED: dict[str, Any] = {"response_class": CannedResponse}
QUERY = {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}}


def insight(insight_id: int = 2301, **extra: Any) -> dict[str, Any]:
    """An insight as NEWEST serves it to a caller without ``include_dashboards``."""
    return {
        "id": insight_id,
        "short_id": "aZ3kP9qW",
        "name": "Weekly active users",
        "derived_name": None,
        "description": "",
        "query": QUERY,
        "tags": [],
        "favorited": False,
        "saved": True,
        "deleted": False,
        "created_at": "2026-01-02T03:04:05Z",
        "created_by": None,
        "last_modified_at": "2026-01-02T03:04:05Z",
        "last_modified_by": None,
        "dashboard_tiles": [
            {"id": 9001, "dashboard_id": 412, "deleted": False},
            {"id": 9050, "dashboard_id": 415, "deleted": True},
        ],
        "result": None,
        "hasMore": False,
        "columns": None,
        "last_refresh": None,
        "is_cached": False,
        "query_status": None,
        **extra,
    }


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def ph() -> AsyncIterator[pda.AsyncPostHog]:
    async with pda.AsyncPostHog(
        api_key=API_KEY, host=HOST, project_id=42, rate_limit=None, max_retries=0
    ) as client:
        yield client


def calls(mocked: aioresponses) -> list[tuple[str, str, bytes | None]]:
    return [
        (method, str(url), c.kwargs.get("data"))
        for (method, url), cs in mocked.requests.items()
        for c in cs
    ]


# --- the model --------------------------------------------------------------------------


def test_dashboards_come_from_live_tiles_when_not_served() -> None:
    model = msgspec.json.decode(msgspec.json.encode(insight()), type=pda.Insight)
    assert model.served_dashboards is None
    assert model.dashboards == [412]


def test_served_dashboards_win() -> None:
    model = msgspec.json.decode(
        msgspec.json.encode(insight(dashboards=[412, 420])), type=pda.Insight
    )
    assert model.served_dashboards == [412, 420]
    assert model.dashboards == [412, 420]


def test_the_tile_insight_is_the_same_model() -> None:
    detail = msgspec.json.decode(
        msgspec.json.encode(load_fixture("dashboard_detail.json")), type=pda.Dashboard
    )
    tile_insight = detail.tiles[0].insight
    assert type(tile_insight) is pda.Insight
    assert tile_insight.dashboards == [412]
    assert tile_insight.short_id == "aZ3kP9qW"


# --- create -----------------------------------------------------------------------------


async def test_create_sends_saved_true_and_only_given_fields(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    url = f"{BASE}?include_dashboards=true"
    mocked.post(url, status=201, payload=insight(), **CANNED)
    mocked.post(url, status=201, payload=insight(), **CANNED)
    created = await ph.insights.create(
        query=QUERY, name="Weekly active users", description="", dashboards=[412, 412], tags=["kpi"]
    )
    await ph.insights.create(query=QUERY)
    assert calls(mocked) == [
        (
            "POST",
            url,
            b'{"query":{"kind":"InsightVizNode","source":{"kind":"TrendsQuery","series":[]}},'
            b'"name":"Weekly active users","description":"","dashboards":[412],'
            b'"tags":["kpi"],"saved":true}',
        ),
        (
            "POST",
            url,
            b'{"query":{"kind":"InsightVizNode","source":{"kind":"TrendsQuery","series":[]}},'
            b'"saved":true}',
        ),
    ]
    assert type(created) is pda.Insight
    assert created.id == 2301
    assert created.dashboards == [412]


# --- get / update / delete --------------------------------------------------------------


async def test_get_by_pk_and_by_short_id(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.get(f"{BASE}2301/?include_dashboards=true", payload=insight(), **CANNED)
    mocked.get(f"{BASE}aZ3kP9qW/?include_dashboards=true", payload=insight(), **CANNED)
    assert (await ph.insights.get(2301)).id == 2301
    assert (await ph.insights.get("aZ3kP9qW")).short_id == "aZ3kP9qW"
    assert [(m, u) for m, u, _ in calls(mocked)] == [
        ("GET", f"{BASE}2301/?include_dashboards=true"),
        ("GET", f"{BASE}aZ3kP9qW/?include_dashboards=true"),
    ]


async def test_update_sends_only_given_fields(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    url = f"{BASE}2301/?include_dashboards=true"
    mocked.patch(url, payload=insight(dashboards=[]), **CANNED)
    mocked.patch(url, payload=insight(name=None), **CANNED)
    moved = await ph.insights.update(2301, dashboards=[])
    await ph.insights.update(2301, name=None, tags=[])
    assert calls(mocked) == [
        ("PATCH", url, b'{"dashboards":[]}'),
        ("PATCH", url, b'{"name":null,"tags":[]}'),
    ]
    assert moved.dashboards == []


async def test_delete_and_restore_are_soft(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.patch(f"{BASE}2301/", payload=insight(deleted=True), **CANNED)
    mocked.patch(f"{BASE}2301/", payload=insight(), **CANNED)
    deleted = await ph.insights.delete(2301)
    restored = await ph.insights.restore(2301)
    assert calls(mocked) == [
        ("PATCH", f"{BASE}2301/", b'{"deleted":true}'),
        ("PATCH", f"{BASE}2301/", b'{"deleted":false}'),
    ]
    assert deleted.deleted is True
    assert restored.deleted is False


# --- list / iter (query strings over a real socket) ----------------------------------------


async def test_list_sends_every_filter(recorder: RecordingServer) -> None:
    recorder.reply("GET", "insights/", json={"count": 1, "next": None, "results": [insight()]})
    async with make_client(recorder) as client:
        page = await client.insights.list(
            limit=10, offset=20, search="weekly users", saved=False, short_id="aZ3kP9qW"
        )
        await client.insights.list()
    first, bare = recorder.requests
    assert first.path == "/api/projects/42/insights/"
    assert first.query == [
        ("limit", "10"),
        ("offset", "20"),
        ("search", "weekly users"),
        ("saved", "false"),
        ("short_id", "aZ3kP9qW"),
    ]
    assert bare.query == []
    assert type(page) is pda.Page
    assert [type(i) for i in page.results] == [pda.Insight]


async def test_iter_reads_every_page_in_order(recorder: RecordingServer) -> None:
    items = [insight(i) for i in range(1, 8)]

    async def handler(request: Any) -> Any:
        from aiohttp import web

        limit = int(request.query["limit"])
        offset = int(request.query.get("offset", "0"))
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return web.json_response(
            {"count": len(items), "next": "more" if more else None, "results": page}
        )

    recorder.handler = handler
    async with make_client(recorder) as client:
        got = [i.id async for i in client.insights.iter(page_size=3, saved=True)]
    assert got == [1, 2, 3, 4, 5, 6, 7]
    assert all(("saved", "true") in r.query for r in recorder.requests)
    assert sorted(dict(r.query).get("offset", "0") for r in recorder.requests) == ["0", "3", "6"]


# --- nothing is sent on bad input --------------------------------------------------------

Call = Callable[[pda.AsyncPostHog], Awaitable[Any]]

BAD_CALLS: dict[str, Call] = {
    "create: no kind": lambda ph: ph.insights.create(query={"source": {}}),
    "create: empty query": lambda ph: ph.insights.create(query={}),
    "create: query not a dict": lambda ph: ph.insights.create(query="SELECT 1"),  # type: ignore[arg-type]
    "create: long name": lambda ph: ph.insights.create(query=QUERY, name="n" * 401),
    "create: name not str": lambda ph: ph.insights.create(query=QUERY, name=5),  # type: ignore[arg-type]
    "create: dashboards not ids": lambda ph: ph.insights.create(query=QUERY, dashboards=["1"]),  # type: ignore[list-item]
    "create: dashboards a str": lambda ph: ph.insights.create(query=QUERY, dashboards="12"),  # type: ignore[arg-type]
    "create: tags not strs": lambda ph: ph.insights.create(query=QUERY, tags=[1]),  # type: ignore[list-item]
    "create: query not JSON": lambda ph: ph.insights.create(query={"kind": "X", "v": object()}),
    "get: bool": lambda ph: ph.insights.get(True),
    "get: zero": lambda ph: ph.insights.get(0),
    "get: short id too short": lambda ph: ph.insights.get("abc"),
    "get: path trick": lambda ph: ph.insights.get("../12/ab"),
    "update: nothing": lambda ph: ph.insights.update(2301),
    "update: empty query": lambda ph: ph.insights.update(2301, query={}),
    "update: bad id": lambda ph: ph.insights.update(-1, name="x"),
    "delete: bad id": lambda ph: ph.insights.delete(None),  # type: ignore[arg-type]
    "list: bad limit": lambda ph: ph.insights.list(limit=0),
    "list: bad offset": lambda ph: ph.insights.list(offset=-1),
    "list: long search": lambda ph: ph.insights.list(search="s" * 201),
    "list: saved not bool": lambda ph: ph.insights.list(saved="yes"),  # type: ignore[arg-type]
    "list: bad short_id": lambda ph: ph.insights.list(short_id="a/b"),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_send_nothing(
    mocked: aioresponses, ph: pda.AsyncPostHog, call: Call
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await call(ph)
    assert calls(mocked) == []


def test_iter_checks_arguments_before_the_first_request() -> None:
    client = pda.AsyncPostHog(api_key=API_KEY, host=HOST, project_id=42)
    with pytest.raises(pda.InvalidArgumentError):
        client.insights.iter(page_size=0)
    with pytest.raises(pda.InvalidArgumentError):
        client.insights.iter(search=3)  # type: ignore[arg-type]
