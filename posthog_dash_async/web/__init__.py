"""A live web view of a dashboard, and the pieces to put it in your own aiohttp app.

The view is one page (shipped in this package, with Chart.js, marked and DOMPurify under
``static/vendor/``, no CDN) that lays a dashboard's tiles out on PostHog's 12-column grid
and fills them in as the tile stream delivers them. The page talks only to the local
server; the API key stays in the Python process.

- :func:`sse_relay` turns a :class:`~posthog_dash_async.TileStream` into a browser
  Server-Sent-Events response, for any aiohttp handler;
- :func:`mount` adds the page, its static files and the stream endpoint to an application;
- :func:`create_app` is an application with only the view (what ``posthog-dash view`` runs).

Each browser connection opens its own ``ph.dashboards.stream_tiles`` call, so a client
created with ``coalesce=True`` shares one upstream stream between tabs that watch the same
dashboard at the same time.
"""

from __future__ import annotations

from ._app import STATIC_DIR, PostHogSource, create_app, mount
from ._relay import DEFAULT_HEARTBEAT, SSE_HEADERS, event_payload, sse_relay

__all__ = [
    "DEFAULT_HEARTBEAT",
    "SSE_HEADERS",
    "STATIC_DIR",
    "PostHogSource",
    "create_app",
    "event_payload",
    "mount",
    "sse_relay",
]
