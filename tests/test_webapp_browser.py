"""The example web app's page in a real headless browser (Debian's chromium + chromedriver).

The app runs on loopback against a FakePostHog whose tiles are slow, so the page must show
them progressively: some cards first, then all of them, then a "complete" status. Skipped
when selenium, chromium or chromedriver is missing; nothing is ever downloaded (selenium is
pointed at the system's chromedriver, so its driver manager does not run).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from posthog_dash_async.testing import FakePostHog

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HAVE_SELENIUM = importlib.util.find_spec("selenium") is not None

pytestmark = [
    pytest.mark.skipif(
        not HAVE_SELENIUM, reason="selenium is not installed (pip install selenium)"
    ),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
    ),
]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TILE_DELAY = 0.4
T = TypeVar("T")


def load_webapp() -> Any:
    name = "examples_webapp"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "webapp.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_browser(profile: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    assert CHROMIUM is not None
    assert CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    return driver


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 15.0) -> T:
    """Poll ``probe`` (in the browser) until ``done`` holds; return the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value: {value!r}")
        time.sleep(0.05)
        value = probe()
    return value


STATE_JS = """
const status = document.getElementById('status');
return {
  cards: [...document.querySelectorAll('.tile')].map(c => ({
    id: Number(c.dataset.tileId), failed: c.classList.contains('failed'), text: c.innerText})),
  state: status.dataset.state,
  status: status.textContent,
  title: document.getElementById('title').textContent,
  links: document.querySelectorAll('nav a').length,
};
"""


async def test_tiles_appear_progressively_in_a_real_browser() -> None:
    webapp = load_webapp()
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_stream_faults(
            tile_delay=TILE_DELAY, tile_errors={9304: "Query timed out after 60 seconds"}
        )
        expected = [t["id"] for t in server.dashboard(388)["tiles"]]
        assert len(expected) == 6
        settings = webapp.Settings(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        )
        runner = await webapp.run("127.0.0.1", 0, settings)
        host, port = runner.addresses[0][:2]
        profile = tempfile.mkdtemp(prefix="pda-chromium-")
        driver = None
        try:
            driver = await asyncio.to_thread(start_browser, profile)

            def journey() -> tuple[dict[str, Any], dict[str, Any]]:
                assert driver is not None
                driver.get(f"http://{host}:{port}/?dashboard=388")

                def state() -> dict[str, Any]:
                    result: dict[str, Any] = driver.execute_script(STATE_JS)
                    return result

                first = wait_until(state, lambda s: len(s["cards"]) > 0)
                final = wait_until(state, lambda s: s["state"] in ("complete", "failed"))
                return first, final

            # The browser is driven from a thread: the event loop keeps serving the app
            # and the fake PostHog meanwhile.
            first, final = await asyncio.to_thread(journey)
        finally:
            if driver is not None:
                await asyncio.to_thread(driver.quit)
            await runner.cleanup()
            shutil.rmtree(profile, ignore_errors=True)

    # Progressive: the first cards (the metadata's two) came well before the last one.
    assert 0 < len(first["cards"]) < len(expected)
    assert first["state"] == "streaming"
    assert final["state"] == "complete", final["status"]
    assert final["status"] == "complete: 6 of 6 tiles, 1 failed"
    assert final["title"] == "Weekly KPIs"
    assert final["links"] == 8
    cards = final["cards"]
    assert [c["id"] for c in cards] == expected
    failed = [c for c in cards if c["failed"]]
    assert [c["id"] for c in failed] == [9304]
    assert "✗ Query timed out after 60 seconds" in failed[0]["text"]
    signups = cards[0]["text"]
    assert "Signups (7d)" in signups
    assert "412" in signups
