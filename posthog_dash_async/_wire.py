"""Pure protocol helpers: argument checks, request bodies and URLs, error deciphering,
``Retry-After`` and throttle-body waits, pagination planning.

No I/O here: everything takes and returns plain values, so it is tested without a network.
"""

from __future__ import annotations

import email.utils
import math
import re
import traceback
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Final
from urllib.parse import quote

import msgspec

from . import errors

__all__ = [
    "UNSET",
    "body_from",
    "check_choice",
    "check_id",
    "check_uuid",
    "decipher_error",
    "encode_json",
    "error_class_for",
    "parse_retry_after",
    "plan_offsets",
    "throttle_wait",
]

UNSET: Final = msgspec.UNSET
UnsetType = msgspec.UnsetType

_encoder = msgspec.json.Encoder()
_KEY_RE: Final = re.compile(r"ph[xa]_[A-Za-z0-9_\-]{6,}")


_KEY_BYTES_RE: Final = re.compile(rb"ph[xa]_[A-Za-z0-9_\-]{6,}")


def redact(text: str) -> str:
    """Hide anything that looks like a PostHog personal API key or OAuth token."""
    return _KEY_RE.sub(lambda m: m.group(0)[:4] + "***", text)


def redact_bytes(body: bytes) -> bytes:
    """:func:`redact` for a response body a server may have echoed a key into."""
    return _KEY_BYTES_RE.sub(lambda m: m.group(0)[:4] + b"***", body)


def forget_locals(exc: BaseException | None) -> None:
    """Drop the local variables of the finished frames behind ``exc`` and the exceptions
    chained to it.

    Error trackers (Sentry and the like) record the locals of every frame of an exception's
    traceback and of its ``__cause__``/``__context__``: aiohttp's frames hold the request's
    headers (the key among them), the constructor's the ``api_key`` argument, the redis
    client's the password it sent. The frames stay, with their files and lines, for the
    traceback; frames still running (the caller's, and the SDK's own up to where the error
    is raised, which hold no secret) are left alone.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 16:
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__


def scrub_text(text: str, key: str | None) -> str:
    """:func:`redact`, and ``key`` itself (of any shape) replaced by ``***``."""
    text = redact(text)
    if key is not None and key in text:
        text = text.replace(key, "***")
    return text


def _scrub_value(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return scrub_text(value, key)
    if isinstance(value, list):
        return [_scrub_value(v, key) for v in value]
    if isinstance(value, dict):
        return {scrub_text(str(k), key): _scrub_value(v, key) for k, v in value.items()}
    return value


def scrub_body(body: bytes, key: str | None) -> bytes:
    """A response body without anything shaped like a key, nor ``key`` itself.

    Scrubbed as bytes first, then, when the body holds JSON escapes (``\\u0070hx_...``
    spells a key the bytes do not show), once more after decoding: the body is then the
    scrubbed value re-encoded, so that whoever decodes it finds no key either.
    """
    body = redact_bytes(body)
    if key is not None:
        raw = key.encode()
        if raw in body:
            body = body.replace(raw, b"***")
    if b"\\" not in body:
        return body
    try:
        value = _any_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return body
    scrubbed = _scrub_value(value, key)
    if scrubbed == value:
        return body
    return _encoder.encode(scrubbed)


def scrub_headers(headers: Mapping[str, str], key: str | None) -> dict[str, str]:
    """Response headers with every name and value scrubbed (a server may echo the key)."""
    return {scrub_text(k, key): scrub_text(v, key) for k, v in headers.items()}


_TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_method_token(method: str) -> bool:
    """An HTTP method name: an RFC 9110 token of ASCII characters, and not ``CONNECT``
    (which would turn the connection into a tunnel)."""
    return _TOKEN_RE.fullmatch(method) is not None and method.upper() != "CONNECT"


_any_decoder = msgspec.json.Decoder()


def encode_json(value: Any) -> bytes:
    """Compact JSON, as the server itself writes it."""
    try:
        return _encoder.encode(value)
    except RecursionError:
        raise errors.InvalidArgumentError(
            "value is not JSON-serializable: it refers to itself or is nested too deeply"
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise errors.InvalidArgumentError(f"value is not JSON-serializable: {exc}") from None


def ignore_body(body: bytes) -> None:
    """For calls answered without content (204)."""
    return None


def decode_any(body: bytes) -> Any:
    """Plain Python data for a JSON body, ``None`` for an empty one (raises msgspec's
    ``DecodeError``, or ``RecursionError`` for JSON nested too deeply)."""
    if not body:
        return None
    return _any_decoder.decode(body)


# --- argument checks (all raise InvalidArgumentError and send nothing) -----------------


#: PostHog's ids are 64-bit database keys; anything larger cannot name a row (and an int
#: of thousands of digits could not even be formatted into a path).
MAX_ID: Final = 2**63 - 1


def check_id(name: str, value: object) -> int:
    """A positive int id; bools and numeric strings are refused so paths stay predictable."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise errors.InvalidArgumentError(f"{name} must be a positive int, got {_short(value)}")
    if value > MAX_ID:
        raise errors.InvalidArgumentError(f"{name} must be at most 2**63 - 1, got a larger int")
    return value


def _short(value: object) -> str:
    """``repr(value)`` for an error message, never failing nor growing without bound."""
    try:
        text = repr(value)
    except Exception:  # an int too large to format, a repr that raises
        text = f"a {type(value).__name__}"
    return text if len(text) <= 200 else text[:200] + "..."


def check_optional_id(name: str, value: object) -> int | None:
    if value is None:
        return None
    return check_id(name, value)


def check_uuid(name: str, value: object) -> str:
    """A UUID (``uuid.UUID`` or its text form); returned in canonical lower-case text.

    Because only the canonical form reaches the URL, no value such as ``../../x`` can
    change the path of a request.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise errors.InvalidArgumentError(f"{name} must be a UUID, got {value!r}")


def check_choice(name: str, value: object, choices: Iterable[object]) -> Any:
    options = tuple(choices)
    # True == 1 == 1.0 in Python: a choice only matches a value of its own type, so that
    # exactly the documented value is sent (a bool is never taken for a number, nor back).
    is_bool = isinstance(value, bool)
    if not any(
        isinstance(value, type(c)) and isinstance(c, bool) == is_bool and value == c
        for c in options
    ):
        raise errors.InvalidArgumentError(f"{name} must be one of {options!r}, got {value!r}")
    return value


def check_type(name: str, value: object, types: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise errors.InvalidArgumentError(f"{name} must be {what}, got {value!r}")
    if not isinstance(value, types):
        raise errors.InvalidArgumentError(f"{name} must be {what}, got {value!r}")
    return value


def check_str_list(name: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise errors.InvalidArgumentError(f"{name} must be a list of strings, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise errors.InvalidArgumentError(f"{name} must be a list of strings, got {value!r}")
    return items


#: PostHog's longest ``search`` term on dashboards and insights (longer ones answer 400).
MAX_SEARCH = 200


def page_params(limit: object, offset: object) -> list[tuple[str, str]]:
    """The ``limit`` (a positive int) and ``offset`` (an int >= 0) of a list call, checked;
    those given as ``None`` are left out."""
    params: list[tuple[str, str]] = []
    if limit is not None:
        params.append(("limit", str(check_id("limit", limit))))
    if offset is not None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise errors.InvalidArgumentError(f"offset must be an int >= 0, got {offset!r}")
        params.append(("offset", str(offset)))
    return params


def check_search(search: object) -> str:
    """A ``search`` term of dashboards or insights: a string of at most ``MAX_SEARCH``."""
    term: str = check_type("search", search, str, "a string")
    if len(term) > MAX_SEARCH:
        raise errors.InvalidArgumentError(f"search must be at most {MAX_SEARCH} characters")
    return term


def body_from(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of the given keyword arguments, leaving out those that are ``UNSET``."""
    return {key: value for key, value in fields.items() if value is not UNSET}


def path_segment(value: int | str) -> str:
    return quote(str(value), safe="")


def join_query_value(value: object) -> str:
    """Query values as the server's parsers expect them (JSON for objects, lower-case bools)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return encode_json(value).decode()
    try:
        return str(value)
    except ValueError:  # an int beyond Python's limit on digits to format
        raise errors.InvalidArgumentError(
            f"query value is too large to send: a {type(value).__name__}"
        ) from None


# --- errors -----------------------------------------------------------------------------

_STATUS_CLASSES: Final[dict[int, type[errors.APIStatusError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    402: errors.LimitExceededError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    405: errors.MethodNotAllowedError,
    429: errors.RateLimitError,
}

_UNSUPPORTED_RE: Final = re.compile(r"does not support personal api key access", re.IGNORECASE)
_MISSING_SCOPE_PREFIX: Final = "API key missing required scope"
_THROTTLE_RE: Final = re.compile(r"Expected available in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_TEXT_SNIPPET: Final = 200


def error_class_for(status: int, detail: str | None) -> type[errors.APIStatusError]:
    if status == 403 and detail:
        if _UNSUPPORTED_RE.search(detail):
            return errors.UnsupportedForApiKeyError
        if detail.startswith(_MISSING_SCOPE_PREFIX):
            return errors.MissingScopeError
    if status >= 500:
        return errors.ServerError
    return _STATUS_CLASSES.get(status, errors.APIStatusError)


def _text_of(body: bytes) -> str:
    text = body[:_TEXT_SNIPPET].decode("utf-8", "replace")
    return " ".join(text.split())


def decipher_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    url: str,
    now: datetime | None = None,
) -> errors.APIStatusError:
    """Build the exception for a non-success response.

    Uses the DRF envelope ``{type, code, detail, attr}`` when the body has one, a bare
    ``{"detail": ...}`` or ``{"error": ...}`` object when that is what came, and the
    status alone otherwise (an empty 405, a proxy's HTML page).
    """
    type_: str | None = None
    code: str | None = None
    detail: str | None = None
    attr: str | None = None
    parsed: Any = None
    if body[:1] in (b"{", b"[") or body.lstrip()[:1] == b"{":
        try:
            parsed = _any_decoder.decode(body)
        except (msgspec.DecodeError, RecursionError):
            parsed = None
    if isinstance(parsed, dict):
        raw_type, raw_code = parsed.get("type"), parsed.get("code")
        raw_detail, raw_attr = parsed.get("detail"), parsed.get("attr")
        type_ = raw_type if isinstance(raw_type, str) else None
        code = raw_code if isinstance(raw_code, str) else None
        attr = raw_attr if isinstance(raw_attr, str) else None
        if isinstance(raw_detail, str):
            detail = raw_detail
        elif isinstance(parsed.get("error"), str):
            detail = parsed["error"]
        elif raw_detail is not None:
            detail = str(raw_detail)
    elif body:
        detail = _text_of(body) or None

    cls = error_class_for(status, detail)
    summary = f"{method} {url} -> {status}"
    reason = detail or _default_reason(status)
    message = redact(f"{summary}: {reason}")
    if code:
        message += f" (code={code}" + (f", attr={attr})" if attr else ")")
    kwargs: dict[str, Any] = {
        "status": status,
        "type": type_,
        "code": code,
        "detail": detail,
        "attr": attr,
        "body": body,
        "headers": headers,
        "method": method,
        "url": url,
    }
    if cls is errors.RateLimitError:
        wait = parse_retry_after(header_value(headers, "Retry-After"), now=now)
        if wait is None:
            wait = throttle_wait(detail)
        return errors.RateLimitError(message, retry_after=wait, **kwargs)
    if cls is errors.ServerError:
        wait = parse_retry_after(header_value(headers, "Retry-After"), now=now)
        if wait is not None:
            message += f" (Retry-After: {wait:g} s)"
        return errors.ServerError(message, retry_after=wait, **kwargs)
    return cls(message, **kwargs)


def _default_reason(status: int) -> str:
    reasons = {
        400: "Bad Request",
        401: "Unauthorized",
        402: "Payment Required",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        408: "Request Timeout",
        409: "Conflict",
        415: "Unsupported Media Type",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return reasons.get(status, "HTTP error")


# --- waits ------------------------------------------------------------------------------


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, matching its name case-insensitively (HTTP header names are) even
    when ``headers`` is a plain dict."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


def throttle_wait(detail: str | None) -> float | None:
    """The wait in PostHog's 429 text: "Request was throttled. Expected available in N seconds."

    PostHog sends no ``Retry-After`` on its own 429s; the body is where the wait is.
    """
    if not detail:
        return None
    match = _THROTTLE_RE.search(detail)
    return float(match.group(1)) if match else None


# --- pagination -------------------------------------------------------------------------


def plan_offsets(count: int, start: int, page_len: int) -> range:
    """Offsets of the pages after the first, for ``count`` items in pages of ``page_len``.

    ``start`` is the first page's offset; the first page already covered
    ``start .. start + page_len``. A ``range``, never a list: a server may claim any
    ``count`` (``10**15``), and planning costs nothing until offsets are taken.
    """
    if page_len <= 0:
        return range(0)
    return range(start + page_len, max(count, 0), page_len)
