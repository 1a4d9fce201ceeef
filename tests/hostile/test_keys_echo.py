"""A server (or a proxy, or a man in the middle) echoes the key back: in a header, in the
body plainly or JSON-escaped, in a path. No error the SDK raises carries it anywhere."""

from __future__ import annotations

import json
import pickle

import pytest
from _leaks import KEY, KEY_TAIL, assert_no_key
from _scripted import CLOSE, RESET, ScriptedServer, head, http

import posthog_dash_async as pda

#: A key of another shape than ``phx_...``: only the client's own key tells it apart.
ODD_KEY = "sk-OddShapedKey-0123456789"


def client(server: ScriptedServer, **options: object) -> pda.AsyncPostHog:
    settings: dict[str, object] = {
        "api_key": KEY,
        "host": server.url,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)  # type: ignore[arg-type]


def json_escaped(text: str) -> str:
    """``text`` with every character written as a JSON ``\\uXXXX`` escape."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


async def test_key_echoed_in_response_headers() -> None:
    echo = http(
        401,
        {"type": "authentication_error", "code": "authentication_failed", "detail": "no"},
        headers=[
            ("X-Echo-Authorization", f"Bearer {KEY}"),
            (f"X-{KEY}", "header name too"),
            ("Set-Cookie", f"k={KEY}; Path=/"),
        ],
    )
    async with ScriptedServer(echo) as server, client(server) as ph:
        with pytest.raises(pda.AuthenticationError) as info:
            await ph.dashboards.get(1)
    assert info.value.headers  # kept, scrubbed
    assert_no_key(info.value)


async def test_key_json_escaped_inside_the_body() -> None:
    # The bytes hold no "phx_": only decoding the JSON reveals the key, so scrubbing the
    # raw bytes alone would let it through into .detail (and into .body for whoever decodes).
    body = (
        '{"type": "validation_error", "code": "invalid", "attr": "name", '
        f'"detail": "key {json_escaped(KEY)} is not allowed", '
        f'"extra": {{"echo": ["{json_escaped(KEY)}"]}}}}'
    ).encode()
    assert KEY.encode() not in body
    async with (
        ScriptedServer(http(400, body, content_type="application/json")) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.BadRequestError) as info:
            await ph.dashboards.get(1)
    error = info.value
    assert error.detail is not None
    assert error.detail.startswith("key ")
    assert error.attr == "name"
    assert_no_key(error)
    decoded = json.loads(error.body)
    assert KEY_TAIL not in json.dumps(decoded)
    assert decoded["code"] == "invalid"


async def test_a_key_of_another_shape_echoed_plainly_and_escaped() -> None:
    body = json.dumps({"detail": f"got {ODD_KEY} and {json_escaped(ODD_KEY)}"}).encode()
    body = body.replace(b"\\\\u", b"\\u")  # json.dumps escaped the backslashes: undo
    async with (
        ScriptedServer(http(403, body, content_type="application/json")) as server,
        client(server, api_key=ODD_KEY) as ph,
    ):
        with pytest.raises(pda.PermissionDeniedError) as info:
            await ph.dashboards.get(1)
    assert_no_key(info.value, key=ODD_KEY)
    assert info.value.detail == "got *** and ***"


async def test_key_in_a_path_given_to_request() -> None:
    # The caller put the key in a path: it is sent (that is what was asked), but no error
    # shows it, whether the server answers with an error or drops the connection.
    async with (
        ScriptedServer(http(404, {"detail": f"Not found: /api/x/{KEY}/"}), [RESET]) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.NotFoundError) as status_error:
            await ph.request("GET", f"/api/x/{KEY}/")
        with pytest.raises(pda.APIConnectionError) as transport_error:
            await ph.request("GET", f"/api/x/{KEY}/")
    assert server.requests[0].path == f"/api/x/{KEY}/"
    assert_no_key(status_error.value)
    assert_no_key(transport_error.value)


async def test_key_in_the_status_line_reason_and_a_malformed_response() -> None:
    # A reason phrase and a broken header line that repeat the key: aiohttp's parser error
    # quotes the bytes it choked on.
    broken = f"HTTP/1.1 200 {KEY}\r\nContent-Length: 5\r\n{KEY} broken\r\n\r\nhello".encode()
    async with ScriptedServer([broken, CLOSE]) as server, client(server) as ph:
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.get(1)
    assert_no_key(info.value)


async def test_key_echoed_in_a_huge_error_body_past_the_kept_part() -> None:
    body = b'{"detail": "' + b"x" * 70_000 + KEY.encode() + b'"}'
    async with (
        ScriptedServer(http(500, body, content_type="application/json")) as server,
        client(server) as ph,
    ):
        with pytest.raises(pda.ServerError) as info:
            await ph.dashboards.get(1)
    assert_no_key(info.value)


async def test_errors_survive_pickle_scrubbed() -> None:
    echo = http(429, {"detail": f"{KEY} throttled. Expected available in 999 seconds."})
    async with ScriptedServer(echo) as server, client(server) as ph:
        with pytest.raises(pda.RateLimitError) as info:
            await ph.dashboards.get(1)
    clone = pickle.loads(pickle.dumps(info.value))
    assert clone.retry_after == 999.0
    assert_no_key(clone)
    assert_no_key(info.value)


async def test_a_chunked_response_cut_short_after_echoing_the_key() -> None:
    cut = head(500, [("Transfer-Encoding", "chunked"), ("X-Key", KEY)]) + b"5\r\nhel"
    async with ScriptedServer([cut, CLOSE]) as server, client(server) as ph:
        with pytest.raises(pda.APIConnectionError) as info:
            await ph.dashboards.get(1)
    assert_no_key(info.value)
