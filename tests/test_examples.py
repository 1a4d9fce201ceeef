"""The runnable examples under ``examples/``, each driven through its ``run``/``main``."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import msgspec
import pytest

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LISTED = {415, 412, 450, 377, 420, 388, 401, 433}


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the folder is not a package)."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def client_for(server: FakePostHog, **options: Any) -> pda.AsyncPostHog:
    return pda.AsyncPostHog(
        api_key=server.api_key, host=server.url, project_id=server.project_id, **options
    )


# --- batch_export ----------------------------------------------------------------------------


async def test_batch_export_writes_every_dashboard_with_an_embedded_fake(tmp_path: Path) -> None:
    batch_export = load("batch_export")
    lines: list[str] = []
    summary = await batch_export.run(tmp_path / "out", log=lines.append)
    assert {r.dashboard_id for r in summary.exported} == LISTED
    assert not summary.failed
    for result in summary.exported:
        dashboard = msgspec.json.decode(result.path.read_bytes(), type=pda.Dashboard)
        assert dashboard.id == result.dashboard_id
        assert len(dashboard.tiles) == result.tiles
        # A personal API key cannot stream on PostHog; the SDK fell back to GET.
        assert result.via == "get (stream refused)"
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert {d["id"] for d in index} == LISTED
    assert lines[0] == f"exporting 8 dashboards to {tmp_path / 'out'}/"
    assert sum(line.startswith("[") for line in lines) == 8
    assert lines[-1].startswith("done: 8 exported, 0 failed, ")
    assert summary.size == sum(r.path.stat().st_size for r in summary.exported)


async def test_batch_export_streams_falls_back_and_stays_within_the_semaphore(
    tmp_path: Path,
) -> None:
    batch_export = load("batch_export")
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_delay(0.02)
        async with client_for(server, max_concurrency=2) as ph:
            streamed = await batch_export.run(tmp_path / "a", client=ph, log=lambda _: None)
            assert {r.via for r in streamed.exported} == {"stream"}
            assert server.max_in_flight <= 2
            assert streamed.tiles == sum(len(server.dashboard(i)["tiles"]) for i in LISTED)

            # Every stream breaks after its metadata: each dashboard is read again by GET.
            server.set_stream_faults(truncate_after=1, tile_errors={9002: "boom"})
            broken = await batch_export.run(tmp_path / "b", client=ph, log=lambda _: None)
            assert {r.via for r in broken.exported} == {"get (stream broke)"}
            assert len(broken.exported) == 8
        server.reset_faults()


async def test_batch_export_records_a_failing_dashboard_and_goes_on(tmp_path: Path) -> None:
    batch_export = load("batch_export")
    async with FakePostHog() as server, client_for(server, max_retries=0) as ph:
        server.fail_next(2, status=500, path=r"/dashboards/412/")
        summary = await batch_export.run(tmp_path, client=ph, log=lambda _: None)
    assert [r.dashboard_id for r in summary.failed] == [412]
    assert len(summary.exported) == 7
    assert not (tmp_path / "dashboard-412.json").exists()


def test_batch_export_main_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch_export = load("batch_export")
    assert batch_export.main(["--out", str(tmp_path), "--max-concurrency", "4"]) == 0
    assert "done: 8 exported" in capsys.readouterr().out
    assert len(list(tmp_path.glob("dashboard-*.json"))) == 8


# --- live_render -----------------------------------------------------------------------------


async def test_live_render_prints_tiles_as_they_arrive() -> None:
    live_render = load("live_render")
    lines: list[str] = []
    tiles = await live_render.run(412, show=lines.append)
    assert tiles == 3
    assert lines[0] == "== Growth overview =="
    assert lines[1].startswith("  Weekly active users: ")
    assert "last 402" in lines[1]
    assert lines[2] == "  Pricing → signup funnel: 2,480 → 612"
    assert lines[3] == "  text: ## Activation  [#2]"
    assert lines[-1] == "complete: 3 tiles"


async def test_live_render_loop_reports_failed_tiles() -> None:
    live_render = load("live_render")
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server, client_for(server) as ph:
        server.set_stream_faults(tile_errors={9304: "timed out"})
        lines: list[str] = []
        assert await live_render.stream(ph, 388, lines.append) == 6
    assert "  ✗ tile 9304: timed out" in lines
    assert "  Signups (7d): 412" in lines


def test_live_render_main(capsys: pytest.CaptureFixture[str]) -> None:
    live_render = load("live_render")
    assert live_render.main(["412"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "complete: 3 tiles"


# --- webapp ----------------------------------------------------------------------------------


def sse_events(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            events.append(json.loads(block[len("data: ") :]))
    return events


@asynccontextmanager
async def serve(settings: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The example app on a free port, and an HTTP session to talk to it."""
    webapp = load("webapp")
    runner = await webapp.run("127.0.0.1", 0, settings)
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as session:
            yield f"http://{host}:{port}", session
    finally:
        await runner.cleanup()


async def test_webapp_with_its_embedded_fake() -> None:
    webapp = load("webapp")
    async with serve(webapp.Settings(fake_tile_delay=0.0)) as (base, session):
        async with session.get(f"{base}/") as resp:
            assert resp.status == 200
            assert 'src="static/view.js"' in await resp.text()  # the SDK's live view
        async with session.get(f"{base}/api/dashboards") as resp:
            assert resp.status == 200
            assert {d["id"] for d in await resp.json()} == LISTED
        async with session.get(f"{base}/api/dashboards/412") as resp:
            assert resp.status == 200
            assert [t["id"] for t in (await resp.json())["tiles"]] == [9001, 9002, 9003]
        async with session.get(f"{base}/api/dashboards/9999") as resp:
            assert resp.status == 404
            assert (await resp.json())["kind"] == "NotFoundError"
        async with session.get(f"{base}/api/dashboards/412/stream") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            events = sse_events(await resp.text())
        assert [e["type"] for e in events] == ["metadata", "tile", "complete"]
        assert events[0]["dashboard"]["name"] == "Growth overview"
        assert events[1]["order"] == 2
        assert events[2]["fallback_used"] is False


async def test_webapp_relays_failures_as_a_final_error_event() -> None:
    webapp = load("webapp")
    async with FakePostHog() as server:  # no stream for the key: the SDK falls back to GET
        settings = webapp.Settings(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        )
        async with serve(settings) as (base, session):
            async with session.get(f"{base}/api/dashboards/388/stream") as resp:
                events = sse_events(await resp.text())
            assert events[-1] == {"type": "complete", "fallback_used": True}
            assert sum(e["type"] == "tile" for e in events) == 4

            async with session.get(f"{base}/api/dashboards/9999/stream") as resp:
                assert resp.status == 200  # EventSource would hide a non-200 body
                events = sse_events(await resp.text())
            assert events[-1]["type"] == "error"
            assert "tile_id" not in events[-1]
            assert events[-1]["kind"] == "NotFoundError"

            server.fail_next(status=400, path=r"/dashboards/?$")  # not retried: fast
            async with session.get(f"{base}/api/dashboards") as resp:
                assert resp.status == 502


async def test_webapp_stops_the_posthog_stream_when_the_browser_leaves() -> None:
    webapp = load("webapp")
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_stream_faults(stall_after=1)
        settings = webapp.Settings(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        )
        async with serve(settings) as (base, session):
            async with session.get(f"{base}/api/dashboards/412/stream") as resp:
                first = await resp.content.readuntil(b"\n\n")
                assert first.startswith(b'data: {"type":"metadata"')
                assert server.in_flight == 1
            # PostHog stalls, so nothing would ever be written again: only the handler's
            # cancellation on disconnect can close the upstream stream.
            for _ in range(100):
                if server.in_flight == 0:
                    break
                await asyncio.sleep(0.02)
            assert server.in_flight == 0
