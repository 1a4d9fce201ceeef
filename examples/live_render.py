"""Tiles of a dashboard printed as they arrive: the streaming loop of posthog-dash-async.

    python examples/live_render.py [DASHBOARD_ID]

Configured by ``POSTHOG_HOST`` / ``POSTHOG_PERSONAL_API_KEY`` / ``POSTHOG_PROJECT_ID``;
without them it streams dashboard 412 of an embedded FakePostHog. (``posthog-dash stream
ID --live`` is the full-screen version of this loop.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import posthog_dash_async as pda

BARS = "▁▂▃▄▅▆▇█"
# Names and text come from whoever edits the dashboard: never print their control
# characters or escape sequences (``posthog-dash`` does the same, more thoroughly).
_UNPRINTABLE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor movement, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, clipboard, links
    r"|\x1b.?|[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def safe(text: object) -> str:
    """``text`` without escape sequences or control characters."""
    return _UNPRINTABLE.sub("", str(text))


def describe(tile: pda.Tile) -> str:
    """One line per tile: a sparkline for trends, step counts for funnels, text's first line."""
    if tile.text is not None:
        lines = (tile.text.body or "").strip().splitlines()
        return f"text: {safe(lines[0]) if lines else ''}"
    insight = tile.insight
    result = insight.result if insight is not None else None
    name = safe(insight.name) if insight is not None else f"tile {tile.id}"
    if isinstance(result, list) and result and isinstance(result[0], dict):
        data = result[0].get("data")
        if data:
            low, high = min(data), max(data)
            spark = "".join(BARS[int((v - low) / ((high - low) or 1) * 7)] for v in data)
            return f"{name}: {spark} last {data[-1]:,.0f}"
        if "aggregated_value" in result[0]:
            return f"{name}: {result[0]['aggregated_value']:,.0f}"
        return f"{name}: " + " → ".join(f"{step.get('count', 0):,}" for step in result)
    return f"{name}: (no cached result)"


async def stream(ph: pda.AsyncPostHog, dashboard_id: int, show: Callable[[str], None]) -> int:
    """The loop itself: one ``match`` per event, as the events arrive."""
    tiles = 0
    async with ph.dashboards.stream_tiles(dashboard_id) as events:
        async for event in events:
            match event:
                case pda.MetadataEvent(dashboard=dashboard):
                    show(f"== {safe(dashboard.name)} ==")
                    for tile in dashboard.tiles:  # the first one or two tiles come along
                        show(f"  {describe(tile)}")
                    tiles += len(dashboard.tiles)
                case pda.TileEvent(order=order, tile=tile):
                    show(f"  {describe(tile)}  [#{order}]")
                    tiles += 1
                case pda.TileErrorEvent(tile_id=tile_id, error=message):
                    show(f"  ✗ tile {tile_id}: {safe(message)}")
                    tiles += 1
                case pda.CompleteEvent():
                    show(f"complete: {tiles} tiles")
    return tiles


@asynccontextmanager
async def posthog() -> AsyncIterator[pda.AsyncPostHog]:
    """The configured PostHog, or an embedded FakePostHog (slow tiles, to look live)."""
    if os.environ.get("POSTHOG_HOST") or os.environ.get("POSTHOG_PERSONAL_API_KEY"):
        async with pda.AsyncPostHog() as ph:
            yield ph
        return
    from posthog_dash_async.testing import FakePostHog

    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        server.set_stream_faults(tile_delay=0.3)
        async with pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        ) as ph:
            yield ph


async def run(dashboard_id: int = 412, show: Callable[[str], None] = print) -> int:
    """Stream one dashboard; returns how many tiles arrived."""
    async with posthog() as ph:
        return await stream(ph, dashboard_id, show)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: stream the dashboard given (412 by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "dashboard_id", type=int, nargs="?", default=412, help="the dashboard (default 412)"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.dashboard_id, lambda line: print(line, flush=True)))
    except pda.PostHogError as exc:
        print(f"error: {safe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
