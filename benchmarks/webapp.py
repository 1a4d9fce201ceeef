"""The web-app workload: many viewers of a few dashboards, one key, one process.

    python benchmarks/webapp.py                   # 3 repetitions, ~1 min
    python benchmarks/webapp.py --output FILE.md  # also write the table

200 viewers open at once, spread over 5 dashboards; each views its dashboard 3 times in a
row, half of them with ``dashboards.get`` and half with ``stream_tiles`` (read to the
``complete`` event). The server (``server.py``, project 43) spends 20 ms on each dashboard
and each stream before answering, as a real one computing insights would; its bodies are the
90 KB dashboard and streams of 20-24 tiles of ~5 KB.

Contenders, each with at most 16 connections:

- (s) the SDK with ``coalesce=False``: every view is its own upstream request;
- (v) the SDK as configured by default: identical GETs in flight are sent once and identical
  tile streams share one upstream;
- (b) the floor, raw aiohttp + msgspec: every view is its own request.

Reported per contender (medians over repetitions, run in rotating order): upstream requests
(counted by the server), p50 and p99 latency of one view (from its start to the last byte
decoded), wall time of the whole workload, and client CPU (``time.process_time()``) per view.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402
from contenders import ALL, Contender, sdk_status  # noqa: E402
from run import Server, child_env, machine, rotated  # noqa: E402

VIEWERS = 200
DASHBOARDS = (20, 21, 22, 23, 24)  # ids = tile counts of their streams
VIEWS = 3
CONNECTIONS = 16
CONTENDERS = ("s", "v", "b")
LABELS = {
    "s": "(s) SDK, `coalesce=False`",
    "v": "(v) SDK, default (coalescing + shared streams)",
    "b": "(b) aiohttp + msgspec — floor",
}


def upstream(url: str, reset: bool = False) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats{'?reset=1' if reset else ''}") as resp:
        counts: dict[str, int] = json.loads(resp.read())
    return counts


async def run_once(key: str, url: str) -> dict[str, Any]:
    contender: Contender = ALL[key](url, payloads.SLOW_PROJECT_ID)
    await contender.open(CONNECTIONS)
    try:
        # Warm-up: one view of each kind, then the counters start from zero.
        await contender.get_dashboard(DASHBOARDS[0])
        await contender.stream(DASHBOARDS[0], lambda: None)
        upstream(url, reset=True)
        latencies: list[float] = []

        async def viewer(i: int) -> None:
            dashboard = DASHBOARDS[i % len(DASHBOARDS)]
            streaming = (i // len(DASHBOARDS)) % 2 == 1
            for _ in range(VIEWS):
                started = time.perf_counter()
                if streaming:
                    tiles = await contender.stream(dashboard, lambda: None)
                    if tiles != dashboard:
                        raise RuntimeError(f"{key}: {tiles} tiles of {dashboard}")
                else:
                    await contender.get_dashboard(dashboard)
                latencies.append(time.perf_counter() - started)

        gc.collect()
        cpu = time.process_time()
        wall = time.perf_counter()
        await asyncio.gather(*(viewer(i) for i in range(VIEWERS)))
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        counts = upstream(url, reset=True)
    finally:
        await contender.close()
    latencies.sort()
    views = len(latencies)
    return {
        "requests": sum(counts.values()),
        "p50": latencies[views // 2] * 1e3,
        "p99": latencies[min(views - 1, int(views * 0.99))] * 1e3,
        "wall": wall,
        "cpu_per_view": cpu / views * 1e6,
    }


def table(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    def med(key: str, field: str) -> float:
        return statistics.median(r[field] for r in results[key])

    views = VIEWERS * VIEWS
    lines = [
        f"| {VIEWERS} viewers × {VIEWS} views, {len(DASHBOARDS)} dashboards | upstream requests "
        "| p50 view | p99 view | wall | client CPU / view |",
        "|---|---|---|---|---|---|",
    ]
    for key in CONTENDERS:
        if not results.get(key):
            continue
        cpu = med(key, "cpu_per_view")
        cpu_floor = med("b", "cpu_per_view") if results.get("b") else None
        rel = f" ({cpu / cpu_floor:.2f}×)" if cpu_floor and key != "b" else ""
        lines.append(
            f"| {LABELS[key]} | {med(key, 'requests'):.0f} of {views} views "
            f"| {med(key, 'p50'):.0f} ms | {med(key, 'p99'):.0f} ms | {med(key, 'wall'):.2f} s "
            f"| {cpu:.0f} µs{rel} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    skipped = sdk_status()
    if skipped:
        print(f"the SDK cannot be measured: {skipped}", file=sys.stderr)
        return 1
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in CONTENDERS}
    with tempfile.TemporaryDirectory(prefix="pda-webapp-pycache-") as pycache:
        env = child_env(Path(pycache))
        with Server(DASHBOARDS, env) as server:
            for rep in range(args.reps):
                for key in rotated(list(CONTENDERS), rep):
                    result = asyncio.run(run_once(key, server.url))
                    results[key].append(result)
                    print(f"rep {rep + 1} {key}: {result}", file=sys.stderr)
    lines = [
        "## Web-app workload",
        "",
        f"Produced by `python benchmarks/webapp.py` ({args.reps} repetitions; medians).",
        "",
        *machine(),
        "",
        *table(results),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
