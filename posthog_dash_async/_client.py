"""AsyncPostHog: the session manager. One semaphore, one rate limiter, one retry loop."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import aiohttp
import msgspec

from . import _wire
from ._cache import Cache
from ._coalesce import SharedReads, credential_digest
from ._config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    RateLimit,
    Settings,
    Timeout,
    resolve_proxy,
    resolve_settings,
)
from ._limiter import Limiter, make_limiter
from ._permits import Permits
from ._retry import RetryPolicy
from ._transport import Response, StreamResponse, Transport, TransportError
from .errors import ClientStateError, InvalidArgumentError, ResponseDecodeError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._shared_stream import StreamHub
    from .resources.dashboards import Dashboards
    from .resources.insights import Insights

__all__ = ["AsyncPostHog"]

log = logging.getLogger("posthog_dash_async")

T = TypeVar("T")
P = ParamSpec("P")

_JSON_ACCEPT = "application/json"
_BODY_HEADERS = {"Content-Type": "application/json"}


def _forgetting_locals(init: Callable[P, None]) -> Callable[P, None]:
    """``init`` such that, when it fails, the frames behind the failure keep no locals.

    The constructor's arguments hold the API key (and a proxy URL its credentials), and error
    trackers record the locals of every frame of an exception's traceback.
    """

    @functools.wraps(init)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            init(*args, **kwargs)
        except BaseException as exc:
            del args, kwargs  # this frame stays in the traceback
            _wire.forget_locals(exc)
            raise

    return wrapper


class AsyncPostHog:
    """Async client for PostHog's Dashboards REST API.

    Configuration comes from the arguments, then the environment
    (``POSTHOG_PERSONAL_API_KEY``, ``POSTHOG_HOST``, ``POSTHOG_PROJECT_ID``), then defaults.
    Use it as ``async with AsyncPostHog() as ph:`` or call :meth:`aclose` when done.

    Every request goes through one semaphore of ``max_concurrency`` permits and, unless
    ``rate_limit=None``, through a limiter that keeps the key under PostHog's throttles.
    The aiohttp session is created lazily in the running loop; a ``session`` you pass is
    used as is and never closed by the client.
    """

    @_forgetting_locals
    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str | None = None,
        project_id: int | str | None = None,
        max_concurrency: int = 16,
        timeout: Timeout | float | None = None,
        max_retries: int = 2,
        rate_limit: RateLimit | None = RateLimit(),  # noqa: B008 - frozen value
        max_event_bytes: int = 32 * 2**20,
        max_retry_wait: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        coalesce: bool = True,
        cache: Cache | None = None,
        proxy: str | bool | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise InvalidArgumentError(f"max_concurrency must be an int, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise InvalidArgumentError(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if (
            isinstance(max_event_bytes, bool)
            or not isinstance(max_event_bytes, int)
            or max_event_bytes < 1024
        ):
            raise InvalidArgumentError(
                f"max_event_bytes must be an int >= 1024, got {max_event_bytes!r}"
            )
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise InvalidArgumentError(
                f"rate_limit must be a RateLimit or None, got {rate_limit!r}"
            )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidArgumentError("session must be an aiohttp.ClientSession")
        if (
            isinstance(max_retry_wait, bool)
            or not isinstance(max_retry_wait, (int, float))
            or not max_retry_wait >= 0
        ):
            raise InvalidArgumentError(f"max_retry_wait must be >= 0, got {max_retry_wait!r}")
        if not isinstance(coalesce, bool):
            raise InvalidArgumentError(f"coalesce must be a bool, got {coalesce!r}")
        if cache is not None and not isinstance(cache, Cache):
            raise InvalidArgumentError(f"cache must be a pda.Cache or None, got {cache!r}")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1024
        ):
            raise InvalidArgumentError(
                f"max_response_bytes must be an int >= 1024, got {max_response_bytes!r}"
            )
        if proxy is not None and proxy is not False and not isinstance(proxy, str):
            raise InvalidArgumentError(
                "proxy must be a proxy URL, False (no proxy) or None (HTTPS_PROXY/NO_PROXY "
                "from the environment)"
            )

        self._settings: Settings = resolve_settings(
            api_key=api_key, host=host, project_id=project_id
        )
        if isinstance(proxy, str):
            # Checked now, so that a bad URL fails here and not at the first request; the
            # environment is read when the session is made.
            resolve_proxy("https://posthog.invalid", proxy, {})
        self.timeout = Timeout.coerce(timeout)
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.rate_limit = rate_limit
        self.max_event_bytes = max_event_bytes
        self.max_response_bytes = max_response_bytes
        self._retry = RetryPolicy(max_retries=max_retries, max_wait=float(max_retry_wait))
        self._transport = Transport(
            max_connections=max_concurrency,
            host=self._settings.host,
            session=session,
            headers={"Accept": _JSON_ACCEPT},
            authorization=self._build_auth_headers().get("Authorization"),
            proxy=proxy,
            max_response_bytes=max_response_bytes,
            scrub=self._scrub_text,
            retries_off=max_retries == 0,
        )
        key = self._settings.api_key
        digest = credential_digest(key.get() if key is not None else None)
        # Per process, or one budget for every process using the key (redis_url).
        self._limiter: Limiter | None = (
            make_limiter(rate_limit, digest=digest) if rate_limit is not None else None
        )
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: Permits | None = None
        self._closed = False
        # Identical GETs in flight are sent once (coalesce) and answers may be kept a
        # moment (cache); concurrent identical tile streams share one upstream.
        self.coalesce = coalesce
        self.cache = cache
        self._reads: SharedReads | None = (
            SharedReads(
                credential=digest,
                coalesce=coalesce,
                cache=cache,
            )
            if coalesce or cache is not None
            else None
        )
        self._stream_hub: StreamHub | None = None
        if coalesce:
            from ._shared_stream import StreamHub

            self._stream_hub = StreamHub()

        from .resources.dashboards import Dashboards
        from .resources.insights import Insights

        self.dashboards: Dashboards = Dashboards(self)
        self.insights: Insights = Insights(self)

    # --- identity -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._settings.host

    @property
    def project_id(self) -> str:
        return self._settings.project_id

    @property
    def is_closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return (
            f"AsyncPostHog(host={self.host!r}, project_id={self.project_id!r}, "
            f"max_concurrency={self.max_concurrency})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("AsyncPostHog holds an open session and an API key; it cannot be pickled")

    def _build_auth_headers(self) -> dict[str, str]:
        key = self._settings.api_key
        return {"Authorization": f"Bearer {key.get()}"} if key is not None else {}

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AsyncPostHog:
        self._bind_loop()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the session it created. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._transport.aclose()
        finally:
            if self._limiter is not None:
                await self._limiter.aclose()

    def __del__(self) -> None:
        # Only flag the leak; finalizers must not touch the event loop.
        transport = getattr(self, "_transport", None)
        if (
            transport is not None
            and not getattr(self, "_closed", True)
            and transport.owns_session
            and transport.session_open
        ):
            warnings.warn(
                f"unclosed {self!r}: use 'async with AsyncPostHog()' or 'await ph.aclose()'",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    def _bind_loop(self) -> Permits:
        if self._closed:
            raise ClientStateError("this AsyncPostHog client is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._semaphore = Permits(self.max_concurrency)
        elif self._loop is not loop:
            raise ClientStateError(
                "this AsyncPostHog client is bound to another event loop; create one client "
                "per event loop (its connections belong to the loop that opened them)"
            )
        assert self._semaphore is not None
        return self._semaphore

    # --- requests -----------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        """Absolute URL: ``/x`` is relative to the host, ``x`` to the project."""
        if path.startswith("/"):
            return f"{self._settings.host}{path}"
        return f"{self._settings.project_base}{path}"

    def _timeout_for(self, timeout: Timeout | float | None) -> Timeout:
        return self.timeout if timeout is None else Timeout.coerce(timeout)

    def _own_key(self) -> str | None:
        # Keys of another shape than phx_... (the regex's) are scrubbed too, unless too
        # short to be told apart from ordinary text.
        key = self._settings.api_key
        return key.get() if key is not None and len(key.get()) >= 8 else None

    def _scrub_text(self, text: str) -> str:
        """``text`` as logs and exceptions show it: without the API key, even when a caller
        put it into a path passed to :meth:`request` or a server echoed it."""
        return _wire.scrub_text(text, self._own_key())

    _shown = _scrub_text

    def _scrubbed(self, body: bytes) -> bytes:
        """An error body as exceptions keep it: without anything shaped like a key, nor this
        client's own key, should the server (or a proxy) have echoed it back, also when
        JSON escapes spell it (``\\u0070hx_...``)."""
        return _wire.scrub_body(body, self._own_key())

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: bytes | None = None,
        timeout: Timeout | float | None = None,
    ) -> Response:
        """Send with permit, limiter and retries; return the success response or raise.

        The one retry loop of the client: every decision (retry or raise, how long to wait)
        is a named step of :class:`RetryPolicy`. Only :class:`TransportError` (aiohttp's and
        socket failures, already wrapped) and error statuses are retried; cancellation and
        any other exception leave at once, with the permit and the limiter slot given back.
        """
        permits = self._bind_loop()
        url = self.url_for(path)
        headers = None if body is None else _BODY_HEADERS
        limits = self.timeout if timeout is None else Timeout.coerce(timeout)
        limiter = self._limiter
        send = self._transport.send
        # With retries off, not even aiohttp's own reconnect may send the request again.
        once = self._retry.max_retries == 0
        attempt = 0
        while True:
            debug = log.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if debug else 0.0
            resp: Response | None = None
            failure: TransportError | None = None
            # Waiting for the permit and the limiter happens before aiohttp starts the
            # request's timers, so it never eats into the request's timeouts.
            if not permits.take():
                await permits.acquire()
            try:
                if limiter is not None:
                    waited = await limiter.begin()
                    if waited > 0.05:
                        log.info(
                            "rate limiter: waited %.2f s to stay under the per-key limits", waited
                        )
                try:
                    resp = await send(method, url, headers, params, body, limits, once)
                except TransportError as exc:
                    failure = exc
                finally:
                    if limiter is not None:
                        limiter.end()
            finally:
                permits.release()
            if resp is not None:
                status = resp.status
                if debug:
                    log.debug(
                        "%s %s -> %d (%.1f ms, %d bytes)",
                        method,
                        self._shown(url),
                        status,
                        (time.perf_counter() - started) * 1000,
                        len(resp.body),
                    )
                if status < 300:
                    return resp
                wait, reason = self._after_status(
                    method, url, resp.status, resp.headers, resp.body, attempt
                )
            else:
                assert failure is not None
                if debug:
                    log.debug(
                        "%s %s -> %s (%.1f ms)",
                        method,
                        self._shown(url),
                        type(failure.__cause__ or failure).__name__,
                        (time.perf_counter() - started) * 1000,
                    )
                wait, reason = self._after_failure(method, failure, attempt)
            attempt += 1
            self._log_retry(method, url, wait, attempt, reason)
            await self._sleep(wait)

    def _after_status(
        self,
        method: str,
        url: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        attempt: int,
    ) -> tuple[float, str]:
        """The wait before retrying an error status, or raise its error."""
        error = _wire.decipher_error(
            status,
            _wire.scrub_headers(headers, self._own_key()),
            self._scrubbed(body),
            method=method,
            url=self._shown(url),
        )
        wait = self._retry.after_status(method, status, headers, error.detail, attempt)
        if wait is None:
            raise error
        return wait, f"status {status}"

    def _after_failure(
        self, method: str, failure: TransportError, attempt: int
    ) -> tuple[float, str]:
        """The wait before retrying a transport failure, or raise it."""
        wait = self._retry.after_transport_error(method, failure, attempt)
        if wait is None:
            raise failure
        return wait, type(failure.__cause__ or failure).__name__

    def _log_retry(self, method: str, url: str, wait: float, attempt: int, reason: str) -> None:
        log.info(
            "retrying %s %s in %.2f s (attempt %d of %d) after %s",
            method,
            self._shown(url),
            wait,
            attempt + 1,
            self._retry.max_retries + 1,
            reason,
        )

    async def _call(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], T],
        *,
        params: Any = None,
        json: Any = _wire.UNSET,
        timeout: Timeout | float | None = None,
    ) -> T:
        """Send a call (``json``, unless ``UNSET``, as its body) and ``decode`` the answer."""
        body = None if json is _wire.UNSET else _wire.encode_json(json)
        reads = self._reads
        if reads is None:
            resp = await self._send(method, path, params=params, body=body, timeout=timeout)
        elif method == "GET":
            resp = await reads.get(
                self.url_for(path),
                params,
                lambda: self._send(method, path, params=params, body=body, timeout=timeout),
            )
        else:
            # What a write may change is neither joined nor served from the cache from now
            # on, nor after it (even a failed write may have reached the server).
            url = self.url_for(path)
            reads.invalidate(url)
            try:
                resp = await self._send(method, path, params=params, body=body, timeout=timeout)
            finally:
                reads.invalidate(url)
        try:
            return decode(resp.body)
        except (msgspec.DecodeError, RecursionError) as exc:
            # RecursionError: JSON nested deeper than the decoder goes (a hostile body).
            shown = self._shown(self.url_for(path))
            reason = (
                "nested too deeply"
                if isinstance(exc, RecursionError)
                else self._scrub_text(str(exc))
            )
            error = ResponseDecodeError(
                f"{method} {shown}: the response could not be decoded: {reason}",
                method=method,
                url=shown,
            )
        raise error

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: Timeout | float | None = None,
    ) -> Any:
        """Call any endpoint with this client's auth, semaphore, limiter, retries and errors.

        ``path`` without a leading slash is relative to the project
        (``"dashboards/12/"`` -> ``/api/projects/{project_id}/dashboards/12/``); with one,
        relative to the host. ``json`` (when not ``None``) is sent as the JSON body.
        Returns the decoded JSON as plain Python data, or ``None`` for an empty body.
        """
        if not isinstance(method, str) or not _wire.is_method_token(method):
            raise InvalidArgumentError(
                f"method must be an HTTP method name such as 'GET' or 'POST', got {method!r}"
            )
        if (
            not isinstance(path, str)
            or not path
            or "://" in path
            or path.startswith("//")
            # Control characters and lone surrogates: yarl would drop or mangle them, and a
            # different request than the one asked for would be sent.
            or not path.isprintable()
        ):
            shown = self._shown(path) if isinstance(path, str) else path
            raise InvalidArgumentError(
                f"path must be a path such as 'dashboards/' or '/api/users/@me/', got {shown!r}"
            )
        query: list[tuple[str, str]] | None = None
        if params is not None:
            if not isinstance(params, Mapping):
                raise InvalidArgumentError("params must be a mapping")
            query = []
            for key, value in params.items():
                if value is None:
                    continue
                name = _wire.join_query_value(key)
                if isinstance(value, (list, tuple)):
                    query.extend((name, _wire.join_query_value(v)) for v in value)
                else:
                    query.append((name, _wire.join_query_value(value)))
        return await self._call(
            method.upper(),
            path,
            _wire.decode_any,
            params=query,
            json=_wire.UNSET if json is None else json,
            timeout=timeout,
        )

    @asynccontextmanager
    async def _stream(
        self,
        path: str,
        *,
        params: Any = None,
        accept: str,
        timeout: Timeout | None = None,
    ) -> AsyncIterator[StreamResponse]:
        """Open a streamed GET holding one permit until the caller's block exits.

        Non-success statuses raise the status error with the body read; the connection is
        then closed. The same retry policy as :meth:`_send` applies, but only until the
        response starts: once events flow, a retry would replay the whole stream.
        """
        permits = self._bind_loop()
        url = self.url_for(path)
        # The body is consumed as sent (no decompression), so no compression is offered.
        headers = {"Accept": accept, "Accept-Encoding": "identity"}
        limits = self._timeout_for(timeout)
        limiter = self._limiter
        attempt = 0
        while True:
            await permits.acquire()
            resp: StreamResponse | None = None
            try:
                if limiter is not None:
                    await limiter.begin()
                try:
                    resp = await self._transport.open_stream(
                        "GET",
                        url,
                        headers=headers,
                        params=params,
                        timeout=limits,
                        once=self._retry.max_retries == 0,
                    )
                finally:
                    # The server counts the request when it arrives: by the time the status
                    # line is back it has been counted, so the stream stops being in flight.
                    if limiter is not None:
                        limiter.end()
            except TransportError as exc:
                permits.release()
                wait, reason = self._after_failure("GET", exc, attempt)
            except BaseException:
                permits.release()
                raise
            else:
                if resp.status < 300:
                    break
                try:
                    body = await resp.read()
                finally:
                    resp.close()
                    permits.release()
                wait, reason = self._after_status(
                    "GET", url, resp.status, resp.headers, body, attempt
                )
            attempt += 1
            self._log_retry("GET", url, wait, attempt, reason)
            await self._sleep(wait)
        try:
            yield resp
        finally:
            try:
                if resp.body_finished:
                    resp.release()
                else:
                    resp.close()
            finally:
                permits.release()
