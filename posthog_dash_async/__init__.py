"""posthog-dash-async: the asyncio SDK for PostHog's Dashboards REST API.

import posthog_dash_async as pda

async with pda.AsyncPostHog() as ph:
    dashboard = await ph.dashboards.get(12)
    async with ph.dashboards.stream_tiles(12) as stream:
        async for event in stream:
            ...
"""

from ._client import AsyncPostHog
from ._config import RateLimit, Timeout
from ._streaming import TileStream
from ._version import __version__
from ._wire import UNSET
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientStateError,
    EventTooLargeError,
    InvalidArgumentError,
    MethodNotAllowedError,
    MissingScopeError,
    NotFoundError,
    PermissionDeniedError,
    PostHogError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamIncompleteError,
    UnsupportedForApiKeyError,
)
from .models import (
    ButtonTile,
    Collaborator,
    CompleteEvent,
    Dashboard,
    DashboardSummary,
    Insight,
    Layout,
    MetadataEvent,
    Page,
    SharePassword,
    SharingConfiguration,
    StreamEvent,
    Text,
    Tile,
    TileErrorEvent,
    TileErrorInfo,
    TileEvent,
    TileRef,
    UnknownEvent,
    User,
)

__all__ = [
    "UNSET",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPostHog",
    "AuthenticationError",
    "BadRequestError",
    "ButtonTile",
    "ClientStateError",
    "Collaborator",
    "CompleteEvent",
    "Dashboard",
    "DashboardSummary",
    "EventTooLargeError",
    "Insight",
    "InvalidArgumentError",
    "Layout",
    "MetadataEvent",
    "MethodNotAllowedError",
    "MissingScopeError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "PostHogError",
    "RateLimit",
    "RateLimitError",
    "ServerError",
    "SharePassword",
    "SharingConfiguration",
    "StreamError",
    "StreamEvent",
    "StreamIncompleteError",
    "Text",
    "Tile",
    "TileErrorEvent",
    "TileErrorInfo",
    "TileEvent",
    "TileRef",
    "TileStream",
    "Timeout",
    "UnknownEvent",
    "UnsupportedForApiKeyError",
    "User",
    "__version__",
]
