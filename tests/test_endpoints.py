"""Every endpoint of ``ph.dashboards`` (except stream_tiles) through the real client:
method, path, query and body on the wire, the model returned, and arguments refused
before anything is sent."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses
from conftest import API_KEY, BASE, CannedResponse, RecordingServer, load_fixture

import posthog_dash_async as pda
from posthog_dash_async.models import Layout
from posthog_dash_async.testing import FakePostHog

USER = "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3"
QUICK_FILTER = "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001"


@pytest.fixture
def detail() -> dict[str, Any]:
    return load_fixture("dashboard_detail.json")


def template() -> dict[str, Any]:
    return {
        "template_name": "Weekly review",
        "dashboard_description": "What happened this week",
        "dashboard_filters": {"date_from": "-7d"},
        "tags": ["review"],
        "variables": [
            {
                "id": "VAR_1",
                "name": "Event",
                "type": "event",
                "default": {"id": "$pageview"},
                "description": "The event",
                "required": True,
            }
        ],
        "tiles": [
            {"type": "TEXT", "body": "# Review", "layouts": {}, "color": None},
            {
                "type": "INSIGHT",
                "name": "Pageviews",
                "description": "",
                "query": {"kind": "InsightVizNode"},
                "layouts": {},
                "color": "blue",
            },
        ],
    }


def only(recorder: RecordingServer) -> Any:
    assert len(recorder.requests) == 1
    return recorder.requests[0]


# --- list -------------------------------------------------------------------------------


async def test_list_without_filters(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("GET", "dashboards/", json=load_fixture("dashboards_list_page.json"))
    page = await ph.dashboards.list()
    seen = only(recorder)
    assert (seen.method, seen.path, seen.query) == ("GET", BASE + "dashboards/", [])
    assert isinstance(page, pda.Page)
    assert page.count == 7
    assert page.next is not None
    assert all(type(d) is pda.DashboardSummary for d in page.results)
    assert [d.id for d in page.results] == [415, 412, 377]


async def test_list_with_every_filter(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("GET", "dashboards/", json={"count": 0, "next": None, "results": []})
    page = await ph.dashboards.list(
        limit=3,
        offset=6,
        tags=["growth", "board view"],
        exclude_generated=True,
        creation_mode="unlisted",
        search="weekly",
    )
    assert page.results == []
    assert only(recorder).query == [
        ("limit", "3"),
        ("offset", "6"),
        ("tags", "growth"),
        ("tags", "board view"),
        ("exclude_generated", "true"),
        ("creation_mode", "unlisted"),
        ("search", "weekly"),
    ]


async def test_list_offset_zero_and_false_filter(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    recorder.reply("GET", "dashboards/", json={"count": 0, "next": None, "results": []})
    await ph.dashboards.list(offset=0, exclude_generated=False, tags=[])
    assert only(recorder).query == [("offset", "0"), ("exclude_generated", "false")]


# --- get --------------------------------------------------------------------------------


async def test_get(recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict) -> None:
    recorder.reply("GET", "dashboards/412/", json=detail)
    dashboard = await ph.dashboards.get(412)
    seen = only(recorder)
    assert (seen.method, seen.path, seen.query, seen.body) == (
        "GET",
        BASE + "dashboards/412/",
        [],
        b"",
    )
    assert type(dashboard) is pda.Dashboard
    assert dashboard.id == 412
    assert [t.id for t in dashboard.tiles] == [9001, 9002, 9003]


@pytest.mark.parametrize(
    ("refresh", "sent"),
    [("blocking", "blocking"), ("force_cache", "force_cache"), (True, "true"), (False, "false")],
)
async def test_get_refresh(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict, refresh: Any, sent: str
) -> None:
    recorder.reply("GET", "dashboards/412/", json=detail)
    await ph.dashboards.get(412, refresh=refresh)
    assert only(recorder).query == [("refresh", sent)]


async def test_get_overrides(recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict) -> None:
    recorder.reply("GET", "dashboards/412/", json=detail)
    variable = "0190aaaa-0000-7000-8000-000000000009"
    await ph.dashboards.get(
        412,
        refresh="blocking",
        filters_override={"date_from": "-30d", "properties": []},
        variables_override={variable: {"code_name": "country", "value": "FR"}},
    )
    assert only(recorder).query == [
        ("refresh", "blocking"),
        ("filters_override", '{"date_from":"-30d","properties":[]}'),
        ("variables_override", '{"' + variable + '":{"code_name":"country","value":"FR"}}'),
    ]


# --- create -----------------------------------------------------------------------------


async def test_create_sends_only_given_keys(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/", status=201, json=detail)
    dashboard = await ph.dashboards.create(name="Growth overview", pinned=True)
    seen = only(recorder)
    assert (seen.method, seen.path) == ("POST", BASE + "dashboards/")
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {"name": "Growth overview", "pinned": True}
    assert type(dashboard) is pda.Dashboard
    assert dashboard.id == 412


async def test_create_with_no_arguments_sends_an_empty_object(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/", status=201, json=detail)
    await ph.dashboards.create()
    assert only(recorder).json == {}


async def test_create_with_every_field(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/", status=201, json=detail)
    await ph.dashboards.create(
        name="Board",
        description="For the board",
        pinned=False,
        tags=("finance", "board"),  # type: ignore[arg-type]
        restriction_level=37,
        use_template="DEFAULT_APP",
        filters={"date_from": "-7d"},
        breakdown_colors=[{"breakdownValue": "a", "colorToken": "preset-1"}],
        data_color_theme_id=3,
        quick_filter_ids=[QUICK_FILTER.upper()],
        create_in_folder="Unfiled/Boards",
    )
    assert only(recorder).json == {
        "name": "Board",
        "description": "For the board",
        "pinned": False,
        "tags": ["finance", "board"],
        "restriction_level": 37,
        "use_template": "DEFAULT_APP",
        "filters": {"date_from": "-7d"},
        "breakdown_colors": [{"breakdownValue": "a", "colorToken": "preset-1"}],
        "data_color_theme_id": 3,
        "quick_filter_ids": [QUICK_FILTER],
        "_create_in_folder": "Unfiled/Boards",
    }


async def test_create_sends_null_for_none(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/", status=201, json=detail)
    await ph.dashboards.create(name=None, data_color_theme_id=None, breakdown_colors=None)
    assert only(recorder).json == {
        "name": None,
        "data_color_theme_id": None,
        "breakdown_colors": None,
    }


async def test_create_duplicate(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/", status=201, json=detail)
    await ph.dashboards.create(name="Copy", use_dashboard=412, duplicate_tiles=True)
    assert only(recorder).json == {"name": "Copy", "use_dashboard": 412, "duplicate_tiles": True}


async def test_create_server_validation_error(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    example = load_fixture("error_examples.json")["unknown_template_key"]
    recorder.reply("POST", "dashboards/", status=400, json=example["body"])
    with pytest.raises(pda.BadRequestError) as info:
        await ph.dashboards.create(use_template="QUARTERLY_REVIEW")
    assert info.value.attr == "use_template"
    assert info.value.detail == "Invalid template provided: QUARTERLY_REVIEW"


# --- update, delete, restore ------------------------------------------------------------


async def test_update_sends_only_given_keys(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("PATCH", "dashboards/412/", json=detail)
    dashboard = await ph.dashboards.update(412, description="", tags=[])
    seen = only(recorder)
    assert (seen.method, seen.path) == ("PATCH", BASE + "dashboards/412/")
    assert seen.json == {"description": "", "tags": []}
    assert type(dashboard) is pda.Dashboard


async def test_update_with_every_field(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("PATCH", "dashboards/412/", json=detail)
    tiles = [
        {"text": {"body": "hello"}, "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 2}}},
        {"id": 9001, "color": "blue"},
        {"id": 9002, "deleted": True},
    ]
    await ph.dashboards.update(
        412,
        name=None,
        description="d",
        pinned=True,
        tags=["a"],
        restriction_level=21,
        filters={"date_from": "-14d"},
        variables={"v": {"code_name": "c", "value": 1}},
        breakdown_colors={"a": "b"},
        data_color_theme_id=None,
        quick_filter_ids=[],
        tiles=tiles,
    )
    assert only(recorder).json == {
        "name": None,
        "description": "d",
        "pinned": True,
        "tags": ["a"],
        "restriction_level": 21,
        "filters": {"date_from": "-14d"},
        "variables": {"v": {"code_name": "c", "value": 1}},
        "breakdown_colors": {"a": "b"},
        "data_color_theme_id": None,
        "quick_filter_ids": [],
        "tiles": tiles,
    }


async def test_delete_is_a_soft_delete(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    deleted = {**detail, "deleted": True, "tiles": []}
    recorder.reply("PATCH", "dashboards/412/", json=deleted)
    dashboard = await ph.dashboards.delete(412)
    seen = only(recorder)
    assert (seen.method, seen.path) == ("PATCH", BASE + "dashboards/412/")
    assert seen.json == {"deleted": True}
    assert type(dashboard) is pda.Dashboard
    assert dashboard.deleted is True
    assert dashboard.tiles == []


async def test_delete_with_insights(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("PATCH", "dashboards/412/", json={**detail, "deleted": True, "tiles": []})
    await ph.dashboards.delete(412, delete_insights=True)
    await ph.dashboards.delete(412, delete_insights=False)
    first, second = recorder.requests
    assert first.json == {"deleted": True, "delete_insights": True}
    assert second.json == {"deleted": True}


async def test_restore(recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict) -> None:
    recorder.reply("PATCH", "dashboards/412/", json=detail)
    dashboard = await ph.dashboards.restore(412)
    seen = only(recorder)
    assert (seen.method, seen.path, seen.json) == (
        "PATCH",
        BASE + "dashboards/412/",
        {"deleted": False},
    )
    assert dashboard.deleted is False
    assert len(dashboard.tiles) == 3


async def test_hard_delete_through_request_is_405(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    recorder.reply("DELETE", "dashboards/412/", status=405)
    with pytest.raises(pda.MethodNotAllowedError):
        await ph.request("DELETE", "dashboards/412/")


# --- move_tile --------------------------------------------------------------------------


async def test_move_tile(recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict) -> None:
    source = {**detail, "tiles": detail["tiles"][1:]}
    recorder.reply("PATCH", "dashboards/412/move_tile/", json=source)
    dashboard = await ph.dashboards.move_tile(412, 9001, 415)
    seen = only(recorder)
    assert (seen.method, seen.path) == ("PATCH", BASE + "dashboards/412/move_tile/")
    assert seen.json == {"tile": {"id": 9001}, "toDashboard": 415, "to_dashboard": 415}
    assert type(dashboard) is pda.Dashboard
    assert dashboard.id == 412
    assert [t.id for t in dashboard.tiles] == [9002, 9003]


async def test_move_tile_refused_for_api_keys(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    example = load_fixture("error_examples.json")["action_unsupported_for_personal_api_key"]
    recorder.reply("PATCH", "dashboards/412/move_tile/", status=403, json=example["body"])
    with pytest.raises(pda.UnsupportedForApiKeyError):
        await ph.dashboards.move_tile(412, 9001, 415)


# --- create_from_template_json ----------------------------------------------------------


async def test_create_from_template_json(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/create_from_template_json/", json=detail)
    dashboard = await ph.dashboards.create_from_template_json(template())
    seen = only(recorder)
    assert (seen.method, seen.path) == ("POST", BASE + "dashboards/create_from_template_json/")
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {"template": template()}
    assert type(dashboard) is pda.Dashboard


async def test_create_from_template_json_options(
    recorder: RecordingServer, ph: pda.AsyncPostHog, detail: dict
) -> None:
    recorder.reply("POST", "dashboards/create_from_template_json/", json=detail)
    await ph.dashboards.create_from_template_json(
        template(), creation_context="onboarding", create_in_folder="Unfiled/Templates"
    )
    assert only(recorder).json == {
        "template": template(),
        "creation_context": "onboarding",
        "_create_in_folder": "Unfiled/Templates",
    }


# --- collaborators ----------------------------------------------------------------------


async def test_collaborators_list(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    raw = load_fixture("collaborator.json")
    recorder.reply("GET", "dashboards/415/collaborators/", json=[raw])
    collaborators = await ph.dashboards.collaborators.list(415)
    seen = only(recorder)
    assert (seen.method, seen.path) == ("GET", BASE + "dashboards/415/collaborators/")
    assert type(collaborators) is list
    assert len(collaborators) == 1
    assert type(collaborators[0]) is pda.Collaborator
    assert collaborators[0].user.uuid == USER


async def test_collaborators_add(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    raw = load_fixture("collaborator.json")
    recorder.reply("POST", "dashboards/415/collaborators/", status=201, json=raw)
    collaborator = await ph.dashboards.collaborators.add(415, USER.upper())
    await ph.dashboards.collaborators.add(415, uuid.UUID(USER), level=37)
    for seen in recorder.requests:
        assert (seen.method, seen.path) == ("POST", BASE + "dashboards/415/collaborators/")
        assert seen.json == {"user_uuid": USER, "level": 37}
    assert type(collaborator) is pda.Collaborator
    assert collaborator.id == raw["id"]
    assert collaborator.dashboard_id == 415


async def test_collaborators_add_refused_by_server(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    example = load_fixture("error_examples.json")["collaborator_on_unrestricted_dashboard"]
    recorder.reply("POST", "dashboards/415/collaborators/", status=400, json=example["body"])
    with pytest.raises(pda.BadRequestError, match="lowest restriction level"):
        await ph.dashboards.collaborators.add(415, USER)


async def test_collaborators_remove(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    recorder.reply("DELETE", f"dashboards/415/collaborators/{USER}/", status=204)
    result = await ph.dashboards.collaborators.remove(415, "{" + USER.upper() + "}")
    seen = only(recorder)
    assert (seen.method, seen.path) == ("DELETE", BASE + f"dashboards/415/collaborators/{USER}/")
    assert seen.body == b""
    assert result is None


# --- sharing ----------------------------------------------------------------------------


async def test_sharing_get(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    raw = load_fixture("sharing_configuration.json")
    recorder.reply("GET", "dashboards/412/sharing/", json=raw)
    sharing = await ph.dashboards.sharing.get(412)
    seen = only(recorder)
    assert (seen.method, seen.path) == ("GET", BASE + "dashboards/412/sharing/")
    assert type(sharing) is pda.SharingConfiguration
    assert sharing.access_token == raw["access_token"]
    assert sharing.enabled is True


async def test_sharing_update(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    raw = load_fixture("sharing_configuration.json")
    recorder.reply("PATCH", "dashboards/412/sharing/", json=raw)
    sharing = await ph.dashboards.sharing.update(
        412, enabled=True, settings={"whitelabel": True, "noHeader": False}
    )
    await ph.dashboards.sharing.update(412, settings=None)
    await ph.dashboards.sharing.update(412, password_required=False)
    first, second, third = recorder.requests
    assert (first.method, first.path) == ("PATCH", BASE + "dashboards/412/sharing/")
    assert first.json == {"enabled": True, "settings": {"whitelabel": True, "noHeader": False}}
    assert second.json == {"settings": None}
    assert third.json == {"password_required": False}
    assert type(sharing) is pda.SharingConfiguration


async def test_sharing_password_refused_by_server(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    example = load_fixture("error_examples.json")["sharing_password_requires_feature"]
    recorder.reply("PATCH", "dashboards/412/sharing/", status=403, json=example["body"])
    with pytest.raises(pda.PermissionDeniedError) as info:
        await ph.dashboards.sharing.update(412, password_required=True)
    assert info.value.detail == example["body"]["error"]


async def test_sharing_refresh(recorder: RecordingServer, ph: pda.AsyncPostHog) -> None:
    raw = {**load_fixture("sharing_configuration.json"), "access_token": "n" * 30}
    recorder.reply("POST", "dashboards/412/sharing/refresh/", json=raw)
    sharing = await ph.dashboards.sharing.refresh(412)
    seen = only(recorder)
    assert (seen.method, seen.path, seen.body) == (
        "POST",
        BASE + "dashboards/412/sharing/refresh/",
        b"",
    )
    assert sharing.access_token == "n" * 30


# --- canned responses through aioresponses ----------------------------------------------


async def test_endpoints_with_aioresponses(detail: dict) -> None:
    host = "https://us.posthog.com"
    base = f"{host}/api/projects/42/dashboards/"
    with aioresponses() as mocked:
        canned = {"response_class": CannedResponse}
        mocked.get(f"{base}412/", payload=detail, **canned)
        mocked.patch(f"{base}412/", payload={**detail, "deleted": True, "tiles": []}, **canned)
        mocked.post(
            f"{base}415/collaborators/",
            status=201,
            payload=load_fixture("collaborator.json"),
            **canned,
        )
        mocked.delete(f"{base}415/collaborators/{USER}/", status=204, body=b"", **canned)
        mocked.get(f"{base}999/", status=404, payload={"detail": "Not found."}, **canned)
        async with pda.AsyncPostHog(
            api_key=API_KEY, host=host, project_id=42, rate_limit=None, max_retries=0
        ) as ph:
            assert (await ph.dashboards.get(412)).id == 412
            assert (await ph.dashboards.delete(412)).deleted is True
            assert (await ph.dashboards.collaborators.add(415, USER)).dashboard_id == 415
            assert await ph.dashboards.collaborators.remove(415, USER) is None
            with pytest.raises(pda.NotFoundError):
                await ph.dashboards.get(999)
        calls = {(method, str(url)): c for (method, url), c in mocked.requests.items()}
        patch = calls[("PATCH", f"{base}412/")][0]
        assert patch.kwargs["data"] == b'{"deleted":true}'
        assert patch.kwargs["headers"]["Authorization"] == f"Bearer {API_KEY}"
        post = calls[("POST", f"{base}415/collaborators/")][0]
        assert post.kwargs["data"] == b'{"user_uuid":"%s","level":37}' % USER.encode()


# --- arguments refused before anything is sent ------------------------------------------

Call = Callable[[pda.AsyncPostHog], Awaitable[Any]]

BAD_IDS: list[Any] = [True, False, 0, -1, "12", None, 1.0]


def _id_cases(name: str, make: Callable[[pda.AsyncPostHog, Any], Awaitable[Any]]) -> list[Any]:
    return [
        pytest.param((lambda ph, bad=bad: make(ph, bad)), id=f"{name}-id={bad!r}")
        for bad in BAD_IDS
    ]


BAD_CALLS: list[Any] = [
    *_id_cases("get", lambda ph, i: ph.dashboards.get(i)),
    *_id_cases("update", lambda ph, i: ph.dashboards.update(i, name="x")),
    *_id_cases("delete", lambda ph, i: ph.dashboards.delete(i)),
    *_id_cases("restore", lambda ph, i: ph.dashboards.restore(i)),
    *_id_cases("move_tile-source", lambda ph, i: ph.dashboards.move_tile(i, 1, 2)),
    *_id_cases("move_tile-tile", lambda ph, i: ph.dashboards.move_tile(1, i, 2)),
    *_id_cases("move_tile-target", lambda ph, i: ph.dashboards.move_tile(1, 2, i)),
    *_id_cases("collaborators.list", lambda ph, i: ph.dashboards.collaborators.list(i)),
    *_id_cases("collaborators.add", lambda ph, i: ph.dashboards.collaborators.add(i, USER)),
    *_id_cases("collaborators.remove", lambda ph, i: ph.dashboards.collaborators.remove(i, USER)),
    *_id_cases("sharing.get", lambda ph, i: ph.dashboards.sharing.get(i)),
    *_id_cases("sharing.update", lambda ph, i: ph.dashboards.sharing.update(i, enabled=True)),
    *_id_cases("sharing.refresh", lambda ph, i: ph.dashboards.sharing.refresh(i)),
    *_id_cases("create-use_dashboard", lambda ph, i: ph.dashboards.create(use_dashboard=i)),
    *[
        pytest.param(
            (lambda ph, bad=bad: ph.dashboards.create(data_color_theme_id=bad)),
            id=f"create-data_color_theme_id={bad!r}",
        )
        for bad in BAD_IDS
        if bad is not None  # None is sent as null: the field is nullable
    ],
    pytest.param(lambda ph: ph.dashboards.get(1, refresh="sometimes"), id="get-refresh"),
    pytest.param(lambda ph: ph.dashboards.get(1, refresh=1), id="get-refresh-int"),
    pytest.param(lambda ph: ph.dashboards.get(1, filters_override=[1]), id="get-filters"),
    pytest.param(lambda ph: ph.dashboards.get(1, variables_override="x"), id="get-variables"),
    pytest.param(lambda ph: ph.dashboards.get(1, timeout=0), id="get-timeout"),
    pytest.param(lambda ph: ph.dashboards.list(limit=0), id="list-limit-0"),
    pytest.param(lambda ph: ph.dashboards.list(limit=True), id="list-limit-bool"),
    pytest.param(lambda ph: ph.dashboards.list(limit="10"), id="list-limit-str"),
    pytest.param(lambda ph: ph.dashboards.list(offset=-1), id="list-offset"),
    pytest.param(lambda ph: ph.dashboards.list(offset=True), id="list-offset-bool"),
    pytest.param(lambda ph: ph.dashboards.list(tags="growth"), id="list-tags-str"),
    pytest.param(lambda ph: ph.dashboards.list(tags=[1]), id="list-tags-int"),
    pytest.param(lambda ph: ph.dashboards.list(exclude_generated="true"), id="list-exclude"),
    pytest.param(lambda ph: ph.dashboards.list(creation_mode="custom"), id="list-mode"),
    pytest.param(lambda ph: ph.dashboards.list(search="x" * 201), id="list-search-long"),
    pytest.param(lambda ph: ph.dashboards.list(search=5), id="list-search-int"),
    pytest.param(lambda ph: ph.dashboards.create(name=5), id="create-name-int"),
    pytest.param(lambda ph: ph.dashboards.create(name="x" * 401), id="create-name-long"),
    pytest.param(lambda ph: ph.dashboards.create(description=None), id="create-description-none"),
    pytest.param(lambda ph: ph.dashboards.create(pinned="yes"), id="create-pinned"),
    pytest.param(lambda ph: ph.dashboards.create(tags="a"), id="create-tags"),
    pytest.param(lambda ph: ph.dashboards.create(restriction_level=99), id="create-level"),
    pytest.param(lambda ph: ph.dashboards.create(restriction_level="37"), id="create-level-str"),
    pytest.param(lambda ph: ph.dashboards.create(restriction_level=37.0), id="create-level-float"),
    pytest.param(
        lambda ph: ph.dashboards.create(use_template="DEFAULT_APP", use_dashboard=3),
        id="create-template-and-dashboard",
    ),
    pytest.param(lambda ph: ph.dashboards.create(use_template=""), id="create-template-empty"),
    pytest.param(lambda ph: ph.dashboards.create(use_template=5), id="create-template-int"),
    pytest.param(lambda ph: ph.dashboards.create(duplicate_tiles=True), id="create-dup-alone"),
    pytest.param(
        lambda ph: ph.dashboards.create(use_dashboard=3, duplicate_tiles="yes"),
        id="create-dup-str",
    ),
    pytest.param(lambda ph: ph.dashboards.create(filters=[1]), id="create-filters-list"),
    pytest.param(lambda ph: ph.dashboards.create(quick_filter_ids=["x"]), id="create-quick-bad"),
    pytest.param(lambda ph: ph.dashboards.create(quick_filter_ids="x"), id="create-quick-str"),
    pytest.param(lambda ph: ph.dashboards.create(breakdown_colors="red"), id="create-colors"),
    pytest.param(lambda ph: ph.dashboards.create(create_in_folder=5), id="create-folder"),
    pytest.param(lambda ph: ph.dashboards.update(1), id="update-empty"),
    pytest.param(lambda ph: ph.dashboards.update(1, filters={}), id="update-filters-empty"),
    pytest.param(lambda ph: ph.dashboards.update(1, variables={}), id="update-variables-empty"),
    pytest.param(lambda ph: ph.dashboards.update(1, filters=[1]), id="update-filters-list"),
    pytest.param(lambda ph: ph.dashboards.update(1, tiles="x"), id="update-tiles-str"),
    pytest.param(lambda ph: ph.dashboards.update(1, tiles=[1]), id="update-tiles-int"),
    pytest.param(lambda ph: ph.dashboards.update(1, restriction_level=99), id="update-level"),
    pytest.param(lambda ph: ph.dashboards.update(1, name=5), id="update-name"),
    pytest.param(lambda ph: ph.dashboards.update(1, pinned=1), id="update-pinned"),
    pytest.param(lambda ph: ph.dashboards.delete(1, delete_insights="yes"), id="delete-flag"),
    pytest.param(lambda ph: ph.dashboards.move_tile(1, 2, 1), id="move_tile-same"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, "not-a-uuid"), id="collab-add-uuid"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, "../../x"), id="collab-add-path"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, None), id="collab-add-none"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, 12345), id="collab-add-int"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, USER, level=99), id="collab-lvl"),
    pytest.param(lambda ph: ph.dashboards.collaborators.add(1, USER, level=True), id="collab-bool"),
    pytest.param(
        lambda ph: ph.dashboards.collaborators.add(1, USER, level=37.0), id="collab-float"
    ),
    pytest.param(
        lambda ph: ph.dashboards.collaborators.remove(1, "../../x"), id="collab-remove-path"
    ),
    pytest.param(lambda ph: ph.dashboards.collaborators.remove(1, ""), id="collab-remove-empty"),
    pytest.param(lambda ph: ph.dashboards.sharing.update(1), id="sharing-update-empty"),
    pytest.param(lambda ph: ph.dashboards.sharing.update(1, enabled="yes"), id="sharing-enabled"),
    pytest.param(lambda ph: ph.dashboards.sharing.update(1, settings=[1]), id="sharing-settings"),
    pytest.param(
        lambda ph: ph.dashboards.sharing.update(1, password_required=1), id="sharing-password"
    ),
]


@pytest.mark.parametrize("call", BAD_CALLS)
async def test_bad_arguments_send_nothing(
    recorder: RecordingServer, ph: pda.AsyncPostHog, call: Call
) -> None:
    with pytest.raises(pda.InvalidArgumentError) as info:
        await call(ph)
    assert isinstance(info.value, ValueError)
    assert API_KEY not in str(info.value)
    assert recorder.requests == []


def _without(key: str) -> dict[str, Any]:
    out = template()
    del out[key]
    return out


def _with(**changes: Any) -> dict[str, Any]:
    return {**template(), **changes}


BAD_TEMPLATES: list[Any] = [
    pytest.param(_without("template_name"), id="no-template_name"),
    pytest.param(_without("dashboard_description"), id="no-description"),
    pytest.param(_without("dashboard_filters"), id="no-filters"),
    pytest.param(_without("tiles"), id="no-tiles"),
    pytest.param({}, id="empty"),
    pytest.param([template()], id="not-a-dict"),
    pytest.param(None, id="none"),
    pytest.param(_with(template_name=5), id="name-int"),
    pytest.param(_with(dashboard_description=None), id="description-none"),
    pytest.param(_with(dashboard_filters=[]), id="filters-list"),
    pytest.param(_with(tiles=[]), id="tiles-empty"),
    pytest.param(_with(tiles={"type": "TEXT"}), id="tiles-dict"),
    pytest.param(_with(tiles=[{"body": "no type"}]), id="tile-without-type"),
    pytest.param(_with(tiles=["TEXT"]), id="tile-not-object"),
    pytest.param(_with(variables=[{"id": "V", "name": "n"}]), id="variable-incomplete"),
    pytest.param(_with(variables={"id": "V"}), id="variables-dict"),
    pytest.param(_with(tags="a"), id="tags-str"),
    pytest.param(_with(extra=object()), id="not-json"),
]


@pytest.mark.parametrize("bad", BAD_TEMPLATES)
async def test_bad_templates_send_nothing(
    recorder: RecordingServer, ph: pda.AsyncPostHog, bad: Any
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await ph.dashboards.create_from_template_json(bad)
    assert recorder.requests == []


async def test_missing_template_keys_are_named(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    with pytest.raises(pda.InvalidArgumentError, match="template_name") as info:
        await ph.dashboards.create_from_template_json({"tiles": [{"type": "TEXT"}]})
    for key in ("template_name", "dashboard_description", "dashboard_filters"):
        assert key in str(info.value)
    with pytest.raises(pda.InvalidArgumentError):
        await ph.dashboards.create_from_template_json(template(), creation_context=5)  # type: ignore[arg-type]
    with pytest.raises(pda.InvalidArgumentError):
        await ph.dashboards.create_from_template_json(template(), create_in_folder=5)  # type: ignore[arg-type]
    assert recorder.requests == []


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda ph: ph.dashboards.stream_tiles(1, layout_size="md"), id="layout-md"),
        pytest.param(lambda ph: ph.dashboards.stream_tiles(1, layout_size="SM"), id="layout-SM"),
        pytest.param(lambda ph: ph.dashboards.stream_tiles(0), id="stream-id-0"),
        pytest.param(lambda ph: ph.dashboards.stream_tiles(True), id="stream-id-bool"),
        pytest.param(lambda ph: ph.dashboards.stream_tiles(1, fallback="no"), id="fallback"),
        pytest.param(lambda ph: ph.dashboards.iter(page_size=0), id="iter-page-size-0"),
        pytest.param(lambda ph: ph.dashboards.iter(page_size=True), id="iter-page-size-bool"),
        pytest.param(lambda ph: ph.dashboards.iter(creation_mode="x"), id="iter-mode"),
        pytest.param(lambda ph: ph.dashboards.iter(tags="a"), id="iter-tags"),
    ],
)
async def test_bad_arguments_of_synchronous_factories(
    recorder: RecordingServer, ph: pda.AsyncPostHog, call: Callable[[pda.AsyncPostHog], Any]
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        call(ph)
    assert recorder.requests == []


async def test_good_arguments_reach_the_server(
    recorder: RecordingServer, ph: pda.AsyncPostHog
) -> None:
    # The counterpart of the tables above: the same calls with good values are sent.
    recorder.reply("GET", "dashboards/1/", json={"id": 1})
    recorder.reply("PATCH", "dashboards/1/", json={"id": 1})
    recorder.reply("GET", "dashboards/1/sharing/", json={})
    await ph.dashboards.get(1, refresh="blocking", filters_override={"a": 1})
    await ph.dashboards.update(1, filters={"date_from": "-1d"})
    await ph.dashboards.sharing.get(1)
    assert [r.method for r in recorder.requests] == ["GET", "PATCH", "GET"]


# --- end to end against the emulator ----------------------------------------------------


async def test_lifecycle_against_fake_posthog() -> None:
    async with (
        FakePostHog(allow_pak_on_unscoped_actions=True) as server,
        pda.AsyncPostHog(
            api_key=server.api_key,
            host=server.url,
            project_id=server.project_id,
            rate_limit=None,
            max_retries=0,
        ) as ph,
    ):
        created = await ph.dashboards.create(name="Lifecycle", description="end to end")
        assert created.creation_mode == "default"
        assert created.tiles == []
        assert (await ph.dashboards.get(created.id)).name == "Lifecycle"

        layout = {"sm": {"x": 0, "y": 0, "w": 6, "h": 2}}
        updated = await ph.dashboards.update(
            created.id, pinned=True, tiles=[{"text": {"body": "hello"}, "layouts": layout}]
        )
        assert updated.pinned is True
        assert [t.kind for t in updated.tiles] == ["text"]
        assert updated.tiles[0].layout() == Layout(x=0, y=0, w=6, h=2)

        listed = await ph.dashboards.list()
        every = [d.id async for d in ph.dashboards.iter(page_size=3)]
        assert len(every) == listed.count == len(set(every))
        assert created.id in every

        source = await ph.dashboards.move_tile(412, 9003, created.id)
        assert 9003 not in [t.id for t in source.tiles]
        assert 9003 in [t.id for t in (await ph.dashboards.get(created.id)).tiles]

        deleted = await ph.dashboards.delete(created.id)
        assert deleted.deleted is True
        assert deleted.tiles == []
        with pytest.raises(pda.NotFoundError):
            await ph.dashboards.get(created.id)
        restored = await ph.dashboards.restore(created.id)
        assert restored.deleted is False
        assert len(restored.tiles) == 2
        with pytest.raises(pda.MethodNotAllowedError):
            await ph.request("DELETE", f"dashboards/{created.id}/")

        sharing = await ph.dashboards.sharing.update(created.id, enabled=True)
        assert sharing.enabled is True
        assert sharing.created_at is not None
        rotated = await ph.dashboards.sharing.refresh(created.id)
        assert rotated.access_token != sharing.access_token
        assert (await ph.dashboards.sharing.get(created.id)).access_token == rotated.access_token

        lena = next(u for u in server.users if u["first_name"] == "Lena")
        added = await ph.dashboards.collaborators.add(420, lena["uuid"])
        assert added.user.uuid == lena["uuid"]
        assert lena["uuid"] in [c.user.uuid for c in await ph.dashboards.collaborators.list(420)]
        assert await ph.dashboards.collaborators.remove(420, lena["uuid"]) is None
        assert await ph.dashboards.collaborators.list(420) == []

        from_template = await ph.dashboards.create_from_template_json(template())
        assert from_template.name == "Weekly review"
        assert len(from_template.tiles) == 2


async def test_unscoped_actions_refused_for_api_keys_by_the_emulator() -> None:
    async with (
        FakePostHog(move_tile_flavour="ref") as server,
        pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=42, rate_limit=None, max_retries=0
        ) as ph,
    ):
        with pytest.raises(pda.UnsupportedForApiKeyError):
            await ph.dashboards.move_tile(412, 9003, 415)
        with pytest.raises(pda.UnsupportedForApiKeyError):
            await ph.dashboards.create_from_template_json(template())
