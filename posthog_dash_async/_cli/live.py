"""Drive a tile stream onto a terminal: redrawn in place on a tty, appended lines otherwise.

Redrawing uses plain ANSI sequences (cursor to the start of a previous line, erase to the
end of the screen), so it needs no curses and no dependency. A frame never grows past the
terminal's height: the cursor cannot move above the top of the screen, so a taller frame
would leave stale copies behind. Once the stream ends the live region is replaced by the
full final view, so the scrollback keeps every tile.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Protocol, TextIO

from ..errors import StreamError, StreamIncompleteError
from .render import FAIL_MARK, LiveView, truncate

if TYPE_CHECKING:
    from .._streaming import TileStream

__all__ = [
    "AppendPainter",
    "Painter",
    "RedrawPainter",
    "painter_for",
    "show_stream",
    "use_color",
]

HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
ERASE_DOWN = "\x1b[J"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
DIM = "\x1b[2m"
RESET = "\x1b[0m"


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return _isatty(stream) and not os.environ.get("NO_COLOR")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _style(line: str, color: bool) -> str:
    if not color:
        return line
    if line.startswith(FAIL_MARK):
        return f"{RED}{line}{RESET}"
    if line.startswith("■ "):
        return f"{BOLD}{line}{RESET}"
    if line.startswith("["):
        return f"{DIM}{line}{RESET}"
    return line


class Painter(Protocol):
    """Where a :class:`LiveView` goes after each event."""

    def start(self, view: LiveView) -> None:
        """Before the first event."""

    def update(self, view: LiveView, added: list[str]) -> None:
        """After each event; ``added`` holds the lines that event contributed."""

    def finish(self, view: LiveView, elapsed: float) -> None:
        """The stream ended (completely, or with a stream error shown in the view)."""

    def abandon(self, view: LiveView) -> None:
        """The stream was given up (an error before or during it, or Ctrl-C)."""


class AppendPainter:
    """Plain lines, appended: for pipes, files and logs. Each tile's first line carries its
    position (``[3]``, or ``[3/4]`` once the total is known)."""

    def __init__(self, out: TextIO, *, width: int, color: bool = False) -> None:
        self._out = out
        self._width = width
        self._color = color
        self._shown = 0

    def start(self, view: LiveView) -> None:
        return None

    def update(self, view: LiveView, added: list[str]) -> None:
        if not added:
            return
        lines = []
        for line in added:
            if line.startswith(("■ ", FAIL_MARK)) and self._shown < view.received:
                self._shown += 1
                position = (
                    f"{self._shown}/{view.total}" if view.total is not None else str(self._shown)
                )
                line = f"[{position}] {line}"
            lines.append(_style(truncate(line, self._width), self._color))
        self._out.write("\n".join(lines) + "\n")
        self._out.flush()

    def finish(self, view: LiveView, elapsed: float) -> None:
        self._out.write(_style(f"{view.status_line()} in {elapsed:.2f} s", self._color) + "\n")
        self._out.flush()

    def abandon(self, view: LiveView) -> None:
        return None


class RedrawPainter:
    """The whole view redrawn in place after every event (a terminal)."""

    def __init__(self, out: TextIO, *, width: int, height: int, color: bool = True) -> None:
        self._out = out
        self._width = width
        self._height = max(3, height)
        self._color = color
        self._drawn = 0
        self._cursor_hidden = False

    def _draw(self, lines: list[str]) -> None:
        parts = []
        if self._drawn:
            # Back to the first line of the previous frame, then erase it all.
            parts.append(f"\x1b[{self._drawn}F")
        parts.append(ERASE_DOWN)
        parts.extend(_style(truncate(line, self._width), self._color) + "\n" for line in lines)
        self._out.write("".join(parts))
        self._out.flush()
        self._drawn = len(lines)

    def start(self, view: LiveView) -> None:
        self._out.write(HIDE_CURSOR)
        self._cursor_hidden = True
        self._draw(view.frame(self._height - 1))

    def update(self, view: LiveView, added: list[str]) -> None:
        if view.done:
            return  # finish() draws the final frame, with the elapsed time
        self._draw(view.frame(self._height - 1))

    def finish(self, view: LiveView, elapsed: float) -> None:
        lines = view.frame()
        lines[len(view.header_lines())] = f"{view.status_line()} in {elapsed:.2f} s"
        self._draw(lines)
        self._drawn = 0
        self._show_cursor()

    def abandon(self, view: LiveView) -> None:
        """Give the cursor back. Tiles already on screen stay (after Ctrl-C they are what
        the user was looking at); a frame that only said "waiting" is erased."""
        if self._drawn and view.dashboard is None:
            self._out.write(f"\x1b[{self._drawn}F{ERASE_DOWN}")
        self._drawn = 0
        self._show_cursor()

    def _show_cursor(self) -> None:
        if self._cursor_hidden:
            self._out.write(SHOW_CURSOR)
            self._cursor_hidden = False
        self._out.flush()


async def show_stream(stream: TileStream, painter: Painter, *, width: int = 80) -> LiveView:
    """Read ``stream`` to its end, painting after every event; return the final view.

    A broken stream is shown in the view (``✗ stream failed: ...``) and its exception is
    re-raised for the caller to report. Any other exception (including cancellation by
    Ctrl-C) leaves the terminal clean: cursor shown, a frame with nothing in it erased.
    """
    view = LiveView(width=width)
    started = time.perf_counter()
    painter.start(view)
    finished = False
    try:
        async with stream:
            async for event in stream:
                painter.update(view, view.feed(event))
        finished = True
        painter.finish(view, time.perf_counter() - started)
        return view
    except (StreamError, StreamIncompleteError) as exc:
        # Keep the tiles that did arrive on screen, with the failure under them.
        painter.update(view, view.fail(_reason(exc)))
        finished = True
        painter.finish(view, time.perf_counter() - started)
        raise
    finally:
        if not finished:
            painter.abandon(view)


def _reason(exc: StreamError | StreamIncompleteError) -> str:
    if isinstance(exc, StreamError) and exc.error:
        return exc.error
    return "the stream ended before it was complete"


def painter_for(out: TextIO, *, live: bool, width: int, height: int) -> Painter:
    """The in-place painter when asked for ``--live`` on a terminal, else appended lines."""
    color = use_color(out)
    if live and _isatty(out):
        return RedrawPainter(out, width=width, height=height, color=color)
    return AppendPainter(out, width=width, color=color)
