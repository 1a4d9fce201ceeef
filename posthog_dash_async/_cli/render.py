"""Renderers of the tile view: a tile (or a value) in, a `rich` renderable out.

Nothing here writes to a terminal; :class:`LiveView` keeps the state of one stream and
composes it, and :mod:`._cli.live` decides whether it is redrawn in place (``rich.live``
on a terminal) or appended (a pipe or a file).

- Trends are line charts with a value axis (left), a time axis with its first, middle and
  last labels (bottom) and a legend with each series' last value, drawn with box-drawing
  characters by :class:`LineChart`. The chart is a `rich` renderable that draws itself at
  whatever size its cell gets, so it follows resizes. The terminal plotting packages did not
  fit that well enough to be worth a dependency: ``plotext`` 6 is a recent rewrite around a
  compiled kernel whose output is its own ANSI text (to be parsed back into `rich` text), and
  ``asciichartpy`` has had no release since 2020.
- Funnels are bars scaled to the first step, with counts, the conversion from the first
  step and from the step before.
- Big numbers (``display == "BoldNumber"``) are drawn in block digits, as large as the
  tile's cell allows.
- Text tiles are rendered Markdown (``rich.markdown``; links shown as text, not as
  terminal hyperlinks).
- Tiles are laid out on the dashboard's own 12-column grid (the ``sm`` layouts' x, y, w,
  h), in one column on a narrow terminal.

Every string that came from the server goes through :func:`clean` and into `rich` as
``Text`` (never markup).

Result shapes follow what PostHog caches for insights (spec §6.4 and the fixtures):
trends are a list of series ``{"label", "data", "labels", "count", "aggregated_value"}``,
funnels a list of steps ``{"name", "custom_name", "count"}`` (a list of such lists when
broken down), big numbers a trends result with ``display == "BoldNumber"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ..models import (
    CompleteEvent,
    Dashboard,
    Insight,
    MetadataEvent,
    StreamEvent,
    Tile,
    TileErrorEvent,
    TileEvent,
)
from .sanitize import clean

__all__ = [
    "FAIL_MARK",
    "BigNumber",
    "FunnelBars",
    "LineChart",
    "LiveView",
    "Series",
    "TileGrid",
    "compact_value",
    "display_width",
    "format_value",
    "funnel_steps",
    "insight_kind",
    "placement",
    "progress_text",
    "tile_body",
    "tile_panel",
    "tile_title",
    "trend_series",
    "truncate",
]

FAIL_MARK = "✗"
TILE_MARK = "■"
GRID_COLUMNS = 12
# Terminal lines per grid row unit, and the fewest units a tile gets (PostHog's rows are
# 80 px; two lines each keep a default 5-unit insight at ten lines).
ROW_LINES = 2
MIN_UNITS = 3
# Below this many columns the grid becomes one column (a 6-wide tile would be < 40).
NARROW = 80
MAX_SERIES = 6
SERIES_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "red")
BAR_STYLE = "blue"
BAR_EIGHTHS = " ▏▎▍▌▋▊▉"


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide characters count two)."""
    return cell_len(text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in ``…`` when it was cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    cut = Text(text)
    cut.truncate(width, overflow="ellipsis")
    return cut.plain


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
    """A number short enough for an axis or big digits: ``6,463``, ``123K``, ``4.56M``."""
    number = _number(value)
    if number is None:
        return "–"
    magnitude = abs(number)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if magnitude >= limit:
            return f"{number / limit:.3g}{suffix}"
    if magnitude >= 1e5:
        return f"{number / 1e3:.0f}K"
    if magnitude >= 100 or number.is_integer():
        return format_value(round(number))
    return f"{number:.3g}"


# --- line charts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One trends series: its label, data points and the labels of the points."""

    label: str
    data: Sequence[Any]
    labels: Sequence[Any] = ()


def _resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """``values`` on exactly ``width`` columns: averaged down when longer, linearly
    interpolated when shorter (a gap stays a gap)."""
    count = len(values)
    if count == 0 or width <= 0:
        return [None] * max(width, 0)
    if count == width:
        return list(values)
    if count > width:
        out: list[float | None] = []
        for bucket in range(width):
            start = bucket * count // width
            end = max(start + 1, (bucket + 1) * count // width)
            present = [v for v in values[start:end] if v is not None]
            out.append(sum(present) / len(present) if present else None)
        return out
    if count == 1:
        return [values[0]] * width
    out = []
    for column in range(width):
        position = column * (count - 1) / (width - 1)
        low = int(position)
        high = min(low + 1, count - 1)
        a, b = values[low], values[high]
        if a is None or b is None:
            out.append(a if position == low else None)
            continue
        fraction = position - low
        out.append(a + (b - a) * fraction)
    return out


class LineChart:
    """Trend series as a line chart: value axis, time axis, legend with last values.

    A `rich` renderable that draws at the width and height of the space it is given (a
    tile's cell), so the chart follows the terminal as it resizes.
    """

    def __init__(self, series: Sequence[Series], *, height: int = 10) -> None:
        self.series = list(series)[:MAX_SERIES]
        self.hidden = max(0, len(series) - MAX_SERIES)
        self.height = height

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(20, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = options.height or self.height
        yield from self.lines(options.max_width, height)

    def _legend(self, width: int) -> Text:
        legend = Text(no_wrap=True, overflow="ellipsis")
        for index, item in enumerate(self.series):
            style = SERIES_STYLES[index % len(SERIES_STYLES)]
            if index:
                legend.append("  ")
            last = next((v for v in reversed(item.data) if _number(v) is not None), None)
            legend.append("━ ", style=style)
            legend.append(clean(item.label))
            legend.append(f" {format_value(last)}", style="bold")
        if self.hidden:
            legend.append(f"  (+{self.hidden} more)", style="dim")
        legend.truncate(width, overflow="ellipsis")
        return legend

    def lines(self, width: int, height: int) -> list[Text]:
        """The chart as ``height`` lines (fewer when there is nothing to draw)."""
        points = [[_number(v) for v in s.data] for s in self.series]
        present = [v for values in points for v in values if v is not None]
        legend = self._legend(width)
        if not present:
            return [legend, Text("(no data points)", style="dim")]
        rows = max(2, height - 3)
        low, high = min(present), max(present)
        if high == low:
            high = low + 1.0
        ticks = {0, rows - 1, (rows - 1) // 2} if rows > 3 else set(range(rows))
        labels = {
            r: compact_value(high - (high - low) * r / (rows - 1)) if rows > 1 else ""
            for r in ticks
        }
        label_width = max(cell_len(t) for t in labels.values())
        plot_width = max(4, width - label_width - 2)
        grid: list[list[tuple[str, str] | None]] = [[None] * plot_width for _ in range(rows)]

        def row(value: float) -> int:
            return round((high - value) / (high - low) * (rows - 1))

        for index, values in enumerate(points):
            style = SERIES_STYLES[index % len(SERIES_STYLES)]
            columns = _resample(values, plot_width)
            previous: float | None = None
            for column, value in enumerate(columns):
                if value is None:
                    previous = None
                    continue
                here = row(value)
                if previous is None or row(previous) == here:
                    grid[here][column] = ("─", style)
                else:
                    before = row(previous)
                    top, bottom = min(before, here), max(before, here)
                    rising = here < before
                    grid[bottom][column] = ("╯" if rising else "╰", style)
                    grid[top][column] = ("╭" if rising else "╮", style)
                    for between in range(top + 1, bottom):
                        grid[between][column] = ("│", style)
                previous = value
        out = [legend]
        for r in range(rows):
            line = Text(no_wrap=True)
            label = labels.get(r)
            line.append(f"{label or '':>{label_width}} {'┤' if label is not None else '│'}", "dim")
            # One span per run of a style, not one per character.
            run, run_style = "", ""
            for cell in grid[r]:
                char, style = cell if cell is not None else (" ", "")
                if style != run_style and run:
                    line.append(run, run_style)
                    run = ""
                run += char
                run_style = style
            if run:
                line.append(run, run_style)
            out.append(line)
        out.append(self._time_axis(label_width, plot_width, ticks_only=True))
        out.append(self._time_axis(label_width, plot_width, ticks_only=False))
        return out

    def _x_labels(self) -> list[str]:
        for item in self.series:
            if item.labels and len(item.labels) == len(item.data):
                return [clean(label) for label in item.labels]
        longest = max((len(s.data) for s in self.series), default=0)
        return [str(i + 1) for i in range(longest)]

    def _time_axis(self, label_width: int, plot_width: int, *, ticks_only: bool) -> Text:
        labels = self._x_labels()
        placed: list[tuple[int, str]] = []
        if labels:
            count = len(labels)
            candidates = [(0, labels[0])]
            if count > 2:
                middle = (count - 1) // 2
                candidates.append((round(middle * (plot_width - 1) / (count - 1)), labels[middle]))
            if count > 1:
                candidates.append((plot_width - 1, labels[-1]))
            end = -1
            for column, label in candidates:
                text = truncate(label, max(1, plot_width // 3))
                start = column - cell_len(text) // 2
                start = max(0, min(start, plot_width - cell_len(text)))
                if start > end:
                    placed.append((column if ticks_only else start, text))
                    end = start + cell_len(text)
        line = Text(no_wrap=True, style="dim")
        if ticks_only:
            axis = ["─"] * plot_width
            for column, _ in placed:
                axis[column] = "┬"
            line.append(" " * label_width + " └" + "".join(axis))
            return line
        cursor = 0
        text_line = ""
        for start, text in placed:
            text_line += " " * (start - cursor) + text
            cursor = start + cell_len(text)
        line.append(" " * (label_width + 2) + text_line)
        return line


# --- funnels and numbers ------------------------------------------------------------------


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` columns long at most, with eighth-column precision."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (BAR_EIGHTHS[part] if part else "")


class FunnelBars:
    """Funnel steps as bars scaled to the first step, with counts and conversion rates:
    ``1  Viewed pricing  ████████  2,480  100%`` and, from the second step, the rate from
    the step before (``↓ 61.3%``)."""

    def __init__(self, steps: Sequence[tuple[str, Any]], note: str | None = None) -> None:
        self.steps = [(clean(name), _number(count) or 0.0) for name, count in steps]
        self.note = note

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(24, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(options.max_width)

    def lines(self, width: int) -> list[Text]:
        """One line per step, then the overall conversion."""
        if not self.steps:
            return [Text("(no steps)", style="dim")]
        first = self.steps[0][1]
        count_texts = [format_value(c) for _, c in self.steps]
        count_width = max(cell_len(t) for t in count_texts)
        number_width = len(str(len(self.steps)))
        name_width = min(max(cell_len(n) for n, _ in self.steps), max(8, width // 3))
        rates = "100.0%  ↓100.0%"
        fixed = number_width + 1 + name_width + 1 + 1 + count_width + 1 + len(rates)
        bar_width = max(4, width - fixed)
        out = []
        previous = None
        for index, ((name, count), count_text) in enumerate(
            zip(self.steps, count_texts, strict=True)
        ):
            fraction = count / first if first > 0 else 0.0
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{index + 1:>{number_width}} ", "dim")
            shown = truncate(name, name_width)
            line.append(shown + " " * (name_width - cell_len(shown)) + " ")
            bar = _bar(fraction, bar_width)
            line.append(bar, BAR_STYLE)
            line.append(" " * (bar_width - cell_len(bar)) + " ")
            line.append(f"{count_text:>{count_width}} ", "bold")
            line.append(f"{fraction * 100:5.1f}%")
            if previous is not None:
                step_rate = count / previous if previous > 0 else 0.0
                line.append(f"  ↓{step_rate * 100:5.1f}%", "dim")
            previous = count
            line.truncate(width, overflow="ellipsis")
            out.append(line)
        if len(self.steps) > 1:
            last = self.steps[-1][1]
            overall = last / first * 100 if first > 0 else 0.0
            out.append(
                Text(
                    f"conversion {overall:.1f}% ({format_value(last)} of {format_value(first)})",
                    style="bold",
                )
            )
        if self.note:
            out.append(Text(self.note, style="dim"))
        return out


# 3x5 pixel glyphs.
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


def big_digits(text: str, scale: int) -> list[str] | None:
    """``text`` in block digits: 3 lines tall (``scale=1``, half blocks) or 5 lines tall
    and twice as wide (``scale=2``); ``None`` for characters without a glyph."""
    if not text or any(c not in _GLYPHS for c in text):
        return None
    glyphs = [_GLYPHS[c] for c in text]
    if scale >= 2:
        return [
            "  ".join("".join("██" if p == "#" else "  " for p in g[row]) for g in glyphs).rstrip()
            for row in range(5)
        ]
    lines = []
    for top in (0, 2, 4):
        cells = []
        for glyph in glyphs:
            bottom = glyph[top + 1] if top + 1 < len(glyph) else "." * len(glyph[0])
            cells.append(
                "".join(
                    _HALF_BLOCKS[(t == "#", b == "#")]
                    for t, b in zip(glyph[top], bottom, strict=True)
                )
            )
        lines.append(" ".join(cells).rstrip())
    return lines


class BigNumber:
    """One value drawn as large as its cell allows, with its caption under it."""

    def __init__(self, value: Any, caption: str) -> None:
        self.value = value
        self.caption = clean(caption)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(10, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = options.height or 6
        text = compact_value(self.value)
        drawn: list[str] | None = None
        for scale, tall in ((2, 5), (1, 3)):
            lines = big_digits(text, scale)
            if lines is not None and max(cell_len(x) for x in lines) <= width and tall < height:
                drawn = lines
                break
        block = drawn or [text]
        body = [Text(line, style="bold cyan", justify="center", no_wrap=True) for line in block]
        caption = f"{format_value(self.value)} · {self.caption}"
        body.append(Text(caption, style="dim", justify="center", no_wrap=True, overflow="ellipsis"))
        yield from body


class ValueBars:
    """Several series shown as numbers: bars relative to the largest, like PostHog's table."""

    def __init__(self, values: Sequence[tuple[str, Any]]) -> None:
        self.values = [(clean(label), _number(v) or 0.0) for label, v in values]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        top = max((n for _, n in self.values), default=0.0)
        texts = [format_value(n) for _, n in self.values]
        value_width = max(cell_len(t) for t in texts)
        label_width = min(max(cell_len(label) for label, _ in self.values), max(8, width // 3))
        bar_width = max(4, width - label_width - value_width - 2)
        for (label, number), text in zip(self.values[:MAX_SERIES], texts, strict=False):
            line = Text(no_wrap=True, overflow="ellipsis")
            shown = truncate(label, label_width)
            line.append(shown + " " * (label_width - cell_len(shown)) + " ")
            bar = _bar(number / top if top > 0 else 0.0, bar_width)
            line.append(bar + " " * (bar_width - cell_len(bar)) + " ", BAR_STYLE)
            line.append(f"{text:>{value_width}}", "bold")
            yield line
        if len(self.values) > MAX_SERIES:
            yield Text(f"… and {len(self.values) - MAX_SERIES} more", style="dim")


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
            text = clean(candidate)
            if text:
                return text
    return f"series {index + 1}"


def _step_name(step: Mapping[str, Any], index: int) -> str:
    for key in ("custom_name", "name", "action_id"):
        value = step.get(key)
        if isinstance(value, str) and value:
            return clean(value)
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


def trend_series(result: Any) -> list[Series]:
    """The series of a trends result (entries without a ``data`` list are skipped)."""
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
    return series


def funnel_steps(result: Any) -> tuple[list[tuple[str, Any]], str | None]:
    """The steps of a funnel result as ``(name, count)``, and a note for a breakdown."""
    if not isinstance(result, list) or not result:
        return [], None
    note = None
    steps_raw: Any = result
    if all(isinstance(r, list) for r in result):
        steps_raw = result[0]
        note = f"(breakdown: first of {len(result)} values)"
    steps = [
        (_step_name(step, i), step.get("count"))
        for i, step in enumerate(steps_raw)
        if isinstance(step, Mapping)
    ]
    return steps, note


def _dim(text: str) -> Text:
    return Text(text, style="dim")


def _number_body(result: Any) -> RenderableType:
    entries = [r for r in result if isinstance(r, Mapping)] if isinstance(result, list) else []
    if not entries:
        return _dim("(no value)")
    if len(entries) == 1:
        return BigNumber(_number_value(entries[0]), _series_label(entries[0], 0))
    return ValueBars([(_series_label(e, i), _number_value(e)) for i, e in enumerate(entries)])


def _insight_body(insight: Insight, height: int) -> RenderableType:
    result = insight.result
    if result is None:
        return _dim("(no cached result)")
    kind = insight_kind(insight)
    if kind == "number":
        return _number_body(result)
    if kind == "trends":
        series = trend_series(result)
        if not series or all(not s.data for s in series):
            return _number_body(result)
        return LineChart(series, height=height)
    if kind == "funnel":
        steps, note = funnel_steps(result)
        return FunnelBars(steps, note)
    if isinstance(result, list):
        return _dim(f"({len(result)} result rows)")
    if isinstance(result, Mapping):
        return _dim(f"(result with {len(result)} keys)")
    return _dim(f"(result: {format_value(result)})")


def tile_title(tile: Tile) -> str:
    """What a person calls the tile: the insight's name, or the kind of card (cleaned)."""
    if tile.insight is not None:
        name = tile.insight.name or tile.insight.derived_name
        return clean(name) if name else f"Insight {tile.insight.id}"
    if tile.text is not None:
        return "Text"
    if tile.button_tile is not None:
        return clean(f"Button: {tile.button_tile.text or tile.button_tile.url}")
    if tile.widget is not None:
        return "Widget"
    return f"Tile {tile.id}"


def tile_error(tile: Tile) -> str | None:
    """The tile's serialization error as one cleaned line, or ``None``."""
    if tile.error is None:
        return None
    error = tile.error
    message = f"{error.type}: {error.message}" if error.type else error.message
    return clean(message) or "unknown error"


def tile_body(tile: Tile, height: int = 8) -> RenderableType:
    """What a tile shows, ``height`` lines at most: chart, bars, number, Markdown, ..."""
    error = tile_error(tile)
    if error is not None:
        return Text(error, style="red")
    if tile.insight is not None:
        return _insight_body(tile.insight, height)
    if tile.text is not None:
        body = clean(tile.text.body or "", multiline=True).strip()
        if not body:
            return _dim("(empty text)")
        return Markdown(body, hyperlinks=False)
    if tile.button_tile is not None:
        return Text(clean(f"→ {tile.button_tile.url}"))
    return _dim("(nothing to show)")


@dataclass(frozen=True)
class Placement:
    """Where a tile sits on the 12-column grid, in grid units."""

    x: int
    y: int
    w: int
    h: int


def placement(tile: Tile, size: str = "sm", *, below: int = 0) -> Placement:
    """The tile's grid placement from its layout, clamped to the grid; a tile without one
    goes full width under ``below``."""
    layout = tile.layout(size) or tile.layout("sm")
    if layout is None or layout.x is None or layout.y is None:
        h = layout.h if layout is not None and layout.h else 5
        return Placement(0, below, GRID_COLUMNS, max(1, h))
    x = max(0, min(GRID_COLUMNS - 1, layout.x))
    w = max(1, min(GRID_COLUMNS - x, layout.w or GRID_COLUMNS))
    return Placement(x, max(0, layout.y), w, max(1, layout.h or 5))


def tile_panel(tile: Tile, lines: int | None = None, title: str | None = None) -> Panel:
    """A tile in a bordered box ``lines`` tall (its title in the top border)."""
    error = tile_error(tile)
    name = title if title is not None else tile_title(tile)
    inner = (lines - 2) if lines is not None else 8
    if error is not None:
        heading = Text(f"{FAIL_MARK} {name} (failed)", style="bold red")
        return Panel(
            Text(error), title=heading, title_align="left", border_style="red", height=lines
        )
    return Panel(
        tile_body(tile, max(3, inner)),
        title=Text(name, style="bold default"),
        title_align="left",
        border_style="bright_black",
        height=lines,
        box=box.ROUNDED,
    )


def failed_panel(tile_id: int, message: str, lines: int | None = None) -> Panel:
    """A tile the server could not compute (a ``tile_error`` event)."""
    return Panel(
        Text(clean(message) or "unknown error"),
        title=Text(f"{FAIL_MARK} tile {tile_id} (failed)", style="bold red"),
        title_align="left",
        border_style="red",
        height=lines,
    )


@dataclass
class Cell:
    """One tile of the view: where it sits and how it is drawn."""

    place: Placement
    tile: Tile | None = None
    failed: tuple[int, str] | None = None

    def panel(self, lines: int | None) -> Panel:
        if self.tile is not None:
            return tile_panel(self.tile, lines)
        tile_id, message = self.failed or (0, "")
        return failed_panel(tile_id, message, lines)


def _lines(units: int) -> int:
    return max(units, MIN_UNITS) * ROW_LINES


class TileGrid:
    """Tiles on the dashboard's grid: tiles whose rows overlap share a band; within a
    band, tiles whose columns overlap stack in one column; widths follow ``w``, gaps
    follow ``x``. Narrower than :data:`NARROW` columns, one tile under another."""

    def __init__(self, cells: Sequence[Cell]) -> None:
        self.cells = list(cells)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cells = sorted(self.cells, key=lambda c: (c.place.y, c.place.x))
        if not cells:
            return
        if options.max_width < NARROW:
            yield Group(*(c.panel(_lines(c.place.h)) for c in cells))
            return
        for band in _bands(cells):
            yield _band_table(band)


def _bands(cells: Sequence[Cell]) -> list[list[Cell]]:
    bands: list[list[Cell]] = []
    bottom = -1
    for cell in cells:  # sorted by y
        if bands and cell.place.y < bottom:
            bands[-1].append(cell)
            bottom = max(bottom, cell.place.y + cell.place.h)
        else:
            bands.append([cell])
            bottom = cell.place.y + cell.place.h
    return bands


def _band_table(band: Sequence[Cell]) -> Table:
    # Columns of the band: clusters of tiles whose x ranges overlap.
    clusters: list[list[Cell]] = []
    spans: list[tuple[int, int]] = []
    for cell in sorted(band, key=lambda c: c.place.x):
        start, end = cell.place.x, cell.place.x + cell.place.w
        if spans and start < spans[-1][1]:
            clusters[-1].append(cell)
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            clusters.append([cell])
            spans.append((start, end))
    band_top = min(c.place.y for c in band)
    band_bottom = max(c.place.y + c.place.h for c in band)
    grid = Table.grid(expand=True)
    row: list[RenderableType] = []
    cursor = 0
    for cluster, (start, end) in zip(clusters, spans, strict=True):
        if start > cursor:
            grid.add_column(ratio=start - cursor)
            row.append(Text(""))
        grid.add_column(ratio=end - start)
        stacked = sorted(cluster, key=lambda c: c.place.y)
        panels: list[RenderableType] = []
        top = band_top
        for index, cell in enumerate(stacked):
            gap = cell.place.y - top
            if gap > 0:
                panels.append(Text("\n" * (gap * ROW_LINES - 1)))
            last = index == len(stacked) - 1
            units = (band_bottom - cell.place.y) if last else cell.place.h
            if len(stacked) == 1:
                units = max(units, band_bottom - band_top)
            panels.append(cell.panel(_lines(units)))
            top = cell.place.y + cell.place.h
        row.append(Group(*panels))
        cursor = end
    if cursor < GRID_COLUMNS:
        grid.add_column(ratio=GRID_COLUMNS - cursor)
        row.append(Text(""))
    grid.add_row(*row)
    return grid


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
    """What a tile stream has shown so far.

    Feed it every event; :meth:`feed` returns the cells the event added (for appending
    output) and :meth:`renderable` composes the whole view (for redrawing in place).

    The total tile count is only known for sure at the end: the metadata event carries the
    first ``min(2, N)`` tiles, so fewer than two there means the dashboard has exactly that
    many, and otherwise the count stays open until ``complete``.
    """

    layout: str = "sm"
    dashboard: Dashboard | None = None
    cells: list[Cell] = field(default_factory=list)
    received: int = 0
    failed: int = 0
    total: int | None = None
    done: bool = False
    fatal: str | None = None
    elapsed: float | None = None

    @property
    def name(self) -> str:
        """The dashboard's name (cleaned), once the metadata has arrived."""
        if self.dashboard is None:
            return "(waiting for the dashboard…)"
        return clean(self.dashboard.name or "") or f"Dashboard {self.dashboard.id}"

    @property
    def description(self) -> str:
        """The dashboard's description as one cleaned line."""
        if self.dashboard is None:
            return ""
        return " ".join(clean(self.dashboard.description or "").split())

    def _below(self) -> int:
        return max((c.place.y + c.place.h for c in self.cells), default=0)

    def _add_tile(self, tile: Tile) -> Cell:
        self.received += 1
        if tile.error is not None:
            self.failed += 1
        cell = Cell(placement(tile, self.layout, below=self._below()), tile=tile)
        self.cells.append(cell)
        return cell

    def feed(self, event: StreamEvent) -> list[Cell]:
        """Take one event; return the cells it adds."""
        if isinstance(event, MetadataEvent):
            self.dashboard = event.dashboard
            head = event.dashboard.tiles
            if len(head) < 2:
                self.total = len(head)
            return [self._add_tile(tile) for tile in head]
        if isinstance(event, TileEvent):
            return [self._add_tile(event.tile)]
        if isinstance(event, TileErrorEvent):
            self.received += 1
            self.failed += 1
            place = Placement(0, self._below(), GRID_COLUMNS, 2)
            cell = Cell(place, failed=(event.tile_id, event.error))
            self.cells.append(cell)
            return [cell]
        if isinstance(event, CompleteEvent):
            self.done = True
            self.total = self.received
        return []

    def fail(self, message: str) -> None:
        """The stream broke (fatal error event, EOF before ``complete``, network)."""
        self.fatal = clean(message)

    def fatal_line(self) -> Text | None:
        """``✗ stream failed: ...`` once the stream broke."""
        if self.fatal is None:
            return None
        return Text(f"{FAIL_MARK} stream failed: {self.fatal}", style="bold red")

    def status_line(self) -> str:
        """``[3 tiles…] streaming`` / ``[4 of 4 tiles, 1 failed] complete in 0.52 s``."""
        state = "complete" if self.done else ("failed" if self.fatal else "streaming")
        progress = progress_text(self.received, self.total, done=self.done, failed=self.failed)
        text = f"[{progress}] {state}"
        if self.elapsed is not None:
            text += f" in {self.elapsed:.2f} s"
        return text

    def header(self) -> list[Text]:
        """The dashboard's name and description."""
        lines = [Text(self.name, style="bold", no_wrap=True, overflow="ellipsis")]
        if self.description:
            lines.append(Text(self.description, style="dim", no_wrap=True, overflow="ellipsis"))
        return lines

    def renderable(self) -> RenderableType:
        """The whole view: header, status, the tiles on their grid, a stream failure."""
        parts: list[RenderableType] = [
            *self.header(),
            Text(self.status_line(), style="dim"),
            TileGrid(list(self.cells)),
        ]
        fatal = self.fatal_line()
        if fatal is not None:
            parts.append(fatal)
        return Group(*parts)


def cell_block(cell: Cell, position: str) -> RenderableType:
    """One tile for appended output: ``[2/4] ■ Title`` then its body, indented."""
    if cell.tile is not None and cell.tile.error is None:
        lines = _lines(cell.place.h) - 2
        head = Text(f"[{position}] {TILE_MARK} {tile_title(cell.tile)}", style="bold")
        body = _Height(tile_body(cell.tile, lines), lines)
        return Group(head, Padding(body, (0, 0, 0, 2), expand=False))
    if cell.tile is not None:
        title, message = tile_title(cell.tile), tile_error(cell.tile) or ""
        shows = cell.tile.insight is not None or cell.tile.text is not None
        name = title if shows else f"tile {cell.tile.id}"
    else:
        tile_id, raw = cell.failed or (0, "")
        name, message = f"tile {tile_id}", clean(raw) or "unknown error"
    head = Text(f"[{position}] {FAIL_MARK} {name} (failed)", style="bold red")
    return Group(head, Padding(Text(message), (0, 0, 0, 2), expand=False))


class _Height:
    """A renderable given a fixed height (as a panel gives its body)."""

    def __init__(self, renderable: RenderableType, height: int) -> None:
        self.renderable = renderable
        self.height = height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(height=self.height), pad=False)
        while lines and not "".join(s.text for s in lines[-1]).strip():
            lines.pop()
        for line in lines:
            yield from line
            yield Segment.line()


def renderables_text(renderables: Iterable[RenderableType], width: int) -> str:
    """Renderables as plain text at ``width`` columns (for tests and documentation)."""
    console = Console(width=width, color_system=None, markup=False, highlight=False, emoji=False)
    with console.capture() as capture:
        for item in renderables:
            console.print(item)
    return capture.get()
