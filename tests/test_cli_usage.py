"""The command line's edges: the ``cli`` extra missing, contradictory flags, --no-color, and
the examples' usage lines."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posthog_dash_async.cli import main
from posthog_dash_async.testing import FakePostHog

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )


# Importing rich fails in the child as it does when the extra is not installed.
_WITHOUT_RICH = "import sys; sys.modules['rich'] = None; "


@pytest.mark.parametrize("argv", [["list"], ["demo"], ["--help"], []])
def test_without_the_cli_extra_one_line_says_how_to_install_it(argv: list[str]) -> None:
    code = _WITHOUT_RICH + "from posthog_dash_async.cli import main; sys.exit(main(sys.argv[1:]))"
    done = _python(code, *argv)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "pip install 'posthog-dash-async[cli]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_python_m_without_the_cli_extra() -> None:
    done = _python(
        _WITHOUT_RICH + "import runpy; runpy.run_module('posthog_dash_async', run_name='__main__')"
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "posthog-dash: the command line needs the 'cli' extra: "
        "pip install 'posthog-dash-async[cli]'"
    )


def test_the_library_needs_only_aiohttp_and_msgspec() -> None:
    code = (
        _WITHOUT_RICH
        + "sys.modules['markdown_it'] = None; sys.modules['pygments'] = None; "
        + "import posthog_dash_async, posthog_dash_async.testing; print('ok')"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = sorted(dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"])
    assert names == ["aiohttp", "msgspec"]
    extras = project["optional-dependencies"]
    assert any(dep.startswith("rich") for dep in extras["cli"])
    itself = [d for d in extras["dev"] if d.startswith("posthog-dash-async[")]
    assert itself, "the dev extra does not bring the package's own extras"
    brought = itself[0].split("[", 1)[1].rstrip("]").split(",")
    assert "cli" in [name.strip() for name in brought]  # the tests run with the CLI


# --- flags ---------------------------------------------------------------------------------


@pytest.fixture
async def server() -> FakePostHog:  # type: ignore[misc]
    async with FakePostHog() as fake:
        yield fake


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["update", "412", "--tag", "x", "--clear-tags"], "--clear-tags: not allowed with"),
        (["update", "412", "--clear-tags", "--tag", "x"], "--tag: not allowed with"),
        (["update", "412", "--pinned", "--no-pinned"], "--no-pinned: not allowed with"),
        (["update", "412", "--no-pinned", "--pinned"], "--pinned: not allowed with"),
        (["stream", "412", "--live", "--json"], "--live: not allowed with argument --json"),
    ],
)
async def test_contradictory_flags_are_refused_with_usage(
    server: FakePostHog, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = server.dashboard(412)
    argv = ["--host", server.url, "--api-key", server.api_key, *args]
    code = await asyncio.to_thread(main, argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"usage: posthog-dash {args[0]} ")  # the command's own usage
    assert message in err
    assert "Traceback" not in err
    assert server.dashboard(412) == before  # nothing was sent
    assert not server.requests_matching("PATCH", r"/dashboards/412/?$")


async def test_the_same_flag_twice_is_not_a_contradiction(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--host", server.url, "--api-key", server.api_key]
    assert await asyncio.to_thread(main, [*argv, "update", "412", "--pinned", "--pinned"]) == 0
    assert server.dashboard(412)["pinned"] is True
    tags = ["update", "412", "--tag", "a", "--tag", "b", "--json"]
    assert await asyncio.to_thread(main, [*argv, *tags]) == 0
    assert sorted(server.dashboard(412)["tags"]) == ["a", "b"]
    capsys.readouterr()


async def test_no_color_is_accepted_before_and_after_the_command(
    server: FakePostHog, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--host", server.url, "--api-key", server.api_key]
    assert await asyncio.to_thread(main, ["--no-color", *argv, "get", "412"]) == 0
    assert await asyncio.to_thread(main, [*argv, "get", "412", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "Growth overview" in out
    assert "\x1b" not in out


# --- the examples ----------------------------------------------------------------------------

EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_help_prints_usage(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_bad_arguments_print_usage_not_a_traceback(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--no-such-flag", "not-a-number"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("usage:")
    assert "Traceback" not in done.stderr
