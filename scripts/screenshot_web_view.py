#!/usr/bin/env python3
"""Take the README's screenshot of the live web view: ``docs/web-view.png``.

    python scripts/screenshot_web_view.py [--out docs/web-view.png]

Runs what ``posthog-dash demo --web`` runs (an embedded FakePostHog and the view of its demo
dashboard) on a free loopback port, opens it in headless Chromium (selenium with the
system's chromium and chromedriver; nothing is downloaded), waits until every tile has
arrived and saves the page.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from posthog_dash_async._cli.web import run_demo_web

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1360, 1000


def _capture(url: str, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        raise SystemExit("chromium and chromedriver are needed (apt-get install chromium-driver)")
    profile = tempfile.mkdtemp(prefix="pda-shot-")
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--hide-scrollbars",
        "--force-prefers-reduced-motion",
        "--force-color-profile=srgb",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.binary_location = chromium
    driver: Any = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        driver.get(url)
        deadline = time.monotonic() + 30
        state = "idle"
        while state != "complete":
            if time.monotonic() > deadline:
                raise SystemExit(f"the view did not complete (state {state!r})")
            time.sleep(0.1)
            state = driver.execute_script("return document.getElementById('status').dataset.state")
        # The whole page, not only the first screenful.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


async def _main(out: Path) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[str] = loop.create_future()
    task = asyncio.create_task(
        run_demo_web(
            port=0,
            open_browser=False,
            tile_delay=0.05,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            ready=ready.set_result,
        )
    )
    try:
        url = await asyncio.wait_for(ready, 20)
        await asyncio.to_thread(_capture, url, out)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "web-view.png")
    args = parser.parse_args(argv)
    asyncio.run(_main(args.out))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
