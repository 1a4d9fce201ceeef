"""The views of :class:`~posthog_dash_async.testing.FakePostHog`, one module per resource.

``_routes.py`` lists which view serves which method and path; ``_common.py`` holds what the
views share (the request context, body parsing, lookups, rendering).
"""
