"""Export every dashboard, with its tiles, to one JSON file each — concurrently.

    python examples/batch_export.py --out exported/ [--max-concurrency 8]

Each dashboard is read with ``stream_tiles(...).collect()`` (which falls back to a plain
``GET`` where PostHog refuses the stream for a personal API key) and, should the stream
break half-way, with ``dashboards.get()``. All exports are started at once; the client's
semaphore keeps at most ``max_concurrency`` of them talking to PostHog, and its rate
limiter keeps the job under PostHog's per-key limits, so no extra throttling code is needed.

Configured by ``POSTHOG_HOST`` / ``POSTHOG_PERSONAL_API_KEY`` / ``POSTHOG_PROJECT_ID``;
without them it exports the dashboards of an embedded FakePostHog.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

import posthog_dash_async as pda


@dataclass
class Exported:
    """How one dashboard's export went."""

    dashboard_id: int
    name: str
    path: Path | None = None
    tiles: int = 0
    failed_tiles: int = 0
    size: int = 0
    via: str = ""
    error: str | None = None


@dataclass
class Summary:
    """The whole job."""

    results: list[Exported] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exported(self) -> list[Exported]:
        """Dashboards written to disk."""
        return [r for r in self.results if r.error is None]

    @property
    def failed(self) -> list[Exported]:
        """Dashboards that could not be read."""
        return [r for r in self.results if r.error is not None]

    @property
    def size(self) -> int:
        """Bytes written."""
        return sum(r.size for r in self.results)

    @property
    def tiles(self) -> int:
        """Tiles exported."""
        return sum(r.tiles for r in self.results)


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


async def read_dashboard(ph: pda.AsyncPostHog, dashboard_id: int) -> tuple[pda.Dashboard, str]:
    """The dashboard with every tile, and how it was read."""
    stream = ph.dashboards.stream_tiles(dashboard_id)
    try:
        dashboard = await stream.collect()
    except (
        pda.StreamError,
        pda.StreamIncompleteError,
        pda.EventTooLargeError,
        pda.APIConnectionError,
    ):
        # The stream broke after it started (the connection dropped or went silent, or the
        # server gave up; no resume exists): read the dashboard in one request instead.
        return await ph.dashboards.get(dashboard_id), "get (stream broke)"
    return dashboard, "get (stream refused)" if stream.fallback_used else "stream"


async def export_one(
    ph: pda.AsyncPostHog, summary: pda.DashboardSummary, out_dir: Path
) -> Exported:
    """Write ``dashboard-<id>.json``; failures are recorded, not raised, so that one bad
    dashboard does not stop the others."""
    result = Exported(summary.id, summary.name or "(untitled)")
    try:
        dashboard, result.via = await read_dashboard(ph, summary.id)
    except pda.PostHogError as exc:
        result.error = str(exc)
        return result
    data = msgspec.json.format(msgspec.json.encode(dashboard), indent=2)
    path = out_dir / f"dashboard-{summary.id}.json"
    # File writes are blocking calls: keep them off the event loop.
    await asyncio.to_thread(path.write_bytes, data)
    result.path = path
    result.size = len(data)
    result.tiles = len(dashboard.tiles)
    result.failed_tiles = sum(1 for t in dashboard.tiles if t.error is not None)
    return result


async def export_all(
    ph: pda.AsyncPostHog, out_dir: Path, *, log: Callable[[str], None] = print
) -> Summary:
    """Export every dashboard of the client's project into ``out_dir``."""
    started = time.perf_counter()
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    dashboards = [d async for d in ph.dashboards.iter()]
    await asyncio.to_thread(
        (out_dir / "index.json").write_bytes,
        msgspec.json.format(msgspec.json.encode(dashboards), indent=2),
    )
    log(f"exporting {len(dashboards)} dashboards to {out_dir}/")
    summary = Summary()
    width = len(str(len(dashboards)))
    tasks = [asyncio.ensure_future(export_one(ph, d, out_dir)) for d in dashboards]
    try:
        for done, next_result in enumerate(asyncio.as_completed(tasks), start=1):
            result = await next_result
            summary.results.append(result)
            head = f"[{done:>{width}}/{len(dashboards)}] #{result.dashboard_id} {result.name}"
            if result.error is not None:
                log(f"{head}: FAILED: {result.error}")
            else:
                failed = f" ({result.failed_tiles} failed)" if result.failed_tiles else ""
                tiles = f"{result.tiles} tile{'s' if result.tiles != 1 else ''}{failed}"
                log(f"{head}: {tiles}, {_kib(result.size)} via {result.via}")
    finally:
        # Only an interruption leaves tasks pending; stop them before leaving.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    summary.results.sort(key=lambda r: r.dashboard_id)
    summary.seconds = time.perf_counter() - started
    log(
        f"done: {len(summary.exported)} exported, {len(summary.failed)} failed, "
        f"{summary.tiles} tiles, {_kib(summary.size)} in {summary.seconds:.2f} s"
    )
    return summary


@asynccontextmanager
async def posthog(max_concurrency: int) -> AsyncIterator[pda.AsyncPostHog]:
    """The configured PostHog, or an embedded FakePostHog when nothing is configured."""
    if os.environ.get("POSTHOG_HOST") or os.environ.get("POSTHOG_PERSONAL_API_KEY"):
        async with pda.AsyncPostHog(max_concurrency=max_concurrency) as ph:
            yield ph
        return
    from posthog_dash_async.testing import FakePostHog

    async with (
        FakePostHog() as server,
        pda.AsyncPostHog(
            api_key=server.api_key,
            host=server.url,
            project_id=server.project_id,
            max_concurrency=max_concurrency,
        ) as ph,
    ):
        yield ph


async def run(
    out_dir: Path | str,
    *,
    client: pda.AsyncPostHog | None = None,
    max_concurrency: int = 8,
    log: Callable[[str], None] = print,
) -> Summary:
    """Export into ``out_dir`` with ``client``, or with the configured PostHog."""
    if client is not None:
        return await export_all(client, Path(out_dir), log=log)
    async with posthog(max_concurrency) as ph:
        return await export_all(ph, Path(out_dir), log=log)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: 0 when every dashboard was exported, else 1."""
    parser = argparse.ArgumentParser(description="Export every PostHog dashboard to JSON.")
    parser.add_argument("--out", default="exported", help="output directory")
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        summary = asyncio.run(run(args.out, max_concurrency=args.max_concurrency))
    except pda.PostHogError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0 if not summary.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
