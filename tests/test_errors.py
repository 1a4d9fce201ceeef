"""The exception hierarchy: classes, pickling, body truncation, no secrets in messages."""

from __future__ import annotations

import asyncio
import pickle
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import API_KEY, RecordingServer, dumps, make_client

import posthog_dash_async as pda
from posthog_dash_async import errors
from posthog_dash_async._transport import TransportError

HEADERS = {"Content-Type": "application/json", "X-Request-Id": "req-123"}

# --- hierarchy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (errors.InvalidArgumentError, (errors.PostHogError, ValueError)),
        (errors.ClientStateError, (errors.PostHogError, RuntimeError)),
        (errors.APIConnectionError, (errors.PostHogError,)),
        (errors.APITimeoutError, (errors.APIConnectionError,)),
        (errors.APIStatusError, (errors.PostHogError,)),
        (errors.BadRequestError, (errors.APIStatusError,)),
        (errors.AuthenticationError, (errors.APIStatusError,)),
        (errors.PermissionDeniedError, (errors.APIStatusError,)),
        (errors.UnsupportedForApiKeyError, (errors.PermissionDeniedError,)),
        (errors.MissingScopeError, (errors.PermissionDeniedError,)),
        (errors.NotFoundError, (errors.APIStatusError,)),
        (errors.MethodNotAllowedError, (errors.APIStatusError,)),
        (errors.RateLimitError, (errors.APIStatusError,)),
        (errors.ServerError, (errors.APIStatusError,)),
        (errors.StreamError, (errors.PostHogError,)),
        (errors.StreamIncompleteError, (errors.PostHogError,)),
        (errors.EventTooLargeError, (errors.PostHogError,)),
        (TransportError, (errors.APIConnectionError,)),
    ],
)
def test_hierarchy(cls: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(cls, base)
    assert issubclass(cls, errors.PostHogError)


def test_invalid_argument_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise errors.InvalidArgumentError("bad")


def test_public_names_are_exported() -> None:
    for name in errors.__all__:
        assert getattr(pda, name) is getattr(errors, name)


def test_connection_errors_are_not_status_errors() -> None:
    assert not issubclass(errors.APIConnectionError, errors.APIStatusError)
    assert not issubclass(errors.StreamError, errors.APIConnectionError)


# --- pickling ---------------------------------------------------------------------------


def _status_kwargs(status: int) -> dict[str, Any]:
    return {
        "status": status,
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Invalid value provided",
        "attr": "use_dashboard",
        "body": b'{"detail":"Invalid value provided"}',
        "headers": HEADERS,
        "method": "POST",
        "url": "https://us.posthog.com/api/projects/42/dashboards/",
    }


def _examples() -> list[errors.PostHogError]:
    out: list[errors.PostHogError] = [
        errors.PostHogError("base"),
        errors.InvalidArgumentError("dashboard_id must be a positive int, got 0"),
        errors.ClientStateError("this AsyncPostHog client is closed"),
        errors.APIConnectionError("could not connect", method="GET", url="https://h/x/"),
        errors.APITimeoutError("timed out", method="PATCH", url="https://h/y/"),
        TransportError(
            "reset", method="GET", url="https://h/z/", request_sent=False, response_started=True
        ),
        errors.StreamError("fatal", error="boom", received=[1, 2]),
        errors.StreamIncompleteError("ended early", received=["a"]),
        errors.EventTooLargeError("too large", limit=2048),
        errors.RateLimitError("throttled", retry_after=37.0, **_status_kwargs(429)),
    ]
    for cls, status in [
        (errors.APIStatusError, 418),
        (errors.BadRequestError, 400),
        (errors.AuthenticationError, 401),
        (errors.PermissionDeniedError, 403),
        (errors.UnsupportedForApiKeyError, 403),
        (errors.MissingScopeError, 403),
        (errors.NotFoundError, 404),
        (errors.MethodNotAllowedError, 405),
        (errors.ServerError, 502),
    ]:
        out.append(cls(f"{status} happened", **_status_kwargs(status)))
    return out


@pytest.mark.parametrize("exc", _examples(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_every_exception_pickles_with_its_attributes(
    exc: errors.PostHogError, protocol: int
) -> None:
    clone = pickle.loads(pickle.dumps(exc, protocol=protocol))
    assert type(clone) is type(exc)
    assert clone.args == exc.args
    assert str(clone) == str(exc)
    assert vars(clone) == vars(exc)


def test_status_error_attributes_survive_pickle() -> None:
    exc = errors.RateLimitError("throttled", retry_after=12.5, **_status_kwargs(429))
    clone = pickle.loads(pickle.dumps(exc))
    assert clone.status == 429
    assert clone.type == "validation_error"
    assert clone.code == "invalid_input"
    assert clone.detail == "Invalid value provided"
    assert clone.attr == "use_dashboard"
    assert clone.body == b'{"detail":"Invalid value provided"}'
    assert clone.headers == HEADERS
    assert clone.method == "POST"
    assert clone.url.endswith("/dashboards/")
    assert clone.retry_after == 12.5
    assert clone.request_id == "req-123"


def test_transport_error_progress_survives_pickle() -> None:
    exc = TransportError("x", method="GET", url="u", request_sent=False, response_started=True)
    clone = pickle.loads(pickle.dumps(exc))
    assert clone.request_sent is False
    assert clone.response_started is True
    assert (clone.method, clone.url) == ("GET", "u")


def test_missing_scope_survives_pickle() -> None:
    exc = errors.MissingScopeError(
        "403",
        status=403,
        detail="API key missing required scope 'dashboard:write'",
    )
    clone = pickle.loads(pickle.dumps(exc))
    assert clone.scope == "dashboard:write"
    assert isinstance(clone, errors.PermissionDeniedError)


def test_missing_scope_without_quotes() -> None:
    exc = errors.MissingScopeError("403", status=403, detail="API key missing required scope")
    assert exc.scope is None


def test_stream_errors_keep_what_was_received() -> None:
    clone = pickle.loads(pickle.dumps(errors.StreamIncompleteError("eof", received=[1, 2, 3])))
    assert clone.received == [1, 2, 3]
    assert errors.StreamIncompleteError("eof").received is None
    too_big = pickle.loads(pickle.dumps(errors.EventTooLargeError("big", limit=4096)))
    assert too_big.limit == 4096


# --- bodies and headers -----------------------------------------------------------------


def test_body_is_truncated_to_max_body_kept() -> None:
    body = b"<html>" + b"x" * (errors.MAX_BODY_KEPT * 4)
    exc = errors.ServerError("502", status=502, body=body)
    assert len(exc.body) == errors.MAX_BODY_KEPT
    assert exc.body == body[: errors.MAX_BODY_KEPT]
    clone = pickle.loads(pickle.dumps(exc))
    assert clone.body == exc.body
    assert len(pickle.dumps(exc)) < errors.MAX_BODY_KEPT + 2048


def test_short_body_is_kept_whole() -> None:
    exc = errors.NotFoundError("404", status=404, body=b'{"detail":"Not found."}')
    assert exc.body == b'{"detail":"Not found."}'


def test_headers_are_a_plain_dict_and_request_id_is_case_insensitive() -> None:
    exc = errors.NotFoundError("404", status=404, headers={"x-request-id": "abc"})
    assert exc.headers == {"x-request-id": "abc"}
    assert type(exc.headers) is dict
    assert exc.request_id == "abc"
    assert errors.NotFoundError("404", status=404).request_id is None
    assert errors.NotFoundError("404", status=404).headers == {}


# --- no secrets -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_no_key(exc: BaseException) -> None:
    assert API_KEY not in str(exc)
    assert API_KEY not in repr(exc)
    assert API_KEY.encode() not in pickle.dumps(exc)
    for value in vars(exc).values():
        assert API_KEY not in repr(value)


async def test_status_errors_carry_no_key(recorder: RecordingServer) -> None:
    recorder.reply(
        "GET",
        "dashboards/1/",
        status=401,
        json={
            "type": "authentication_error",
            "code": "authentication_failed",
            "detail": "Personal API key found in request Authorization header is invalid.",
            "attr": None,
        },
    )
    async with make_client(recorder) as ph:
        with pytest.raises(pda.AuthenticationError) as info:
            await ph.dashboards.get(1)
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    _assert_no_key(info.value)


async def test_connection_errors_carry_no_key_and_keep_the_cause() -> None:
    port = _free_port()
    async with pda.AsyncPostHog(
        api_key=API_KEY,
        host=f"http://127.0.0.1:{port}",
        project_id=1,
        rate_limit=None,
        max_retries=0,
    ) as ph:
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.get(1)
    assert not isinstance(info.value, errors.APIStatusError)
    assert isinstance(info.value.__cause__, (aiohttp.ClientError, OSError))
    assert info.value.method == "GET"
    assert info.value.url == f"http://127.0.0.1:{port}/api/projects/1/dashboards/1/"
    _assert_no_key(info.value)


async def test_timeouts_carry_no_key(recorder: RecordingServer) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.4)
        return web.json_response({})

    recorder.handler = slow
    async with make_client(recorder) as ph:
        with pytest.raises(pda.APITimeoutError) as info:
            await ph.dashboards.get(1, timeout=0.1)
    assert isinstance(info.value, pda.APIConnectionError)
    _assert_no_key(info.value)


async def test_undecodable_success_body_is_a_connection_error(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/1/", body=b"<html>not json</html>")
    async with make_client(recorder) as ph:
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.get(1)
    assert not isinstance(info.value, errors.APIStatusError)
    _assert_no_key(info.value)


async def test_errors_from_the_server_keep_response_details(recorder: RecordingServer) -> None:
    recorder.reply(
        "GET",
        "dashboards/9/",
        status=404,
        body=dumps({"type": "invalid_request", "code": "not_found", "detail": "Not found."}),
        headers={"Content-Type": "application/json", "X-Request-Id": "r-9"},
    )
    async with make_client(recorder) as ph:
        with pytest.raises(pda.NotFoundError) as info:
            await ph.dashboards.get(9)
    exc = info.value
    assert exc.status == 404
    assert exc.code == "not_found"
    assert exc.detail == "Not found."
    assert exc.request_id == "r-9"
    assert exc.method == "GET"
    assert exc.url == f"{recorder.url}/api/projects/42/dashboards/9/"
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.status, clone.detail, clone.request_id) == (404, "Not found.", "r-9")
