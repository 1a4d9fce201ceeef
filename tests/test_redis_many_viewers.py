"""``examples/many_viewers.py`` as a user runs it: workers sharing one budget through a real
redis-server, relaying shared tile streams to several SSE clients at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
from test_redis_budget import free_port, redis_url  # noqa: F401 - the fixture

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "many_viewers.py"


def sse_events(body: str) -> list[dict[str, Any]]:
    return [
        json.loads(block[len("data: ") :])
        for block in body.split("\n\n")
        if block.startswith("data: ")
    ]


async def test_many_viewers_example_serves_shared_streams_on_one_budget(
    redis_url: str,  # noqa: F811
) -> None:
    import redis.asyncio as aioredis

    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("POSTHOG_HOST", "POSTHOG_PERSONAL_API_KEY", "POSTHOG_PROJECT_ID")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        *("--workers", "2", "--port", str(port), "--redis-url", redis_url),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert f"http://127.0.0.1:{port}/ with 2 workers" in banner
        assert "one budget in Redis" in banner
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # the workers bind the port a moment after the banner
                try:
                    async with session.get(f"{base}/worker") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)

            async def watch() -> tuple[str, list[dict[str, Any]]]:
                async with session.get(f"{base}/dashboards/412/stream") as resp:
                    assert resp.status == 200
                    assert resp.headers["Content-Type"].startswith("text/event-stream")
                    return resp.headers["X-Worker"], sse_events(await resp.text())

            watched = await asyncio.gather(*(watch() for _ in range(6)))
            for _worker, events in watched:
                assert events[0]["type"] == "metadata"
                assert events[-1]["type"] == "complete"
                assert events[-1]["fallback_used"] is False  # a real stream, relayed
            # Every viewer saw the same events (two workers' streams may differ in
            # timestamps such as last_accessed_at, not in what they carry).
            shapes = {
                json.dumps([(e["type"], e.get("tile", {}).get("id")) for e in events])
                for _, events in watched
            }
            assert len(shapes) == 1

            async with session.get(f"{base}/dashboards/412") as resp:
                assert resp.status == 200
                assert (await resp.json())["id"] == 412
            async with session.get(f"{base}/") as resp:
                assert "EventSource" in await resp.text()
        # The workers counted their requests in one shared budget, under a digest of the key.
        db = aioredis.from_url(redis_url)
        try:
            done = [k for k in await db.keys("posthog-dash-async:*:done")]
            assert done
            assert sum([await db.zcard(k) for k in done]) >= 1
        finally:
            await db.aclose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0
