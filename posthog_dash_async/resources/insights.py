"""``ph.insights``: the project's insights (``/api/projects/{project_id}/insights/``).

An insight's ``dashboards`` list is the only way to put an insight tile on a dashboard or
take it off one: ``create(dashboards=[12])`` adds a tile to dashboard 12,
``update(id, dashboards=[...])`` sets the dashboards to exactly that list (a removed tile
is soft-deleted, a re-added one restored). Scopes ``insight:read`` / ``insight:write``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .. import _wire
from .._config import Timeout
from .._pagination import iterate_pages
from .._wire import (
    UNSET,
    UnsetType,
    check_id,
    check_search,
    check_str_list,
    check_type,
    page_params,
)
from ..errors import InvalidArgumentError
from ..models import Insight, Page

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["Insights", "check_insight_id"]

MAX_NAME = 400
_SHORT_ID: Final = re.compile(r"[A-Za-z0-9]{8}")
#: Newer servers send an insight's deprecated ``dashboards`` ids only when asked; the
#: model falls back to its ``dashboard_tiles`` when they are not sent.
_WITH_DASHBOARDS: Final = [("include_dashboards", "true")]

_insight = msgspec.json.Decoder(Insight)
_page = msgspec.json.Decoder(Page[Insight])

TimeoutArg = Timeout | float | None


def check_insight_id(value: Any) -> str:
    """An insight id for a path: a positive int (the pk) or an 8-character ``short_id``."""
    if isinstance(value, str):
        if _SHORT_ID.fullmatch(value):
            return value
        raise InvalidArgumentError(
            f"insight_id must be a positive int or an 8-character short_id, got {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError(
            f"insight_id must be a positive int or an 8-character short_id, got {value!r}"
        )
    return str(value)


def _check_query(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidArgumentError(
            'query must be a non-empty dict such as {"kind": "InsightVizNode", "source": ...}'
        )
    if not isinstance(value.get("kind"), str):
        raise InvalidArgumentError("query needs a 'kind' (e.g. 'InsightVizNode', 'HogQLQuery')")
    out = dict(value)
    _wire.encode_json(out)
    return out


def _check_dashboards(value: Any) -> builtins.list[int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, set, frozenset)):
        raise InvalidArgumentError(f"dashboards must be a list of dashboard ids, got {value!r}")
    ids = [check_id("dashboards[]", d) for d in value]
    return list(dict.fromkeys(ids))


def _fields(
    *, query: Any, name: Any, description: Any, dashboards: Any, tags: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if query is not UNSET:
        fields["query"] = _check_query(query)
    if name is not UNSET:
        if name is not None:
            check_type("name", name, str, "a string or None")
            if len(name) > MAX_NAME:
                raise InvalidArgumentError(f"name must be at most {MAX_NAME} characters")
        fields["name"] = name
    if description is not UNSET:
        if description is not None:
            check_type("description", description, str, "a string or None")
        fields["description"] = description
    if dashboards is not UNSET:
        fields["dashboards"] = _check_dashboards(dashboards)
    if tags is not UNSET:
        fields["tags"] = check_str_list("tags", tags)
    return fields


class Insights:
    """Insights of the client's project."""

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client

    async def create(
        self,
        *,
        query: Mapping[str, Any],
        name: str | UnsetType | None = UNSET,
        description: str | UnsetType | None = UNSET,
        dashboards: Sequence[int] | UnsetType = UNSET,
        tags: builtins.list[str] | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Insight:
        """Create a saved insight: ``POST insights/`` (201) with ``saved: true``.

        ``query`` is the insight's query node (a bare ``TrendsQuery`` and the like is
        wrapped by the server). Each id in ``dashboards`` gets a tile showing the insight.
        """
        body = _fields(
            query=query, name=name, description=description, dashboards=dashboards, tags=tags
        )
        body["saved"] = True
        return await self._client._call(
            "POST",
            "insights/",
            _insight.decode,
            params=_WITH_DASHBOARDS,
            json=body,
            timeout=timeout,
        )

    async def get(self, insight_id: int | str, *, timeout: TimeoutArg = None) -> Insight:
        """One insight: ``GET insights/{id}/`` by pk or by its 8-character ``short_id``."""
        key = check_insight_id(insight_id)
        return await self._client._call(
            "GET",
            f"insights/{key}/",
            _insight.decode,
            params=_WITH_DASHBOARDS,
            timeout=timeout,
        )

    async def update(
        self,
        insight_id: int | str,
        *,
        query: Mapping[str, Any] | UnsetType = UNSET,
        name: str | UnsetType | None = UNSET,
        description: str | UnsetType | None = UNSET,
        dashboards: Sequence[int] | UnsetType = UNSET,
        tags: builtins.list[str] | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> Insight:
        """Change an insight: ``PATCH insights/{id}/`` with only the arguments given.

        ``dashboards`` sets the dashboards showing the insight to exactly this list: a
        dashboard left out loses its tile (soft-deleted), a new one gains a tile.
        """
        key = check_insight_id(insight_id)
        body = _fields(
            query=query, name=name, description=description, dashboards=dashboards, tags=tags
        )
        if not body:
            raise InvalidArgumentError("insights.update() needs at least one field to change")
        return await self._client._call(
            "PATCH",
            f"insights/{key}/",
            _insight.decode,
            params=_WITH_DASHBOARDS,
            json=body,
            timeout=timeout,
        )

    async def delete(self, insight_id: int | str, *, timeout: TimeoutArg = None) -> Insight:
        """Soft-delete: ``PATCH insights/{id}/ {"deleted": true}`` (PostHog answers a hard
        ``DELETE`` with 405); its tiles leave every dashboard. :meth:`restore` undoes it."""
        key = check_insight_id(insight_id)
        return await self._client._call(
            "PATCH", f"insights/{key}/", _insight.decode, json={"deleted": True}, timeout=timeout
        )

    async def restore(self, insight_id: int | str, *, timeout: TimeoutArg = None) -> Insight:
        """Undo a soft delete: ``PATCH insights/{id}/ {"deleted": false}``."""
        key = check_insight_id(insight_id)
        return await self._client._call(
            "PATCH", f"insights/{key}/", _insight.decode, json={"deleted": False}, timeout=timeout
        )

    @staticmethod
    def _list_params(
        *,
        limit: int | None,
        offset: int | None,
        search: str | None,
        saved: bool | None,
        short_id: str | None,
    ) -> builtins.list[tuple[str, str]]:
        params = page_params(limit, offset)
        if search is not None:
            params.append(("search", check_search(search)))
        if saved is not None:
            check_type("saved", saved, bool, "a bool")
            params.append(("saved", "true" if saved else "false"))
        if short_id is not None:
            check_type("short_id", short_id, str, "an 8-character short_id")
            if not _SHORT_ID.fullmatch(short_id):
                raise InvalidArgumentError(
                    f"short_id must be 8 letters or digits, got {short_id!r}"
                )
            params.append(("short_id", short_id))
        return params

    async def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        search: str | None = None,
        saved: bool | None = None,
        short_id: str | None = None,
        timeout: TimeoutArg = None,
    ) -> Page[Insight]:
        """One page of insights: ``GET insights/``.

        ``search`` matches name, description and tags (exact matches first);
        ``saved=True`` keeps saved insights and those on a dashboard, ``False`` the
        others; ``short_id`` finds one insight by its short id.
        """
        params = self._list_params(
            limit=limit, offset=offset, search=search, saved=saved, short_id=short_id
        )
        return await self._client._call(
            "GET", "insights/", _page.decode, params=params or None, timeout=timeout
        )

    def iter(
        self,
        *,
        page_size: int = 100,
        search: str | None = None,
        saved: bool | None = None,
        short_id: str | None = None,
        timeout: TimeoutArg = None,
    ) -> AsyncIterator[Insight]:
        """Every insight over all pages, in server order, each once (pages after the first
        are fetched concurrently, like ``dashboards.iter()``)."""
        params = self._list_params(
            limit=page_size, offset=None, search=search, saved=saved, short_id=short_id
        )
        return iterate_pages(self._client, "insights/", _page.decode, params, page_size, timeout)
