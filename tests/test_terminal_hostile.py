"""The command line cannot be turned against its terminal (issue 11, item 7).

A server (or whoever can edit a dashboard) controls names, tags, descriptions, tokens,
error details and tile text. Each test seeds FakePostHog with such strings, runs the
command a person would run, and asserts on the captured output: no escape sequence, no
control character, no bidi override reaches the terminal, the visible text stays, and
``--json`` keeps the data exact.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

import posthog_dash_async as pda
from posthog_dash_async._cli.commands import COMMANDS, sharing_lines
from posthog_dash_async._cli.output import Output, error_line, table
from posthog_dash_async._cli.sanitize import clean, json_text
from posthog_dash_async.cli import main
from posthog_dash_async.testing import (
    FakePostHog,
    TileSpec,
    funnel_tile,
    number_tile,
    text_tile,
    trends_tile,
)

# Every attack at once: clear screen, cursor home, OSC 52 (set the clipboard), BEL, a CR
# that would let "C..." overwrite "AB", an 8-bit CSI (C1 \x9b), a right-to-left override,
# OSC 0 (window title) ended by ST, a backspace, and a DCS string.
HOSTILE = (
    "A\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07\x07B\rC\x9b31mD\u202eE\x1b]0;pwned\x1b\\F\x08G"
    "\x1bP+q544e\x1b\\"
)
VISIBLE = "AB CDEFG"  # what is left of HOSTILE on one line
VISIBLE_TEXT = "ABCDEFG"  # ...and in multi-line text (the CR is dropped, not made a space)
MARKUP = "[bold red]not markup[/bold red] :warning:"

ATTACKS = {
    "clear screen": ("x\x1b[2Jy", "xy"),
    "cursor up and erase": ("x\x1b[1A\x1b[2Ky", "xy"),
    "osc 52 clipboard (BEL)": ("x\x1b]52;c;ZXZpbA==\x07y", "xy"),
    "osc 52 clipboard (ST)": ("x\x1b]52;c;ZXZpbA==\x1b\\y", "xy"),
    "osc 8 hyperlink": ("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
    "unterminated osc": ("x\x1b]0;title without end", "x"),
    "bell": ("x\x07y", "xy"),
    "carriage return overwrite": ("safe\rEVIL", "safe EVIL"),
    "backspace overwrite": ("abc\x08\x08\x08EVIL", "abcEVIL"),
    "c1 csi": ("x\x9b2Jy", "xy"),
    "c1 osc": ("x\x9d52;c;ZXZpbA==\x9cy", "xy"),
    "lone c1 controls": ("x\x85\x8dy", "x y"),
    "bidi override": ("user\u202etxt.exe", "usertxt.exe"),
    "bidi isolates": ("a\u2066b\u2069c\u200fd", "abcd"),
    "dcs": ("x\x1bP1$r0m\x1b\\y", "xy"),
    "charset switch": ("x\x1b(0y", "xy"),
    "reset terminal": ("x\x1bcy", "xy"),
    "del": ("x\x7fy", "xy"),
    "newline in a name": ("line1\nline2", "line1 line2"),
    "lone surrogate": ("x\ud800y", "x\ufffdy"),
    "plain unicode stays": ("Pricing → signup 日本 🎉", "Pricing → signup 日本 🎉"),
}

_SGR = re.compile(r"\x1b\[[0-9;]*m")
_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def assert_no_controls(text: str) -> None:
    """Only printable text and newlines."""
    found = _BAD.findall(text)
    assert not found, f"control characters reached the output: {found!r}"


def assert_inert(text: str) -> None:
    """Output meant for a person on a pipe: printable text, payloads dropped."""
    assert_no_controls(text)
    assert "ZXZpbA==" not in text  # the clipboard payload is dropped with its sequence
    assert "pwned" not in text  # and so is the window title


def assert_inert_on_terminal(text: str) -> None:
    """Output meant for a terminal: rich's own styling and cursor control only."""
    for payload in ("\x1b[2J", "\x1b[H", "\x1b]", "\x1bP", "\x07", "\x08", "\x9b", "\u202e"):
        assert payload not in text, f"{payload!r} reached the terminal"
    assert "ZXZpbA==" not in text
    assert "pwned" not in text


@pytest.mark.parametrize(("raw", "shown"), list(ATTACKS.values()), ids=list(ATTACKS))
def test_clean_strips_each_attack(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert not _BAD.findall(clean(raw))


def test_clean_keeps_newlines_only_when_asked() -> None:
    assert clean("# Title\r\n\nbody\tend\x1b[31m!", multiline=True) == "# Title\n\nbody    end!"
    assert clean("# Title\r\n\nbody", multiline=False) == "# Title   body"


def test_json_text_is_exact_data_with_escapes() -> None:
    value = {"name": HOSTILE, "tags": ["\x85", "\u2028", "\u202e"]}
    encoded = json_text(msgspec.json.encode(value).decode())
    assert json.loads(encoded) == value  # the data is unchanged...
    assert_no_controls(encoded)  # ...and nothing in it acts on a terminal
    assert "\\u202e" in encoded
    assert "\\u009b" in encoded


# --- against FakePostHog -----------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
async def hostile() -> AsyncIterator[FakePostHog]:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.add_dashboard(
            HOSTILE,
            dashboard_id=666,
            description=f"{HOSTILE}\nsecond line {HOSTILE}",
            tags=[HOSTILE, MARKUP],
            pinned=True,
            tiles=[
                trends_tile(HOSTILE, event=HOSTILE, layout=(0, 0, 6, 5)),
                funnel_tile(HOSTILE, steps=((HOSTILE, 1000), (MARKUP, 250)), layout=(6, 0, 6, 5)),
                number_tile(HOSTILE, event=HOSTILE, value=4242, layout=(0, 5, 4, 3)),
                text_tile(f"# {HOSTILE}\n\n{HOSTILE} and {MARKUP}", layout=(4, 5, 8, 3)),
                TileSpec(
                    tile=text_tile("broken", layout=(0, 8, 12, 2)).tile,
                    stream_error=HOSTILE,
                ),
            ],
        )
        user = server.add_user(HOSTILE, HOSTILE, email="evil@example.com")
        server.add_collaborator(666, user["id"])
        yield server


async def run_cli(capsys: pytest.CaptureFixture[str], server: FakePostHog, *args: str) -> Run:
    argv = ["--host", server.url, "--api-key", server.api_key, "--max-retries", "0", *args]
    capsys.readouterr()
    code = await asyncio.to_thread(main, argv)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


async def test_list_table_shows_names_and_tags_as_text(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_cli(capsys, hostile, "list")
    assert run.code == 0, run.err
    assert_inert(run.out + run.err)
    row = next(line for line in run.out.splitlines() if line.startswith("666"))
    assert VISIBLE in row
    assert "[bold red]" in run.out  # markup is shown as the text it is


async def test_get_shows_every_server_string_as_text(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_cli(capsys, hostile, "get", "666")
    assert run.code == 0, run.err
    assert_inert(run.out + run.err)
    lines = run.out.splitlines()
    assert lines[0] == f"{VISIBLE} (#666)  ★ pinned"
    assert f"tags: {VISIBLE}, {MARKUP}" in run.out
    assert f"second line {VISIBLE_TEXT}" in run.out


async def test_json_keeps_the_data_exact(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_cli(capsys, hostile, "get", "666", "--json")
    assert run.code == 0, run.err
    assert_no_controls(run.out)
    detail = json.loads(run.out)
    assert detail["name"] == HOSTILE
    assert detail["tags"] == [HOSTILE, MARKUP]
    stream = await run_cli(capsys, hostile, "stream", "666", "--json")
    assert stream.code == 0, stream.err
    assert_no_controls(stream.out)
    events = [json.loads(line) for line in stream.out.splitlines()]
    assert events[0]["dashboard"]["name"] == HOSTILE
    errors = [e for e in events if e["type"] == "error"]
    assert errors
    assert errors[0]["error"] == HOSTILE


async def test_stream_appended_shows_tiles_as_text(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_cli(capsys, hostile, "stream", "666")
    assert run.code == 0, run.err
    assert_inert(run.out + run.err)
    assert run.out.splitlines()[0] == VISIBLE
    assert f"■ {VISIBLE}" in run.out  # tile titles
    assert f"━ {VISIBLE}" in run.out  # the chart's legend
    assert f"· {VISIBLE}" in run.out  # the big number's caption
    assert f"(failed)\n  {VISIBLE}" in run.out  # the tile's error
    assert MARKUP in run.out  # a funnel step named like markup, shown as text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_live_view_on_a_terminal_shows_tiles_as_text(hostile: FakePostHog) -> None:
    out, err = _Tty(), _Tty()
    output = Output(out=out, err=err, width=110)
    args = argparse.Namespace(id=666, layout="sm", no_fallback=False, json=False, live=True)
    async with pda.AsyncPostHog(
        api_key=hostile.api_key, host=hostile.url, project_id=hostile.project_id
    ) as ph:
        assert await COMMANDS["stream"](ph, args, output) == 0
    text = out.getvalue()
    assert "\x1b[?25l" in text  # rich.live drew it in place
    assert_inert_on_terminal(text + err.getvalue())
    plain = _SGR.sub("", text)
    assert VISIBLE in plain
    assert "not markup" in plain
    assert "[bold red]" in plain


async def test_error_details_from_the_server_are_cleaned(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.fail_next(status=400, body={"type": "validation_error", "detail": HOSTILE})
    run = await run_cli(capsys, hostile, "get", "666")
    assert run.code == 1
    assert_inert(run.err)
    assert run.err.count("\n") == 1
    assert run.err.startswith("posthog-dash: bad request:")
    assert VISIBLE in run.err


async def test_stream_failure_reason_is_cleaned(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.set_stream_faults(fatal_error_after=1, fatal_error_message=HOSTILE)
    run = await run_cli(capsys, hostile, "stream", "666")
    assert run.code == 1
    assert_inert(run.out + run.err)
    assert f"stream failed: {VISIBLE}" in run.out


async def test_collaborator_names_are_cleaned(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await run_cli(capsys, hostile, "collaborators", "list", "666")
    assert run.code == 0, run.err
    assert_inert(run.out)
    assert f"{VISIBLE} {VISIBLE}" in run.out


def test_tokens_and_helpers_are_cleaned() -> None:
    config = pda.SharingConfiguration(enabled=True, access_token=HOSTILE)
    lines = sharing_lines(config, "https://us.posthog.com")
    assert_inert("\n".join(lines))
    assert f"public link: https://us.posthog.com/shared/{VISIBLE}" in lines
    assert_inert("\n".join(table(["ID", "NAME"], [["1", HOSTILE]])))
    assert_inert(error_line(pda.BadRequestError(HOSTILE, status=400)))


def test_output_sinks_clean_whatever_they_are_given() -> None:
    out, err = io.StringIO(), io.StringIO()
    output = Output(out=out, err=err)
    output.line(HOSTILE)
    output.lines([HOSTILE, HOSTILE])
    output.note(HOSTILE)
    output.error_text(HOSTILE)
    assert_inert(out.getvalue() + err.getvalue())
    assert out.getvalue().count(VISIBLE_TEXT) == 3


def _rename_documents(directory: Path, name: str) -> None:
    for document in directory.glob("*.json"):
        data = json.loads(document.read_text())
        data["name"] = name
        document.write_text(json.dumps(data))


async def test_other_commands_print_through_the_same_sanitiser(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tiles = await run_cli(capsys, hostile, "tiles", "list", "666")
    assert tiles.code == 0, tiles.err
    assert_inert(tiles.out + tiles.err)
    assert VISIBLE in tiles.out
    pulled = await run_cli(capsys, hostile, "pull", "666", "--out", str(tmp_path))
    assert pulled.code == 0, pulled.err
    assert_no_controls(pulled.out + pulled.err)  # pull shows the name's repr: escaped, inert
    # Rename the pulled document's dashboard so that the plan has an update to show.
    _rename_documents(tmp_path, f"{HOSTILE} renamed")
    plan = await run_cli(capsys, hostile, "plan", str(tmp_path))
    assert plan.code in (0, 1), plan.err
    assert_no_controls(plan.out + plan.err)  # names shown escaped (repr/JSON), inert
    assert "renamed" in plan.out


async def test_a_key_inside_server_data_is_masked_in_text_and_in_the_live_view(
    hostile: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.add_dashboard(
        f"leak {hostile.api_key}",
        dashboard_id=667,
        tiles=[text_tile(f"# {hostile.api_key}", layout=(0, 0, 12, 2))],
    )
    shown = await run_cli(capsys, hostile, "get", "667")
    assert shown.code == 0, shown.err
    assert hostile.api_key not in shown.out
    assert "leak ***" in shown.out
    out = _Tty()
    output = Output(out=out, err=_Tty(), secret=hostile.api_key, width=100)
    args = argparse.Namespace(id=667, layout="sm", no_fallback=False, json=False, live=True)
    async with pda.AsyncPostHog(
        api_key=hostile.api_key, host=hostile.url, project_id=hostile.project_id
    ) as ph:
        assert await COMMANDS["stream"](ph, args, output) == 0
    assert hostile.api_key not in out.getvalue()
    assert "leak ***" in _SGR.sub("", out.getvalue())
