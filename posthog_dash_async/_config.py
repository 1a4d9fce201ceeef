"""Configuration: arguments, then environment, then defaults -> one frozen settings value.

Pure: no I/O besides reading the environment mapping it is given.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import InvalidArgumentError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ProxyRoute",
    "RateLimit",
    "Settings",
    "Timeout",
    "resolve_proxy",
    "resolve_settings",
]

DEFAULT_HOST = "https://us.posthog.com"
ENV_API_KEY = "POSTHOG_PERSONAL_API_KEY"
ENV_HOST = "POSTHOG_HOST"
ENV_PROJECT_ID = "POSTHOG_PROJECT_ID"

#: The largest response body (after decompression) the client reads by default.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20


def _check_seconds(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None:
        if not allow_none:
            raise InvalidArgumentError(f"{name} must be a number of seconds, not None")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number of seconds, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgumentError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds, applied per request (``None`` disables one).

    - ``connect``: establishing the TCP/TLS connection.
    - ``read``: the longest wait for the next bytes of a response.
    - ``total``: the whole request, from sending to the last byte (off by default).
    - ``stream_idle``: the longest wait between two events of a tile stream. Tile streams
      never use ``total`` or ``read``: a dashboard may take minutes to compute.

    Time spent waiting for a concurrency permit or for the rate limiter never counts.
    """

    connect: float | None = 10.0
    read: float | None = 60.0
    total: float | None = None
    stream_idle: float | None = 300.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total", "stream_idle"):
            _check_seconds(f"Timeout.{name}", getattr(self, name))

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """``Timeout`` as is; a number means that many seconds for connect, read and total."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls()
        _check_seconds("timeout", value, allow_none=False)
        return cls(connect=value, read=value, total=value, stream_idle=value)


@dataclass(frozen=True)
class RateLimit:
    """Client-side request budget per API key, mirroring PostHog's default throttles.

    PostHog Cloud allows 480 requests per minute and 4,800 per hour per personal API key
    (sliding windows). Pacing requests to stay under those numbers keeps a batch job from
    being throttled at all, which is cheaper than being throttled and retrying.

    PostHog counts a key's requests wherever they come from: with ``redis_url`` every
    process using the key shares one budget kept in Redis (``pip install
    'posthog-dash-async[redis]'``). When Redis is unreachable, ``redis_fallback="local"``
    paces each process on its own (and says so in the log); ``"refuse"`` raises
    :class:`~posthog_dash_async.RateLimiterUnavailableError` instead of sending.
    """

    per_minute: int | None = 480
    per_hour: int | None = 4800
    # The URL may hold a password: it is left out of repr().
    redis_url: str | None = field(default=None, repr=False)
    redis_fallback: Literal["local", "refuse"] = "local"

    def __post_init__(self) -> None:
        if self.redis_url is not None:
            from ._redis_limiter import check_redis_url

            check_redis_url(self.redis_url)
        if self.redis_fallback not in ("local", "refuse"):
            raise InvalidArgumentError(
                f"RateLimit.redis_fallback must be 'local' or 'refuse', got {self.redis_fallback!r}"
            )
        for name in ("per_minute", "per_hour"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidArgumentError(
                    f"RateLimit.{name} must be a positive int or None, got {value!r}"
                )

    def windows(self) -> list[tuple[float, int]]:
        """(window seconds, max requests) pairs that are switched on."""
        out: list[tuple[float, int]] = []
        if self.per_minute is not None:
            out.append((60.0, self.per_minute))
        if self.per_hour is not None:
            out.append((3600.0, self.per_hour))
        return out


class Secret:
    """A string that never shows itself in ``repr``/``str`` and refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a secret API key cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to address the API, resolved once."""

    api_key: Secret | None
    host: str  # scheme://host[:port], no trailing slash
    project_id: str  # an integer as text, or "@current"

    @property
    def project_base(self) -> str:
        return f"{self.host}/api/projects/{self.project_id}/"


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def host_is_loopback(host: str) -> bool:
    """True for a normalized origin whose host is a loopback name or address."""
    return _is_loopback((urlsplit(host).hostname or "").lower())


def normalize_host(host: str) -> str:
    """Check ``host`` and return it as ``scheme://host[:port]``.

    https only, except loopback hosts which may use http; PostHog's ingestion hosts
    (``*.i.posthog.com``) serve event capture, not the REST API, and are refused.
    """
    if not isinstance(host, str) or not host.strip():
        raise InvalidArgumentError(f"host must be a URL such as {DEFAULT_HOST!r}, got {host!r}")
    text = host.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        hostname = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"host {host!r} is not a valid URL: {exc}") from None
    if not hostname:
        raise InvalidArgumentError(f"host {host!r} has no host name")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgumentError("host must not contain credentials; pass api_key instead")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise InvalidArgumentError(
            f"host must be an origin such as {DEFAULT_HOST!r} without a path, got {host!r}"
        )
    if hostname.endswith(".i.posthog.com"):
        region = hostname.split(".", 1)[0]
        right = f"https://{region}.posthog.com" if region in ("us", "eu") else DEFAULT_HOST
        raise InvalidArgumentError(
            f"{hostname} is PostHog's event ingestion host; the Dashboards REST API is served "
            f"by the app host, e.g. {right!r}"
        )
    if scheme not in ("http", "https"):
        raise InvalidArgumentError(f"host must use https, got scheme {scheme!r}")
    if scheme == "http" and not _is_loopback(hostname):
        raise InvalidArgumentError(
            f"host must use https (plain http would send the API key in clear text); "
            f"http is allowed only for loopback hosts, got {host!r}"
        )
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def normalize_project_id(project_id: int | str) -> str:
    if isinstance(project_id, bool):
        raise InvalidArgumentError(
            f"project_id must be a positive int or '@current', got {project_id!r}"
        )
    if isinstance(project_id, int):
        if project_id <= 0:
            raise InvalidArgumentError(f"project_id must be positive, got {project_id!r}")
        return str(project_id)
    if isinstance(project_id, str):
        text = project_id.strip()
        if text == "@current":
            return text
        if text.isascii() and text.isdigit() and int(text) > 0:
            return str(int(text))
    raise InvalidArgumentError(
        f"project_id must be a positive int or '@current', got {project_id!r}"
    )


def resolve_settings(
    *,
    api_key: str | None,
    host: str | None,
    project_id: int | str | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve each value from the argument, then the environment, then the default."""
    env = os.environ if environ is None else environ
    key = api_key if api_key is not None else env.get(ENV_API_KEY) or None
    if key is not None:
        if not isinstance(key, str):
            raise InvalidArgumentError("api_key must be a string")
        key = key.strip()
        if not key or not all("!" <= c <= "~" for c in key):
            # Control characters would end the header line (or make aiohttp refuse the
            # request after the key has been copied around); keys are printable ASCII.
            raise InvalidArgumentError(
                "api_key must be a non-empty string of printable ASCII characters "
                "(no whitespace or control characters)"
            )
    resolved_host = host if host is not None else env.get(ENV_HOST) or DEFAULT_HOST
    resolved_project: int | str = (
        project_id if project_id is not None else env.get(ENV_PROJECT_ID) or "@current"
    )
    return Settings(
        api_key=Secret(key) if key else None,
        host=normalize_host(resolved_host),
        project_id=normalize_project_id(resolved_project),
    )


# --- proxies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyRoute:
    """The proxy one host is reached through: its URL without credentials, and the
    ``Proxy-Authorization`` value built from the credentials the URL had, if any."""

    url: str
    authorization: str | None = None

    def __repr__(self) -> str:
        shown = "'***'" if self.authorization is not None else "None"
        return f"ProxyRoute(url={self.url!r}, authorization={shown})"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # Lower-case first, as curl and urllib do when both spellings are set.
    for key in (name.lower(), name.upper()):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _parse_proxy(value: str, source: str) -> ProxyRoute:
    text = value.strip()
    if "://" not in text:
        text = "http://" + text  # "proxy:3128", as curl reads it
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        hostname, port = None, None
        parts = None
    if parts is None or not hostname or parts.scheme.lower() not in ("http", "https"):
        # The value itself may hold credentials: it is not repeated.
        raise InvalidArgumentError(
            f"{source} must be an http:// or https:// proxy URL such as "
            "'http://proxy.internal:3128'"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidArgumentError(f"{source} must be a proxy origin without a path or query")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None:
        netloc = f"{netloc}:{port}"
    return ProxyRoute(f"{parts.scheme.lower()}://{netloc}", authorization)


def _bypassed(hostname: str, port: int | None, no_proxy: str) -> bool:
    """``NO_PROXY`` semantics of curl: ``*``, host names matching themselves and their
    subdomains (a leading ``.`` or ``*.`` is ignored), IP addresses and CIDR ranges, each
    optionally with ``:port``."""
    host = hostname.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port: int | None = None
        if entry.startswith("["):  # [::1]:8080
            end = entry.find("]")
            rest = entry[end + 1 :]
            entry = entry[1:end]
            if rest.startswith(":") and rest[1:].isdigit():
                entry_port = int(rest[1:])
        elif entry.count(":") == 1:
            name, _, maybe_port = entry.partition(":")
            if maybe_port.isdigit():
                entry, entry_port = name, int(maybe_port)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.removeprefix("*").lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def resolve_proxy(
    host: str, proxy: str | bool | None, environ: Mapping[str, str] | None = None
) -> ProxyRoute | None:
    """The proxy for ``host`` (a normalized origin), read once when the session is made.

    ``proxy`` is the client's argument: a URL is used for every host (it wins over the
    environment), ``False`` means no proxy at all, ``None`` means the environment's
    ``HTTPS_PROXY``/``https_proxy`` unless ``NO_PROXY``/``no_proxy`` exempts the host.
    ``HTTP_PROXY`` never applies: the only hosts the client reaches over plain http are
    loopback hosts, and a loopback host is never reached through a proxy (it would see the
    key in clear text, and a proxy elsewhere cannot reach this machine's loopback anyway).
    """
    parts = urlsplit(host)
    hostname = (parts.hostname or "").lower()
    if _is_loopback(hostname) or proxy is False:
        return None
    if isinstance(proxy, str):
        return _parse_proxy(proxy, "proxy")
    env = os.environ if environ is None else environ
    if parts.scheme != "https":
        return None
    value = _env(env, "HTTPS_PROXY")
    if value is None:
        return None
    no_proxy = _env(env, "NO_PROXY")
    if no_proxy and _bypassed(hostname, parts.port or 443, no_proxy):
        return None
    return _parse_proxy(value, "HTTPS_PROXY")
