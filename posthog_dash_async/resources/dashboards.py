"""``ph.dashboards``: every Dashboards endpoint, one method per call."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .. import _ascode, _wire
from .._config import Timeout
from .._document import DashboardDocument
from .._pagination import iterate_dashboards
from .._shared_stream import share_stream
from .._streaming import TileStream
from .._wire import (
    UNSET,
    UnsetType,
    check_choice,
    check_id,
    check_search,
    check_str_list,
    check_type,
    page_params,
)
from ..errors import InvalidArgumentError
from ..models import Dashboard, DashboardSummary, Page, RunInsightsResult
from .collaborators import Collaborators
from .sharing import Sharing
from .templates import Templates
from .tiles import Tiles

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["CREATION_MODES", "REFRESH_MODES", "Dashboards"]

CREATION_MODES = ("default", "template", "duplicate", "unlisted")
REFRESH_MODES = (
    "blocking",
    "force_blocking",
    "force_cache",
    "async",
    "lazy_async",
    "force_async",
    True,
    False,
)
RESTRICTION_LEVELS = (21, 37)
LAYOUT_SIZES = ("sm", "xs")
MAX_NAME = 400

_dashboard = msgspec.json.Decoder(Dashboard)
_page = msgspec.json.Decoder(Page[DashboardSummary])
_run_insights = msgspec.json.Decoder(RunInsightsResult)
RUN_OUTPUT_FORMATS = ("optimized", "json")

TimeoutArg = Timeout | float | None
RefreshMode = Literal[
    "blocking", "force_blocking", "force_cache", "async", "lazy_async", "force_async"
]


def _check_name(value: Any) -> Any:
    if value is UNSET or value is None:
        return value
    check_type("name", value, str, "a string or None")
    if len(value) > MAX_NAME:
        raise InvalidArgumentError(f"name must be at most {MAX_NAME} characters")
    return value


def _check_object(name: str, value: Any, *, nullable: bool = False) -> Any:
    if value is UNSET or (nullable and value is None):
        return value
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a dict, got {value!r}")
    return dict(value)


def _override_param(name: str, value: Any) -> tuple[str, str]:
    """``filters_override``/``variables_override`` as the JSON text of a query parameter."""
    return (name, _wire.encode_json(_check_object(name, value)).decode())


def _tile_overrides_param(value: Any) -> tuple[str, str]:
    """``tile_filters_override``: filters per tile, ``{tile_id: {...}}``, as JSON text."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"tile_filters_override must be a dict of tile id -> filters, got {value!r}"
        )
    out: dict[str, Any] = {}
    for key, filters in value.items():
        if isinstance(key, str) and key.isdigit() and int(key) > 0:
            tile = key
        else:
            tile = str(check_id("tile_filters_override key", key))
        out[tile] = _check_object(f"tile_filters_override[{tile}]", filters)
    return ("tile_filters_override", _wire.encode_json(out).decode())


def detail_params(
    *,
    refresh: Any = UNSET,
    filters_override: Any = UNSET,
    variables_override: Any = UNSET,
    tile_filters_override: Any = UNSET,
) -> list[tuple[str, str]]:
    """The query parameters ``get`` and ``stream_tiles`` share (``UNSET``/``None``: not
    sent), checked and encoded the way the server parses them."""
    params: list[tuple[str, str]] = []
    if refresh is not UNSET and refresh is not None:
        check_choice("refresh", refresh, REFRESH_MODES)
        params.append(("refresh", _wire.join_query_value(refresh)))
    if filters_override is not UNSET and filters_override is not None:
        params.append(_override_param("filters_override", filters_override))
    if variables_override is not UNSET and variables_override is not None:
        params.append(_override_param("variables_override", variables_override))
    if tile_filters_override is not UNSET and tile_filters_override is not None:
        params.append(_tile_overrides_param(tile_filters_override))
    return params


def _check_filters(name: str, value: Any) -> Any:
    """``filters``/``variables`` are applied only when they are a non-empty object: PostHog
    ignores ``{}``, so it could never clear them, and rejects anything else."""
    value = _check_object(name, value)
    if value is not UNSET and not value:
        raise InvalidArgumentError(
            f"{name}={{}} would be ignored by PostHog ({name} cannot be cleared this way); "
            f"leave {name} out or send the keys you want"
        )
    return value


def _check_common(fields: dict[str, Any]) -> None:
    """Checks shared by create and update."""
    fields["name"] = _check_name(fields["name"])
    if fields["description"] is not UNSET:
        check_type("description", fields["description"], str, "a string ('' for none)")
    if fields["pinned"] is not UNSET:
        check_type("pinned", fields["pinned"], bool, "a bool")
    if fields["tags"] is not UNSET:
        fields["tags"] = check_str_list("tags", fields["tags"])
    if fields["restriction_level"] is not UNSET:
        check_choice("restriction_level", fields["restriction_level"], RESTRICTION_LEVELS)
    if fields["data_color_theme_id"] is not UNSET and fields["data_color_theme_id"] is not None:
        check_id("data_color_theme_id", fields["data_color_theme_id"])
    if fields["quick_filter_ids"] is not UNSET:
        fields["quick_filter_ids"] = [
            _wire.check_uuid("quick_filter_ids[]", v)
            for v in check_str_list("quick_filter_ids", fields["quick_filter_ids"])
        ]
    if fields["breakdown_colors"] is not UNSET and not isinstance(
        fields["breakdown_colors"], (list, dict, type(None))
    ):
        raise InvalidArgumentError("breakdown_colors must be a list, a dict or None")


class Dashboards:
    """Dashboards of the client's project (``/api/projects/{project_id}/dashboards/``)."""

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client
        self.collaborators = Collaborators(client)
        self.sharing = Sharing(client)
        self.tiles = Tiles(client)
        self.templates = Templates(client)

    # --- reading ------------------------------------------------------------------------

    @staticmethod
    def _list_params(
        *,
        limit: int | None,
        offset: int | None,
        tags: list[str] | None,
        exclude_generated: bool | None,
        creation_mode: str | None,
        search: str | None,
        folder: str | None,
    ) -> list[tuple[str, str]]:
        params = page_params(limit, offset)
        if tags is not None:
            params.extend(("tags", tag) for tag in check_str_list("tags", tags))
        if exclude_generated is not None:
            check_type("exclude_generated", exclude_generated, bool, "a bool")
            params.append(("exclude_generated", "true" if exclude_generated else "false"))
        if creation_mode is not None:
            params.append(
                ("creation_mode", check_choice("creation_mode", creation_mode, CREATION_MODES))
            )
        if search is not None:
            params.append(("search", check_search(search)))
        if folder is not None:
            check_type("folder", folder, str, "a folder path string ('' for the root)")
            params.append(("folder", folder))
        return params

    async def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        tags: builtins.list[str] | None = None,
        exclude_generated: bool | None = None,
        creation_mode: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        timeout: TimeoutArg = None,
    ) -> Page[DashboardSummary]:
        """One page of dashboards: ``GET dashboards/``, pinned first, then by name.

        ``tags`` matches dashboards having any of them; ``exclude_generated`` drops
        "Generated Dashboard ..." ones; ``creation_mode`` filters exactly (unlisted dashboards
        are only listed when asked for); ``search`` needs a recent server (older ones ignore
        it); ``folder`` keeps dashboards filed directly in that project folder (``""``: the
        root). Returns a :class:`Page` with ``count``, ``next``, ``previous`` and ``results``.
        """
        params = self._list_params(
            limit=limit,
            offset=offset,
            tags=tags,
            exclude_generated=exclude_generated,
            creation_mode=creation_mode,
            search=search,
            folder=folder,
        )
        return await self._client._call(
            "GET", "dashboards/", _page.decode, params=params, timeout=timeout
        )

    def iter(
        self,
        *,
        page_size: int = 100,
        tags: builtins.list[str] | None = None,
        exclude_generated: bool | None = None,
        creation_mode: str | None = None,
        search: str | None = None,
        folder: str | None = None,
        timeout: TimeoutArg = None,
    ) -> AsyncIterator[DashboardSummary]:
        """Every dashboard, over all pages, in server order, each exactly once.

        The first page tells the total; the remaining pages are then fetched concurrently
        (through the client's semaphore) by limit/offset and yielded in order.
        """
        params = self._list_params(
            limit=page_size,
            offset=None,
            tags=tags,
            exclude_generated=exclude_generated,
            creation_mode=creation_mode,
            search=search,
            folder=folder,
        )
        return iterate_dashboards(self._client, _page.decode, params, page_size, timeout)

    async def get(
        self,
        dashboard_id: int,
        *,
        refresh: RefreshMode | bool | None = None,
        filters_override: Mapping[str, Any] | None = None,
        variables_override: Mapping[str, Any] | None = None,
        tile_filters_override: Mapping[int | str, Mapping[str, Any]] | None = None,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """One dashboard with its tiles: ``GET dashboards/{id}/``.

        ``refresh="blocking"`` makes the server compute stale insight results before
        answering (slow); by default cached results are returned. ``filters_override`` and
        ``variables_override`` apply to this response only; current servers merge them
        over the stored values (a key given replaces that key, the others stay).
        ``tile_filters_override`` maps tile ids to filters for those tiles alone.
        """
        check_id("dashboard_id", dashboard_id)
        params = detail_params(
            refresh=refresh,
            filters_override=filters_override,
            variables_override=variables_override,
            tile_filters_override=tile_filters_override,
        )
        return await self._retrieve(dashboard_id, params, timeout)

    async def _retrieve(
        self, dashboard_id: int, params: builtins.list[tuple[str, str]], timeout: TimeoutArg
    ) -> Dashboard:
        """``GET dashboards/{id}/`` with already checked query parameters (also the tile
        stream's fallback, which keeps the stream's parameters)."""
        return await self._client._call(
            "GET",
            f"dashboards/{dashboard_id}/",
            _dashboard.decode,
            params=params or None,
            timeout=timeout,
        )

    async def run_insights(
        self,
        dashboard_id: int,
        *,
        refresh: RefreshMode | bool | UnsetType = UNSET,
        filters_override: Mapping[str, Any] | UnsetType = UNSET,
        variables_override: Mapping[str, Any] | UnsetType = UNSET,
        output_format: Literal["optimized", "json"] | UnsetType = UNSET,
        tile_ids: Sequence[int] | UnsetType = UNSET,
        max_result_chars: int | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> RunInsightsResult:
        """Run every insight of a dashboard: ``GET dashboards/{id}/run_insights/``
        (scope ``query:read``).

        Returns one :class:`InsightRun` per insight tile with a query (text tiles are
        skipped). ``output_format="optimized"`` (the server's default) gives each
        ``result`` as a compact text table cut to ``max_result_chars`` (default 2000,
        ``0``: no cut); ``"json"`` gives the raw results. ``tile_ids`` runs only those
        tiles. ``refresh`` defaults to ``force_cache`` on the server.
        """
        check_id("dashboard_id", dashboard_id)
        params = detail_params(
            refresh=refresh,
            filters_override=filters_override,
            variables_override=variables_override,
        )
        if output_format is not UNSET:
            params.append(
                ("output_format", check_choice("output_format", output_format, RUN_OUTPUT_FORMATS))
            )
        if tile_ids is not UNSET:
            if isinstance(tile_ids, (str, bytes)) or not isinstance(tile_ids, Sequence):
                raise InvalidArgumentError(f"tile_ids must be a list of tile ids, got {tile_ids!r}")
            ids = [check_id("tile_ids[]", t) for t in tile_ids]
            if not ids:
                raise InvalidArgumentError("tile_ids must name at least one tile")
            params.append(("tile_ids", ",".join(str(t) for t in ids)))
        if max_result_chars is not UNSET:
            if (
                isinstance(max_result_chars, bool)
                or not isinstance(max_result_chars, int)
                or max_result_chars < 0
            ):
                raise InvalidArgumentError(
                    f"max_result_chars must be an int >= 0, got {max_result_chars!r}"
                )
            params.append(("max_result_chars", str(max_result_chars)))
        return await self._client._call(
            "GET",
            f"dashboards/{dashboard_id}/run_insights/",
            _run_insights.decode,
            params=params or None,
            timeout=timeout,
        )

    # --- writing ------------------------------------------------------------------------

    async def create(
        self,
        *,
        name: str | UnsetType | None = UNSET,
        description: str | UnsetType = UNSET,
        pinned: bool | UnsetType = UNSET,
        tags: builtins.list[str] | UnsetType = UNSET,
        restriction_level: Literal[21, 37] | UnsetType = UNSET,
        use_template: str | UnsetType = UNSET,
        use_dashboard: int | UnsetType = UNSET,
        duplicate_tiles: bool | UnsetType = UNSET,
        filters: Mapping[str, Any] | UnsetType = UNSET,
        breakdown_colors: Any = UNSET,
        data_color_theme_id: int | UnsetType | None = UNSET,
        quick_filter_ids: builtins.list[str] | UnsetType = UNSET,
        create_in_folder: str | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """Create a dashboard: ``POST dashboards/`` (201). Arguments left out are not sent.

        ``use_template`` builds it from a template key (``"DEFAULT_APP"``,
        ``"WEBSITE_TRAFFIC"`` or a stored template's name); ``use_dashboard`` duplicates an
        existing dashboard, deep-copying its insights when ``duplicate_tiles=True``.
        """
        fields: dict[str, Any] = {
            "name": name,
            "description": description,
            "pinned": pinned,
            "tags": tags,
            "restriction_level": restriction_level,
            "use_template": use_template,
            "use_dashboard": use_dashboard,
            "duplicate_tiles": duplicate_tiles,
            "filters": filters,
            "breakdown_colors": breakdown_colors,
            "data_color_theme_id": data_color_theme_id,
            "quick_filter_ids": quick_filter_ids,
            "_create_in_folder": create_in_folder,
        }
        _check_common(fields)
        if use_template is not UNSET:
            check_type("use_template", use_template, str, "a template key string")
            if not use_template:
                raise InvalidArgumentError("use_template must not be empty")
        if use_dashboard is not UNSET:
            check_id("use_dashboard", use_dashboard)
        if use_template is not UNSET and use_dashboard is not UNSET:
            raise InvalidArgumentError("use_template and use_dashboard cannot be used together")
        if duplicate_tiles is not UNSET:
            check_type("duplicate_tiles", duplicate_tiles, bool, "a bool")
            if use_dashboard is UNSET:
                raise InvalidArgumentError("duplicate_tiles only applies with use_dashboard")
        fields["filters"] = _check_object("filters", filters)
        if create_in_folder is not UNSET:
            check_type("create_in_folder", create_in_folder, str, "a folder path string")
        return await self._client._call(
            "POST", "dashboards/", _dashboard.decode, json=_wire.body_from(fields), timeout=timeout
        )

    async def update(
        self,
        dashboard_id: int,
        *,
        name: str | UnsetType | None = UNSET,
        description: str | UnsetType = UNSET,
        pinned: bool | UnsetType = UNSET,
        tags: builtins.list[str] | UnsetType = UNSET,
        restriction_level: Literal[21, 37] | UnsetType = UNSET,
        filters: Mapping[str, Any] | UnsetType = UNSET,
        variables: Mapping[str, Any] | UnsetType = UNSET,
        breakdown_colors: Any = UNSET,
        data_color_theme_id: int | UnsetType | None = UNSET,
        quick_filter_ids: builtins.list[str] | UnsetType = UNSET,
        tiles: builtins.list[Mapping[str, Any]] | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """Change a dashboard: ``PATCH dashboards/{id}/`` with only the arguments given.

        ``tiles`` is a list of tile objects: ``{"text": {"body": ...}, "layouts": ...}``
        creates a text tile, ``{"id": <tile>, "layouts": ...}`` changes one,
        ``{"id": <tile>, "deleted": True}`` removes one from the dashboard.
        """
        check_id("dashboard_id", dashboard_id)
        fields: dict[str, Any] = {
            "name": name,
            "description": description,
            "pinned": pinned,
            "tags": tags,
            "restriction_level": restriction_level,
            "filters": filters,
            "variables": variables,
            "breakdown_colors": breakdown_colors,
            "data_color_theme_id": data_color_theme_id,
            "quick_filter_ids": quick_filter_ids,
            "tiles": tiles,
        }
        _check_common(fields)
        fields["filters"] = _check_filters("filters", filters)
        fields["variables"] = _check_filters("variables", variables)
        if tiles is not UNSET:
            if not isinstance(tiles, (list, tuple)) or not all(
                isinstance(t, Mapping) for t in tiles
            ):
                raise InvalidArgumentError("tiles must be a list of dicts")
            fields["tiles"] = [dict(t) for t in tiles]
        body = _wire.body_from(fields)
        if not body:
            raise InvalidArgumentError("update() needs at least one field to change")
        return await self._client._call(
            "PATCH", f"dashboards/{dashboard_id}/", _dashboard.decode, json=body, timeout=timeout
        )

    async def delete(
        self, dashboard_id: int, *, delete_insights: bool = False, timeout: TimeoutArg = None
    ) -> Dashboard:
        """Soft-delete: ``PATCH dashboards/{id}/ {"deleted": true}`` (PostHog refuses a hard
        ``DELETE`` with 405). With ``delete_insights=True`` insights that live only on this
        dashboard are soft-deleted too. Returns the dashboard as deleted (``tiles == []``);
        :meth:`restore` undoes it."""
        check_id("dashboard_id", dashboard_id)
        check_type("delete_insights", delete_insights, bool, "a bool")
        body: dict[str, Any] = {"deleted": True}
        if delete_insights:
            body["delete_insights"] = True
        return await self._client._call(
            "PATCH", f"dashboards/{dashboard_id}/", _dashboard.decode, json=body, timeout=timeout
        )

    async def restore(self, dashboard_id: int, *, timeout: TimeoutArg = None) -> Dashboard:
        """Undo a soft delete: ``PATCH dashboards/{id}/ {"deleted": false}``; tiles come back."""
        check_id("dashboard_id", dashboard_id)
        return await self._client._call(
            "PATCH",
            f"dashboards/{dashboard_id}/",
            _dashboard.decode,
            json={"deleted": False},
            timeout=timeout,
        )

    async def move_tile(
        self, dashboard_id: int, tile_id: int, to_dashboard: int, *, timeout: TimeoutArg = None
    ) -> Dashboard:
        """Move a tile to another dashboard: ``PATCH dashboards/{id}/move_tile/``.

        The body carries both ``toDashboard`` (older servers) and ``to_dashboard`` (newer
        ones); each ignores the other. Returns the source dashboard, without the tile.
        On some PostHog versions personal API keys cannot call this endpoint
        (:class:`~posthog_dash_async.UnsupportedForApiKeyError`).
        """
        check_id("dashboard_id", dashboard_id)
        check_id("tile_id", tile_id)
        check_id("to_dashboard", to_dashboard)
        if to_dashboard == dashboard_id:
            raise InvalidArgumentError("to_dashboard must differ from dashboard_id")
        body = {"tile": {"id": tile_id}, "toDashboard": to_dashboard, "to_dashboard": to_dashboard}
        return await self._client._call(
            "PATCH",
            f"dashboards/{dashboard_id}/move_tile/",
            _dashboard.decode,
            json=body,
            timeout=timeout,
        )

    def stream_tiles(
        self,
        dashboard_id: int,
        *,
        layout_size: Literal["sm", "xs"] = "sm",
        refresh: RefreshMode | bool | UnsetType = UNSET,
        filters_override: Mapping[str, Any] | UnsetType = UNSET,
        variables_override: Mapping[str, Any] | UnsetType = UNSET,
        tile_filters_override: Mapping[int | str, Mapping[str, Any]] | UnsetType = UNSET,
        fallback: bool = True,
        timeout: TimeoutArg = None,
    ) -> TileStream:
        """Stream a dashboard: ``GET dashboards/{id}/stream_tiles/`` (Server-Sent Events).

        Returns a :class:`TileStream`: ``async with`` it and ``async for`` over its events
        (metadata first, then each tile as it arrives), or ``await stream.collect()``.
        ``refresh`` and the overrides are those of :meth:`get`; the server applies them to
        the metadata and every tile. With ``fallback=True`` a server that refuses the stream
        for this credential (403 for personal API keys) or lacks the endpoint is served from
        ``GET dashboards/{id}/`` with the same parameters.
        """
        check_id("dashboard_id", dashboard_id)
        check_choice("layout_size", layout_size, LAYOUT_SIZES)
        check_type("fallback", fallback, bool, "a bool")
        params = detail_params(
            refresh=refresh,
            filters_override=filters_override,
            variables_override=variables_override,
            tile_filters_override=tile_filters_override,
        )
        stream = TileStream(
            self._client,
            dashboard_id,
            layout_size=layout_size,
            fallback=fallback,
            timeout=None if timeout is None else Timeout.coerce(timeout),
            params=params,
        )
        return share_stream(self._client, stream)

    async def create_from_template_json(
        self,
        template: Mapping[str, Any],
        *,
        creation_context: str | None = None,
        create_in_folder: str | None = None,
        timeout: TimeoutArg = None,
    ) -> Dashboard:
        """Create a dashboard from a template document:
        ``POST dashboards/create_from_template_json/`` (200).

        ``template`` needs ``template_name`` (str), ``dashboard_description`` (str),
        ``dashboard_filters`` (dict) and ``tiles`` (a non-empty list of dicts, each with a
        ``type`` such as ``"INSIGHT"`` or ``"TEXT"``); this is checked before sending.
        """
        body: dict[str, Any] = {"template": check_template(template)}
        if creation_context is not None:
            check_type("creation_context", creation_context, str, "a string")
            body["creation_context"] = creation_context
        if create_in_folder is not None:
            check_type("create_in_folder", create_in_folder, str, "a folder path string")
            body["_create_in_folder"] = create_in_folder
        return await self._client._call(
            "POST",
            "dashboards/create_from_template_json/",
            _dashboard.decode,
            json=body,
            timeout=timeout,
        )

    # --- dashboards as code (posthog_dash_async._ascode) ---------------------------------

    async def export(self, dashboard_id: int, *, strict: bool = True) -> DashboardDocument:
        """One dashboard as a portable :class:`DashboardDocument` (``GET dashboards/{id}/``).

        The document has no server ids, users or timestamps; insight queries are kept as the
        server gave them. A tile no document can describe (a widget, a legacy insight
        without a query, a tile the server could not read) raises :class:`ExportError`,
        unless ``strict=False`` leaves it out.
        """
        check_id("dashboard_id", dashboard_id)
        return await _ascode.export_dashboard(self._client, dashboard_id, strict=strict)

    async def plan(
        self, documents: Iterable[DashboardDocument], *, prune: bool = False
    ) -> _ascode.Plan:
        """Compare ``documents`` with the project and return the :class:`Plan` of writes
        that would make the project match them. Sends reads only.

        A document finds its dashboard by the identity tag ``pda:<key>`` the SDK records on
        what it creates, or, for a dashboard the document was exported from, by the key
        derived from its host, project and id. ``prune=True`` also plans the removal of what
        the SDK created and the documents no longer have; nothing else is ever removed.
        """
        return await _ascode.make_plan(self._client, documents, prune=prune)

    async def apply(self, plan: _ascode.Plan) -> _ascode.ApplyReport:
        """Carry out a plan made by :meth:`plan` with this client; returns an
        :class:`ApplyReport` (``created``, ``updated``, ``unchanged``, ``removed``).

        Creations and updates go first, removals last. On a failure the other dashboards
        still finish and :class:`ApplyError` is raised with the partial report; planning
        and applying again finishes the job without duplicates. A plan is applied once.
        """
        return await _ascode.run_apply(self._client, plan)


_TEMPLATE_REQUIRED: tuple[tuple[str, type, str], ...] = (
    ("template_name", str, "a string"),
    ("dashboard_description", str, "a string"),
    ("dashboard_filters", dict, "an object"),
    ("tiles", list, "a list"),
)
_VARIABLE_KEYS = ("id", "name", "type", "default", "description", "required")


def check_template(template: Any) -> dict[str, Any]:
    """Check a dashboard template against the keys and types the server's JSON schema
    requires, so that a bad template fails here rather than as a 400 or a 500 there."""
    if not isinstance(template, Mapping):
        raise InvalidArgumentError(f"template must be a dict, got {type(template).__name__}")
    out = dict(template)
    missing = [key for key, _t, _w in _TEMPLATE_REQUIRED if key not in out]
    if missing:
        raise InvalidArgumentError(f"template is missing required keys: {', '.join(missing)}")
    for key, typ, what in _TEMPLATE_REQUIRED:
        if not isinstance(out[key], typ):
            raise InvalidArgumentError(f"template[{key!r}] must be {what}")
    tiles = out["tiles"]
    if not tiles:
        raise InvalidArgumentError("template['tiles'] must hold at least one tile")
    for i, tile in enumerate(tiles):
        if not isinstance(tile, Mapping):
            raise InvalidArgumentError(f"template['tiles'][{i}] must be an object")
        if not isinstance(tile.get("type"), str):
            raise InvalidArgumentError(
                f"template['tiles'][{i}] needs a 'type' ('INSIGHT' or 'TEXT')"
            )
    variables = out.get("variables")
    if variables is not None:
        if not isinstance(variables, list):
            raise InvalidArgumentError("template['variables'] must be a list or None")
        for i, var in enumerate(variables):
            if not isinstance(var, Mapping) or any(k not in var for k in _VARIABLE_KEYS):
                raise InvalidArgumentError(
                    f"template['variables'][{i}] needs the keys {', '.join(_VARIABLE_KEYS)}"
                )
    if "tags" in out and out["tags"] is not None:
        check_str_list("template['tags']", out["tags"])
    try:
        _wire.encode_json(out)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"template is not JSON-serializable: {exc}") from None
    return out
