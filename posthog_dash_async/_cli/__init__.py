"""Implementation of the ``posthog-dash`` command line (see :mod:`posthog_dash_async.cli`)."""
