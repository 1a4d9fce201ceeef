"""Benchmark posthog_dash_async against the raw floor and its peers; print and save a table.

Usage::

    python benchmarks/run.py          # full run (< 5 min on 2 cores), writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick  # tiny counts (< 1 min), proves the harness works

Contenders run interleaved: in every repetition each contender runs once, in an order that
rotates from one repetition to the next; an in-process measurement is further cut into slices
run round-robin, so that every contender sees the same background load. Ratios are computed
per repetition against the floor (raw aiohttp + msgspec) and summarised by their median.
The exit status is non-zero only when the harness itself breaks (a missed target, or an SDK
that is absent or failing, is reported, not fatal).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import floor_models as fm  # noqa: E402
import msgspec  # noqa: E402
import payloads  # noqa: E402
from contenders import ALL, Contender, ContenderError, Sdk, sdk_status  # noqa: E402
from probes import Interval, Stopwatch  # noqa: E402

DETAIL_ID = payloads.DETAIL_DASHBOARD_ID
PAGE_SIZE = payloads.DEFAULT_PAGE_SIZE
LIST_CONCURRENCY = 16
SDK = "s"
FLOOR = "b"


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    reps: int
    slices: int  # each in-process measurement is split into this many interleaved slices
    get_requests: dict[int, int]  # concurrency -> requests per measurement
    tiny_requests: int
    stream_sizes: tuple[int, int]
    decode_loops: int

    @classmethod
    def full(cls) -> Config:
        return cls(
            reps=5,
            slices=20,
            get_requests={1: 250, 16: 800, 64: 1600},
            tiny_requests=4000,
            stream_sizes=(1000, 20000),
            decode_loops=150,
        )

    @classmethod
    def quick(cls) -> Config:
        return cls(
            reps=1,
            slices=2,
            get_requests={1: 20, 16: 64, 64: 128},
            tiny_requests=100,
            stream_sizes=(50, 500),
            decode_loops=10,
        )


#: The httpx + pydantic stack is several times slower; it gets this share of the requests
#: (rates and per-request CPU are normalised, so only the run time changes).
SLOW_SHARE = {"c": 0.25}

#: Slices of the listing with 20 ms of server time per page (at most).
SLOW_LISTING_SLICES = 5


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class Sample:
    """One measurement of one contender in one repetition."""

    value: float
    cpu_us: float | None = None
    server_share: float | None = None
    other_share: float | None = None


@dataclass
class Row:
    """One line group of the table: a workload measured for several contenders."""

    title: str
    unit: str
    contenders: list[str]
    floor: str = FLOOR
    compare: str = "ratio"  # "ratio" or "diff" (difference to the floor, in ``unit``)
    cpu_unit: str = "µs/op"
    labels: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, sample: Sample) -> None:
        self.samples.setdefault(key, []).append(sample)

    def values(self, key: str) -> list[float]:
        return [s.value for s in self.samples.get(key, [])]

    def median(self, key: str) -> float | None:
        vals = self.values(key)
        return statistics.median(vals) if vals else None

    def paired(self, key: str, other: str, attr: str = "value") -> list[float]:
        """Per-repetition ratios (or differences) of ``key`` to ``other``."""
        a = self.samples.get(key, [])
        b = self.samples.get(other, [])
        out: list[float] = []
        for x, y in zip(a, b, strict=False):
            xv, yv = getattr(x, attr), getattr(y, attr)
            if xv is None or yv is None:
                continue
            if self.compare == "diff" and attr == "value":
                out.append(xv - yv)
            elif yv:
                out.append(xv / yv)
        return out

    def label(self, key: str) -> str:
        return self.labels.get(key) or LABELS.get(key, key)


LABELS = {
    "a": "(a) aiohttp + json.loads",
    "b": "(b) aiohttp + msgspec — floor",
    "c": "(c) httpx + pydantic v2",
    "d": "(d) aiohttp-sse-client + msgspec",
    "s": "(s) posthog_dash_async",
}


def rotated(keys: Sequence[str], rep: int) -> list[str]:
    k = rep % len(keys) if keys else 0
    return list(keys[k:]) + list(keys[:k])


# --------------------------------------------------------------------------------------------
# Child processes


def child_env(pycache: Path) -> dict[str, str]:
    """Environment for child interpreters: bytecode cached in a private directory.

    With ``PYTHONDONTWRITEBYTECODE`` set, a fresh interpreter would recompile every module it
    imports from source (site-packages ship compiled bytecode; an editable checkout does not);
    a private ``PYTHONPYCACHEPREFIX`` gives every child warm caches without writing into the
    source tree.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


class Server:
    """``server.py`` in a subprocess on 127.0.0.1 with an ephemeral port."""

    def __init__(self, stream_sizes: Sequence[int], env: dict[str, str]) -> None:
        self.stream_sizes = stream_sizes
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Server:
        sizes = ",".join(str(s) for s in self.stream_sizes)
        cmd = [sys.executable, str(HERE / "server.py"), "--stream-sizes", sizes]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=self.env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------------------------
# In-process HTTP workloads


Op = Callable[[], Awaitable[Any]]


def workload_op(contender: Contender, workload: str, stream_tiles: int = 1000) -> Op:
    """One call of a named workload on ``contender``: ``get`` (the 90 KB dashboard),
    ``tiny`` (its sharing configuration), ``iter`` (every dashboard: ``iter()`` for the SDK,
    first page + gather for the others) or ``stream`` (``stream_tiles`` tiles)."""
    if workload == "get":
        return lambda: contender.get_dashboard(DETAIL_ID)
    if workload == "tiny":
        return lambda: contender.get_sharing(DETAIL_ID)
    if workload == "iter":
        if isinstance(contender, Sdk):
            return lambda: contender.list_iter(PAGE_SIZE)
        return lambda: contender.list_concurrent(PAGE_SIZE, LIST_CONCURRENCY)
    if workload == "stream":
        return lambda: contender.stream(stream_tiles, lambda: None)
    raise ValueError(f"unknown workload {workload!r}")


async def _run_concurrently(op: Op, total: int, workers: int) -> None:
    """``total`` calls of ``op`` spread over ``workers`` tasks (at most ``workers`` in flight)."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await op()

    share, extra = divmod(total, workers)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(workers)))


def _expect(got: object, want: object, what: str) -> None:
    if got != want:
        raise ContenderError(f"{what}: expected {want!r}, got {got!r}")


@dataclass
class Lane:
    """One contender prepared for an interleaved measurement."""

    contender: Contender
    op: Op
    per_slice: int  # calls of ``op`` per slice
    workers: int  # tasks calling ``op`` at once
    total: Interval = field(default_factory=Interval)
    calls: int = 0


async def interleave(
    lanes: dict[str, Lane],
    slices: int,
    rep: int,
    server_pid: int,
    on_error: Callable[[str, BaseException], None],
) -> dict[str, Lane]:
    """Run every lane's slices round-robin (rotating order) so that all lanes see the same
    background load; returns the lanes that completed.

    Every slice starts from a collected heap (untimed): a lane then pays the garbage
    collections its own allocations trigger, not a full collection that another lane's
    garbage made due (which, lanes allocating in a fixed rhythm, falls on the same lane rep
    after rep and shows as a swing of 20% between repetitions).
    """
    watch = Stopwatch(server_pid)
    alive = dict(lanes)
    for i in range(slices):
        for key in rotated(list(alive), rep + i):
            lane = alive[key]
            gc.collect()
            watch.start()
            try:
                await _run_concurrently(lane.op, lane.per_slice, lane.workers)
            except Exception as exc:
                on_error(key, exc)
                del alive[key]
                continue
            lane.total = lane.total + watch.stop()
            lane.calls += lane.per_slice
    return alive


async def open_lane(
    contender: Contender, op: Op, expected: object, concurrency: int, workers: int, per_slice: int
) -> Lane:
    """Open the contender's client (``concurrency`` connections at most), check one response
    and warm its connection pool up."""
    await contender.open(concurrency)
    try:
        _expect(await op(), expected, "warm-up response")
        await _run_concurrently(op, workers, workers)
    except BaseException:
        await contender.close()
        raise
    return Lane(contender, op, per_slice, workers)


# --------------------------------------------------------------------------------------------
# Out-of-process workloads: streams and imports


def measure_stream(
    key: str, url: str, dashboard_id: int, server_pid: int, env: dict[str, str]
) -> dict[str, float]:
    """One stream in a fresh ``stream_worker.py`` process; checks every tile arrived."""
    cmd = [
        sys.executable,
        str(HERE / "stream_worker.py"),
        *("--contender", key, "--base-url", url),
        *("--dashboard", str(dashboard_id), "--server-pid", str(server_pid)),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise ContenderError(f"stream worker failed: {tail[0]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    _expect(int(result["tiles"]), dashboard_id, "tiles streamed")
    return result


IMPORTS = {
    "base": "import aiohttp, msgspec",
    "c": "import httpx, pydantic",
    "s": "import posthog_dash_async",
}


def measure_import(statement: str, env: dict[str, str]) -> float:
    """Milliseconds to run ``statement`` in a fresh interpreter (bytecode caches warm)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise ContenderError(f"{statement!r} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return float(proc.stdout.strip()) * 1e3


# --------------------------------------------------------------------------------------------
# Decode-only


def decoders(sdk_ok: bool) -> dict[str, Callable[[bytes], Any]]:
    import pydantic_models as pm

    out: dict[str, Callable[[bytes], Any]] = {
        "a": json.loads,
        "b": fm.DASHBOARD_DECODER.decode,
        "c": pm.Dashboard.model_validate_json,
    }
    if sdk_ok:
        import posthog_dash_async as pda

        model = getattr(pda, "Dashboard", None)
        if model is not None:
            out[SDK] = lambda payload: msgspec.json.decode(payload, type=model)
    return out


def measure_decode(decode: Callable[[bytes], Any], payload: bytes, loops: int) -> Sample:
    decode(payload)
    start = time.perf_counter()
    for _ in range(loops):
        decode(payload)
    return Sample(value=(time.perf_counter() - start) / loops * 1e6)


# --------------------------------------------------------------------------------------------
# The run


class Bench:
    def __init__(self, cfg: Config, server: Server, sdk_ok: bool, env: dict[str, str]) -> None:
        self.cfg = cfg
        self.server = server
        self.sdk_ok = sdk_ok
        self.env = env
        self.harness_errors: list[str] = []
        s = [SDK] if sdk_ok else []
        self.get_rows = {
            c: Row(f"`get` 90 KB dashboard, c={c}", "req/s", ["a", "b", "c", *s])
            for c in cfg.get_requests
        }
        self.tiny = Row("tiny response (sharing, 250 B), c=16", "req/s", ["a", "b", "c", *s])
        list_labels = {
            "a:seq": "(a) sequential, follow `next`",
            "b:seq": "(b) sequential, follow `next`",
            "c:seq": "(c) sequential, follow `next`",
            "a:conc": "(a) first page + gather(19)",
            "b:conc": "(b) first page + gather(19) — floor",
            "c:conc": "(c) first page + gather(19)",
            f"{SDK}:iter": "(s) `dashboards.iter(page_size=100)`",
        }
        iter_key = [f"{SDK}:iter"] * sdk_ok
        self.listing = Row(
            "list 2,000 dashboards (20 pages of 100)",
            "ms",
            ["a:seq", "b:seq", "c:seq", "a:conc", "b:conc", "c:conc", *iter_key],
            floor="b:conc",
            cpu_unit="µs/page",
            labels=list_labels,
        )
        self.listing_slow = Row(
            "list 2,000 dashboards, 20 ms server time per page",
            "ms",
            ["b:seq", "b:conc", *iter_key],
            floor="b:conc",
            cpu_unit="µs/page",
            labels=list_labels,
        )
        small, big = cfg.stream_sizes
        streamers = ["a", "b", "c", "d", *s]
        self.stream_rate = {
            n: Row(f"`stream_tiles` {n:,} tiles × ~5 KB", "tiles/s", streamers, cpu_unit="µs/tile")
            for n in cfg.stream_sizes
        }
        self.ttfe = Row("time to first event", "ms", streamers, compare="diff")
        self.rss = {
            n: Row(f"peak RSS growth, {n:,} tiles", "MB", streamers, compare="diff")
            for n in cfg.stream_sizes
        }
        self.rss_delta = Row(
            f"peak RSS growth {small:,} → {big:,} tiles", "MB", streamers, compare="diff"
        )
        self.decode = Row("decode-only, 90 KB dashboard", "µs", ["a", "b", "c", *s])
        self.imports = Row(
            "import time",
            "ms",
            ["base", "c", *s],
            floor="base",
            labels={
                "base": "`import aiohttp, msgspec` — baseline",
                "c": "`import httpx, pydantic`",
                "s": "`import posthog_dash_async`",
            },
        )

    @property
    def rows(self) -> list[Row]:
        return [
            *self.get_rows.values(),
            self.tiny,
            self.listing,
            self.listing_slow,
            *self.stream_rate.values(),
            self.ttfe,
            *self.rss.values(),
            self.rss_delta,
            self.decode,
            self.imports,
        ]

    def _failed(self, row: Row, key: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        row.errors[key] = message
        if key.split(":")[0] != SDK:  # the peers and the floor must work: the harness broke
            self.harness_errors.append(f"{row.title} / {key}: {message}")
            traceback.print_exception(exc)
        print(f"    ! {row.title} / {row.label(key)}: {message}", file=sys.stderr)

    def _active(self, row: Row, rep: int) -> list[str]:
        return [k for k in rotated(row.contenders, rep) if k not in row.errors]

    async def _interleaved(
        self,
        row: Row,
        rep: int,
        make: Callable[[str, Contender], tuple[Op, object, int, int, int]],
        to_sample: Callable[[Lane], Sample],
        project_id: int = payloads.PROJECT_ID,
        slices: int | None = None,
    ) -> None:
        """Open a lane per active contender, run them interleaved, record one sample each.

        ``make(key, contender)`` gives the operation, its expected result, the client's
        concurrency limit, the number of tasks calling the operation and the calls per slice.
        ``slices``: how many slices the row is cut into (``cfg.slices`` by default).
        """
        lanes: dict[str, Lane] = {}
        try:
            for key in self._active(row, rep):
                contender = ALL[key.split(":")[0]](self.server.url, project_id)
                op, expected, conc, workers, per_slice = make(key, contender)
                try:
                    lanes[key] = await open_lane(contender, op, expected, conc, workers, per_slice)
                except Exception as exc:
                    self._failed(row, key, exc)
            gc.collect()
            done = await interleave(
                lanes,
                self.cfg.slices if slices is None else slices,
                rep,
                self.server.pid,
                lambda key, exc: self._failed(row, key, exc),
            )
            for key, lane in done.items():
                row.add(key, to_sample(lane))
        finally:
            for lane in lanes.values():
                await lane.contender.close()

    @staticmethod
    def _rate_sample(lane: Lane) -> Sample:
        t = lane.total
        return Sample(
            value=lane.calls / t.wall,
            cpu_us=t.client_cpu / lane.calls * 1e6,
            server_share=t.server_share,
            other_share=t.other_share,
        )

    @staticmethod
    def _listing_sample(lane: Lane) -> Sample:
        t = lane.total
        pages = lane.calls * -(-payloads.LIST_DASHBOARD_COUNT // PAGE_SIZE)
        return Sample(
            value=t.wall / lane.calls * 1e3,
            cpu_us=t.client_cpu / pages * 1e6,
            server_share=t.server_share,
            other_share=t.other_share,
        )

    def _slices(self, total: int, workers: int) -> int:
        """Slices for a row of ``total`` calls by ``workers`` tasks: as many as the config
        asks, but no fewer than two calls per worker in a slice, so that every slice runs
        at the row's concurrency rather than ramping up and down."""
        return max(1, min(self.cfg.slices, total // (2 * workers)))

    def _per_slice(self, key: str, total: int, slices: int) -> int:
        return max(1, round(total * SLOW_SHARE.get(key, 1.0) / slices))

    async def http_workloads(self, rep: int) -> None:
        for conc, total in self.cfg.get_requests.items():
            slices = self._slices(total, conc)

            def get(
                key: str, c: Contender, conc: int = conc, total: int = total, slices: int = slices
            ) -> Any:
                op = lambda: c.get_dashboard(DETAIL_ID)  # noqa: E731
                per_slice = self._per_slice(key, total, slices)
                return op, payloads.DETAIL_TILE_COUNT, conc, conc, per_slice

            await self._interleaved(self.get_rows[conc], rep, get, self._rate_sample, slices=slices)

        tiny_slices = self._slices(self.cfg.tiny_requests, 16)

        def tiny(key: str, c: Contender) -> Any:
            op = lambda: c.get_sharing(DETAIL_ID)  # noqa: E731
            return op, True, 16, 16, self._per_slice(key, self.cfg.tiny_requests, tiny_slices)

        await self._interleaved(self.tiny, rep, tiny, self._rate_sample, slices=tiny_slices)

        def listing(key: str, c: Contender) -> Any:
            mode = key.split(":")[1]
            if mode == "seq":
                op: Op = lambda: c.list_sequential(PAGE_SIZE)  # noqa: E731
            elif mode == "conc":
                op = lambda: c.list_concurrent(PAGE_SIZE, LIST_CONCURRENCY)  # noqa: E731
            else:
                assert isinstance(c, Sdk)
                op = lambda: c.list_iter(PAGE_SIZE)  # noqa: E731
            return op, payloads.LIST_DASHBOARD_COUNT, LIST_CONCURRENCY, 1, 1

        await self._interleaved(self.listing, rep, listing, self._listing_sample)
        # 20 ms of server time per page makes these listings slow and steady (their spread is
        # a few percent at five slices): more slices would only lengthen the run.
        await self._interleaved(
            self.listing_slow,
            rep,
            listing,
            self._listing_sample,
            payloads.SLOW_PROJECT_ID,
            slices=min(self.cfg.slices, SLOW_LISTING_SLICES),
        )

    def stream_workloads(self, rep: int) -> None:
        small, big = self.cfg.stream_sizes
        stream_rows = (*self.stream_rate.values(), self.ttfe, *self.rss.values(), self.rss_delta)
        for key in self._active(self.ttfe, rep):
            results: dict[int, dict[str, float]] = {}
            try:
                for n in self.cfg.stream_sizes:
                    results[n] = measure_stream(key, self.server.url, n, self.server.pid, self.env)
            except Exception as exc:
                for row in stream_rows:
                    self._failed(row, key, exc)
                continue
            for n, r in results.items():
                self.stream_rate[n].add(
                    key,
                    Sample(
                        value=n / r["wall"],
                        cpu_us=r["client_cpu"] / n * 1e6,
                        server_share=r["server_share"],
                        other_share=r["other_share"],
                    ),
                )
                self.rss[n].add(key, Sample(value=r["rss_growth"] / 2**20))
            ttfe = statistics.mean(r["ttfe"] for r in results.values())
            self.ttfe.add(key, Sample(value=ttfe * 1e3))
            growth = (results[big]["rss_growth"] - results[small]["rss_growth"]) / 2**20
            self.rss_delta.add(key, Sample(value=growth))

    def decode_workload(
        self, rep: int, payload: bytes, funcs: dict[str, Callable[[bytes], Any]]
    ) -> None:
        for key in self._active(self.decode, rep):
            if key not in funcs:
                self.decode.errors[key] = "pda.Dashboard is not exported"
                continue
            try:
                self.decode.add(key, measure_decode(funcs[key], payload, self.cfg.decode_loops))
            except Exception as exc:
                self._failed(self.decode, key, exc)

    def import_workload(self, rep: int, runs: int) -> None:
        for _ in range(runs):
            for key in self._active(self.imports, rep):
                try:
                    self.imports.add(key, Sample(value=measure_import(IMPORTS[key], self.env)))
                except Exception as exc:
                    self._failed(self.imports, key, exc)

    def run(self) -> None:
        payload = msgspec.json.encode(payloads.detail_dashboard())
        funcs = decoders(self.sdk_ok)
        for key, statement in IMPORTS.items():  # fill the bytecode cache, untimed
            if key != SDK or self.sdk_ok:
                measure_import(statement, self.env)
        for rep in range(self.cfg.reps):
            t0 = time.perf_counter()
            print(f"repetition {rep + 1}/{self.cfg.reps}: HTTP workloads", file=sys.stderr)
            asyncio.run(self.http_workloads(rep))
            t1 = time.perf_counter()
            print(f"repetition {rep + 1}/{self.cfg.reps}: streams", file=sys.stderr)
            self.stream_workloads(rep)
            t2 = time.perf_counter()
            self.decode_workload(rep, payload, funcs)
            self.import_workload(rep, runs=2 if self.cfg.reps < 4 else 1)
            print(
                f"repetition {rep + 1} took {time.perf_counter() - t0:.1f} s "
                f"(HTTP {t1 - t0:.1f} s, streams {t2 - t1:.1f} s)",
                file=sys.stderr,
            )


# --------------------------------------------------------------------------------------------
# Targets


@dataclass
class Target:
    text: str
    measured: str
    status: str  # PASS / MISS / SKIP


def _median(vals: list[float]) -> float | None:
    return statistics.median(vals) if vals else None


def targets(b: Bench) -> list[Target]:
    out: list[Target] = []

    def add(text: str, vals: list[float], fmt: str, ok: Callable[[float], bool]) -> None:
        m = _median(vals)
        if not b.sdk_ok or m is None:
            out.append(Target(text, "—", "SKIP"))
        else:
            out.append(Target(text, fmt.format(m), "PASS" if ok(m) else "MISS"))

    small, big = b.cfg.stream_sizes
    for conc in (16, 64):
        if conc in b.get_rows:
            add(
                f"`get` req/s ≥ 0.95× floor at c={conc}",
                b.get_rows[conc].paired(SDK, FLOOR),
                "{:.2f}×",
                lambda r: r >= 0.95,
            )
    add(
        "tiny response req/s ≥ 0.95× floor at c=16",
        b.tiny.paired(SDK, FLOOR),
        "{:.2f}×",
        lambda r: r >= 0.95,
    )
    add(
        "tiny response client CPU/request ≤ 1.1× floor",
        b.tiny.paired(SDK, FLOOR, "cpu_us"),
        "{:.2f}×",
        lambda r: r <= 1.1,
    )
    for row, where in ((b.listing, "loopback"), (b.listing_slow, "20 ms/page")):
        add(
            f"`iter()` time ≤ 1.1× floor's concurrent page fetch ({where})",
            row.paired(f"{SDK}:iter", "b:conc"),
            "{:.2f}×",
            lambda r: r <= 1.1,
        )
        add(
            f"`iter()` ≥ 1.5× faster than sequential paging of the floor ({where})",
            row.paired("b:seq", f"{SDK}:iter"),
            "{:.2f}×",
            lambda r: r >= 1.5,
        )
    add(
        f"stream tiles/s ≥ 0.95× floor ({big:,} tiles)",
        b.stream_rate[big].paired(SDK, FLOOR),
        "{:.2f}×",
        lambda r: r >= 0.95,
    )
    add(
        f"stream tiles/s ≥ 1.3× aiohttp-sse-client ({big:,} tiles)",
        b.stream_rate[big].paired(SDK, "d"),
        "{:.2f}×",
        lambda r: r >= 1.3,
    )
    add(
        "time to first event ≤ floor + 0.5 ms",
        b.ttfe.paired(SDK, FLOOR),
        "{:+.2f} ms",
        lambda d: d <= 0.5,
    )
    add(
        f"peak RSS growth {small:,} → {big:,} tiles < 5 MB",
        b.rss_delta.values(SDK),
        "{:.2f} MB",
        lambda m: m < 5,
    )
    if 16 in b.get_rows:
        add(
            "`get` req/s ≥ 5× httpx + pydantic at c=16",
            b.get_rows[16].paired(SDK, "c"),
            "{:.2f}×",
            lambda r: r >= 5,
        )
    add(
        "import time ≤ 1.3× `import aiohttp, msgspec`",
        b.imports.paired(SDK, "base"),
        "{:.2f}×",
        lambda r: r <= 1.3,
    )
    return out


# --------------------------------------------------------------------------------------------
# Report


def _num(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _versions() -> str:
    names = ["aiohttp", "msgspec", "httpx", "pydantic", "aiohttp-sse-client"]
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} (absent)")
    return ", ".join(parts)


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- {_versions()}",
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def _share(samples: list[Sample], attr: str, scale: str) -> str:
    vals = [getattr(s, attr) for s in samples if getattr(s, attr) is not None]
    if not vals:
        return ""
    m = statistics.median(vals)
    return f"{m:.0%}" if scale == "%" else f"{m:.2f}"


def row_lines(row: Row) -> list[str]:
    lines = []
    for key in row.contenders:
        label = row.label(key)
        if key in row.errors and not row.values(key):
            lines.append(f"| {row.title} | {label} | error: {row.errors[key][:90]} | | | | |")
            continue
        med = row.median(key)
        if med is None:
            continue
        if key == row.floor:
            rel = "floor"
        else:
            pairs = row.paired(key, row.floor)
            if not pairs:
                rel = "—"
            elif row.compare == "diff":
                rel = f"{statistics.median(pairs):+.2f} [{min(pairs):+.2f}, {max(pairs):+.2f}]"
            else:
                rel = f"{statistics.median(pairs):.2f}× [{min(pairs):.2f}–{max(pairs):.2f}]"
        samples = row.samples[key]
        cpus = [s.cpu_us for s in samples if s.cpu_us is not None]
        cpu = ""
        if cpus:
            cpu = f"{_num(statistics.median(cpus))} {row.cpu_unit}"
            ratios = row.paired(key, row.floor, "cpu_us")
            if key != row.floor and ratios:
                cpu += f" ({statistics.median(ratios):.2f}×)"
        srv = _share(samples, "server_share", "%")
        other = _share(samples, "other_share", "cores")
        lines.append(
            f"| {row.title} | {label} | {_num(med)} {row.unit} | {rel} | {cpu} | {srv} | {other} |"
        )
    return lines


def report(b: Bench, mode: str, skipped: str | None, elapsed: float, load: str) -> str:
    out = [
        "# posthog_dash_async benchmark results",
        "",
        f"Produced by `python benchmarks/run.py{' --quick' if mode == 'quick' else ''}` "
        f"({mode} mode, {b.cfg.reps} repetitions, {elapsed:.0f} s).",
        "",
        *machine(),
        f"- load average before / after the run: {load}",
        "",
        "Medians over repetitions. *vs floor* is the median of the per-repetition ratios to the "
        "floor, (b) raw aiohttp + msgspec, with their range; for time to first event and RSS it "
        "is the difference to the floor in the row's unit. *Client CPU* is "
        "`time.process_time()` of the client process per operation (× floor). *Server CPU* is "
        "the server process's CPU time over the measured interval divided by wall time "
        "(100% = its one core saturated). *Other load* is the CPU used meanwhile by every other "
        "process on the machine, in cores (from `/proc/stat`): anything well above 0 means the "
        "figures were taken on a busy machine.",
        "",
    ]
    if skipped:
        out += [f"**SDK skipped:** {skipped}", ""]
    out += [
        "| Workload | Contender | Median | vs floor | Client CPU | Server CPU | Other load |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in b.rows:
        out += row_lines(row)
    out += ["", "## Targets", "", "| Target | Measured | Result |", "|---|---|---|"]
    out += [f"| {t.text} | {t.measured} | {t.status} |" for t in targets(b)]
    if b.harness_errors:
        out += ["", "## Harness errors", ""] + [f"- {e}" for e in b.harness_errors]
    return "\n".join(out) + "\n"


README_START = "<!-- performance-table: generated by benchmarks/run.py --readme -->"
README_END = "<!-- /performance-table -->"


def _commit() -> str:
    """The commit measured, with ``+changes`` when the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "posthog_dash_async"],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"`{head}`" + (" with uncommitted changes to the package" if dirty else "")


def readme_block(b: Bench, load: str) -> list[str]:
    """The README's performance table: the targets of this run, as measured."""
    others = [
        s.other_share
        for row in b.rows
        for v in row.samples.values()
        for s in v
        if s.other_share is not None
    ]
    busy = statistics.median(others) if others else 0.0
    lines = [
        f"Measured on commit {_commit()} by `python benchmarks/run.py --readme` "
        f"({b.cfg.reps} repetitions, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC) "
        f"on a shared {os.cpu_count()}-core machine: the other processes used a median of "
        f"{busy:.2f} cores meanwhile (load average {load}), so ratios carry that noise.",
        "",
        "| target | measured | result |",
        "|---|---|---|",
    ]
    for t in targets(b):
        lines.append(f"| {t.text} | {t.measured} | {t.status} |")
    return lines


def write_readme(
    body: list[str], readme: Path, first: str = README_START, last: str = README_END
) -> None:
    """Replace what stands between the README's lines ``first`` and ``last`` with ``body``."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(first), text.find(last)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {first!r} ... {last!r} block")
    block = "\n".join([first, "", *body, "", last])
    text = text[:start] + block + text[end + len(last) :]
    readme.write_text(text, encoding="utf-8")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts; checks the harness")
    parser.add_argument("--reps", type=int, help="override the number of repetitions")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the table (default: benchmarks/RESULTS.md "
        "for a full run; a --quick run writes nothing unless this is given)",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also replace the performance table in README.md with this run's targets",
    )
    args = parser.parse_args(argv)
    cfg = Config.quick() if args.quick else Config.full()
    if args.reps:
        cfg = Config(**{**cfg.__dict__, "reps": args.reps})
    skipped = sdk_status()
    if skipped:
        print(f"NOTE: skipping contender (s), the SDK: {skipped}", file=sys.stderr)
    started = time.perf_counter()
    load_before = _loadavg()
    with tempfile.TemporaryDirectory(prefix="pda-bench-pycache-") as pycache:
        env = child_env(Path(pycache))
        with Server(cfg.stream_sizes, env) as server:
            print(f"server pid {server.pid} at {server.url}", file=sys.stderr)
            bench = Bench(cfg, server, sdk_ok=skipped is None, env=env)
            bench.run()
    load = f"{load_before} / {_loadavg()}"
    mode = "quick" if args.quick else "full"
    text = report(bench, mode, skipped, time.perf_counter() - started, load)
    print(text)
    output = args.output or (None if args.quick else HERE / "RESULTS.md")
    if output is not None:
        output.write_text(text, encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    if args.readme:
        write_readme(readme_block(bench, load), HERE.parent / "README.md")
        print("README.md performance table replaced", file=sys.stderr)
    if bench.harness_errors:
        print(f"harness errors: {len(bench.harness_errors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
