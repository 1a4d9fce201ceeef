"""Profile one SDK workload against the benchmark server with pyinstrument.

Usage::

    python benchmarks/profile_sdk.py get      # dashboards.get, 90 KB, c=16
    python benchmarks/profile_sdk.py tiny     # dashboards.sharing.get, c=16
    python benchmarks/profile_sdk.py iter     # dashboards.iter over 2,000 dashboards
    python benchmarks/profile_sdk.py stream   # stream_tiles, 20,000 tiles
    python benchmarks/profile_sdk.py get --contender b   # the same workload on the floor

Prints pyinstrument's call tree (``--html FILE`` writes the interactive report instead).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import ALL
from pyinstrument import Profiler
from run import LIST_CONCURRENCY, Server, child_env, workload_op

STREAM_TILES = 20000


async def profile(workload: str, key: str, url: str, seconds: float) -> Profiler:
    contender = ALL[key](url)
    op = workload_op(contender, workload, STREAM_TILES)
    workers = 16 if workload in ("get", "tiny") else 1
    await contender.open(LIST_CONCURRENCY if workers == 1 else workers)
    try:
        await asyncio.gather(*(op() for _ in range(workers)))  # warm up
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await op()

        profiler.start()
        await asyncio.gather(*(worker() for _ in range(workers)))
        profiler.stop()
    finally:
        await contender.close()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["get", "tiny", "iter", "stream"])
    parser.add_argument("--contender", default="s", choices=sorted(ALL))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--html", type=Path, help="write pyinstrument's HTML report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pda-bench-pycache-") as pycache:
        sizes = [STREAM_TILES] if args.workload == "stream" else []
        with Server(sizes, child_env(Path(pycache))) as server:
            profiler = asyncio.run(profile(args.workload, args.contender, server.url, args.seconds))
    if args.html:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
    else:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
