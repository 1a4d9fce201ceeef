"""One rate budget across processes: ``RateLimit(redis_url=...)`` against a real redis-server.

A fixture starts ``redis-server`` (the Debian package; ``.ci/run`` installs it) on 127.0.0.1
on a free port and stops it afterwards. The main test runs four worker processes with one
key against a FakePostHog whose per-key throttle allows 8 requests per window: with the
shared budget nobody is throttled, without it the workers are.

To keep the test to seconds, the throttle window is one second: the fake's clock runs 60
times faster (its 60 s window lasts 1 s) and the workers' limiters use a 1 s window.

Run as ``python tests/test_redis_budget.py worker ...`` this file is one such worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import posthog_dash_async as pda
from posthog_dash_async._coalesce import credential_digest
from posthog_dash_async._limiter import make_limiter
from posthog_dash_async.testing import FakePostHog

LIMIT = 8  # requests per window, for the fake's throttle and the workers' budget
SPAN = 1.0  # seconds per window
WORKERS = 4
PER_WORKER = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_redis(workdir: Path, *options: str) -> Iterator[str]:
    """A redis-server on a free loopback port (with ``options`` on its command line) for
    the block; yields its URL."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *options,
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    # "+PONG", or "-NOAUTH" from a server that wants a password: it is up.
                    if sock.recv(16)[:1] in (b"+", b"-"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def fast_fake(**options: object) -> FakePostHog:
    """A fake whose 60 s throttle window lasts SPAN seconds."""
    scale = 60.0 / SPAN
    return FakePostHog(
        burst_limit=LIMIT,
        sustained_limit=None,
        timer=lambda: time.monotonic() * scale,
        **options,  # type: ignore[arg-type]
    )


async def _worker(host: str, key: str, redis_url: str, count: int) -> dict[str, int]:
    rate = pda.RateLimit(
        per_minute=LIMIT, per_hour=None, redis_url=redis_url if redis_url != "-" else None
    )
    async with pda.AsyncPostHog(
        api_key=key, host=host, project_id=42, rate_limit=rate, max_retries=0, coalesce=False
    ) as ph:
        # The same budget with a window of SPAN seconds instead of a minute.
        assert ph._limiter is not None
        await ph._limiter.aclose()
        ph._limiter = make_limiter(rate, digest=credential_digest(key), windows=[(SPAN, LIMIT)])
        outcomes = await asyncio.gather(
            *(ph.dashboards.get(412) for _ in range(count)), return_exceptions=True
        )
    ok = sum(isinstance(o, pda.Dashboard) for o in outcomes)
    throttled = sum(isinstance(o, pda.RateLimitError) for o in outcomes)
    return {"ok": ok, "throttled": throttled, "other": len(outcomes) - ok - throttled}


async def run_workers(server: FakePostHog, redis_url: str | None) -> list[dict[str, int]]:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "worker",
            server.url,
            server.api_key,
            redis_url or "-",
            str(PER_WORKER),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(WORKERS)
    ]
    results = []
    for proc in procs:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def most_in_one_window(server: FakePostHog) -> int:
    """The most requests the fake received within any one throttle window."""
    window = 60.0  # in the fake's (accelerated) clock
    times = sorted(r.started_at for r in server.requests)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_four_processes_share_one_budget_and_none_is_throttled(redis_url: str) -> None:
    async with fast_fake() as server:
        results = await run_workers(server, redis_url)
        assert sum(r["ok"] for r in results) == WORKERS * PER_WORKER
        assert sum(r["throttled"] for r in results) == 0
        assert [r.status for r in server.requests].count(429) == 0
        # The budget was used to the full: some window held LIMIT requests.
        assert most_in_one_window(server) >= LIMIT


async def test_without_the_shared_budget_the_processes_are_throttled(redis_url: str) -> None:
    async with fast_fake() as server:
        results = await run_workers(server, None)
        throttled = sum(r["throttled"] for r in results)
        assert throttled > 0
        assert [r.status for r in server.requests].count(429) == throttled


async def test_redis_holds_a_digest_of_the_key_never_the_key(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async with fast_fake() as server:
        rate = pda.RateLimit(per_minute=100, per_hour=1000, redis_url=redis_url)
        async with pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=42, rate_limit=rate
        ) as ph:
            await ph.dashboards.get(412)
            await ph.dashboards.list()
        db = aioredis.from_url(redis_url)
        try:
            keys = [k.decode() for k in await db.keys("*")]
            digest = credential_digest(server.api_key)
            ours = [k for k in keys if digest in k]
            assert ours
            dump = b""
            for k in keys:
                dump += k.encode()
                for member, _score in await db.zrange(k, 0, -1, withscores=True):
                    dump += member
            assert server.api_key.encode() not in dump
            prefix = f"posthog-dash-async:{{{digest}}}"
            assert await db.zcard(f"{prefix}:done") == 2  # both requests, finished
            assert await db.zcard(f"{prefix}:flight") == 0  # none in flight
        finally:
            await db.aclose()


async def test_unreachable_redis_falls_back_to_the_local_limiter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://:s3cretpass@127.0.0.1:{free_port()}/0"
    rate = pda.RateLimit(per_minute=100, per_hour=None, redis_url=url)
    caplog.set_level(logging.WARNING, logger="posthog_dash_async")
    async with (
        FakePostHog() as server,
        pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=42, rate_limit=rate
        ) as ph,
    ):
        assert (await ph.dashboards.get(412)).id == 412
        assert (await ph.dashboards.get(415)).id == 415
        assert ph._limiter is not None
        assert ph._limiter.using_fallback  # type: ignore[attr-defined]
        assert ph._limiter.in_flight == 0
    warnings = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1  # said once per outage, not once per request
    assert "unreachable" in warnings[0]
    assert "per-process limiter" in warnings[0]
    assert "127.0.0.1" in warnings[0]
    assert "s3cretpass" not in caplog.text


async def test_unreachable_redis_refuses_when_configured() -> None:
    url = f"redis://:s3cretpass@127.0.0.1:{free_port()}/0"
    rate = pda.RateLimit(per_minute=100, redis_url=url, redis_fallback="refuse")
    async with (
        FakePostHog() as server,
        pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=42, rate_limit=rate
        ) as ph,
    ):
        with pytest.raises(pda.RateLimiterUnavailableError) as caught:
            await ph.dashboards.get(412)
        assert server.requests == []  # nothing was sent
        assert isinstance(caught.value, pda.PostHogError)
        assert "nothing was sent" in str(caught.value)
        assert "s3cretpass" not in str(caught.value)
        assert "s3cretpass" not in repr(pickle.loads(pickle.dumps(caught.value)).__dict__)
        assert ph._limiter is not None
        assert ph._limiter.in_flight == 0


def test_rate_limit_redis_options_are_checked() -> None:
    with pytest.raises(pda.InvalidArgumentError, match="redis_url"):
        pda.RateLimit(redis_url="http://127.0.0.1:6379")
    with pytest.raises(pda.InvalidArgumentError, match="redis_url"):
        pda.RateLimit(redis_url="")
    with pytest.raises(pda.InvalidArgumentError, match="redis_fallback"):
        pda.RateLimit(redis_url="redis://127.0.0.1", redis_fallback="ignore")  # type: ignore[arg-type]
    shown = repr(pda.RateLimit(redis_url="redis://:hunter22@127.0.0.1:6379/0"))
    assert "hunter22" not in shown


def test_a_missing_redis_package_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(pda.InvalidArgumentError, match=r"posthog-dash-async\[redis\]"):
        pda.AsyncPostHog(
            api_key="phx_x", rate_limit=pda.RateLimit(redis_url="redis://127.0.0.1:6379/0")
        )


def test_redis_is_imported_only_when_used() -> None:
    code = (
        "import sys, posthog_dash_async as pda\n"
        "pda.AsyncPostHog(api_key='phx_x')\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    host, key, redis, count = sys.argv[2:6]
    print(json.dumps(asyncio.run(_worker(host, key, redis, int(count)))))
