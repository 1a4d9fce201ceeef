"""The ``posthog-dash`` command line: commands, output formats, exit codes, the live view.

Commands run in-process through ``main([...])`` in a worker thread (``main`` runs its own
event loop) against a FakePostHog on the test's loop; a few run as real subprocesses
(``python -m posthog_dash_async``, the console script, Ctrl-C). The pure renderers are
tested with plain values and the spec's fixture dashboard.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shlex
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import fixture_bytes

import posthog_dash_async as pda
from posthog_dash_async._cli.output import (
    UsageError,
    classify,
    error_line,
    event_json,
    table,
)
from posthog_dash_async._cli.render import FAIL_MARK, display_width
from posthog_dash_async.cli import main
from posthog_dash_async.testing import FakePostHog

LENA_UUID = "018d7e21-4b6a-7c3f-9e12-0a4b8c6d2f90"
LISTED = {415, 412, 450, 377, 420, 388, 401, 433}


def fixture_dashboard() -> pda.Dashboard:
    return msgspec.json.decode(fixture_bytes("dashboard_detail.json"), type=pda.Dashboard)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
async def server() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as fake:
        yield fake


async def cli(
    capsys: pytest.CaptureFixture[str],
    fake: FakePostHog | None,
    *args: str,
    key: str | None = None,
    connect: bool = True,
) -> Run:
    """Run ``posthog-dash`` in a thread with the connection flags of ``fake``."""
    argv: list[str] = []
    if connect and fake is not None:
        argv = [
            "--host",
            fake.url,
            "--project",
            str(fake.project_id),
            "--api-key",
            key or fake.api_key,
            "--max-retries",
            "0",
        ]
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*argv, *args])
    captured = capsys.readouterr()
    run = Run(code, captured.out, captured.err)
    if fake is not None:
        secret = key or fake.api_key
        assert secret not in run.out
        assert secret not in run.err
    return run


# --- commands --------------------------------------------------------------------------------


async def test_list_prints_a_table_of_every_page(
    server: FakePostHog, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Configured by the environment, like the client.
    monkeypatch.setenv("POSTHOG_HOST", server.url)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", server.api_key)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", str(server.project_id))
    run = await cli(capsys, None, "list", "--page-size", "3")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "PIN",
        "TAGS",
        "RESTRICTED",
        "SHARED",
        "LAST",
        "ACCESSED",
    ]
    assert set(lines[1]) == {"─"}  # the header's rule
    ids = [int(line.split()[0]) for line in lines[2:-1]]
    assert ids == [415, 412, 450, 377, 420, 388, 401, 433]  # pinned first, then by name
    assert "Growth overview" in run.out
    assert lines[-1].startswith("8 dashboards")
    assert server.api_key not in run.out + run.err
    pages = server.requests_matching("GET", r"/dashboards/?$")
    assert len(pages) == 3  # 8 items in pages of 3


async def test_list_json_emits_one_dashboard_per_line(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(capsys, server, "list", "--json", "--page-size", "2")
    assert run.code == 0, run.err
    items = run.json_lines()
    assert {item["id"] for item in items} == LISTED
    assert all("tiles" not in item for item in items)
    # Options are accepted after the command too.
    again = await cli(
        capsys, None, "list", "--json", "--host", server.url, "--api-key", server.api_key
    )
    assert again.code == 0
    assert len(again.json_lines()) == len(LISTED)
    assert server.api_key not in again.out + again.err


async def test_get_shows_the_dashboard_and_its_tiles(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(capsys, server, "get", "412")
    assert run.code == 0, run.err
    assert run.out.startswith("Growth overview (#412)")
    rows = [line.split() for line in run.out.splitlines()]
    assert ["0", "9001", "insight/trends", "Weekly", "active", "users"] in rows
    assert ["1", "9002", "insight/funnel", "Pricing", "→", "signup", "funnel"] in rows
    as_json = await cli(capsys, server, "get", "412", "--json")
    detail = json.loads(as_json.out)
    assert detail["id"] == 412
    assert [t["id"] for t in detail["tiles"]] == [9001, 9002, 9003]


async def test_create_update_delete_restore(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    created = await cli(
        capsys,
        server,
        "create",
        "--name",
        "Launch",
        "--description",
        "for the CLI test",
        "--pinned",
        "--tag",
        "one",
        "--tag",
        "two",
        "--json",
    )
    assert created.code == 0, created.err
    dashboard = json.loads(created.out)
    dashboard_id = str(dashboard["id"])
    assert dashboard["pinned"] is True
    assert sorted(dashboard["tags"]) == ["one", "two"]

    updated = await cli(capsys, server, "update", dashboard_id, "--no-pinned", "--name", "Renamed")
    assert updated.code == 0
    assert "updated dashboard" in updated.out
    assert server.dashboard(int(dashboard_id))["pinned"] is False
    assert server.dashboard(int(dashboard_id))["name"] == "Renamed"

    nothing = await cli(capsys, server, "update", dashboard_id)
    assert nothing.code == 2
    assert "needs something to change" in nothing.err

    deleted = await cli(capsys, server, "delete", dashboard_id)
    assert deleted.code == 0
    assert f"posthog-dash restore {dashboard_id}" in deleted.out
    gone = await cli(capsys, server, "get", dashboard_id)
    assert gone.code == 4
    restored = await cli(capsys, server, "restore", dashboard_id)
    assert restored.code == 0
    assert "restored dashboard" in restored.out
    back = await cli(capsys, server, "get", dashboard_id, "--json")
    assert back.code == 0
    assert json.loads(back.out)["deleted"] is False


async def test_move_tile(server: FakePostHog, capsys: pytest.CaptureFixture[str]) -> None:
    run = await cli(capsys, server, "move-tile", "412", "9003", "--to", "388")
    assert run.code == 0, run.err
    assert "moved tile 9003 from dashboard 412 to dashboard 388; 2 tiles left" in run.out
    assert 9003 in [t["id"] for t in server.dashboard(388)["tiles"]]


async def test_move_tile_refused_for_api_keys_is_an_auth_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # PostHog's older move_tile: no scope, so no personal API keys there.
    async with FakePostHog(move_tile_flavour="ref") as strict:
        run = await cli(capsys, strict, "move-tile", "412", "9003", "--to", "388")
    assert run.code == 3
    assert run.err.count("\n") == 1
    assert "does not support personal API key access" in run.err


async def test_collaborators(server: FakePostHog, capsys: pytest.CaptureFixture[str]) -> None:
    listed = await cli(capsys, server, "collaborators", "list", "415")
    assert listed.code == 0
    assert "Lena Fischer" in listed.out
    assert LENA_UUID in listed.out
    added = await cli(capsys, server, "collaborators", "add", "420", LENA_UUID)
    assert added.code == 0
    assert "Lena Fischer" in added.out
    twice = await cli(capsys, server, "collaborators", "add", "420", LENA_UUID)
    assert twice.code == 1
    assert "already is a collaborator" in twice.err
    as_json = await cli(capsys, server, "collaborators", "list", "420", "--json")
    assert [c["user"]["uuid"] for c in as_json.json_lines()] == [LENA_UUID]
    removed = await cli(capsys, server, "collaborators", "remove", "420", LENA_UUID)
    assert removed.code == 0
    assert server.collaborators(420) == []
    bad = await cli(capsys, server, "collaborators", "add", "420", "not-a-uuid")
    assert bad.code == 2
    assert "usage" in bad.err


async def test_sharing(server: FakePostHog, capsys: pytest.CaptureFixture[str]) -> None:
    enabled = await cli(capsys, server, "sharing", "enable", "388", "--json")
    first = json.loads(enabled.out)
    assert enabled.code == 0
    assert first["enabled"] is True
    refreshed = await cli(capsys, server, "sharing", "refresh", "388")
    assert refreshed.code == 0
    assert "sharing: enabled" in refreshed.out
    token = server.sharing_configuration(388)
    assert token is not None
    assert token["access_token"] != first["access_token"]
    assert f"/shared/{token['access_token']}" in refreshed.out
    disabled = await cli(capsys, server, "sharing", "disable", "388")
    assert disabled.code == 0
    assert "sharing: disabled" in disabled.out
    shown = await cli(capsys, server, "sharing", "get", "388", "--json")
    assert json.loads(shown.out)["enabled"] is False


async def test_from_template(
    server: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    template = {
        "template_name": "From a file",
        "dashboard_description": "made by the CLI test",
        "dashboard_filters": {},
        "tiles": [{"type": "TEXT", "body": "hello", "layouts": {}}],
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"template": template}))
    run = await cli(capsys, server, "from-template", str(path), "--json")
    assert run.code == 0, run.err
    created = json.loads(run.out)
    assert created["name"] == "From a file"
    assert created["tiles"][0]["text"]["body"] == "hello"

    missing = await cli(capsys, server, "from-template", str(tmp_path / "nope.json"))
    assert missing.code == 2
    assert "cannot read" in missing.err
    path.write_text("{not json")
    broken = await cli(capsys, server, "from-template", str(path))
    assert broken.code == 2
    assert "not valid JSON" in broken.err
    path.write_text(json.dumps({"template_name": "x"}))
    incomplete = await cli(capsys, server, "from-template", str(path))
    assert incomplete.code == 2
    assert "missing required keys" in incomplete.err


# --- streaming -------------------------------------------------------------------------------


async def test_stream_plain_shows_name_then_tiles_then_progress(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    server.set_stream_faults(tile_errors={9003: "Query exceeded the maximum execution time"})
    run = await cli(capsys, server, "stream", "412")
    assert run.code == 0, run.err
    lines = [line.rstrip() for line in run.out.splitlines()]
    assert lines[0] == "Growth overview"
    assert lines[1] == "Weekly health of acquisition and activation."
    assert lines[2] == "[1] ■ Weekly active users"
    assert "━ $pageview 402" in lines[3]  # the legend: series and last value
    chart = "\n".join(lines[3:12])
    assert "1,621 ┤" in chart  # the value axis, from the highest value...
    assert "402 ┤" in chart  # ...to the lowest
    assert "└┬" in chart  # the time axis, with its labels under it
    assert "5-Oct-2025" in chart
    assert "2-Nov-2025" in chart
    funnel_at = lines.index("[2] ■ Pricing → signup funnel")
    funnel = "\n".join(lines[funnel_at : funnel_at + 4])
    assert "2,480 100.0%" in funnel
    assert "612  24.7%" in funnel
    assert "conversion 24.7% (612 of 2,480)" in funnel
    failed_at = lines.index(f"[3] {FAIL_MARK} tile 9003 (failed)")
    assert "maximum execution time" in lines[failed_at + 1]
    assert lines[-1].startswith("[3 of 3 tiles, 1 failed] complete in ")
    assert "\x1b" not in run.out  # no colour and no cursor movement on a pipe


async def test_stream_json_lines_follow_the_wire_shape(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(capsys, server, "stream", "388", "--json", "--layout", "xs")
    assert run.code == 0, run.err
    events = run.json_lines()
    assert [e["type"] for e in events] == ["metadata", "tile", "tile", "tile", "tile", "complete"]
    assert len(events[0]["dashboard"]["tiles"]) == 2
    assert [e["order"] for e in events[1:5]] == [2, 3, 4, 5]


async def test_stream_falls_back_when_the_key_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with FakePostHog() as strict:
        run = await cli(capsys, strict, "stream", "412")
        refused = await cli(capsys, strict, "stream", "412", "--no-fallback")
    assert run.code == 0
    assert "[3 of 3 tiles] complete" in run.out
    assert "served from GET" in run.err
    assert refused.code == 3


async def test_stream_fatal_error_keeps_what_arrived_and_exits_1(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    server.set_stream_faults(fatal_error_after=2, fatal_error_message="ClickHouse went away")
    run = await cli(capsys, server, "stream", "388")
    assert run.code == 1
    assert "Signups (7d)" in run.out  # the metadata's tiles were shown
    assert f"{FAIL_MARK} stream failed: ClickHouse went away" in run.out
    assert run.err.count("\n") == 1
    assert run.err.startswith("posthog-dash: stream:")


# --- exit codes -----------------------------------------------------------------------------


async def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(main, []) == 2
    assert await asyncio.to_thread(main, ["get", "abc"]) == 2
    assert await asyncio.to_thread(main, ["stream", "1", "--layout", "lg"]) == 2
    assert await asyncio.to_thread(main, ["--help"]) == 0
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--api-key", "phx_x1234567", "--host", "ftp://x", "list"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("posthog-dash: usage:")
    code = await asyncio.to_thread(main, ["--api-key", "phx_x1234567", "get", "0"])
    assert code == 2


async def test_wrong_key_exits_3_and_never_shows_the_key(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "phx_ThisKeyIsWrongAndSecret0123456789"
    run = await cli(capsys, server, "list", key=wrong)
    assert run.code == 3
    assert run.err.startswith("posthog-dash: auth:")
    assert run.err.count("\n") == 1
    assert "Traceback" not in run.err


async def test_missing_key_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(main, ["--host", "http://127.0.0.1:9", "list"])
    assert code == 3
    assert "no API key" in capsys.readouterr().err


async def test_unknown_dashboard_exits_4(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (("get", "9999"), ("stream", "9999"), ("delete", "470"), ("restore", "9999")):
        run = await cli(capsys, server, *args)
        assert run.code == 4, (args, run.err)
        assert run.err.startswith("posthog-dash: not found:")


async def test_throttled_exits_5(server: FakePostHog, capsys: pytest.CaptureFixture[str]) -> None:
    server.throttle_next(wait=37)
    run = await cli(capsys, server, "get", "412")
    assert run.code == 5
    assert "throttled" in run.err
    assert "retry in 37 s" in run.err


async def test_server_error_exits_6_and_redacts_a_key_echoed_by_the_server(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next(status=502, body=f"<html>bad gateway for {server.api_key}</html>")
    run = await cli(capsys, server, "list")
    assert run.code == 6
    assert run.err.startswith("posthog-dash: server error:")
    assert server.api_key not in run.err  # also checked by cli(); stated here for clarity


async def test_closed_port_exits_7(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "phx_NetworkTestKey0123456789abcdef"
    code = await asyncio.to_thread(
        main,
        ["--host", f"http://127.0.0.1:{port}", "--api-key", key, "--max-retries", "0", "list"],
    )
    captured = capsys.readouterr()
    assert code == 7
    assert captured.err.startswith("posthog-dash: network:")
    assert key not in captured.out + captured.err


def test_error_classes_map_to_distinct_exit_codes() -> None:
    def status(cls: type[pda.APIStatusError], code: int) -> pda.APIStatusError:
        return cls("x", status=code)

    assert classify(UsageError("x"))[0] == 2
    assert classify(pda.InvalidArgumentError("x"))[0] == 2
    assert classify(status(pda.AuthenticationError, 401))[0] == 3
    assert classify(status(pda.PermissionDeniedError, 403))[0] == 3
    assert classify(status(pda.UnsupportedForApiKeyError, 403))[0] == 3
    assert classify(status(pda.NotFoundError, 404))[0] == 4
    assert classify(status(pda.RateLimitError, 429))[0] == 5
    assert classify(status(pda.ServerError, 503))[0] == 6
    assert classify(pda.APIConnectionError("x"))[0] == 7
    assert classify(pda.APITimeoutError("x"))[0] == 7
    assert classify(status(pda.BadRequestError, 400))[0] == 1
    assert classify(status(pda.MethodNotAllowedError, 405))[0] == 1
    assert classify(pda.StreamError("x"))[0] == 1
    assert classify(pda.StreamIncompleteError("x"))[0] == 1


def test_error_line_is_one_line_without_the_secret() -> None:
    secret = "phx_SecretValue0123456789abcdef"
    exc = pda.BadRequestError(f"bad\n\nthing {secret}\nmore", status=400)
    line = error_line(exc, secret)
    assert "\n" not in line
    assert secret not in line
    assert line == "posthog-dash: bad request: bad thing *** more"


# --- subprocesses ---------------------------------------------------------------------------


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def test_python_m_demo_exits_0() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "posthog_dash_async",
        "demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    assert "all 11 steps passed" in text
    for step in (
        "create",
        "list",
        "details",
        "stream",
        "move tile",
        "tiles",
        "insight",
        "share token",
        "copy",
    ):
        assert f". {step}" in text
    assert "Lena Fischer can now edit" in text
    assert "→" in text
    assert err.decode() == ""


async def test_console_script_lists_as_json(server: FakePostHog) -> None:
    script = Path(sys.executable).with_name("posthog-dash")
    if not script.exists():
        found = shutil.which("posthog-dash")
        if found is None:
            pytest.skip("the posthog-dash console script is not installed (pip install -e .)")
        script = Path(found)
    proc = await asyncio.create_subprocess_exec(
        str(script),
        "list",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(
            POSTHOG_HOST=server.url,
            POSTHOG_PERSONAL_API_KEY=server.api_key,
            POSTHOG_PROJECT_ID=str(server.project_id),
        ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    assert {json.loads(line)["id"] for line in out.decode().splitlines()} == LISTED
    assert server.api_key.encode() not in out + err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_ctrl_c_exits_130_quietly(server: FakePostHog) -> None:
    server.set_stream_faults(stall_after=1)
    # The child restores Python's default SIGINT handling: a shell that starts a job in
    # the background may have left SIGINT ignored for its children.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from posthog_dash_async.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "stream",
        "412",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(
            POSTHOG_HOST=server.url,
            POSTHOG_PERSONAL_API_KEY=server.api_key,
            POSTHOG_PROJECT_ID=str(server.project_id),
        ),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
    assert first.decode().strip() == "Growth overview"
    proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 130
    assert err.decode() == ""
    assert b"Traceback" not in rest


# --- pure helpers ---------------------------------------------------------------------------


def _transcript_events() -> list[pda.StreamEvent]:
    from posthog_dash_async._sse import decode_all
    from posthog_dash_async._streaming import decode_event

    return [decode_event(data) for data in decode_all(fixture_bytes("stream_tiles_transcript.sse"))]


def test_event_json_puts_the_type_first() -> None:
    events = _transcript_events()
    encoded = [json.loads(event_json(e)) for e in events]
    assert [next(iter(e)) for e in encoded] == ["type"] * len(events)
    assert [e["type"] for e in encoded] == ["metadata", "tile", "error", "complete"]
    assert encoded[2] == {"type": "error", "tile_id": 9004, "error": events[2].error}  # type: ignore[union-attr]


def test_table_fits_the_width_by_narrowing_the_flexible_column() -> None:
    rows = [["1", "a very long dashboard name indeed", "x"], ["22", "short", "yy"]]
    lines = table(["ID", "NAME", "Z"], rows, width=24)
    assert lines[0] == "ID  NAME              Z"
    assert lines[1] == "─" * 24
    assert lines[2] == "1   a very long das…  x"
    assert lines[3] == "22  short             yy"
    assert all(display_width(line) <= 24 for line in lines)


# --- progress, demo failure, serve ------------------------------------------------------------


class _Tty(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


async def test_list_shows_a_progress_bar_on_a_terminal(server: FakePostHog) -> None:
    import argparse

    from posthog_dash_async._cli.commands import cmd_list
    from posthog_dash_async._cli.output import Output

    out, err = io.StringIO(), _Tty()
    args = argparse.Namespace(
        json=False, page_size=3, tag=None, search=None, exclude_generated=False, creation_mode=None
    )
    async with pda.AsyncPostHog(
        api_key=server.api_key, host=server.url, project_id=server.project_id
    ) as ph:
        assert await cmd_list(ph, args, Output(out=out, err=err)) == 0
    shown = err.getvalue()
    assert "fetching dashboards" in shown
    assert "8/8" in shown  # rich's "completed/total" column
    assert "\x1b[?25l" in shown  # the cursor is hidden while the bar is drawn...
    assert "\x1b[?25h" in shown  # ...and shown again,
    assert shown.endswith("\x1b[2K")  # and the bar is erased at the end
    assert "8 dashboards" in out.getvalue()
    assert "\x1b" not in out.getvalue()  # stdout is not a terminal: no colour there


async def test_demo_reports_the_failing_step_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import posthog_dash_async.testing as testing
    from posthog_dash_async._cli.demo import run_demo
    from posthog_dash_async._cli.output import Output

    class BrokenMove(FakePostHog):
        async def start(self) -> FakePostHog:
            await super().start()
            self.fail_next(status=400, method="PATCH", path=r"/move_tile/?$")
            return self

    monkeypatch.setattr(testing, "FakePostHog", BrokenMove)
    out, err = io.StringIO(), io.StringIO()
    code = await run_demo(Output(out=out, err=err), tile_delay=0.0)
    assert code == 1
    text = out.getvalue()
    assert "✓ 4. stream" in text
    assert "✗ 5. move tile" in text
    assert "demo FAILED at step 5 (move tile)" in text
    assert "share token" not in text  # later steps do not run on a broken state
    assert err.getvalue() == "posthog-dash: demo failed at step 'move tile'\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_serve_runs_a_fake_server_until_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from posthog_dash_async.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "serve",
        "--port",
        "0",
        "--api-key",
        "phx_ServeTestKey0123456789abcdef",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    assert proc.stdout is not None
    try:
        # The environment a shell gets from serve's lines (``export NAME=VALUE``, or
        # ``NAME=VALUE``), read until the three variables are there.
        env: dict[str, str] = {}
        for _ in range(20):
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
            words = shlex.split(line.removeprefix("export "))
            if len(words) == 1 and words[0].startswith("POSTHOG_") and "=" in words[0]:
                name, value = words[0].split("=", 1)
                env[name] = value
            if len(env) == 3:
                break
        assert env["POSTHOG_HOST"].startswith("http://127.0.0.1:")
        assert env["POSTHOG_PERSONAL_API_KEY"] == "phx_ServeTestKey0123456789abcdef"
        argv = ["--host", env["POSTHOG_HOST"], "--api-key", env["POSTHOG_PERSONAL_API_KEY"]]
        listed = await asyncio.to_thread(main, [*argv, "list", "--json"])
        assert listed == 0
        assert len(capsys.readouterr().out.splitlines()) == len(LISTED)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 130
    assert err.decode() == ""
