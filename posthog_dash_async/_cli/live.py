"""Drive a tile stream onto a terminal: redrawn in place on a tty, appended otherwise.

On a terminal the view is a ``rich.live.Live`` display: the dashboard's tiles on its own
grid, redrawn after every event and a few times a second, so it follows the terminal as it
resizes. While the stream runs the display is cropped to the screen (a taller frame could
not be redrawn in place); when it ends, the full final view is printed, so the scrollback
keeps every tile. Off a terminal (a pipe, a file, ``stream`` without ``--live``) each tile
is printed once, as it arrives, with its position (``[3]``, or ``[3/4]`` once the total is
known).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from ..errors import StreamError, StreamIncompleteError
from .output import Output, make_console
from .render import Cell, LiveView, cell_block

if TYPE_CHECKING:
    from .._streaming import TileStream

__all__ = [
    "AppendPainter",
    "LivePainter",
    "Painter",
    "painter_for",
    "show_stream",
]

REFRESH_PER_SECOND = 4


class Painter(Protocol):
    """Where a :class:`LiveView` goes after each event."""

    def start(self, view: LiveView) -> None:
        """Before the first event."""

    def update(self, view: LiveView, added: list[Cell]) -> None:
        """After each event; ``added`` holds the tiles that event contributed."""

    def finish(self, view: LiveView) -> None:
        """The stream ended (completely, or with a stream error shown in the view)."""

    def abandon(self, view: LiveView) -> None:
        """The stream was given up (an error before or during it, or Ctrl-C)."""


class AppendPainter:
    """Each tile printed once as it arrives: for pipes, files and logs."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._shown = 0
        self._header = False

    def start(self, view: LiveView) -> None:
        return None

    def update(self, view: LiveView, added: list[Cell]) -> None:
        if view.dashboard is not None and not self._header:
            self._header = True
            for line in view.header():
                self._console.print(line)
        for cell in added:
            self._shown += 1
            position = f"{self._shown}/{view.total}" if view.total is not None else str(self._shown)
            self._console.print(cell_block(cell, position))
        self._console.file.flush()

    def finish(self, view: LiveView) -> None:
        fatal = view.fatal_line()
        if fatal is not None:
            self._console.print(fatal)
        self._console.print(Text(view.status_line(), style="dim"))
        self._console.file.flush()

    def abandon(self, view: LiveView) -> None:
        self._console.file.flush()


class LivePainter:
    """The whole view redrawn in place (``rich.live``) on a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None

    def start(self, view: LiveView) -> None:
        self._live = Live(
            console=self._console,
            get_renderable=view.renderable,
            auto_refresh=True,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="ellipsis",
        )
        self._live.start(refresh=True)

    def update(self, view: LiveView, added: list[Cell]) -> None:
        if self._live is not None:
            self._live.refresh()

    def finish(self, view: LiveView) -> None:
        if self._live is not None:
            self._live.stop()  # prints the final view in full
            self._live = None

    def abandon(self, view: LiveView) -> None:
        """Stop the display. Tiles already on screen stay (after Ctrl-C they are what the
        user was looking at); a frame that only said "waiting" is erased."""
        if self._live is not None:
            if view.dashboard is None:
                self._live.transient = True
            self._live.stop()
            self._live = None


async def show_stream(stream: TileStream, painter: Painter, *, layout: str = "sm") -> LiveView:
    """Read ``stream`` to its end, painting after every event; return the final view.

    A broken stream is shown in the view (``✗ stream failed: ...``) and its exception is
    re-raised for the caller to report. Any other exception (including cancellation by
    Ctrl-C) leaves the terminal clean: cursor shown, a frame with nothing in it erased.
    """
    view = LiveView(layout=layout)
    started = time.perf_counter()
    painter.start(view)
    finished = False
    try:
        async with stream:
            async for event in stream:
                painter.update(view, view.feed(event))
        view.elapsed = time.perf_counter() - started
        finished = True
        painter.finish(view)
        return view
    except (StreamError, StreamIncompleteError) as exc:
        # Keep the tiles that did arrive on screen, with the failure under them.
        view.fail(_reason(exc))
        view.elapsed = time.perf_counter() - started
        finished = True
        painter.finish(view)
        raise
    finally:
        if not finished:
            painter.abandon(view)


def _reason(exc: StreamError | StreamIncompleteError) -> str:
    if isinstance(exc, StreamError) and exc.error:
        return exc.error
    return "the stream ended before it was complete"


def painter_for(out: Output | TextIO, *, live: bool, width: int | None = None) -> Painter:
    """The in-place painter when asked for ``--live`` on a terminal, else appended tiles.

    ``out`` is the command's :class:`Output` (its console, colour and key masking), or a
    plain stream.
    """
    if isinstance(out, Output):
        console = out.console
        if width is not None and not out.isatty("out"):
            console = make_console(console.file, width=width, color=out.color)
    else:
        console = make_console(out, width=width)
    if live and console.is_terminal:
        return LivePainter(console)
    return AppendPainter(console)
