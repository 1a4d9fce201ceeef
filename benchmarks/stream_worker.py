"""Consume one ``stream_tiles`` stream in a fresh process and print the measurements as JSON.

Run by ``run.py`` (one process per contender, size and repetition) so that peak RSS growth
during the stream is attributable to that stream alone. The connection is warmed up with one
small request first; peak RSS is read after that and again after the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import ALL
from payloads import DETAIL_DASHBOARD_ID
from probes import Stopwatch, peak_rss_bytes


async def measure(key: str, base_url: str, dashboard_id: int, server_pid: int) -> dict[str, float]:
    contender = ALL[key](base_url)
    await contender.open(concurrency=16)
    try:
        await contender.get_sharing(DETAIL_DASHBOARD_ID)
        rss_before = peak_rss_bytes()
        first_at: list[float] = []

        def on_first() -> None:
            first_at.append(time.perf_counter())

        watch = Stopwatch(server_pid)
        watch.start()
        started = time.perf_counter()
        tiles = await contender.stream(dashboard_id, on_first)
        interval = watch.stop()
        rss_after = peak_rss_bytes()
    finally:
        await contender.close()
    return {
        "tiles": tiles,
        "wall": interval.wall,
        "client_cpu": interval.client_cpu,
        "server_share": interval.server_share,
        "other_share": interval.other_share,
        "ttfe": first_at[0] - started if first_at else float("nan"),
        "rss_growth": rss_after - rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", required=True, choices=sorted(ALL))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--dashboard", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    args = parser.parse_args()
    result = asyncio.run(measure(args.contender, args.base_url, args.dashboard, args.server_pid))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
