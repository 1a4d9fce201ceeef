"""``posthog-dash serve``: FakePostHog on a port, with the lines a shell can paste.

The default key holds every scope PostHog grants a personal API key (``*``), so every
``posthog-dash`` command of the README does against it what it does against PostHog: the
scope-less actions (``stream_tiles``, ``create_from_template_json``) refuse the key with
PostHog's 403 (``stream`` then reads the dashboard with a GET) unless
``--allow-pak-on-unscoped-actions`` is given; ``--scopes`` narrows the key. A port already in
use is one line on stderr and exit 2, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import shlex
from typing import IO, Any

from .._config import ENV_API_KEY, ENV_HOST, ENV_PROJECT_ID
from .argtypes import delay, port, positive_int
from .exits import EXIT_OK, EXIT_USAGE, PROG

__all__ = ["add_serve_parser", "export_lines", "run_serve"]


def add_serve_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` sub-command to ``sub`` (an ``add_subparsers()`` result)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run a fake PostHog server (for trying things out and tests)",
        description=(
            "Run FakePostHog, a PostHog-compatible dashboards server, until Ctrl-C. It prints "
            "`export` lines to paste into another shell; every posthog-dash command then "
            "talks to it."
        ),
    )
    p.add_argument("--host", dest="bind_host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=port, default=8010, help="port (0 picks a free one)")
    p.add_argument("--api-key", dest="serve_api_key", metavar="KEY", help="fixed key to accept")
    p.add_argument(
        "--scopes",
        metavar="SCOPE,...",
        default="*",
        help="scopes of the key (default '*': every scope), e.g. dashboard:read,insight:read",
    )
    p.add_argument("--project-id", type=positive_int, default=42)
    p.add_argument("--no-seed", action="store_true", help="start with an empty project")
    p.add_argument(
        "--allow-pak-on-unscoped-actions",
        action="store_true",
        help="accept the key on stream_tiles and create_from_template_json (PostHog refuses it)",
    )
    p.add_argument(
        "--tile-delay", type=delay, default=0.0, metavar="SECONDS", help="delay per streamed tile"
    )
    return p


def export_lines(url: str, api_key: str, project_id: int) -> str:
    """The ``export`` lines for a POSIX shell, values quoted where they need it."""
    return (
        f"export {ENV_HOST}={shlex.quote(url)}\n"
        f"export {ENV_API_KEY}={shlex.quote(api_key)}\n"
        f"export {ENV_PROJECT_ID}={project_id}\n"
    )


async def run_serve(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Start the server, print how to reach it, and serve until cancelled."""
    from ..testing import FakePostHog

    scopes = [s.strip() for s in str(args.scopes).split(",") if s.strip()] or ["*"]
    options: dict[str, Any] = {
        "project_id": args.project_id,
        "seed": not args.no_seed,
        "scopes": scopes,
        "allow_pak_on_unscoped_actions": args.allow_pak_on_unscoped_actions,
    }
    if args.serve_api_key:
        options["api_key"] = args.serve_api_key
    server = FakePostHog(host=args.bind_host, port=args.port, **options)
    try:
        await server.start()
    except OSError as exc:
        where = f"{args.bind_host}:{args.port}"
        if exc.errno == errno.EADDRINUSE:
            reason = f"{where} is already in use; pick another port with --port (0: any free one)"
        else:
            reason = f"cannot listen on {where}: {exc.strerror or exc}"
        err.write(f"{PROG}: serve: {reason}\n")
        err.flush()
        return EXIT_USAGE
    try:
        if args.tile_delay:
            server.set_stream_faults(tile_delay=args.tile_delay)
        # The fake server's own key is printed on purpose: it is what a user pastes into the
        # next shell, and it only opens this throwaway server.
        out.write(f"FakePostHog listening on {server.url} (Ctrl-C stops it); in another shell:\n")
        out.write(export_lines(server.url, server.api_key, server.project_id))
        out.flush()
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return EXIT_OK
