"""The terminal view: tiles on the dashboard's grid, charts with axes, funnels, big numbers,
Markdown, colour rules, and the live display on a (simulated) terminal."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import msgspec
import pytest
from conftest import fixture_bytes
from rich.console import Console

import posthog_dash_async as pda
from posthog_dash_async._cli.live import AppendPainter, LivePainter, painter_for, show_stream
from posthog_dash_async._cli.output import Output, make_console, use_color
from posthog_dash_async._cli.render import (
    NARROW,
    BigNumber,
    Cell,
    FunnelBars,
    LineChart,
    LiveView,
    Placement,
    Series,
    TileGrid,
    compact_value,
    format_value,
    placement,
    renderables_text,
    tile_panel,
)
from posthog_dash_async.testing import FakePostHog

_SGR = re.compile(r"\x1b\[[0-9;]*m")


def render(renderable: object, width: int) -> list[str]:
    return [line.rstrip() for line in renderables_text([renderable], width).splitlines()]  # type: ignore[list-item]


def tile(tile_id: int, x: int, y: int, w: int, h: int, body: str = "") -> pda.Tile:
    return pda.Tile(
        id=tile_id,
        text=pda.Text(id=tile_id, body=body or f"tile {tile_id}"),
        layouts={"sm": {"x": x, "y": y, "w": w, "h": h}},
    )


def title_column(lines: list[str], title: str) -> tuple[int, int]:
    """(line, column) where a tile's title shows in its border."""
    for number, line in enumerate(lines):
        column = line.find(f" {title} ")
        if column >= 0:
            return number, column
    raise AssertionError(f"{title!r} not drawn:\n" + "\n".join(lines))


# --- the grid -------------------------------------------------------------------------------


def test_tiles_side_by_side_follow_x_and_w() -> None:
    cells = [
        Cell(placement(tile(1, 0, 0, 6, 5, "left"))),
        Cell(placement(tile(2, 6, 0, 6, 5, "right"))),
        Cell(placement(tile(3, 0, 5, 12, 2, "under"))),
    ]
    for cell, t in zip(cells, (1, 2, 3), strict=True):
        cell.tile = tile(t, cell.place.x, cell.place.y, cell.place.w, cell.place.h)
    lines = render(TileGrid(cells), 100)
    assert all(len(line) <= 100 for line in lines)
    top, left = title_column(lines, "Text")  # every title is "Text"; the first is tile 1
    assert left < 5
    right_line = next(i for i, line in enumerate(lines) if line.count(" Text ") == 2)
    assert right_line == top  # tiles 1 and 2 share the first band
    assert lines[top].rindex(" Text ") > 45  # tile 2 starts half-way across
    under = next(i for i, line in enumerate(lines) if i > top and " Text " in line)
    assert under >= top + 10  # tile 3 starts under the 5-unit band (two lines per unit)
    assert lines[under].count(" Text ") == 1
    assert lines[under].rstrip().endswith("╮")
    assert len(lines[under]) == 100  # full width: w=12


def test_a_gap_in_x_is_kept() -> None:
    only = Cell(placement(tile(1, 6, 0, 6, 3)), tile=tile(1, 6, 0, 6, 3))
    lines = render(TileGrid([only]), 100)
    assert lines[0].index("╭") == 50  # the left half of the grid is empty


def test_tiles_stacked_beside_a_tall_one() -> None:
    tall = tile(1, 0, 0, 6, 10, "tall")
    upper = tile(2, 6, 0, 6, 5, "upper")
    lower = tile(3, 6, 5, 6, 5, "lower")
    cells = [Cell(placement(t), tile=t) for t in (tall, upper, lower)]
    lines = render(TileGrid(cells), 100)
    assert lines[0].count(" Text ") == 2  # the tall tile and the upper one start together
    lower_line = next(i for i in range(1, len(lines)) if " Text " in lines[i])
    assert lower_line == 10  # the lower tile starts 5 units down, beside the tall one
    assert lines[lower_line].index("╭") == 50
    assert lines[19].startswith("╰")  # the tall tile ends with the lower one
    assert lines[19].count("╯") == 2


def test_a_narrow_terminal_gets_one_column_in_grid_order() -> None:
    tiles = [tile(2, 6, 0, 6, 5, "second"), tile(1, 0, 0, 6, 5, "first"), tile(3, 0, 5, 12, 2)]
    cells = [Cell(placement(t), tile=t) for t in tiles]
    lines = render(TileGrid(cells), NARROW - 20)
    tops = [i for i, line in enumerate(lines) if line.startswith("╭")]
    assert len(tops) == 3
    assert all(line.count("╭") <= 1 for line in lines)  # one tile per line
    text = "\n".join(lines)
    assert text.index("first") < text.index("second")  # y, then x


def test_placement_clamps_to_the_grid_and_places_tiles_without_a_layout() -> None:
    wild = pda.Tile(id=1, layouts={"sm": {"x": 10, "y": "2", "w": 9, "h": 4}})
    assert placement(wild) == Placement(10, 2, 2, 4)
    none = pda.Tile(id=2)
    assert placement(none, below=7) == Placement(0, 7, 12, 5)
    xs_only = pda.Tile(id=3, layouts={"xs": {"x": 0, "y": 3, "w": 1, "h": 5}})
    assert placement(xs_only, "xs") == Placement(0, 3, 1, 5)


# --- charts and bodies -----------------------------------------------------------------------


def test_line_chart_has_value_axis_time_axis_and_last_values() -> None:
    series = [
        Series("Signups", [10, 20, 30, 40, 50], ["1-Nov", "2-Nov", "3-Nov", "4-Nov", "5-Nov"]),
        Series("Churn", [5, 4, 3, 2, 1]),
    ]
    chart = LineChart(series)
    lines = [t.plain for t in chart.lines(60, 10)]
    assert len(lines) == 10
    assert lines[0].startswith("━ Signups 50  ━ Churn 1")  # legend with last values
    axis = [line.split("┤")[0].strip() for line in lines[1:8] if "┤" in line]
    assert axis[0] == "50"  # the top of the value axis is the highest value
    assert axis[-1] == "1"  # the bottom the lowest
    assert "└┬" in lines[8]
    assert lines[9].split() == ["1-Nov", "3-Nov", "5-Nov"]
    plot = [line.split("┤" if "┤" in line else "│", 1)[1] for line in lines[1:8]]
    # Signups rise from the bottom-left to the top-right; churn falls.
    assert plot[-1].strip().startswith("─") or plot[-1][1] in "─╯"
    assert plot[0].rstrip()[-1] in "─╭"
    assert all(len(line) <= 60 for line in lines)


def test_line_chart_of_a_flat_or_empty_series() -> None:
    flat = [t.plain for t in LineChart([Series("Flat", [7, 7, 7])]).lines(40, 8)]
    assert "━ Flat 7" in flat[0]
    assert sum("─" in line for line in flat[1:-2]) == 1  # one straight line
    empty = [t.plain for t in LineChart([Series("None", [None, None])]).lines(40, 8)]
    assert empty[1] == "(no data points)"


def test_funnel_bars_scale_to_the_first_step_with_conversion_rates() -> None:
    bars = FunnelBars([("Viewed pricing", 2480), ("Started signup", 1240), ("Signed up", 612)])
    lines = [t.plain for t in bars.lines(70)]
    assert "2,480 100.0%" in lines[0]
    assert "1,240  50.0%  ↓ 50.0%" in lines[1]
    assert "612  24.7%  ↓ 49.4%" in lines[2]
    assert lines[3] == "conversion 24.7% (612 of 2,480)"
    full = lines[0].count("█")
    half = lines[1].count("█")
    assert full >= 10
    assert abs(half - full / 2) <= 1


def test_big_number_is_large_when_there_is_room() -> None:
    large = render(BigNumber(1234, "Signups"), 60)
    assert len(large) == 6  # five lines of digits and the caption
    assert "████" in large[0]
    assert large[-1].strip() == "1,234 · Signups"
    console = Console(width=60, color_system=None)
    small = console.render_lines(BigNumber(1234, "Signups"), console.options.update(height=4))
    assert len(small) == 4  # three lines of half-block digits when only four fit
    assert compact_value(123456) == "123K"
    assert format_value(1412.5) == "1,412.5"


def test_text_tiles_are_rendered_markdown() -> None:
    t = pda.Tile(
        id=1,
        text=pda.Text(
            id=1, body="# Release 2.4\n\n- **faster** lists\n- [docs](https://x.example)"
        ),
        layouts={"sm": {"x": 0, "y": 0, "w": 12, "h": 4}},
    )
    text = "\n".join(render(tile_panel(t, 10), 60))
    assert "Release 2.4" in text
    assert "# Release" not in text  # a heading, not the raw Markdown
    assert "• faster lists" in text
    assert "**" not in text
    assert "docs (https://x.example)" in text  # links as text, not terminal hyperlinks


def test_fixture_dashboard_renders_each_kind() -> None:
    dashboard = msgspec.json.decode(fixture_bytes("dashboard_detail.json"), type=pda.Dashboard)
    view = LiveView()
    view.feed(pda.MetadataEvent(dashboard=dashboard))
    text = "\n".join(render(view.renderable(), 100))
    assert "Growth overview" in text
    assert "┤" in text  # the trends chart's axis
    assert "conversion" in text  # the funnel
    assert "Activation" in text  # the text tile


# --- colour --------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Tty())
    assert not use_color(io.StringIO())
    assert not use_color(_Tty(), no_color=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(_Tty())


@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_color_output_has_no_colour_codes(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    if how == "env":
        monkeypatch.setenv("NO_COLOR", "1")
    out, err = _Tty(), _Tty()
    output = Output(out=out, err=err, no_color=how == "flag", width=80)
    output.error_text("posthog-dash: not found: nope")
    dashboard = msgspec.json.decode(fixture_bytes("dashboard_detail.json"), type=pda.Dashboard)
    view = LiveView()
    view.feed(pda.MetadataEvent(dashboard=dashboard))
    output.print(view.renderable())
    colours = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|4[0-9])[;m]")
    assert not colours.search(out.getvalue() + err.getvalue())
    coloured = Output(out=_Tty(), err=_Tty(), width=80) if how == "flag" else None
    if coloured is not None:
        coloured.error_text("posthog-dash: not found: nope")
        assert colours.search(coloured.err.getvalue())  # type: ignore[attr-defined]


# --- the live display -----------------------------------------------------------------------


def _transcript_events() -> list[pda.StreamEvent]:
    from posthog_dash_async._sse import decode_all
    from posthog_dash_async._streaming import decode_event

    return [decode_event(data) for data in decode_all(fixture_bytes("stream_tiles_transcript.sse"))]


class _Events:
    """A stand-in for TileStream: a list of events, with a hook after each one."""

    def __init__(self, events: list[pda.StreamEvent], after: object = None) -> None:
        self._events = events
        self._after = after

    async def __aenter__(self) -> _Events:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[pda.StreamEvent]:
        async def gen() -> AsyncIterator[pda.StreamEvent]:
            for index, event in enumerate(self._events):
                yield event
                if callable(self._after):
                    self._after(index)

        return gen()


async def test_live_painter_redraws_in_place_and_prints_the_full_final_view() -> None:
    out = _Tty()
    console = make_console(out, width=100)
    console.height = 12  # smaller than the dashboard: live frames are cropped
    view = await show_stream(_Events(_transcript_events()), LivePainter(console))  # type: ignore[arg-type]
    text = out.getvalue()
    assert text.startswith("\x1b[?25l")  # cursor hidden while drawing
    assert text.rstrip("\n").endswith("\x1b[?25h")  # and given back
    assert "\x1b[2K" in text  # earlier frames erased before a redraw
    final = _SGR.sub("", text.rsplit("\x1b[2K", 1)[-1])
    assert "[4 of 4 tiles, 1 failed] complete in" in final
    assert "Weekly active users" in final
    assert final.count("\n") > 12  # the final view is printed in full
    assert view.done


async def test_live_view_follows_a_resize() -> None:
    out = _Tty()
    console = make_console(out, width=110)
    console.height = 200

    def shrink(index: int) -> None:
        if index == 0:
            console.width = 60  # the terminal got narrower after the first event

    await show_stream(_Events(_transcript_events(), after=shrink), LivePainter(console))  # type: ignore[arg-type]
    final = _SGR.sub("", out.getvalue().rsplit("\x1b[2K", 1)[-1])
    lines = final.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert all(line.count("╭") <= 1 for line in lines)  # one column now


async def test_live_view_erases_a_waiting_frame_when_the_stream_fails_to_open() -> None:
    class Refused:
        async def __aenter__(self) -> Refused:
            raise pda.NotFoundError("GET ... -> 404: Not found.", status=404)

        async def __aexit__(self, *exc: object) -> None:
            return None

    out = _Tty()
    console = make_console(out, width=60)
    with pytest.raises(pda.NotFoundError):
        await show_stream(Refused(), LivePainter(console))  # type: ignore[arg-type]
    text = out.getvalue()
    assert "(waiting for the dashboard…)" in text
    # The cursor is given back and the two lines of the frame are erased.
    assert text.endswith("\x1b[?25h\r\x1b[1A\x1b[2K\x1b[1A\x1b[2K")


async def test_append_painter_numbers_tiles_and_never_moves_the_cursor() -> None:
    out = io.StringIO()
    painter = painter_for(out, live=True, width=80)  # --live, but not a terminal
    assert isinstance(painter, AppendPainter)
    await show_stream(_Events(_transcript_events()), painter)  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0] == "Growth overview"
    heads = [line.split(" ", 1)[0] for line in lines if line.startswith("[")]
    assert heads[:4] == ["[1]", "[2]", "[3]", "[4]"]
    assert lines[-1].startswith("[4 of 4 tiles, 1 failed] complete in")
    assert "\x1b" not in out.getvalue()


async def test_stream_live_against_fake_posthog_on_a_terminal() -> None:
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        out = _Tty()
        output = Output(out=out, err=_Tty(), width=120)
        async with pda.AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        ) as ph:
            painter = painter_for(output, live=True)
            assert isinstance(painter, LivePainter)
            view = await show_stream(ph.dashboards.stream_tiles(388), painter)
    assert view.received == 6
    final = _SGR.sub("", out.getvalue().rsplit("\x1b[2K", 1)[-1])
    first_band = next(line for line in final.splitlines() if "Signups (7d)" in line)
    assert "Activated accounts" in first_band  # three 4-wide tiles on one band
    assert "Paying customers" in first_band
    digits = [line for line in final.splitlines() if "▀▀" in line]
    assert len(digits) >= 4  # big numbers in block digits, three lines tall in a 3-unit tile
