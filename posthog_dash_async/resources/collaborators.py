"""``ph.dashboards.collaborators``: explicit editors of restricted dashboards."""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Literal

import msgspec

from .. import _wire
from .._config import Timeout
from .._wire import check_choice, check_id, check_uuid
from ..models import Collaborator

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["Collaborators"]

_collaborator = msgspec.json.Decoder(Collaborator)
_collaborators = msgspec.json.Decoder(list[Collaborator])

TimeoutArg = Timeout | float | None


class Collaborators:
    """``/dashboards/{dashboard_id}/collaborators/`` (PostHog Cloud and enterprise servers).

    Collaborators only matter on dashboards with ``restriction_level=37`` in organizations
    with advanced permissions; elsewhere the server refuses to add or remove them.
    """

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client

    async def list(
        self, dashboard_id: int, *, timeout: TimeoutArg = None
    ) -> builtins.list[Collaborator]:
        """All collaborators of a dashboard (the server returns a plain array, no pages)."""
        check_id("dashboard_id", dashboard_id)
        return await self._client._call(
            "GET",
            f"dashboards/{dashboard_id}/collaborators/",
            _collaborators.decode,
            timeout=timeout,
        )

    async def add(
        self,
        dashboard_id: int,
        user_uuid: str | uuid.UUID,
        *,
        level: Literal[21, 37] = 37,
        timeout: TimeoutArg = None,
    ) -> Collaborator:
        """Give a user edit rights: ``POST .../collaborators/`` (201) with
        ``{"user_uuid", "level"}``. PostHog currently accepts only ``level=37`` (edit)."""
        check_id("dashboard_id", dashboard_id)
        user = check_uuid("user_uuid", user_uuid)
        check_choice("level", level, (21, 37))
        return await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/collaborators/",
            _collaborator.decode,
            json={"user_uuid": user, "level": level},
            timeout=timeout,
        )

    async def remove(
        self, dashboard_id: int, user_uuid: str | uuid.UUID, *, timeout: TimeoutArg = None
    ) -> None:
        """Take a user's explicit rights away: ``DELETE .../collaborators/{user_uuid}/`` (204)."""
        check_id("dashboard_id", dashboard_id)
        user = check_uuid("user_uuid", user_uuid)
        await self._client._call(
            "DELETE",
            f"dashboards/{dashboard_id}/collaborators/{user}/",
            _wire.ignore_body,
            timeout=timeout,
        )
