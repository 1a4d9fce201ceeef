"""FakePostHog against the spec: routing, auth, scopes, pagination, CRUD, collaborators, sharing.

Every test talks to a real FakePostHog over a loopback socket with a raw aiohttp session, so
what is asserted is exactly what an SDK would see on the wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from _fake_shapes import detail_2026, list_item_2026
from conftest import load_fixture
from multidict import CIMultiDictProxy

from posthog_dash_async.testing import FakePostHog, funnel_tile, number_tile, text_tile, trends_tile

LENA_UUID = "018d7e21-4b6a-7c3f-9e12-0a4b8c6d2f90"
SAM_UUID = "018e0b93-2c7d-7f45-8a31-5d9e7b1c4a26"
ALEX_UUID = "018e5c40-9d12-7b8e-b6f3-2e7a9c0d5b14"
PRIYA_UUID = "0189f2c1-7d3e-7a10-8a5e-6b1f0c2d4e71"
TOMAS_UUID = "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3"
DEFAULT_ORDER = [415, 412, 450, 377, 420, 388, 401, 433]


def error(status_type: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": status_type, "code": code, "detail": detail, "attr": attr}


def not_found(detail: str = "Not found.") -> dict[str, Any]:
    return error("invalid_request", "not_found", detail)


def denied(detail: str) -> dict[str, Any]:
    return error("authentication_error", "permission_denied", detail)


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> dict[str, Any]:
    return error("validation_error", code, detail, attr)


UNSUPPORTED = denied("This action does not support personal API key access")


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

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/"):
            return self.server.url + path
        return f"{self.server.url}/api/projects/{self.server.project_id}/{path}"

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "",
        json_body: Any = None,
        data: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key or self.server.api_key}"
        async with self.session.request(
            method, self.url(path), json=json_body, data=data, params=params, headers=sent
        ) as response:
            return Reply(response.status, response.headers, await response.read())

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, json_body=body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PATCH", path, json_body=body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog() as running:
        yield running


@pytest.fixture
async def api(server: FakePostHog) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(server, session)


# --------------------------------------------------------------------------------------------
# authentication, routing, scopes


async def test_missing_credentials_401(api: Api) -> None:
    reply = await api.get("dashboards/", key=None)
    assert reply.status == 401
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == load_fixture("error_examples.json")["missing_credentials"]["body"]


async def test_invalid_and_inactive_keys_401(api: Api, server: FakePostHog) -> None:
    expected = load_fixture("error_examples.json")["invalid_personal_api_key"]["body"]
    reply = await api.get("dashboards/", key="phx_not_a_key")
    assert (reply.status, reply.json()) == (401, expected)
    inactive = server.add_key("phx_alex", user_id=1133)
    reply = await api.get("dashboards/", key=inactive)
    assert (reply.status, reply.json()) == (401, expected)
    # Not a Bearer header at all: the request is simply unauthenticated.
    reply = await api.get("dashboards/", key=None, headers={"Authorization": "Basic abc"})
    assert reply.json()["code"] == "not_authenticated"


async def test_key_in_query_string_is_a_fallback(api: Api, server: FakePostHog) -> None:
    reply = await api.get("dashboards/", key=None, params={"personal_api_key": server.api_key})
    assert reply.status == 200
    reply = await api.get("dashboards/", key=None, params={"personal_api_key": "phx_bad"})
    assert reply.json()["detail"] == ("Personal API key found in request query string is invalid.")


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/42/dashboards/412/",
        "/api/projects/42/dashboards/412",
        "/api/environments/42/dashboards/412/",
        "/api/projects/@current/dashboards/412/",
        "/api/projects/@current/dashboards/412",
    ],
)
async def test_routes_aliases_and_optional_slash(api: Api, path: str) -> None:
    reply = await api.get(path)
    assert reply.status == 200, reply.body
    assert reply.json()["id"] == 412


async def test_project_resolution(api: Api, server: FakePostHog) -> None:
    for path in ("/api/projects/abc/dashboards/", "/api/projects/999/dashboards/"):
        reply = await api.get(path)
        assert (reply.status, reply.json()) == (404, not_found("Project not found."))
    server.add_project(43)
    reply = await api.get("/api/projects/43/dashboards/")
    assert (reply.status, reply.json()) == (403, denied("You don't have access to the project."))
    scoped = server.add_key(projects={43})
    reply = await api.get("dashboards/", key=scoped)
    assert reply.json() == denied("API key does not have access to the requested project: ID 42.")
    homeless = server.add_user("Nomad", project_access=False)
    key = server.add_key(user_id=homeless["id"])
    reply = await api.get("/api/projects/@current/dashboards/", key=key)
    assert (reply.status, reply.json()) == (404, not_found("Project not found."))


async def test_scopes(api: Api, server: FakePostHog) -> None:
    reader = server.add_key(scopes=["dashboard:read"])
    writer = server.add_key(scopes=["dashboard:write"])
    assert (await api.get("dashboards/", key=reader)).status == 200
    reply = await api.post("dashboards/", {"name": "x"}, key=reader)
    assert (reply.status, reply.json()) == (
        403,
        denied("API key missing required scope 'dashboard:write'"),
    )
    assert (await api.get("dashboards/412/", key=writer)).status == 200
    assert (await api.post("dashboards/", {"name": "x"}, key=writer)).status == 201
    reply = await api.get("dashboards/412/sharing/", key=writer)
    assert reply.json() == denied("API key missing required scope 'sharing_configuration:read'")
    reply = await api.patch("dashboards/412/sharing/", {"enabled": False}, key=reader)
    assert reply.json() == denied("API key missing required scope 'sharing_configuration:write'")
    sharer = server.add_key(scopes=["sharing_configuration:write"])
    assert (await api.get("dashboards/412/sharing/", key=sharer)).status == 200
    reply = await api.get("dashboards/412/collaborators/", key=sharer)
    assert reply.json() == denied("API key missing required scope 'dashboard:read'")


async def test_scope_less_actions_refuse_keys_until_switched_on(
    api: Api, server: FakePostHog
) -> None:
    # move_tile is scope-less only on the older server; NEWEST needs dashboard:write.
    server.move_tile_flavour = "ref"
    move = {"tile": {"id": 9003}, "toDashboard": 388}
    template = {
        "template": {
            "template_name": "T",
            "dashboard_description": "",
            "dashboard_filters": {},
            "tiles": [{"type": "TEXT", "body": "hi"}],
        }
    }
    calls = [
        ("PATCH", "dashboards/412/move_tile/", move),
        ("GET", "dashboards/412/stream_tiles/", None),
        ("POST", "dashboards/create_from_template_json/", template),
    ]
    for method, path, body in calls:
        reply = await api.call(method, path, json_body=body)
        assert (reply.status, reply.json()) == (403, UNSUPPORTED), path
    server.allow_pak_on_unscoped_actions = True
    statuses = [(await api.call(m, p, json_body=b)).status for m, p, b in calls]
    assert statuses == [200, 200, 200]


async def test_content_negotiation_and_format(api: Api) -> None:
    assert (await api.get("dashboards/", params={"format": "json"})).status == 200
    reply = await api.get("dashboards/", params={"format": "yaml"})
    assert (reply.status, reply.json()) == (404, not_found())
    reply = await api.get("dashboards/", headers={"Accept": "application/xml"})
    assert (reply.status, reply.json()["code"]) == (406, "not_acceptable")
    reply = await api.get("dashboards/", params={"format": "txt"})
    # Django iterates the dict the SSE renderer passes through: its keys, concatenated.
    assert reply.body == b"countnextpreviousresults"


async def test_method_not_allowed_json(api: Api) -> None:
    reply = await api.call("PATCH", f"dashboards/415/collaborators/{LENA_UUID}/")
    expected = load_fixture("error_examples.json")["collaborator_patch_not_allowed"]["body"]
    assert (reply.status, reply.json()) == (405, expected)
    reply = await api.post("dashboards/412/")
    assert reply.json()["detail"] == 'Method "POST" not allowed.'


# --------------------------------------------------------------------------------------------
# list: pagination, ordering, filters


async def test_list_page_matches_fixture(api: Api, server: FakePostHog) -> None:
    reply = await api.get("dashboards/?exclude_generated=true&limit=3")
    page = reply.json()
    expected = load_fixture("dashboards_list_page.json")
    assert page["next"] == (
        f"{server.url}/api/projects/42/dashboards/?exclude_generated=true&limit=3&offset=3"
    )
    expected["next"] = page["next"]
    expected["results"] = [list_item_2026(item) for item in expected["results"]]
    assert page == expected
    assert list(page["results"][0]) == list(expected["results"][0])


async def test_pagination_links_follow_drf(api: Api, server: FakePostHog) -> None:
    base = f"{server.url}/api/projects/42/dashboards/"
    page = (await api.get("dashboards/?offset=3&limit=3")).json()
    assert page["previous"] == f"{base}?limit=3"
    assert page["next"] == f"{base}?limit=3&offset=6"
    page = (await api.get("dashboards/?offset=5&limit=2&tags=weekly&tags=kpi")).json()
    assert page["count"] == 3
    assert page["previous"] == f"{base}?limit=2&offset=3&tags=weekly&tags=kpi"
    assert page["next"] is None
    page = (await api.get("dashboards/?limit=3&offset=2")).json()
    assert page["previous"] == f"{base}?limit=3"
    page = (await api.get("dashboards/?offset=50")).json()
    assert (page["count"], page["results"], page["next"]) == (8, [], None)
    assert page["previous"] == f"{base}?limit=100"
    for bad in ("0", "-4", "abc", ""):
        page = (await api.get("dashboards/", params={"limit": bad, "offset": "x"})).json()
        assert (len(page["results"]), page["next"], page["previous"]) == (8, None, None)
    page = (await api.get("dashboards/?limit=100000")).json()
    assert len(page["results"]) == 8


async def test_following_next_visits_every_dashboard(api: Api) -> None:
    url: str | None = "dashboards/?limit=3"
    seen: list[int] = []
    while url:
        page = (await api.get(url)).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert seen == DEFAULT_ORDER


async def test_ordering_and_filters(api: Api) -> None:
    async def ids(query: str) -> list[int]:
        page = (await api.get(f"dashboards/{query}")).json()
        assert page["count"] == len(page["results"])
        return [item["id"] for item in page["results"]]

    assert await ids("") == DEFAULT_ORDER
    assert await ids("?exclude_generated=true") == [415, 412, 377, 420, 388, 401, 433]
    assert await ids("?exclude_generated=1") == DEFAULT_ORDER
    assert await ids("?tags=finance&tags=kpi") == [415, 388]
    assert await ids("?tags=weekly") == [412, 401]
    assert await ids("?creation_mode=unlisted") == [460]
    assert await ids("?creation_mode=template") == [377]
    assert await ids("?pinned=true") == [415, 412]
    assert await ids("?search=growth") == [412]


async def test_list_items_have_no_tiles_and_spec_key_order(api: Api) -> None:
    item = (await api.get("dashboards/")).json()["results"][0]
    assert list(item) == [
        "id",
        "name",
        "description",
        "pinned",
        "created_at",
        "created_by",
        "last_accessed_at",
        "last_viewed_at",
        "folder",
        "is_shared",
        "deleted",
        "creation_mode",
        "tags",
        "restriction_level",
        "effective_restriction_level",
        "effective_privilege_level",
        "user_access_level",
        "access_control_version",
        "last_refresh",
        "team_id",
        "search_match_type",
    ]


async def test_gzip_only_on_allow_listed_paths(api: Api) -> None:
    gz = {"Accept-Encoding": "gzip"}
    reply = await api.get("dashboards/", headers=gz)
    assert reply.headers.get("Content-Encoding") == "gzip"
    reply = await api.get("dashboards/412/", headers=gz)
    assert reply.headers.get("Content-Encoding") == "gzip"
    reply = await api.get("/api/projects/@current/dashboards/", headers=gz)
    assert "Content-Encoding" not in reply.headers


# --------------------------------------------------------------------------------------------
# retrieve


async def test_retrieve_matches_fixture_and_bumps_last_accessed() -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    async with FakePostHog(now=lambda: fixed) as server, aiohttp.ClientSession() as session:
        api = Api(server, session)
        detail = (await api.get("dashboards/412/")).json()
        expected = detail_2026(load_fixture("dashboard_detail.json"))
        assert detail["last_accessed_at"] == "2026-01-02T03:04:05Z"
        expected["last_accessed_at"] = detail["last_accessed_at"]
        assert detail == expected
        assert list(detail) == list(expected)
        assert json.dumps(detail["tiles"]) == json.dumps(expected["tiles"])


async def test_tiles_sorted_by_sm_layout_with_defaults(api: Api, server: FakePostHog) -> None:
    created = server.add_dashboard(
        "Layout",
        tiles=[
            text_tile("no layout", layouts={}),
            text_tile("bottom", layouts={"sm": {"x": 0, "y": 9}}),
            text_tile("top right", layouts={"sm": {"x": 6, "y": 0}, "xs": {"y": 1}}),
            text_tile("top left", layouts={"sm": {"x": 0, "y": 0}, "xs": {"y": 2}}),
            text_tile("string coords", layouts={"sm": {"x": "3", "y": "4"}}),
        ],
    )
    detail = (await api.get(f"dashboards/{created['id']}/")).json()
    bodies = [tile["text"]["body"] for tile in detail["tiles"]]
    assert bodies == ["top left", "top right", "string coords", "bottom", "no layout"]
    assert [tile["order"] for tile in detail["tiles"]] == [0, 1, 2, 3, 4]


async def test_retrieve_missing_deleted_and_bad_ids(api: Api) -> None:
    for path in ("dashboards/999999/", "dashboards/470/", "dashboards/abc/"):
        reply = await api.get(path)
        assert (reply.status, reply.json()) == (404, not_found()), path


async def test_filters_override_changes_effective_filters(api: Api) -> None:
    override = json.dumps({"date_from": "-7d"})
    detail = (await api.get("dashboards/412/", params={"filters_override": override})).json()
    assert detail["filters"] == {"date_from": "-7d"}
    assert detail["persisted_filters"] == {"date_from": "-30d"}


# --------------------------------------------------------------------------------------------
# create


async def test_create_201(api: Api, server: FakePostHog) -> None:
    reply = await api.post(
        "dashboards/",
        {"name": "  Q4 review ", "pinned": "true", "tags": [" Growth ", "growth", "Q4"]},
    )
    assert reply.status == 201
    body = reply.json()
    assert body["name"] == "Q4 review"
    assert (body["pinned"], body["tags"], body["creation_mode"]) == (
        True,
        ["growth", "q4"],
        "default",
    )
    assert body["created_by"] == server.user
    assert (body["tiles"], body["filters"], body["persisted_filters"]) == ([], {}, None)
    assert (await api.get(f"dashboards/{body['id']}/")).status == 200
    listed = [item["id"] for item in (await api.get("dashboards/")).json()["results"]]
    assert body["id"] in listed


async def test_create_with_form_body(api: Api) -> None:
    reply = await api.call("POST", "dashboards/", data={"name": "Form", "pinned": "false"})
    assert (reply.status, reply.json()["name"]) == (201, "Form")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"name": "x" * 401},
            invalid("Ensure this field has no more than 400 characters.", "name", "max_length"),
        ),
        ({"restriction_level": 99}, load_fixture("error_validation_400.json")),
        ({"pinned": "maybe"}, invalid("Must be a valid boolean.", "pinned")),
        ({"description": None}, invalid("This field may not be null.", "description", "null")),
        ({"filters": "date_from=-7d"}, invalid("Filters must be a dictionary")),
        (
            {"use_template": "QUARTERLY_REVIEW"},
            load_fixture("error_examples.json")["unknown_template_key"]["body"],
        ),
        (
            {"use_dashboard": 999999},
            load_fixture("error_examples.json")["duplicate_source_missing"]["body"],
        ),
        ({"use_dashboard": 470}, invalid("Invalid value provided", "use_dashboard")),
        ({"use_dashboard": ""}, invalid("A valid integer is required.", "use_dashboard")),
        (
            {"use_dashboard": 412, "use_template": "DEFAULT_APP"},
            load_fixture("error_examples.json")["use_template_and_use_dashboard"]["body"],
        ),
        (
            {"tags": "growth"},
            invalid('Expected a list of items but got type "str".', "tags", "not_a_list"),
        ),
        ({"quick_filter_ids": ["nope"]}, invalid("Invalid UUID: nope", "quick_filter_ids")),
        ([{"name": "x"}], invalid("Invalid data. Expected a dictionary, but got list.")),
    ],
)
async def test_create_validation(api: Api, body: Any, expected: dict[str, Any]) -> None:
    reply = await api.post("dashboards/", body)
    assert (reply.status, reply.json()) == (400, expected)


async def test_create_body_errors(api: Api) -> None:
    reply = await api.call(
        "POST", "dashboards/", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.json()["code"] == "parse_error"
    assert reply.json()["detail"].startswith("JSON parse error - ")
    reply = await api.call(
        "POST", "dashboards/", data=b"name=x", headers={"Content-Type": "text/plain"}
    )
    assert (reply.status, reply.json()["detail"]) == (
        415,
        'Unsupported media type "text/plain" in request.',
    )


async def test_create_from_builtin_template(api: Api) -> None:
    body = (await api.post("dashboards/", {"use_template": "WEBSITE_TRAFFIC", "name": ""})).json()
    assert (body["name"], body["creation_mode"]) == ("Website traffic", "template")
    assert body["filters"] == {"date_from": "-30d"}
    assert len(body["tiles"]) == 4
    named = (await api.post("dashboards/", {"use_template": "DEFAULT_APP", "name": "Mine"})).json()
    assert (named["name"], len(named["tiles"])) == ("Mine", 4)


async def test_create_from_stored_template(api: Api, server: FakePostHog) -> None:
    server.add_template(
        {
            "template_name": "Ops",
            "dashboard_description": "Ops board",
            "dashboard_filters": {},
            "tiles": [{"type": "TEXT", "body": "Runbook"}],
        }
    )
    body = (await api.post("dashboards/", {"use_template": "Ops"})).json()
    assert (body["name"], body["tiles"][0]["text"]["body"]) == ("Ops", "Runbook")


async def test_duplicate_links_or_copies_tiles(api: Api) -> None:
    shallow = (await api.post("dashboards/", {"name": "Copy", "use_dashboard": 412})).json()
    assert shallow["creation_mode"] == "duplicate"
    assert shallow["filters"] == {"date_from": "-30d"}
    source = (await api.get("dashboards/412/")).json()
    assert [t["insight"]["id"] for t in shallow["tiles"][:2]] == [2301, 2302]
    assert {t["id"] for t in shallow["tiles"]}.isdisjoint({t["id"] for t in source["tiles"]})
    assert sorted(shallow["tiles"][0]["insight"]["dashboards"]) == [412, shallow["id"]]
    deep = (
        await api.post(
            "dashboards/", {"name": "Deep", "use_dashboard": 412, "duplicate_tiles": True}
        )
    ).json()
    assert deep["tiles"][0]["insight"]["id"] not in (2301, 2302)
    assert deep["tiles"][0]["insight"]["name"] == "Weekly active users (Copy)"
    assert deep["tiles"][2]["text"]["id"] != 318


# --------------------------------------------------------------------------------------------
# update


async def test_patch_fields_and_read_only_keys(api: Api) -> None:
    reply = await api.patch(
        "dashboards/412/",
        {"name": "Growth", "creation_mode": "duplicate", "id": 1, "pinned": False, "x": 1},
    )
    body = reply.json()
    assert (reply.status, body["id"], body["name"]) == (200, 412, "Growth")
    assert (body["creation_mode"], body["pinned"]) == ("default", False)
    assert (await api.call("PUT", "dashboards/412/", json_body={"name": "Put"})).json()[
        "name"
    ] == "Put"
    # NEWEST: {} clears the stored filters; null leaves them.
    kept = (await api.patch("dashboards/412/", {"filters": None})).json()["filters"]
    assert kept == {"date_from": "-30d"}
    assert (await api.patch("dashboards/412/", {"filters": {}})).json()["filters"] == {}
    reply = await api.patch("dashboards/412/", {"variables": [1]})
    assert reply.json() == invalid("Filters must be a dictionary")


async def test_tags_ignored_without_tagging(api: Api, server: FakePostHog) -> None:
    server.tagging = False
    body = (await api.patch("dashboards/401/", {"tags": ["new"]})).json()
    assert body["tags"] == []
    server.tagging = True
    assert (await api.get("dashboards/401/")).json()["tags"] == ["weekly"]


async def test_patch_tiles_upsert(api: Api) -> None:
    detail = (await api.get("dashboards/412/")).json()
    echoed = [dict(tile, color="green") for tile in detail["tiles"]]
    added = {"text": {"body": "New card"}, "layouts": {"sm": {"x": 0, "y": 20, "w": 6, "h": 2}}}
    body = (await api.patch("dashboards/412/", {"tiles": [*echoed, added]})).json()
    assert [t["color"] for t in body["tiles"]] == ["green"] * 3 + [None]
    new_tile = body["tiles"][3]
    assert new_tile["text"]["body"] == "New card"
    assert new_tile["text"]["created_by"]["id"] == 1043
    edit = {"id": new_tile["id"], "text": {"id": new_tile["text"]["id"], "body": "Edited"}}
    body = (await api.patch("dashboards/412/", {"tiles": [edit]})).json()
    assert body["tiles"][3]["text"]["body"] == "Edited"
    assert body["tiles"][3]["text"]["last_modified_by"]["id"] == 1043
    moved = {"id": 9001, "layouts": {"sm": {"x": 0, "y": 30, "w": 6, "h": 5}}}
    body = (await api.patch("dashboards/412/", {"tiles": [moved]})).json()
    assert [t["id"] for t in body["tiles"]] == [9002, 9003, new_tile["id"], 9001]
    body = (await api.patch("dashboards/412/", {"tiles": [{"id": 9003, "deleted": True}]})).json()
    assert 9003 not in [t["id"] for t in body["tiles"]]


async def test_patch_tiles_errors(api: Api) -> None:
    long_text = {"tiles": [{"text": {"body": "x" * 4001}}]}
    reply = await api.patch("dashboards/412/", long_text)
    expected = load_fixture("error_examples.json")["text_tile_too_long"]["body"]
    assert (reply.status, reply.json()) == (400, expected)
    reply = await api.patch("dashboards/412/", {"tiles": [{"text": {"id": 99999, "body": "x"}}]})
    assert reply.json() == invalid("Text tile not found.", "text")
    reply = await api.patch(
        "dashboards/412/", {"tiles": [{"id": 123456, "color": "blue"}, {"id": 9001}, {"id": 9}]}
    )
    assert (reply.status, reply.json()) == (
        400,
        invalid("Tile IDs not found on this dashboard: [123456, 9].", "tiles"),
    )
    # Nothing of a rejected PATCH is applied.
    assert len((await api.get("dashboards/412/")).json()["tiles"]) == 3


async def test_button_tiles(api: Api) -> None:
    button = {"button_tile": {"url": "/insights", "text": "Open insights", "placement": "right"}}
    body = (await api.patch("dashboards/388/", {"tiles": [button]})).json()
    created = [t for t in body["tiles"] if t["button_tile"] is not None]
    assert created[0]["button_tile"]["placement"] == "right"
    bad = {"tiles": [{"button_tile": {"url": "ftp://x", "text": "x"}}]}
    reply = await api.patch("dashboards/388/", bad)
    assert (reply.status, reply.json()["attr"]) == (400, "button_tile__url")


async def test_edit_permissions(api: Api, server: FakePostHog) -> None:
    reply = await api.patch("dashboards/415/", {"name": "Mine now"})
    expected = load_fixture("error_examples.json")["no_edit_permission"]["body"]
    assert (reply.status, reply.json()) == (403, expected)
    lena = server.add_key(user_id=1102)
    assert (await api.patch("dashboards/415/", {"name": "Billing"}, key=lena)).status == 200
    reply = await api.patch("dashboards/415/", {"restriction_level": 21}, key=lena)
    assert reply.json()["detail"].startswith("Only the dashboard owner and project admins")
    tomas = server.add_key(user_id=1077)
    assert (await api.patch("dashboards/420/", {"restriction_level": 21}, key=tomas)).status == 200
    server.advanced_permissions = False
    body = (await api.patch("dashboards/415/", {"name": "Open"})).json()
    assert (body["effective_restriction_level"], body["effective_privilege_level"]) == (21, 37)


# --------------------------------------------------------------------------------------------
# soft delete, restore, DELETE


async def test_soft_delete_and_restore(api: Api, server: FakePostHog) -> None:
    reply = await api.patch("dashboards/401/", {"deleted": True})
    body = reply.json()
    assert (reply.status, body["deleted"], body["tiles"]) == (200, True, [])
    assert (await api.get("dashboards/401/")).status == 404
    assert 401 not in [d["id"] for d in (await api.get("dashboards/")).json()["results"]]
    assert (await api.patch("dashboards/401/", {"name": "x"})).status == 404
    restored = (await api.patch("dashboards/401/", {"deleted": "false"})).json()
    assert (restored["deleted"], len(restored["tiles"])) == (False, 3)
    assert (await api.get("dashboards/401/")).status == 200
    seeded = (await api.patch("dashboards/470/", {"deleted": False})).json()
    assert [t["id"] for t in seeded["tiles"]] == [9801, 9802]


async def test_delete_insights_spares_shared_insights(api: Api, server: FakePostHog) -> None:
    other = server.add_dashboard("Shares WAU", tiles=[{"insight": {"id": 2301}}])
    await api.patch("dashboards/412/", {"deleted": True, "delete_insights": True})
    assert server.state.insights[2301].deleted is False
    assert server.state.insights[2302].deleted is True
    detail = (await api.get(f"dashboards/{other['id']}/")).json()
    assert detail["tiles"][0]["insight"]["dashboards"] == [other["id"]]
    restored = (await api.patch("dashboards/412/", {"deleted": False})).json()
    assert [t["id"] for t in restored["tiles"]] == [9001, 9002, 9003]


async def test_delete_is_a_bare_405(api: Api, server: FakePostHog) -> None:
    for path in ("dashboards/412/", "dashboards/999999/", "dashboards/412"):
        reply = await api.delete(path)
        assert (reply.status, reply.body) == (405, b"")
        assert "Content-Type" not in reply.headers
    reader = server.add_key(scopes=["dashboard:read"])
    reply = await api.delete("dashboards/412/", key=reader)
    assert reply.status == 403
    assert (await api.get("dashboards/412/")).status == 200


# --------------------------------------------------------------------------------------------
# move_tile


async def test_move_tile_ref(api: Api, server: FakePostHog) -> None:
    server.move_tile_flavour = "ref"
    server.allow_pak_on_unscoped_actions = True
    tile = (await api.get("dashboards/412/")).json()["tiles"][2]
    reply = await api.patch(
        "dashboards/412/move_tile/", {"tile": tile, "toDashboard": 388, "to_dashboard": 1}
    )
    assert reply.status == 200
    source = reply.json()
    assert (source["id"], [t["id"] for t in source["tiles"]]) == (412, [9001, 9002])
    target = (await api.get("dashboards/388/")).json()
    assert 9003 in [t["id"] for t in target["tiles"]]

    async def move(body: Any, path: str = "dashboards/388/move_tile/") -> tuple[int, Any]:
        reply = await api.patch(path, body)
        return reply.status, reply.json()

    assert (await move({"tile": {"id": 9003}, "to_dashboard": 412}))[0] == 500
    assert (await move({"toDashboard": 412}))[0] == 500
    assert await move({"tile": {"id": 9001}, "toDashboard": 401}) == (404, not_found())
    assert await move({"tile": {"id": 9003}, "toDashboard": 999999}) == (404, not_found())
    assert await move({"tile": {"id": 9003}, "toDashboard": 415}) == (
        403,
        denied("You don't have edit permissions for the destination dashboard."),
    )
    assert await move({"tile": {"id": 9301}, "toDashboard": 412}, "dashboards/415/move_tile/") == (
        403,
        denied("You don't have edit permissions for this dashboard."),
    )
    server.add_dashboard("Has WAU", dashboard_id=600, tiles=[{"insight": {"id": 2301}}])
    assert await move({"tile": {"id": 9001}, "toDashboard": 600}, "dashboards/412/move_tile/") == (
        400,
        invalid("Invalid request data for moving tile."),
    )
    reply = await api.post("dashboards/388/move_tile/", {"tile": {"id": 9003}, "toDashboard": 412})
    assert reply.status == 405


async def test_move_tile_new_flavour() -> None:
    async with (
        FakePostHog(move_tile_flavour="new") as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(server, session)
        reply = await api.patch(
            "dashboards/412/move_tile/", {"tile": {"id": 9003}, "toDashboard": 388}
        )
        assert (reply.status, reply.json()) == (
            400,
            invalid("This field is required.", "to_dashboard", "required"),
        )
        reply = await api.post(
            "dashboards/412/move_tile/", {"tile": {"id": 9003}, "to_dashboard": 388}
        )
        assert reply.status == 200
        reader = server.add_key(scopes=["dashboard:read"])
        reply = await api.patch(
            "dashboards/388/move_tile/", {"tile": {"id": 9003}, "to_dashboard": 412}, key=reader
        )
        assert reply.json() == denied("API key missing required scope 'dashboard:write'")


# --------------------------------------------------------------------------------------------
# create_from_template_json

TEMPLATE = {
    "template_name": "Launch tracker",
    "dashboard_description": "Everything about the launch",
    "dashboard_filters": {"date_from": "-14d"},
    "tags": ["Launch"],
    "tiles": [
        {
            "type": "INSIGHT",
            "name": "Signups",
            "description": "Daily signups",
            "query": {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}},
            "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 5}},
            "color": "blue",
        },
        {"type": "TEXT", "body": "Launch notes", "layouts": {"sm": {"x": 6, "y": 0}}},
        {"type": "BUTTON", "url": "/x"},
    ],
}


async def test_create_from_template_json(api: Api, server: FakePostHog) -> None:
    server.allow_pak_on_unscoped_actions = True
    reply = await api.post("dashboards/create_from_template_json/", {"template": TEMPLATE})
    assert reply.status == 200
    body = reply.json()
    assert (body["name"], body["description"]) == ("Launch tracker", "Everything about the launch")
    assert (body["filters"], body["tags"], body["creation_mode"]) == (
        {"date_from": "-14d"},
        ["launch"],
        "default",
    )
    insight, text = body["tiles"][0]["insight"], body["tiles"][1]["text"]
    assert (insight["name"], insight["is_sample"], insight["saved"]) == ("Signups", True, False)
    assert insight["created_by"]["id"] == 1043
    assert (text["body"], text["created_by"]) == ("Launch notes", None)
    assert len(body["tiles"]) == 2


async def test_create_from_template_json_errors(api: Api, server: FakePostHog) -> None:
    server.allow_pak_on_unscoped_actions = True
    path = "dashboards/create_from_template_json/"
    reply = await api.post(path, {"template": {"tiles": [{"type": "TEXT", "body": "hi"}]}})
    body = reply.json()
    assert (reply.status, body["type"], body["code"], body["attr"]) == (
        400,
        "validation_error",
        "invalid_input",
        None,
    )
    assert "'template_name' is a required property" in body["detail"]
    assert "Failed validating 'required' in schema" in body["detail"]
    assert "On instance:\n    {'tiles': [{'type': 'TEXT', 'body': 'hi'}]}" in body["detail"]
    empty = dict(TEMPLATE, tiles=[])
    assert "[] should be non-empty" in (await api.post(path, {"template": empty})).json()["detail"]
    wrong = dict(TEMPLATE, dashboard_filters=[])
    detail = (await api.post(path, {"template": wrong})).json()["detail"]
    assert detail.startswith("[] is not of type 'object'")
    before = set(server.dashboards)
    untyped = dict(TEMPLATE, tiles=[{"body": "no type"}])
    assert (await api.post(path, {"template": untyped})).status == 500
    assert set(server.dashboards) == before
    assert (await api.post(path, {"nothing": 1})).status == 500
    reply = await api.call("POST", path, data={"template": "x"})
    assert reply.status == 415


# --------------------------------------------------------------------------------------------
# collaborators


async def test_collaborators_list(api: Api) -> None:
    reply = await api.get("dashboards/415/collaborators/")
    assert reply.status == 200
    items = reply.json()
    assert isinstance(items, list)
    assert [item["user"]["uuid"] for item in items] == [LENA_UUID]
    assert list(items[0]) == list(load_fixture("collaborator.json"))
    for path in ("dashboards/999999/collaborators/", "dashboards/470/collaborators/"):
        reply = await api.get(path)
        expected = load_fixture("error_examples.json")["collaborators_dashboard_not_found"]["body"]
        assert (reply.status, reply.json()) == (404, expected)


async def test_collaborator_validation_order(api: Api, server: FakePostHog) -> None:
    async def add(dashboard: int, body: Any) -> tuple[int, Any]:
        reply = await api.post(f"dashboards/{dashboard}/collaborators/", body)
        return reply.status, reply.json()

    examples = load_fixture("error_examples.json")
    # 1. edit rights come first, even before a malformed body is looked at.
    assert await add(415, {}) == (403, examples["no_edit_permission"]["body"])
    # 2. field errors; ``level`` is declared before ``user_uuid``.
    assert await add(420, {}) == (400, invalid("This field is required.", "level", "required"))
    assert await add(420, {"level": 99, "user_uuid": "x"}) == (
        400,
        invalid('"99" is not a valid choice.', "level", "invalid_choice"),
    )
    assert await add(420, {"level": 37}) == (
        400,
        invalid("This field is required.", "user_uuid", "required"),
    )
    assert await add(420, {"level": 37, "user_uuid": "x"}) == (
        400,
        invalid("Must be a valid UUID.", "user_uuid"),
    )
    # 3. the lowest restriction level.
    assert await add(412, {"level": 37, "user_uuid": LENA_UUID}) == (
        400,
        examples["collaborator_on_unrestricted_dashboard"]["body"],
    )
    # 4-8.
    steps = [
        (
            {"level": 21, "user_uuid": LENA_UUID},
            "Only edit access can be explicitly specified currently.",
        ),
        (
            {"level": 37, "user_uuid": "00000000-0000-0000-0000-000000000000"},
            "User does not exist.",
        ),
        ({"level": 37, "user_uuid": ALEX_UUID}, "User does not exist."),
        (
            {"level": 37, "user_uuid": SAM_UUID},
            "Cannot add collaborators that have no access to the project.",
        ),
        (
            {"level": 37, "user_uuid": PRIYA_UUID},
            examples["collaborator_is_owner"]["body"]["detail"],
        ),
        (
            {"level": 37, "user_uuid": TOMAS_UUID},
            examples["collaborator_is_owner"]["body"]["detail"],
        ),
    ]
    for body, detail in steps:
        assert await add(420, body) == (400, invalid(detail)), body
    status, created = await add(420, {"level": "37", "user_uuid": LENA_UUID})
    assert status == 201
    assert (created["dashboard_id"], created["level"], created["user"]["id"]) == (420, 37, 1102)
    assert created["added_at"] == created["updated_at"]
    assert await add(420, {"level": 37, "user_uuid": LENA_UUID}) == (
        400,
        invalid("User already is a collaborator."),
    )
    lena = server.add_key(user_id=1102)
    assert (await api.patch("dashboards/420/", {"name": "SEO"}, key=lena)).status == 200
    server.advanced_permissions = False
    assert (await add(420, {"level": 37, "user_uuid": SAM_UUID}))[1]["detail"] == (
        "Cannot add collaborators to a dashboard on the lowest restriction level."
    )


async def test_collaborator_remove(api: Api, server: FakePostHog) -> None:
    server.add_collaborator(420, 1102)
    reply = await api.delete(f"dashboards/420/collaborators/{LENA_UUID}/")
    assert (reply.status, reply.body) == (204, b"")
    reply = await api.delete(f"dashboards/420/collaborators/{LENA_UUID}/")
    assert (reply.status, reply.json()) == (404, not_found())
    reply = await api.delete(f"dashboards/415/collaborators/{LENA_UUID}/")
    assert reply.status == 403
    server.add_collaborator(412, 1102)
    reply = await api.delete(f"dashboards/412/collaborators/{LENA_UUID}")
    assert reply.json() == invalid(
        "Cannot remove collaborators from a dashboard on the lowest restriction level."
    )
    assert server.collaborators(412) != []


# --------------------------------------------------------------------------------------------
# sharing


async def test_sharing_unsaved_config_is_fresh_every_time(api: Api, server: FakePostHog) -> None:
    first = (await api.get("dashboards/388/sharing/")).json()
    second = (await api.get("dashboards/388/sharing/")).json()
    assert first["access_token"] != second["access_token"]
    assert len(first["access_token"]) == 30
    first["access_token"] = second["access_token"] = ""
    assert (
        first
        == second
        == {
            "created_at": None,
            "enabled": False,
            "access_token": "",
            "settings": None,
            "password_required": False,
            "share_passwords": [],
        }
    )
    assert server.sharing_configuration(388) is None
    saved = (await api.get("dashboards/412/sharing/")).json()
    assert saved == load_fixture("sharing_configuration.json")


async def test_sharing_patch_and_refresh() -> None:
    timer = FakeTimer()
    async with FakePostHog(timer=timer) as server, aiohttp.ClientSession() as session:
        api = Api(server, session)
        settings = {"whitelabel": True, "bogus": 1, "legend": None}
        reply = await api.patch("dashboards/388/sharing/", {"enabled": True, "settings": settings})
        body = reply.json()
        assert (reply.status, body["enabled"], body["settings"]) == (
            200,
            True,
            {"whitelabel": True},
        )
        assert body["created_at"] is not None
        again = (await api.get("dashboards/388/sharing/")).json()
        assert again == body
        assert (await api.get("dashboards/388/")).json()["is_shared"] is True
        refreshed = (await api.post("dashboards/388/sharing/refresh/")).json()
        assert refreshed["access_token"] != body["access_token"]
        assert (refreshed["enabled"], refreshed["settings"]) == (True, {"whitelabel": True})
        assert server.is_share_token_valid(refreshed["access_token"])
        assert server.is_share_token_valid(body["access_token"])
        timer.now += 301
        assert not server.is_share_token_valid(body["access_token"])
        reply = await api.patch("dashboards/388/sharing/", {"settings": "x"})
        assert reply.json() == invalid("Invalid settings format", "settings")
        never_saved = (await api.post("dashboards/401/sharing/refresh/")).json()
        assert (never_saved["enabled"], never_saved["created_at"] is not None) == (False, True)


async def test_sharing_permissions(api: Api, server: FakePostHog) -> None:
    reply = await api.patch("dashboards/388/sharing/", {"password_required": True})
    assert (reply.status, reply.json()["password_required"]) == (200, True)
    server.advanced_permissions = False
    reply = await api.patch("dashboards/401/sharing/", {"password_required": True})
    expected = load_fixture("error_examples.json")["sharing_password_requires_feature"]["body"]
    assert (reply.status, reply.json()) == (403, expected)
    server.advanced_permissions = True
    reply = await api.patch("dashboards/415/sharing/", {"enabled": True})
    assert reply.json() == denied("You don't have edit permissions for this dashboard.")
    assert (await api.post("dashboards/415/sharing/refresh/")).status == 403
    server.public_sharing = False
    reply = await api.patch("dashboards/401/sharing/", {"enabled": True})
    assert reply.json() == denied("Public sharing is disabled for this organization.")
    reply = await api.get("dashboards/999999/sharing/")
    assert (reply.status, reply.json()) == (404, not_found("Dashboard not found."))


# --------------------------------------------------------------------------------------------
# throttling


async def test_burst_throttle_per_key() -> None:
    timer = FakeTimer()
    async with (
        FakePostHog(burst_limit=3, timer=timer, retry_after_header=False) as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(server, session)
        assert [(await api.get("dashboards/412/")).status for _ in range(3)] == [200] * 3
        reply = await api.get("dashboards/412/")
        assert (reply.status, reply.json()) == (
            429,
            error(
                "throttled_error",
                "throttled",
                "Request was throttled. Expected available in 60 seconds.",
            ),
        )
        assert "Retry-After" not in reply.headers
        other = server.add_key()
        assert (await api.get("dashboards/412/", key=other)).status == 200
        # Unauthenticated requests never reach the throttle.
        assert (await api.get("dashboards/", key="phx_wrong")).status == 401
        timer.now += 59.5
        reply = await api.get("dashboards/")
        assert reply.json()["detail"] == "Request was throttled. Expected available in 1 second."
        server.retry_after_header = True
        reply = await api.get("dashboards/")
        assert reply.headers["Retry-After"] == "1"
        timer.now += 1
        assert (await api.get("dashboards/")).status == 200


async def test_sustained_throttle() -> None:
    timer = FakeTimer()
    async with (
        FakePostHog(sustained_limit=2, timer=timer, retry_after_header=True) as server,
        aiohttp.ClientSession() as session,
    ):
        api = Api(server, session)
        assert (await api.get("dashboards/")).status == 200
        timer.now += 100
        assert (await api.get("dashboards/")).status == 200
        reply = await api.get("dashboards/")
        # DRF divides the remaining window by the requests that will then be available.
        assert reply.json()["detail"] == (
            "Request was throttled. Expected available in 3500 seconds."
        )
        assert reply.headers["Retry-After"] == "3500"


# --------------------------------------------------------------------------------------------
# programmatic setup


async def test_add_dashboard_with_builders(api: Api, server: FakePostHog) -> None:
    created = server.add_dashboard(
        "Built",
        created_by=1077,
        pinned=True,
        tags=["ops"],
        tiles=[
            trends_tile("Logins", data=(1, 2, 3)),
            funnel_tile("Checkout", steps=(("cart", 100), ("paid", 40))),
            number_tile("Revenue", value=99.5),
            text_tile("Notes"),
        ],
    )
    assert created["created_by"]["id"] == 1077
    assert created["user_access_level"] == "editor"
    detail = (await api.get(f"dashboards/{created['id']}/")).json()
    kinds = [tile["insight"]["query"]["source"]["kind"] for tile in detail["tiles"][:3]]
    assert kinds == ["TrendsQuery", "FunnelsQuery", "TrendsQuery"]
    assert detail["tiles"][0]["insight"]["result"][0]["data"] == [1.0, 2.0, 3.0]
    assert detail["tiles"][1]["insight"]["result"][1]["count"] == 40
    assert detail["tiles"][2]["insight"]["result"][0]["aggregated_value"] == 99.5
    assert detail["tiles"][0]["insight"]["created_by"]["id"] == 1077
    assert detail["tiles"][3]["text"]["body"] == "Notes"
    assert [t["layouts"]["sm"]["y"] for t in detail["tiles"]] == [0, 0, 5, 5]
    assert server.dashboards[created["id"]]["pinned"] is True
    with pytest.raises(ValueError, match="unknown user"):
        server.add_dashboard("Nobody's", created_by=424242)


async def test_rejected_tile_values_change_nothing(api: Api) -> None:
    body = {
        "name": "Renamed",
        "tiles": [{"id": 9001, "color": "red"}, {"id": 9002, "deleted": "maybe"}],
    }
    reply = await api.patch("dashboards/412/", body)
    assert (reply.status, reply.json()) == (400, invalid("Must be a valid boolean.", "deleted"))
    detail = (await api.get("dashboards/412/")).json()
    assert (detail["name"], detail["tiles"][0]["color"]) == ("Growth overview", "blue")
