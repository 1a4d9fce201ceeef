"""Soak: 10,000 requests through one client while the server fails in every way it can and
callers cancel at random. Afterwards nothing may be left behind: no acquired connection, no
held permit, no limiter slot in flight, no pending task, no warning."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
import warnings
from collections import Counter

import aiohttp
import pytest
from _loopback import Loopback, client, reset
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async._limiter import SlidingWindowLimiter
from posthog_dash_async._retry import RetryPolicy

REQUESTS = 10_000
BATCH = 250
CONCURRENCY = 8
BODY = b'{"id":1,"name":"soak","tiles":[]}'


class FaultyServer:
    """Answers 200 most of the time; otherwise a 5xx burst, a reset before any byte, a
    body cut short, a body sent in two parts, a body that stalls half-way, or a delay that
    gives cancellations something to interrupt."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.burst = 0
        self.release = asyncio.Event()
        self.seen: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        roll = self.rng.random()
        if self.burst == 0 and roll < 0.01:
            self.burst = self.rng.randint(5, 30)
        if self.burst > 0:
            self.burst -= 1
            self.seen["5xx"] += 1
            status = self.rng.choice((500, 502, 503, 504))
            return web.Response(status=status, body=b"{}", content_type="application/json")
        if roll < 0.06:
            self.seen["reset"] += 1
            return await reset(request)
        if roll < 0.08:
            self.seen["truncated"] += 1
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b'{"id":')
            assert request.transport is not None
            request.transport.close()
            return response
        if roll < 0.13:
            # The body in two parts: a cancellation in between leaves it unfinished, so the
            # connection is only given back if the client releases the response.
            self.seen["trickle"] += 1
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = len(BODY)
            await response.prepare(request)
            await response.write(BODY[:10])
            await asyncio.sleep(self.rng.uniform(0.001, 0.004))
            await response.write(BODY[10:])
            await response.write_eof()
            return response
        if roll < 0.15:
            # A body that stops half-way until the test ends: the client's read timeout or a
            # cancellation must close the connection, or it stays acquired for good.
            self.seen["stall"] += 1
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = len(BODY)
            await response.prepare(request)
            await response.write(BODY[:10])
            await self.release.wait()
            return response
        if roll < 0.22:
            self.seen["slow"] += 1
            await asyncio.sleep(self.rng.uniform(0.001, 0.005))
        self.seen["ok"] += 1
        return web.Response(body=BODY, content_type="application/json")


@pytest.mark.parametrize("how", ["cancel", "read timeout"])
async def test_a_request_abandoned_mid_body_gives_its_connection_back(how: str) -> None:
    server = FaultyServer(seed=0)
    body_started = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(BODY)
        await response.prepare(request)
        await response.write(BODY[:10])
        body_started.set()
        await server.release.wait()
        return response

    caught: list[BaseException] = []
    async with Loopback(stall) as srv:
        timeout = pda.Timeout(read=0.1 if how == "read timeout" else 10.0)
        async with client(srv.url, max_concurrency=2, timeout=timeout) as ph:

            async def call() -> None:
                try:
                    await ph.request("GET", "dashboards/1/")
                except BaseException as exc:
                    # Holding the exception holds every frame it passed through, so a
                    # forgotten response stays referenced instead of being finalized.
                    caught.append(exc)
                    raise

            task = asyncio.create_task(call())
            try:
                await body_started.wait()
                # Let the client take in the status line and headers and start on the body.
                await asyncio.sleep(0.05)
                if how == "cancel":
                    task.cancel()
                with pytest.raises((asyncio.CancelledError, pda.APITimeoutError)):
                    await task
                session = ph._transport._session
                assert session is not None
                assert session.connector is not None
                assert len(session.connector._acquired) == 0
                assert ph._semaphore is not None
                assert ph._semaphore._value == 2
            finally:
                server.release.set()
    assert len(caught) == 1


async def drive(ph: pda.AsyncPostHog, rng: random.Random, keep: list[object]) -> Counter[str]:
    """Send REQUESTS requests in batches, cancelling one in ten at a random moment.

    Every result goes into ``keep``: an exception's traceback keeps the frames it passed
    through alive, so a response that the client forgot to release cannot be released by
    its finalizer before the leak checks run.
    """
    loop = asyncio.get_running_loop()
    outcomes: Counter[str] = Counter()
    for _ in range(REQUESTS // BATCH):
        tasks = []
        for _ in range(BATCH):
            if rng.random() < 0.8:
                coro = ph.request("GET", "dashboards/1/")
            else:
                coro = ph.request("POST", "dashboards/", json={"name": "soak"})
            task = asyncio.ensure_future(coro)
            if rng.random() < 0.1:
                # Anywhere: waiting for a permit, in flight, or in a retry wait.
                loop.call_later(rng.uniform(0.0, 0.01), task.cancel)
            tasks.append(task)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        keep.extend(results)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                outcomes["cancelled"] += 1
            elif isinstance(result, pda.APIStatusError):
                outcomes["status error"] += 1
            elif isinstance(result, pda.APIConnectionError):
                assert isinstance(result.__cause__, (aiohttp.ClientError, OSError))
                outcomes["connection error"] += 1
            elif isinstance(result, BaseException):
                raise result
            else:
                assert result == {"id": 1, "name": "soak", "tiles": []}
                outcomes["ok"] += 1
    return outcomes


@pytest.mark.soak
async def test_no_leaks_after_10000_requests_with_faults_and_cancellations(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    server = FaultyServer(seed=99)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Loopback(server.handle) as srv:
            ph = client(srv.url, max_concurrency=CONCURRENCY, timeout=pda.Timeout(read=0.05))
            ph._retry = RetryPolicy(max_retries=2, base_delay=0.0005, max_delay=0.002)
            # A limiter that never has to wait, so that every begin() must meet its end()
            # however the request finished.
            ph._limiter = SlidingWindowLimiter([(3600.0, 10**9)])
            results: list[object] = []
            try:
                outcomes = await drive(ph, random.Random(4242), results)
                session = ph._transport._session
                assert session is not None
                connector = session.connector
                assert connector is not None
                assert len(connector._acquired) == 0
                assert ph._semaphore is not None
                assert ph._semaphore._value == CONCURRENCY
                assert not ph._semaphore._waiters
                assert ph._limiter.in_flight == 0
            finally:
                await ph.aclose()
                server.release.set()
            assert session.closed
        # The server is shut down and the client closed: only this test's task remains.
        await asyncio.sleep(0)
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert pending == []
        del ph, session, connector, results
        gc.collect()
    elapsed = time.perf_counter() - started

    assert sum(outcomes.values()) == REQUESTS
    # Every kind of fault and outcome really happened.
    assert min(server.seen.values()) > 50
    assert outcomes["ok"] > REQUESTS // 2
    assert outcomes["cancelled"] > 100
    assert outcomes["status error"] > 10
    assert outcomes["connection error"] > 10
    assert [str(w.message) for w in caught] == []
    problems = [r.getMessage() for r in caplog.records if r.name.startswith(("asyncio", "posthog"))]
    assert problems == []
    print(f"soak: {REQUESTS} requests in {elapsed:.1f} s: {dict(outcomes)}")
