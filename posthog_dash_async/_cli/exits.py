"""Exit codes and the program name: the command line's interface to scripts.

Kept free of the ``cli`` extra's imports so that ``posthog-dash`` can say how to install
the extra when it is missing.
"""

from __future__ import annotations

__all__ = [
    "EXIT_AUTH",
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "INSTALL_HINT",
    "PROG",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_RATE_LIMITED = 5
EXIT_SERVER = 6
EXIT_NETWORK = 7
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

PROG = "posthog-dash"
INSTALL_HINT = "pip install 'posthog-dash-async[cli]'"
