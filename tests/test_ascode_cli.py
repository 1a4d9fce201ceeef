"""``posthog-dash pull / plan / apply / copy`` in-process (``main`` in a worker thread, as in
test_cli.py) against two FakePostHog instances."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import posthog_dash_async as pda
from posthog_dash_async._cli import ascode
from posthog_dash_async.cli import main
from posthog_dash_async.testing import FakePostHog

TARGET_KEY = "phx_CliTargetKey_abcdefghijklmnop0123"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
async def source() -> AsyncIterator[FakePostHog]:
    async with FakePostHog() as fake:
        yield fake


@pytest.fixture
async def target() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(project_id=9, seed=False, api_key=TARGET_KEY) as fake:
        yield fake


async def cli(capsys: pytest.CaptureFixture[str], fake: FakePostHog, *args: str) -> Run:
    argv = [
        "--host",
        fake.url,
        "--project",
        str(fake.project_id),
        "--api-key",
        fake.api_key,
        "--max-retries",
        "0",
        "--no-color",
    ]
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*argv, *args])
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    for secret in (fake.api_key, TARGET_KEY):
        assert secret not in run.out
        assert secret not in run.err
    return run


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.json"))


def writes(fake: FakePostHog) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if r.method != "GET"]


async def test_pull_writes_one_stable_document_per_dashboard(
    source: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = await cli(capsys, source, "pull", "412", "388", "--out", str(tmp_path))
    assert run.code == 0, run.err
    files = names(tmp_path)
    assert files == ["growth-overview.json", "weekly-kpis.json"]
    text = (tmp_path / "growth-overview.json").read_text()
    doc = pda.DashboardDocument.from_json(text)
    assert doc.name == "Growth overview"
    assert text == doc.to_json()
    assert "growth-overview.json" in run.out
    assert writes(source) == []
    # A renamed dashboard is pulled into the file that already holds its document.
    source.state.dashboards[412].name = "Growth (renamed)"
    again = await cli(capsys, source, "pull", "412", "--out", str(tmp_path), "--json")
    assert again.code == 0, again.err
    [line] = again.json_lines()
    assert line["path"] == str(tmp_path / "growth-overview.json")
    assert line["id"] == 412
    assert names(tmp_path) == files
    assert "Growth (renamed)" in (tmp_path / "growth-overview.json").read_text()


async def test_pull_all_and_argument_checks(
    source: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = await cli(capsys, source, "pull", "--all", "--out", str(tmp_path), "--skip-unsupported")
    assert run.code == 0, run.err
    listed = [
        d
        for d in source.dashboards.values()
        if not d["deleted"] and d["creation_mode"] != "unlisted"
    ]
    assert len(names(tmp_path)) == len(listed)
    neither = await cli(capsys, source, "pull", "--out", str(tmp_path))
    assert neither.code == 2
    assert "ids or --all" in neither.err
    missing = await cli(capsys, source, "pull", "999999", "--out", str(tmp_path / "x"))
    assert missing.code == 4


async def test_plan_apply_and_plan_again(
    source: FakePostHog,
    target: FakePostHog,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert (await cli(capsys, source, "pull", "412", "--out", str(tmp_path))).code == 0
    plan = await cli(capsys, target, "plan", str(tmp_path))
    assert plan.code == 1, plan.err
    assert "+ create dashboard 'Growth overview'" in plan.out
    assert "    + create insight 'Weekly active users'" in plan.out
    assert "Plan: 4 to create, 0 to update, 0 to remove (0 unchanged)." in plan.out
    as_json = await cli(capsys, target, "plan", str(tmp_path), "--json")
    assert as_json.code == 1
    [data] = as_json.json_lines()
    assert data["is_empty"] is False
    assert data["counts"] == {"create": 4, "update": 0, "remove": 0}
    assert writes(target) == []

    # Not a terminal and no --yes: refused, nothing written.
    refused = await cli(capsys, target, "apply", str(tmp_path))
    assert refused.code == 2
    assert "--yes" in refused.err
    assert writes(target) == []

    done = await cli(capsys, target, "apply", str(tmp_path), "--yes")
    assert done.code == 0, done.err
    assert "Applied: 4 created, 0 updated, 0 unchanged, 0 removed." in done.out

    target.clear_requests()
    clean = await cli(capsys, target, "plan", str(tmp_path))
    assert clean.code == 0
    assert "No changes: the project matches the 1 document (4 unchanged)." in clean.out
    again = await cli(capsys, target, "apply", str(tmp_path), "--json")
    assert again.code == 0
    assert again.json_lines()[0]["report"] is None
    assert writes(target) == []


async def test_apply_asks_on_a_terminal(
    source: FakePostHog,
    target: FakePostHog,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await cli(capsys, source, "pull", "388", "--out", str(tmp_path))).code == 0
    monkeypatch.setattr(ascode, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    declined = await cli(capsys, target, "apply", str(tmp_path))
    assert declined.code == 1
    assert "[y/N]" in declined.err
    assert "nothing applied" in declined.err
    assert writes(target) == []
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    accepted = await cli(capsys, target, "apply", str(tmp_path))
    assert accepted.code == 0, accepted.err
    assert "Applied: 7 created" in accepted.out


async def test_apply_failure_midway_then_rerun(
    source: FakePostHog,
    target: FakePostHog,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert (await cli(capsys, source, "pull", "412", "--out", str(tmp_path))).code == 0
    target.fail_next(status=500, method="POST", path=r"/insights/?$")
    failed = await cli(capsys, target, "apply", str(tmp_path), "--yes")
    assert failed.code == 6  # a server error
    assert "created dashboard 'Growth overview'" in failed.out
    assert "run the same apply again" in failed.err
    finished = await cli(capsys, target, "apply", str(tmp_path), "--yes")
    assert finished.code == 0, finished.err
    assert "3 created" in finished.out
    live = [d for d in target.dashboards.values() if not d["deleted"]]
    assert len(live) == 1


async def test_a_bad_document_is_named_with_its_place(
    target: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = pda.DashboardDocument(
        key="k",
        name="x",
        tiles=[pda.TextTileDocument(key="t", body="hi", layouts=pda.TileLayouts())],
    )
    data = json.loads(doc.to_json())
    data["tiles"][0]["layouts"] = {"sm": {"x": 0, "y": 0, "w": "wide", "h": 1}}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    run = await cli(capsys, target, "plan", str(tmp_path))
    assert run.code == 2
    assert f"{tmp_path / 'bad.json'}: tiles[0].layouts.sm.w: Expected `int`" in run.err
    empty = tmp_path / "empty"
    empty.mkdir()
    none = await cli(capsys, target, "apply", str(empty), "--prune", "--yes")
    assert none.code == 2
    assert "no *.json documents" in none.err
    assert writes(target) == []


async def test_copy_to_another_instance(
    source: FakePostHog,
    target: FakePostHog,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TARGET_POSTHOG_KEY", TARGET_KEY)
    args = ["copy", "412", "--to-host", target.url, "--to-project", "9"]
    run = await cli(capsys, source, *args, "--to-key-env", "TARGET_POSTHOG_KEY")
    assert run.code == 0, run.err
    assert f"to {target.url} project 9 as dashboard" in run.out
    assert "4 created" in run.out
    again = await cli(capsys, source, *args, "--to-key-env", "TARGET_POSTHOG_KEY", "--json")
    [data] = again.json_lines()
    assert data["report"]["created"] == []
    assert len(data["report"]["unchanged"]) == 4
    assert data["target_project"] == "9"
    missing = await cli(capsys, source, *args, "--to-key-env", "NO_SUCH_VARIABLE_SET")
    assert missing.code == 3
    assert "NO_SUCH_VARIABLE_SET" in missing.err


async def test_plan_shows_where_a_query_changed(
    source: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (await cli(capsys, source, "pull", "412", "--out", str(tmp_path))).code == 0
    path = tmp_path / "growth-overview.json"
    data = json.loads(path.read_text())
    insight = next(t for t in data["tiles"] if t["kind"] == "insight")
    insight["query"]["source"]["interval"] = "month"
    insight["query"]["source"]["series"][0]["math"] = "total"
    insight["layouts"]["sm"]["y"] = 12
    path.write_text(json.dumps(data))
    run = await cli(capsys, source, "plan", str(tmp_path))
    assert run.code == 1
    lines = [line.strip() for line in run.out.splitlines()]
    assert 'query.source.interval: "week" → "month"' in lines
    assert 'query.source.series[0].math: "dau" → "total"' in lines
    assert "layouts.sm.y: 0 → 12" in lines
    assert writes(source) == []


def test_json_differences_name_each_leaf() -> None:
    old = {"a": 1, "b": {"c": [1, 2]}, "d": "x"}
    new = {"a": 1, "b": {"c": [1, 3]}, "e": None}
    assert ascode.json_differences(old, new, "q") == [
        ("q.b.c[1]", 2, 3),
        ("q.d", "x", ascode._ABSENT),
        ("q.e", ascode._ABSENT, None),
    ]
    assert ascode.json_differences([1], [1, 2], "q") == [("q", [1], [1, 2])]


async def test_pull_all_stays_within_max_concurrency(
    source: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for i in range(30):
        source.add_dashboard(f"Extra {i}")
    source.set_delay(0.01)
    run = await cli(
        capsys, source, "--max-concurrency", "2", "pull", "--all", "--out", str(tmp_path)
    )
    assert run.code == 0, run.err
    assert len(names(tmp_path)) >= 30
    assert source.max_in_flight == 2  # concurrent, and never more than the client allows


async def test_apply_prune_removes_only_sdk_dashboards_whose_file_is_gone(
    source: FakePostHog,
    target: FakePostHog,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert (await cli(capsys, source, "pull", "412", "388", "--out", str(tmp_path))).code == 0
    assert (await cli(capsys, target, "apply", str(tmp_path), "--yes")).code == 0
    hand_made = target.add_dashboard("Made by hand")
    (tmp_path / "weekly-kpis.json").unlink()
    kept = await cli(capsys, target, "plan", str(tmp_path))
    assert kept.code == 0
    assert "--prune removes" in kept.out
    pruned = await cli(capsys, target, "apply", str(tmp_path), "--prune", "--yes")
    assert pruned.code == 0, pruned.err
    assert "removed dashboard 'Weekly KPIs'" in pruned.out
    live = sorted(d["name"] for d in target.dashboards.values() if not d["deleted"])
    assert live == ["Growth overview", "Made by hand"]
    assert target.dashboard(hand_made["id"])["deleted"] is False
