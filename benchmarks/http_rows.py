"""Only the in-process HTTP rows of ``run.py`` (``get`` at c=1/16/64, the tiny response at
c=16, the listings), for a quick side-by-side check of a transport or client change.

Usage::

    python benchmarks/http_rows.py                  # 3 repetitions, full request counts
    python benchmarks/http_rows.py --reps 5
    python benchmarks/http_rows.py --no-coalesce    # the SDK with coalesce=False

Uses ``run.py``'s server, contenders, interleaving and table rows unchanged; prints the
rows, writes nothing. ``--no-coalesce`` measures the request path itself: with coalescing
on, concurrent identical GETs share one upstream request, which the floor cannot do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run


def _without_coalescing() -> None:
    import posthog_dash_async as pda

    original = pda.AsyncPostHog.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("coalesce", False)
        original(self, *args, **kwargs)

    pda.AsyncPostHog.__init__ = init  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-coalesce", action="store_true")
    args = parser.parse_args()
    if args.no_coalesce:
        _without_coalescing()
    cfg = run.Config(**{**run.Config.full().__dict__, "reps": args.reps})
    with tempfile.TemporaryDirectory(prefix="pda-bench-pycache-") as pycache:
        env = run.child_env(Path(pycache))
        with run.Server(cfg.stream_sizes, env) as server:
            bench = run.Bench(cfg, server, sdk_ok=run.sdk_status() is None, env=env)
            for rep in range(cfg.reps):
                print(f"repetition {rep + 1}/{cfg.reps}", file=sys.stderr)
                asyncio.run(bench.http_workloads(rep))
    print("| Workload | Contender | Median | vs floor | Client CPU | Server CPU | Other load |")
    print("|---|---|---|---|---|---|---|")
    for row in [*bench.get_rows.values(), bench.tiny, bench.listing, bench.listing_slow]:
        for line in run.row_lines(row):
            print(line)
    return 1 if bench.harness_errors else 0


if __name__ == "__main__":
    sys.exit(main())
