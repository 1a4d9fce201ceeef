"""``posthog-dash tiles ...`` in-process against FakePostHog: each action makes its call and
prints the answer; bad layouts are usage errors (exit 2) with nothing sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import connect

from posthog_dash_async.cli import main
from posthog_dash_async.testing import FakePostHog


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as fake:
        yield fake


async def cli(capsys: pytest.CaptureFixture[str], fake: FakePostHog, *args: str) -> Run:
    argv = ["--host", fake.url, "--project", str(fake.project_id), "--api-key", fake.api_key]
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*argv, "--max-retries", "0", *args])
    captured = capsys.readouterr()
    assert fake.api_key not in captured.out + captured.err
    return Run(code, captured.out, captured.err)


async def board(fake: FakePostHog, name: str) -> int:
    async with connect(fake) as ph:
        return (await ph.dashboards.create(name=name)).id


async def test_add_text_edit_list_reorder_delete(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    dash = await board(server, "CLI tiles")
    run = await cli(
        capsys, server, "tiles", "add-text", str(dash), "## One", "--layout", "0,0,6,2", "--json"
    )
    assert run.code == 0, run.err
    first = run.json()
    assert first["text"]["body"] == "## One"
    assert first["layouts"]["sm"] == {"x": 0, "y": 0, "w": 6, "h": 2}

    run = await cli(capsys, server, "tiles", "add-text", str(dash), "## Two", "--color", "blue")
    assert run.code == 0, run.err
    assert "added text tile" in run.out
    assert "blue" in run.out

    run = await cli(capsys, server, "tiles", "list", str(dash), "--json")
    assert run.code == 0, run.err
    listed = [json.loads(line) for line in run.out.splitlines()]
    ids = [t["id"] for t in listed]
    assert first["id"] in ids
    second = next(t["id"] for t in listed if t["id"] != first["id"])

    run = await cli(capsys, server, "tiles", "edit", str(dash), str(second), "--clear-color")
    assert run.code == 0, run.err
    assert f"updated tile {second}" in run.out

    run = await cli(
        capsys, server, "tiles", "reorder", str(dash), str(second), str(first["id"]), "--json"
    )
    assert run.code == 0, run.err
    assert {t["id"] for t in run.json()["tiles"]} == {first["id"], second}

    run = await cli(capsys, server, "tiles", "list", str(dash))
    assert run.code == 0, run.err
    assert "2 tiles on dashboard" in run.out
    assert "Text" in run.out

    run = await cli(capsys, server, "tiles", "delete", str(dash), str(first["id"]))
    assert run.code == 0, run.err
    assert f"deleted tile {first['id']}" in run.out
    async with connect(server) as ph:
        left = await ph.dashboards.get(dash)
    assert [t.id for t in left.tiles] == [second]


async def test_copy(server: FakePostHog, capsys: pytest.CaptureFixture[str]) -> None:
    source = await board(server, "CLI copy source")
    target = await board(server, "CLI copy target")
    made = await cli(capsys, server, "tiles", "add-text", str(source), "shared", "--json")
    tile = made.json()["id"]
    run = await cli(capsys, server, "tiles", "copy", str(source), str(tile), "--to", str(target))
    assert run.code == 0, run.err
    assert f"copied tile {tile}" in run.out
    async with connect(server) as ph:
        copied = await ph.dashboards.get(target)
    assert [t.text.body for t in copied.tiles if t.text is not None] == ["shared"]


@pytest.mark.parametrize(
    "args",
    [
        ["add-text", "1", "x", "--layout", "8,0,6,2"],  # off the 12-column grid
        ["add-text", "1", "x", "--layout", "0,0,6"],
        ["add-text", "1", "x", "--layout", "a,b,c,d"],
        ["add-text", "1", "x", "--xs-layout", "0,0,0,2"],
        ["edit", "1", "2"],  # nothing to change
        ["edit", "1", "2", "--color", "red", "--clear-color"],
        ["reorder", "1"],
        ["copy", "1", "2"],  # --to missing
        ["delete", "0", "2"],
    ],
)
async def test_bad_arguments_exit_2_and_send_nothing(
    server: FakePostHog, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    before = len(server.requests)
    run = await cli(capsys, server, "tiles", *args)
    assert run.code == 2
    assert run.err.strip()
    assert len(server.requests) == before
