"""``posthog_dash_async.web`` over real sockets: the SSE relay, mount(), the CLI's view server.

FakePostHog on loopback serves the dashboards; the view's application runs on another
loopback port and is read with a plain aiohttp client, as a browser's ``EventSource`` would.
"""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async._cli.web import (
    _printable,
    demo_dashboard,
    run_demo_web,
    run_view,
    start_view,
)
from posthog_dash_async.testing import FakePostHog
from posthog_dash_async.web import STATIC_DIR, create_app, mount, sse_relay

ROOT = Path(__file__).resolve().parent.parent


def sse_events(body: str) -> list[dict[str, Any]]:
    return [
        json.loads(block[len("data: ") :])
        for block in body.split("\n\n")
        if block.startswith("data: ")
    ]


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as session:
            yield f"http://{host}:{port}", session
    finally:
        await runner.cleanup()


@asynccontextmanager
async def client_of(server: FakePostHog) -> AsyncIterator[pda.AsyncPostHog]:
    async with pda.AsyncPostHog(
        api_key=server.api_key, host=server.url, project_id=server.project_id
    ) as ph:
        yield ph


@asynccontextmanager
async def web_view(
    **options: Any,
) -> AsyncIterator[tuple[FakePostHog, str, aiohttp.ClientSession]]:
    """A FakePostHog, the view's application on it, and a session to talk to the view."""
    async with (
        FakePostHog(**options) as server,
        client_of(server) as ph,
        serving(create_app(ph)) as (base, session),
    ):
        yield server, base, session


async def test_the_stream_route_relays_every_event_in_the_servers_shape() -> None:
    async with web_view(allow_pak_on_unscoped_actions=True) as (server, base, session):
        server.set_stream_faults(tile_errors={9304: "Query timed out after 60 seconds"})
        async with session.get(f"{base}/api/dashboards/388/stream") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert resp.headers["Cache-Control"] == "no-cache, no-transform"
            body = await resp.text()
        events = sse_events(body)
        assert [e["type"] for e in events] == [
            "metadata",  # 9301 and 9302
            "tile",  # 9303
            "error",  # 9304
            "tile",
            "tile",
            "complete",
        ]
        assert events[0]["dashboard"]["name"] == "Weekly KPIs"
        assert [t["id"] for t in events[0]["dashboard"]["tiles"]] == [9301, 9302]
        assert events[0]["dashboard"]["tiles"][0]["layouts"]["sm"] == {
            "x": 0,
            "y": 0,
            "w": 4,
            "h": 3,
        }
        assert events[2] == {
            "type": "error",
            "tile_id": 9304,
            "error": "Query timed out after 60 seconds",
        }
        assert events[-1] == {"type": "complete", "fallback_used": False}
        # The key stays in this process: nothing the page receives carries it.
        assert server.api_key not in body


async def test_a_failure_is_a_last_error_event_on_a_200_and_never_shows_the_key() -> None:
    # PostHog's 403 for keys on stream_tiles: the SDK falls back to GET.
    async with web_view() as (server, base, session):
        async with session.get(f"{base}/api/dashboards/412/stream") as resp:
            events = sse_events(await resp.text())
        assert events[-1] == {"type": "complete", "fallback_used": True}

        async with session.get(f"{base}/api/dashboards/9999/stream") as resp:
            assert resp.status == 200  # EventSource hides the body of a non-200 answer
            body = await resp.text()
        assert sse_events(body) == [
            {"type": "error", "error": sse_events(body)[0]["error"], "kind": "NotFoundError"}
        ]

        server.fail_next(count=10, status=401)
        async with session.get(f"{base}/api/dashboards/412/stream") as resp:
            body = await resp.text()
        (event,) = sse_events(body)
        assert event["kind"] == "AuthenticationError"
        assert server.api_key not in body

        async with session.get(f"{base}/api/dashboards/0/stream") as resp:
            assert resp.status == 404
        async with session.get(f"{base}/api/dashboards/abc/stream") as resp:
            assert resp.status == 404


async def test_the_page_is_served_with_a_strict_policy_and_its_assets() -> None:
    async with web_view() as (server, base, session):
        async with session.get(f"{base}/") as resp:
            assert resp.status == 200
            page = await resp.text()
            policy = resp.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "connect-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert server.api_key not in page
        # Every script and stylesheet the page loads is served by the package itself.
        for asset in (
            "static/view.js",
            "static/view.css",
            "static/vendor/chart.js/chart.umd.min.js",
            "static/vendor/marked/marked.umd.js",
            "static/vendor/dompurify/purify.min.js",
        ):
            assert f'"{asset}"' in page
            async with session.get(f"{base}/{asset}") as resp:
                assert resp.status == 200, asset
                assert server.api_key not in await resp.text()
        assert "http://" not in page
        assert "https://" not in page

        async with session.get(f"{base}/api/dashboards") as resp:
            listed = await resp.json()
        assert {"id": 412, "name": "Growth overview", "pinned": True} in listed
        assert set(listed[0]) == {"id", "name", "pinned"}


async def test_mount_under_a_prefix_with_the_client_in_an_app_key() -> None:
    key: web.AppKey[pda.AsyncPostHog] = web.AppKey("ph", pda.AsyncPostHog)
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:

        async def context(app: web.Application) -> AsyncIterator[None]:
            async with client_of(server) as ph:
                app[key] = ph
                yield

        app = web.Application()
        app.cleanup_ctx.append(context)
        mount(app, key, prefix="/live", dashboard_id=412, list_dashboards=False)
        async with serving(app) as (base, session):
            async with session.get(f"{base}/live", allow_redirects=False) as resp:
                assert resp.status == 302
                assert resp.headers["Location"] == "/live/"
            async with session.get(f"{base}/live/", allow_redirects=False) as resp:
                assert resp.status == 302
                assert resp.headers["Location"] == "/live/?dashboard=412"
            async with session.get(f"{base}/live/?dashboard=415") as resp:
                assert resp.status == 200
            async with session.get(f"{base}/live/api/dashboards/412/stream") as resp:
                events = sse_events(await resp.text())
            assert [e["type"] for e in events] == ["metadata", "tile", "complete"]
            async with session.get(f"{base}/live/api/dashboards") as resp:
                assert resp.status == 404  # list_dashboards=False
            async with session.get(f"{base}/live/static/view.js") as resp:
                assert resp.status == 200


async def test_sse_relay_in_a_handler_of_ones_own() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server, client_of(server) as ph:

        async def handler(request: web.Request) -> web.StreamResponse:
            stream = ph.dashboards.stream_tiles(377, layout_size="xs")
            return await sse_relay(request, stream)

        app = web.Application()
        app.router.add_get("/events", handler)
        async with serving(app) as (base, session), session.get(f"{base}/events") as resp:
            events = sse_events(await resp.text())
        assert [e["type"] for e in events] == ["metadata", "tile", "tile", "complete"]
        stream_requests = server.requests_matching("GET", r"/stream_tiles/?$")
        assert stream_requests[-1].query["layout_size"] == "xs"


async def test_bad_mount_arguments_are_refused() -> None:
    app = web.Application()
    async with pda.AsyncPostHog(api_key="phx_x", host="http://127.0.0.1:1") as ph:
        for prefix in ("live", "/live/", "//x"):
            with pytest.raises(pda.InvalidArgumentError, match="prefix"):
                mount(app, ph, prefix=prefix)
        for bad in (0, -3, True, "412"):
            with pytest.raises(pda.InvalidArgumentError, match="dashboard_id"):
                mount(app, ph, dashboard_id=bad)  # type: ignore[arg-type]
    assert len(app.router.routes()) == 0


async def test_a_closed_tab_ends_the_upstream_stream() -> None:
    async with web_view(allow_pak_on_unscoped_actions=True) as (server, base, session):
        server.set_stream_faults(stall_after=1)
        async with session.get(f"{base}/api/dashboards/412/stream") as resp:
            first = await resp.content.readuntil(b"\n\n")
            assert first.startswith(b'data: {"type":"metadata"')
            assert server.in_flight == 1
        for _ in range(100):
            if server.in_flight == 0:
                break
            await asyncio.sleep(0.02)
        assert server.in_flight == 0


async def test_run_view_serves_until_cancelled_and_opens_the_browser() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server, client_of(server) as ph:
        opened: list[str] = []
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        out, err = io.StringIO(), io.StringIO()
        task = asyncio.create_task(
            run_view(
                ph,
                412,
                port=0,
                open_browser=True,
                stdout=out,
                stderr=err,
                opener=opened.append,
                ready=ready.set_result,
            )
        )
        url = await asyncio.wait_for(ready, 10)
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/?dashboard=412")
        assert opened == [url]
        assert out.getvalue() == (f"live view of 'Growth overview' (#412): {url}  (Ctrl-C stops)\n")
        async with (
            aiohttp.ClientSession() as session,
            session.get(url.replace("/?dashboard=412", "/")) as resp,
        ):
            assert str(resp.url) == url  # redirected to the dashboard
            assert resp.status == 200
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert err.getvalue() == ""
        # The port is free again.
        port = int(url.split(":")[2].split("/")[0])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


async def test_a_busy_port_is_one_line_and_exit_2() -> None:
    async with FakePostHog() as server, client_of(server) as ph:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(OSError, match="address already in use") as info:
                await start_view(ph, 412, port)
            assert info.value.errno == errno.EADDRINUSE
            out, err = io.StringIO(), io.StringIO()
            code = await run_view(ph, 412, port=port, open_browser=False, stdout=out, stderr=err)
    assert code == 2
    assert out.getvalue() == ""
    assert err.getvalue() == (
        f"posthog-dash: usage: port {port} on 127.0.0.1 is in use "
        "(pick another with --port N, or --port 0 for a free one)\n"
    )


async def test_demo_web_streams_its_demo_dashboard() -> None:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    out = io.StringIO()
    task = asyncio.create_task(
        run_demo_web(
            port=0,
            open_browser=False,
            tile_delay=0.0,
            stdout=out,
            stderr=io.StringIO(),
            ready=ready.set_result,
        )
    )
    url = await asyncio.wait_for(ready, 10)
    base, _, query = url.partition("/?dashboard=")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/dashboards/{query}/stream") as resp,
    ):
        events = sse_events(await resp.text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events[0]["dashboard"]["name"] == "Product health (demo)"
    assert events[-1] == {"type": "complete", "fallback_used": False}
    kinds = [e["type"] for e in events]
    assert kinds.count("tile") + len(events[0]["dashboard"]["tiles"]) == 7


async def test_the_demo_dashboard_has_every_kind_of_tile_placed_on_the_grid() -> None:
    async with FakePostHog() as server:
        detail = server.dashboard(demo_dashboard(server))
    cells: set[tuple[int, int]] = set()
    for tile in detail["tiles"]:
        sm = tile["layouts"]["sm"]
        assert sm["x"] >= 0
        assert sm["x"] + sm["w"] <= 12
        for x in range(sm["x"], sm["x"] + sm["w"]):
            for y in range(sm["y"], sm["y"] + sm["h"]):
                assert (x, y) not in cells, "tiles overlap"
                cells.add((x, y))
    assert any(t["text"] for t in detail["tiles"])
    assert sum(1 for t in detail["tiles"] if t["insight"]) == 6


def test_the_cli_has_view_and_demo_web() -> None:
    from posthog_dash_async.cli import build_parser

    args = build_parser().parse_args(["view", "412", "--port", "0", "--no-open"])
    assert (args.command, args.id, args.port, args.no_open) == ("view", 412, 0, True)
    args = build_parser().parse_args(["demo", "--web", "--port", "9000"])
    assert (args.web, args.port, args.no_open) == (True, 9000, False)
    for bad in (["view", "0"], ["view", "412", "--port", "70000"], ["view"]):
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args(bad)
        assert info.value.code == 2


def test_the_vendored_libraries_match_what_npm_published() -> None:
    # Offline: compares the committed files with the manifest the fetch script wrote.
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fetch_web_assets.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((STATIC_DIR / "vendor" / "MANIFEST.json").read_text())
    assert set(manifest) == {"chart.js", "marked", "dompurify"}
    for name, entry in manifest.items():
        assert entry["integrity"].startswith("sha512-")
        licences = [f for f in entry["files"] if f.startswith("LICENSE")]
        assert licences, f"{name} ships without its licence"
        for licence in licences:
            assert (STATIC_DIR / "vendor" / name / licence).stat().st_size > 500


async def read_url_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    text = line.decode()
    match = re.search(r"(http://127\.0\.0\.1:\d+/\?dashboard=\d+)", text)
    assert match is not None, text
    return match.group(1)


@pytest.mark.parametrize("command", [["demo", "--web"], ["view", "412"]])
async def test_the_commands_serve_the_view_until_ctrl_c(command: list[str]) -> None:
    async with FakePostHog() as server:  # what `posthog-dash serve` runs
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "POSTHOG_PROJECT_ID": str(server.project_id),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "posthog_dash_async",
            *command,
            "--port",
            "0",
            "--no-open",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            url = await read_url_line(process)
            base, _, dashboard = url.partition("/?dashboard=")
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{base}/api/dashboards/{dashboard}/stream") as resp,
            ):
                events = sse_events(await resp.text())
            assert events[0]["type"] == "metadata"
            assert events[-1]["type"] == "complete"
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 130  # interrupted, as every command stopped by Ctrl-C
    assert b"Traceback" not in stderr
    assert server.api_key.encode() not in stdout + stderr


async def test_tabs_watching_one_dashboard_share_one_upstream_stream() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_stream_faults(tile_delay=0.2)
        async with (
            pda.AsyncPostHog(
                api_key=server.api_key,
                host=server.url,
                project_id=server.project_id,
                coalesce=True,
            ) as ph,
            serving(create_app(ph)) as (base, session),
        ):

            async def tab() -> list[dict[str, Any]]:
                async with session.get(f"{base}/api/dashboards/388/stream") as resp:
                    return sse_events(await resp.text())

            first, second, third = await asyncio.gather(tab(), tab(), tab())
        assert first == second == third
        assert [e["type"] for e in first][-1] == "complete"
        assert len(server.requests_matching("GET", r"/stream_tiles/?$")) == 1


async def test_view_of_a_missing_dashboard_fails_before_serving() -> None:
    async with FakePostHog() as server, client_of(server) as ph:
        server.dashboard(412)  # exists; 9999 does not
        name = "\x1b]0;pwned\x07Evil\x1b[2J name"
        detail = server.add_dashboard(name)
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(pda.NotFoundError):
            await run_view(ph, 9999, port=0, open_browser=False, stdout=out, stderr=err)
        assert out.getvalue() == ""

        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            run_view(
                ph,
                detail["id"],
                port=0,
                open_browser=False,
                stdout=out,
                stderr=err,
                ready=ready.set_result,
            )
        )
        await asyncio.wait_for(ready, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # A server string reaches the terminal as text: no escape sequence survives.
    assert "\x1b" not in out.getvalue()
    assert "\x07" not in out.getvalue()
    assert out.getvalue().startswith("live view of '")
    assert "Evil" in out.getvalue()
    # Whole escape sequences go, not only their control characters.
    assert _printable(name) == "Evil name"


async def test_view_of_a_missing_dashboard_is_exit_4_in_one_line() -> None:
    async with FakePostHog() as server:
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "POSTHOG_PROJECT_ID": str(server.project_id),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "posthog_dash_async",
            "view",
            "9999",
            "--no-open",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 4
    assert stdout == b""
    assert stderr.decode().startswith("posthog-dash: not found: ")
    assert len(stderr.splitlines()) == 1


def test_the_page_builds_html_only_from_sanitised_markdown() -> None:
    # A guard for later edits of the page: server strings go in as text (textContent); the
    # one place that assigns HTML takes it from markdown(), which returns DOMPurify's output.
    script = (STATIC_DIR / "view.js").read_text(encoding="utf-8")
    sinks = re.findall(
        r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|eval\(", script
    )
    assert sinks == ["innerHTML"]
    assert "body.innerHTML = markdown(tile.text.body);" in script
    assert re.search(r"return DOMPurify\.sanitize\(html, ", script)
    assert "new Function" not in script


async def test_a_quiet_stream_gets_keep_alive_comments_between_events() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server, client_of(server) as ph:
        server.set_stream_faults(tile_delay=0.3)
        app = web.Application()
        mount(app, ph, heartbeat=0.05)
        async with (
            serving(app) as (base, session),
            session.get(f"{base}/api/dashboards/412/stream") as resp,
        ):
            body = await resp.text()
    blocks = body.split("\n\n")
    assert blocks.count(": keep-alive") >= 3
    # Comments fall between events, never inside one.
    assert all(b in ("", ": keep-alive") or b.startswith("data: {") for b in blocks)
    assert [e["type"] for e in sse_events(body)] == ["metadata", "tile", "complete"]
    assert body.endswith("\n\n")


async def test_no_keep_alive_when_switched_off_and_bad_values_refused() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server, client_of(server) as ph:
        server.set_stream_faults(tile_delay=0.2)
        app = web.Application()
        mount(app, ph, heartbeat=None)
        async with (
            serving(app) as (base, session),
            session.get(f"{base}/api/dashboards/412/stream") as resp,
        ):
            body = await resp.text()
        assert "keep-alive" not in body
        for bad in (0, -1.0, True, "15"):
            with pytest.raises(pda.InvalidArgumentError, match="heartbeat"):
                mount(web.Application(), ph, heartbeat=bad)  # type: ignore[arg-type]
