"""``posthog-dash tiles ...``: a dashboard's tiles, and the tile actions of ``ph.dashboards.tiles``.

``tiles list ID`` shows the tiles with their grid places; ``add-text``, ``edit``, ``copy``,
``reorder`` and ``delete`` each make one call and print what the server answered (``--json``
prints the answer itself). Layouts are given as ``X,Y,W,H`` and checked before anything is
sent, like every argument of the SDK.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .._wire import UNSET
from ..errors import InvalidArgumentError
from ..models import Dashboard, Tile, TileLayout
from ..resources.tiles import REORDER_LAYOUTS, check_layouts
from .argtypes import positive_int

if TYPE_CHECKING:
    from .._client import AsyncPostHog
    from .output import Output

# The parser is built without the ``cli`` extra (``build_parser`` is importable for docs
# and tests); what draws output imports it when a tiles command runs.

__all__ = ["add_tiles_parser", "cmd_tiles", "parse_layout"]

TILE_HEADERS = ("TILE", "KIND", "TITLE", "SM (X,Y,W,H)", "COLOR")


def parse_layout(text: str) -> TileLayout:
    """``"0,0,6,5"`` -> ``TileLayout(0, 0, 6, 5)`` (an argparse ``type``)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H such as 0,0,6,5, got {text!r}")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected four whole numbers X,Y,W,H, got {text!r}"
        ) from None
    try:
        return TileLayout(*numbers)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_tiles_parser(
    parser: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]
) -> None:
    """The ``tiles`` actions under ``parser``; ``parents`` carry the connection and
    ``--json`` options every action takes."""
    actions = parser.add_subparsers(dest="tiles_action", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        q = actions.add_parser(name, parents=parents, help=text, description=text)
        q.add_argument("id", type=positive_int, metavar="ID", help="the dashboard")
        return q

    action("list", "the dashboard's tiles and where they sit")

    q = action("add-text", "add a markdown text tile")
    q.add_argument("body", metavar="TEXT", help="the markdown (1-4000 characters)")
    q.add_argument("--color", help="the tile's colour")
    _layout_options(q)

    q = action("edit", "change a tile's text (text tiles), colour or layout (any tile)")
    q.add_argument("tile", type=positive_int, metavar="TILE")
    q.add_argument("--body", metavar="TEXT", help="new markdown (text tiles only)")
    colour = q.add_mutually_exclusive_group()
    colour.add_argument("--color", help="new colour")
    colour.add_argument("--clear-color", action="store_true", help="remove the colour")
    _layout_options(q)

    q = action("copy", "copy a tile onto another dashboard (same insight or text)")
    q.add_argument("tile", type=positive_int, metavar="TILE")
    q.add_argument("--to", type=positive_int, required=True, metavar="ID", help="destination")

    q = action("reorder", "put tiles in this order (their layouts are repacked)")
    q.add_argument("tiles", type=positive_int, nargs="+", metavar="TILE")
    q.add_argument(
        "--layout",
        choices=REORDER_LAYOUTS,
        default=None,
        help="keep sizes (preserve, the default) or give every tile the same width",
    )

    q = action("delete", "remove a tile (its insight or text stays)")
    q.add_argument("tile", type=positive_int, metavar="TILE")


def _layout_options(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--layout", type=parse_layout, metavar="X,Y,W,H", help="place on the 12-column grid"
    )
    q.add_argument(
        "--xs-layout", type=parse_layout, metavar="X,Y,W,H", help="place on the narrow grid"
    )


def _layouts(args: argparse.Namespace) -> Any:
    given = {}
    if args.layout is not None:
        given["sm"] = args.layout
    if args.xs_layout is not None:
        given["xs"] = args.xs_layout
    if not given:
        return UNSET
    try:
        return check_layouts(given, name="--layout")
    except InvalidArgumentError as exc:
        from .output import UsageError

        raise UsageError(str(exc)) from None


def _place(tile: Tile) -> str:
    layout = tile.layout("sm")
    if layout is None:
        return ""
    return ",".join("?" if v is None else str(v) for v in (layout.x, layout.y, layout.w, layout.h))


def tile_rows(tiles: list[Tile]) -> list[list[str]]:
    from .output import clean
    from .render import tile_title

    return [[str(t.id), str(t.kind), tile_title(t), _place(t), clean(t.color or "")] for t in tiles]


def _show_tiles(out: Output, dashboard: Dashboard, headline: str) -> None:
    from .output import table

    out.line(headline)
    if dashboard.tiles:
        out.lines(table(TILE_HEADERS, tile_rows(dashboard.tiles), width=out.width, flex=2))
    else:
        out.line("(no tiles)")


def _show_tile(out: Output, tile: Tile, headline: str) -> None:
    from .output import table

    out.line(headline)
    out.lines(table(TILE_HEADERS, tile_rows([tile]), width=out.width, flex=2))


async def cmd_tiles(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """``tiles list|add-text|edit|copy|reorder|delete``."""
    from .output import EXIT_OK, UsageError

    action = args.tiles_action
    tiles = ph.dashboards.tiles
    name_of = f"dashboard {args.id}"
    if action == "list":
        dashboard = await ph.dashboards.get(args.id)
        if args.json:
            for tile in dashboard.tiles:
                out.json(tile)
        else:
            count = len(dashboard.tiles)
            _show_tiles(out, dashboard, f"{count} tile{'s' if count != 1 else ''} on {name_of}")
        return EXIT_OK
    if action == "add-text":
        new_color = args.color if args.color is not None else UNSET
        tile = await tiles.create_text(args.id, args.body, color=new_color, layouts=_layouts(args))
        if args.json:
            out.json(tile)
        else:
            _show_tile(out, tile, f"added text tile {tile.id} to {name_of}")
        return EXIT_OK
    if action == "edit":
        color: Any = UNSET
        if args.clear_color:
            color = None
        elif args.color is not None:
            color = args.color
        body = args.body if args.body is not None else UNSET
        layouts = _layouts(args)
        if body is UNSET and color is UNSET and layouts is UNSET:
            raise UsageError(
                "tiles edit needs something to change: --body, --color, --clear-color, "
                "--layout or --xs-layout"
            )
        tile = await tiles.update(args.id, args.tile, body=body, color=color, layouts=layouts)
        if args.json:
            out.json(tile)
        else:
            _show_tile(out, tile, f"updated tile {tile.id} on {name_of}")
        return EXIT_OK
    if action == "copy":
        destination = await tiles.copy(args.to, args.tile, from_dashboard=args.id)
        if args.json:
            out.json(destination)
        else:
            _show_tiles(
                out, destination, f"copied tile {args.tile} from {name_of} to dashboard {args.to}"
            )
        return EXIT_OK
    if action == "reorder":
        layout = args.layout if args.layout is not None else UNSET
        dashboard = await tiles.reorder(args.id, args.tiles, layout=layout)
        if args.json:
            out.json(dashboard)
        else:
            _show_tiles(out, dashboard, f"reordered the tiles of {name_of}")
        return EXIT_OK
    await tiles.delete(args.id, args.tile)
    if args.json:
        out.json({"deleted_tile": args.tile, "dashboard_id": args.id})
    else:
        out.line(f"deleted tile {args.tile} from {name_of}")
    return EXIT_OK
