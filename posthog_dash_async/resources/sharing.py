"""``ph.dashboards.sharing``: the public share link of a dashboard."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from .. import _wire
from .._config import Timeout
from .._wire import UNSET, UnsetType, check_id, check_type
from ..errors import InvalidArgumentError
from ..models import NewSharePassword, SharingConfiguration

if TYPE_CHECKING:
    from .._client import AsyncPostHog

__all__ = ["Sharing"]

_sharing = msgspec.json.Decoder(SharingConfiguration)
_password = msgspec.json.Decoder(NewSharePassword)

MAX_NOTE = 100
MIN_PASSWORD = 8
_PASSWORD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

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

    async def add_password(
        self,
        dashboard_id: int,
        *,
        note: str | UnsetType = UNSET,
        password: str | UnsetType = UNSET,
        timeout: TimeoutArg = None,
    ) -> NewSharePassword:
        """Add a password to a password-protected share link:
        ``POST .../sharing/passwords/`` (201) ``{"note"?, "raw_password"?}``.

        Without ``password`` the server generates one. The answer is the only place the
        plaintext appears (``result.password``; ``repr()`` hides it). The share link needs
        ``password_required=True`` first (:meth:`update`), else the server answers 400.
        """
        check_id("dashboard_id", dashboard_id)
        body: dict[str, Any] = {}
        if note is not UNSET:
            check_type("note", note, str, "a string")
            if len(note) > MAX_NOTE:
                raise InvalidArgumentError(f"note must be at most {MAX_NOTE} characters")
            body["note"] = note
        if password is not UNSET:
            check_type("password", password, str, "a string")
            if len(password) < MIN_PASSWORD:
                raise InvalidArgumentError(
                    f"password must be at least {MIN_PASSWORD} characters long"
                )
            body["raw_password"] = password
        return await self._client._call(
            "POST",
            f"dashboards/{dashboard_id}/sharing/passwords/",
            _password.decode,
            json=body,
            timeout=timeout,
        )

    async def remove_password(
        self, dashboard_id: int, password_id: int | str, *, timeout: TimeoutArg = None
    ) -> None:
        """Revoke a share password: ``DELETE .../sharing/passwords/{password_id}/`` (204)."""
        check_id("dashboard_id", dashboard_id)
        if isinstance(password_id, int) and not isinstance(password_id, bool):
            key = str(check_id("password_id", password_id))
        elif isinstance(password_id, str) and _PASSWORD_ID.fullmatch(password_id):
            key = password_id
        else:
            raise InvalidArgumentError(
                f"password_id must be a password's id (from share_passwords), got {password_id!r}"
            )
        await self._client._call(
            "DELETE",
            f"dashboards/{dashboard_id}/sharing/passwords/{key}/",
            _wire.ignore_body,
            timeout=timeout,
        )
