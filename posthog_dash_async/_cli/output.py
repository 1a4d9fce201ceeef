"""Output of the command line: tables for people, JSON for scripts, one-line errors.

Exit codes are part of the command line's interface (scripts branch on them), so the
mapping from exception class to code lives here, in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

import msgspec

from ..errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PostHogError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamIncompleteError,
    UnsupportedForApiKeyError,
)
from ..models import (
    StreamEvent,
    UnknownEvent,
    User,
)
from .render import display_width, truncate

__all__ = [
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "Output",
    "UsageError",
    "classify",
    "error_line",
    "event_json",
    "format_time",
    "person",
    "table",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_RATE_LIMITED = 5
EXIT_SERVER = 6
EXIT_NETWORK = 7
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

PROG = "posthog-dash"
MAX_ERROR_CHARS = 400

_encoder = msgspec.json.Encoder()


class UsageError(Exception):
    """The command line was used wrongly in a way argparse cannot see (a bad file, ...)."""


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the short label of an expected failure."""
    if isinstance(exc, (UsageError, InvalidArgumentError)):
        return EXIT_USAGE, "usage"
    if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH, "not allowed" if isinstance(exc, PermissionDeniedError) else "auth"
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND, "not found"
    if isinstance(exc, RateLimitError):
        return EXIT_RATE_LIMITED, "rate limited"
    if isinstance(exc, ServerError):
        return EXIT_SERVER, "server error"
    if isinstance(exc, APIConnectionError):
        return EXIT_NETWORK, "network"
    if isinstance(exc, (StreamError, StreamIncompleteError)):
        return EXIT_ERROR, "stream"
    if isinstance(exc, APIStatusError):
        return EXIT_ERROR, "bad request" if exc.status == 400 else f"HTTP {exc.status}"
    return EXIT_ERROR, "error"


def _hint(exc: BaseException) -> str:
    if isinstance(exc, UnsupportedForApiKeyError):
        return (
            " (PostHog does not accept personal API keys on this endpoint; it needs a "
            "session or OAuth login)"
        )
    if isinstance(exc, AuthenticationError):
        return " (check POSTHOG_PERSONAL_API_KEY or --api-key)"
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        return f" (retry in {exc.retry_after:.0f} s)"
    return ""


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked."""
    if secret and secret in text:
        return text.replace(secret, "***")
    return text


def error_line(exc: BaseException, secret: str | None = None) -> str:
    """One line for stderr: ``posthog-dash: <label>: <message>``, never the key."""
    _, label = classify(exc)
    message = " ".join(str(exc).split()) or type(exc).__name__
    message = truncate(message + _hint(exc), MAX_ERROR_CHARS)
    return redact(f"{PROG}: {label}: {message}", secret)


# --- values -------------------------------------------------------------------------------


def format_time(value: datetime | None) -> str:
    """``2025-11-03 09:41`` in UTC, ``-`` when absent."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M")


def person(user: User | None) -> str:
    """A user as people know them: full name, else email, else ``-``."""
    if user is None:
        return "-"
    name = f"{user.first_name} {user.last_name}".strip()
    return name or user.email or user.uuid


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    width: int | None = None,
    flex: int = 1,
) -> list[str]:
    """A left-aligned text table. When it is wider than ``width``, column ``flex`` (the one
    with free text, e.g. a name) is narrowed, its cells cut with an ellipsis."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in body:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], display_width(cell))
    if width is not None and 0 <= flex < len(widths):
        total = sum(widths) + 2 * (len(widths) - 1)
        if total > width:
            widths[flex] = max(len(headers[flex]), 8, widths[flex] - (total - width))

    def line(cells: Sequence[str]) -> str:
        parts = []
        for index, cell in enumerate(cells):
            text = truncate(cell, widths[index])
            pad = widths[index] - display_width(text)
            parts.append(text + " " * pad if index < len(cells) - 1 else text)
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in body)]


def to_json(value: Any) -> str:
    """Compact JSON of a model (or plain data), as one line."""
    return _encoder.encode(value).decode()


def event_json(event: StreamEvent) -> str:
    """A stream event as the server framed it: known events encode with their ``type`` tag
    first; an unknown one is shown as it came."""
    if isinstance(event, UnknownEvent):
        if isinstance(event.raw, dict):
            return to_json(event.raw)
        return to_json({"type": event.type or "unknown", "raw": event.raw})
    return to_json(event)


# --- the streams --------------------------------------------------------------------------


@dataclass
class Output:
    """stdout/stderr of one command run, with the key masked in everything written."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    secret: str | None = None
    width: int = 100

    def line(self, text: str = "") -> None:
        """Write one line to stdout."""
        self.out.write(redact(text, self.secret) + "\n")

    def lines(self, texts: Iterable[str]) -> None:
        """Write lines to stdout."""
        for text in texts:
            self.line(text)
        self.out.flush()

    def json(self, value: Any) -> None:
        """Write a value as one line of JSON."""
        self.line(to_json(value))
        self.out.flush()

    def note(self, text: str) -> None:
        """Information for people (progress, confirmations in JSON mode) on stderr."""
        self.err.write(redact(text, self.secret) + "\n")
        self.err.flush()

    def error(self, exc: BaseException) -> int:
        """Report an expected failure on one line; return its exit code."""
        code, _ = classify(exc)
        self.err.write(error_line(exc, self.secret) + "\n")
        self.err.flush()
        return code

    def isatty(self, which: str = "out") -> bool:
        """Whether stdout (``"out"``) or stderr (``"err"``) is a terminal."""
        stream = self.out if which == "out" else self.err
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False


def is_expected(exc: BaseException) -> bool:
    """Failures the command line reports in one line rather than with a traceback."""
    return isinstance(exc, (PostHogError, UsageError))
