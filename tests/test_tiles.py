"""``ph.dashboards.tiles``: the exact bytes each tile action sends (aioresponses), the model
it returns, and arguments refused before anything is sent."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses
from conftest import API_KEY, CannedResponse, load_fixture

import posthog_dash_async as pda

HOST = "https://us.posthog.com"
BASE = f"{HOST}/api/projects/42/dashboards/"
CANNED: dict[str, Any] = {"response_class": CannedResponse}


def text_tile(tile_id: int = 9100, body: str = "# Notes", **extra: Any) -> dict[str, Any]:
    return {
        "id": tile_id,
        "insight": None,
        "text": {"id": 77, "body": body, "last_modified_at": "2026-01-01T00:00:00Z"},
        "button_tile": None,
        "widget": None,
        "layouts": {},
        "color": None,
        **extra,
    }


@pytest.fixture
def detail() -> dict[str, Any]:
    return load_fixture("dashboard_detail.json")


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


def sent(mocked: aioresponses, method: str, url: str) -> list[bytes | None]:
    """The bodies of every ``method url`` request, in order."""
    for (m, u), calls in mocked.requests.items():
        if m == method and str(u) == url:
            return [c.kwargs.get("data") for c in calls]
    return []


def all_calls(mocked: aioresponses) -> int:
    return sum(len(calls) for calls in mocked.requests.values())


# --- copy -------------------------------------------------------------------------------


async def test_copy_sends_camel_case_ids_to_the_destination(
    mocked: aioresponses, ph: pda.AsyncPostHog, detail: dict[str, Any]
) -> None:
    destination = {**detail, "id": 415}
    mocked.post(f"{BASE}415/copy_tile/", payload=destination, **CANNED)
    dashboard = await ph.dashboards.tiles.copy(415, 9001, from_dashboard=412)
    assert sent(mocked, "POST", f"{BASE}415/copy_tile/") == [
        b'{"fromDashboardId":412,"tileId":9001}'
    ]
    assert type(dashboard) is pda.Dashboard
    assert dashboard.id == 415


# --- reorder ----------------------------------------------------------------------------


async def test_reorder_sends_tile_order(
    mocked: aioresponses, ph: pda.AsyncPostHog, detail: dict[str, Any]
) -> None:
    mocked.post(f"{BASE}412/reorder_tiles/", payload=detail, **CANNED)
    mocked.post(f"{BASE}412/reorder_tiles/", payload=detail, **CANNED)
    first = await ph.dashboards.tiles.reorder(412, [9003, 9001, 9002])
    await ph.dashboards.tiles.reorder(412, (9002,), layout="two_column")
    assert sent(mocked, "POST", f"{BASE}412/reorder_tiles/") == [
        b'{"tile_order":[9003,9001,9002]}',
        b'{"tile_order":[9002],"layout":"two_column"}',
    ]
    assert type(first) is pda.Dashboard
    assert [t.id for t in first.tiles] == [9001, 9002, 9003]


# --- create_text ------------------------------------------------------------------------


async def test_create_text_sends_body_color_and_checked_layouts(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    answer = text_tile(layouts={"sm": {"x": 0, "y": 5, "w": 6, "h": 2}}, color="blue")
    mocked.post(f"{BASE}412/create_text_tile/", status=201, payload=answer, **CANNED)
    mocked.post(f"{BASE}412/create_text_tile/", status=201, payload=text_tile(), **CANNED)
    tile = await ph.dashboards.tiles.create_text(
        412,
        "# Notes",
        color="blue",
        layouts={"sm": pda.TileLayout(0, 5, 6, 2), "xs": {"x": 0, "y": 9, "w": 1, "h": 2}},
    )
    bare = await ph.dashboards.tiles.create_text(412, "# Notes")
    assert sent(mocked, "POST", f"{BASE}412/create_text_tile/") == [
        b'{"body":"# Notes","color":"blue","layouts":'
        b'{"sm":{"x":0,"y":5,"w":6,"h":2},"xs":{"x":0,"y":9,"w":1,"h":2}}}',
        b'{"body":"# Notes"}',
    ]
    assert type(tile) is pda.Tile
    assert tile.kind == "text"
    assert tile.text is not None
    assert tile.text.body == "# Notes"
    assert tile.color == "blue"
    assert tile.layout("sm") == pda.Layout(x=0, y=5, w=6, h=2)
    assert bare.id == 9100


async def test_create_text_color_none_is_sent_as_null(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    mocked.post(f"{BASE}412/create_text_tile/", status=201, payload=text_tile(), **CANNED)
    await ph.dashboards.tiles.create_text(412, "x", color=None)
    assert sent(mocked, "POST", f"{BASE}412/create_text_tile/") == [b'{"body":"x","color":null}']


# --- update -----------------------------------------------------------------------------


async def test_update_with_body_uses_update_text_tile(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    mocked.post(
        f"{BASE}412/update_text_tile/", payload=text_tile(body="## New", color=""), **CANNED
    )
    tile = await ph.dashboards.tiles.update(412, 9100, body="## New", color="")
    assert sent(mocked, "POST", f"{BASE}412/update_text_tile/") == [
        b'{"tile_id":9100,"body":"## New","color":""}'
    ]
    assert type(tile) is pda.Tile
    assert tile.text is not None
    assert tile.text.body == "## New"
    assert all_calls(mocked) == 1


async def test_update_without_body_patches_tiles_and_returns_that_tile(
    mocked: aioresponses, ph: pda.AsyncPostHog, detail: dict[str, Any]
) -> None:
    answer = copy.deepcopy(detail)
    answer["tiles"][1]["color"] = "green"
    answer["tiles"][1]["layouts"] = {"sm": {"x": 6, "y": 0, "w": 6, "h": 5}}
    mocked.patch(f"{BASE}412/", payload=answer, **CANNED)
    tile = await ph.dashboards.tiles.update(
        412, 9002, color="green", layouts={"sm": {"x": 6, "y": 0, "w": 6, "h": 5}}
    )
    assert sent(mocked, "PATCH", f"{BASE}412/") == [
        b'{"tiles":[{"id":9002,"color":"green","layouts":{"sm":{"x":6,"y":0,"w":6,"h":5}}}]}'
    ]
    assert type(tile) is pda.Tile
    assert tile.id == 9002
    assert tile.kind == "insight"
    assert tile.color == "green"


async def test_update_of_a_tile_missing_from_the_answer_raises_not_found(
    mocked: aioresponses, ph: pda.AsyncPostHog, detail: dict[str, Any]
) -> None:
    mocked.patch(f"{BASE}412/", payload=detail, **CANNED)
    with pytest.raises(pda.NotFoundError) as info:
        await ph.dashboards.tiles.update(412, 5555, color="red")
    assert "5555" in str(info.value)
    assert API_KEY not in str(info.value)


async def test_update_of_a_non_text_tile_body_raises_the_servers_400(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    error = {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Tile is not a text tile.",
        "attr": None,
    }
    mocked.post(f"{BASE}412/update_text_tile/", status=400, payload=error, **CANNED)
    with pytest.raises(pda.BadRequestError) as info:
        await ph.dashboards.tiles.update(412, 9001, body="text")
    assert info.value.detail == "Tile is not a text tile."


# --- delete -----------------------------------------------------------------------------


async def test_delete_sends_tile_id_and_returns_none(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    mocked.post(f"{BASE}412/delete_tile/", status=204, body=b"", **CANNED)
    assert await ph.dashboards.tiles.delete(412, 9002) is None
    assert sent(mocked, "POST", f"{BASE}412/delete_tile/") == [b'{"tile_id":9002}']


async def test_delete_twice_raises_not_found(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.post(
        f"{BASE}412/delete_tile/",
        status=404,
        payload={"type": "invalid_request", "code": "not_found", "detail": "Not found."},
        **CANNED,
    )
    with pytest.raises(pda.NotFoundError):
        await ph.dashboards.tiles.delete(412, 9002)


# --- TileLayout -------------------------------------------------------------------------


def test_tile_layout_is_positional_and_frozen() -> None:
    layout = pda.TileLayout(1, 2, 3, 4)
    assert (layout.x, layout.y, layout.w, layout.h) == (1, 2, 3, 4)
    assert layout == pda.TileLayout(x=1, y=2, w=3, h=4)
    assert layout.to_dict() == {"x": 1, "y": 2, "w": 3, "h": 4}
    with pytest.raises(AttributeError):
        layout.x = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "args",
    [(-1, 0, 6, 5), (0, -1, 6, 5), (0, 0, 0, 5), (0, 0, 6, 0), (True, 0, 6, 5), (0.5, 0, 6, 5)],
)
def test_tile_layout_refuses_impossible_values(args: tuple[Any, ...]) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        pda.TileLayout(*args)


# --- nothing is sent on bad input --------------------------------------------------------

Call = Callable[[pda.AsyncPostHog], Awaitable[Any]]

BAD_CALLS: dict[str, Call] = {
    "copy: bad destination": lambda ph: ph.dashboards.tiles.copy(0, 1, from_dashboard=2),
    "copy: bad tile": lambda ph: ph.dashboards.tiles.copy(1, True, from_dashboard=2),
    "copy: bad source": lambda ph: ph.dashboards.tiles.copy(1, 1, from_dashboard="2"),  # type: ignore[arg-type]
    "copy: same dashboard": lambda ph: ph.dashboards.tiles.copy(1, 1, from_dashboard=1),
    "reorder: empty": lambda ph: ph.dashboards.tiles.reorder(1, []),
    "reorder: repeated": lambda ph: ph.dashboards.tiles.reorder(1, [3, 4, 3]),
    "reorder: not a list": lambda ph: ph.dashboards.tiles.reorder(1, "34"),  # type: ignore[arg-type]
    "reorder: bad id": lambda ph: ph.dashboards.tiles.reorder(1, [3, 0]),
    "reorder: bad layout": lambda ph: ph.dashboards.tiles.reorder(1, [3], layout="grid"),  # type: ignore[arg-type]
    "create_text: empty body": lambda ph: ph.dashboards.tiles.create_text(1, ""),
    "create_text: blank body": lambda ph: ph.dashboards.tiles.create_text(1, "  \n"),
    "create_text: long body": lambda ph: ph.dashboards.tiles.create_text(1, "x" * 4001),
    "create_text: body not str": lambda ph: ph.dashboards.tiles.create_text(1, 5),  # type: ignore[arg-type]
    "create_text: long color": lambda ph: ph.dashboards.tiles.create_text(1, "x", color="c" * 401),
    "create_text: color not str": lambda ph: ph.dashboards.tiles.create_text(1, "x", color=3),  # type: ignore[arg-type]
    "layouts: sm off the grid": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": pda.TileLayout(8, 0, 6, 5)}
    ),
    "layouts: sm x too far": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": {"x": 12, "y": 0, "w": 1, "h": 1}}
    ),
    "layouts: sm too wide": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": {"x": 0, "y": 0, "w": 13, "h": 1}}
    ),
    "layouts: unknown breakpoint": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"lg": pda.TileLayout(0, 0, 6, 5)}
    ),
    "layouts: missing key": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": {"x": 0, "y": 0, "w": 6}}
    ),
    "layouts: unknown key": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": {"x": 0, "y": 0, "w": 6, "h": 5, "minW": 2}}
    ),
    "layouts: string number": lambda ph: ph.dashboards.tiles.create_text(
        1, "x", layouts={"sm": {"x": "0", "y": 0, "w": 6, "h": 5}}
    ),
    "layouts: negative y": lambda ph: ph.dashboards.tiles.update(
        1, 2, layouts={"xs": {"x": 0, "y": -1, "w": 1, "h": 5}}
    ),
    "layouts: not a dict": lambda ph: ph.dashboards.tiles.update(1, 2, layouts=[1, 2]),  # type: ignore[arg-type]
    "layouts: layout not a dict": lambda ph: ph.dashboards.tiles.update(1, 2, layouts={"sm": 5}),  # type: ignore[dict-item]
    "update: nothing": lambda ph: ph.dashboards.tiles.update(1, 2),
    "update: bad tile": lambda ph: ph.dashboards.tiles.update(1, -2, color="red"),
    "update: empty body": lambda ph: ph.dashboards.tiles.update(1, 2, body=""),
    "delete: bad tile": lambda ph: ph.dashboards.tiles.delete(1, None),  # type: ignore[arg-type]
    "delete: bad dashboard": lambda ph: ph.dashboards.tiles.delete(1.0, 2),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_send_nothing(
    mocked: aioresponses, ph: pda.AsyncPostHog, call: Call
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await call(ph)
    assert all_calls(mocked) == 0
