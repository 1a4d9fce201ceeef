"""Proxies: read once when the session is made, applied per host, never for loopback.

The "proxy" in these tests is a ScriptedServer on loopback: an HTTP proxy receives either
the absolute URL in the request line (plain http, the key in clear text) or a ``CONNECT
host:443`` for a tunnel; whatever it receives is recorded, so each test shows exactly what a
proxy would have seen.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _leaks import KEY, assert_no_key
from _scripted import CLOSE, ScriptedServer, http

import posthog_dash_async as pda
from posthog_dash_async._config import resolve_proxy

SHARING = {"created_at": None, "enabled": False, "access_token": None}
PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def _clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARS, "ALL_PROXY", "all_proxy", "NETRC"):
        monkeypatch.delenv(name, raising=False)


def refuse_tunnel() -> ScriptedServer:
    """A proxy that refuses every CONNECT (nothing on this machine can play PostHog's TLS)."""
    return ScriptedServer([http(403, b"tunnels are not allowed here"), CLOSE])


def client(host: str, **options: object) -> pda.AsyncPostHog:
    settings: dict[str, object] = {
        "api_key": KEY,
        "host": host,
        "project_id": 42,
        "rate_limit": None,
        "max_retries": 0,
        "timeout": pda.Timeout(connect=5.0, read=5.0),
    }
    settings.update(options)
    return pda.AsyncPostHog(**settings)  # type: ignore[arg-type]


async def test_loopback_host_is_reached_directly_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Attack: HTTP_PROXY (and HTTPS_PROXY) point at a listening "proxy" while the client
    # talks plain http to a loopback host. Outcome: the proxy sees nothing, the server gets
    # the request with the key.
    async with refuse_tunnel() as proxy, ScriptedServer(http(200, SHARING)) as server:
        for name in PROXY_VARS[:4]:
            monkeypatch.setenv(name, proxy.url)
        async with client(server.url) as ph:
            sharing = await ph.dashboards.sharing.get(12)
    assert sharing.enabled is False
    assert proxy.requests == []
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_an_explicit_proxy_is_not_used_for_loopback_either() -> None:
    async with (
        refuse_tunnel() as proxy,
        ScriptedServer(http(200, SHARING)) as server,
        client(server.url, proxy=proxy.url) as ph,
    ):
        await ph.dashboards.sharing.get(12)
    assert proxy.requests == []
    assert len(server.requests) == 1


async def test_https_host_tunnels_through_https_proxy_and_the_key_stays_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The proxy sees which host is asked for, and nothing else: aiohttp would copy a
    # session's default headers (the Authorization among them) into the CONNECT request.
    async with refuse_tunnel() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with client("https://dashboards.invalid") as ph:
            with pytest.raises(pda.APIConnectionError) as info:
                await ph.dashboards.sharing.get(12)
    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", "dashboards.invalid:443")]
    connect = proxy.requests[0]
    assert "authorization" not in connect.headers
    assert "proxy-authorization" not in connect.headers
    assert all(KEY not in value for value in connect.headers.values())
    assert_no_key(info.value)


async def test_lower_case_variable_and_proxy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials in the proxy URL become Proxy-Authorization on the CONNECT only, and
    # show up in no error or repr.
    async with refuse_tunnel() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # upper case loses
        monkeypatch.setenv("https_proxy", f"http://user:s%40cret@127.0.0.1:{proxy.port}")
        async with client("https://dashboards.invalid") as ph:
            with pytest.raises(pda.APIConnectionError) as info:
                await ph.dashboards.sharing.get(12)
            assert "cret" not in repr(ph._transport.proxy)
    assert len(proxy.requests) == 1
    sent = proxy.requests[0].headers["proxy-authorization"]
    assert sent == "Basic " + base64.b64encode(b"user:s@cret").decode()
    assert_no_key(info.value, key="phx_" + "s@cret")
    assert "cret" not in str(info.value)


async def test_explicit_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with refuse_tunnel() as from_env, refuse_tunnel() as explicit:
        monkeypatch.setenv("HTTPS_PROXY", from_env.url)
        async with client("https://dashboards.invalid", proxy=explicit.url) as ph:
            with pytest.raises(pda.APIConnectionError):
                await ph.dashboards.sharing.get(12)
    assert from_env.requests == []
    assert [r.method for r in explicit.requests] == ["CONNECT"]


async def test_proxy_false_and_no_proxy_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    # Direct, for a host that does not resolve: a DNS failure, and the proxy saw nothing.
    async with refuse_tunnel() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with client("https://dashboards.invalid", proxy=False) as ph:
            with pytest.raises(pda.APIConnectionError, match="could not connect"):
                await ph.dashboards.sharing.get(12)
        monkeypatch.setenv("NO_PROXY", "example.com, .invalid")
        async with client("https://dashboards.invalid") as ph:
            with pytest.raises(pda.APIConnectionError, match="could not connect"):
                await ph.dashboards.sharing.get(12)
    assert proxy.requests == []


async def test_the_environment_is_read_once_when_the_session_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # trust_env=True made aiohttp look the proxy up (and read .netrc) for every request:
    # the regression this guards against. A change after the first request has no effect.
    async with refuse_tunnel() as first, refuse_tunnel() as second:
        monkeypatch.setenv("HTTPS_PROXY", first.url)
        async with client("https://dashboards.invalid") as ph:
            with pytest.raises(pda.APIConnectionError):
                await ph.dashboards.sharing.get(12)
            monkeypatch.setenv("HTTPS_PROXY", second.url)
            with pytest.raises(pda.APIConnectionError):
                await ph.dashboards.sharing.get(12)
    assert len(first.requests) == 2
    assert second.requests == []


async def test_a_netrc_entry_for_the_host_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With trust_env=True aiohttp turned a .netrc entry into BasicAuth, which then clashed
    # with the Authorization header (a ValueError for every request).
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with ScriptedServer(http(200, SHARING)) as server, client(server.url) as ph:
        await ph.dashboards.sharing.get(12)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_bad_proxy_url_is_refused_before_anything_is_sent() -> None:
    for bad in ("socks5://127.0.0.1:1080", "http://", "http://proxy:3128/path?x=1", "ftp://x"):
        with pytest.raises(pda.InvalidArgumentError, match="proxy"):
            client("https://dashboards.invalid", proxy=bad)
    with pytest.raises(pda.InvalidArgumentError, match="proxy must be"):
        client("https://dashboards.invalid", proxy=True)


@pytest.mark.parametrize(
    ("host", "no_proxy", "proxied"),
    [
        ("https://us.posthog.com", "", True),
        ("https://us.posthog.com", "*", False),
        ("https://us.posthog.com", "posthog.com", False),
        ("https://us.posthog.com", ".posthog.com", False),
        ("https://us.posthog.com", "*.posthog.com", False),
        ("https://notposthog.com", "posthog.com", True),
        ("https://us.posthog.com", "us.posthog.com:443", False),
        ("https://us.posthog.com", "us.posthog.com:8443", True),
        ("https://10.1.2.3", "10.0.0.0/8", False),
        ("https://10.1.2.3", "192.168.0.0/16", True),
        ("https://[2001:db8::1]", "2001:db8::/32", False),
        ("https://[2001:db8::1]:8443", "[2001:db8::1]:8443", False),
        ("http://localhost:8010", "", False),  # loopback: never
        ("http://127.0.0.1:8010", "", False),
    ],
)
def test_no_proxy_rules(host: str, no_proxy: str, proxied: bool) -> None:
    env = {"HTTPS_PROXY": "proxy.internal:3128", "HTTP_PROXY": "http://p:1", "NO_PROXY": no_proxy}
    route = resolve_proxy(host, None, env)
    assert (route is not None) is proxied
    if route is not None:
        assert route.url == "http://proxy.internal:3128"


async def test_a_bad_proxy_in_the_environment_is_named_at_the_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:hunter2@127.0.0.1:1080")
    async with client("https://dashboards.invalid") as ph:
        with pytest.raises(pda.InvalidArgumentError, match="HTTPS_PROXY") as info:
            await ph.dashboards.sharing.get(12)
    assert "hunter2" not in str(info.value)
