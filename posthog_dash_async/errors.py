"""The exception hierarchy of posthog-dash-async.

Every exception the SDK raises derives from :class:`PostHogError`. Exceptions carry what a
caller needs to react (status, DRF ``type``/``code``/``detail``/``attr``, the raw body,
response headers, method and URL) and nothing secret: request headers are never kept, and
URLs never contain credentials because the SDK only sends the key in the ``Authorization``
header. All exceptions survive ``pickle`` (useful across process pools).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStateError",
    "EventTooLargeError",
    "InvalidArgumentError",
    "LimitExceededError",
    "MethodNotAllowedError",
    "MissingScopeError",
    "NotFoundError",
    "PermissionDeniedError",
    "PostHogError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "StreamDecodeError",
    "StreamError",
    "StreamIncompleteError",
    "UnsupportedForApiKeyError",
]

#: How much of a response body an exception keeps (bytes). Error bodies are small in
#: practice; a proxy's HTML page is not, and must not bloat logs or pickles.
MAX_BODY_KEPT = 8192


def _rebuild(cls: type[PostHogError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class PostHogError(Exception):
    """Base class of every exception raised by posthog-dash-async."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only constructor arguments; rebuild from state instead
        # of calling __init__ so that every subclass pickles without extra code.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ClientStateError(PostHogError, RuntimeError):
    """The client was used in a state that cannot work: after ``aclose()``, or from an
    event loop other than the one it was first used in."""


class InvalidArgumentError(PostHogError, ValueError):
    """An argument was rejected before anything was sent to the server."""


class APIConnectionError(PostHogError):
    """The request failed below HTTP: DNS, connect, TLS, reset, or a malformed response.

    The original transport exception is kept as ``__cause__``.
    """

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """A connect, read, total or stream-idle timeout expired."""


class ResponseTooLargeError(APIConnectionError):
    """A response body (after decompression) exceeded the client's ``max_response_bytes``.

    Reading stopped at the limit (a gzip bomb costs no more than that); ``limit`` is it.
    Never retried: another attempt would bring the same body.
    """

    def __init__(self, message: str, *, method: str = "", url: str = "", limit: int = 0) -> None:
        super().__init__(message, method=method, url=url)
        self.limit = limit


class ResponseDecodeError(APIConnectionError):
    """A success response whose body is not what the endpoint returns: not JSON, the wrong
    shape, or nested too deeply to decode. Never retried."""


class APIStatusError(PostHogError):
    """The server answered with a non-success status.

    Attributes follow PostHog's error envelope ``{"type", "code", "detail", "attr"}``; when
    the body is not in that shape (an empty 405, a proxy's HTML page, the sharing endpoint's
    ``{"error": ...}``) ``type``/``code``/``attr`` are ``None`` and ``detail`` is the best
    human-readable text that could be found.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        code: str | None = None,
        detail: str | None = None,
        attr: str | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.code = code
        self.detail = detail
        self.attr = attr
        self.body = body[:MAX_BODY_KEPT]
        self.headers: dict[str, str] = dict(headers or {})
        self.method = method
        self.url = url

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` response header, when the server or a proxy sent one."""
        for key, value in self.headers.items():
            if key.lower() == "x-request-id":
                return value
        return None


class BadRequestError(APIStatusError):
    """400: validation failed (``attr`` names the field) or the body could not be parsed."""


class AuthenticationError(APIStatusError):
    """401: no credentials, or the personal API key is invalid or belongs to an inactive user."""


class LimitExceededError(APIStatusError):
    """402 ``limit_exceeded``: a resource limit of the team or dashboard is reached (the
    number of dashboards of a team, of insight tiles on a dashboard, ...).

    ``limit`` is the body's ``extra`` object when it has one, e.g. ``{"limit_key":
    "analytics.max_dashboards_per_team", "limit": 500, "current": 500, "request": {...}}``.
    """

    @property
    def limit(self) -> dict[str, Any] | None:
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        extra = parsed.get("extra") if isinstance(parsed, dict) else None
        return extra if isinstance(extra, dict) else None


class PermissionDeniedError(APIStatusError):
    """403: the credential may not do this (scope, project access, edit rights, ...)."""


class UnsupportedForApiKeyError(PermissionDeniedError):
    """403 "This action does not support personal API key access".

    On PostHog versions where an action declares no API scope (``stream_tiles``,
    ``create_from_template_json`` and, on older servers, ``move_tile``) no personal API key
    can call it, whatever its scopes; only session or OAuth authentication can.
    """


class MissingScopeError(PermissionDeniedError):
    """403 "API key missing required scope '<scope>'"; ``scope`` names it when known."""

    @property
    def scope(self) -> str | None:
        detail = self.detail or ""
        start = detail.find("'")
        end = detail.find("'", start + 1)
        if start == -1 or end == -1:
            return None
        return detail[start + 1 : end]


class NotFoundError(APIStatusError):
    """404: unknown or soft-deleted dashboard, unknown project, tile or collaborator."""


class MethodNotAllowedError(APIStatusError):
    """405: e.g. ``DELETE /dashboards/{id}/``, which PostHog always refuses (soft delete only)."""


class RateLimitError(APIStatusError):
    """429: throttled. ``retry_after`` is the wait in seconds the server asked for, if known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimiterUnavailableError(PostHogError):
    """The shared rate budget (``RateLimit(redis_url=...)``) could not be reached and
    ``redis_fallback="refuse"`` forbids sending without it. Nothing was sent.

    ``redis_url`` is the address as logs show it (never a password).
    """

    def __init__(self, message: str, *, redis_url: str = "") -> None:
        super().__init__(message)
        self.redis_url = redis_url


class ServerError(APIStatusError):
    """5xx: the server failed. ``retry_after`` is the wait in seconds of the response's
    ``Retry-After`` header, if it had one (e.g. the 503 of an overloaded tile stream)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class StreamError(PostHogError):
    """The tile stream carried a fatal ``{"type": "error"}`` event; the stream is over.

    ``error`` is the server's message; ``received`` is the dashboard as far as it arrived
    (see :class:`StreamIncompleteError`), or ``None`` when no metadata came first.
    """

    def __init__(self, message: str, *, error: str = "", received: Any = None) -> None:
        super().__init__(message)
        self.error = error
        self.received = received


class StreamDecodeError(StreamError):
    """A tile stream event was not what the protocol says: its data is not JSON, not an
    object with a string ``type``, a known type without that type's shape, or an event out
    of order (a tile before the metadata, a second metadata). The stream is over; nothing
    was skipped silently.

    ``raw`` is the event's data as received (at most ``MAX_BODY_KEPT`` bytes, anything
    shaped like an API key hidden), ``event_type`` its ``type`` when known,
    ``events_received`` how many events were delivered before it, ``received`` as for
    :class:`StreamError`.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: bytes = b"",
        event_type: str | None = None,
        events_received: int = 0,
        received: Any = None,
    ) -> None:
        super().__init__(message, error=message, received=received)
        self.raw = raw[:MAX_BODY_KEPT]
        self.event_type = event_type
        self.events_received = events_received


class StreamIncompleteError(PostHogError):
    """The tile stream ended (EOF) before its ``complete`` event.

    ``received`` is what arrived, so partial results are not lost: the metadata's
    :class:`~posthog_dash_async.Dashboard` with every tile received when the stream was
    read by ``collect()`` (while iterating, tiles were already handed to the caller and are
    not kept), or ``None`` when not even the metadata arrived.
    """

    def __init__(self, message: str, *, received: Any = None) -> None:
        super().__init__(message)
        self.received = received


class EventTooLargeError(PostHogError):
    """One server-sent event exceeded the client's ``max_event_bytes``."""

    def __init__(self, message: str, *, limit: int = 0) -> None:
        super().__init__(message)
        self.limit = limit
