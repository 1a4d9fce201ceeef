"""FakePostHog's 2026 defaults and new endpoints, over real sockets with raw HTTP.

What ``spec/posthog-2026.md`` and ``spec/posthog-2026-tiles-insights.md`` describe: merged
overrides, move_tile with ``to_dashboard``, search and folders, Retry-After, the stream's 503,
``widget``, 402 limits, the tile actions, run_insights, share passwords, templates, insights
and ``/api/users/@me/``. Every write is checked by reading the state back through the API
(``GET`` and the stream), not only by the answer to the write itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from posthog_dash_async.testing import FakePostHog, text_tile

STATE = {"date_from": "-30d"}  # dashboard 412's stored filters


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """Raw HTTP against a FakePostHog; relative paths are under ``/api/projects/42/``."""

    def __init__(self, server: FakePostHog, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        url = path if path.startswith("/") else f"/api/projects/42/{path}"
        headers = {"Authorization": f"Bearer {key or self.server.api_key}"}
        async with self.session.request(
            method, self.server.url + url, json=body, params=params, headers=headers
        ) as response:
            return Reply(response.status, response.headers, await response.read())

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, **kw)

    async def detail(self, dashboard_id: int) -> dict[str, Any]:
        reply = await self.get(f"dashboards/{dashboard_id}/")
        assert reply.status == 200
        result: dict[str, Any] = reply.json()
        return result

    async def stream(self, dashboard_id: int, **params: str) -> list[dict[str, Any]]:
        """The stream's events, tiles of the metadata and of tile events in one list."""
        reply = await self.get(f"dashboards/{dashboard_id}/stream_tiles/", params=params)
        assert reply.status == 200, reply.body
        events = [
            json.loads(line[6:]) for line in reply.body.split(b"\n") if line.startswith(b"data: ")
        ]
        assert events[-1] == {"type": "complete"}
        return events


def streamed_tiles(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tiles = list(events[0]["dashboard"]["tiles"])
    tiles += [e["tile"] for e in events if e["type"] == "tile"]
    return tiles


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, Any]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail}


def missing_scope(scope: str) -> dict[str, Any]:
    return {**denied(f"API key missing required scope '{scope}'"), "attr": None}


NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as running:
        yield running


@pytest.fixture
async def api(server: FakePostHog) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(server, session)


# --------------------------------------------------------------------------------------------
# overrides: merged, not replaced


async def test_filters_override_merges_over_the_stored_filters(api: Api) -> None:
    # ``interval`` is not stored: a merge keeps date_from, a replace would drop it.
    params = {"filters_override": json.dumps({"interval": "week"})}
    body = (await api.get("dashboards/412/", params=params)).json()
    assert body["filters"] == {"date_from": "-30d", "interval": "week"}
    assert body["persisted_filters"] == STATE
    # A key that is stored is replaced (top level only).
    params = {"filters_override": json.dumps({"date_from": "-7d"})}
    assert (await api.get("dashboards/412/", params=params)).json()["filters"] == {
        "date_from": "-7d"
    }
    events = await api.stream(412, filters_override=json.dumps({"interval": "week"}))
    assert events[0]["dashboard"]["filters"] == {"date_from": "-30d", "interval": "week"}
    # Nothing was saved.
    assert (await api.detail(412))["filters"] == STATE


async def test_variables_override_merges_too(api: Api, server: FakePostHog) -> None:
    server.add_dashboard("Vars", dashboard_id=700, variables={"a": {"value": 1}})
    params = {"variables_override": json.dumps({"b": {"value": 2}})}
    body = (await api.get("dashboards/700/", params=params)).json()
    assert body["variables"] == {"a": {"value": 1}, "b": {"value": 2}}
    params = {"variables_override": json.dumps({"a": {"code": "x"}})}
    # Nested values are not deep-merged: the top-level key is replaced whole.
    assert (await api.get("dashboards/700/", params=params)).json()["variables"] == {
        "a": {"code": "x"}
    }


async def test_replace_is_the_older_behaviour_behind_the_switch(
    api: Api, server: FakePostHog
) -> None:
    server.merge_overrides = False
    params = {"filters_override": json.dumps({"interval": "week"})}
    assert (await api.get("dashboards/412/", params=params)).json()["filters"] == {
        "interval": "week"
    }
    bad = {"filters_override": "{not json"}
    assert (await api.get("dashboards/412/", params=bad)).json()["filters"] == STATE


@pytest.mark.parametrize("name", ["filters_override", "variables_override"])
async def test_invalid_override_json_is_posthogs_400(api: Api, name: str) -> None:
    expected = invalid(f"Invalid JSON passed in {name} parameter", name)
    reply = await api.get("dashboards/412/", params={name: "{not json"})
    assert (reply.status, reply.json()) == (400, expected)
    reply = await api.get("dashboards/412/stream_tiles/", params={name: "[1,"})
    assert (reply.status, reply.json()) == (400, expected)


async def test_tile_filters_override_applies_to_that_tile_only(api: Api) -> None:
    value = json.dumps({"9002": {"date_from": "-90d"}})
    body = (await api.get("dashboards/412/", params={"tile_filters_override": value})).json()
    overrides = {t["id"]: t["filters_overrides"] for t in body["tiles"]}
    assert overrides == {9001: {}, 9002: {"date_from": "-90d"}, 9003: {}}
    events = await api.stream(412, tile_filters_override=value)
    assert {t["id"]: t["filters_overrides"] for t in streamed_tiles(events)} == overrides
    reply = await api.get("dashboards/412/", params={"tile_filters_override": "nope"})
    assert reply.json() == invalid(
        "Invalid JSON passed in tile_filters_override parameter", "tile_filters_override"
    )


# --------------------------------------------------------------------------------------------
# move_tile, search, folders, widget, Retry-After, the stream's 503, 402


async def test_move_tile_post_with_to_dashboard_and_the_write_scope(
    api: Api, server: FakePostHog
) -> None:
    writer = server.add_key(scopes=["dashboard:write"])
    reply = await api.post(
        "dashboards/412/move_tile/", {"tile": {"id": 9003}, "to_dashboard": 388}, key=writer
    )
    assert reply.status == 200
    assert [t["id"] for t in reply.json()["tiles"]] == [9001, 9002]
    assert 9003 in [t["id"] for t in (await api.detail(388))["tiles"]]
    reply = await api.patch("dashboards/388/move_tile/", {"tile": {"id": 9003}, "toDashboard": 412})
    assert (reply.status, reply.json()) == (
        400,
        invalid("This field is required.", "to_dashboard", "required"),
    )
    reader = server.add_key(scopes=["dashboard:read"])
    reply = await api.patch(
        "dashboards/388/move_tile/", {"tile": {"id": 9003}, "to_dashboard": 412}, key=reader
    )
    assert (reply.status, reply.json()) == (403, missing_scope("dashboard:write"))


async def test_search_keeps_exact_matches_else_similar_ones(api: Api) -> None:
    async def found(term: str) -> list[tuple[int, str]]:
        page = (await api.get("dashboards/", params={"search": term})).json()
        return [(d["id"], d["search_match_type"]) for d in page["results"]]

    assert await found("growth") == [(412, "exact")]
    # Name or description ("Weekly health of ..." on 412), case-insensitively.
    assert await found("WEEKLY") == [(412, "exact"), (388, "exact"), (401, "exact")]
    similar = await found("grwoth overveiw")
    assert (412, "similar") in similar
    assert all(kind == "similar" for _, kind in similar)
    assert await found("zzzzqqq") == []
    plain = (await api.get("dashboards/")).json()["results"]
    assert {d["search_match_type"] for d in plain} == {None}


async def test_folder_filter_and_folder_on_every_shape(api: Api, server: FakePostHog) -> None:
    server.add_dashboard("Filed", dashboard_id=701, folder="Team/Growth")
    server.add_dashboard("Elsewhere", dashboard_id=702, folder="Team")
    created = await api.post("dashboards/", {"name": "New", "_create_in_folder": "Team/Growth"})
    assert created.json()["folder"] == "Team/Growth"
    new_id = created.json()["id"]

    async def ids(folder: str) -> list[int]:
        page = (await api.get("dashboards/", params={"folder": folder})).json()
        return [d["id"] for d in page["results"]]

    assert await ids("Team/Growth") == [701, new_id]
    assert await ids("Team") == [702]
    assert 412 in await ids("")
    assert 701 not in await ids("")
    assert (await api.detail(701))["folder"] == "Team/Growth"
    events = await api.stream(701)
    assert events[0]["dashboard"]["folder"] == "Team/Growth"


async def test_every_tile_has_a_widget_key(api: Api, server: FakePostHog) -> None:
    assert {t["widget"] for t in (await api.detail(412))["tiles"]} == {None}
    widget = {"id": "0190a1b2-0000-7000-8000-00000000aaaa", "widget_type": "replay_list"}
    tile = server.add_tile(433, {"widget": widget, "layouts": {"sm": {"x": 0, "y": 0}}})
    assert tile["widget"] == widget
    (shown,) = (await api.detail(433))["tiles"]
    assert (shown["widget"], shown["insight"], shown["text"]) == (widget, None, None)


async def test_retry_after_on_429_by_default_and_switchable() -> None:
    async with FakePostHog(burst_limit=1) as server, aiohttp.ClientSession() as session:
        api = Api(server, session)
        assert (await api.get("dashboards/")).status == 200
        reply = await api.get("dashboards/")
        assert reply.status == 429
        seconds = reply.json()["detail"].split(" in ")[1].split(" ")[0]
        assert reply.headers["Retry-After"] == seconds
        server.retry_after_header = False
        reply = await api.get("dashboards/")
        assert reply.status == 429
        assert "Retry-After" not in reply.headers


async def test_overload_next_is_the_streams_503(api: Api, server: FakePostHog) -> None:
    server.overload_next(retry_after=33)
    server.overload_next()
    reply = await api.get("dashboards/412/stream_tiles/")
    assert (reply.status, reply.body, reply.headers["Retry-After"]) == (503, b"", "33")
    assert reply.headers["Cache-Control"] == "no-cache, no-transform"
    assert reply.headers["X-Accel-Buffering"] == "no"
    # A GET is not a stream: the fault waits for the next stream request.
    assert (await api.get("dashboards/412/")).status == 200
    reply = await api.get("dashboards/412/stream_tiles/")
    assert reply.status == 503
    assert 15 <= int(reply.headers["Retry-After"]) <= 44
    assert server.pending_faults() == 0
    assert (await api.get("dashboards/412/stream_tiles/")).status == 200


async def test_dashboard_limit_is_a_402_with_the_limit_data() -> None:
    async with FakePostHog(max_dashboards=9) as server, aiohttp.ClientSession() as session:
        api = Api(server, session)
        # The seed has 9 live dashboards in project 42 (470 is deleted).
        before = set(server.dashboards)
        reply = await api.post("dashboards/", {"name": "One too many"})
        assert reply.status == 402
        body = reply.json()
        request_id = body["extra"]["request"]["id"]
        assert body == {
            "type": "limit_exceeded",
            "code": "limit_exceeded",
            "detail": "Resource limit exceeded.",
            "attr": None,
            "extra": {
                "limit_key": "analytics.max_dashboards_per_team",
                "limit": 9,
                "current": 9,
                "request": {"id": request_id},
            },
        }
        assert set(server.dashboards) == before
        server.max_dashboards = 10
        assert (await api.post("dashboards/", {"name": "Fits"})).status == 201


async def test_tile_limit_is_a_402_too() -> None:
    async with (
        FakePostHog(max_tiles_per_dashboard=3) as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(server, session)
        reply = await api.post("dashboards/412/create_text_tile/", {"body": "fourth"})
        assert reply.status == 402
        assert reply.json()["extra"]["limit_key"] == "analytics.max_insights_per_dashboard"
        assert len((await api.detail(412))["tiles"]) == 3


# --------------------------------------------------------------------------------------------
# PATCH tiles (spec 1.1)


async def test_patch_tile_layouts_merge_per_breakpoint_and_are_checked(api: Api) -> None:
    body = (
        await api.patch("dashboards/412/", {"tiles": [{"id": 9002, "layouts": {"sm": {"y": 7}}}]})
    ).json()
    tile = next(t for t in body["tiles"] if t["id"] == 9002)
    assert {k: tile["layouts"]["sm"][k] for k in "xywh"} == {"x": 6, "y": 7, "w": 6, "h": 5}
    assert tile["layouts"]["xs"]["y"] == 5  # the other breakpoint is kept

    async def refused(layouts: Any) -> Any:
        reply = await api.patch("dashboards/412/", {"tiles": [{"id": 9002, "layouts": layouts}]})
        assert reply.status == 400
        return reply.json()

    assert await refused({"sm": {"x": 7}}) == invalid(
        "The tile must fit within the 12-column dashboard grid.", "layouts__sm"
    )
    assert (await refused({"sm": {"w": 0}}))["attr"] == "layouts__sm__w"
    assert (await refused({"sm": {"x": 12}}))["attr"] == "layouts__sm__x"
    assert (await refused("wide"))["attr"] == "layouts"
    text = {"text": {"body": "no grid"}, "layouts": {"xs": {"x": 0, "y": 0, "w": 1, "h": 1}}}
    reply = await api.patch("dashboards/412/", {"tiles": [text]})
    assert reply.json() == invalid("This field is required.", "layouts__sm", "required")
    # Nothing of the refused PATCHes was stored.
    tiles = (await api.detail(412))["tiles"]
    assert len(tiles) == 3
    assert next(t for t in tiles if t["id"] == 9002)["layouts"]["sm"]["x"] == 6


async def test_patch_tiles_entries_must_be_objects(api: Api) -> None:
    reply = await api.patch("dashboards/412/", {"tiles": ["9001"]})
    assert (reply.status, reply.json()["attr"]) == (400, "tiles")


# --------------------------------------------------------------------------------------------
# tile actions


async def test_create_text_tile_is_stored_and_streamed(api: Api) -> None:
    layouts = {"sm": {"x": 0, "y": 9, "w": 12, "h": 2}}
    reply = await api.post(
        "dashboards/412/create_text_tile/",
        {"body": "## Notes", "color": "blue", "layouts": layouts},
    )
    assert reply.status == 201
    tile = reply.json()
    assert (tile["text"]["body"], tile["color"], tile["layouts"]) == ("## Notes", "blue", layouts)
    assert tile["text"]["created_by"]["id"] == 1043
    detail = await api.detail(412)
    assert [t["id"] for t in detail["tiles"]] == [9001, 9002, 9003, tile["id"]]
    streamed = streamed_tiles(await api.stream(412))
    assert streamed[-1]["text"]["body"] == "## Notes"
    bare = (await api.post("dashboards/388/create_text_tile/", {"body": "no layouts"})).json()
    assert bare["layouts"] == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, invalid("This field is required.", "body", "required")),
        ({"body": "   "}, invalid("Tile body cannot be empty", "body")),
        (
            {"body": "x" * 4001},
            invalid("Tile body cannot exceed 4000 characters", "body", "max_length"),
        ),
        (
            {"body": "x", "color": "c" * 401},
            invalid("Color cannot exceed 400 characters", "color", "max_length"),
        ),
    ],
)
async def test_create_text_tile_validation(api: Api, body: Any, expected: Any) -> None:
    reply = await api.post("dashboards/412/create_text_tile/", body)
    assert (reply.status, reply.json()) == (400, expected)
    assert len((await api.detail(412))["tiles"]) == 3


async def test_update_text_tile(api: Api) -> None:
    reply = await api.post(
        "dashboards/412/update_text_tile/", {"tile_id": 9003, "body": "Edited", "color": "red"}
    )
    assert reply.status == 200
    assert (reply.json()["text"]["body"], reply.json()["color"]) == ("Edited", "red")
    shown = next(t for t in (await api.detail(412))["tiles"] if t["id"] == 9003)
    assert (shown["text"]["body"], shown["color"]) == ("Edited", "red")
    cleared = await api.post("dashboards/412/update_text_tile/", {"tile_id": 9003, "color": ""})
    assert cleared.json()["color"] is None
    reply = await api.post("dashboards/412/update_text_tile/", {"tile_id": 9001, "body": "x"})
    assert reply.json() == invalid("Tile is not a text tile.")
    reply = await api.post("dashboards/412/update_text_tile/", {"tile_id": 9403, "body": "x"})
    assert (reply.status, reply.json()) == (404, NOT_FOUND)
    reply = await api.post("dashboards/412/update_text_tile/", {"tile_id": 9003, "body": ""})
    assert reply.json() == invalid("Text body cannot be empty", "body")


async def test_delete_tile_is_soft_compacts_and_is_gone_everywhere(
    api: Api, server: FakePostHog
) -> None:
    reply = await api.post("dashboards/412/delete_tile/", {"tile_id": 9001})
    assert (reply.status, reply.body) == (204, b"")
    tiles = (await api.detail(412))["tiles"]
    assert [t["id"] for t in tiles] == [9002, 9003]
    # The text tile at y=5 under the deleted one moved up; 9002 stays at the top.
    assert {t["id"]: t["layouts"]["sm"]["y"] for t in tiles} == {9002: 0, 9003: 5}
    assert 9001 not in [t["id"] for t in streamed_tiles(await api.stream(412))]
    # The insight survives (on the API: GET insights/2301/).
    assert (await api.get("insights/2301/")).status == 200
    again = await api.post("dashboards/412/delete_tile/", {"tile_id": 9001})
    assert (again.status, again.json()) == (404, NOT_FOUND)
    assert server.state.tiles[9001].deleted is True


async def test_delete_tile_compacts_upward() -> None:
    async with FakePostHog(seed=False) as server, aiohttp.ClientSession() as session:
        api = Api(server, session)
        board = server.add_dashboard(
            "Stack",
            tiles=[
                text_tile("top", layout=(0, 0, 12, 2)),
                text_tile("middle", layout=(0, 2, 12, 3)),
                text_tile("bottom", layout=(0, 5, 6, 4)),
            ],
        )
        top, middle, bottom = (t["id"] for t in board["tiles"])
        await api.post(f"dashboards/{board['id']}/delete_tile/", {"tile_id": middle})
        tiles = (await api.detail(board["id"]))["tiles"]
        assert {t["id"]: t["layouts"]["sm"]["y"] for t in tiles} == {top: 0, bottom: 2}


async def test_copy_tile_links_the_same_insight_and_text(api: Api) -> None:
    reply = await api.post("dashboards/388/copy_tile/", {"fromDashboardId": 412, "tileId": 9001})
    assert reply.status == 200
    destination = reply.json()
    assert destination["id"] == 388
    copied = [t for t in destination["tiles"] if t["insight"] and t["insight"]["id"] == 2301]
    assert len(copied) == 1
    # Placed below everything already on 388 (whose lowest tile ends at y=6).
    assert copied[0]["layouts"]["sm"]["y"] == 6
    text = await api.post("dashboards/388/copy_tile/", {"fromDashboardId": 412, "tileId": 9003})
    assert any(t["text"] and t["text"]["id"] == 318 for t in text.json()["tiles"])
    # The source keeps its tiles.
    assert [t["id"] for t in (await api.detail(412))["tiles"]] == [9001, 9002, 9003]
    streamed = streamed_tiles(await api.stream(388))
    assert any(t["insight"] and t["insight"]["id"] == 2301 for t in streamed)


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        (
            "dashboards/388/copy_tile/",
            {"fromDashboardId": 388, "tileId": 9301},
            400,
            invalid("Destination must be a different dashboard than the source."),
        ),
        (
            "dashboards/412/copy_tile/",
            {"fromDashboardId": 412, "tileId": 9001},
            400,
            invalid("Destination must be a different dashboard than the source."),
        ),
        (
            "dashboards/388/copy_tile/",
            {"tileId": 9001},
            400,
            invalid("This field is required.", "fromDashboardId", "required"),
        ),
        ("dashboards/388/copy_tile/", {"fromDashboardId": 412, "tileId": 9301}, 404, NOT_FOUND),
        ("dashboards/388/copy_tile/", {"fromDashboardId": 99999, "tileId": 9001}, 404, NOT_FOUND),
        ("dashboards/99999/copy_tile/", {"fromDashboardId": 412, "tileId": 9001}, 404, NOT_FOUND),
    ],
)
async def test_copy_tile_errors(api: Api, path: str, body: Any, status: int, expected: Any) -> None:
    reply = await api.post(path, body)
    assert (reply.status, reply.json()) == (status, expected)


async def test_copy_tile_twice_is_refused(api: Api) -> None:
    body = {"fromDashboardId": 412, "tileId": 9001}
    assert (await api.post("dashboards/388/copy_tile/", body)).status == 200
    reply = await api.post("dashboards/388/copy_tile/", body)
    assert reply.json() == invalid("This insight is already on the destination dashboard.")
    body = {"fromDashboardId": 412, "tileId": 9003}
    assert (await api.post("dashboards/388/copy_tile/", body)).status == 200
    reply = await api.post("dashboards/388/copy_tile/", body)
    assert reply.json() == invalid("This text card is already on the destination dashboard.")


async def test_reorder_tiles_modes(api: Api) -> None:
    def sm(detail: dict[str, Any]) -> dict[int, tuple[int, int, int, int]]:
        return {
            t["id"]: tuple(t["layouts"]["sm"][k] for k in "xywh")  # type: ignore[misc]
            for t in detail["tiles"]
        }

    reply = await api.post("dashboards/412/reorder_tiles/", {"tile_order": [9003, 9002, 9001]})
    assert reply.status == 200
    # preserve: sizes kept, packed greedily on a 12-column skyline in the given order.
    assert sm(reply.json()) == {9003: (0, 0, 12, 1), 9002: (0, 1, 6, 5), 9001: (6, 1, 6, 5)}
    assert [t["id"] for t in (await api.detail(412))["tiles"]] == [9003, 9002, 9001]
    reply = await api.post(
        "dashboards/412/reorder_tiles/", {"tile_order": [9001, 9002, 9003], "layout": "two_column"}
    )
    assert sm(reply.json()) == {9001: (0, 0, 6, 5), 9002: (6, 0, 6, 5), 9003: (0, 5, 6, 5)}
    reply = await api.post(
        "dashboards/412/reorder_tiles/", {"tile_order": [9002, 9001], "layout": "full_width"}
    )
    assert sm(reply.json())[9002] == (0, 0, 12, 5)
    assert sm(reply.json())[9001] == (0, 5, 12, 5)


async def test_reorder_tiles_bare_errors(api: Api) -> None:
    reply = await api.post("dashboards/412/reorder_tiles/", {"tile_order": [9001, 9001]})
    assert (reply.status, reply.json()) == (
        400,
        {"detail": "tile_order must contain unique tile IDs"},
    )
    reply = await api.post("dashboards/412/reorder_tiles/", {"tile_order": [9001, 9, 3]})
    assert (reply.status, reply.json()) == (
        404,
        {"detail": "Tile IDs not found on this dashboard: [3, 9]"},
    )
    reply = await api.post("dashboards/412/reorder_tiles/", {"tile_order": []})
    assert reply.json()["attr"] == "tile_order"
    reply = await api.post("dashboards/412/reorder_tiles/", {"tile_order": [9001], "layout": "x"})
    assert reply.json() == invalid('"x" is not a valid choice.', "layout", "invalid_choice")


async def test_tile_actions_need_dashboard_write_and_edit_rights(
    api: Api, server: FakePostHog
) -> None:
    reader = server.add_key(scopes=["dashboard:read"])
    for action, body in [
        ("copy_tile", {"fromDashboardId": 412, "tileId": 9001}),
        ("reorder_tiles", {"tile_order": [9301]}),
        ("create_text_tile", {"body": "x"}),
        ("update_text_tile", {"tile_id": 9003, "body": "x"}),
        ("delete_tile", {"tile_id": 9301}),
    ]:
        reply = await api.post(f"dashboards/388/{action}/", body, key=reader)
        assert (reply.status, reply.json()) == (403, missing_scope("dashboard:write")), action
    # 415 is restricted; Priya may only view it.
    reply = await api.post("dashboards/415/create_text_tile/", {"body": "x"})
    assert reply.json() == {
        **denied("You don't have edit permissions for this dashboard."),
        "attr": None,
    }
    # Unknown methods on an action are 405.
    reply = await api.get("dashboards/412/create_text_tile/")
    assert (reply.status, reply.json()["code"]) == (405, "method_not_allowed")


# --------------------------------------------------------------------------------------------
# run_insights


async def test_run_insights_results_in_dashboard_order(api: Api, server: FakePostHog) -> None:
    reader = server.add_key(scopes=["query:read"])
    reply = await api.get(
        "dashboards/412/run_insights/", key=reader, params={"output_format": "json"}
    )
    assert reply.status == 200
    results = reply.json()["results"]
    assert [(r["id"], r["insight"]["id"], r["order"]) for r in results] == [
        (9001, 2301, 0),
        (9002, 2302, 1),
    ]
    assert results[0]["insight"]["result"] == server.dashboard(412)["tiles"][0]["insight"]["result"]
    assert set(results[0]["insight"]) == {"id", "short_id", "name", "derived_name", "result"}
    only = await api.get("dashboards/412/run_insights/", params={"tile_ids": "9002"})
    assert [(r["id"], r["order"]) for r in only.json()["results"]] == [(9002, 1)]
    optimized = (
        await api.get("dashboards/412/run_insights/", params={"max_result_chars": "40"})
    ).json()
    assert all(isinstance(r["insight"]["result"], str) for r in optimized["results"])
    assert all(len(r["insight"]["result"]) <= 40 for r in optimized["results"])


async def test_run_insights_errors_and_scope(api: Api, server: FakePostHog) -> None:
    reader = server.add_key(scopes=["dashboard:read"])
    reply = await api.get("dashboards/412/run_insights/", key=reader)
    assert (reply.status, reply.json()) == (403, missing_scope("query:read"))
    reply = await api.get("dashboards/412/run_insights/", params={"tile_ids": "a,b"})
    assert reply.json() == invalid("tile_ids must be a comma-separated list of integers.")
    reply = await api.get("dashboards/412/run_insights/", params={"tile_ids": "9001,5,7"})
    assert reply.json() == invalid(
        "These tile IDs are not on this dashboard: 5, 7. "
        "Read the dashboard to see the tiles it has."
    )
    reply = await api.get("dashboards/412/run_insights/", params={"max_result_chars": "-1"})
    assert reply.json() == invalid("max_result_chars must be zero or greater.")
    reply = await api.get("dashboards/99999/run_insights/")
    assert reply.status == 404


# --------------------------------------------------------------------------------------------
# share passwords


async def test_share_passwords_round_trip(api: Api) -> None:
    path = "dashboards/412/sharing/passwords/"
    reply = await api.post(path, {"raw_password": "correct horse"})
    assert (reply.status, reply.json()) == (
        400,
        {"error": "Password protection must be enabled before creating passwords"},
    )
    await api.patch("dashboards/412/sharing/", {"enabled": True, "password_required": True})
    reply = await api.post(path, {"raw_password": "short"})
    assert reply.json() == invalid("Password must be at least 8 characters long.", "raw_password")
    reply = await api.post(path, {"raw_password": "correct horse", "note": "for the board"})
    assert reply.status == 201
    created = reply.json()
    assert set(created) == {"id", "password", "note", "created_at", "created_by_email"}
    assert (created["password"], created["note"]) == ("correct horse", "for the board")
    assert created["created_by_email"] == "priya@acme-analytics.example"
    generated = (await api.post(path, {})).json()
    assert len(generated["password"]) >= 8
    listed = (await api.get("dashboards/412/sharing/")).json()["share_passwords"]
    assert [p["id"] for p in listed] == [created["id"], generated["id"]]
    assert all("password" not in p for p in listed)
    reply = await api.call("DELETE", f"{path}{created['id']}/")
    assert (reply.status, reply.body) == (204, b"")
    listed = (await api.get("dashboards/412/sharing/")).json()["share_passwords"]
    assert [p["id"] for p in listed] == [generated["id"]]
    reply = await api.call("DELETE", f"{path}{created['id']}/")
    assert (reply.status, reply.json()) == (404, {"error": "Password not found"})


async def test_share_passwords_need_the_feature_and_the_scope(
    api: Api, server: FakePostHog
) -> None:
    await api.patch("dashboards/412/sharing/", {"enabled": True, "password_required": True})
    reader = server.add_key(scopes=["sharing_configuration:read"])
    reply = await api.post("dashboards/412/sharing/passwords/", {}, key=reader)
    assert reply.json() == missing_scope("sharing_configuration:write")
    server.advanced_permissions = False
    reply = await api.post("dashboards/412/sharing/passwords/", {})
    assert (reply.status, reply.json()) == (
        403,
        {"error": "Password management requires the Advanced Permissions feature"},
    )
    reply = await api.call("DELETE", "dashboards/412/sharing/passwords/abc/")
    assert reply.status == 403


# --------------------------------------------------------------------------------------------
# dashboard templates


async def test_dashboard_templates_list_get_and_use(api: Api, server: FakePostHog) -> None:
    stored = server.add_template(
        {
            "template_name": "Team metrics",
            "dashboard_description": "Ours",
            "dashboard_filters": {},
            "tiles": [{"type": "TEXT", "body": "hello", "layouts": {}}],
            "tags": ["team"],
        }
    )
    page = (await api.get("dashboard_templates/")).json()
    names = [t["template_name"] for t in page["results"]]
    # Featured first, then by name, case-insensitively.
    assert names == ["DEFAULT_APP", "Team metrics", "WEBSITE_TRAFFIC"]
    assert page["count"] == 3
    scoped = (await api.get("dashboard_templates/", params={"scope": "team"})).json()
    assert [t["template_name"] for t in scoped["results"]] == ["Team metrics"]
    found = (await api.get("dashboard_templates/", params={"search": "team"})).json()
    assert [t["template_name"] for t in found["results"]] == ["Team metrics"]
    one = (await api.get(f"dashboard_templates/{stored['id']}/")).json()
    assert (one["id"], one["scope"], one["team_id"]) == (stored["id"], "team", 42)
    assert (await api.get("dashboard_templates/0000/")).status == 404
    created = await api.post("dashboards/", {"use_template": one["template_name"]})
    assert created.status == 201
    assert created.json()["tiles"][0]["text"]["body"] == "hello"
    reader = server.add_key(scopes=["dashboard:read"])
    reply = await api.get("dashboard_templates/", key=reader)
    assert reply.json() == missing_scope("dashboard_template:read")


# --------------------------------------------------------------------------------------------
# insights

TRENDS = {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}]}


async def test_insight_on_a_dashboard_round_trip(api: Api) -> None:
    # Create on 388, stream it, move it to 401 through its dashboards, delete it.
    reply = await api.post("insights/", {"name": "Pageviews", "query": TRENDS, "dashboards": [388]})
    assert reply.status == 201
    insight = reply.json()
    assert insight["query"] == {"kind": "InsightVizNode", "source": TRENDS}
    assert "dashboards" not in insight
    assert insight["saved"] is False
    assert [t["dashboard_id"] for t in insight["dashboard_tiles"]] == [388]
    streamed = streamed_tiles(await api.stream(388))
    assert any(t["insight"] and t["insight"]["id"] == insight["id"] for t in streamed)

    moved = await api.patch(f"insights/{insight['id']}/", {"dashboards": [401]})
    assert moved.status == 200
    assert moved.json()["saved"] is True
    on = {
        d: [t["insight"]["id"] for t in (await api.detail(d))["tiles"] if t["insight"]]
        for d in (388, 401)
    }
    assert insight["id"] not in on[388]
    assert insight["id"] in on[401]
    streamed = streamed_tiles(await api.stream(401))
    assert any(t["insight"] and t["insight"]["id"] == insight["id"] for t in streamed)
    # Re-adding 388 restores the same tile.
    first_tile = insight["dashboard_tiles"][0]["id"]
    back = (await api.patch(f"insights/{insight['id']}/", {"dashboards": [388, 401]})).json()
    assert first_tile in [t["id"] for t in back["dashboard_tiles"]]

    deleted = await api.patch(f"insights/{insight['id']}/", {"deleted": True})
    assert deleted.json()["deleted"] is True
    assert (await api.get(f"insights/{insight['id']}/")).status == 404
    for dashboard_id in (388, 401):
        tiles = (await api.detail(dashboard_id))["tiles"]
        assert all(not t["insight"] or t["insight"]["id"] != insight["id"] for t in tiles)
    restored = await api.patch(f"insights/{insight['id']}/", {"deleted": False})
    assert (restored.status, restored.json()["deleted"]) == (200, False)


async def test_insights_read_filters_and_short_id(api: Api) -> None:
    seeded = (await api.get("insights/2301/")).json()
    assert seeded["name"] == "Weekly active users"
    by_short = (await api.get(f"insights/{seeded['short_id']}/")).json()
    assert by_short["id"] == 2301
    opted = (await api.get("insights/2301/", params={"include_dashboards": "true"})).json()
    assert opted["dashboards"] == [412]
    page = (await api.get("insights/", params={"search": "weekly active"})).json()
    assert [(i["id"], i["search_match_type"]) for i in page["results"]] == [(2301, "exact")]
    page = (await api.get("insights/", params={"short_id": seeded["short_id"]})).json()
    assert [i["id"] for i in page["results"]] == [2301]
    page = (await api.get("insights/", params={"dashboards": "[412]", "basic": "true"})).json()
    assert [i["id"] for i in page["results"]] == [2301, 2302]
    assert "result" not in page["results"][0]
    reply = await api.get("insights/", params={"search": "x" * 201})
    assert (reply.status, reply.json()["attr"]) == (400, "search")


async def test_insight_writes_are_validated(api: Api, server: FakePostHog) -> None:
    reply = await api.post("insights/", {"name": "No query"})
    assert reply.json() == invalid(
        "Creating an insight needs a query. See https://posthog.com/docs/api/insights", "query"
    )
    reply = await api.post("insights/", {"query": TRENDS, "dashboards": [7, 388, 9]})
    assert reply.json() == invalid("Dashboard not found: 7, 9", "dashboards")
    reply = await api.post("insights/", {"query": TRENDS, "dashboards": [415]})
    assert (reply.status, reply.json()["detail"]) == (
        403,
        "You don't have permission to add insights to dashboard: 415",
    )
    reply = await api.post("insights/", {"filters": {"events": [{"id": "$pageview"}]}})
    assert reply.status == 403
    reply = await api.patch("insights/2301/", {"query": None})
    assert reply.json() == invalid(
        "An insight needs a query. See https://posthog.com/docs/api/insights", "query"
    )
    reply = await api.call("DELETE", "insights/2301/")
    assert (reply.status, reply.body) == (405, b"")
    reader = server.add_key(scopes=["insight:read"])
    assert (await api.get("insights/", key=reader)).status == 200
    reply = await api.post("insights/", {"query": TRENDS}, key=reader)
    assert reply.json() == missing_scope("insight:write")
    # None of the refused writes created anything.
    assert not [
        i
        for i in server.state.insights.values()
        if i.data.get("query") == {"kind": "InsightVizNode", "source": TRENDS}
    ]


# --------------------------------------------------------------------------------------------
# /api/users/@me/


async def test_users_me(api: Api, server: FakePostHog) -> None:
    reply = await api.get("/api/users/@me/")
    assert reply.status == 200
    me = reply.json()
    assert (me["id"], me["email"], me["team"]["id"]) == (1043, "priya@acme-analytics.example", 42)
    other = server.add_user("Ana", "Silva")
    key = server.add_key(user_id=other["id"])
    assert (await api.get("/api/users/@me", key=key)).json()["uuid"] == other["uuid"]
    assert (await api.get("/api/users/@me/", key="phx_nope")).status == 401
    reply = await api.get(f"/api/users/{quote('@you')}/")
    assert reply.status == 404


async def test_one_servers_writes_never_reach_the_next_servers_seed(api: Api) -> None:
    # delete_tile compacts layouts; they must not be the seed's own dicts.
    await api.patch("dashboards/412/", {"tiles": [{"id": 9002, "layouts": {"sm": {"y": 9}}}]})
    for tile_id in (9001, 9002):
        assert (await api.post("dashboards/412/delete_tile/", {"tile_id": tile_id})).status == 204
    (text,) = (await api.detail(412))["tiles"]
    assert text["layouts"]["sm"]["y"] == 0  # compacted to the top
    async with FakePostHog() as fresh:
        layouts = {t["id"]: t["layouts"]["sm"]["y"] for t in fresh.dashboard(412)["tiles"]}
    assert layouts == {9001: 0, 9002: 0, 9003: 5}


async def test_insight_tile_created_streamed_moved_and_deleted(api: Api) -> None:
    created = (await api.post("insights/", {"query": TRENDS, "dashboards": [388]})).json()
    (tile_id,) = [t["id"] for t in created["dashboard_tiles"]]
    streamed = streamed_tiles(await api.stream(388))
    assert tile_id in [t["id"] for t in streamed]
    moved = await api.post(
        "dashboards/388/move_tile/", {"tile": {"id": tile_id}, "to_dashboard": 433}
    )
    assert tile_id not in [t["id"] for t in moved.json()["tiles"]]
    assert [t["id"] for t in streamed_tiles(await api.stream(433))] == [tile_id]
    seen = (await api.get(f"insights/{created['id']}/", params={"include_dashboards": "1"})).json()
    assert seen["dashboards"] == [433]
    assert (await api.post("dashboards/433/delete_tile/", {"tile_id": tile_id})).status == 204
    assert streamed_tiles(await api.stream(433)) == []
    assert (await api.get(f"insights/{created['id']}/")).status == 200  # the insight stays


async def test_refresh_blocking_recomputes_on_get_and_on_the_stream() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    async with (
        FakePostHog(now=lambda: now, allow_pak_on_unscoped_actions=True) as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(server, session)
        before = (await api.detail(388))["tiles"][0]["last_refresh"]
        assert before != "2026-03-04T05:06:07Z"
        events = await api.stream(388, refresh="force_blocking")
        assert {t["last_refresh"] for t in streamed_tiles(events)} == {"2026-03-04T05:06:07Z"}
        body = (await api.get("dashboards/412/", params={"refresh": "blocking"})).json()
        assert body["last_refresh"] == "2026-03-04T05:06:07Z"


async def test_ph_request_users_me_on_the_fake(server: FakePostHog) -> None:
    import posthog_dash_async as pda

    async with pda.AsyncPostHog(
        api_key=server.api_key, host=server.url, project_id=server.project_id
    ) as ph:
        me = await ph.request("GET", "/api/users/@me/")
    assert (me["id"], me["first_name"], me["team"]["project_id"]) == (1043, "Priya", 42)
    assert server.requests[-1].path == "/api/users/@me/"
