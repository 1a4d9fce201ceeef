"""The retry loop and its policy steps: what is retried, for which methods, how long it waits.

Waits are asserted through a recording ``client._sleep``; no test sleeps for real.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
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
from posthog_dash_async._retry import RETRYABLE_STATUSES, RetryPolicy
from posthog_dash_async._transport import TransportError

SERVER_ERROR = (
    b'{"type":"server_error","code":"error","detail":"A server error occurred.","attr":null}'
)
OK = b'{"ok":true}'


def transport_error(*, sent: bool = True, started: bool = False, retryable: bool = True) -> Any:
    return TransportError("x", request_sent=sent, response_started=started, retryable=retryable)


# --- the policy steps, as plain values ----------------------------------------------------


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_get_retries_every_retryable_status(status: int) -> None:
    policy = RetryPolicy(jitter=lambda: 0.5)
    assert policy.after_status("GET", status, {}, None, 0) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 415, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert RetryPolicy().after_status("GET", status, {}, None, 0) is None


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_writes_are_retried_only_when_the_server_refused_without_acting(method: str) -> None:
    policy = RetryPolicy(jitter=lambda: 0.5)
    assert policy.after_status(method, 429, {}, None, 0) is not None
    assert policy.after_status(method, 503, {"Retry-After": "1"}, None, 0) == 1.0
    for status in (408, 500, 502, 503, 504):
        assert policy.after_status(method, status, {}, None, 0) is None


def test_transport_failures_by_progress() -> None:
    policy = RetryPolicy(jitter=lambda: 0.5)
    before_any_byte = transport_error(sent=True, started=False)
    never_connected = transport_error(sent=False)
    mid_body = transport_error(sent=True, started=True)
    assert policy.after_transport_error("GET", before_any_byte, 0) is not None
    assert policy.after_transport_error("GET", never_connected, 0) is not None
    assert policy.after_transport_error("GET", mid_body, 0) is None
    for method in ("POST", "PATCH", "DELETE"):
        assert policy.after_transport_error(method, never_connected, 0) is not None
        assert policy.after_transport_error(method, before_any_byte, 0) is None
    permanent = transport_error(sent=False, retryable=False)
    assert policy.after_transport_error("GET", permanent, 0) is None


def test_attempts_are_bounded_by_max_retries() -> None:
    policy = RetryPolicy(max_retries=2, jitter=lambda: 0.5)
    assert policy.after_status("GET", 503, {}, None, 1) is not None
    assert policy.after_status("GET", 503, {}, None, 2) is None
    assert policy.after_transport_error("GET", transport_error(), 2) is None
    assert RetryPolicy(max_retries=0).after_status("GET", 503, {}, None, 0) is None


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    top = RetryPolicy(jitter=lambda: 1.0 - 1e-12)
    bottom = RetryPolicy(jitter=lambda: 0.0)
    for attempt, ceiling in enumerate(ceilings):
        assert top.backoff(attempt) == pytest.approx(ceiling)
        assert bottom.backoff(attempt) == 0.0
    seeded = RetryPolicy(jitter=random.Random(1234).random)
    draws = [seeded.backoff(3) for _ in range(500)]
    assert all(0.0 <= d < 4.0 for d in draws)
    # Full jitter spreads over the whole range instead of clustering at the ceiling.
    assert min(draws) < 0.5
    assert max(draws) > 3.5
    assert RetryPolicy(max_wait=0.25, jitter=lambda: 1.0 - 1e-12).backoff(5) == pytest.approx(0.25)


def test_requested_wait_sources_and_precedence() -> None:
    policy = RetryPolicy()
    body = "Request was throttled. Expected available in 37 seconds."
    assert policy.requested_wait({}, body) == 37.0
    assert policy.requested_wait({}, "Request was throttled. Expected available in 1 second.") == 1
    assert policy.requested_wait({"Retry-After": "5"}, body) == 5.0
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    date = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert policy.requested_wait({"Retry-After": date}, None, now=now) == 90.0
    assert policy.requested_wait({"Retry-After": "garbage"}, None) is None
    assert policy.requested_wait({}, None) is None


def test_a_requested_wait_beyond_the_cap_is_not_slept() -> None:
    policy = RetryPolicy(max_wait=60.0)
    detail = "Request was throttled. Expected available in 61 seconds."
    assert policy.after_status("GET", 429, {}, detail, 0) is None
    assert policy.after_status("GET", 429, {"Retry-After": "60"}, None, 0) == 60.0


# --- the client's loop against a loopback server ---------------------------------------------


async def test_get_recovers_from_a_5xx_burst_with_jittered_backoff() -> None:
    handler = scripted(answer(503, SERVER_ERROR), answer(502, b""), answer(200, OK))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        ph._retry = RetryPolicy(jitter=lambda: 0.5)
        assert await ph.request("GET", "dashboards/") == {"ok": True}
    assert len(srv.hits) == 3
    assert sleep.waits == [0.25, 0.5]


async def test_throttle_wait_comes_from_posthogs_429_body() -> None:
    handler = scripted(answer(429, THROTTLED), answer(200, OK))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        assert await ph.request("GET", "dashboards/") == {"ok": True}
    assert sleep.waits == [37.0]


async def test_retry_after_seconds_beats_the_body() -> None:
    handler = scripted(answer(429, THROTTLED, **{"Retry-After": "2"}), answer(200, OK))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        await ph.request("GET", "dashboards/")
    assert sleep.waits == [2.0]


async def test_retry_after_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = format_datetime(when, usegmt=True)
    handler = scripted(answer(429, b"", **{"Retry-After": header}), answer(200, OK))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        await ph.request("GET", "dashboards/")
    # The date has whole-second precision.
    assert len(sleep.waits) == 1
    assert 28.0 <= sleep.waits[0] <= 30.0


async def test_wait_beyond_max_retry_wait_raises_rate_limit_error_without_sleeping() -> None:
    body = THROTTLED.replace(b"37 seconds", b"3600 seconds")
    async with (
        Loopback(scripted(answer(429, body))) as srv,
        client(srv.url, max_retry_wait=120) as ph,
    ):
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.RateLimitError) as info:
            await ph.request("GET", "dashboards/")
    assert info.value.retry_after == 3600.0
    assert info.value.code == "throttled"
    assert sleep.waits == []
    assert len(srv.hits) == 1


async def test_503_retry_after_beyond_the_cap_raises_the_server_error() -> None:
    handler = scripted(answer(503, b"", **{"Retry-After": "40"}))
    async with Loopback(handler) as srv, client(srv.url, max_retry_wait=10) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.ServerError) as info:
            await ph.request("GET", "dashboards/")
    assert info.value.status == 503
    assert sleep.waits == []


async def test_backoff_is_capped_by_max_retry_wait() -> None:
    handler = scripted(answer(500, SERVER_ERROR))
    async with Loopback(handler) as srv, client(srv.url, max_retries=4, max_retry_wait=0.1) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.ServerError):
            await ph.request("GET", "dashboards/")
    assert len(sleep.waits) == 4
    assert all(0.0 <= w <= 0.1 for w in sleep.waits)


async def test_exhausted_retries_raise_the_last_status_error_with_its_body() -> None:
    handler = scripted(answer(503, b'{"detail":"first"}'), answer(500, SERVER_ERROR))
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = RecordingSleep()
        with pytest.raises(pda.ServerError) as info:
            await ph.request("GET", "dashboards/")
    assert len(srv.hits) == 3
    assert info.value.status == 500
    assert info.value.body == SERVER_ERROR
    assert info.value.detail == "A server error occurred."


async def test_exhausted_429_raises_rate_limit_error() -> None:
    async with Loopback(scripted(answer(429, THROTTLED))) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.RateLimitError) as info:
            await ph.request("GET", "dashboards/")
    assert sleep.waits == [37.0, 37.0]
    assert info.value.retry_after == 37.0
    assert info.value.body == THROTTLED


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
async def test_writes_are_not_retried_on_server_failures(method: str, status: int) -> None:
    async with Loopback(scripted(answer(status, SERVER_ERROR))) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APIStatusError) as info:
            await ph.request(method, "dashboards/1/", json={"name": "x"})
    assert info.value.status == status
    assert len(srv.hits) == 1
    assert sleep.waits == []


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_writes_are_retried_after_a_refusal(method: str) -> None:
    handler = scripted(
        answer(429, THROTTLED),
        answer(503, b"", **{"Retry-After": "1"}),
        answer(200, OK),
    )
    async with Loopback(handler) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        assert await ph.request(method, "dashboards/1/", json={"name": "x"}) == {"ok": True}
    assert sleep.waits == [37.0, 1.0]
    assert [m for m, _ in srv.hits] == [method] * 3


async def test_post_to_a_closed_port_is_retried_then_raises_the_connect_error() -> None:
    async with client(f"http://127.0.0.1:{closed_port()}") as ph:
        ph._sleep = sleep = RecordingSleep()
        ph._retry = RetryPolicy(jitter=lambda: 0.5)
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.create(name="x")
    assert len(sleep.waits) == 2
    assert not isinstance(info.value, pda.APITimeoutError)
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert "could not connect" in str(info.value)


async def test_post_reset_before_any_byte_is_not_retried() -> None:
    async with Loopback(reset) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.request("POST", "dashboards/", json={"name": "x"})
    # The request reached the server: repeating it could create a second dashboard.
    assert srv.hits == [("POST", "/api/projects/1/dashboards/")]
    assert sleep.waits == []
    assert isinstance(info.value.__cause__, aiohttp.ServerDisconnectedError)


async def test_get_reset_before_any_byte_is_retried_then_raises() -> None:
    async with Loopback(reset) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.request("GET", "dashboards/")
    assert len(sleep.waits) == 2
    # aiohttp itself repeats an idempotent request once on a dropped connection, so the
    # server sees up to two hits per attempt.
    assert 3 <= len(srv.hits) <= 6
    assert isinstance(info.value.__cause__, aiohttp.ServerDisconnectedError)


async def test_get_reset_then_success() -> None:
    async with (
        Loopback(scripted(reset, reset, reset, answer(200, OK))) as srv,
        client(srv.url) as ph,
    ):
        ph._sleep = RecordingSleep()
        assert await ph.request("GET", "dashboards/") == {"ok": True}


async def test_failure_after_the_response_started_is_not_retried() -> None:
    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"partial":')
        assert request.transport is not None
        request.transport.close()
        return response

    async with Loopback(truncated) as srv, client(srv.url) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.request("GET", "dashboards/")
    assert len(srv.hits) == 1
    assert sleep.waits == []
    assert isinstance(info.value.__cause__, aiohttp.ClientPayloadError)


async def test_an_unrelated_exception_propagates_unchanged_and_is_not_retried() -> None:
    calls = 0

    async def buggy_send(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise TypeError("a bug")

    async with client("http://127.0.0.1:1", max_concurrency=3) as ph:
        ph._sleep = sleep = RecordingSleep()
        ph._transport.send = buggy_send  # type: ignore[method-assign]
        with pytest.raises(TypeError, match="a bug") as info:
            await ph.request("GET", "dashboards/")
        assert not isinstance(info.value, pda.PostHogError)
        assert calls == 1
        assert sleep.waits == []
        assert ph._semaphore is not None
        assert ph._semaphore._value == 3


async def test_cancellation_inside_the_transport_is_not_retried_or_swallowed() -> None:
    calls = 0

    async def cancelled_send(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    async with client("http://127.0.0.1:1") as ph:
        ph._sleep = RecordingSleep()
        ph._transport.send = cancelled_send  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await ph.request("GET", "dashboards/")
    assert calls == 1


async def test_cancelling_during_the_retry_wait_stops_the_loop() -> None:
    async with (
        Loopback(scripted(answer(503, SERVER_ERROR))) as srv,
        client(srv.url, max_concurrency=2) as ph,
    ):
        waiting = asyncio.Event()

        async def blocking_sleep(seconds: float) -> None:
            waiting.set()
            await asyncio.Event().wait()

        ph._sleep = blocking_sleep
        task = asyncio.create_task(ph.request("GET", "dashboards/"))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ph._semaphore is not None
        assert ph._semaphore._value == 2
    assert len(srv.hits) == 1


async def test_closing_the_client_during_a_retry_wait_opens_no_new_session() -> None:
    async with Loopback(scripted(answer(503, SERVER_ERROR))) as srv:
        ph = client(srv.url)
        waiting = asyncio.Event()
        release = asyncio.Event()

        async def gated_sleep(seconds: float) -> None:
            waiting.set()
            await release.wait()

        ph._sleep = gated_sleep
        task = asyncio.create_task(ph.request("GET", "dashboards/"))
        await waiting.wait()
        await ph.aclose()
        release.set()
        with pytest.raises(pda.ClientStateError):
            await task
        assert not ph._transport.session_open


async def test_max_retries_zero_means_one_attempt() -> None:
    async with (
        Loopback(scripted(answer(503, SERVER_ERROR))) as srv,
        client(srv.url, max_retries=0) as ph,
    ):
        ph._sleep = RecordingSleep()
        with pytest.raises(pda.ServerError):
            await ph.request("GET", "dashboards/")
    assert len(srv.hits) == 1


def test_max_retry_wait_reaches_the_policy_and_is_validated() -> None:
    ph = pda.AsyncPostHog(api_key=KEY, max_retries=5, max_retry_wait=7)
    assert ph._retry.max_retries == 5
    assert ph._retry.max_wait == 7.0
    for bad in (-1, "5", True, float("nan")):
        with pytest.raises(pda.InvalidArgumentError):
            pda.AsyncPostHog(api_key=KEY, max_retry_wait=bad)  # type: ignore[arg-type]
