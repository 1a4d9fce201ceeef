"""The SDK against FakePostHog over a real loopback socket: errors, throttling and retries.

Each test provokes the failure on the server (a wrong key, a scope-limited key, the bare 405,
the throttle, injected 5xx answers and connection resets) and checks both the exception the
caller gets and what reached the server, so the retry policy is proven by the requests the
server really saw.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async.testing import FakePostHog

BASE = "/api/projects/42/dashboards/"
#: Short enough to keep backoff between retries negligible, long enough to be a real sleep.
QUICK_RETRIES: dict[str, Any] = {"max_retries": 2, "max_retry_wait": 0.05}


def calls(server: FakePostHog) -> list[tuple[str, str, int | None, str | None]]:
    return [(r.method, r.path, r.status, r.fault) for r in server.requests]


# --- authentication, scopes, methods ----------------------------------------------------


async def test_wrong_key_raises_authentication_error(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server, api_key="phx_NotAKeyThisServerKnows000000000000") as ph:
        with pytest.raises(pda.AuthenticationError) as refused:
            await ph.dashboards.list()

    error = refused.value
    assert error.status == 401
    assert error.type == "authentication_error"
    assert error.code == "authentication_failed"
    assert error.detail == "Personal API key found in request Authorization header is invalid."
    assert "phx_NotAKey" not in str(error)
    sent = server.requests[0]
    assert sent.headers["Authorization"] == "Bearer phx_NotAKeyThisServerKnows000000000000"
    # Not retried: another attempt cannot fix the key.
    assert calls(server) == [("GET", BASE, 401, None)]


async def test_key_of_a_deactivated_user_is_refused(posthog_server: FakePostHog) -> None:
    server = posthog_server
    key = server.add_key(user_id=1133)
    async with connect(server, api_key=key) as ph:
        with pytest.raises(pda.AuthenticationError) as refused:
            await ph.dashboards.get(412)
    assert refused.value.detail == (
        "Personal API key found in request Authorization header is invalid."
    )


async def test_read_only_key_reads_but_cannot_write(posthog_server: FakePostHog) -> None:
    server = posthog_server
    reader = server.add_key(scopes=["dashboard:read"])
    before = set(server.dashboards)
    async with connect(server, api_key=reader) as ph:
        page = await ph.dashboards.list(limit=1)
        with pytest.raises(pda.MissingScopeError) as create:
            await ph.dashboards.create(name="Not allowed")
        with pytest.raises(pda.MissingScopeError) as update:
            await ph.dashboards.update(412, name="Not allowed")
        with pytest.raises(pda.MissingScopeError) as sharing:
            await ph.dashboards.sharing.get(412)

    assert page.count == 8
    for refused in (create.value, update.value):
        assert isinstance(refused, pda.PermissionDeniedError)
        assert refused.status == 403
        assert refused.code == "permission_denied"
        assert refused.scope == "dashboard:write"
        assert refused.detail == "API key missing required scope 'dashboard:write'"
    assert sharing.value.scope == "sharing_configuration:read"
    assert set(server.dashboards) == before
    assert server.dashboard(412)["name"] == "Growth overview"
    assert [r.status for r in server.requests] == [200, 403, 403, 403]
    assert all(r.headers["Authorization"] == f"Bearer {reader}" for r in server.requests)


async def test_hard_delete_is_method_not_allowed_with_an_empty_body(
    posthog_server: FakePostHog,
) -> None:
    server = posthog_server
    async with connect(server) as ph:
        with pytest.raises(pda.MethodNotAllowedError) as refused:
            await ph.request("DELETE", "dashboards/1/")

    error = refused.value
    assert error.status == 405
    assert error.body == b""
    assert error.type is None
    assert error.code is None
    sent = server.requests[0]
    assert (sent.method, sent.path, sent.status) == ("DELETE", f"{BASE}1/", 405)
    assert sent.headers["Accept"] == "application/json"


async def test_unknown_dashboard_is_not_found(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        with pytest.raises(pda.NotFoundError) as missing:
            await ph.dashboards.update(999999, name="Nobody")
    assert missing.value.detail == "Not found."
    assert missing.value.type == "invalid_request"
    assert missing.value.code == "not_found"
    assert calls(server) == [("PATCH", f"{BASE}999999/", 404, None)]


async def test_validation_error_names_the_field(posthog_server: FakePostHog) -> None:
    server = posthog_server
    async with connect(server) as ph:
        with pytest.raises(pda.BadRequestError) as refused:
            await ph.dashboards.create(name="From nowhere", use_template="NO_SUCH_TEMPLATE")
    error = refused.value
    assert error.attr == "use_template"
    assert error.detail == "Invalid template provided: NO_SUCH_TEMPLATE"
    assert calls(server) == [("POST", BASE, 400, None)]


# --- throttling -------------------------------------------------------------------------


async def test_throttled_request_raises_with_retry_after_from_the_body(
    posthog_server_factory: Any,
) -> None:
    # The older server (before drf-exceptions-hog 0.4) sends no Retry-After.
    server: FakePostHog = await posthog_server_factory(burst_limit=3, retry_after_header=False)
    async with connect(server, max_retries=0) as ph:
        for _ in range(3):
            await ph.dashboards.get(412)
        with pytest.raises(pda.RateLimitError) as throttled:
            await ph.dashboards.get(412)

    error = throttled.value
    assert error.status == 429
    assert error.type == "throttled_error"
    assert error.code == "throttled"
    assert error.detail is not None
    match = re.fullmatch(
        r"Request was throttled\. Expected available in (\d+) seconds?\.", error.detail
    )
    assert match is not None
    # Without Retry-After the wait comes from the body text.
    assert "Retry-After" not in error.headers
    assert error.retry_after == float(match.group(1))
    assert 55 <= error.retry_after <= 60
    assert [r.status for r in server.requests] == [200, 200, 200, 429]


async def test_throttle_beyond_the_longest_wait_is_raised_at_once(
    posthog_server: FakePostHog,
) -> None:
    server = posthog_server
    server.throttle_next(1, wait=37)
    started = time.monotonic()
    async with connect(server, max_retries=2, max_retry_wait=5) as ph:
        with pytest.raises(pda.RateLimitError) as throttled:
            await ph.dashboards.list()
    assert time.monotonic() - started < 2
    assert throttled.value.retry_after == 37.0
    assert calls(server) == [("GET", BASE, 429, "throttle")]


async def test_short_throttle_is_waited_out_and_retried(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.throttle_next(1, wait=1)
    async with connect(server) as ph:
        started = time.monotonic()
        page = await ph.dashboards.list(limit=2)
        waited = time.monotonic() - started

    assert [d.id for d in page.results] == [415, 412]
    assert waited >= 0.9
    assert calls(server) == [("GET", BASE, 429, "throttle"), ("GET", BASE, 200, None)]
    # The retry is the same request again.
    first, second = server.requests
    assert first.query == second.query
    assert first.headers["Authorization"] == second.headers["Authorization"]


async def test_throttled_post_is_retried_because_nothing_was_done(
    posthog_server: FakePostHog,
) -> None:
    server = posthog_server
    server.throttle_next(1, wait=1, retry_after=True, method="POST")
    async with connect(server, max_retries=1) as ph:
        created = await ph.dashboards.create(name="After the throttle")
    assert calls(server) == [("POST", BASE, 429, "throttle"), ("POST", BASE, 201, None)]
    assert [d["name"] for d in server.dashboards.values()].count("After the throttle") == 1
    assert created.name == "After the throttle"


# --- server errors ----------------------------------------------------------------------


async def test_burst_of_server_errors_is_retried_for_get(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.fail_next(1, status=502, body="<html>Bad gateway</html>", method="GET")
    server.fail_next(1, status=503, method="GET")
    async with connect(server, **QUICK_RETRIES) as ph:
        dashboard = await ph.dashboards.get(412)
    assert dashboard.id == 412
    assert calls(server) == [
        ("GET", f"{BASE}412/", 502, "status"),
        ("GET", f"{BASE}412/", 503, "status"),
        ("GET", f"{BASE}412/", 200, None),
    ]


async def test_get_gives_up_after_max_retries(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.fail_next(5, status=500, method="GET")
    async with connect(server, **QUICK_RETRIES) as ph:
        with pytest.raises(pda.ServerError) as failed:
            await ph.dashboards.get(412)
    assert failed.value.status == 500
    assert failed.value.detail == "A server error occurred."
    assert len(server.requests) == 3
    assert server.pending_faults() == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_error_is_not_retried_for_post(
    posthog_server: FakePostHog, status: int
) -> None:
    server = posthog_server
    before = set(server.dashboards)
    server.fail_next(1, status=status, method="POST")
    async with connect(server, **QUICK_RETRIES) as ph:
        with pytest.raises(pda.ServerError) as failed:
            await ph.dashboards.create(name="Maybe created")
    assert failed.value.status == status
    # One attempt only: the server may have acted on it.
    assert calls(server) == [("POST", BASE, status, "status")]
    assert set(server.dashboards) == before


async def test_503_with_retry_after_is_retried_for_post(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.fail_next(1, status=503, headers={"Retry-After": "0"}, method="POST")
    async with connect(server, **QUICK_RETRIES) as ph:
        created = await ph.dashboards.create(name="Second try")
    assert created.name == "Second try"
    assert calls(server) == [("POST", BASE, 503, "status"), ("POST", BASE, 201, None)]


# --- connection failures ----------------------------------------------------------------


async def test_connection_reset_is_retried_for_get(posthog_server: FakePostHog) -> None:
    server = posthog_server
    server.reset_next(1, method="GET")
    # A fresh client: the first request opens a new connection, which aiohttp itself never
    # retries, so the second attempt is the SDK's.
    async with connect(server, **QUICK_RETRIES) as ph:
        page = await ph.dashboards.list(limit=1)
    assert page.count == 8
    assert calls(server) == [("GET", BASE, None, "reset"), ("GET", BASE, 200, None)]


async def test_connection_reset_is_not_retried_for_post(posthog_server: FakePostHog) -> None:
    server = posthog_server
    before = set(server.dashboards)
    server.reset_next(1, method="POST")
    async with connect(server, **QUICK_RETRIES) as ph:
        with pytest.raises(pda.APIConnectionError) as failed:
            await ph.dashboards.create(name="Lost in transit")
    assert not isinstance(failed.value, pda.APITimeoutError)
    assert failed.value.method == "POST"
    assert server.api_key not in str(failed.value)
    assert calls(server) == [("POST", BASE, None, "reset")]
    assert set(server.dashboards) == before


async def test_connection_refused_raises_connection_error() -> None:
    # A port nobody listens on: every attempt fails to connect, even for POST.
    server = FakePostHog()
    await server.start()
    url, key = server.url, server.api_key
    await server.stop()
    async with pda.AsyncPostHog(
        api_key=key, host=url, project_id=42, rate_limit=None, **QUICK_RETRIES
    ) as ph:
        with pytest.raises(pda.APIConnectionError) as failed:
            await ph.dashboards.create(name="Nowhere")
    assert "could not connect" in str(failed.value)
