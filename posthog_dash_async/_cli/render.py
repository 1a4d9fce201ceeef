"""Pure renderers for the live tile view: a tile (or a value) in, a list of text lines out.

Nothing here writes to a terminal or reads one; :class:`LiveView` only keeps the state of a
stream and composes frames. The terminal driver in :mod:`._cli.live` decides whether a
frame is redrawn in place (a tty) or appended (a pipe or a file).

Result shapes follow what PostHog caches for insights (spec §6.4 and the fixtures):
trends are a list of series ``{"label", "data", "labels", "count", "aggregated_value"}``,
funnels a list of steps ``{"name", "custom_name", "count"}`` (a list of such lists when
broken down), big numbers a trends result with ``display == "BoldNumber"``.
"""

from __future__ import annotations

import math
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import (
    CompleteEvent,
    Dashboard,
    Insight,
    MetadataEvent,
    StreamEvent,
    Tile,
    TileErrorEvent,
    TileEvent,
    UnknownEvent,
)

__all__ = [
    "FAIL_MARK",
    "SPARK_CHARS",
    "LiveView",
    "big_number",
    "display_width",
    "error_lines",
    "failed_tile_lines",
    "format_value",
    "funnel_lines",
    "insight_kind",
    "progress_text",
    "sparkline",
    "text_lines",
    "tile_lines",
    "tile_title",
    "trend_lines",
    "truncate",
]

SPARK_CHARS = "▁▂▃▄▅▆▇█"
FAIL_MARK = "✗"
BAR_FULL = "█"
BAR_EMPTY = "░"
INDENT = "  "
MAX_SERIES = 5
MAX_TEXT_LINES = 3


def _cells(char: str) -> int:
    """Terminal columns a character takes: two for wide East Asian characters and emoji,
    none for combining marks, one otherwise."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (what a redraw in place must count, not characters)."""
    if text.isascii():
        return len(text)
    return sum(_cells(c) for c in text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in an ellipsis when it was cut."""
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text
    out = []
    used = 0
    for char in text:
        cells = _cells(char)
        if used + cells > width - 1:
            break
        out.append(char)
        used += cells
    return "".join(out) + "…"


def _number(value: Any) -> float | None:
    """A finite float from a JSON number; ``None`` for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_value(value: Any) -> str:
    """A number the way a dashboard shows it: ``6,463``, ``1,412.5``, ``0.25``; ``–`` if absent."""
    number = _number(value)
    if number is None:
        return "–"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def compact_value(value: Any) -> str:
    """A number short enough for big digits: ``6,463``, ``12.3K`` above 100,000, ``4.56M``."""
    number = _number(value)
    if number is None:
        return "–"
    magnitude = abs(number)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if magnitude >= limit:
            return f"{number / limit:.3g}{suffix}"
    if magnitude >= 1e5:
        return f"{number / 1e3:.1f}K".replace(".0K", "K")
    return format_value(number)


def _resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """Average ``values`` into ``width`` buckets so a long series keeps its shape."""
    if len(values) <= width:
        return list(values)
    out: list[float | None] = []
    for bucket in range(width):
        start = bucket * len(values) // width
        end = max(start + 1, (bucket + 1) * len(values) // width)
        present = [v for v in values[start:end] if v is not None]
        out.append(sum(present) / len(present) if present else None)
    return out


def sparkline(values: Sequence[Any], width: int | None = None) -> str:
    """``▁▂▃▄▅▆▇█`` for a series, scaled between its minimum and maximum.

    Missing points (``None``) become spaces; a flat series sits on the lowest bar when it is
    zero and in the middle otherwise, so a flat line is not mistaken for a peak.
    Longer series are averaged down to ``width`` characters.
    """
    points = [_number(v) for v in values]
    if width is not None and width > 0:
        points = _resample(points, width)
    present = [v for v in points if v is not None]
    if not present:
        return " " * len(points)
    low, high = min(present), max(present)
    top = len(SPARK_CHARS) - 1
    chars = []
    for value in points:
        if value is None:
            chars.append(" ")
        elif high == low:
            chars.append(SPARK_CHARS[0] if high == 0 else SPARK_CHARS[top // 2])
        else:
            chars.append(SPARK_CHARS[round((value - low) / (high - low) * top)])
    return "".join(chars)


# 3x5 pixel glyphs, drawn two pixel rows per text line with half blocks (▀ ▄ █).
_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    ".": (".", ".", ".", ".", "#"),
    ",": (".", ".", ".", "#", "#"),
    "-": ("...", "...", "###", "...", "..."),
    "%": ("#.#", "..#", ".#.", "#..", "#.#"),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "M": ("#...#", "##.##", "#.#.#", "#...#", "#...#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "–": ("...", "...", "###", "...", "..."),
}
_HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def big_number(text: str, width: int | None = None) -> list[str]:
    """``text`` (digits, ``,.-%KMBT``) drawn three lines tall with block characters.

    Falls back to the text itself on one line when it holds other characters or would not
    fit in ``width`` columns.
    """
    if not text or any(c not in _GLYPHS for c in text):
        return [text]
    drawn_width = sum(len(_GLYPHS[c][0]) + 1 for c in text) - 1
    if width is not None and drawn_width > width:
        return [text]
    lines = []
    for top_row in (0, 2, 4):
        cells = []
        for char in text:
            glyph = _GLYPHS[char]
            bottom = glyph[top_row + 1] if top_row + 1 < len(glyph) else "." * len(glyph[0])
            cells.append(
                "".join(
                    _HALF_BLOCKS[(t == "#", b == "#")]
                    for t, b in zip(glyph[top_row], bottom, strict=True)
                )
            )
        lines.append(" ".join(cells).rstrip())
    return lines


def _bar(fraction: float, width: int) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def funnel_lines(steps: Sequence[tuple[str, Any]], width: int = 80) -> list[str]:
    """One line per funnel step: number, name, a bar scaled to the first step, the count and
    the conversion from the first step (``1 Viewed pricing ██████ 2,480 100.0%``)."""
    if not steps:
        return ["(no steps)"]
    counts = [_number(count) or 0.0 for _, count in steps]
    first = counts[0]
    number_width = len(str(len(steps)))
    count_texts = [format_value(c) for c in counts]
    count_width = max(len(t) for t in count_texts)
    name_width = min(max(len(name) for name, _ in steps), max(8, width // 3))
    fixed = number_width + 1 + name_width + 1 + 1 + count_width + 1 + 7
    bar_width = max(4, min(30, width - fixed))
    lines = []
    for index, ((name, _), count, count_text) in enumerate(
        zip(steps, counts, count_texts, strict=True)
    ):
        fraction = count / first if first > 0 else 0.0
        percent = f"{fraction * 100:5.1f}%"
        lines.append(
            f"{index + 1:>{number_width}} {truncate(name, name_width):<{name_width}} "
            f"{_bar(fraction, bar_width)} {count_text:>{count_width}} {percent:>6}"
        )
    return lines


@dataclass(frozen=True)
class Series:
    """One trends series: its label and data points."""

    label: str
    data: Sequence[Any]
    labels: Sequence[Any] = ()


def trend_lines(series: Sequence[Series], width: int = 80) -> list[str]:
    """One line per series: label, sparkline, last value (and the label of the last point)."""
    if not series:
        return ["(no series)"]
    shown = series[:MAX_SERIES]
    label_width = min(max(len(s.label) for s in shown), max(8, width // 4))
    lines = []
    for item in shown:
        last = item.data[-1] if item.data else None
        last_text = f"last {format_value(last)}"
        if item.labels and len(item.labels) == len(item.data):
            last_text += f" ({item.labels[-1]})"
        spark_width = max(4, width - label_width - len(last_text) - 2)
        spark = sparkline(item.data, spark_width)
        line = f"{truncate(item.label, label_width):<{label_width}} {spark} {last_text}"
        lines.append(truncate(line, width))
    if len(series) > MAX_SERIES:
        lines.append(f"… and {len(series) - MAX_SERIES} more series")
    return lines


def text_lines(body: str | None, width: int = 80, max_lines: int = MAX_TEXT_LINES) -> list[str]:
    """The first non-blank lines of a text card, each cut to ``width``; ``…`` when more follow."""
    lines = [line.strip() for line in (body or "").splitlines() if line.strip()]
    if not lines:
        return ["(empty text)"]
    shown = [truncate(line, width) for line in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append("…")
    return shown


def error_lines(message: str, width: int = 80, max_lines: int = 2) -> list[str]:
    """A failure message, wrapped to at most ``max_lines`` lines of ``width``."""
    wrapped = textwrap.wrap(" ".join(message.split()) or "unknown error", max(10, width))
    if len(wrapped) > max_lines:
        wrapped = [*wrapped[: max_lines - 1], truncate(" ".join(wrapped[max_lines - 1 :]), width)]
    return wrapped


# --- insights -----------------------------------------------------------------------------


def _source(insight: Insight) -> Mapping[str, Any]:
    query = insight.query or {}
    source = (
        query.get("source")
        if query.get("kind") in ("InsightVizNode", "DataVisualizationNode")
        else query
    )
    return source if isinstance(source, Mapping) else {}


def insight_kind(insight: Insight) -> str:
    """``"number"``, ``"trends"``, ``"funnel"`` or ``"other"``, from the query node, the
    legacy ``filters`` or, failing both, the shape of the cached result."""
    source = _source(insight)
    kind = source.get("kind")
    display: Any = None
    trends_filter = source.get("trendsFilter")
    if isinstance(trends_filter, Mapping):
        display = trends_filter.get("display")
    legacy = insight.filters.get("insight") if insight.filters else None
    if display is None and insight.filters:
        display = insight.filters.get("display")
    if kind == "FunnelsQuery" or legacy == "FUNNELS":
        return "funnel"
    if kind in ("TrendsQuery", "StickinessQuery", "LifecycleQuery") or legacy in (
        "TRENDS",
        "STICKINESS",
        "LIFECYCLE",
    ):
        return "number" if display == "BoldNumber" else "trends"
    result = insight.result
    if isinstance(result, list) and result and all(isinstance(r, Mapping) for r in result):
        if all("data" in r for r in result):
            return "trends"
        if all("count" in r and ("order" in r or "action_id" in r) for r in result):
            return "funnel"
    return "other"


def _series_label(entry: Mapping[str, Any], index: int) -> str:
    action = entry.get("action")
    custom = action.get("custom_name") if isinstance(action, Mapping) else None
    for candidate in (custom, entry.get("label"), entry.get("breakdown_value")):
        if isinstance(candidate, (str, int, float)) and not isinstance(candidate, bool):
            text = str(candidate)
            if text:
                return text
    return f"series {index + 1}"


def _step_name(step: Mapping[str, Any], index: int) -> str:
    for key in ("custom_name", "name", "action_id"):
        value = step.get(key)
        if isinstance(value, str) and value:
            return value
    return f"step {index + 1}"


def _number_value(entry: Mapping[str, Any]) -> Any:
    for key in ("aggregated_value", "count"):
        if _number(entry.get(key)) is not None:
            return entry[key]
    data = entry.get("data")
    if isinstance(data, list):
        values = [n for n in (_number(v) for v in data) if n is not None]
        if values:
            return sum(values)
    return None


def _number_body(result: Any, width: int) -> list[str]:
    entries = [r for r in result if isinstance(r, Mapping)] if isinstance(result, list) else []
    if not entries:
        return ["(no value)"]
    if len(entries) == 1:
        value = _number_value(entries[0])
        caption = f"{format_value(value)} · {_series_label(entries[0], 0)}"
        return [*big_number(compact_value(value), width), truncate(caption, width)]
    # Several series shown as numbers: bars relative to the largest, like PostHog's table.
    values = [(_series_label(e, i), _number_value(e)) for i, e in enumerate(entries)]
    return _value_bars(values, width)


def _value_bars(values: Sequence[tuple[str, Any]], width: int) -> list[str]:
    numbers = [_number(v) or 0.0 for _, v in values]
    top = max(numbers) if numbers else 0.0
    texts = [format_value(n) for n in numbers]
    value_width = max(len(t) for t in texts)
    label_width = min(max(len(label) for label, _ in values), max(8, width // 3))
    bar_width = max(4, min(30, width - label_width - value_width - 2))
    lines = [
        f"{truncate(label, label_width):<{label_width}} "
        f"{_bar(n / top if top > 0 else 0.0, bar_width)} {text:>{value_width}}"
        for (label, _), n, text in zip(values, numbers, texts, strict=True)
    ]
    if len(lines) > MAX_SERIES:
        lines = [*lines[:MAX_SERIES], f"… and {len(lines) - MAX_SERIES} more"]
    return lines


def _trends_body(result: Any, width: int) -> list[str]:
    entries = [r for r in result if isinstance(r, Mapping)] if isinstance(result, list) else []
    series = []
    for index, entry in enumerate(entries):
        data = entry.get("data")
        if not isinstance(data, list):
            continue
        labels = entry.get("labels")
        series.append(
            Series(
                label=_series_label(entry, index),
                data=data,
                labels=labels if isinstance(labels, list) else (),
            )
        )
    if not series:
        if entries:
            return _number_body(entries, width)
        return ["(no series)"]
    if all(not s.data for s in series):
        return _number_body(entries, width)
    return trend_lines(series, width)


def _funnel_body(result: Any, width: int) -> list[str]:
    if not isinstance(result, list) or not result:
        return ["(no steps)"]
    note: list[str] = []
    steps_raw: Any = result
    if all(isinstance(r, list) for r in result):
        # Broken-down funnel: one list of steps per breakdown value; show the first.
        steps_raw = result[0]
        note = [f"(breakdown: first of {len(result)} values)"]
    steps = [
        (_step_name(step, i), step.get("count"))
        for i, step in enumerate(steps_raw)
        if isinstance(step, Mapping)
    ]
    return [*funnel_lines(steps, width), *note]


def _other_body(result: Any) -> list[str]:
    if isinstance(result, list):
        return [f"({len(result)} result rows)"]
    if isinstance(result, Mapping):
        return [f"(result with {len(result)} keys)"]
    return [f"(result: {format_value(result)})"]


def _insight_body(insight: Insight, width: int) -> list[str]:
    if insight.result is None:
        return ["(no cached result)"]
    kind = insight_kind(insight)
    if kind == "number":
        return _number_body(insight.result, width)
    if kind == "trends":
        return _trends_body(insight.result, width)
    if kind == "funnel":
        return _funnel_body(insight.result, width)
    return _other_body(insight.result)


def tile_title(tile: Tile) -> str:
    """What a person calls the tile: the insight's name, or the kind of card."""
    if tile.insight is not None:
        return tile.insight.name or tile.insight.derived_name or f"Insight {tile.insight.id}"
    if tile.text is not None:
        return "Text"
    if tile.button_tile is not None:
        return f"Button: {tile.button_tile.text or tile.button_tile.url}"
    if tile.widget is not None:
        return "Widget"
    return f"Tile {tile.id}"


def failed_tile_lines(
    tile_id: int, message: str, width: int = 80, title: str | None = None
) -> list[str]:
    """A tile the server could not serialize: ``✗`` with its name (or id) and the error."""
    head = f"{FAIL_MARK} {title or f'tile {tile_id}'} (failed)"
    return [
        truncate(head, width),
        *(INDENT + line for line in error_lines(message, width - len(INDENT))),
    ]


def tile_lines(tile: Tile, width: int = 80) -> list[str]:
    """A whole tile: its title line, then its body indented by two spaces."""
    if tile.error is not None:
        error = tile.error
        message = f"{error.type}: {error.message}" if error.type else error.message
        shows_something = tile.insight is not None or tile.text is not None
        title = tile_title(tile) if shows_something else None
        return failed_tile_lines(tile.id, message, width, title)
    inner = max(10, width - len(INDENT))
    if tile.insight is not None:
        body = _insight_body(tile.insight, inner)
    elif tile.text is not None:
        body = text_lines(tile.text.body, inner)
    elif tile.button_tile is not None:
        body = [truncate(f"→ {tile.button_tile.url}", inner)]
    else:
        body = ["(nothing to show)"]
    return [truncate(f"■ {tile_title(tile)}", width), *(INDENT + line for line in body)]


def progress_text(received: int, total: int | None, *, done: bool, failed: int = 0) -> str:
    """``"3 tiles…"`` while the total is unknown, ``"3 of 4 tiles"`` once it is known."""
    noun = "tile" if (total if total is not None else received) == 1 else "tiles"
    if total is not None:
        text = f"{received} of {total} {noun}"
    else:
        text = f"{received} {noun}" + ("" if done else "…")
    if failed:
        text += f", {failed} failed"
    return text


# --- the state of one stream --------------------------------------------------------------


@dataclass
class LiveView:
    """What a tile stream has shown so far, as lines.

    Feed it every event; :meth:`feed` returns the lines the event added (for appending
    output) and :meth:`frame` composes the whole view (for redrawing in place).

    The total tile count is only known for sure at the end: the metadata event carries the
    first ``min(2, N)`` tiles, so fewer than two there means the dashboard has exactly that
    many, and otherwise the count stays open until ``complete``.
    """

    width: int = 80
    dashboard: Dashboard | None = None
    blocks: list[list[str]] = field(default_factory=list)
    received: int = 0
    failed: int = 0
    total: int | None = None
    done: bool = False
    fatal: str | None = None

    @property
    def name(self) -> str:
        """The dashboard's name, once the metadata has arrived."""
        if self.dashboard is None:
            return "(waiting for the dashboard…)"
        return self.dashboard.name or f"Dashboard {self.dashboard.id}"

    def _add_tile(self, tile: Tile) -> list[str]:
        self.received += 1
        if tile.error is not None:
            self.failed += 1
        block = tile_lines(tile, self.width)
        self.blocks.append(block)
        return block

    def feed(self, event: StreamEvent) -> list[str]:
        """Take one event; return the lines it adds."""
        if isinstance(event, MetadataEvent):
            self.dashboard = event.dashboard
            head = event.dashboard.tiles
            if len(head) < 2:
                self.total = len(head)
            lines = self.header_lines()
            for tile in head:
                lines += self._add_tile(tile)
            return lines
        if isinstance(event, TileEvent):
            return self._add_tile(event.tile)
        if isinstance(event, TileErrorEvent):
            self.received += 1
            self.failed += 1
            block = failed_tile_lines(event.tile_id, event.error, self.width)
            self.blocks.append(block)
            return block
        if isinstance(event, CompleteEvent):
            self.done = True
            self.total = self.received
            return []
        if isinstance(event, UnknownEvent):
            return []
        return []

    def fail(self, message: str) -> list[str]:
        """The stream broke (fatal error event, EOF before ``complete``, network)."""
        self.fatal = message
        return [self._fatal_line(message)]

    def _fatal_line(self, message: str) -> str:
        return truncate(f"{FAIL_MARK} stream failed: {message}", self.width)

    def header_lines(self) -> list[str]:
        """The dashboard's name and description."""
        lines = [truncate(self.name, self.width)]
        if self.dashboard is not None and self.dashboard.description:
            lines.append(truncate(self.dashboard.description, self.width))
        return lines

    def status_line(self) -> str:
        """``[3 tiles…] streaming`` / ``[4 of 4 tiles, 1 failed] complete``."""
        state = "complete" if self.done else ("failed" if self.fatal else "streaming")
        progress = progress_text(self.received, self.total, done=self.done, failed=self.failed)
        return f"[{progress}] {state}"

    def frame(self, max_lines: int | None = None) -> list[str]:
        """The whole view: header, status, tiles. With ``max_lines``, the most recent tiles
        that fit are kept and a line says how many earlier ones scrolled away."""
        head = [*self.header_lines(), self.status_line(), ""]
        tail = [self._fatal_line(self.fatal)] if self.fatal else []
        blocks = self.blocks
        if max_lines is None:
            body = [line for block in blocks for line in block]
            return [*head, *body, *tail]
        room = max_lines - len(head) - len(tail) - 1
        kept: list[list[str]] = []
        used = 0
        for block in reversed(blocks):
            if used + len(block) > room:
                break
            kept.append(block)
            used += len(block)
        kept.reverse()
        hidden = len(blocks) - len(kept)
        more = [f"… {hidden} earlier tile{'s' if hidden != 1 else ''} above"] if hidden else []
        body = [line for block in kept for line in block]
        return [*head, *more, *body, *tail][: max(1, max_lines)]
