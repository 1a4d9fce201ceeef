"""posthog-dash-async: the asyncio SDK for PostHog's Dashboards REST API."""

from .errors import *  # noqa: F403
