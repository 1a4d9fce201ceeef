"""Pytest fixtures for :class:`~posthog_dash_async.testing.FakePostHog`.

Registered through the ``pytest11`` entry point, so installing posthog-dash-async makes them
available everywhere:

``posthog_server``
    A started :class:`FakePostHog` with the seed data, stopped after the test.
``posthog_server_factory``
    An async callable ``make(**options) -> FakePostHog`` that starts servers with any
    constructor options; all of them are stopped after the test.

Both are async fixtures and need pytest-asyncio. Without it the fixtures still exist but
fail with an explanation instead of a confusing "coroutine was never awaited".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ._server import FakePostHog

__all__ = ["posthog_server", "posthog_server_factory"]

ServerFactory = Callable[..., Awaitable[FakePostHog]]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only where pytest-asyncio is absent
    pytest_asyncio = None  # type: ignore[assignment]

_MISSING = (
    "the posthog_server fixtures are async and need pytest-asyncio "
    "(pip install pytest-asyncio); or use `async with FakePostHog() as server:` directly"
)

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def posthog_server() -> AsyncIterator[FakePostHog]:
        """A running FakePostHog with seed data."""
        async with FakePostHog() as server:
            yield server

    @pytest_asyncio.fixture
    async def posthog_server_factory() -> AsyncIterator[ServerFactory]:
        """Start FakePostHog servers with custom options; all are stopped at teardown."""
        started: list[FakePostHog] = []

        async def make(**options: Any) -> FakePostHog:
            server = FakePostHog(**options)
            await server.start()
            started.append(server)
            return server

        try:
            yield make
        finally:
            for server in reversed(started):
                await server.stop()

else:  # pragma: no cover - exercised only where pytest-asyncio is absent

    @pytest.fixture
    def posthog_server() -> FakePostHog:
        """Unavailable: pytest-asyncio is not installed."""
        pytest.fail(_MISSING)

    @pytest.fixture
    def posthog_server_factory() -> ServerFactory:
        """Unavailable: pytest-asyncio is not installed."""
        pytest.fail(_MISSING)
