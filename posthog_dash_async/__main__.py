"""``python -m posthog_dash_async``: the ``posthog-dash`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
