"""``ph.dashboards.sharing``: the public share link of a dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from .. import _wire
from .._config import Timeout
from .._wire import UNSET, UnsetType, check_id, check_type
from ..errors import InvalidArgumentError
from ..models import SharingConfiguration

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["Sharing"]

_sharing = msgspec.json.Decoder(SharingConfiguration)

TimeoutArg = Timeout | float | None


class Sharing:
    """``/dashboards/{dashboard_id}/sharing/``."""

    def __init__(self, client: AsyncPostHog) -> None:
        self._client = client

    async def get(self, dashboard_id: int, *, timeout: TimeoutArg = None) -> SharingConfiguration:
        """The sharing configuration. Until it is first saved, ``created_at`` is ``None`` and
        the server shows a new unsaved ``access_token`` on every read."""
        check_id("dashboard_id", dashboard_id)
        return await self._client._call(
            "GET", f"dashboards/{dashboard_id}/sharing/", _sharing.decode, timeout=timeout
        )

    async def update(
        self,
        dashboard_id: int,
        *,
        enabled: bool | UnsetType = UNSET,
        settings: Mapping[str, Any] | UnsetType | None = UNSET,
        password_required: bool | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> SharingConfiguration:
        """Enable/disable sharing or change its settings: ``PATCH .../sharing/``."""
        check_id("dashboard_id", dashboard_id)
        if enabled is not UNSET:
            check_type("enabled", enabled, bool, "a bool")
        if password_required is not UNSET:
            check_type("password_required", password_required, bool, "a bool")
        if settings is not UNSET and settings is not None:
            if not isinstance(settings, Mapping):
                raise InvalidArgumentError(f"settings must be a dict or None, got {settings!r}")
            settings = dict(settings)
        body = _wire.body_from(
            {"enabled": enabled, "settings": settings, "password_required": password_required}
        )
        if not body:
            raise InvalidArgumentError("sharing.update() needs at least one field to change")
        return await self._client._call(
            "PATCH",
            f"dashboards/{dashboard_id}/sharing/",
            _sharing.decode,
            json=body,
            timeout=timeout,
        )

    async def refresh(
        self, dashboard_id: int, *, timeout: TimeoutArg = None
    ) -> SharingConfiguration:
        """Rotate the share token: ``POST .../sharing/refresh/``. The old link keeps working
        for a short grace period on the server."""
        check_id("dashboard_id", dashboard_id)
        return await self._client._call(
            "POST", f"dashboards/{dashboard_id}/sharing/refresh/", _sharing.decode, timeout=timeout
        )
