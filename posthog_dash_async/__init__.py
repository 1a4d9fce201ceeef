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
    LimitExceededError,
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
    DashboardTemplate,
    Insight,
    InsightRun,
    Layout,
    MetadataEvent,
    NewSharePassword,
    Page,
    RunInsightsResult,
    SharePassword,
    SharingConfiguration,
    StreamEvent,
    Text,
    Tile,
    TileErrorEvent,
    TileErrorInfo,
    TileEvent,
    TileLayout,
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
    "DashboardTemplate",
    "EventTooLargeError",
    "Insight",
    "InsightRun",
    "InvalidArgumentError",
    "Layout",
    "LimitExceededError",
    "MetadataEvent",
    "MethodNotAllowedError",
    "MissingScopeError",
    "NewSharePassword",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "PostHogError",
    "RateLimit",
    "RateLimitError",
    "RunInsightsResult",
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
    "TileLayout",
    "TileRef",
    "TileStream",
    "Timeout",
    "UnknownEvent",
    "UnsupportedForApiKeyError",
    "User",
    "__version__",
]
