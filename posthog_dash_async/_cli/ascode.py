"""``posthog-dash pull / plan / apply / copy``: dashboards as code from the command line.

* ``pull [IDS...|--all] --out DIR`` writes one document per dashboard (``DIR/<name>.json``;
  a file already holding that document's key is rewritten in place, so renaming a
  dashboard does not leave a stale copy behind).
* ``plan DIR [--prune]`` prints what ``apply`` would change; exit 0 when there is nothing to
  do, 1 when changes are pending (like ``git diff --exit-code``).
* ``apply DIR [--prune] [--yes]`` shows the plan, then asks before writing when stdin is a
  terminal; without a terminal it refuses unless ``--yes`` is given, so a script never
  writes by accident.
* ``copy ID --to-host URL --to-project N --to-key-env VAR`` copies one dashboard to another
  project or instance; the target key is read from the environment variable ``VAR``, never
  from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .. import _ascode
from .._document import DashboardDocument
from ..errors import PostHogError
from .argtypes import positive_int

if TYPE_CHECKING:
    from .._client import AsyncPostHog
    from .output import Output

__all__ = [
    "EXIT_PENDING",
    "add_ascode_parsers",
    "cmd_apply",
    "cmd_copy",
    "cmd_plan",
    "cmd_pull",
    "file_for",
    "json_differences",
    "plan_lines",
    "read_documents",
    "report_lines",
]

EXIT_PENDING = 1
_SLUG = re.compile(r"[^a-z0-9]+")
_SHOWN = 72


def add_ascode_parsers(command: Any) -> None:
    """Add pull, plan, apply and copy with ``command(name, help)`` of the main parser."""
    p = command("pull", "write dashboards as documents (JSON files) into a directory")
    p.add_argument("ids", type=positive_int, nargs="*", metavar="ID", help="dashboard ids")
    p.add_argument("--all", action="store_true", help="every dashboard of the project")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    p.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="leave out tiles a document cannot describe (widgets, legacy insights)",
    )

    p = command("plan", "show what apply would change (exit 0: nothing, 1: changes pending)")
    p.add_argument("dir", metavar="DIR", help="directory of documents (*.json)")
    p.add_argument(
        "--prune", action="store_true", help="also plan removing what the SDK created and is gone"
    )

    p = command("apply", "make the project match the documents of a directory")
    p.add_argument("dir", metavar="DIR", help="directory of documents (*.json)")
    p.add_argument(
        "--prune", action="store_true", help="also remove what the SDK created and is gone"
    )
    p.add_argument("--yes", action="store_true", help="apply without asking")

    p = command("copy", "copy a dashboard to another project or PostHog instance")
    p.add_argument("id", type=positive_int, metavar="ID")
    p.add_argument("--to-host", required=True, metavar="URL", help="the target PostHog URL")
    p.add_argument("--to-project", required=True, metavar="N", help="the target project id")
    p.add_argument(
        "--to-key-env",
        required=True,
        metavar="VAR",
        help="environment variable holding the target's personal API key",
    )
    p.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="leave out tiles a document cannot describe",
    )


def _usage(message: str) -> Exception:
    from .output import UsageError

    return UsageError(message)


# --- files ------------------------------------------------------------------------------------


def read_documents(directory: str) -> list[tuple[Path, DashboardDocument]]:
    """Every ``*.json`` document of a directory, by file name. A bad file raises
    :class:`DocumentError` (a usage error) naming the file and the place in it."""
    root = Path(directory)
    if not root.is_dir():
        raise _usage(f"{directory}: not a directory")
    files = sorted(root.glob("*.json"))
    if not files:
        raise _usage(f"{directory}: no *.json documents (write some with `posthog-dash pull`)")
    out: list[tuple[Path, DashboardDocument]] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise _usage(f"{path}: {exc.strerror or exc}") from None
        doc = DashboardDocument.from_json(text, source=str(path))
        if doc.key in seen:
            raise _usage(f"{path}: key {doc.key!r} is also the key of {seen[doc.key]}")
        seen[doc.key] = path
        out.append((path, doc))
    return out


def _make_dir(directory: str) -> Path:
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _usage(f"{directory}: {exc.strerror or exc}") from None
    return root


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _usage(f"{path}: {exc.strerror or exc}") from None


def _keys_on_disk(root: Path) -> dict[str, Path]:
    """Which file holds which document key (files that do not parse are left alone)."""
    found: dict[str, Path] = {}
    for path in sorted(root.glob("*.json")):
        try:
            key = msgspec.json.decode(path.read_bytes()).get("key")
        except (OSError, msgspec.DecodeError, AttributeError):
            continue
        if isinstance(key, str):
            found.setdefault(key, path)
    return found


def file_for(root: Path, doc: DashboardDocument, on_disk: dict[str, Path]) -> Path:
    """Where a document goes: the file holding its key already, else ``<name>.json``."""
    if doc.key in on_disk:
        return on_disk[doc.key]
    slug = _SLUG.sub("-", (doc.name or "dashboard").lower()).strip("-")[:60] or "dashboard"
    path = root / f"{slug}.json"
    taken = set(on_disk.values())
    if path in taken or path.exists():
        path = root / f"{slug}-{doc.key[:8]}.json"
    on_disk[doc.key] = path
    return path


# --- pull -------------------------------------------------------------------------------------


async def cmd_pull(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Export dashboards into ``--out``."""
    if bool(args.ids) == bool(args.all):
        raise _usage("pull: give dashboard ids or --all (not both)")
    root = _make_dir(args.out)
    ids = [d.id async for d in ph.dashboards.iter()] if args.all else list(dict.fromkeys(args.ids))
    on_disk = _keys_on_disk(root)
    failures: list[PostHogError] = []
    written = 0

    async def one(dashboard_id: int) -> tuple[int, DashboardDocument | PostHogError]:
        try:
            doc = await ph.dashboards.export(dashboard_id, strict=not args.skip_unsupported)
        except PostHogError as exc:
            return dashboard_id, exc
        return dashboard_id, doc

    # Every export goes through the client's semaphore and rate limiter: a 500-dashboard
    # pull is paced to the key's limits instead of being throttled by the server.
    with out.progress("pulling", total=len(ids)) as bar:
        for next_done in asyncio.as_completed([one(i) for i in ids]):
            dashboard_id, result = await next_done
            bar.advance()
            if isinstance(result, PostHogError):
                failures.append(result)
                out.error_text(f"dashboard {dashboard_id}: {result}")
                continue
            path = file_for(root, result, on_disk)
            _write(path, result.to_json())
            written += 1
            if args.json:
                out.json(
                    {
                        "id": dashboard_id,
                        "key": result.key,
                        "path": str(path),
                        "tiles": len(result.tiles),
                    }
                )
            else:
                out.line(
                    f"{path}  dashboard {dashboard_id} {result.name or '(untitled)'!r}, "
                    f"{len(result.tiles)} tile{'s' if len(result.tiles) != 1 else ''}"
                )
    if not args.json:
        out.note(f"{written} document{'s' if written != 1 else ''} written to {root}")
    if failures:
        from .output import classify

        return classify(failures[0])[0]
    return 0


# --- plan -------------------------------------------------------------------------------------

_SIGNS = {"create": "+", "update": "~", "remove": "-"}


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = msgspec.json.encode(value, order="sorted").decode()
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


_MAX_PATHS = 8
_ABSENT: Any = object()  # a key on one side only


def json_differences(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """The leaves where two JSON values differ: ``[("query.source.interval", "week",
    "month")]``; a key only on one side shows ``(absent)`` on the other."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            out.extend(
                json_differences(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}.{key}")
            )
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(json_differences(a, b, f"{path}[{index}]"))
        return out
    return [] if old == new else [(path, old, new)]


def plan_lines(plan: _ascode.Plan) -> list[str]:
    """A plan for people: one line per step, the changed fields under updates."""
    lines: list[str] = []
    for step in plan.steps:
        indent = "" if step.kind == "dashboard" else "    "
        lines.append(f"{indent}{_SIGNS[step.action]} {step.describe()}")
        if step.action == "update":
            for change in step.changes:
                if isinstance(change.old, dict) and isinstance(change.new, dict):
                    differences = json_differences(change.old, change.new, change.field)
                    for path, old, new in differences[:_MAX_PATHS]:
                        lines.append(f"{indent}      {path}: {_shown(old)} → {_shown(new)}")
                    if len(differences) > _MAX_PATHS:
                        lines.append(
                            f"{indent}      ... {len(differences) - _MAX_PATHS} more in "
                            f"{change.field}"
                        )
                else:
                    lines.append(
                        f"{indent}      {change.field}: {_shown(change.old)} → {_shown(change.new)}"
                    )
    counts = plan.counts()
    if plan.is_empty:
        lines.append(
            f"No changes: the project matches the {len(plan.documents)} "
            f"document{'s' if len(plan.documents) != 1 else ''} "
            f"({len(plan.unchanged)} unchanged)."
        )
    else:
        lines.append(
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['remove']} to remove ({len(plan.unchanged)} unchanged)."
        )
    if plan.not_pruned:
        n = len(plan.not_pruned)
        lines.append(
            f"{n} thing{'s' if n != 1 else ''} the SDK created "
            f"{'are' if n != 1 else 'is'} no longer in the documents; --prune removes "
            f"{'them' if n != 1 else 'it'}:"
        )
        lines.extend(f"    - {s.describe()}" for s in plan.not_pruned)
    return lines


async def cmd_plan(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Print the plan; exit 1 when changes are pending."""
    documents = [doc for _, doc in read_documents(args.dir)]
    plan = await ph.dashboards.plan(documents, prune=args.prune)
    if args.json:
        out.json(plan.to_dict())
    else:
        out.lines(plan_lines(plan))
    return 0 if plan.is_empty else EXIT_PENDING


# --- apply ------------------------------------------------------------------------------------


def _confirm(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def report_lines(report: _ascode.ApplyReport) -> list[str]:
    """What an apply did, for people."""
    lines: list[str] = []
    for label, items in (("created", report.created), ("updated", report.updated)):
        lines.extend(f"{label} {_item(i)}" for i in items)
    lines.extend(f"removed {_item(i)}" for i in report.removed)
    lines.append(f"Applied: {report.summary()}.")
    return lines


def _item(item: _ascode.ReportItem) -> str:
    what = "tile layout" if item.kind == "tile" else item.kind
    text = f"{what} {item.name!r}"
    if item.id is not None:
        text += f" (#{item.id})"
    return text


async def cmd_apply(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Plan, confirm, apply."""
    documents = [doc for _, doc in read_documents(args.dir)]
    plan = await ph.dashboards.plan(documents, prune=args.prune)
    if plan.is_empty:
        if args.json:
            out.json({"plan": plan.to_dict(), "report": None})
        else:
            out.lines(plan_lines(plan))
        return 0
    if not args.json:
        out.lines(plan_lines(plan))
    if not args.yes:
        if not _stdin_is_terminal():
            raise _usage(
                "apply: stdin is not a terminal, so there is no one to ask: "
                "pass --yes to apply without asking (`posthog-dash plan` shows the changes)"
            )
        if not _confirm(
            f"Apply {len(plan.steps)} changes to {ph.host} project {ph.project_id}? [y/N] "
        ):
            out.note("nothing applied")
            return EXIT_PENDING
    try:
        with out.progress("applying", total=len(plan.steps)) as bar:
            report = await _ascode.run_apply(ph, plan, on_write=lambda _item: bar.advance())
    except _ascode.ApplyError as exc:
        if args.json:
            out.json({"plan": plan.to_dict(), "report": msgspec.to_builtins(exc.report)})
        else:
            out.lines(report_lines(exc.report)[:-1])
            out.note(f"stopped after {exc.report.summary()}; run the same apply again to finish")
        cause = exc.__cause__ if isinstance(exc.__cause__, PostHogError) else exc
        return out.error(cause)
    if args.json:
        out.json({"plan": plan.to_dict(), "report": msgspec.to_builtins(report)})
    else:
        out.lines(report_lines(report))
    return 0


# --- copy -------------------------------------------------------------------------------------


async def cmd_copy(ph: AsyncPostHog, args: argparse.Namespace, out: Output) -> int:
    """Copy one dashboard to another project or instance."""
    from .._client import AsyncPostHog

    key = os.environ.get(args.to_key_env) or ""
    if not key:
        from .output import EXIT_AUTH

        out.error_text(
            f"posthog-dash: auth: the environment variable {args.to_key_env} holds no API key "
            "for the target"
        )
        return EXIT_AUTH
    doc = await ph.dashboards.export(args.id, strict=not args.skip_unsupported)
    async with AsyncPostHog(
        api_key=key,
        host=args.to_host,
        project_id=args.to_project,
        max_retries=ph.max_retries,
        timeout=ph.timeout,
        max_concurrency=ph.max_concurrency,
    ) as target:
        plan = await target.dashboards.plan([doc])
        report = await target.dashboards.apply(plan)
        target_id = report.dashboards[doc.key]
        if args.json:
            out.json(
                {
                    "source_id": args.id,
                    "target_id": target_id,
                    "target_host": target.host,
                    "target_project": target.project_id,
                    "report": msgspec.to_builtins(report),
                }
            )
        else:
            out.line(
                f"copied dashboard {args.id} {doc.name or '(untitled)'!r} to {target.host} "
                f"project {target.project_id} as dashboard {target_id} ({report.summary()})"
            )
    return 0
