"""CI's performance gate: a short paired run of SDK and floor that fails on a regression.

    python benchmarks/gate.py               # ~20 s; exit status 1 when a row is below 0.7x
    python benchmarks/gate.py --min 0.8     # a stricter margin

Each row runs the SDK and the floor (raw aiohttp + msgspec) in the same process, their
measurements cut into slices run alternately, for a few repetitions; a row's figure is the
median of the per-repetition ratios (SDK speed / floor speed, so above 1 is faster). The
gate fails when any row's median falls below ``--min`` (0.7 by default): wide enough for a
noisy shared machine, narrow enough to catch a change that costs 1.5x or more (such as the
3x regression on tiny responses that a proxy lookup per request once caused).

The rows are those of ``run.py`` that a change on the hot path moves: ``get`` at c=16 and
c=64, the tiny response at c=16, ``iter()`` over all pages, one ``stream_tiles`` stream of
1,000 tiles; plus ``get`` at c=1 in the default configuration (coalescing on), which
catches a regression on the coalescing path a lone caller goes through.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402
from contenders import ALL, Contender, sdk_status  # noqa: E402
from run import (  # noqa: E402
    DETAIL_ID,
    LIST_CONCURRENCY,
    PAGE_SIZE,
    Lane,
    Server,
    child_env,
    interleave,
    measure_stream,
    open_lane,
)

STREAM_TILES = 1000


@dataclass
class GateRow:
    title: str
    sdk: str  # contender key
    ratios: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


Make = Callable[[Contender], tuple[Callable[[], Any], object, int, int, int]]


async def paired(server: Server, row: GateRow, make: Make, rep: int, slices: int) -> None:
    """One repetition of one row: SDK and floor interleaved; appends SDK/floor speed."""
    lanes: dict[str, Lane] = {}
    try:
        for key in ("b", row.sdk):
            contender = ALL[key](server.url, payloads.PROJECT_ID)
            op, expected, conc, workers, per_slice = make(contender)
            lanes[key] = await open_lane(contender, op, expected, conc, workers, per_slice)
        gc.collect()
        failures: list[str] = []
        done = await interleave(
            lanes, slices, rep, server.pid, lambda k, e: failures.append(f"{k}: {e!r}")
        )
        if failures:
            raise RuntimeError("; ".join(failures))
        floor, sdk = done["b"].total.wall, done[row.sdk].total.wall
        calls_floor, calls_sdk = done["b"].calls, done[row.sdk].calls
        # Speed = calls per second for both kinds of row (a listing is one call).
        row.ratios.append((calls_sdk / sdk) / (calls_floor / floor))
    finally:
        for lane in lanes.values():
            await lane.contender.close()


async def http_rows(server: Server, rows: dict[str, GateRow], reps: int, slices: int) -> None:
    def get(conc: int, per_slice: int) -> Make:
        def make(c: Contender) -> Any:
            return (
                (lambda: c.get_dashboard(DETAIL_ID)),
                payloads.DETAIL_TILE_COUNT,
                conc,
                conc,
                per_slice,
            )

        return make

    def tiny(c: Contender) -> Any:
        return (lambda: c.get_sharing(DETAIL_ID)), True, 16, 16, 100

    def listing(c: Contender) -> Any:
        if c.key == "b":
            op = lambda: c.list_concurrent(PAGE_SIZE, LIST_CONCURRENCY)  # noqa: E731
        else:
            op = lambda: c.list_iter(PAGE_SIZE)  # type: ignore[attr-defined]  # noqa: E731
        return op, payloads.LIST_DASHBOARD_COUNT, LIST_CONCURRENCY, 1, 1

    plan: list[tuple[str, Make]] = [
        # Short slices, at least two calls per worker each: both lanes see the same load.
        ("get16", get(16, 40)),
        ("get64", get(64, 128)),
        ("tiny", tiny),
        ("iter", listing),
        ("get1", get(1, 15)),
    ]
    for rep in range(reps):
        for name, make in plan:
            row = rows[name]
            if row.error:
                continue
            try:
                await paired(server, row, make, rep, slices)
            except Exception as exc:
                row.error = f"{type(exc).__name__}: {exc}"


def stream_row(server: Server, row: GateRow, reps: int, env: dict[str, str]) -> None:
    for rep in range(reps):
        order = ["b", row.sdk] if rep % 2 == 0 else [row.sdk, "b"]
        try:
            walls = {
                key: measure_stream(key, server.url, STREAM_TILES, server.pid, env)["wall"]
                for key in order
            }
        except Exception as exc:
            row.error = f"{type(exc).__name__}: {exc}"
            return
        row.ratios.append(walls["b"] / walls[row.sdk])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=0.7, help="lowest ratio allowed (0.7)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--slices", type=int, default=12)
    parser.add_argument(
        "--stream-reps",
        type=int,
        default=7,
        help="stream pairs (7): each stream runs in a fresh process, whose start-up noise a "
        "few more pairs keep out of the median",
    )
    args = parser.parse_args(argv)
    skipped = sdk_status()
    if skipped:
        print(f"gate: the SDK cannot be measured: {skipped}", file=sys.stderr)
        return 1
    rows = {
        "get16": GateRow("`get` 90 KB dashboard, c=16", "s"),
        "get64": GateRow("`get` 90 KB dashboard, c=64", "s"),
        "tiny": GateRow("tiny response (sharing, 250 B), c=16", "s"),
        "iter": GateRow("`iter()` over 20 pages vs first page + gather", "s"),
        "get1": GateRow("`get` c=1, default configuration (coalescing on)", "v"),
        "stream": GateRow(f"`stream_tiles` {STREAM_TILES:,} tiles", "s"),
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pda-gate-pycache-") as pycache:
        env = child_env(Path(pycache))
        with Server((STREAM_TILES,), env) as server:
            asyncio.run(http_rows(server, rows, args.reps, args.slices))
            stream_row(server, rows["stream"], args.stream_reps, env)
    elapsed = time.perf_counter() - started
    failed = False
    print(
        f"performance gate: SDK speed / floor speed, median of {args.reps} paired repetitions "
        f"({args.stream_reps} for the stream)"
    )
    print(f"{'row':<52} {'median':>7}  {'range':<13} result")
    for row in rows.values():
        if row.error or row.median is None:
            failed = True
            print(f"{row.title:<52} {'—':>7}  {'':<13} ERROR {row.error}")
            continue
        ok = row.median >= args.min
        failed |= not ok
        span = f"{min(row.ratios):.2f}-{max(row.ratios):.2f}"
        print(f"{row.title:<52} {row.median:>6.2f}x  {span:<13} {'ok' if ok else 'FAIL'}")
    verdict = "FAILED" if failed else "passed"
    print(f"gate {verdict} (minimum {args.min:.2f}x, {elapsed:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
