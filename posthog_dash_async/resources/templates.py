"""``ph.dashboards.templates``: the dashboard templates ``create(use_template=...)`` names
(``/api/projects/{project_id}/dashboard_templates/``, scope ``dashboard_template:read``)."""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Literal

import msgspec

from .._config import Timeout
from .._wire import check_choice, check_type, check_uuid, page_params
from ..models import DashboardTemplate, Page

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["TEMPLATE_ORDERINGS", "TEMPLATE_SCOPES", "Templates"]

TEMPLATE_SCOPES = ("global", "team", "feature_flag")
TEMPLATE_ORDERINGS = ("template_name", "-template_name", "created_at", "-created_at")

_template = msgspec.json.Decoder(DashboardTemplate)
_page = msgspec.json.Decoder(Page[DashboardTemplate])
_plain = msgspec.json.Decoder(list[DashboardTemplate])

TimeoutArg = Timeout | float | None


def _decode_page(body: bytes) -> Page[DashboardTemplate]:
    """A DRF page, or the plain array some server versions answer with."""
    if body.lstrip()[:1] == b"[":
        items = _plain.decode(body)
        return Page(count=len(items), results=items)
    return _page.decode(body)


class Templates:
    """Dashboard templates: PostHog's official ones and this project's own."""

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client

    async def list(
        self,
        *,
        search: str | None = None,
        scope: Literal["global", "team", "feature_flag"] | None = None,
        is_featured: bool | None = None,
        ordering: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        timeout: TimeoutArg = None,
    ) -> Page[DashboardTemplate]:
        """Templates: ``GET dashboard_templates/``, featured first, then by name.

        ``scope="global"`` keeps PostHog's official templates, ``"team"`` this project's
        (by default both); ``search`` ranks by full text; ``ordering`` is one of
        ``template_name``, ``-template_name``, ``created_at``, ``-created_at``.
        """
        params: builtins.list[tuple[str, str]] = []
        if search is not None:
            check_type("search", search, str, "a string")
            params.append(("search", search))
        if scope is not None:
            params.append(("scope", check_choice("scope", scope, TEMPLATE_SCOPES)))
        if is_featured is not None:
            check_type("is_featured", is_featured, bool, "a bool")
            params.append(("is_featured", "true" if is_featured else "false"))
        if ordering is not None:
            params.append(("ordering", check_choice("ordering", ordering, TEMPLATE_ORDERINGS)))
        params.extend(page_params(limit, offset))
        return await self._client._call(
            "GET", "dashboard_templates/", _decode_page, params=params or None, timeout=timeout
        )

    async def get(
        self, template_id: str | uuid.UUID, *, timeout: TimeoutArg = None
    ) -> DashboardTemplate:
        """One template by its UUID: ``GET dashboard_templates/{id}/``."""
        key = check_uuid("template_id", template_id)
        return await self._client._call(
            "GET", f"dashboard_templates/{key}/", _template.decode, timeout=timeout
        )
