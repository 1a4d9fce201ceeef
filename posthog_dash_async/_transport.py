"""The only module that touches aiohttp: the session, timeouts, streamed bodies, and the
translation of aiohttp's exceptions into :mod:`posthog_dash_async.errors`.

Above this boundary everything is plain values: a status, headers, body bytes.
"""

from __future__ import annotations

import asyncio
import functools
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from ._config import Timeout
from ._version import __version__
from ._wire import redact
from .errors import APIConnectionError, APITimeoutError, ClientStateError

__all__ = ["Response", "StreamResponse", "Transport", "TransportError"]

USER_AGENT = (
    f"posthog-dash-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"{platform.python_implementation()}/{sys.version_info[0]}.{sys.version_info[1]}"
)

# Connect failures: the request provably never reached the server.
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,)
_CONNECT_TIMEOUTS: tuple[type[BaseException], ...] = (aiohttp.ConnectionTimeoutError,)
# Failures that another attempt cannot cure: a certificate the client rejects, a URL that
# aiohttp refuses to send to.
_PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorCertificateError,
    aiohttp.InvalidURL,
    aiohttp.NonHttpUrlClientError,
)
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    OSError,
    asyncio.TimeoutError,
)


class TransportError(APIConnectionError):
    """An :class:`APIConnectionError` that says how far the request got.

    ``request_sent`` is False when the connection could not even be made (safe to retry any
    method); ``response_started`` is True when the failure came after the status line;
    ``retryable`` is False for failures that another attempt cannot cure (a rejected TLS
    certificate, an invalid URL).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        request_sent: bool = True,
        response_started: bool = False,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.request_sent = request_sent
        self.response_started = response_started
        self.retryable = retryable


class TransportTimeout(TransportError, APITimeoutError):
    """A timeout, with the same progress information as :class:`TransportError`."""


@dataclass(slots=True)
class Response:
    """A complete response: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@functools.lru_cache(maxsize=32)
def _client_timeout(timeout: Timeout, stream: bool) -> aiohttp.ClientTimeout:
    # aiohttp's `connect` also counts the wait for a pooled connection; waiting for capacity
    # must not eat into a request's budget, so only the socket connect is bounded.
    if stream:
        # Streams have no deadline: a dashboard may compute for minutes. What is bounded is
        # the silence on the connection (the server sends no heartbeats between events).
        return aiohttp.ClientTimeout(
            total=None, sock_connect=timeout.connect, sock_read=timeout.stream_idle
        )
    return aiohttp.ClientTimeout(
        total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read
    )


def _wrap(exc: BaseException, method: str, url: str, *, response_started: bool) -> TransportError:
    # A caller may have put a key into a path passed to `request()`; exceptions carry no secret.
    url = redact(url)
    if isinstance(exc, _CONNECT_TIMEOUTS):
        return TransportTimeout(
            f"{method} {url}: connect timed out",
            method=method,
            url=url,
            request_sent=False,
        )
    if isinstance(exc, asyncio.TimeoutError):
        return TransportTimeout(
            f"{method} {url}: timed out" + (" reading the response" if response_started else ""),
            method=method,
            url=url,
            response_started=response_started,
        )
    permanent = isinstance(exc, _PERMANENT_ERRORS)
    if isinstance(exc, _CONNECT_ERRORS):
        return TransportError(
            f"{method} {url}: could not connect: {exc.__class__.__name__}",
            method=method,
            url=url,
            request_sent=False,
            retryable=not permanent,
        )
    detail = redact(str(exc) or exc.__class__.__name__)
    return TransportError(
        f"{method} {url}: connection failed: {exc.__class__.__name__}: {detail}",
        method=method,
        url=url,
        response_started=response_started,
        retryable=not permanent,
    )


class StreamResponse:
    """A response whose body is read incrementally (tile streams)."""

    __slots__ = ("_content", "_method", "_resp", "_url", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, method: str, url: str) -> None:
        self._resp = resp
        self._content = resp.content
        self._method = method
        self._url = url
        self.status: int = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        """The whole remaining body (for error responses)."""
        try:
            return await self._resp.read()
        except _TRANSPORT_ERRORS as exc:
            raise _wrap(exc, self._method, self._url, response_started=True) from exc

    async def readany(self) -> bytes:
        """The body bytes that have arrived, as soon as there are any; ``b""`` at the end.

        Never waits for a line or a fixed size: an event is complete as soon as its bytes
        are in, and one event may be far larger than any sensible read size.
        """
        try:
            return await self._content.readany()
        except _TRANSPORT_ERRORS as exc:
            raise _wrap(exc, self._method, self._url, response_started=True) from exc

    async def wait_eof(self, timeout: float) -> bool:
        """Read and discard the rest of the body for at most ``timeout`` seconds.

        Returns True when the body is finished (the connection can then be reused); a
        transport failure or the time running out just returns False.
        """
        content = self._content

        async def discard() -> None:
            while await content.readany():
                pass

        try:
            await asyncio.wait_for(discard(), timeout)
        except _TRANSPORT_ERRORS:
            return False
        return content.at_eof()

    @property
    def body_finished(self) -> bool:
        """True when the server has finished the body (the connection can be reused)."""
        return self._content.at_eof()

    def release(self) -> None:
        """Give the connection back to the pool (only valid once the body is finished)."""
        self._resp.release()

    def close(self) -> None:
        """Drop the connection at once; nothing is left to be read from it."""
        self._resp.close()


class Transport:
    """One aiohttp session (created lazily, in the running loop) and the calls over it.

    ``headers`` go with every request. On a session the transport creates they are the
    session's defaults, so a plain call passes no headers of its own (aiohttp then has
    nothing to merge); on a caller's session they are added to each request.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._base_headers: dict[str, str] = {"User-Agent": USER_AGENT, **(headers or {})}

    def _headers(self, extra: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if self._owns_session:
            return extra
        return {**self._base_headers, **extra} if extra else self._base_headers

    @property
    def owns_session(self) -> bool:
        return self._owns_session

    @property
    def session_open(self) -> bool:
        return self._session is not None and not self._session.closed

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            # A retry sleeping through aclose() must not open a new session nobody closes.
            raise ClientStateError("this AsyncPostHog client is closed")
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self._base_headers,
                raise_for_status=False,
                # HTTP(S)_PROXY / NO_PROXY from the environment are honoured, as httpx and
                # curl do: behind a corporate proxy the SDK works without extra code.
                trust_env=True,
            )
            self._session = session
        return session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        body: bytes | None = None,
        timeout: Timeout,
    ) -> Response:
        """Send one request and read the whole response.

        ``headers`` are those this request needs beyond the transport's own.
        """
        session = self._get_session()
        started = False
        try:
            async with session.request(
                method,
                url,
                params=params,
                data=body,
                headers=self._headers(headers),
                timeout=_client_timeout(timeout, False),
                allow_redirects=False,
            ) as resp:
                started = True
                payload = await resp.read()
                return Response(resp.status, resp.headers, payload)
        except _TRANSPORT_ERRORS as exc:
            raise _wrap(exc, method, url, response_started=started) from exc

    async def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        timeout: Timeout,
    ) -> StreamResponse:
        """Send one request and return as soon as the status line and headers are in."""
        session = self._get_session()
        try:
            resp = await session.request(
                method,
                url,
                params=params,
                headers=self._headers(headers),
                timeout=_client_timeout(timeout, True),
                allow_redirects=False,
                # The stream is consumed as-is; PostHog never compresses it.
                auto_decompress=False,
            )
        except _TRANSPORT_ERRORS as exc:
            raise _wrap(exc, method, url, response_started=False) from exc
        return StreamResponse(resp, method, url)

    async def aclose(self) -> None:
        """Close the session if this transport created it; a caller's session is left open."""
        self._closed = True
        if not self._owns_session:
            return
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
