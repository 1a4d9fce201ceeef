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
from posthog_dash_async._cli.live import AppendPainter, RedrawPainter, show_stream
from posthog_dash_async._cli.output import (
    UsageError,
    classify,
    error_line,
    event_json,
    table,
)
from posthog_dash_async._cli.render import (
    FAIL_MARK,
    SPARK_CHARS,
    LiveView,
    big_number,
    display_width,
    error_lines,
    format_value,
    funnel_lines,
    insight_kind,
    progress_text,
    sparkline,
    text_lines,
    tile_lines,
    trend_lines,
    truncate,
)
from posthog_dash_async._cli.render import Series as TrendSeries
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
    ids = [int(line.split()[0]) for line in lines[1:-1]]
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
    assert "9001  insight/trends  Weekly active users" in run.out
    assert "9002  insight/funnel  Pricing → signup funnel" in run.out
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
    async with FakePostHog() as strict:  # PostHog's default: no personal API keys here
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
    lines = run.out.splitlines()
    assert lines[0] == "Growth overview"
    assert lines[1] == "Weekly health of acquisition and activation."
    assert lines[2] == "[1] ■ Weekly active users"
    assert any(c in lines[3] for c in SPARK_CHARS)
    assert "last 402" in lines[3]
    funnel = "\n".join(lines[5:7])
    assert "2,480 100.0%" in funnel
    assert "612  24.7%" in funnel
    assert lines[7] == f"[3] {FAIL_MARK} tile 9003 (failed)"
    assert "maximum execution time" in lines[8]
    assert lines[-1].startswith("[3 of 3 tiles, 1 failed] complete in ")


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
    assert "all 8 steps passed" in text
    for step in ("create", "list", "details", "stream", "move tile", "share token"):
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


# --- pure renderers -------------------------------------------------------------------------


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline(range(8)) == SPARK_CHARS
    assert sparkline([5, 1, 9]) == "▅▁█"  # (5-1)/(9-1)*7 = 3.5 rounds to 4
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([3, 3]) == "▄▄"
    assert sparkline([1, None, 3]) == "▁ █"
    assert sparkline([]) == ""
    assert sparkline([None, "x"]) == "  "


def test_sparkline_averages_long_series_down_to_width() -> None:
    line = sparkline(list(range(100)), width=10)
    assert len(line) == 10
    assert line[0] == "▁"
    assert line[-1] == "█"
    assert list(line) == sorted(line)


def test_format_value() -> None:
    assert format_value(6463.0) == "6,463"
    assert format_value(1412.5) == "1,412.5"
    assert format_value(0.25) == "0.25"
    assert format_value(None) == "–"
    assert format_value(True) == "–"


def test_big_number_draws_three_lines_of_blocks() -> None:
    assert big_number("412") == ["█ █ ▄█  ▀▀█", "▀▀█  █  █▀▀", "  ▀ ▀▀▀ ▀▀▀"]
    assert big_number("1.5K")[2] == "▀▀▀ ▀ ▀▀▀ ▀ ▀"
    assert big_number("n/a") == ["n/a"]  # characters without glyphs stay plain
    assert big_number("123456789", width=10) == ["123456789"]  # too wide: plain


def test_funnel_lines_show_bars_counts_and_conversion() -> None:
    lines = funnel_lines([("Viewed pricing", 2480), ("user signed up", 612)], width=70)
    assert lines[0].startswith("1 Viewed pricing ")
    assert lines[0].endswith("2,480 100.0%")
    assert lines[1].endswith("  612  24.7%")
    full = lines[0].count("█")
    assert lines[1].count("█") == round(full * 612 / 2480)
    assert all(display_width(line) <= 70 for line in lines)
    assert funnel_lines([]) == ["(no steps)"]
    assert funnel_lines([("a", 0), ("b", 0)])[1].endswith("0   0.0%")


def test_trend_lines_show_sparkline_and_last_value() -> None:
    lines = trend_lines(
        [
            TrendSeries(
                "$pageview", [1412.0, 1530.0, 1498.0, 1621.0, 402.0], ["a", "b", "c", "d", "e"]
            )
        ],
        width=60,
    )
    assert lines == ["$pageview ▇▇▇█▁ last 402 (e)"]
    many = trend_lines([TrendSeries(f"s{i}", [i]) for i in range(7)], width=40)
    assert len(many) == 6
    assert many[-1] == "… and 2 more series"


def test_text_and_error_lines() -> None:
    body = "## Activation\n\nEverything below this line tracks\nthe first week.\nMore."
    assert text_lines(body, width=20) == [
        "## Activation",
        "Everything below th…",
        "the first week.",
        "…",
    ]
    assert text_lines("") == ["(empty text)"]
    long = "x " * 100
    wrapped = error_lines(long, width=30)
    assert len(wrapped) == 2
    assert all(len(line) <= 30 for line in wrapped)


def test_truncate_counts_terminal_columns() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 3) == "abc"
    assert truncate("日本語テキスト", 6) == "日本…"
    assert display_width("日本") == 4


def test_tile_lines_for_each_kind_of_the_fixture() -> None:
    trends, funnel, text = fixture_dashboard().tiles
    assert insight_kind(trends.insight) == "trends"  # type: ignore[arg-type]
    assert insight_kind(funnel.insight) == "funnel"  # type: ignore[arg-type]
    assert tile_lines(trends, 60) == [
        "■ Weekly active users",
        "  $pageview ▇▇▇█▁ last 402 (2-Nov-2025)",
    ]
    funnel_block = tile_lines(funnel, 60)
    assert funnel_block[0] == "■ Pricing → signup funnel"
    assert funnel_block[1].startswith("  1 Viewed pricing")
    assert funnel_block[1].endswith("100.0%")
    assert funnel_block[2].endswith("24.7%")
    assert tile_lines(text, 70) == [
        "■ Text",
        "  ## Activation",
        "  Everything below this line tracks the first-week experience.",
    ]


def test_tile_lines_for_numbers_failures_and_missing_results() -> None:
    number = pda.Tile(
        id=1,
        insight=pda.Insight(
            id=2,
            name="Signups (7d)",
            query={
                "kind": "InsightVizNode",
                "source": {"kind": "TrendsQuery", "trendsFilter": {"display": "BoldNumber"}},
            },
            result=[{"label": "user signed up", "aggregated_value": 1234567.0, "data": []}],
        ),
    )
    block = tile_lines(number, 40)
    assert block[0] == "■ Signups (7d)"
    assert block[1:4] == [f"  {line}" for line in big_number("1.23M")]
    assert block[4] == "  1,234,567 · user signed up"

    failed = pda.Tile(id=7, error=pda.TileErrorInfo(type="ValidationError", message="bad query"))
    assert tile_lines(failed, 40) == [
        f"{FAIL_MARK} tile 7 (failed)",
        "  ValidationError: bad query",
    ]
    empty = pda.Tile(id=8, insight=pda.Insight(id=9, name="Later"))
    assert tile_lines(empty, 40) == ["■ Later", "  (no cached result)"]


def test_progress_text() -> None:
    assert progress_text(3, None, done=False) == "3 tiles…"
    assert progress_text(1, None, done=False) == "1 tile…"
    assert progress_text(4, 4, done=True, failed=1) == "4 of 4 tiles, 1 failed"
    assert progress_text(1, 1, done=False) == "1 of 1 tile"


def _transcript_events() -> list[pda.StreamEvent]:
    from posthog_dash_async._sse import decode_all
    from posthog_dash_async._streaming import decode_event

    return [decode_event(data) for data in decode_all(fixture_bytes("stream_tiles_transcript.sse"))]


def test_live_view_counts_tiles_and_learns_the_total_at_the_end() -> None:
    view = LiveView(width=60)
    events = _transcript_events()
    added = view.feed(events[0])
    assert added[0] == "Growth overview"
    assert view.received == 2
    assert view.total is None
    assert view.status_line() == "[2 tiles…] streaming"
    for event in events[1:]:
        view.feed(event)
    assert view.done
    assert view.received == 4
    assert view.failed == 1
    assert view.total == 4
    frame = view.frame()
    assert frame[:3] == [
        "Growth overview",
        "Weekly health of acquisition and activation.",
        "[4 of 4 tiles, 1 failed] complete",
    ]
    assert f"{FAIL_MARK} tile 9004 (failed)" in frame
    # A short terminal keeps the newest tiles and says what scrolled away.
    short = view.frame(max_lines=10)
    assert len(short) <= 10
    assert any("earlier tile" in line for line in short)
    assert short[-len(view.blocks[-1]) :] == view.blocks[-1]
    assert view.blocks[-1][0] == f"{FAIL_MARK} tile 9004 (failed)"


def test_live_view_knows_the_total_when_metadata_has_fewer_than_two_tiles() -> None:
    dashboard = fixture_dashboard()
    view = LiveView()
    view.feed(
        pda.MetadataEvent(dashboard=msgspec.structs.replace(dashboard, tiles=dashboard.tiles[:1]))
    )
    assert view.total == 1
    assert view.status_line() == "[1 of 1 tile] streaming"


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
    assert lines[1] == "1   a very long das…  x"
    assert lines[2] == "22  short             yy"
    assert all(display_width(line) <= 24 for line in lines)


class _Events:
    """A stand-in for TileStream: the events of the fixture transcript."""

    def __init__(self, events: list[pda.StreamEvent]) -> None:
        self._events = events

    async def __aenter__(self) -> _Events:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[pda.StreamEvent]:
        async def gen() -> AsyncIterator[pda.StreamEvent]:
            for event in self._events:
                yield event

        return gen()


async def test_redraw_painter_moves_the_cursor_and_stays_within_the_screen() -> None:
    out = io.StringIO()
    painter = RedrawPainter(out, width=50, height=8, color=False)
    view = await show_stream(_Events(_transcript_events()), painter, width=50)  # type: ignore[arg-type]
    text = out.getvalue()
    assert text.startswith("\x1b[?25l")
    assert text.endswith("\x1b[?25h")
    frames = text.split("\x1b[J")[1:]
    assert len(frames) >= 4
    for frame in frames[:-1]:  # live frames fit the screen; the final one is the full view
        assert frame.count("\n") <= 7
    assert "\x1b[" in frames[1] or text.count("F\x1b[J") >= 3  # moved up before redrawing
    assert "4 of 4 tiles, 1 failed] complete in" in frames[-1]
    assert view.done


async def test_append_painter_numbers_tiles() -> None:
    out = io.StringIO()
    await show_stream(_Events(_transcript_events()), AppendPainter(out, width=60), width=60)  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0] == "Growth overview"
    assert [line.split(" ", 1)[0] for line in lines if line.startswith("[")][:4] == [
        "[1]",
        "[2]",
        "[3]",
        "[4]",
    ]
    assert "\x1b" not in out.getvalue()


# --- progress, demo failure, serve ------------------------------------------------------------


class _Tty(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


async def test_list_shows_fetched_n_of_m_on_a_terminal(server: FakePostHog) -> None:
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
    assert "fetched 1 of 8" in err.getvalue()
    assert err.getvalue().endswith("\r\x1b[K")  # the progress line is erased at the end
    assert "8 dashboards" in out.getvalue()


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
        lines = [
            (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode().strip()
            for _ in range(4)
        ]
        assert lines[0].startswith("FakePostHog listening on http://127.0.0.1:")
        env = dict(line.split("=", 1) for line in lines[1:])
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


class _Refused:
    """A stand-in for TileStream whose opening fails, like a 404 before any event."""

    async def __aenter__(self) -> _Refused:
        raise pda.NotFoundError("GET ... -> 404: Not found.", status=404)

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_redraw_painter_erases_a_waiting_frame_when_the_stream_fails_to_open() -> None:
    out = io.StringIO()
    painter = RedrawPainter(out, width=40, height=10, color=False)
    with pytest.raises(pda.NotFoundError):
        await show_stream(_Refused(), painter, width=40)  # type: ignore[arg-type]
    text = out.getvalue()
    assert "(waiting for the dashboard…)" in text
    assert text.endswith("\x1b[3F\x1b[J\x1b[?25h")  # back up over the frame, erase, cursor on
