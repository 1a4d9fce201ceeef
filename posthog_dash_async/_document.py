"""The portable dashboard document: :class:`DashboardDocument` and how it maps to the server.

A document describes one dashboard without anything a server assigns (ids, users,
timestamps, short ids): name, description, tags, filters, variables and every tile in layout
order, each with a ``key`` that identifies it within the document. ``to_json()`` is stable
(sorted keys, two-space indent, a trailing newline) so that documents diff well in git;
``from_json()`` rejects a malformed or newer-version document with a :class:`DocumentError`
naming the place (``tiles[3].layouts.sm.w``).

Identity on the server (how a document finds "its" dashboard again):

* a dashboard the SDK created carries the tag ``pda:<document key>``;
* an insight the SDK created carries the tag ``pda:<document key>/<tile key>``;
* a text tile the SDK created ends with the invisible markdown line ``[pda]: # (<tile key>)``
  (a CommonMark link reference definition: it renders as nothing);
* a dashboard or tile the SDK did not create is recognised by a key derived from where it
  lives (host, project and server id), so a document pulled from a project finds its
  dashboard there again without any write; button tiles are keyed by their content.

Only things that carry the SDK's tag or marker are ever removed (``prune=True``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import msgspec

from .errors import InvalidArgumentError
from .models import Dashboard, Tile, TileLayout, lenient_int

__all__ = [
    "DOCUMENT_VERSION",
    "ButtonTileDocument",
    "DashboardDocument",
    "DocumentError",
    "InsightTileDocument",
    "TextTileDocument",
    "TileDocument",
    "TileLayouts",
]

#: The document format this SDK writes and the newest it reads.
DOCUMENT_VERSION = 1

IDENTITY_PREFIX = "pda:"
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_TEXT_BODY = 4000
MAX_COLOR = 400
GRID_COLUMNS = 12
#: ``text_marker()`` at the end of a body (whitespace an editor may add after it allowed).
_MARKER_RE = re.compile(r"\n\n\[pda\]: # \(([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\)[ \t\r\n]*\Z")
_NAMESPACE = uuid.UUID("8f0b7c8e-2f43-5d1c-9a57-70d1a5b0c0de")


class DocumentError(InvalidArgumentError):
    """A dashboard document is malformed, of a newer format, or inconsistent.

    ``where`` names the place (``"tiles[3].layouts.sm.w"``, ``""`` for the whole document);
    ``source`` is the file or label the text came from, when known.
    """

    def __init__(self, where: str, problem: str, *, source: str | None = None) -> None:
        place = f"{where}: " if where else ""
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{place}{problem}")
        self.where = where
        self.problem = problem
        self.source = source


class _Doc(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of the document structs: unknown fields are an error (they are typos)."""


class TileLayouts(_Doc, frozen=True, omit_defaults=True):
    """A tile's placement per breakpoint: ``sm`` (the 12-column desktop grid) and ``xs``."""

    sm: TileLayout | None = None
    xs: TileLayout | None = None

    def to_server(self) -> dict[str, dict[str, int]]:
        """The ``layouts`` object PostHog stores."""
        out: dict[str, dict[str, int]] = {}
        for size in ("sm", "xs"):
            layout = getattr(self, size)
            if layout is not None:
                out[size] = {"x": layout.x, "y": layout.y, "w": layout.w, "h": layout.h}
        return out


class InsightTileDocument(_Doc, frozen=True, tag_field="kind", tag="insight"):
    """An insight tile: the insight's ``query`` exactly as the server gave it."""

    key: str
    query: dict[str, Any]
    name: str | None = None
    description: str = ""
    color: str | None = None
    layouts: TileLayouts = TileLayouts()

    @property
    def kind(self) -> str:
        """``"insight"`` (the ``kind`` of the JSON object)."""
        return "insight"


class TextTileDocument(_Doc, frozen=True, tag_field="kind", tag="text"):
    """A text (markdown) tile."""

    key: str
    body: str
    color: str | None = None
    layouts: TileLayouts = TileLayouts()

    @property
    def kind(self) -> str:
        """``"text"`` (the ``kind`` of the JSON object)."""
        return "text"


class ButtonTileDocument(_Doc, frozen=True, tag_field="kind", tag="button"):
    """A button (link) tile. Its key on export is derived from its content."""

    key: str
    url: str
    text: str = ""
    placement: str = "left"
    style: str | None = None
    color: str | None = None
    layouts: TileLayouts = TileLayouts()

    @property
    def kind(self) -> str:
        """``"button"`` (the ``kind`` of the JSON object)."""
        return "button"


TileDocument = InsightTileDocument | TextTileDocument | ButtonTileDocument


class DashboardDocument(_Doc, frozen=True):
    """A dashboard as a portable, versioned, JSON-serialisable document.

    ``key`` is the document's stable identity (recorded on the server as the tag
    ``pda:<key>`` on the dashboards the SDK creates). ``tags`` are the dashboard's own tags,
    without the identity tag. ``tiles`` are in layout order (top to bottom, left to right).
    Construction checks the document (keys, sizes, the 12-column grid) and raises
    :class:`DocumentError` naming the place.
    """

    key: str
    name: str | None
    version: int = DOCUMENT_VERSION
    description: str = ""
    tags: list[str] = msgspec.field(default_factory=list)
    filters: dict[str, Any] = msgspec.field(default_factory=dict)
    variables: dict[str, Any] = msgspec.field(default_factory=dict)
    tiles: list[TileDocument] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _validate(self)

    # --- serialisation --------------------------------------------------------------------

    def to_json(self) -> str:
        """The document as JSON text: sorted keys, two-space indent, a newline at the end.

        The same document always gives the same text, so it diffs well in git.
        """
        raw = msgspec.json.encode(self, order="sorted")
        return msgspec.json.format(raw, indent=2).decode() + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The document as plain JSON data."""
        result: dict[str, Any] = msgspec.to_builtins(self, order="sorted")
        return result

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str | None = None) -> DashboardDocument:
        """Read a document written by :meth:`to_json` (or by hand).

        Raises :class:`DocumentError` (a ``ValueError``) naming the place of the first
        problem: invalid JSON, a wrong type, an unknown field, a bad value, or a ``version``
        newer than this SDK reads. ``source`` (a file name) is put in front of the message.
        """
        try:
            raw = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            raise DocumentError("", f"not valid JSON: {exc}", source=source) from None
        return cls.from_dict(raw, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> DashboardDocument:
        """Like :meth:`from_json`, from already decoded JSON data."""
        if not isinstance(data, dict):
            raise DocumentError(
                "", f"a document is a JSON object, got {type(data).__name__}", source=source
            )
        version = data.get("version")
        if "version" not in data:
            raise DocumentError(
                "version", "missing: a dashboard document needs a version", source=source
            )
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise DocumentError(
                "version", f"must be a positive integer, got {version!r}", source=source
            )
        if version > DOCUMENT_VERSION:
            raise DocumentError(
                "version",
                f"{version} is newer than this SDK reads (up to {DOCUMENT_VERSION}); "
                "upgrade posthog-dash-async",
                source=source,
            )
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise _located(exc, source) from None

    # --- identity on the server ----------------------------------------------------------

    @property
    def identity_tag(self) -> str:
        """The tag recorded on the dashboards the SDK creates from this document."""
        return dashboard_identity_tag(self.key)

    def tile(self, key: str) -> TileDocument | None:
        """The tile with this key, or ``None``."""
        for tile in self.tiles:
            if tile.key == key:
                return tile
        return None


# --- validation ----------------------------------------------------------------------------

_MSGSPEC_AT = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.S)
_LAYOUT_FIELD = re.compile(r"TileLayout\.(?P<field>[xywh]) (?P<rest>.*)$", re.S)


def _located(exc: msgspec.ValidationError, source: str | None) -> DocumentError:
    """Turn msgspec's ``... - at `$.tiles[3].layouts.sm``` into a DocumentError."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, DocumentError):
        return DocumentError(cause.where, cause.problem, source=source)
    match = _MSGSPEC_AT.match(str(exc))
    if match is None:
        return DocumentError("", str(exc), source=source)
    where = match["path"].lstrip(".")
    problem = match["problem"]
    field = _LAYOUT_FIELD.search(problem)
    if field is not None:
        where = f"{where}.{field['field']}"
        problem = field["rest"]
    return DocumentError(where, problem, source=source)


def marker_length(key: str) -> int:
    """How many characters the text-tile identity marker adds to a body."""
    return len(text_marker(key))


def _check_key(where: str, key: str) -> None:
    if not KEY_RE.match(key):
        raise DocumentError(
            where,
            f"{key!r} is not a valid key (1-64 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit)",
        )


def _check_layouts(where: str, layouts: TileLayouts) -> None:
    sm = layouts.sm
    if sm is None:
        return
    if sm.x > GRID_COLUMNS - 1:
        raise DocumentError(f"{where}.sm.x", f"must be at most {GRID_COLUMNS - 1}, got {sm.x}")
    if sm.w > GRID_COLUMNS:
        raise DocumentError(f"{where}.sm.w", f"must be at most {GRID_COLUMNS}, got {sm.w}")
    if sm.x + sm.w > GRID_COLUMNS:
        raise DocumentError(
            f"{where}.sm.w",
            f"x + w must be at most {GRID_COLUMNS} (the tile must fit the grid), "
            f"got {sm.x} + {sm.w}",
        )


def _validate(doc: DashboardDocument) -> None:
    if doc.version != DOCUMENT_VERSION:
        raise DocumentError("version", f"this SDK writes version {DOCUMENT_VERSION} documents")
    _check_key("key", doc.key)
    if doc.name is not None and len(doc.name) > 400:
        raise DocumentError("name", "must be at most 400 characters")
    for i, tag in enumerate(doc.tags):
        if tag.startswith(IDENTITY_PREFIX):
            raise DocumentError(
                f"tags[{i}]",
                f"tags starting with {IDENTITY_PREFIX!r} are reserved for the SDK's identity tag",
            )
        if not tag.strip():
            raise DocumentError(f"tags[{i}]", "must not be empty")
    seen: dict[str, int] = {}
    for i, tile in enumerate(doc.tiles):
        where = f"tiles[{i}]"
        _check_key(f"{where}.key", tile.key)
        if tile.key in seen:
            raise DocumentError(
                f"{where}.key", f"{tile.key!r} is already the key of tiles[{seen[tile.key]}]"
            )
        seen[tile.key] = i
        if tile.color is not None and len(tile.color) > MAX_COLOR:
            raise DocumentError(f"{where}.color", f"must be at most {MAX_COLOR} characters")
        _check_layouts(f"{where}.layouts", tile.layouts)
        if isinstance(tile, InsightTileDocument):
            if not isinstance(tile.query.get("kind"), str):
                raise DocumentError(
                    f"{where}.query.kind", "an insight query needs a 'kind' (e.g. InsightVizNode)"
                )
            tag = insight_identity_tag(doc.key, tile.key)
            if len(tag) > 255:
                raise DocumentError(f"{where}.key", "document key + tile key are too long")
        elif isinstance(tile, TextTileDocument):
            limit = MAX_TEXT_BODY - marker_length(tile.key)
            if not tile.body.strip():
                raise DocumentError(f"{where}.body", "a text tile needs a body")
            if len(tile.body) > limit:
                raise DocumentError(
                    f"{where}.body",
                    f"must be at most {limit} characters ({MAX_TEXT_BODY} less the SDK's "
                    "identity marker)",
                )
            if _MARKER_RE.search(tile.body):
                raise DocumentError(f"{where}.body", "must not end with a [pda] marker line")
        elif isinstance(tile, ButtonTileDocument) and not tile.url:
            raise DocumentError(f"{where}.url", "a button needs a url")


# --- identity ------------------------------------------------------------------------------


def dashboard_identity_tag(key: str) -> str:
    """``pda:<key>``: the tag the SDK records on a dashboard it creates."""
    return f"{IDENTITY_PREFIX}{key}"


def insight_identity_tag(dashboard_key: str, tile_key: str) -> str:
    """``pda:<dashboard key>/<tile key>``: the tag on an insight the SDK creates."""
    return f"{IDENTITY_PREFIX}{dashboard_key}/{tile_key}"


def text_marker(key: str) -> str:
    """The invisible markdown line that ends a text tile the SDK creates."""
    return f"\n\n[pda]: # ({key})"


def split_text_marker(body: str) -> tuple[str, str | None]:
    """``(body without the marker, tile key)``; the key is ``None`` without a marker."""
    match = _MARKER_RE.search(body)
    if match is None:
        return body, None
    return body[: match.start()], match[1]


def dashboard_key_of_tags(tags: list[str]) -> str | None:
    """The document key in a dashboard's identity tag, if it has one."""
    for tag in tags:
        if tag.startswith(IDENTITY_PREFIX) and "/" not in tag:
            key = tag[len(IDENTITY_PREFIX) :]
            if KEY_RE.match(key):
                return key
    return None


def tile_key_of_insight_tags(tags: list[str], dashboard_key: str) -> str | None:
    """The tile key in an insight's identity tag for this document, if it has one."""
    prefix = f"{IDENTITY_PREFIX}{dashboard_key}/"
    for tag in tags:
        if tag.startswith(prefix):
            key = tag[len(prefix) :]
            if KEY_RE.match(key):
                return key
    return None


def _where(host: str, project: int | str) -> str:
    return f"{host.rstrip('/').lower()}/project/{project}"


def derived_dashboard_key(host: str, project: int | str, dashboard_id: int) -> str:
    """The key of a dashboard the SDK did not create: stable for that dashboard."""
    return str(uuid.uuid5(_NAMESPACE, f"{_where(host, project)}/dashboard/{dashboard_id}"))


def derived_tile_key(host: str, project: int | str, tile_id: int) -> str:
    """The key of a tile the SDK did not create: stable for that tile."""
    digest = uuid.uuid5(_NAMESPACE, f"{_where(host, project)}/tile/{tile_id}").hex
    return f"t{digest[:12]}"


def button_key(url: str, text: str, placement: str, style: str | None) -> str:
    """A button tile's key, derived from its content (buttons have nowhere to keep one)."""
    content = msgspec.json.encode([url, text, placement, style])
    return f"b{hashlib.sha256(content).hexdigest()[:12]}"


# --- from a server dashboard ---------------------------------------------------------------


class TileIdentity(msgspec.Struct, frozen=True):
    """How a server tile relates to a document: its key and whether the SDK made it."""

    key: str
    managed: bool


def tile_identity(
    tile: Tile, dashboard_key: str, host: str, project: int | str
) -> TileIdentity | None:
    """The key of a server tile as seen from the document ``dashboard_key``.

    ``None`` for tiles a document cannot describe (widgets, tiles the server could not
    read). ``managed`` is true for tiles carrying the SDK's identity for this document.
    """
    if tile.error is not None:
        return None
    if tile.insight is not None:
        key = tile_key_of_insight_tags(list(tile.insight.tags), dashboard_key)
        if key is not None:
            return TileIdentity(key, True)
        return TileIdentity(derived_tile_key(host, project, tile.id), False)
    if tile.text is not None:
        _, key = split_text_marker(tile.text.body or "")
        if key is not None:
            return TileIdentity(key, True)
        return TileIdentity(derived_tile_key(host, project, tile.id), False)
    if tile.button_tile is not None:
        b = tile.button_tile
        return TileIdentity(button_key(b.url, b.text, b.placement, b.style), False)
    return None


def server_layouts(raw: Any) -> TileLayouts:
    """The usable part of a tile's stored ``layouts`` (each size needs x, y, w and h)."""
    sizes: dict[str, TileLayout] = {}
    if isinstance(raw, dict):
        for size in ("sm", "xs"):
            value = raw.get(size)
            if not isinstance(value, dict):
                continue
            numbers = [lenient_int(value.get(k)) for k in ("x", "y", "w", "h")]
            if any(n is None for n in numbers):
                continue
            x, y, w, h = (int(n) for n in numbers if n is not None)
            try:
                layout = TileLayout(x=x, y=y, w=w, h=h)
            except InvalidArgumentError:
                continue
            if size == "sm" and (x + w > GRID_COLUMNS or w > GRID_COLUMNS):
                continue
            sizes[size] = layout
    return TileLayouts(**sizes)


class UnsupportedTile(msgspec.Struct, frozen=True):
    """A tile a document cannot describe, and why."""

    tile_id: int
    reason: str


def tile_document(
    tile: Tile, identity: TileIdentity
) -> InsightTileDocument | TextTileDocument | ButtonTileDocument | UnsupportedTile:
    """One server tile as a document tile (or why it cannot be one)."""
    layouts = server_layouts(tile.layouts)
    color = tile.color or None
    if tile.insight is not None:
        insight = tile.insight
        if not insight.query:
            return UnsupportedTile(
                tile.id,
                f"insight {insight.short_id or insight.id} has no query (a legacy "
                "filters-only insight); PostHog creates insights only from a query",
            )
        return InsightTileDocument(
            key=identity.key,
            query=insight.query,
            name=insight.name,
            description=insight.description or "",
            color=color,
            layouts=layouts,
        )
    if tile.text is not None:
        body, _ = split_text_marker(tile.text.body or "")
        return TextTileDocument(key=identity.key, body=body, color=color, layouts=layouts)
    if tile.button_tile is not None:
        b = tile.button_tile
        return ButtonTileDocument(
            key=identity.key,
            url=b.url,
            text=b.text,
            placement=b.placement,
            style=b.style,
            color=color,
            layouts=layouts,
        )
    return UnsupportedTile(tile.id, f"a {tile.kind} tile cannot be exported")


def layout_order(tiles: list[Tile]) -> list[Tile]:
    """Tiles top to bottom, left to right on the ``sm`` grid; tiles without a usable ``sm``
    layout keep their server order after the placed ones."""
    indexed = list(enumerate(tiles))

    def sort_key(item: tuple[int, Tile]) -> tuple[int, int, int, int]:
        index, tile = item
        sm = server_layouts(tile.layouts).sm
        if sm is None:
            return (1, 0, 0, index)
        return (0, sm.y, sm.x, index)

    return [tile for _, tile in sorted(indexed, key=sort_key)]


def keyed_tiles(
    dashboard: Dashboard, dashboard_key: str, *, host: str, project: int | str
) -> list[tuple[Tile, TileIdentity | None]]:
    """A dashboard's tiles in layout order with their identity for ``dashboard_key``.

    When two tiles claim one key (a text card copied within a dashboard, two identical
    buttons), the first in layout order keeps it and the others get their derived key, so
    that export and plan see the same keys.
    """
    out: list[tuple[Tile, TileIdentity | None]] = []
    used: set[str] = set()
    for tile in layout_order(list(dashboard.tiles)):
        identity = tile_identity(tile, dashboard_key, host, project)
        if identity is not None:
            if identity.key in used:
                identity = TileIdentity(derived_tile_key(host, project, tile.id), False)
            used.add(identity.key)
        out.append((tile, identity))
    return out


def document_from_dashboard(
    dashboard: Dashboard, *, host: str, project: int | str
) -> tuple[DashboardDocument, list[UnsupportedTile]]:
    """A server dashboard as a document, plus the tiles it could not describe.

    ``host`` and ``project`` locate the dashboard; they derive the keys of a dashboard and
    tiles the SDK did not create. Pure: no request is sent.
    """
    project = dashboard.team_id if dashboard.team_id is not None else project
    key = dashboard_key_of_tags(list(dashboard.tags)) or derived_dashboard_key(
        host, project, dashboard.id
    )
    tiles: list[TileDocument] = []
    unsupported: list[UnsupportedTile] = []
    for tile, identity in keyed_tiles(dashboard, key, host=host, project=project):
        if identity is None:
            reason = tile.error.message if tile.error is not None else "unreadable tile"
            unsupported.append(
                UnsupportedTile(tile.id, f"the server could not read this tile ({reason})")
            )
            continue
        item = tile_document(tile, identity)
        if isinstance(item, UnsupportedTile):
            unsupported.append(item)
            continue
        tiles.append(item)
    doc = DashboardDocument(
        key=key,
        name=dashboard.name,
        description=dashboard.description or "",
        tags=sorted(t for t in dashboard.tags if not t.startswith(IDENTITY_PREFIX)),
        filters=dict(dashboard.filters or {}),
        variables=dict(dashboard.variables or {}),
        tiles=tiles,
    )
    return doc, unsupported
