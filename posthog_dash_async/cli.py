"""The ``posthog-dash`` command line (also ``python -m posthog_dash_async``).

Configured like the client: ``POSTHOG_PERSONAL_API_KEY``, ``POSTHOG_HOST`` and
``POSTHOG_PROJECT_ID``, or the ``--api-key``, ``--host`` and ``--project`` flags. Tables are
printed for people and ``--json`` (JSON lines for lists and streams) for scripts.

Exit codes: 0 success, 1 other API or stream error, 2 usage, 3 authentication or
permission (401/403), 4 not found, 5 rate limited, 6 server error (5xx), 7 network
(connection failure or timeout), 130 interrupted (Ctrl-C). Errors are one line on stderr;
the API key never appears in any output, and no string from the server reaches the
terminal with its control characters or escape sequences.

The terminal output is drawn with `rich`, from the ``cli`` extra
(``pip install 'posthog-dash-async[cli]'``); without it the command says so in one line
and exits 2. This module imports nothing from the extra until :func:`main` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from ._cli.argtypes import non_negative_int, positive_int, seconds
from ._cli.ascode import add_ascode_parsers
from ._cli.exits import (
    EXIT_AUTH,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    INSTALL_HINT,
    PROG,
)
from ._cli.serve import add_serve_parser, run_serve
from ._cli.tiles import add_tiles_parser
from ._cli.web import add_web_arguments, run_demo_web, run_view
from ._client import AsyncPostHog
from ._config import ENV_API_KEY, ENV_HOST, ENV_PROJECT_ID, Timeout

if TYPE_CHECKING:
    from ._cli.output import Output

__all__ = ["build_parser", "main"]

# The packages of the ``cli`` extra, imported only when a command runs.
CLI_EXTRA = ("rich", "markdown_it", "pygments")

EPILOG = f"""\
configuration: {ENV_API_KEY}, {ENV_HOST} (default https://us.posthog.com) and
{ENV_PROJECT_ID} (default @current), or --api-key/--host/--project.

exit codes: 0 ok, 1 other API or stream error, 2 usage, 3 auth (401/403), 4 not found,
5 rate limited, 6 server error (5xx), 7 network or timeout, 130 interrupted.

try it without an account: posthog-dash demo
"""


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options of every command that talks to PostHog.

    They are accepted both before and after the command name. The copies on the
    sub-commands default to "not given" so that they never overwrite a value given before
    the command.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    group.add_argument(
        "--host", default=default(None), help=f"PostHog URL (env {ENV_HOST})", metavar="URL"
    )
    group.add_argument(
        "--project",
        default=default(None),
        help=f"project id or @current (env {ENV_PROJECT_ID})",
        metavar="ID",
    )
    group.add_argument(
        "--api-key",
        default=default(None),
        help=f"personal API key (prefer env {ENV_API_KEY}: flags show up in process lists)",
        metavar="KEY",
    )
    group.add_argument(
        "--max-retries",
        type=non_negative_int,
        default=default(2),
        metavar="N",
        help="retries of a failed request (default 2)",
    )
    group.add_argument(
        "--timeout",
        type=seconds,
        default=default(None),
        metavar="SECONDS",
        help="limit for each request, and for the wait between two stream events",
    )
    group.add_argument(
        "--max-concurrency",
        type=positive_int,
        default=default(16),
        metavar="N",
        help="requests in flight at once (default 16)",
    )


def _output_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    parser.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="no colour (also when NO_COLOR is set, or when the output is not a terminal)",
    )


class _Switch(argparse.BooleanOptionalAction):
    """``--x``/``--no-x`` that refuses both spellings on one command line."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen = f"_seen_{self.dest}"
        previous = getattr(namespace, seen, None)
        if previous is not None and option_string is not None and previous != option_string:
            parser.error(f"argument {option_string}: not allowed with argument {previous}")
        if option_string is not None:
            setattr(namespace, seen, option_string)
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``posthog-dash`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="PostHog dashboards from the command line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection_options(parser, suppress=False)
    _output_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, suppress=True)
    _output_options(common, suppress=True)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, *, json: bool = True) -> argparse.ArgumentParser:
        parents = [common, as_json] if json else [common]
        return sub.add_parser(name, help=help_text, description=help_text, parents=parents)

    p = command("list", "list every dashboard (all pages)")
    p.add_argument("--page-size", type=positive_int, default=100, metavar="N")
    p.add_argument("--tag", action="append", help="only dashboards with this tag (repeatable)")
    p.add_argument("--search", help="text search (recent PostHog versions)")
    p.add_argument(
        "--exclude-generated", action="store_true", help='hide "Generated Dashboard ..." ones'
    )
    p.add_argument(
        "--creation-mode", choices=("default", "template", "duplicate", "unlisted"), default=None
    )

    p = command("get", "show one dashboard and its tiles")
    p.add_argument("id", type=int, metavar="ID")

    p = command("create", "create a dashboard")
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    p.add_argument("--pinned", action="store_true")
    p.add_argument("--tag", action="append", help="a tag (repeatable)")
    p.add_argument("--restriction-level", type=int, choices=(21, 37), default=None)

    p = command("update", "change a dashboard")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--pinned", action=_Switch, default=None)
    tags = p.add_mutually_exclusive_group()
    tags.add_argument("--tag", action="append", help="a tag; replaces the tag set (repeatable)")
    tags.add_argument("--clear-tags", action="store_true", help="remove every tag")
    p.add_argument("--restriction-level", type=int, choices=(21, 37), default=None)

    p = command("delete", "soft-delete a dashboard (restore undoes it)")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument(
        "--delete-insights",
        action="store_true",
        help="also delete insights that are on no other dashboard",
    )

    p = command("restore", "bring back a soft-deleted dashboard")
    p.add_argument("id", type=int, metavar="ID")

    p = command("move-tile", "move a tile to another dashboard")
    p.add_argument("id", type=int, metavar="ID", help="the dashboard the tile is on")
    p.add_argument("tile", type=int, metavar="TILE")
    p.add_argument("--to", type=int, required=True, metavar="ID", help="destination dashboard")

    p = command("tiles", "list, add, edit, copy, reorder or delete tiles", json=False)
    add_tiles_parser(p, [common, as_json])

    add_ascode_parsers(command)

    p = command("stream", "show a dashboard's tiles as they are computed")
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--layout", choices=("sm", "xs"), default="sm", help="layout order")
    p.add_argument(
        "--live",
        action="store_true",
        help="redraw in place on the dashboard's grid (on a terminal; not with --json)",
    )
    p.add_argument(
        "--no-fallback",
        action="store_true",
        help="fail instead of reading the dashboard when the server refuses the stream",
    )

    p = command("collaborators", "explicit editors of a restricted dashboard", json=False)
    collab = p.add_subparsers(dest="collab_action", metavar="ACTION", required=True)
    q = collab.add_parser("list", parents=[common, as_json], help="list collaborators")
    q.add_argument("id", type=int, metavar="ID")
    for name, text in (("add", "give a user edit rights"), ("remove", "take them back")):
        q = collab.add_parser(name, parents=[common, as_json], help=text)
        q.add_argument("id", type=int, metavar="ID")
        q.add_argument("user_uuid", metavar="USER_UUID")

    p = command("sharing", "the public share link of a dashboard", json=False)
    share = p.add_subparsers(dest="sharing_action", metavar="ACTION", required=True)
    for name, text in (
        ("get", "show the sharing configuration"),
        ("enable", "turn the public link on"),
        ("disable", "turn the public link off"),
        ("refresh", "rotate the share token"),
    ):
        q = share.add_parser(name, parents=[common, as_json], help=text)
        q.add_argument("id", type=int, metavar="ID")

    p = command("from-template", "create a dashboard from a template JSON file")
    p.add_argument("file", metavar="FILE.json", help="the template ('-' reads stdin)")
    p.add_argument("--creation-context", help="free text recorded by PostHog's analytics")

    p = command("view", "serve a live web view of one dashboard on 127.0.0.1", json=False)
    p.add_argument("id", type=positive_int, metavar="ID")
    add_web_arguments(p)

    add_serve_parser(sub)

    p = sub.add_parser(
        "demo",
        help="run the SDK end to end against an embedded fake server (no account needed)",
        description="Start an embedded FakePostHog and run the SDK's main job against it.",
    )
    p.add_argument("--page-size", type=positive_int, default=3, help="list page size")
    p.add_argument(
        "--tile-delay",
        type=float,
        default=0.08,
        metavar="SECONDS",
        help="delay per streamed tile, to show tiles arriving",
    )
    p.add_argument("--web", action="store_true", help="show a demo dashboard in the web view")
    _output_options(p, suppress=True)
    add_web_arguments(p)
    return parser


def _output(args: argparse.Namespace) -> Output:
    from ._cli.output import Output

    secret = getattr(args, "api_key", None) or os.environ.get(ENV_API_KEY) or None
    return Output(
        out=sys.stdout, err=sys.stderr, secret=secret, no_color=getattr(args, "no_color", False)
    )


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Flags that argparse accepts together but that contradict each other: refused with
    the usage line and exit 2, before anything is sent."""
    if args.command == "stream" and args.live and args.json:
        _subparser(parser, "stream").error("argument --live: not allowed with argument --json")


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of one sub-command (its usage line is the one to show)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            found: argparse.ArgumentParser = action.choices[name]
            return found
    return parser


def _missing_extra(exc: ImportError) -> bool:
    name = exc.name or ""
    return name.split(".")[0] in CLI_EXTRA


async def _run_api_command(args: argparse.Namespace, out: Output) -> int:
    from ._cli.commands import COMMANDS

    if not out.secret:
        out.error_text(
            f"{PROG}: auth: no API key: set {ENV_API_KEY} or pass --api-key "
            f"(or try `{PROG} demo`, which needs none)"
        )
        return EXIT_AUTH
    client = AsyncPostHog(
        api_key=out.secret,
        host=args.host,
        project_id=args.project,
        max_retries=args.max_retries,
        timeout=Timeout.coerce(args.timeout) if args.timeout is not None else None,
        max_concurrency=args.max_concurrency,
    )
    async with client as ph:
        if args.command == "view":
            return await run_view(
                ph,
                args.id,
                port=args.port,
                open_browser=not args.no_open,
                stdout=out.out,
                stderr=out.err,
            )
        return await COMMANDS[args.command](ph, args, out)


async def _dispatch(args: argparse.Namespace, out: Output) -> int:
    if args.command == "serve":
        return await run_serve(args, out.out, out.err)
    if args.command == "demo" and args.web:
        return await run_demo_web(
            port=args.port,
            open_browser=not args.no_open,
            tile_delay=args.tile_delay,
            stdout=out.out,
            stderr=out.err,
        )
    if args.command == "demo":
        from ._cli.demo import run_demo

        return await run_demo(out, page_size=args.page_size, tile_delay=args.tile_delay)
    return await _run_api_command(args, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``posthog-dash`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    The console script passes the return value to ``sys.exit``.
    """
    try:
        import rich  # noqa: F401  (the cli extra)

        from ._cli import commands, output  # noqa: F401
    except ImportError as exc:
        if not _missing_extra(exc):
            raise
        sys.stderr.write(f"{PROG}: the command line needs the 'cli' extra: {INSTALL_HINT}\n")
        return EXIT_USAGE
    from ._cli.output import is_expected, redact
    from ._cli.sanitize import clean

    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        _check_combinations(parser, args)
    except SystemExit as exc:  # argparse: 2 for a usage error, 0 for --help/--version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = _output(args)
    try:
        return asyncio.run(_dispatch(args, out))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # about the unflushable stdout at exit.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if is_expected(exc):
            return out.error(exc)
        # A bug rather than an expected failure: still one line (and no key), with the
        # exception type to report.
        message = redact(clean(f"{PROG}: internal error: {type(exc).__name__}: {exc}"), out.secret)
        sys.stderr.write(" ".join(message.split()) + "\n")
        return 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
