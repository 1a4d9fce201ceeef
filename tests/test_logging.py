"""Logging under ``posthog_dash_async``: request lines and statuses at DEBUG, retries and waits
at INFO, and the API key nowhere, whatever path it tries to take into a record."""

from __future__ import annotations

import logging

import pytest
from _loopback import (
    KEY,
    THROTTLED,
    Loopback,
    RecordingSleep,
    answer,
    client,
    closed_port,
    reset,
    scripted,
)
from aiohttp import web

import posthog_dash_async as pda
from posthog_dash_async._limiter import SlidingWindowLimiter

LOGGER = "posthog_dash_async"


def records_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the records could show: formatted message, raw args, exception text."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


async def test_request_lines_at_debug_and_retries_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = scripted(answer(503, b""), answer(200, b"{}"))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = RecordingSleep()
        await ph.request("GET", "dashboards/", params={"limit": 5})
    ours = [r for r in caplog.records if r.name == LOGGER]
    debug = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    info = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    url = f"{srv.url}/api/projects/1/dashboards/"
    assert any(m.startswith(f"GET {url} -> 503 ") for m in debug)
    assert any(m.startswith(f"GET {url} -> 200 ") for m in debug)
    assert len(info) == 1
    assert info[0].startswith(f"retrying GET {url} in ")
    assert "attempt 2 of 3" in info[0]
    assert info[0].endswith("after status 503")


async def test_transport_failures_are_logged_with_their_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    # Two resets: aiohttp itself repeats a GET once on a dropped connection.
    handler = scripted(reset, reset, answer(200, b"{}"))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = RecordingSleep()
        await ph.request("GET", "dashboards/")
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("-> ServerDisconnectedError" in m for m in messages)
    assert any(m.startswith("retrying GET") and "ServerDisconnectedError" in m for m in messages)


async def test_rate_limiter_waits_are_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with Loopback(answer(200, b"{}")) as srv, client(srv.url) as ph:
        ph._limiter = SlidingWindowLimiter([(0.15, 1)])
        await ph.request("GET", "dashboards/")
        await ph.request("GET", "dashboards/")
    waits = [r for r in caplog.records if "rate limiter: waited" in r.getMessage()]
    assert len(waits) == 1
    assert waits[0].levelno == logging.INFO


async def test_nothing_is_logged_below_the_configured_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with Loopback(answer(200, b"{}")) as srv, client(srv.url) as ph:
        await ph.request("GET", "dashboards/")
    assert [r for r in caplog.records if r.name == LOGGER] == []


async def test_the_key_never_appears_in_any_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoed = f'{{"type":"validation_error","code":"invalid","detail":"bad key {KEY}"}}'.encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        # The server sees the key (header and query) and echoes it back in error bodies.
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        if request.path.endswith("/echo/"):
            return web.Response(status=400, body=echoed, content_type="application/json")
        if request.path.endswith("/busy/"):
            return web.Response(status=503, body=echoed, content_type="application/json")
        if request.path.endswith("/throttled/"):
            return web.Response(status=429, body=THROTTLED, content_type="application/json")
        if request.path.endswith("/drop/"):
            return await reset(request)
        return web.Response(body=echoed, content_type="application/json")

    errors: list[BaseException] = []
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = RecordingSleep()
        ph._limiter = SlidingWindowLimiter([(0.05, 1)])
        calls = [
            ph.request("GET", f"dashboards/?personal_api_key={KEY}"),
            ph.request("GET", f"/api/{KEY}/echo/"),
            ph.request("GET", "busy/", params={"token": KEY}),
            ph.request("POST", f"throttled/?key={KEY}", json={"key": KEY}),
            ph.request("GET", f"drop/?key={KEY}"),
            ph.dashboards.get(1),
        ]
        for call in calls:
            try:
                await call
            except pda.PostHogError as exc:
                errors.append(exc)
    async with client(f"http://127.0.0.1:{closed_port()}", max_retries=1) as ph:
        ph._sleep = RecordingSleep()
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.request("GET", f"dashboards/?key={KEY}")
        errors.append(info.value)

    text = records_text(caplog)
    # Enough happened to make the check meaningful: every level, retries and failures.
    assert "-> 400" in text
    assert "retrying" in text
    assert "ServerDisconnectedError" in text
    assert "rate limiter: waited" in text
    assert KEY not in text
    assert KEY[4:] not in text
    assert "Bearer" not in text
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert KEY not in getattr(error, "url", "")
    assert len(errors) == 6


async def test_a_key_without_the_phx_prefix_is_still_kept_out_of_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "custom-token-0123456789"
    async with (
        Loopback(answer(200, b"{}")) as srv,
        pda.AsyncPostHog(api_key=key, host=srv.url, rate_limit=None) as ph,
    ):
        await ph.request("GET", f"dashboards/?k={key}")
    assert key not in records_text(caplog)
    assert "-> 200" in records_text(caplog)
