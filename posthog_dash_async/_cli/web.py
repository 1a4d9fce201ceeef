"""``posthog-dash view ID`` and ``posthog-dash demo --web``: the live web view, served locally.

The page is served on loopback only (``127.0.0.1``); it talks to this process, which holds
the API key and relays the tile stream, so the key never reaches the browser.
"""

from __future__ import annotations

import asyncio
import errno
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .argtypes import port
from .exits import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from aiohttp import web

    from .._client import AsyncPostHog

__all__ = ["DEFAULT_PORT", "add_web_arguments", "demo_dashboard", "run_demo_web", "run_view"]

DEFAULT_PORT = 8020
BIND_HOST = "127.0.0.1"


def add_web_arguments(parser: Any, *, default_port: int = DEFAULT_PORT) -> None:
    """``--port`` and ``--no-open``, as ``view`` and ``demo --web`` take them."""
    parser.add_argument(
        "--port",
        type=port,
        default=default_port,
        metavar="N",
        help=f"local port of the page (default {default_port}; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-open", action="store_true", help="do not open a browser, only print the address"
    )


async def start_view(ph: AsyncPostHog, dashboard_id: int, port: int) -> tuple[web.AppRunner, str]:
    """Serve the view of ``dashboard_id`` on ``127.0.0.1:port``; return the runner and URL.

    Raises :class:`OSError` (``errno.EADDRINUSE``) when the port is taken.
    """
    from aiohttp import web

    from ..web import create_app

    runner = web.AppRunner(
        create_app(ph, dashboard_id=dashboard_id),
        access_log=None,
        # A closed tab cancels its handler, which closes the PostHog stream at once.
        handler_cancellation=True,
        # Open event streams must not hold up Ctrl-C for aiohttp's default minute.
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, BIND_HOST, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return runner, f"http://{BIND_HOST}:{bound}/?dashboard={dashboard_id}"


async def run_view(
    ph: AsyncPostHog,
    dashboard_id: int,
    *,
    port: int,
    open_browser: bool,
    stdout: TextIO,
    stderr: TextIO,
    prog: str = "posthog-dash",
    opener: Callable[[str], Any] = webbrowser.open,
    ready: Callable[[str], None] | None = None,
) -> int:
    """Serve the live view until cancelled (Ctrl-C); return the exit code.

    The dashboard is read first, so that a wrong id, key or host fails here as the SDK
    error (reported by the caller with its exit code) instead of on a page in a browser. A
    port in use is a usage error with a one-line explanation, not a traceback.
    """
    dashboard = await ph.dashboards.get(dashboard_id)
    title = _printable(dashboard.name or "untitled")
    try:
        runner, url = await start_view(ph, dashboard_id, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            stderr.write(
                f"{prog}: usage: port {port} on {BIND_HOST} is in use "
                "(pick another with --port N, or --port 0 for a free one)\n"
            )
        else:
            stderr.write(f"{prog}: cannot listen on {BIND_HOST}:{port}: {exc.strerror or exc}\n")
        stderr.flush()
        return EXIT_USAGE
    try:
        stdout.write(f"live view of '{title}' (#{dashboard_id}): {url}  (Ctrl-C stops)\n")
        stdout.flush()
        if open_browser:
            # webbrowser may block while it starts a browser: keep the loop serving.
            await asyncio.to_thread(opener, url)
        if ready is not None:
            ready(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return EXIT_OK


def _printable(text: str) -> str:
    """A server string for the terminal: the command line's one sanitiser."""
    from .sanitize import clean

    return clean(text)


def demo_dashboard(server: Any) -> int:
    """Add the demo's dashboard (every kind of tile the view draws) to a FakePostHog."""
    from ..testing import funnel_tile, number_tile, text_tile, trends_tile

    detail = server.add_dashboard(
        "Product health (demo)",
        description="Served by an embedded FakePostHog; tiles arrive one by one.",
        pinned=True,
        tags=["demo"],
        tiles=[
            number_tile("Weekly active users", value=18342.0, layout=(0, 0, 3, 3)),
            number_tile(
                "Paying customers", value=1267.0, event="subscription paid", layout=(3, 0, 3, 3)
            ),
            text_tile(
                "## This week\n"
                "- Signups **up 12%** after the pricing page change\n"
                "- Checkout funnel: see *Pricing → paid*\n\n"
                "Data excludes internal and test accounts.",
                layout=(6, 0, 6, 3),
            ),
            trends_tile(
                "Daily active users",
                math="dau",
                data=(
                    1412.0,
                    1530.0,
                    1498.0,
                    1621.0,
                    1702.0,
                    1188.0,
                    1104.0,
                    1655.0,
                    1740.0,
                    1811.0,
                    1790.0,
                    1263.0,
                    1201.0,
                    1874.0,
                ),
                layout=(0, 3, 8, 5),
            ),
            funnel_tile(
                "Pricing → paid",
                steps=(
                    ("viewed pricing", 5200),
                    ("signup started", 1640),
                    ("user signed up", 1210),
                    ("subscription paid", 388),
                ),
                layout=(8, 3, 4, 5),
            ),
            trends_tile(
                "Page views by week",
                interval="week",
                display="ActionsBar",
                data=(8210.0, 8804.0, 9120.0, 9577.0, 10230.0, 9876.0),
                layout=(0, 8, 6, 4),
            ),
            trends_tile(
                "Failed payments",
                event="payment failed",
                data=(3.0, 1.0, 4.0, 0.0, 2.0, 5.0, 1.0),
                layout=(6, 8, 6, 4),
            ),
        ],
    )
    return int(detail["id"])


async def run_demo_web(
    *,
    port: int,
    open_browser: bool,
    tile_delay: float,
    stdout: TextIO,
    stderr: TextIO,
    prog: str = "posthog-dash",
    opener: Callable[[str], Any] = webbrowser.open,
    ready: Callable[[str], None] | None = None,
) -> int:
    """``demo --web``: an embedded FakePostHog, its demo dashboard, and the live view of it."""
    from .._client import AsyncPostHog
    from ..testing import FakePostHog

    # The fake's default answers personal API keys on stream_tiles the way PostHog does
    # (403); the demo shows the stream itself, tiles arriving one by one.
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_stream_faults(tile_delay=tile_delay)
        dashboard_id = demo_dashboard(server)
        async with AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        ) as ph:
            return await run_view(
                ph,
                dashboard_id,
                port=port,
                open_browser=open_browser,
                stdout=stdout,
                stderr=stderr,
                prog=prog,
                opener=opener,
                ready=ready,
            )
