"""Export, plan, apply and copy between two FakePostHog instances (two hosts, two projects,
two keys) over real sockets."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog, insight_tile, text_tile, trends_tile

QUERIES: dict[str, dict[str, Any]] = {
    "trends": {
        "kind": "InsightVizNode",
        "source": {
            "kind": "TrendsQuery",
            "series": [
                {"kind": "EventsNode", "event": "$pageview", "math": "dau", "name": "→ views"},
                {"kind": "ActionsNode", "id": 17, "math": "sum", "math_property": "amount"},
            ],
            "interval": "week",
            "dateRange": {"date_from": "-90d", "explicitDate": False},
            "trendsFilter": {"display": "ActionsBar", "smoothingIntervals": 1.0, "decimals": 0.1},
            "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 25},
            "filterTestAccounts": True,
            "properties": [],
            "compareFilter": None,
        },
        "full": True,
    },
    "funnel": {
        "kind": "InsightVizNode",
        "source": {
            "kind": "FunnelsQuery",
            "series": [
                {"kind": "EventsNode", "event": "viewed pricing"},
                {"kind": "EventsNode", "event": "signed up"},
            ],
            "funnelsFilter": {"funnelWindowInterval": 14, "funnelVizType": "steps"},
        },
    },
    "retention": {
        "kind": "InsightVizNode",
        "source": {
            "kind": "RetentionQuery",
            "retentionFilter": {
                "period": "Week",
                "totalIntervals": 8,
                "targetEntity": {"id": "$pageview", "type": "events"},
                "returningEntity": {"id": "$pageview", "type": "events"},
            },
        },
    },
    "hogql": {
        "kind": "DataVisualizationNode",
        "source": {
            "kind": "HogQLQuery",
            "query": "SELECT toStartOfDay(timestamp) AS day, count() FROM events GROUP BY day",
            "variables": {},
        },
        "display": "ActionsLineGraph",
        "chartSettings": {"xAxis": {"column": "day"}, "yAxis": [{"column": "count()"}]},
    },
    "paths": {
        "kind": "InsightVizNode",
        "source": {"kind": "PathsQuery", "pathsFilter": {"includeEventTypes": ["$pageview"]}},
    },
    "stickiness": {
        "kind": "InsightVizNode",
        "source": {"kind": "StickinessQuery", "series": [{"kind": "EventsNode", "event": "x"}]},
    },
    "lifecycle": {
        "kind": "InsightVizNode",
        "source": {"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "y"}]},
    },
    "table": {
        "kind": "DataTableNode",
        "source": {"kind": "EventsQuery", "select": ["*", "event", "timestamp"], "limit": 100},
    },
}


@dataclass
class Pair:
    """Two instances and a client for each."""

    a: FakePostHog
    b: FakePostHog
    pa: pda.AsyncPostHog
    pb: pda.AsyncPostHog


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(FakePostHog(project_id=42))
        b = await stack.enter_async_context(
            FakePostHog(project_id=7, seed=False, api_key="phx_TargetOnlyKey_0123456789abcdef")
        )
        assert a.url != b.url
        assert a.api_key != b.api_key
        pa = await stack.enter_async_context(connect(a, max_retries=0))
        pb = await stack.enter_async_context(connect(b, max_retries=0))
        yield Pair(a, b, pa, pb)


def writes(server: FakePostHog) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests if r.method != "GET"]


def live_insights(server: FakePostHog) -> list[Any]:
    return [i for i in server.state.insights.values() if not i.deleted]


def live_dashboards(server: FakePostHog) -> list[dict[str, Any]]:
    return [d for d in server.dashboards.values() if not d["deleted"]]


def every_kind_dashboard(server: FakePostHog) -> int:
    tiles = []
    for i, (name, query) in enumerate(QUERIES.items()):
        tiles.append(
            insight_tile(
                name,
                query=query,
                description=f"{name} insight",
                layouts={
                    "sm": {"x": (i % 2) * 6, "y": (i // 2) * 5, "w": 6, "h": 5},
                    "xs": {"x": 0, "y": i * 5, "w": 1, "h": 5},
                },
                color="purple" if i % 3 == 0 else None,
            )
        )
    tiles.append(
        text_tile("## Notes\n\n* one\n* two", layouts={"sm": {"x": 0, "y": 40, "w": 12, "h": 2}})
    )
    tiles.append(
        {
            "button_tile": {
                "url": "https://example.com/docs",
                "text": "Docs",
                "placement": "right",
            },
            "layouts": {"sm": {"x": 9, "y": 42, "w": 3, "h": 1}},
            "color": "green",
        }
    )
    created = server.add_dashboard(
        "Every kind", tiles=tiles, tags=["kinds"], filters={"date_from": "-7d"}
    )
    return int(created["id"])


# --- export + copy -------------------------------------------------------------------------


async def test_copy_between_instances_keeps_every_query_byte_for_byte(pair: Pair) -> None:
    source_id = every_kind_dashboard(pair.a)
    copied = await pda.copy_dashboard(pair.pa, source_id, pair.pb)
    assert isinstance(copied, pda.Dashboard)
    assert copied.team_id == 7
    assert copied.name == "Every kind"
    source = pair.a.dashboard(source_id)
    target = pair.b.dashboard(copied.id)
    by_name = {t["insight"]["name"]: t for t in target["tiles"] if t["insight"]}
    for tile in source["tiles"]:
        if not tile["insight"]:
            continue
        twin = by_name[tile["insight"]["name"]]
        # Same bytes in the same key order: the query went through untouched.
        assert json.dumps(twin["insight"]["query"]) == json.dumps(tile["insight"]["query"])
        assert twin["insight"]["description"] == tile["insight"]["description"]
        assert twin["layouts"] == tile["layouts"]
        assert twin["color"] == tile["color"]
    texts = [t for t in target["tiles"] if t["text"]]
    assert len(texts) == 1
    assert texts[0]["layouts"] == {"sm": {"x": 0, "y": 40, "w": 12, "h": 2}}
    [button] = [t for t in target["tiles"] if t["button_tile"]]
    assert (button["button_tile"]["url"], button["button_tile"]["text"]) == (
        "https://example.com/docs",
        "Docs",
    )
    assert button["button_tile"]["placement"] == "right"
    assert button["layouts"] == {"sm": {"x": 9, "y": 42, "w": 3, "h": 1}}
    assert button["color"] == "green"
    assert target["filters"] == {"date_from": "-7d"}
    assert "kinds" in target["tags"]
    # Only endpoints a personal API key may call were used.
    paths = {path for _, path in writes(pair.b)}
    assert not any("create_from_template_json" in p for p in paths)


async def test_round_trip_gives_the_same_document(pair: Pair) -> None:
    source_id = every_kind_dashboard(pair.a)
    doc = await pair.pa.dashboards.export(source_id)
    assert [t.kind for t in doc.tiles] == ["insight"] * len(QUERIES) + ["text", "button"]
    report = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    again = await pair.pb.dashboards.export(report.dashboards[doc.key])
    assert again == doc
    assert again.to_json() == doc.to_json()
    # And back to where it came from: the original is recognised, nothing to do.
    back = await pair.pa.dashboards.plan([again])
    assert back.is_empty


async def test_second_apply_sends_no_write(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    first = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    assert [i.kind for i in first.created] == ["dashboard", "insight", "insight", "text"]
    pair.b.clear_requests()
    plan = await pair.pb.dashboards.plan([doc])
    assert plan.is_empty
    second = await pair.pb.dashboards.apply(plan)
    assert writes(pair.b) == []
    assert second.created == second.updated == second.removed == []
    assert len(second.unchanged) == 4
    assert second.dashboards == first.dashboards
    assert len(live_dashboards(pair.b)) == 1


async def test_copy_twice_updates_the_copy_in_place(pair: Pair) -> None:
    first = await pda.copy_dashboard(pair.pa, 412, pair.pb)
    await pair.pa.dashboards.update(412, name="Growth overview v2")
    tile = next(t for t in pair.a.dashboard(412)["tiles"] if t["insight"])
    await pair.pa.dashboards.tiles.update(
        412, tile["id"], layouts={"sm": {"x": 0, "y": 9, "w": 12, "h": 4}}
    )
    pair.b.clear_requests()
    second = await pda.copy_dashboard(pair.pa, 412, pair.pb)
    assert second.id == first.id
    assert second.name == "Growth overview v2"
    assert len(live_dashboards(pair.b)) == 1
    assert sorted(w[0] for w in writes(pair.b)) == ["PATCH", "PATCH"]  # name, then the layout
    moved = [t for t in second.tiles if t.layouts.get("sm", {}).get("y") == 9]
    assert len(moved) == 1


async def test_documents_edited_by_hand_are_applied(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    report = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    data = json.loads(doc.to_json())
    data["description"] = "Edited"
    data["tiles"] = [t for t in data["tiles"] if t["kind"] != "text"]
    data["tiles"][0]["query"]["source"]["interval"] = "month"
    data["tiles"][0]["name"] = "Monthly active users"
    data["tiles"].append(
        {
            "kind": "text",
            "key": "intro",
            "body": "Read me first",
            "layouts": {"sm": {"x": 0, "y": 30, "w": 12, "h": 1}},
        }
    )
    edited = pda.DashboardDocument.from_json(json.dumps(data))
    plan = await pair.pb.dashboards.plan([edited])
    assert sorted((s.action, s.kind) for s in plan.steps) == [
        ("create", "text"),
        ("update", "dashboard"),
        ("update", "insight"),
    ]
    assert [s.kind for s in plan.not_pruned] == ["text"]  # the text tile left the document
    done = await pair.pb.dashboards.apply(plan)
    assert len(done.created) == 1
    assert len(done.updated) == 2
    target = pair.b.dashboard(report.dashboards[doc.key])
    assert target["description"] == "Edited"
    names = sorted(t["insight"]["name"] for t in target["tiles"] if t["insight"])
    assert "Monthly active users" in names
    bodies = sorted(t["text"]["body"] for t in target["tiles"] if t["text"])
    assert len(bodies) == 2  # the old one stays: removing it needs prune
    assert any(b.startswith("Read me first") for b in bodies)
    assert (await pair.pb.dashboards.plan([edited])).is_empty


# --- failure midway and resume --------------------------------------------------------------


async def test_a_failure_midway_reports_what_was_done_and_a_rerun_finishes(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    plan = await pair.pb.dashboards.plan([doc])
    pair.b.fail_next(status=500, method="POST", path=r"/create_text_tile/?$")
    with pytest.raises(pda.ApplyError) as info:
        await pair.pb.dashboards.apply(plan)
    err = info.value
    assert isinstance(err.__cause__, pda.ServerError)
    assert [i.kind for i in err.report.created] == ["dashboard", "insight", "insight"]
    assert "3 created" in str(err)
    assert pickle.loads(pickle.dumps(err)).report == err.report
    resumed = await pair.pb.dashboards.plan([doc])
    # What is left: the text tile, and the layouts of the two insight tiles (they are set
    # together once a dashboard's tiles exist). Nothing is created twice.
    assert sorted((s.action, s.kind) for s in resumed.steps) == [
        ("create", "text"),
        ("update", "tile"),
        ("update", "tile"),
    ]
    report = await pair.pb.dashboards.apply(resumed)
    assert [i.kind for i in report.created] == ["text"]
    assert len(live_dashboards(pair.b)) == 1
    assert len(live_insights(pair.b)) == 2
    final = await pair.pb.dashboards.export(report.dashboards[doc.key])
    assert final == doc


async def test_a_failed_insight_leaves_no_duplicate_after_the_rerun(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    plan = await pair.pb.dashboards.plan([doc])
    pair.b.fail_next(status=400, method="POST", path=r"/insights/?$")
    with pytest.raises(pda.ApplyError) as info:
        await pair.pb.dashboards.apply(plan)
    assert [i.kind for i in info.value.report.created] == ["dashboard"]
    report = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    assert sorted(i.kind for i in report.created) == ["insight", "insight", "text"]
    assert len(live_dashboards(pair.b)) == 1
    assert len(live_insights(pair.b)) == 2


async def test_other_dashboards_finish_when_one_fails(pair: Pair) -> None:
    docs = [await pair.pa.dashboards.export(i) for i in (412, 388)]
    plan = await pair.pb.dashboards.plan(docs)
    pair.b.fail_next(status=500, method="POST", path=r"/dashboards/?$")
    with pytest.raises(pda.ApplyError) as info:
        await pair.pb.dashboards.apply(plan)
    assert len(info.value.errors) == 1
    assert len([i for i in info.value.report.created if i.kind == "dashboard"]) == 1
    await pair.pb.dashboards.apply(await pair.pb.dashboards.plan(docs))
    assert sorted(d["name"] for d in live_dashboards(pair.b)) == ["Growth overview", "Weekly KPIs"]


async def test_a_plan_is_applied_once_and_only_by_its_client(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    plan = await pair.pb.dashboards.plan([doc])
    with pytest.raises(pda.InvalidArgumentError, match="another client"):
        await pair.pa.dashboards.apply(plan)
    await pair.pb.dashboards.apply(plan)
    pair.b.clear_requests()
    with pytest.raises(pda.InvalidArgumentError, match="already applied"):
        await pair.pb.dashboards.apply(plan)
    assert writes(pair.b) == []


async def test_a_server_without_tags_cannot_hold_identity(pair: Pair) -> None:
    pair.b.tagging = False
    doc = await pair.pa.dashboards.export(412)
    with pytest.raises(pda.ApplyError) as info:
        await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    assert isinstance(info.value.__cause__, pda.IdentityLostError)
    assert "tagging" in str(info.value)
    assert live_dashboards(pair.b) == []  # the untagged dashboard was deleted again
    assert info.value.report.dashboards == {}
    assert info.value.report.created == []


# --- prune ----------------------------------------------------------------------------------


async def test_prune_removes_only_what_the_sdk_created(pair: Pair) -> None:
    docs = [await pair.pa.dashboards.export(i) for i in (412, 388)]
    report = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan(docs))
    growth_id, kpis_id = report.dashboards[docs[0].key], report.dashboards[docs[1].key]
    # Things made by hand on the target: a dashboard, and a tile on an SDK dashboard.
    mine = pair.b.add_dashboard("Mine", tiles=[trends_tile("My trend")], tags=["pda-like"])
    pair.b.add_tile(growth_id, text_tile("hand-made note"))
    # The second document goes away; the first loses its text tile.
    growth = json.loads(docs[0].to_json())
    growth["tiles"] = [t for t in growth["tiles"] if t["kind"] != "text"]
    kept = [pda.DashboardDocument.from_json(json.dumps(growth))]

    without = await pair.pb.dashboards.plan(kept)
    assert without.is_empty
    assert sorted(s.kind for s in without.not_pruned) == ["dashboard", "text"]

    pair.b.clear_requests()
    plan = await pair.pb.dashboards.plan(kept, prune=True)
    assert sorted((s.action, s.kind) for s in plan.steps) == [
        ("remove", "dashboard"),
        *[("remove", "insight")] * 6,
        ("remove", "text"),
    ]
    done = await pair.pb.dashboards.apply(plan)
    assert len(done.removed) == 8
    touched = " ".join(path for _, path in writes(pair.b))
    assert f"/dashboards/{mine['id']}/" not in touched
    assert pair.b.dashboard(kpis_id)["deleted"] is True
    assert pair.b.dashboard(mine["id"])["deleted"] is False
    growth_tiles = pair.b.dashboard(growth_id)["tiles"]
    assert [t["text"]["body"] for t in growth_tiles if t["text"]] == ["hand-made note"]
    assert len([t for t in growth_tiles if t["insight"]]) == 2
    assert (await pair.pb.dashboards.plan(kept, prune=True)).is_empty


# --- within the key's limits ----------------------------------------------------------------


async def test_exports_and_plans_go_through_the_client_semaphore() -> None:
    async with FakePostHog(seed=False) as server:
        ids = [
            int(server.add_dashboard(f"D{i}", tiles=[trends_tile("t")])["id"]) for i in range(40)
        ]
        server.set_delay(0.01)
        async with connect(server, max_concurrency=3) as ph:
            docs = list(await asyncio.gather(*(ph.dashboards.export(i) for i in ids)))
            assert server.max_in_flight == 3
            server.max_in_flight = 0
            plan = await ph.dashboards.plan(docs)
        assert plan.is_empty
        assert server.max_in_flight == 3


async def test_export_refuses_tiles_it_cannot_describe(pair: Pair) -> None:
    legacy = pair.a.add_dashboard(
        "Legacy", tiles=[insight_tile("old", query=None), trends_tile("new")]
    )
    with pytest.raises(pda.ExportError, match="legacy") as info:
        await pair.pa.dashboards.export(legacy["id"])
    assert len(info.value.unsupported) == 1
    doc = await pair.pa.dashboards.export(legacy["id"], strict=False)
    assert [t.name for t in doc.tiles] == ["new"]


async def test_plan_checks_its_arguments(pair: Pair) -> None:
    doc = await pair.pa.dashboards.export(412)
    with pytest.raises(pda.InvalidArgumentError, match="list of documents"):
        await pair.pb.dashboards.plan(doc)  # type: ignore[arg-type]
    with pytest.raises(pda.InvalidArgumentError, match="own key"):
        await pair.pb.dashboards.plan([doc, doc])
    with pytest.raises(pda.InvalidArgumentError, match="DashboardDocument"):
        await pair.pb.dashboards.plan([{"key": "x"}])  # type: ignore[list-item]
    assert writes(pair.b) == []
    assert msgspec.json.decode(doc.to_json())["version"] == 1


async def test_prune_leaves_an_sdk_insight_on_the_dashboards_someone_else_put_it(
    pair: Pair,
) -> None:
    doc = await pair.pa.dashboards.export(412)
    report = await pair.pb.dashboards.apply(await pair.pb.dashboards.plan([doc]))
    copy_id = report.dashboards[doc.key]
    mine = pair.b.add_dashboard("Mine")
    made = [i for i in report.created if i.kind == "insight"]
    shared = made[0].id
    assert shared is not None
    await pair.pb.insights.update(shared, dashboards=[copy_id, mine["id"]])
    plan = await pair.pb.dashboards.plan([], prune=True)
    by_id = {s.id: s for s in plan.steps}
    assert by_id[shared].changes == [pda.Change("dashboards", [copy_id, mine["id"]], [mine["id"]])]
    await pair.pb.dashboards.apply(plan)
    assert not pair.b.state.insights[shared].deleted
    on_mine = [t for t in pair.b.dashboard(mine["id"])["tiles"] if t["insight"]]
    assert [t["insight"]["id"] for t in on_mine] == [shared]
    assert pair.b.state.insights[made[1].id or 0].deleted
    assert pair.b.dashboard(copy_id)["deleted"] is True
