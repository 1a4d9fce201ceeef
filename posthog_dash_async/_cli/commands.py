"""The sub-commands that talk to a PostHog host: one coroutine per command.

Each takes the open client, the parsed arguments and the :class:`Output`, and returns the
exit code. Expected failures are raised as SDK exceptions and reported by the caller.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from .._client import AsyncPostHog
from .._wire import UNSET
from ..models import Collaborator, Dashboard, DashboardSummary, SharingConfiguration
from .ascode import cmd_apply, cmd_copy, cmd_plan, cmd_pull
from .live import painter_for, show_stream
from .output import EXIT_OK, Output, UsageError, clean, event_json, format_time, person, table
from .render import insight_kind, tile_title
from .tiles import cmd_tiles

__all__ = ["COMMANDS"]

Command = Callable[[AsyncPostHog, argparse.Namespace, Output], Awaitable[int]]

RESTRICTION_NAMES = {21: "everyone can edit", 37: "only invited can edit"}


def _restriction(level: int) -> str:
    return RESTRICTION_NAMES.get(level, str(level))


def _summary_row(d: DashboardSummary) -> list[str]:
    return [
        str(d.id),
        d.name or "(untitled)",
        "★" if d.pinned else "",
        ",".join(d.tags),
        "yes" if d.restriction_level == 37 else "",
        "yes" if d.is_shared else "",
        format_time(d.last_accessed_at),
    ]


SUMMARY_HEADERS = ("ID", "NAME", "PIN", "TAGS", "RESTRICTED", "SHARED", "LAST ACCESSED")


def _tile_kind(tile: Any) -> str:
    if tile.error is not None:
        return "failed"
    if tile.insight is not None:
        return f"insight/{insight_kind(tile.insight)}"
    return str(tile.kind)


def _name(d: Dashboard | DashboardSummary) -> str:
    return clean(d.name or "") or "(untitled)"


def dashboard_lines(d: Dashboard, width: int) -> list[str]:
    """A dashboard for people: title, description, facts, then its tiles as a table
    (every server string cleaned; the table's lines carry the `rich` table)."""
    lines = [f"{_name(d)} (#{d.id})" + ("  ★ pinned" if d.pinned else "")]
    if d.description:
        lines.append(clean(d.description, multiline=True))
    facts = [
        f"restriction: {_restriction(d.restriction_level)}",
        f"created {format_time(d.created_at)} by {person(d.created_by)}",
        f"last accessed {format_time(d.last_accessed_at)}",
        f"shared: {'yes' if d.is_shared else 'no'}",
    ]
    if d.tags:
        facts.insert(0, f"tags: {', '.join(clean(t) for t in d.tags)}")
    lines.append(" · ".join(facts))
    if d.deleted:
        lines.append("(deleted: `posthog-dash restore` brings it back)")
    return lines


def tiles_table(d: Dashboard, width: int) -> list[str]:
    """A dashboard's tiles as a table (``no tiles`` when it has none)."""
    if not d.tiles:
        return ["no tiles"]
    rows = [
        [str(t.order if t.order is not None else "-"), str(t.id), _tile_kind(t), tile_title(t)]
        for t in d.tiles
    ]
    return table(("ORDER", "TILE", "KIND", "NAME"), rows, width=width, flex=3)


def print_dashboard(out: Output, d: Dashboard) -> None:
    """A dashboard for people on stdout: :func:`dashboard_lines`, a blank line, its tiles."""
    out.lines(dashboard_lines(d, out.width))
    out.line("")
    out.lines(tiles_table(d, out.width))


def _show_dashboard(out: Output, args: argparse.Namespace, d: Dashboard, done: str) -> int:
    if args.json:
        out.json(d)
    else:
        out.line(done)
        print_dashboard(out, d)
    return EXIT_OK


# --- reading ------------------------------------------------------------------------------


async def cmd_list(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Every dashboard over all pages (pages after the first are fetched concurrently)."""
    filters: dict[str, Any] = {
        "tags": args.tag or None,
        "search": args.search,
        "exclude_generated": True if args.exclude_generated else None,
        "creation_mode": args.creation_mode,
    }
    total: int | None = None
    if out.isatty("err"):
        # The iterator does not expose the total; a one-item page tells it cheaply, so that
        # people see a progress bar on long lists.
        total = (await ph.dashboards.list(limit=1, **filters)).count
    rows: list[list[str]] = []
    started = time.perf_counter()
    count = 0
    with out.progress("fetching dashboards", total) as progress:
        async for item in ph.dashboards.iter(page_size=args.page_size, **filters):
            count += 1
            if args.json:
                out.json(item)
            else:
                rows.append(_summary_row(item))
            progress.advance()
    if not args.json:
        out.lines(table(SUMMARY_HEADERS, rows, width=out.width))
        elapsed = time.perf_counter() - started
        out.line(f"{count} dashboard{'s' if count != 1 else ''} ({elapsed:.2f} s)")
    return EXIT_OK


async def cmd_get(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """One dashboard with its tiles."""
    d = await ph.dashboards.get(args.id)
    if args.json:
        out.json(d)
    else:
        print_dashboard(out, d)
    return EXIT_OK


async def cmd_stream(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Tiles as they arrive: JSON lines, a live view (tty), or appended text."""
    stream = ph.dashboards.stream_tiles(
        args.id, layout_size=args.layout, fallback=not args.no_fallback
    )
    if args.json:
        async with stream:
            async for event in stream:
                out.raw_json_line(event_json(event))
        if stream.fallback_used:
            out.note("(the server refused the stream for this key; served from GET instead)")
        return EXIT_OK
    painter = painter_for(out, live=args.live)
    await show_stream(stream, painter, layout=args.layout)
    if stream.fallback_used:
        out.note("(the server refused the stream for this key; served from GET instead)")
    return EXIT_OK


# --- writing ------------------------------------------------------------------------------


async def cmd_create(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """A new dashboard from the flags."""
    d = await ph.dashboards.create(
        name=args.name,
        description=args.description if args.description is not None else UNSET,
        pinned=True if args.pinned else UNSET,
        tags=args.tag if args.tag else UNSET,
        restriction_level=args.restriction_level if args.restriction_level is not None else UNSET,
    )
    return _show_dashboard(out, args, d, f"created dashboard {d.id}")


async def cmd_update(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Change the fields given as flags; nothing else is sent."""
    tags: Any = UNSET
    if args.clear_tags:
        tags = []
    elif args.tag:
        tags = args.tag
    fields: dict[str, Any] = {
        "name": args.name if args.name is not None else UNSET,
        "description": args.description if args.description is not None else UNSET,
        "pinned": args.pinned if args.pinned is not None else UNSET,
        "tags": tags,
        "restriction_level": args.restriction_level
        if args.restriction_level is not None
        else UNSET,
    }
    if all(value is UNSET for value in fields.values()):
        raise UsageError(
            "update needs something to change: --name, --description, --pinned/--no-pinned, "
            "--tag, --clear-tags or --restriction-level"
        )
    d = await ph.dashboards.update(args.id, **fields)
    return _show_dashboard(out, args, d, f"updated dashboard {d.id}")


async def cmd_delete(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Soft-delete (PostHog has no hard delete); ``restore`` undoes it."""
    d = await ph.dashboards.delete(args.id, delete_insights=args.delete_insights)
    if args.json:
        out.json(d)
    else:
        extra = " and the insights only it used" if args.delete_insights else ""
        out.line(
            f"deleted dashboard {d.id} ({_name(d)}){extra}; undo with: posthog-dash restore {d.id}"
        )
    return EXIT_OK


async def cmd_restore(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Undo a soft delete."""
    d = await ph.dashboards.restore(args.id)
    return _show_dashboard(out, args, d, f"restored dashboard {d.id}")


async def cmd_move_tile(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Move a tile to another dashboard (same tile id, same insight)."""
    source = await ph.dashboards.move_tile(args.id, args.tile, args.to)
    if args.json:
        out.json(source)
    else:
        out.line(
            f"moved tile {args.tile} from dashboard {args.id} to dashboard {args.to}; "
            f"{len(source.tiles)} tile{'s' if len(source.tiles) != 1 else ''} left on {args.id}"
        )
    return EXIT_OK


# --- collaborators and sharing --------------------------------------------------------------


def _collaborator_row(c: Collaborator) -> list[str]:
    return [c.user.uuid, person(c.user), c.user.email, str(c.level), format_time(c.added_at)]


async def cmd_collaborators(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """``collaborators list|add|remove``."""
    action = args.collab_action
    collaborators = ph.dashboards.collaborators
    if action == "list":
        items = await collaborators.list(args.id)
        if args.json:
            for item in items:
                out.json(item)
        elif items:
            out.lines(
                table(
                    ("USER UUID", "NAME", "EMAIL", "LEVEL", "ADDED"),
                    (_collaborator_row(c) for c in items),
                    width=out.width,
                )
            )
        else:
            out.line(f"dashboard {args.id} has no explicit collaborators")
        return EXIT_OK
    if action == "add":
        added = await collaborators.add(args.id, args.user_uuid)
        if args.json:
            out.json(added)
        else:
            who = f"{person(added.user)} ({clean(added.user.email)})"
            out.line(f"{who} can now edit dashboard {args.id}")
        return EXIT_OK
    await collaborators.remove(args.id, args.user_uuid)
    if args.json:
        out.json({"removed": args.user_uuid, "dashboard_id": args.id})
    else:
        out.line(f"removed {clean(args.user_uuid)} from the collaborators of dashboard {args.id}")
    return EXIT_OK


def sharing_lines(config: SharingConfiguration, host: str) -> list[str]:
    """A sharing configuration for people, with the public link when sharing is on."""
    token = clean(config.access_token or "")
    lines = [
        f"sharing: {'enabled' if config.enabled else 'disabled'}",
        f"access token: {token}" + ("" if config.created_at else " (not saved yet)"),
    ]
    if config.enabled and token:
        lines.append(f"public link: {clean(host)}/shared/{token}")
    if config.password_required:
        lines.append("password required")
    if config.created_at is not None:
        lines.append(f"configured {format_time(config.created_at)}")
    return lines


async def cmd_sharing(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """``sharing get|enable|disable|refresh``."""
    sharing = ph.dashboards.sharing
    action = args.sharing_action
    if action == "get":
        config = await sharing.get(args.id)
    elif action == "enable":
        config = await sharing.update(args.id, enabled=True)
    elif action == "disable":
        config = await sharing.update(args.id, enabled=False)
    else:
        config = await sharing.refresh(args.id)
    if args.json:
        out.json(config)
    else:
        out.lines(sharing_lines(config, ph.host))
    return EXIT_OK


def read_template(path: str) -> dict[str, Any]:
    """A template document from a file (``-`` for stdin); ``{"template": {...}}`` (a request
    body) is accepted as well as the bare template."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("template"), dict):
        data = data["template"]
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object (a dashboard template)")
    return data


async def cmd_from_template(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """A dashboard from a template document."""
    template = read_template(args.file)
    d = await ph.dashboards.create_from_template_json(
        template, creation_context=args.creation_context
    )
    return _show_dashboard(out, args, d, f"created dashboard {d.id} from {clean(args.file)}")


COMMANDS: dict[str, Command] = {
    "list": cmd_list,
    "get": cmd_get,
    "stream": cmd_stream,
    "create": cmd_create,
    "update": cmd_update,
    "delete": cmd_delete,
    "restore": cmd_restore,
    "move-tile": cmd_move_tile,
    "tiles": cmd_tiles,
    "collaborators": cmd_collaborators,
    "sharing": cmd_sharing,
    "from-template": cmd_from_template,
    "pull": cmd_pull,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "copy": cmd_copy,
}
