"""Every ```python block of the README runs, as written, against a FakePostHog.

Each block runs in its own Python process (``-W error``: a warning is a failure too) whose
``POSTHOG_HOST`` / ``POSTHOG_PERSONAL_API_KEY`` / ``POSTHOG_PROJECT_ID`` point at a fresh
FakePostHog with its seed data (dashboard 412 and the others), the way a reader would run
them after ``posthog-dash serve``. How a block runs depends on what it is:

- a script (it calls ``asyncio.run``) runs as is;
- a fragment with top-level ``await`` / ``async with`` runs inside
  ``async with pda.AsyncPostHog() as ph:``, with ``asyncio`` and ``pda`` imported (the
  README introduces fragments as code inside such a block);
- a block that defines ``test_*`` functions is a test module and runs under pytest, with
  this package's pytest plugin and ``asyncio_mode = "auto"``, as the README's testing
  section tells users to configure it;
- a block that builds an aiohttp ``app`` is served on loopback, and each of its GET routes
  is requested (``{id}`` filled with 412) and must answer 200;
- any other block (definitions, a constructor call) is executed.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from posthog_dash_async.testing import FakePostHog

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK_TIMEOUT = 90.0


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, source)`` of every fenced ```python block."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if re.fullmatch(r"```python\s*", lines[index]):
            start = index + 1
            end = start
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            blocks.append((start + 1, "\n".join(lines[start:end]) + "\n"))
            index = end
        index += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))

RUNNER = r"""
import ast, asyncio, inspect, sys, types

import aiohttp
from aiohttp import web

import posthog_dash_async as pda

path = sys.argv[1]
source = open(path, encoding="utf-8").read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__", "asyncio": asyncio, "pda": pda}


async def serve_app(app):
    routes = [
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "GET"
        and r.resource is not None
        and not isinstance(r.resource, web.StaticResource)
    ]
    assert routes, "the app has no GET route"
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as session:
            for route in routes:
                url = f"http://{host}:{port}" + route.replace("{id}", "412")
                if "{" in url:
                    continue  # a route whose parameter this runner cannot fill
                async with session.get(url) as resp:
                    body = await resp.read()
                    assert resp.status == 200, (url, resp.status, body[:300])
                    print("GET", route, resp.status, len(body), "bytes")
    finally:
        await runner.cleanup()


if code.co_flags & inspect.CO_COROUTINE:
    async def fragment():
        async with pda.AsyncPostHog() as ph:
            namespace["ph"] = ph
            await types.FunctionType(code, namespace)()
    asyncio.run(fragment())
else:
    exec(code, namespace)
    app = namespace.get("app")
    if isinstance(app, web.Application):
        asyncio.run(serve_app(app))
"""


def kind_of(source: str) -> str:
    if re.search(r"^(async )?def test_", source, re.MULTILINE):
        return "pytest"
    return "run"


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"README.md:{n}" for n, _ in BLOCKS])
async def test_readme_python_block_runs(line: int, source: str, tmp_path: Path) -> None:
    block = tmp_path / f"test_readme_block_{line}.py"
    block.write_text(source, encoding="utf-8")
    async with FakePostHog() as server:
        env = {
            **os.environ,
            "POSTHOG_HOST": server.url,
            "POSTHOG_PERSONAL_API_KEY": server.api_key,
            "POSTHOG_PROJECT_ID": str(server.project_id),
            "NO_COLOR": "1",
        }
        env.pop("PYTEST_ADDOPTS", None)
        if kind_of(source) == "pytest":
            args = [
                "-W",
                "error",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "asyncio_mode=auto",
                "-o",
                "asyncio_default_fixture_loop_scope=function",
                "-W",
                "error",
                "--rootdir",
                str(tmp_path),
                str(block),
            ]
        else:
            runner = tmp_path / "run_block.py"
            runner.write_text(RUNNER, encoding="utf-8")
            args = ["-W", "error", str(runner), str(block)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), BLOCK_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"README.md:{line}: still running after {BLOCK_TIMEOUT:.0f} s")
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"README.md:{line} failed as written:\n{source}\n---\n{text}"
    assert server.api_key not in text
    if kind_of(source) == "pytest":
        assert re.search(r"^\d+ passed in ", text, re.MULTILINE), text
        assert "skipped" not in text, text
    if "web.Application()" in source:
        assert "GET " in text, text  # the app was served and its routes answered


def test_the_readme_has_python_blocks_of_every_kind() -> None:
    # The extraction itself: a README reshuffle must not silently leave blocks untested.
    assert len(BLOCKS) >= 6
    kinds = {kind_of(source) for _, source in BLOCKS}
    assert kinds == {"run", "pytest"}
    assert any("asyncio.run(" in source for _, source in BLOCKS)
    assert any(source.lstrip().startswith("async with") for _, source in BLOCKS)
    assert any("web.Application()" in source for _, source in BLOCKS)
