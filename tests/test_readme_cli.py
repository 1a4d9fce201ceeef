"""Every ``posthog-dash`` line of the README runs, as written, against ``posthog-dash serve``.

The server is started the way a user starts it (``posthog-dash serve``: its own default key
and scopes, the seeded project; only ``--port 0`` is added so that the test never fights
over a port), and its ``export`` lines are what the commands get as their environment, as
if pasted into a shell. The lines run in README order in one shell each (so pipes work),
from a temporary directory; a line fails the test when it exits with anything but 0, or
with the code its comment names (``# ... exits 1 ...``), or prints a traceback.

Commands that keep running (``serve``, ``view``, ``demo --web``) pass when they start and
are still running after printing their first line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
TIMEOUT = 120

_FENCE = re.compile(r"^```(\w*)\s*$")
_PROGRAM = re.compile(r"(?:^|[\s|;(])(?:\.venv/bin/)?posthog-dash(?=\s|$)")
_LONG_RUNNING = re.compile(r"posthog-dash\s+(?:serve|view)\b|posthog-dash\s+demo\s+.*--web")
_EXPECTED = re.compile(r"\bexits? (\d+)\b")
_EXPORT = re.compile(r"^export\s+(POSTHOG_[A-Z_]+)=(.*)$")


@dataclass(frozen=True)
class Line:
    """One command of the README: the shell text, where it is, and the exit it implies."""

    number: int
    command: str
    expected: int
    long_running: bool


def _split_comment(line: str) -> tuple[str, str]:
    """``command  # comment`` split at the first ``#`` outside quotes."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def _segments(command: str) -> list[str]:
    """The parts of ``a && b && c`` (outside quotes)."""
    parts, quote, start = [], None, 0
    index = 0
    while index < len(command):
        char = command[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif command.startswith("&&", index):
            parts.append(command[start:index].strip())
            start = index + 2
            index += 1
        index += 1
    parts.append(command[start:].strip())
    return [p for p in parts if p]


def readme_lines(text: str) -> list[Line]:
    """The ``posthog-dash`` commands in the README's shell code blocks."""
    lines: list[Line] = []
    in_shell = False
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(raw.strip())
        if fence:
            if in_block:
                in_block = in_shell = False
            else:
                in_block = True
                in_shell = fence.group(1) in ("sh", "bash", "shell", "console")
            continue
        if not in_shell:
            continue
        command, comment = _split_comment(raw.strip())
        if not command:
            continue
        expected = _EXPECTED.search(comment)
        for segment in _segments(command):
            if not _PROGRAM.search(segment):
                continue  # venv creation, pip, pytest: not the command line's business
            segment = segment.replace(".venv/bin/posthog-dash", "posthog-dash")
            lines.append(
                Line(
                    number,
                    segment,
                    int(expected.group(1)) if expected else 0,
                    bool(_LONG_RUNNING.search(segment)),
                )
            )
    return lines


def test_the_extractor_finds_commands_and_their_expected_exits() -> None:
    sample = "\n".join(
        [
            "```sh",
            "python3 -m venv .venv && .venv/bin/pip install '.[cli]' "
            "&& .venv/bin/posthog-dash demo",
            "posthog-dash get 412                 # a comment with # inside",
            "posthog-dash plan docs/              # exits 1 while changes are pending",
            'echo \'{"a": "# not a comment"}\' | posthog-dash from-template -',
            "posthog-dash serve --port 8010",
            "```",
            "```python",
            "posthog-dash = 'not shell'",
            "```",
        ]
    )
    found = readme_lines(sample)
    assert [line.command for line in found] == [
        "posthog-dash demo",
        "posthog-dash get 412",
        "posthog-dash plan docs/",
        'echo \'{"a": "# not a comment"}\' | posthog-dash from-template -',
        "posthog-dash serve --port 8010",
    ]
    assert [line.expected for line in found] == [0, 0, 1, 0, 0]
    assert [line.long_running for line in found] == [False, False, False, False, True]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    return env


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """``posthog-dash serve`` as a user starts it; the environment its export lines set."""
    script = BIN / "posthog-dash"
    if not script.exists():
        pytest.skip("the posthog-dash console script is not installed (pip install -e .)")
    proc = subprocess.Popen(
        [str(script), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    exported: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not {
            "POSTHOG_HOST",
            "POSTHOG_PERSONAL_API_KEY",
            "POSTHOG_PROJECT_ID",
        } <= set(exported):
            line = proc.stdout.readline()
            if not line:
                break
            match = _EXPORT.match(line.strip())
            if match:
                value = shlex.split(match.group(2))
                exported[match.group(1)] = value[0] if value else ""
        assert "POSTHOG_HOST" in exported, "posthog-dash serve printed no `export POSTHOG_HOST=`"
        assert "POSTHOG_PERSONAL_API_KEY" in exported
        env = _env()
        env.update(exported)
        yield env
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _run_long(line: Line, env: dict[str, str], cwd: Path) -> str | None:
    command = line.command
    if re.search(r"posthog-dash\s+(?:serve|view)\b|--web", command) and "--port" not in command:
        command += " --port 0"
    if re.search(r"posthog-dash\s+view\b|--web", command) and "--no-open" not in command:
        command += " --no-open"
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        time.sleep(0.2)
        if proc.poll() is not None and proc.returncode != 0:
            _, err = proc.communicate()
            return f"exited {proc.returncode}: {err.strip()[-500:]}"
        if not first:
            return "printed nothing"
        return None
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_every_readme_command_line_runs(served: dict[str, str], tmp_path: Path) -> None:
    lines = readme_lines(README.read_text(encoding="utf-8"))
    assert len(lines) >= 10, "the README's command lines were not found"
    failures = []
    for line in lines:
        if line.long_running:
            problem = _run_long(line, served, tmp_path)
            if problem:
                failures.append(f"README:{line.number}: {line.command}\n    {problem}")
            continue
        done = subprocess.run(
            ["bash", "-c", line.command],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=served,
            cwd=tmp_path,
            check=False,
        )
        if done.returncode != line.expected or "Traceback" in done.stderr:
            failures.append(
                f"README:{line.number}: {line.command}\n"
                f"    exit {done.returncode} (expected {line.expected}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
        assert served["POSTHOG_PERSONAL_API_KEY"] not in done.stdout + done.stderr
    assert not failures, "README command lines failed:\n" + "\n".join(failures)
