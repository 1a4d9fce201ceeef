"""Output of the command line: tables for people, JSON for scripts, one-line errors.

Everything written for a person goes through a `rich` console made with ``markup=False``,
``highlight=False`` and ``emoji=False``, so no text is ever read as markup, and every
string is passed through :func:`~._cli.sanitize.clean` first, so no escape sequence or
control character from a server reaches the terminal. JSON output keeps the data exact
(:func:`~._cli.sanitize.json_text`).

Exit codes are part of the command line's interface (scripts branch on them), so the
mapping from exception class to code lives here, in one place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, Any, TextIO

import msgspec
from rich import box
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

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
from ..models import StreamEvent, UnknownEvent, User
from .exits import (
    EXIT_AUTH,
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_SERVER,
    EXIT_USAGE,
    PROG,
)
from .sanitize import clean, json_text

__all__ = [
    "EXIT_AUTH",
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "PROG",
    "Output",
    "TableLines",
    "UsageError",
    "classify",
    "clean",
    "error_line",
    "event_json",
    "format_time",
    "make_console",
    "person",
    "table",
    "use_color",
]

MAX_ERROR_CHARS = 400
PIPE_WIDTH = 120

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


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_line(exc: BaseException, secret: str | None = None) -> str:
    """One line for stderr: ``posthog-dash: <label>: <message>``, never the key.

    The message often quotes the server (its ``detail``), so it is cleaned like any other
    server string.
    """
    _, label = classify(exc)
    message = " ".join(clean(str(exc)).split()) or type(exc).__name__
    message = _cut(message + _hint(exc), MAX_ERROR_CHARS)
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
    """A user as people know them: full name, else email, else ``-`` (cleaned)."""
    if user is None:
        return "-"
    name = f"{user.first_name} {user.last_name}".strip()
    return clean(name or user.email or user.uuid)


def to_json(value: Any) -> str:
    """Compact JSON of a model (or plain data), as one line, safe for a terminal."""
    return json_text(_encoder.encode(value).decode())


def event_json(event: StreamEvent) -> str:
    """A stream event as the server framed it: known events encode with their ``type`` tag
    first; an unknown one is shown as it came."""
    if isinstance(event, UnknownEvent):
        if isinstance(event.raw, dict):
            return to_json(event.raw)
        return to_json({"type": event.type or "unknown", "raw": event.raw})
    return to_json(event)


# --- consoles and tables ------------------------------------------------------------------


def use_color(stream: IO[str], *, no_color: bool = False) -> bool:
    """Colour only on a terminal, never with ``--no-color`` or ``NO_COLOR`` (no-color.org)."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(
    stream: IO[str], *, width: int | None = None, color: bool | None = None
) -> Console:
    """A console that writes ``stream``: never markup, emoji codes or highlighting (text is
    shown as it is), colour only when ``color`` (default: on a terminal without
    ``NO_COLOR``), and ``width`` columns (default: the terminal's, followed as it resizes;
    120 off a terminal)."""
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if color is None:
        color = use_color(stream)
    return Console(
        file=stream,
        width=width if width is not None else (None if terminal else PIPE_WIDTH),
        force_terminal=terminal,
        color_system="auto" if color else None,
        no_color=not color,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
        legacy_windows=False,
    )


class TableLines(list[str]):
    """The plain lines of a table, carrying the `rich` table they came from so that
    :meth:`Output.lines` prints it styled."""

    renderable: Table

    def __init__(self, lines: Iterable[str], renderable: Table) -> None:
        super().__init__(lines)
        self.renderable = renderable


def rich_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    width: int | None = None,
    flex: int = 1,
) -> Table:
    """A table of cleaned cells, one line per row. When it is wider than ``width``, column
    ``flex`` (the one with free text, e.g. a name) is narrowed, its cells cut with ``…``."""
    body = [[clean(cell) for cell in row] for row in rows]
    widths = [cell_len(h) for h in headers]
    for row in body:
        for index, cell in enumerate(row[: len(widths)]):
            widths[index] = max(widths[index], cell_len(cell))
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
        expand=False,
    )
    for index, header in enumerate(headers):
        max_width = None
        if width is not None and index == flex:
            # Between two columns: one space of padding and the box's blank divider.
            others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(widths) - 1)
            max_width = max(cell_len(header), 8, width - others)
        grid.add_column(
            Text(header), no_wrap=True, overflow="ellipsis", max_width=max_width, min_width=None
        )
    for row in body:
        grid.add_row(*(Text(cell) for cell in row))
    return grid


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    width: int | None = None,
    flex: int = 1,
) -> TableLines:
    """:func:`rich_table` as plain lines (for ``out.lines(...)``, or to read in tests)."""
    grid = rich_table(headers, rows, width=width, flex=flex)
    console = Console(
        width=width or 10_000, color_system=None, markup=False, highlight=False, emoji=False
    )
    with console.capture() as capture:
        console.print(grid)
    lines = [line.rstrip() for line in capture.get().splitlines()]
    return TableLines(lines, grid)


class _Redacting:
    """A text stream that masks the key in everything written to it."""

    def __init__(self, stream: TextIO, secret: str | None) -> None:
        self._stream = stream
        self.secret = secret

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self.secret))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (AttributeError, ValueError):
            return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"


class _Progress:
    """A progress bar on stderr (a terminal only); nothing at all otherwise."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, count: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def total(self, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


# --- the streams --------------------------------------------------------------------------


class Output:
    """stdout/stderr of one command run: cleaned text through `rich`, the key masked.

    ``out`` and ``err`` are the raw streams; :attr:`console` and :attr:`err_console` are
    the `rich` consoles on them.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        secret: str | None = None,
        width: int | None = None,
        *,
        no_color: bool = False,
    ) -> None:
        self.out: TextIO = out if out is not None else sys.stdout
        self.err: TextIO = err if err is not None else sys.stderr
        self._secret = secret
        self._out_writer = _Redacting(self.out, secret)
        self._err_writer = _Redacting(self.err, secret)
        color_out = use_color(self.out, no_color=no_color)
        color_err = use_color(self.err, no_color=no_color)
        self.color = color_out
        self.console = make_console(self._out_writer, width=width, color=color_out)  # type: ignore[arg-type]
        self.err_console = make_console(self._err_writer, width=None, color=color_err)  # type: ignore[arg-type]

    @property
    def secret(self) -> str | None:
        """The key masked in everything written."""
        return self._secret

    @secret.setter
    def secret(self, value: str | None) -> None:
        self._secret = value
        self._out_writer.secret = value
        self._err_writer.secret = value

    @property
    def width(self) -> int:
        """Columns of stdout (a terminal's follows it as it resizes)."""
        return self.console.width

    @width.setter
    def width(self, value: int) -> None:
        self.console.width = value

    def line(self, text: object = "", *, style: str | None = None) -> None:
        """Write one line (cleaned; newlines inside it kept) to stdout."""
        self.console.print(Text(clean(text, multiline=True), style=style or ""), soft_wrap=True)

    def lines(self, texts: Iterable[object]) -> None:
        """Write lines to stdout; a :func:`table` is printed as the table it is."""
        if isinstance(texts, TableLines):
            self.console.print(texts.renderable)
        else:
            for text in texts:
                self.line(text)
        self.out.flush()

    def print(self, renderable: RenderableType) -> None:
        """Write a `rich` renderable to stdout (its text must already be cleaned)."""
        self.console.print(renderable)
        self.out.flush()

    def json(self, value: Any) -> None:
        """Write a value as one line of JSON (exact data; terminal-unsafe characters escaped)."""
        self._out_writer.write(to_json(value) + "\n")
        self.out.flush()

    def raw_json_line(self, encoded: str) -> None:
        """Write one line of already-encoded JSON."""
        self._out_writer.write(json_text(encoded) + "\n")
        self.out.flush()

    def note(self, text: object) -> None:
        """Information for people (progress, confirmations in JSON mode) on stderr."""
        self.err_console.print(Text(clean(text, multiline=True), style="dim"), soft_wrap=True)
        self.err.flush()

    def error(self, exc: BaseException) -> int:
        """Report an expected failure on one line; return its exit code."""
        code, _ = classify(exc)
        self.error_text(error_line(exc, self.secret))
        return code

    def error_text(self, line: str) -> None:
        """One error line on stderr (cleaned, red on a terminal)."""
        self.err_console.print(Text(clean(line), style="bold red"), soft_wrap=True)
        self.err.flush()

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[_Progress]:
        """A transient progress bar on stderr while the block runs (on a terminal only)."""
        if not self.isatty("err"):
            yield _Progress(None, None)
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err_console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        with bar:
            task = bar.add_task(clean(description), total=total)
            yield _Progress(bar, task)

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
