"""The SDK's live web view (``posthog_dash_async.web``) in a real headless Chromium.

A FakePostHog serves the tiles (slowly, so they stream); the view's application runs on
loopback and the browser is driven from a thread while the event loop serves both. What is
checked is what a person would see: tiles placed on PostHog's 12-column grid from their
``sm`` layouts, charts actually drawn, tiles arriving one after the other, a failed tile
marked in place, one column on a narrow window, and Markdown that carries a script payload
rendered inert. Skipped without selenium, chromium or chromedriver; nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog, funnel_tile, text_tile, trends_tile
from posthog_dash_async.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HAVE_SELENIUM = importlib.util.find_spec("selenium") is not None

pytestmark = [
    pytest.mark.skipif(not HAVE_SELENIUM, reason="selenium is not installed"),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
    ),
]

T = TypeVar("T")

XSS_BODY = (
    "## Notes\n\n"
    "Plain **bold** text.\n\n"
    '<img src="x" onerror="window.__pwnedImg = 1">\n\n'
    "<script>window.__pwnedScript = 1</script>\n\n"
    '<a href="javascript:window.__pwnedLink = 1" id="bad-link">click</a>\n\n'
    "[md link](javascript:window.__pwnedMd=1)\n\n"
    '<svg><animate onbegin="window.__pwnedSvg = 1" attributeName="x" dur="1s"/></svg>\n\n'
    '<iframe srcdoc="<script>parent.__pwnedFrame = 1</script>"></iframe>\n'
)


def start_browser(profile: str, width: int = 1280, height: int = 1000) -> Any:
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
        "--hide-scrollbars",
        # No entry animation: positions are measured where the tiles come to rest.
        "--force-prefers-reduced-motion",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    assert CHROMIUM is not None
    assert CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
const grid = document.getElementById('grid').getBoundingClientRect();
const status = document.getElementById('status');
return {
  state: status.dataset.state,
  status: status.textContent,
  title: document.getElementById('title').textContent,
  grid: {left: grid.left, width: grid.width},
  tiles: [...document.querySelectorAll('.tile')].map(c => {
    const r = c.getBoundingClientRect();
    const style = getComputedStyle(c);
    return {
      id: Number(c.dataset.tileId), kind: c.dataset.kind,
      failed: c.classList.contains('failed'), text: c.innerText,
      colStart: style.gridColumnStart, colEnd: style.gridColumnEnd,
      rowStart: style.gridRowStart, rowEnd: style.gridRowEnd,
      left: r.left, top: r.top, width: r.width, height: r.height,
    };
  }),
};
"""

CHARTS_JS = """
return [...document.querySelectorAll('.tile canvas')].map(canvas => {
  const chart = Chart.getChart(canvas);
  const ctx = canvas.getContext('2d');
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return {
    tile: Number(canvas.closest('.tile').dataset.tileId),
    type: chart ? chart.config.type : null,
    points: chart ? chart.data.datasets[0].data.length : 0,
    labels: chart ? chart.data.labels.map(String) : [],
    painted, width: canvas.width, height: canvas.height,
  };
});
"""

XSS_JS = """
const md = document.querySelector('.text-tile .markdown');
return {
  globals: ['__pwnedImg', '__pwnedScript', '__pwnedLink', '__pwnedMd', '__pwnedSvg',
            '__pwnedFrame'].filter(name => name in window),
  html: md ? md.innerHTML : null,
  bold: md ? [...md.querySelectorAll('strong')].map(e => e.textContent) : [],
  heading: md ? (md.querySelector('h2') || {}).textContent : null,
  scripts: md ? md.querySelectorAll('script, iframe').length : -1,
  handlers: md ? [...md.querySelectorAll('*')].flatMap(e =>
      [...e.attributes].map(a => a.name).filter(n => n.startsWith('on'))) : [],
  jsLinks: md ? [...md.querySelectorAll('a')].filter(a =>
      (a.getAttribute('href') || '').trim().toLowerCase().startsWith('javascript')).length : -1,
};
"""


@asynccontextmanager
async def view_of(server: FakePostHog) -> AsyncIterator[str]:
    """The web view of ``server``'s dashboards on a free loopback port; yields its URL."""
    async with pda.AsyncPostHog(
        api_key=server.api_key, host=server.url, project_id=server.project_id
    ) as ph:
        runner = web.AppRunner(create_app(ph), handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            yield f"http://{host}:{port}/"
        finally:
            await runner.cleanup()


async def in_browser(journey: Callable[[Any], T], *, width: int = 1280) -> T:
    """Run ``journey(driver)`` in a fresh headless Chromium, off the event loop."""
    profile = tempfile.mkdtemp(prefix="pda-chromium-")
    driver = None
    try:
        driver = await asyncio.to_thread(start_browser, profile, width)
        return await asyncio.to_thread(journey, driver)
    finally:
        if driver is not None:
            await asyncio.to_thread(driver.quit)
        shutil.rmtree(profile, ignore_errors=True)


def severe_logs(driver: Any) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
    ]


async def test_tiles_stream_onto_the_dashboards_grid_with_drawn_charts() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        # 377 "Web analytics": two trends side by side, a funnel under the first, a text
        # tile beside it: (0,0,6,5) (6,0,6,5) (0,5,6,5) (6,5,6,2).
        server.set_stream_faults(tile_delay=0.4)
        async with view_of(server) as url:

            def journey(driver: Any) -> dict[str, Any]:
                driver.get(f"{url}?dashboard=377")

                def state() -> dict[str, Any]:
                    result: dict[str, Any] = driver.execute_script(STATE_JS)
                    return result

                first = wait_until(state, lambda s: len(s["tiles"]) > 0)
                final = wait_until(state, lambda s: s["state"] in ("complete", "failed"))
                charts = wait_until(
                    lambda: driver.execute_script(CHARTS_JS),
                    lambda cs: len(cs) == 3 and all(c["painted"] > 500 for c in cs),
                )
                return {
                    "first": first,
                    "final": final,
                    "charts": charts,
                    "logs": severe_logs(driver),
                }

            seen = await in_browser(journey)

    first, final = seen["first"], seen["final"]
    # Streamed: the metadata's first tiles were on the page while the rest were computed.
    assert 0 < len(first["tiles"]) < 4
    assert first["state"] == "streaming"
    assert final["state"] == "complete", final["status"]
    assert final["status"] == "complete: 4 of 4 tiles"
    assert final["title"] == "Web analytics"

    tiles = {t["id"]: t for t in final["tiles"]}
    assert sorted(tiles) == [9201, 9202, 9203, 9204]
    assert [tiles[i]["kind"] for i in (9201, 9202, 9203, 9204)] == [
        "trends",
        "trends",
        "funnel",
        "text",
    ]
    # CSS grid lines from the sm layouts: column x+1 spanning w, row y+1 spanning h.
    expected = {9201: (1, 1, 6, 5), 9202: (7, 1, 6, 5), 9203: (1, 6, 6, 5), 9204: (7, 6, 6, 2)}
    for tile_id, (col, row, w, h) in expected.items():
        tile = tiles[tile_id]
        assert (tile["colStart"], tile["colEnd"]) == (str(col), f"span {w}"), tile
        assert (tile["rowStart"], tile["rowEnd"]) == (str(row), f"span {h}"), tile
    # And on screen: half-width tiles, the right column starting mid-grid, rows stacked.
    grid = final["grid"]
    left, right = tiles[9201], tiles[9202]
    assert abs(left["left"] - grid["left"]) < 1
    assert abs(right["left"] - (grid["left"] + grid["width"] / 2)) < 16
    assert abs(left["width"] - right["width"]) < 1
    assert left["width"] < grid["width"] / 2
    assert abs(left["top"] - right["top"]) < 1
    assert tiles[9203]["top"] >= left["top"] + left["height"]
    assert abs(tiles[9204]["top"] - tiles[9203]["top"]) < 1
    # h=5 rows are taller than h=2 ones.
    assert tiles[9203]["height"] > 2 * tiles[9204]["height"]

    charts = {c["tile"]: c for c in seen["charts"]}
    assert charts[9201]["type"] == "line"
    assert charts[9202]["type"] == "line"
    assert charts[9202]["points"] == 7  # the seeded page views series
    assert charts[9203]["type"] == "bar"  # the funnel: one bar per step
    assert charts[9203]["points"] == 3
    assert charts[9203]["labels"][2].endswith("7.9%")  # 410 of 5,200 reached the last step
    assert all(c["width"] > 100 and c["height"] > 100 for c in charts.values())
    assert "internal and test accounts" in tiles[9204]["text"]
    assert seen["logs"] == []


async def test_a_text_tiles_script_payload_never_runs() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        detail = server.add_dashboard(
            "Untrusted text",
            tiles=[
                text_tile(XSS_BODY, layout=(0, 0, 12, 6)),
                trends_tile("<img src=x onerror=window.__pwnedTitle=1>", layout=(0, 6, 12, 4)),
            ],
        )
        async with view_of(server) as url:

            def journey(driver: Any) -> dict[str, Any]:
                driver.get(f"{url}?dashboard={detail['id']}")
                wait_until(
                    lambda: driver.execute_script(STATE_JS),
                    lambda s: s["state"] in ("complete", "failed"),
                )
                time.sleep(0.3)  # an image error or an SVG animation fires asynchronously
                result: dict[str, Any] = driver.execute_script(XSS_JS)
                result["pwnedTitle"] = driver.execute_script("return '__pwnedTitle' in window")
                result["titles"] = driver.execute_script(
                    "return [...document.querySelectorAll('.tile h3')].map(h => h.textContent)"
                )
                return result

            seen = await in_browser(journey)

    assert seen["globals"] == []
    assert seen["pwnedTitle"] is False
    # The sanitiser removed what could run, and kept the Markdown.
    assert seen["scripts"] == 0
    assert seen["handlers"] == []
    assert seen["jsLinks"] == 0
    assert seen["heading"] == "Notes"
    assert seen["bold"] == ["bold"]
    assert "onerror" not in seen["html"]
    # An insight name is text, never markup.
    assert seen["titles"] == ["<img src=x onerror=window.__pwnedTitle=1>"]


async def test_a_failed_tile_is_marked_in_place_and_a_narrow_window_is_one_column() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        detail = server.add_dashboard(
            "Three tiles",
            tiles=[
                trends_tile("Signups", layout=(0, 0, 4, 4)),
                funnel_tile("Onboarding", layout=(4, 0, 4, 4)),
                trends_tile("Revenue", layout=(8, 0, 4, 4), tile_id=88001),
            ],
        )
        server.set_stream_faults(tile_errors={88001: "Query timed out after 60 seconds"})
        async with view_of(server) as url:

            def journey(driver: Any) -> dict[str, Any]:
                driver.get(f"{url}?dashboard={detail['id']}")
                final: dict[str, Any] = wait_until(
                    lambda: driver.execute_script(STATE_JS),
                    lambda s: s["state"] in ("complete", "failed"),
                )
                return final

            final = await in_browser(journey, width=520)

    assert final["status"] == "complete: 3 of 3 tiles, 1 failed"
    failed = [t for t in final["tiles"] if t["failed"]]
    assert [t["id"] for t in failed] == [88001]
    assert "✗ Query timed out after 60 seconds" in failed[0]["text"]
    # One column: every tile spans the grid's width, stacked in layout order.
    tiles = sorted(final["tiles"], key=lambda t: t["top"])
    assert all(abs(t["width"] - final["grid"]["width"]) < 1 for t in tiles)
    assert [t["id"] for t in tiles][:2] == [t["id"] for t in final["tiles"]][:2]
    assert all(a["top"] + a["height"] <= b["top"] for a, b in itertools.pairwise(tiles))
