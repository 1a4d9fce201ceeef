"""What an error tracker records of a failure holds no key.

Sentry and its kind record the local variables of every frame of an exception's traceback,
and of the exceptions chained to it: text as is, mappings item by item, anything else by its
``repr``. aiohttp's frames hold the request's headers (the key among them), the constructor's
frame holds the ``api_key`` argument, and a proxy URL holds its credentials. Each test makes
the client fail one way and looks at everything such a tracker would record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _leaks import KEY, assert_no_key, assert_no_secret_in_frame_locals, frame_locals
from _loopback import closed_port
from _scripted import HOLD, RESET, ScriptedServer, head, http
from test_redis_budget import running_redis

import posthog_dash_async as pda

PROXY_SECRET = "ProxyPasswordThatMustNotLeak"
SHARING = {"created_at": None, "enabled": True, "access_token": "tok"}


def client(host: str, **options: Any) -> pda.AsyncPostHog:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "host": host,
        "project_id": 1,
        "rate_limit": None,
        "max_retries": 0,
        "timeout": pda.Timeout(connect=2.0, read=0.2),
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)


async def failure(call: Callable[[], Awaitable[Any]]) -> BaseException:
    try:
        await call()
    except Exception as exc:
        return exc
    raise AssertionError("the call did not fail")


def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


SCRIPTS: dict[str, Any] = {
    "read timeout": [HOLD],
    "reset mid-body": [head(200, [("Content-Length", "500")]) + b'{"id": 1, ', RESET],
    "server error": http(500, {"detail": "boom"}),
    "unauthorized": http(401, {"detail": "Invalid personal API key."}),
    "not JSON": http(200, b"<html>not json</html>", content_type="application/json"),
}


@pytest.mark.parametrize("how", sorted(SCRIPTS))
async def test_a_failed_request_leaves_no_key_in_frame_locals(how: str) -> None:
    async with ScriptedServer(SCRIPTS[how]) as server, client(server.url) as ph:
        exc = await failure(lambda: ph.dashboards.sharing.get(1))
    assert isinstance(exc, pda.PostHogError)
    assert frame_locals(exc)  # the tracker does see frames and their locals
    assert_no_secret_in_frame_locals(exc)
    assert_no_key(exc)


async def test_a_refused_connection_leaves_no_key_in_frame_locals() -> None:
    async with client(closed_url()) as ph:
        exc = await failure(lambda: ph.dashboards.get(1))
    assert isinstance(exc, pda.APIConnectionError)
    # aiohttp's own frames are part of the record (the cause), without their locals.
    assert isinstance(exc.__cause__, aiohttp.ClientConnectorError)
    assert exc.__cause__.__traceback__ is not None
    assert_no_secret_in_frame_locals(exc)


async def test_a_tile_stream_that_cannot_open_leaves_no_key_in_frame_locals() -> None:
    async def stream() -> None:
        async with ph.dashboards.stream_tiles(1) as tiles:
            async for _ in tiles:
                pass

    async with client(closed_url()) as ph:
        exc = await failure(stream)
    assert isinstance(exc, pda.APIConnectionError)
    assert_no_secret_in_frame_locals(exc)


async def test_a_callers_session_leaves_no_key_in_frame_locals() -> None:
    # The key goes on each request through a middleware whose frame holds it.
    async with aiohttp.ClientSession() as session, client(closed_url(), session=session) as ph:
        exc = await failure(lambda: ph.dashboards.sharing.get(1))
    assert isinstance(exc, pda.APIConnectionError)
    assert_no_secret_in_frame_locals(exc)


@pytest.mark.parametrize("proxy_answer", ["refused", "tunnel refused"])
async def test_a_failure_through_a_proxy_leaves_neither_key_nor_proxy_password(
    proxy_answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # A proxy route puts the key into each request's own headers (inside the tunnel) and
    # the proxy's credentials into Proxy-Authorization.
    async with ScriptedServer(http(403, b"tunnels are not allowed here")) as tunnel:
        proxy_url = closed_url() if proxy_answer == "refused" else tunnel.url
        proxy = proxy_url.replace("http://", f"http://someone:{PROXY_SECRET}@")
        async with client("https://posthog.example", proxy=proxy) as ph:
            exc = await failure(lambda: ph.dashboards.sharing.get(1))
    assert isinstance(exc, pda.PostHogError)
    assert_no_secret_in_frame_locals(exc, KEY, PROXY_SECRET)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_concurrency": 0},
        {"host": "ftp://posthog.example"},
        {"proxy": f"http://someone:{PROXY_SECRET}@[::1"},
        {"timeout": -1},
    ],
    ids=["max_concurrency", "host", "proxy", "timeout"],
)
def test_a_refused_constructor_argument_leaves_no_secret_in_frame_locals(
    bad: dict[str, Any],
) -> None:
    with pytest.raises(pda.InvalidArgumentError) as info:
        pda.AsyncPostHog(api_key=KEY, project_id=1, **bad)
    # This test's own frame holds what it passed; the SDK's frames below it are the question.
    assert len(frame_locals(info.value, skip=1)) > 0
    assert_no_secret_in_frame_locals(info.value, KEY, PROXY_SECRET, skip=1)


async def test_a_refused_redis_password_leaves_neither_key_nor_password(tmp_path: Path) -> None:
    # Redis is up but refuses the password: the redis client's frames behind its
    # AuthenticationError hold the password it sent.
    pytest.importorskip("redis")
    password = "RedisPasswordThatMustNotLeak"
    with running_redis(tmp_path, "--requirepass", "TheRightOne") as url:
        budget = pda.RateLimit(
            redis_url=url.replace("redis://", f"redis://:{password}@"), redis_fallback="refuse"
        )
        # Without coalescing, the error raised in the caller's own task keeps the redis
        # client's failure as its context.
        async with client("http://127.0.0.1:9", rate_limit=budget, coalesce=False) as ph:
            exc = await failure(lambda: ph.dashboards.get(1))
    assert isinstance(exc, pda.RateLimiterUnavailableError)
    assert exc.__context__ is not None
    assert_no_secret_in_frame_locals(exc, KEY, password)
