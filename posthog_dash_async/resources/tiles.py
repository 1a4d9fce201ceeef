"""``ph.dashboards.tiles``: the tile actions of a dashboard, without hand-built PATCH bodies.

Each call sends exactly the body PostHog's tile actions take and returns the model of the
answer. Layouts are given as ``{"sm": TileLayout(...), "xs": ...}`` (or plain dicts with
the keys ``x``, ``y``, ``w``, ``h``) and checked before anything is sent: PostHog stores a
text tile's layouts without bounds checks, so a tile off the grid would otherwise land on
the dashboard and break it for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .._config import Timeout
from .._wire import UNSET, UnsetType, check_choice, check_id, check_type, ignore_body
from ..errors import InvalidArgumentError, NotFoundError
from ..models import Dashboard, Tile, TileLayout

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["REORDER_LAYOUTS", "Tiles", "check_color", "check_layouts"]

#: ``reorder(layout=...)``: keep each tile's size (``preserve``) or give every tile the
#: same width in that many columns.
REORDER_LAYOUTS = ("preserve", "two_column", "three_column", "full_width")
BREAKPOINTS = ("sm", "xs")
GRID_COLUMNS = 12
MAX_TEXT = 4000
MAX_COLOR = 400

_tile = msgspec.json.Decoder(Tile)
_dashboard = msgspec.json.Decoder(Dashboard)

TimeoutArg = Timeout | float | None
LayoutArg = TileLayout | Mapping[str, int]
LayoutsArg = Mapping[str, LayoutArg]

_LAYOUT_KEYS = ("x", "y", "w", "h")


def _layout_of(where: str, value: Any) -> TileLayout:
    if isinstance(value, TileLayout):
        return value
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"{where} must be a pda.TileLayout or a dict with x, y, w, h, got {value!r}"
        )
    unknown = sorted(str(k) for k in value if k not in _LAYOUT_KEYS)
    if unknown:
        raise InvalidArgumentError(f"{where} has unknown keys {unknown}; it takes x, y, w, h")
    missing = [k for k in _LAYOUT_KEYS if k not in value]
    if missing:
        raise InvalidArgumentError(f"{where} is missing {', '.join(missing)}")
    try:
        return TileLayout(**{k: value[k] for k in _LAYOUT_KEYS})
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{where}: {exc}") from None


def check_layouts(value: Any, *, name: str = "layouts") -> dict[str, dict[str, int]]:
    """``{"sm": TileLayout | dict, "xs": ...}`` -> the JSON object the server stores.

    ``sm`` must fit the 12-column grid (``x`` 0-11, ``w`` 1-12, ``x + w <= 12``); every
    breakpoint needs whole numbers with ``x``/``y`` >= 0 and ``w``/``h`` >= 1.
    """
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f'{name} must be a dict such as {{"sm": pda.TileLayout(0, 0, 6, 5)}}, got {value!r}'
        )
    out: dict[str, dict[str, int]] = {}
    for size, raw in value.items():
        if size not in BREAKPOINTS:
            raise InvalidArgumentError(f"{name} keys must be among {BREAKPOINTS!r}, got {size!r}")
        layout = _layout_of(f"{name}[{size!r}]", raw)
        if size == "sm" and layout.x + layout.w > GRID_COLUMNS:
            raise InvalidArgumentError(
                f"{name}['sm'] must fit the {GRID_COLUMNS}-column grid: "
                f"x + w = {layout.x + layout.w} > {GRID_COLUMNS}"
            )
        out[size] = layout.to_dict()
    return out


def check_color(value: Any) -> Any:
    """A tile colour: a string of at most 400 characters, or ``None``/``""`` to clear it."""
    if value is UNSET or value is None:
        return value
    check_type("color", value, str, "a string or None")
    if len(value) > MAX_COLOR:
        raise InvalidArgumentError(f"color must be at most {MAX_COLOR} characters")
    return value


def _check_body(value: Any) -> str:
    check_type("body", value, str, "a string")
    if not value.strip():
        raise InvalidArgumentError("body must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidArgumentError(f"body must be at most {MAX_TEXT} characters")
    return str(value)


class Tiles:
    """Tile actions of ``/dashboards/{dashboard_id}/`` (scope ``dashboard:write``)."""

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client

    async def copy(
        self,
        dashboard_id: int,
        tile_id: int,
        *,
        from_dashboard: int,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """Copy tile ``tile_id`` of dashboard ``from_dashboard`` onto ``dashboard_id``:
        ``POST dashboards/{dashboard_id}/copy_tile/`` ``{"fromDashboardId", "tileId"}``.

        The copy shows the same insight or text (no new insight is made). Returns the
        destination dashboard. Button tiles cannot be copied; an insight already on the
        destination is refused with 400.
        """
        check_id("dashboard_id", dashboard_id)
        check_id("tile_id", tile_id)
        check_id("from_dashboard", from_dashboard)
        if from_dashboard == dashboard_id:
            raise InvalidArgumentError(
                "from_dashboard must differ from dashboard_id (the destination)"
            )
        return await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/copy_tile/",
            _dashboard.decode,
            json={"fromDashboardId": from_dashboard, "tileId": tile_id},
            timeout=timeout,
        )

    async def reorder(
        self,
        dashboard_id: int,
        tile_ids: Sequence[int],
        *,
        layout: Literal["preserve", "two_column", "three_column", "full_width"] | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """Put the tiles in this order: ``POST dashboards/{id}/reorder_tiles/``
        ``{"tile_order": [...], "layout": ...}``.

        The server repacks the listed tiles' ``sm`` and ``xs`` layouts row by row in that
        order: ``layout="preserve"`` (the server's default) keeps each tile's size,
        ``"two_column"``, ``"three_column"`` and ``"full_width"`` give them equal widths.
        Tiles left out keep their place and may then overlap. Returns the dashboard.
        """
        check_id("dashboard_id", dashboard_id)
        if isinstance(tile_ids, (str, bytes)) or not isinstance(tile_ids, Sequence):
            raise InvalidArgumentError(f"tile_ids must be a list of tile ids, got {tile_ids!r}")
        order = [check_id("tile_ids[]", t) for t in tile_ids]
        if not order:
            raise InvalidArgumentError("tile_ids must name at least one tile")
        if len(set(order)) != len(order):
            raise InvalidArgumentError(f"tile_ids must not repeat a tile: {order}")
        body: dict[str, Any] = {"tile_order": order}
        if layout is not UNSET:
            body["layout"] = check_choice("layout", layout, REORDER_LAYOUTS)
        return await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/reorder_tiles/",
            _dashboard.decode,
            json=body,
            timeout=timeout,
        )

    async def create_text(
        self,
        dashboard_id: int,
        body: str,
        *,
        color: str | UnsetType | None = UNSET,
        layouts: LayoutsArg | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Tile:
        """Add a markdown text tile: ``POST dashboards/{id}/create_text_tile/`` (201).

        ``body`` is 1-4000 characters of markdown. Without ``layouts`` the server stores
        none and places the tile where the dashboard's grid puts new tiles. Returns the
        created :class:`Tile` (``tile.text.body`` is the text).
        """
        check_id("dashboard_id", dashboard_id)
        payload: dict[str, Any] = {"body": _check_body(body)}
        if color is not UNSET:
            payload["color"] = check_color(color)
        if layouts is not UNSET:
            payload["layouts"] = check_layouts(layouts)
        return await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/create_text_tile/",
            _tile.decode,
            json=payload,
            timeout=timeout,
        )

    async def update(
        self,
        dashboard_id: int,
        tile_id: int,
        *,
        body: str | UnsetType = UNSET,
        color: str | UnsetType | None = UNSET,
        layouts: LayoutsArg | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Tile:
        """Change one tile's text, colour or layouts; returns the tile as the server has it.

        With ``body`` (text tiles only): ``POST dashboards/{id}/update_text_tile/``
        ``{"tile_id", "body", "color"?, "layouts"?}``; the server refuses other tiles
        with 400 "Tile is not a text tile.".

        Without ``body`` (any tile: insight, text, button, widget):
        ``PATCH dashboards/{id}/`` ``{"tiles": [{"id", "color"?, "layouts"?}]}``. The server
        merges ``layouts`` per breakpoint, so ``{"xs": ...}`` alone keeps ``sm``. The tile
        is taken from the dashboard it answers with; a tile that is not on the dashboard
        raises :class:`~posthog_dash_async.NotFoundError` (newer servers answer 400).

        ``color=None`` (or ``""``) clears the colour.
        """
        check_id("dashboard_id", dashboard_id)
        check_id("tile_id", tile_id)
        fields: dict[str, Any] = {}
        if body is not UNSET:
            fields["body"] = _check_body(body)
        if color is not UNSET:
            fields["color"] = check_color(color)
        if layouts is not UNSET:
            fields["layouts"] = check_layouts(layouts)
        if not fields:
            raise InvalidArgumentError("tiles.update() needs body, color or layouts")
        if "body" in fields:
            return await self._client._call(
                "POST",
                f"dashboards/{dashboard_id}/update_text_tile/",
                _tile.decode,
                json={"tile_id": tile_id, **fields},
                timeout=timeout,
            )
        dashboard = await self._client._call(
            "PATCH",
            f"dashboards/{dashboard_id}/",
            _dashboard.decode,
            json={"tiles": [{"id": tile_id, **fields}]},
            timeout=timeout,
        )
        for tile in dashboard.tiles:
            if tile.id == tile_id:
                return tile
        path = self._client._shown(self._client.url_for(f"dashboards/{dashboard_id}/"))
        raise NotFoundError(
            f"PATCH {path}: tile {tile_id} is not on dashboard {dashboard_id}",
            status=404,
            detail=f"Tile {tile_id} is not on dashboard {dashboard_id}.",
            method="PATCH",
            url=path,
        )

    async def delete(self, dashboard_id: int, tile_id: int, *, timeout: TimeoutArg = None) -> None:
        """Remove a tile from the dashboard: ``POST dashboards/{id}/delete_tile/``
        ``{"tile_id"}`` (204). The tile is soft-deleted (its insight or text stays) and the
        tiles below it move up. Deleting it again gives 404."""
        check_id("dashboard_id", dashboard_id)
        check_id("tile_id", tile_id)
        await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/delete_tile/",
            ignore_body,
            json={"tile_id": tile_id},
            timeout=timeout,
        )
