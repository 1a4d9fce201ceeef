"""The only module that touches aiohttp: the session, timeouts, streamed bodies, and the
translation of aiohttp's exceptions into :mod:`posthog_dash_async.errors`.

Above this boundary everything is plain values: a status, headers, body bytes.
"""

from __future__ import annotations

import asyncio
import functools
import platform
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp.client_proto import ResponseHandler
from multidict import CIMultiDict, CIMultiDictProxy

from ._config import ProxyRoute, Timeout, host_is_loopback, resolve_proxy
from ._version import __version__
from ._wire import forget_locals, redact
from .errors import (
    APIConnectionError,
    APITimeoutError,
    ClientStateError,
    InvalidArgumentError,
    PostHogError,
    ResponseTooLargeError,
)

E = TypeVar("E", bound=BaseException)

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


class TransportTooLarge(TransportError, ResponseTooLargeError):
    """A response body beyond ``max_response_bytes``; never retried (it would be as large)."""

    def __init__(self, message: str, *, method: str, url: str, limit: int) -> None:
        TransportError.__init__(
            self, message, method=method, url=url, response_started=True, retryable=False
        )
        self.limit = limit


#: How much of an error response's body is read before the connection is dropped: enough
#: for any error envelope, and the exception keeps less still (``errors.MAX_BODY_KEPT``).
MAX_ERROR_BODY_BYTES = 64 * 1024

#: Methods PostHog may act on even when the answer never came back: aiohttp must not send
#: them a second time on its own (it re-sends PUT and DELETE on a dropped keep-alive
#: connection, RFC 9112 §9.3.1.1); the retry policy alone decides about another attempt.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _safe_cause(exc: BaseException, scrub: Callable[[str], str]) -> BaseException | None:
    """The exception to keep as ``__cause__``: ``exc`` itself when it carries nothing secret.

    aiohttp's ``ClientResponseError`` family (a proxy's refusal, a caller session's
    ``raise_for_status``) holds the request's ``request_info``, whose headers include
    ``Authorization``; it is replaced by a copy of the same class without them. Any other
    exception whose text shows the key is replaced by a plain ``aiohttp.ClientError`` of its
    scrubbed text.
    """
    if isinstance(exc, aiohttp.ClientResponseError):
        info = exc.request_info
        url = info.url if info is not None else None
        safe_url = _yarl_url(scrub(str(url))) if url is not None else None
        try:
            copy = type(exc)(
                aiohttp.RequestInfo(
                    safe_url,
                    info.method,
                    CIMultiDictProxy(CIMultiDict()),
                    safe_url,
                )
                if info is not None and safe_url is not None
                else None,  # type: ignore[arg-type]
                (),
                status=exc.status,
                message=scrub(exc.message or ""),
                headers=None,
            )
        except Exception:  # an unusual subclass signature: keep nothing rather than leak
            return None
        return copy
    text = str(exc)
    safe = scrub(text)
    if safe != text:
        return aiohttp.ClientError(f"{exc.__class__.__name__}: {safe}")
    return exc


def _yarl_url(text: str) -> Any:
    from yarl import URL

    try:
        return URL(text)
    except ValueError:
        return URL("")


def _attach(error: E, cause: BaseException | None) -> E:
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _wrap(
    exc: BaseException,
    method: str,
    url: str,
    *,
    response_started: bool,
    scrub: Callable[[str], str] = redact,
) -> TransportError:
    # A caller may have put a key into a path passed to `request()`; exceptions carry no secret.
    url = scrub(url)
    forget_locals(exc)
    cause = _safe_cause(exc, scrub)
    if isinstance(exc, _CONNECT_TIMEOUTS):
        return _attach(
            TransportTimeout(
                f"{method} {url}: connect timed out",
                method=method,
                url=url,
                request_sent=False,
            ),
            cause,
        )
    if isinstance(exc, asyncio.TimeoutError):
        return _attach(
            TransportTimeout(
                f"{method} {url}: timed out"
                + (" reading the response" if response_started else ""),
                method=method,
                url=url,
                response_started=response_started,
            ),
            cause,
        )
    permanent = isinstance(exc, _PERMANENT_ERRORS)
    if isinstance(exc, _CONNECT_ERRORS):
        return _attach(
            TransportError(
                f"{method} {url}: could not connect: {exc.__class__.__name__}",
                method=method,
                url=url,
                request_sent=False,
                retryable=not permanent,
            ),
            cause,
        )
    detail = scrub(str(exc) or exc.__class__.__name__)
    return _attach(
        TransportError(
            f"{method} {url}: connection failed: {exc.__class__.__name__}: {detail}",
            method=method,
            url=url,
            response_started=response_started,
            retryable=not permanent,
        ),
        cause,
    )


def _unexpected(
    exc: Exception,
    method: str,
    url: str,
    *,
    closed: bool,
    response_started: bool,
    scrub: Callable[[str], str],
) -> TransportError | ClientStateError | InvalidArgumentError:
    """Whatever else aiohttp raised, as one of the SDK's errors (never a bare exception)."""
    shown = scrub(url)
    detail = scrub(f"{exc.__class__.__name__}: {exc}")
    if closed:
        # aclose() while the request was in flight: aiohttp then fails in any of several
        # ways (a closed connector, an assertion); the cause is the close, not the server.
        return _attach(
            ClientStateError(
                f"{method} {shown}: the AsyncPostHog client was closed while this request "
                "was in flight"
            ),
            None,
        )
    if isinstance(exc, (ValueError, TypeError)) and not response_started:
        # aiohttp refuses values it cannot put on the wire (a header with a line break from
        # a caller's session, say): nothing was sent.
        return _attach(
            InvalidArgumentError(f"{method} {shown}: the request could not be sent: {detail}"),
            None,
        )
    return _attach(
        TransportError(
            f"{method} {shown}: connection failed: {detail}",
            method=method,
            url=shown,
            response_started=response_started,
            retryable=False,
        ),
        None,
    )


def _send_once() -> Callable[..., Awaitable[aiohttp.ClientResponse]]:
    """A per-request middleware that lets the request go out once.

    aiohttp re-sends an idempotent method (incl. PUT and DELETE) by itself when a
    keep-alive connection turns out dropped; for writes, and whenever retries are off, the
    second attempt is refused with the first one's error, so that only the client's retry
    policy (which knows what may be repeated) ever sends a request again.
    """
    failure: list[BaseException] = []

    async def once(
        req: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        if failure:
            raise failure[0]
        try:
            return await handler(req)
        except BaseException as exc:
            failure.append(exc)
            raise

    return once


class _ReadDeadlineHandler(ResponseHandler):
    """aiohttp's response protocol, with its ``sock_read`` timeout kept as a deadline.

    aiohttp re-arms an event-loop timer for every chunk it receives: one timer cancelled
    and one scheduled per chunk, and for every request at least twice (when the request is
    written and when the answer arrives). Each is a timer-heap operation whose comparisons
    run as Python code, which on a small response costs about as much as the rest of the
    SDK's own work. Here a chunk only moves the deadline; one timer per connection, armed
    when none is or when a new deadline is earlier than the armed one, checks the deadline
    when it fires and re-arms itself for what is left. The timeout fires at the same
    moment as aiohttp's own, with the same exception; a timer whose request has ended
    finds no deadline and lapses, and one is cancelled outright when the connection is
    lost.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._read_deadline: float | None = None
        self._armed_at: float | None = None

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._read_deadline = None
            return
        deadline = self._loop.time() + timeout
        self._read_deadline = deadline
        armed = self._armed_at
        if armed is None or deadline < armed:
            self._arm(deadline)

    def _drop_timeout(self) -> None:
        # Nothing is being waited for: the armed timer, if any, finds no deadline.
        self._read_deadline = None

    def _arm(self, when: float) -> None:
        handle = self._read_timeout_handle
        if handle is not None:
            handle.cancel()
        self._armed_at = when
        self._read_timeout_handle = self._loop.call_at(when, self._deadline_reached)

    def _deadline_reached(self) -> None:
        armed = self._armed_at
        self._read_timeout_handle = None
        self._armed_at = None
        deadline = self._read_deadline
        if deadline is None:
            return
        if armed is not None and deadline > armed:
            # Bytes arrived since this timer was armed: wait for the rest.
            self._arm(deadline)
            return
        self._read_deadline = None
        self._on_read_timeout()

    def connection_lost(self, exc: BaseException | None) -> None:
        handle = self._read_timeout_handle
        if handle is not None:
            handle.cancel()
            self._read_timeout_handle = None
            self._armed_at = None
        super().connection_lost(exc)


#: The parts of aiohttp's ``ResponseHandler`` that :class:`_ReadDeadlineHandler` relies on
#: (all present from aiohttp 3.12 to 3.14 at least); without any of them, the connector keeps
#: aiohttp's own.
_HANDLER_HOOKS = (
    "_reschedule_timeout",
    "_drop_timeout",
    "_on_read_timeout",
    "start_timeout",
    "connection_lost",
)


def _read_deadlines_supported() -> bool:
    return all(callable(getattr(ResponseHandler, name, None)) for name in _HANDLER_HOOKS)


def make_connector(limit: int) -> aiohttp.TCPConnector:
    """The connector of a session the client creates: at most ``limit`` connections, whose
    protocol keeps the read timeout as a deadline (:class:`_ReadDeadlineHandler`) where this
    aiohttp allows it."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0)
    factory = getattr(connector, "_factory", None)
    if (
        isinstance(factory, functools.partial)
        and factory.func is ResponseHandler
        and _read_deadlines_supported()
    ):
        make: type[ResponseHandler] = _ReadDeadlineHandler
        connector._factory = functools.partial(make, *factory.args, **factory.keywords)
    return connector


def retries_off_supported(session: aiohttp.ClientSession) -> bool:
    """Whether this aiohttp has the session switch for its re-send of idempotent requests
    on a dropped connection (``_retry_connection``, private but stable since 3.9)."""
    return isinstance(getattr(session, "_retry_connection", None), bool)


class StreamResponse:
    """A response whose body is read incrementally (tile streams)."""

    __slots__ = ("_content", "_method", "_resp", "_transport", "_url", "headers", "status")

    def __init__(
        self, resp: aiohttp.ClientResponse, method: str, url: str, transport: Transport
    ) -> None:
        self._resp = resp
        self._content = resp.content
        self._method = method
        self._url = url
        self._transport = transport
        self.status: int = resp.status
        self.headers: Mapping[str, str] = resp.headers

    def _failure(self, exc: Exception) -> PostHogError:
        return self._transport._failure(exc, self._method, self._url, response_started=True)

    async def read(self) -> bytes:
        """The whole remaining body, capped: for an error status at
        ``MAX_ERROR_BODY_BYTES`` (the rest is dropped with the connection), otherwise at the
        client's ``max_response_bytes`` (beyond it :class:`ResponseTooLargeError`)."""
        try:
            return await self._transport._read_body(self._resp, self._method, self._url)
        except PostHogError:
            raise
        except Exception as exc:
            error = self._failure(exc)
        raise error

    async def readany(self) -> bytes:
        """The body bytes that have arrived, as soon as there are any; ``b""`` at the end.

        Never waits for a line or a fixed size: an event is complete as soon as its bytes
        are in, and one event may be far larger than any sensible read size.
        """
        try:
            return await self._content.readany()
        except Exception as exc:
            error = self._failure(exc)
        raise error

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
        except Exception:
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

    ``headers`` go with every request, and ``authorization`` (the ``Authorization`` value)
    with every request to the host. On a session the transport creates they are the
    session's defaults, so a plain call passes no headers of its own (aiohttp then has
    nothing to merge), except when a proxy is in use: aiohttp copies a session's default
    headers into the proxy's ``CONNECT`` request, so the key then goes with each request
    instead, inside the tunnel.

    The session is made with ``trust_env=False``: aiohttp would otherwise look up the
    proxy environment and read ``~/.netrc`` again for every request (and a ``.netrc``
    entry for the host would clash with the key). The proxy is chosen once, when the session
    is made (:func:`~posthog_dash_async._config.resolve_proxy`).

    On a caller's session, a small middleware puts the key on each request (replacing any
    credential the session, its ``auth`` or a ``.netrc`` entry would add), keeps a loopback
    host off any proxy, and ``raise_for_status`` is turned off per request.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        host: str,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
        authorization: str | None = None,
        proxy: str | bool | None = None,
        max_response_bytes: int,
        scrub: Callable[[str], str] = redact,
        retries_off: bool = False,
    ) -> None:
        self._max_connections = max_connections
        self._host = host
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._authorization = authorization
        self._proxy_setting = proxy
        self._max_response_bytes = max_response_bytes
        self._max_error_bytes = min(MAX_ERROR_BODY_BYTES, max_response_bytes)
        self._scrub = scrub
        self._retries_off = retries_off
        # True once aiohttp's own re-send is off for the whole session (then no request
        # needs the per-request guard of _send_once).
        self._never_resends = False
        self._base_headers: dict[str, str] = {"User-Agent": USER_AGENT, **(headers or {})}
        self._request_headers: dict[str, str] | None = None
        # Keyword arguments of every request; filled when the session is made.
        self._kwargs: dict[str, Any] = {}
        # The aiohttp timeout of the Timeout last sent with (nearly always the client's).
        self._last_timeout: Timeout | None = None
        self._last_client_timeout: aiohttp.ClientTimeout | None = None
        self.proxy: ProxyRoute | None = None

    def _headers(self, extra: Mapping[str, str] | None) -> Mapping[str, str] | None:
        base = self._request_headers
        if base is None:
            return extra
        return {**base, **extra} if extra else base

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
        if session is None or not self._kwargs:
            session = self._make_session(session)
        return session

    def _make_session(self, caller: aiohttp.ClientSession | None) -> aiohttp.ClientSession:
        """Read the proxy settings (once) and make the session, or adopt the caller's."""
        setting = self._proxy_setting
        if caller is None:
            route = resolve_proxy(self._host, setting)
        else:
            # A caller's session applies the environment itself (its trust_env); only an
            # explicit proxy= is added to it.
            route = resolve_proxy(self._host, setting, {})
        self.proxy = route
        kwargs: dict[str, Any] = {"allow_redirects": False}
        if route is not None:
            kwargs["proxy"] = route.url
            if route.authorization is not None:
                kwargs["proxy_headers"] = {"Proxy-Authorization": route.authorization}
        auth = {"Authorization": self._authorization} if self._authorization else {}
        if caller is None:
            defaults = dict(self._base_headers)
            if route is None:
                defaults.update(auth)
            else:
                self._request_headers = auth or None
            connector = make_connector(self._max_connections)
            session = aiohttp.ClientSession(
                connector=connector,
                headers=defaults,
                raise_for_status=False,
                trust_env=False,
            )
            if retries_off_supported(session) and self._retries_off:
                # With retries off nothing may be sent twice: switch aiohttp's re-send off
                # for the session instead of guarding every request with a middleware.
                session._retry_connection = False
                self._never_resends = True
            self._session = session
        else:
            session = caller
            self._request_headers = dict(self._base_headers)
            kwargs["raise_for_status"] = False
            kwargs["auto_decompress"] = True
            theirs = tuple(getattr(caller, "_middlewares", None) or ())
            keep_proxy = route is not None or (setting is None and not host_is_loopback(self._host))
            kwargs["middlewares"] = (self._caller_middleware(keep_proxy), *theirs)
        self._kwargs = kwargs
        return session

    def _caller_middleware(
        self, keep_proxy: bool
    ) -> Callable[..., Awaitable[aiohttp.ClientResponse]]:
        authorization = self._authorization

        async def own_credential(
            req: aiohttp.ClientRequest,
            handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
        ) -> aiohttp.ClientResponse:
            # The session's auth=, a .netrc entry (trust_env) or default headers may have set
            # another credential: the client's key is the one sent, or none at all.
            if authorization is not None:
                req.headers["Authorization"] = authorization
            else:
                req.headers.popall("Authorization", None)
            if not keep_proxy and req.proxy is not None:
                # trust_env on the caller's session found an environment proxy for a host
                # the client never proxies (loopback: the key would cross in clear text).
                req.update_proxy(None, None, None)
            return await handler(req)

        return own_credential

    def _request_kwargs(self, method: str, once: bool) -> dict[str, Any]:
        kwargs = self._kwargs
        if self._never_resends:
            return kwargs
        if once or method not in _SAFE_METHODS:
            kwargs = dict(kwargs)
            kwargs["middlewares"] = (_send_once(), *kwargs.get("middlewares", ()))
        return kwargs

    def _failure(
        self, exc: Exception, method: str, url: str, *, response_started: bool
    ) -> TransportError | ClientStateError | InvalidArgumentError:
        if self._closed:
            return _unexpected(
                exc, method, url, closed=True, response_started=response_started, scrub=self._scrub
            )
        if isinstance(exc, _TRANSPORT_ERRORS):
            return _wrap(exc, method, url, response_started=response_started, scrub=self._scrub)
        return _unexpected(
            exc, method, url, closed=False, response_started=response_started, scrub=self._scrub
        )

    async def _read_body(self, resp: aiohttp.ClientResponse, method: str, url: str) -> bytes:
        """The body, read no further than its cap (see :meth:`StreamResponse.read`)."""
        error = resp.status >= 300
        limit = self._max_error_bytes if error else self._max_response_bytes
        length = resp.content_length
        if length is not None and "Content-Encoding" not in resp.headers:
            if length <= limit:
                return await resp.read()
            if not error:
                resp.close()
                raise self._too_large(method, url, f"Content-Length is {length} bytes")
        content = resp.content
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = await content.readany()
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                # Stop reading: what is left stays unread, and the connection is dropped.
                resp.close()
                if not error:
                    raise self._too_large(method, url, "the body (after decompression) is larger")
                chunks.append(chunk[: len(chunk) - (total - limit)])
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, method: str, url: str, why: str) -> TransportTooLarge:
        shown = self._scrub(url)
        limit = self._max_response_bytes
        return TransportTooLarge(
            f"{method} {shown}: response too large: {why}; the limit is {limit} bytes "
            "(max_response_bytes)",
            method=method,
            url=shown,
            limit=limit,
        )

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Any,
        body: bytes | None,
        timeout: Timeout,
        once: bool = False,
    ) -> Response:
        """Send one request and read the whole response (capped, see :meth:`_read_body`).

        ``headers`` are those this request needs beyond the transport's own. ``once``: the
        request must not be sent a second time even by aiohttp's own reconnect (writes
        never are).
        """
        session = self._session
        if session is None or self._closed or not self._kwargs:
            session = self._get_session()
        if timeout is self._last_timeout:
            client_timeout = self._last_client_timeout
        else:
            client_timeout = _client_timeout(timeout, False)
            self._last_timeout, self._last_client_timeout = timeout, client_timeout
        resp: aiohttp.ClientResponse | None = None
        try:
            # Awaited directly rather than through ``async with``: the body is always read
            # (or the connection closed) below, which is all its exit would do. The headers
            # and keyword arguments (the key, a proxy's credentials) are passed without being
            # held in a local of this frame, which error trackers would record.
            resp = await session.request(
                method,
                url,
                params=params,
                data=body,
                headers=self._headers(headers),
                timeout=client_timeout,
                **self._request_kwargs(method, once),
            )
            status = resp.status
            resp_headers = resp.headers
            length = resp.content_length
            # The common case read at once: a plain body whose length is within its cap.
            if (
                length is not None
                and length <= (self._max_response_bytes if status < 300 else self._max_error_bytes)
                and "Content-Encoding" not in resp_headers
            ):
                payload = await resp.read()
            else:
                payload = await self._read_body(resp, method, url)
            resp.release()
            return Response(status, resp_headers, payload)
        except TransportTooLarge:
            raise
        except BaseException as exc:
            if resp is not None:
                resp.close()
            if not isinstance(exc, Exception):
                raise
            error = self._failure(exc, method, url, response_started=resp is not None)
        raise error

    async def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        timeout: Timeout,
        once: bool = False,
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
                # The stream is consumed as-is; PostHog never compresses it.
                auto_decompress=False,
                **{
                    k: v
                    for k, v in self._request_kwargs(method, once).items()
                    if k != "auto_decompress"
                },
            )
        except Exception as exc:
            error = self._failure(exc, method, url, response_started=False)
        else:
            return StreamResponse(resp, method, url, self)
        raise error

    async def aclose(self) -> None:
        """Close the session if this transport created it; a caller's session is left open.

        Requests still in flight then end with :class:`ClientStateError`.
        """
        self._closed = True
        if not self._owns_session:
            return
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
