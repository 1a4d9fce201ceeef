"""The SDK against FakePostHog over a real loopback socket: listing, reading, writing,
collaborators, sharing and the ``request()`` escape hatch.

Every test drives the public API only (``import posthog_dash_async as pda``) with one client,
then checks both what the SDK returned and what the server recorded and stored. Streams,
templates and ``move_tile`` are in ``test_integration_stream.py``; errors, throttling and
retries in ``test_integration_errors.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog, RecordedRequest

BASE = "/api/projects/42/dashboards/"
#: The seed's listed dashboards in server order: pinned first, then by name, no name last.
LISTED = [415, 412, 450, 377, 420, 388, 401, 433]
LENA = "018d7e21-4b6a-7c3f-9e12-0a4b8c6d2f90"  # member with project access
SAM = "018e0b93-2c7d-7f45-8a31-5d9e7b1c4a26"  # in the organisation, no project access
PRIYA = "0189f2c1-7d3e-7a10-8a5e-6b1f0c2d4e71"  # the key's owner


def only(server: FakePostHog, method: str, path: str) -> RecordedRequest:
    """The single recorded request for ``method`` on exactly ``path``."""
    found = [r for r in server.requests if r.method == method and r.path == path]
    assert len(found) == 1, [(r.method, r.path) for r in server.requests]
    return found[0]


def assert_json_call(request: RecordedRequest, server: FakePostHog) -> None:
    """A JSON call: bearer key, JSON accepted, and a JSON content type when there is a body."""
    assert request.headers["Authorization"] == f"Bearer {server.api_key}"
    assert request.headers["Accept"] == "application/json"
    if request.body:
        assert request.headers["Content-Type"] == "application/json"


# --- list and iter ----------------------------------------------------------------------


async def test_list_page_fields_links_and_request(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        middle = await ph.dashboards.list(limit=3, offset=3)
        first = await ph.dashboards.list(limit=3)
        last = await ph.dashboards.list(limit=3, offset=6)
        everything = await ph.dashboards.list()

    assert isinstance(middle, pda.Page)
    assert middle.count == len(LISTED)
    assert [d.id for d in middle.results] == LISTED[3:6]
    assert all(isinstance(d, pda.DashboardSummary) for d in middle.results)
    assert middle.next == f"{server.url}{BASE}?limit=3&offset=6"
    # DRF drops the offset parameter when the previous page starts at 0.
    assert middle.previous == f"{server.url}{BASE}?limit=3"
    assert first.previous is None
    assert first.next == f"{server.url}{BASE}?limit=3&offset=3"
    assert [d.id for d in last.results] == LISTED[6:]
    assert last.next is None
    assert last.previous == f"{server.url}{BASE}?limit=3&offset=3"
    assert [d.id for d in everything.results] == LISTED
    assert everything.next is None
    assert everything.previous is None

    growth = next(d for d in everything.results if d.id == 412)
    assert growth.name == "Growth overview"
    assert growth.pinned
    assert growth.is_shared
    assert growth.tags == ["growth", "weekly"]
    assert growth.created_by is not None
    assert growth.created_by.uuid == PRIYA

    sent = server.requests[0]
    assert (sent.method, sent.path) == ("GET", BASE)
    assert sorted(sent.query.items()) == [("limit", "3"), ("offset", "3")]
    assert sent.body == b""
    assert sent.status == 200
    assert_json_call(sent, server)
    assert "limit" not in server.requests[3].query


async def test_list_filters_tags_generated_and_creation_mode(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        tagged = await ph.dashboards.list(tags=["weekly", "kpi"])
        human = await ph.dashboards.list(exclude_generated=True)
        unlisted = await ph.dashboards.list(creation_mode="unlisted")
        templated = await ph.dashboards.list(creation_mode="template")

    # Any of the tags matches; the order stays the list's order.
    assert [d.id for d in tagged.results] == [412, 388, 401]
    assert tagged.count == 3
    assert [d.id for d in human.results] == [i for i in LISTED if i != 450]
    assert [d.id for d in unlisted.results] == [460]
    assert [d.id for d in templated.results] == [377]

    tags_req, generated_req, unlisted_req, _ = server.requests
    assert tags_req.query.getall("tags") == ["weekly", "kpi"]
    assert list(generated_req.query.items()) == [("exclude_generated", "true")]
    assert list(unlisted_req.query.items()) == [("creation_mode", "unlisted")]


async def test_iter_reads_pages_concurrently_in_server_order(posthog_server: FakePostHog) -> None:
    server = posthog_server
    for index in range(22):
        server.add_dashboard(f"Bulk {index:02d}")
    # Slow answers make overlapping requests visible to the server.
    server.set_delay(0.03)
    server.clear_requests()
    async with connect(server) as ph:
        streamed = [d.id async for d in ph.dashboards.iter(page_size=3)]
        peak = server.max_in_flight
        iter_requests = list(server.requests)
        server.set_delay(None)
        sequential: list[int] = []
        offset = 0
        while True:
            page = await ph.dashboards.list(limit=3, offset=offset)
            sequential.extend(d.id for d in page.results)
            if page.next is None:
                break
            offset += 3

    assert streamed == sequential
    assert len(streamed) == len(set(streamed)) == len(LISTED) + 22
    assert peak > 1
    offsets = sorted(int(r.query.get("offset", "0")) for r in iter_requests)
    assert offsets == list(range(0, len(streamed), 3))
    assert all(r.query["limit"] == "3" and r.path == BASE for r in iter_requests)


async def test_iter_passes_filters_to_every_page(posthog_server: FakePostHog) -> None:
    server = posthog_server
    for index in range(5):
        server.add_dashboard(f"Tagged {index}", tags=["bulk"])
    async with connect(server) as ph:
        ids = [d.id async for d in ph.dashboards.iter(page_size=2, tags=["bulk", "kpi"])]

    assert len(ids) == 6
    assert 388 in ids
    assert len(server.requests) == 3
    assert all(r.query.getall("tags") == ["bulk", "kpi"] for r in server.requests)


# --- get --------------------------------------------------------------------------------


async def test_get_returns_the_detail_with_tiles_in_order(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        dashboard = await ph.dashboards.get(412)

    assert isinstance(dashboard, pda.Dashboard)
    assert dashboard.id == 412
    assert dashboard.name == "Growth overview"
    assert [t.id for t in dashboard.tiles] == [9001, 9002, 9003]
    assert [t.order for t in dashboard.tiles] == [0, 1, 2]
    trends, funnel, text = dashboard.tiles
    assert trends.insight is not None
    assert trends.insight.result
    assert funnel.insight is not None
    assert funnel.insight.query is not None
    assert text.text is not None
    assert text.insight is None
    assert dashboard.filters == {"date_from": "-30d"}
    sent = only(server, "GET", f"{BASE}412/")
    assert not sent.query
    assert_json_call(sent, server)


async def test_get_with_refresh_and_filters_override(posthog_server: FakePostHog) -> None:
    server = posthog_server
    override = {"date_from": "-7d", "properties": [{"key": "$browser", "value": "Firefox"}]}
    async with connect(server) as ph:
        dashboard = await ph.dashboards.get(412, refresh="blocking", filters_override=override)
        plain = await ph.dashboards.get(412, refresh=False)

    # The override applies to this response only; the stored filters stay.
    assert dashboard.filters == override
    assert dashboard.persisted_filters == {"date_from": "-30d"}
    assert plain.filters == {"date_from": "-30d"}
    assert server.dashboard(412)["filters"] == {"date_from": "-30d"}

    first, second = server.requests
    assert first.query["refresh"] == "blocking"
    assert json.loads(first.query["filters_override"]) == override
    assert second.query["refresh"] == "false"
    assert "filters_override" not in second.query


# --- create -----------------------------------------------------------------------------


async def test_create_sends_every_argument_and_gets_201(posthog_server: FakePostHog) -> None:
    server = posthog_server
    quick_filter = "01935c4e-2f0a-7b6d-9c1e-4a8b2d6f0e13"
    server.add_quick_filter(quick_filter)
    async with connect(server) as ph:
        created = await ph.dashboards.create(
            name="Launch week",
            description="Everything about the launch.",
            pinned=True,
            tags=["launch", "ops"],
            restriction_level=37,
            filters={"date_from": "-14d"},
            breakdown_colors=[{"breakdownValue": "Chrome", "colorToken": "preset-1"}],
            data_color_theme_id=3,
            quick_filter_ids=[quick_filter],
            create_in_folder="Shared/Launch",
        )

    sent = only(server, "POST", BASE)
    assert sent.status == 201
    assert_json_call(sent, server)
    assert sent.json() == {
        "name": "Launch week",
        "description": "Everything about the launch.",
        "pinned": True,
        "tags": ["launch", "ops"],
        "restriction_level": 37,
        "filters": {"date_from": "-14d"},
        "breakdown_colors": [{"breakdownValue": "Chrome", "colorToken": "preset-1"}],
        "data_color_theme_id": 3,
        "quick_filter_ids": [quick_filter],
        "_create_in_folder": "Shared/Launch",
    }

    assert created.name == "Launch week"
    assert created.description == "Everything about the launch."
    assert created.pinned
    assert created.tags == ["launch", "ops"]
    assert created.restriction_level == 37
    assert created.filters == {"date_from": "-14d"}
    assert created.data_color_theme_id == 3
    assert created.quick_filter_ids == [quick_filter]
    assert created.creation_mode == "default"
    assert created.tiles == []
    assert created.created_by is not None
    assert created.created_by.uuid == PRIYA
    stored = server.dashboard(created.id)
    assert stored["name"] == "Launch week"
    assert stored["restriction_level"] == 37


async def test_create_with_only_a_name_sends_only_the_name(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        created = await ph.dashboards.create(name=None)

    assert only(server, "POST", BASE).json() == {"name": None}
    assert created.name is None


async def test_create_from_a_template_key(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        created = await ph.dashboards.create(use_template="WEBSITE_TRAFFIC")
        fetched = await ph.dashboards.get(created.id)

    assert only(server, "POST", BASE).json() == {"use_template": "WEBSITE_TRAFFIC"}
    assert created.creation_mode == "template"
    assert created.name  # taken from the template, as no name was given
    assert created.tiles
    assert [t.id for t in fetched.tiles] == [t.id for t in created.tiles]


async def test_create_duplicate_links_or_copies_tiles(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        source = await ph.dashboards.get(412)
        linked = await ph.dashboards.create(name="Linked copy", use_dashboard=412)
        copied = await ph.dashboards.create(
            name="Deep copy", use_dashboard=412, duplicate_tiles=True
        )

    posts = server.requests_matching("POST", f"^{BASE}$")
    assert [p.json() for p in posts] == [
        {"name": "Linked copy", "use_dashboard": 412},
        {"name": "Deep copy", "use_dashboard": 412, "duplicate_tiles": True},
    ]
    assert all(p.status == 201 for p in posts)
    source_insights = [t.insight.id for t in source.tiles if t.insight is not None]
    for dashboard in (linked, copied):
        assert dashboard.creation_mode == "duplicate"
        assert dashboard.filters == source.filters
        assert len(dashboard.tiles) == len(source.tiles)
        assert {t.id for t in dashboard.tiles}.isdisjoint(t.id for t in source.tiles)
    # A plain duplicate shows the same insights; duplicate_tiles makes new ones.
    assert [t.insight.id for t in linked.tiles if t.insight is not None] == source_insights
    copies = [t.insight for t in copied.tiles if t.insight is not None]
    assert {i.id for i in copies}.isdisjoint(source_insights)
    assert [i.name for i in copies] == [
        f"{t.insight.name} (Copy)" for t in source.tiles if t.insight is not None
    ]


# --- update, delete, restore ------------------------------------------------------------


async def test_update_changes_fields_and_sends_only_them(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        updated = await ph.dashboards.update(
            401,
            name="Retention (weekly)",
            description="",
            pinned=True,
            tags=["weekly", "retention"],
            filters={"date_from": "-90d"},
            variables={"0190b6c9-95de-7cf6-9c1a-3d5e8f2a4b71": {"value": "eu"}},
        )

    sent = only(server, "PATCH", f"{BASE}401/")
    assert_json_call(sent, server)
    assert sent.json() == {
        "name": "Retention (weekly)",
        "description": "",
        "pinned": True,
        "tags": ["weekly", "retention"],
        "filters": {"date_from": "-90d"},
        "variables": {"0190b6c9-95de-7cf6-9c1a-3d5e8f2a4b71": {"value": "eu"}},
    }
    assert updated.name == "Retention (weekly)"
    assert updated.pinned
    assert updated.tags == ["weekly", "retention"]
    assert updated.filters == {"date_from": "-90d"}
    assert [t.id for t in updated.tiles] == [9401, 9402, 9403]
    assert server.dashboard(401)["name"] == "Retention (weekly)"


async def test_update_tiles_add_edit_and_delete_a_text_tile(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        board = await ph.dashboards.create(name="Notes")
        added = await ph.dashboards.update(
            board.id,
            tiles=[
                {
                    "text": {"body": "First draft"},
                    "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 2}},
                    "color": "blue",
                }
            ],
        )
        (tile,) = added.tiles
        assert tile.text is not None
        assert tile.text.body == "First draft"
        assert tile.color == "blue"
        layout = tile.layout("sm")
        assert layout is not None
        assert (layout.x, layout.y, layout.w) == (0, 0, 6)

        edited = await ph.dashboards.update(
            board.id,
            tiles=[
                {
                    "id": tile.id,
                    "text": {"id": tile.text.id, "body": "Final text"},
                    "layouts": {"sm": {"x": 6, "y": 1, "w": 6, "h": 2}},
                }
            ],
        )
        (same,) = edited.tiles
        assert same.id == tile.id
        assert same.text is not None
        assert same.text.id == tile.text.id
        assert same.text.body == "Final text"
        moved = same.layout("sm")
        assert moved is not None
        assert (moved.x, moved.y) == (6, 1)

        emptied = await ph.dashboards.update(board.id, tiles=[{"id": tile.id, "deleted": True}])
        assert emptied.tiles == []
        assert (await ph.dashboards.get(board.id)).tiles == []

    patches = server.requests_matching("PATCH", f"^{BASE}{board.id}/$")
    assert [p.json()["tiles"] for p in patches][2] == [{"id": tile.id, "deleted": True}]
    assert all(p.status == 200 for p in patches)
    assert server.dashboard(board.id)["tiles"] == []


async def test_delete_is_a_soft_delete_and_restore_brings_it_back(
    posthog_server: FakePostHog,
) -> None:
    server = posthog_server
    async with connect(server) as ph:
        deleted = await ph.dashboards.delete(412)
        assert deleted.deleted
        assert deleted.tiles == []
        with pytest.raises(pda.NotFoundError) as missing:
            await ph.dashboards.get(412)
        assert missing.value.status == 404
        assert missing.value.detail == "Not found."
        listed = [d.id async for d in ph.dashboards.iter()]
        assert 412 not in listed

        restored = await ph.dashboards.restore(412)
        assert not restored.deleted
        again = await ph.dashboards.get(412)
        assert [t.id for t in again.tiles] == [9001, 9002, 9003]
        assert 412 in [d.id for d in (await ph.dashboards.list()).results]

    first, second = server.requests_matching("PATCH", f"^{BASE}412/$")
    assert first.json() == {"deleted": True}
    assert second.json() == {"deleted": False}
    # Nothing was hard-deleted.
    assert not server.requests_matching("DELETE")


async def test_delete_with_insights_sends_the_flag(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        deleted = await ph.dashboards.delete(420, delete_insights=True)

    assert deleted.deleted
    assert only(server, "PATCH", f"{BASE}420/").json() == {
        "deleted": True,
        "delete_insights": True,
    }


# --- collaborators ----------------------------------------------------------------------


async def test_collaborators_list_add_and_remove(posthog_server: FakePostHog) -> None:
    server = posthog_server
    path = f"{BASE}420/collaborators/"
    async with connect(server) as ph:
        assert await ph.dashboards.collaborators.list(420) == []
        added = await ph.dashboards.collaborators.add(420, LENA)
        listed = await ph.dashboards.collaborators.list(420)
        await ph.dashboards.collaborators.remove(420, LENA)
        after = await ph.dashboards.collaborators.list(420)

    assert isinstance(added, pda.Collaborator)
    assert added.dashboard_id == 420
    assert added.level == 37
    assert added.user.uuid == LENA
    assert added.user.first_name == "Lena"
    assert [c.user.uuid for c in listed] == [LENA]
    assert listed[0].id == added.id
    assert after == []
    assert server.collaborators(420) == []

    post = only(server, "POST", path)
    assert post.status == 201
    assert_json_call(post, server)
    assert post.json() == {"user_uuid": LENA, "level": 37}
    delete = only(server, "DELETE", f"{path}{LENA}/")
    assert delete.status == 204
    assert delete.body == b""


@pytest.mark.parametrize(
    ("dashboard_id", "user", "detail"),
    [
        (420, SAM, "Cannot add collaborators that have no access to the project."),
        (
            412,
            LENA,
            "Cannot add collaborators to a dashboard on the lowest restriction level.",
        ),
        (
            420,
            PRIYA,
            "Cannot add collaborators that already have inherent access "
            "(the dashboard owner or a project admins).",
        ),
        (420, "018f0000-0000-7000-8000-000000000000", "User does not exist."),
    ],
)
async def test_collaborator_validation_errors_carry_the_server_detail(
    posthog_server: FakePostHog, dashboard_id: int, user: str, detail: str
) -> None:
    server = posthog_server
    async with connect(server) as ph:
        with pytest.raises(pda.BadRequestError) as refused:
            await ph.dashboards.collaborators.add(dashboard_id, user)

    error = refused.value
    assert error.status == 400
    assert error.type == "validation_error"
    assert error.code == "invalid_input"
    assert error.detail == detail
    assert error.attr is None
    assert len(server.requests) == 1
    assert all(c["user"]["uuid"] != user for c in server.collaborators(dashboard_id))


async def test_adding_a_collaborator_twice_is_refused(posthog_server: FakePostHog) -> None:
    async with connect(posthog_server) as ph:
        await ph.dashboards.collaborators.add(420, LENA)
        with pytest.raises(pda.BadRequestError) as refused:
            await ph.dashboards.collaborators.add(420, LENA)
    assert refused.value.detail == "User already is a collaborator."


# --- sharing ----------------------------------------------------------------------------


async def test_sharing_get_update_and_refresh(posthog_server: FakePostHog) -> None:
    server = posthog_server
    path = f"{BASE}401/sharing/"
    async with connect(server) as ph:
        first = await ph.dashboards.sharing.get(401)
        second = await ph.dashboards.sharing.get(401)
        # Nothing saved yet: every read shows a fresh, unsaved token.
        assert first.created_at is None
        assert second.created_at is None
        assert not first.enabled
        assert first.settings is None
        assert first.access_token
        assert second.access_token
        assert first.access_token != second.access_token
        assert server.sharing_configuration(401) is None

        enabled = await ph.dashboards.sharing.update(
            401, enabled=True, settings={"whitelabel": True, "noHeader": False}
        )
        assert enabled.enabled
        assert enabled.created_at is not None
        assert enabled.settings == {"whitelabel": True, "noHeader": False}
        saved = await ph.dashboards.sharing.get(401)
        assert saved.access_token == enabled.access_token

        rotated = await ph.dashboards.sharing.refresh(401)

    assert rotated.access_token
    assert rotated.access_token != enabled.access_token
    assert rotated.enabled
    assert rotated.settings == enabled.settings
    stored = server.sharing_configuration(401)
    assert stored is not None
    assert stored["access_token"] == rotated.access_token
    # The old link keeps working for the grace period.
    assert server.is_share_token_valid(rotated.access_token)
    assert enabled.access_token is not None
    assert server.is_share_token_valid(enabled.access_token)

    patch = only(server, "PATCH", path)
    assert patch.json() == {"enabled": True, "settings": {"whitelabel": True, "noHeader": False}}
    assert_json_call(patch, server)
    refresh = only(server, "POST", f"{path}refresh/")
    assert refresh.status == 200
    assert refresh.body == b""
    assert_json_call(refresh, server)
    assert len(server.requests_matching("GET", f"^{path}$")) == 3


async def test_sharing_disable_keeps_the_token(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        before = await ph.dashboards.sharing.get(412)
        disabled = await ph.dashboards.sharing.update(412, enabled=False)

    assert before.enabled
    assert not disabled.enabled
    assert disabled.access_token == before.access_token
    assert server.requests[-1].json() == {"enabled": False}


async def test_password_sharing_without_the_feature_keeps_the_servers_words(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(advanced_permissions=False)
    async with connect(server) as ph:
        with pytest.raises(pda.PermissionDeniedError) as refused:
            await ph.dashboards.sharing.update(412, password_required=True)
    # Not PostHog's usual envelope: {"error": ...}.
    error = refused.value
    assert error.status == 403
    assert error.detail == "Sharing with password requires the Advanced Permissions feature"
    assert error.type is None
    assert server.requests[0].json() == {"password_required": True}


async def test_public_sharing_disabled_for_the_organisation(
    posthog_server_factory: Any,
) -> None:
    server: FakePostHog = await posthog_server_factory(public_sharing=False)
    async with connect(server) as ph:
        with pytest.raises(pda.PermissionDeniedError) as refused:
            await ph.dashboards.sharing.update(401, enabled=True)
    assert refused.value.detail == "Public sharing is disabled for this organization."
    assert server.sharing_configuration(401) is None


# --- projects ---------------------------------------------------------------------------


async def test_current_project_when_no_project_id_is_given(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with pda.AsyncPostHog(api_key=server.api_key, host=server.url, rate_limit=None) as ph:
        dashboard = await ph.dashboards.get(412)
        page = await ph.dashboards.list(limit=1)
    assert dashboard.team_id == 42
    assert page.count == len(LISTED)
    assert [r.path for r in server.requests] == [
        "/api/projects/@current/dashboards/412/",
        "/api/projects/@current/dashboards/",
    ]


async def test_a_project_the_user_cannot_see(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.add_project(77)
    async with connect(server, project_id=77) as ph:
        with pytest.raises(pda.PermissionDeniedError) as refused:
            await ph.dashboards.list()
    assert refused.value.detail == "You don't have access to the project."
    assert server.requests[0].path == "/api/projects/77/dashboards/"


# --- the escape hatch -------------------------------------------------------------------


async def test_request_on_a_wrapped_project_path(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        raw = await ph.request("GET", "dashboards/412/", params={"refresh": "force_cache"})
        page = await ph.request("GET", "dashboards/", params={"limit": 2, "tags": ["weekly"]})

    # Plain Python data, exactly as the server sent it.
    assert isinstance(raw, dict)
    assert raw["id"] == 412
    assert raw["name"] == "Growth overview"
    assert [t["id"] for t in raw["tiles"]] == [9001, 9002, 9003]
    assert page["count"] == 2
    assert [d["id"] for d in page["results"]] == [412, 401]

    first, second = server.requests
    assert (first.method, first.path) == ("GET", f"{BASE}412/")
    assert list(first.query.items()) == [("refresh", "force_cache")]
    assert_json_call(first, server)
    assert second.query.getall("tags") == ["weekly"]
    assert second.query["limit"] == "2"


async def test_request_on_an_unwrapped_host_relative_path(posthog_server: FakePostHog) -> None:
    server = posthog_server
    path = "/api/environments/42/dashboards/401/"
    async with connect(server) as ph:
        # PUT on the environments alias: neither the method nor the path is wrapped.
        replaced = await ph.request("PUT", path, json={"name": "Put through the alias"})
        # Nothing to remove: the server's 404 is raised, not returned.
        with pytest.raises(pda.NotFoundError):
            await ph.request("DELETE", f"dashboards/420/collaborators/{LENA}/")

    assert replaced["name"] == "Put through the alias"
    assert server.dashboard(401)["name"] == "Put through the alias"
    put = only(server, "PUT", path)
    assert put.json() == {"name": "Put through the alias"}
    assert_json_call(put, server)


async def test_request_returns_none_for_an_empty_body(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        await ph.dashboards.collaborators.add(420, LENA)
        result = await ph.request("DELETE", f"dashboards/420/collaborators/{LENA}/")

    assert result is None
    assert server.requests[-1].status == 204
    assert server.collaborators(420) == []
