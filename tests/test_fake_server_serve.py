"""``posthog-dash serve``: export lines a shell can paste, a key the README commands accept,
and a busy port said in one line."""

from __future__ import annotations

import argparse
import asyncio
import io
import shlex
import socket
import subprocess
import sys
from typing import Any

import aiohttp

from posthog_dash_async._cli.serve import add_serve_parser, run_serve
from posthog_dash_async.testing import FakePostHog


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


async def started(argv: list[str]) -> tuple[asyncio.Task[int], dict[str, str], io.StringIO]:
    """Run ``posthog-dash serve`` in this loop; the environment its export lines set."""
    args = parse(["--port", "0", *argv])
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(run_serve(args, out, err))
    for _ in range(500):
        if out.getvalue().count("export ") == 3 or task.done():
            break
        await asyncio.sleep(0.01)
    env: dict[str, str] = {}
    for line in out.getvalue().splitlines()[1:]:
        words = shlex.split(line)
        assert words[0] == "export", line
        name, value = words[1].split("=", 1)
        env[name] = value
    return task, env, err


async def stop(task: asyncio.Task[int]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def call(env: dict[str, str], method: str, path: str, body: Any = None) -> int:
    url = f"{env['POSTHOG_HOST']}/api/projects/{env['POSTHOG_PROJECT_ID']}/{path}"
    headers = {"Authorization": f"Bearer {env['POSTHOG_PERSONAL_API_KEY']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body, headers=headers) as response,
    ):
        await response.read()
        return response.status


TEMPLATE = {
    "template": {
        "template_name": "Launch",
        "dashboard_description": "",
        "dashboard_filters": {},
        "tiles": [{"type": "TEXT", "body": "Hi"}],
    }
}


async def test_serve_prints_export_lines_and_its_key_opens_every_command() -> None:
    task, env, _ = await started([])
    try:
        assert set(env) == {"POSTHOG_HOST", "POSTHOG_PERSONAL_API_KEY", "POSTHOG_PROJECT_ID"}
        assert env["POSTHOG_HOST"].startswith("http://127.0.0.1:")
        assert env["POSTHOG_PROJECT_ID"] == "42"
        # What the README's commands call: list, get, tiles, insights, sharing, @me.
        assert await call(env, "GET", "dashboards/") == 200
        assert await call(env, "GET", "dashboards/412/") == 200
        assert await call(env, "POST", "dashboards/412/create_text_tile/", {"body": "x"}) == 201
        assert await call(env, "GET", "insights/") == 200
        assert await call(env, "GET", "dashboards/412/run_insights/") == 200
        assert await call(env, "GET", "dashboard_templates/") == 200
        # PostHog refuses personal API keys on the scope-less actions; so does serve.
        assert await call(env, "GET", "dashboards/412/stream_tiles/") == 403
        assert await call(env, "POST", "dashboards/create_from_template_json/", TEMPLATE) == 403
        assert await call(env, "PATCH", "dashboards/412/sharing/", {"enabled": True}) == 200
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{env['POSTHOG_HOST']}/api/users/@me/",
                headers={"Authorization": f"Bearer {env['POSTHOG_PERSONAL_API_KEY']}"},
            ) as response,
        ):
            assert (response.status, (await response.json())["id"]) == (200, 1043)
    finally:
        await stop(task)


async def test_unscoped_actions_switch_and_narrow_keys() -> None:
    task, env, _ = await started(["--allow-pak-on-unscoped-actions"])
    try:
        assert await call(env, "GET", "dashboards/412/stream_tiles/") == 200
        assert await call(env, "POST", "dashboards/create_from_template_json/", TEMPLATE) == 200
    finally:
        await stop(task)
    task, env, _ = await started(["--scopes", "dashboard:read"])
    try:
        assert await call(env, "GET", "dashboards/") == 200
        assert await call(env, "PATCH", "dashboards/412/", {"name": "x"}) == 403
    finally:
        await stop(task)


async def test_a_busy_port_is_one_line_and_exit_2() -> None:
    async with FakePostHog() as busy:
        out, err = io.StringIO(), io.StringIO()
        assert await run_serve(parse(["--port", str(busy.port)]), out, err) == 2
        assert out.getvalue() == ""
        assert err.getvalue() == (
            f"posthog-dash: serve: 127.0.0.1:{busy.port} is already in use; "
            "pick another port with --port (0: any free one)\n"
        )


def test_a_busy_port_from_the_command_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "posthog_dash_async", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_serve_arguments_are_usage() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "posthog_dash_async", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "expected a port from 0 to 65535" in proc.stderr
    assert "Traceback" not in proc.stderr
