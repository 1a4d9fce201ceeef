"""Dashboards as code: export, plan, apply and copy (``ph.dashboards.export/plan/apply``,
:func:`copy_dashboard`).

``plan`` compares documents with what the project has and returns the steps, reading only;
``apply`` carries them out. The comparison (``diff_document``, ``prune_steps``) is made of
pure functions on plain values; the rest reads and writes through the client's public calls,
so every request shares its semaphore, rate limiter and retries.

Identity (see :mod:`posthog_dash_async._document`): what the SDK creates carries a tag or a
marker written in the same request that creates it, so a run that fails midway leaves nothing
unrecognisable behind and the next run finishes the job without duplicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from ._document import (
    IDENTITY_PREFIX,
    ButtonTileDocument,
    DashboardDocument,
    InsightTileDocument,
    TextTileDocument,
    TileDocument,
    TileIdentity,
    UnsupportedTile,
    button_key,
    dashboard_key_of_tags,
    derived_dashboard_key,
    document_from_dashboard,
    insight_identity_tag,
    keyed_tiles,
    server_layouts,
    split_text_marker,
    text_marker,
    tile_key_of_insight_tags,
)
from ._wire import UNSET
from .errors import InvalidArgumentError, PostHogError
from .models import Dashboard, DashboardSummary, Insight, Tile

if TYPE_CHECKING:
    from ._client import AsyncPostHog

__all__ = [
    "ApplyError",
    "ApplyReport",
    "Change",
    "ExportError",
    "IdentityLostError",
    "Plan",
    "ReportItem",
    "Step",
    "copy_dashboard",
]

Action = Literal["create", "update", "remove"]
Kind = Literal["dashboard", "insight", "text", "button", "tile"]


class ExportError(PostHogError):
    """A dashboard has tiles a document cannot describe (``unsupported``: tile id and why).

    Nothing is lost silently: ``export(..., strict=False)`` leaves those tiles out instead.
    """

    def __init__(self, message: str, *, dashboard_id: int, unsupported: list[UnsupportedTile]):
        super().__init__(message)
        self.dashboard_id = dashboard_id
        self.unsupported = unsupported


class IdentityLostError(PostHogError):
    """The server dropped the SDK's identity tag (tags need PostHog's tagging feature).

    Without it a later run could not recognise what this one created, so the object just
    created was soft-deleted again and the run stopped.
    """


class Change(msgspec.Struct, frozen=True):
    """One field a step changes: ``old`` (``None`` when creating) and ``new``."""

    field: str
    old: Any
    new: Any


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One write a plan will make.

    ``kind`` is what it writes: a ``dashboard``, an ``insight`` tile, a ``text`` tile, a
    ``button`` tile, or ``tile`` for a tile's colour and layouts. ``dashboard`` is the
    document key, ``tile`` the tile key, ``id`` the server id (dashboard, insight or tile)
    when the thing exists already.
    """

    action: Action
    kind: Kind
    dashboard: str
    name: str
    tile: str | None = None
    id: int | None = None
    changes: list[Change] = msgspec.field(default_factory=list)

    def describe(self) -> str:
        """One line for people: ``update insight 'Signups' [t1]: query, name``."""
        what = "tile layout" if self.kind == "tile" else self.kind
        text = f"{self.action} {what} {self.name!r}"
        if self.tile is not None:
            text += f" [{self.tile}]"
        if self.id is not None:
            text += f" (#{self.id})"
        if self.action == "update" and self.changes:
            text += ": " + ", ".join(c.field for c in self.changes)
        elif self.action == "remove" and self.changes:
            text += ": leaves this dashboard, stays on the others"
        return text


class ReportItem(msgspec.Struct, frozen=True, kw_only=True):
    """A thing an apply created, updated, left unchanged or removed."""

    kind: Kind
    dashboard: str
    name: str
    tile: str | None = None
    id: int | None = None


class ApplyReport(msgspec.Struct, kw_only=True):
    """What :meth:`apply` did. ``dashboards`` maps each document key to its dashboard id."""

    created: list[ReportItem] = msgspec.field(default_factory=list)
    updated: list[ReportItem] = msgspec.field(default_factory=list)
    unchanged: list[ReportItem] = msgspec.field(default_factory=list)
    removed: list[ReportItem] = msgspec.field(default_factory=list)
    dashboards: dict[str, int] = msgspec.field(default_factory=dict)

    @property
    def writes(self) -> int:
        """How many things were created, updated or removed."""
        return len(self.created) + len(self.updated) + len(self.removed)

    def summary(self) -> str:
        """``2 created, 1 updated, 5 unchanged, 0 removed``."""
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed"
        )


class ApplyError(PostHogError):
    """An apply stopped before the end. ``report`` says what was done (every write listed
    there happened); ``errors`` holds the failures (the first is also ``__cause__``).

    Running ``plan`` and ``apply`` again with the same documents finishes the job: what was
    created carries its identity, so it is found instead of created twice.
    """

    def __init__(self, message: str, *, report: ApplyReport, errors: list[BaseException]):
        super().__init__(message)
        self.report = report
        self.errors = errors


# --- the pure comparison ---------------------------------------------------------------------


def tile_title(tile: TileDocument) -> str:
    """A short name for a document tile."""
    if isinstance(tile, InsightTileDocument):
        return tile.name or str(tile.query.get("kind") or "insight")
    if isinstance(tile, TextTileDocument):
        first = tile.body.strip().splitlines()[0] if tile.body.strip() else ""
        return first[:40]
    return tile.text or tile.url


def _tile_kind(tile: TileDocument) -> Kind:
    if isinstance(tile, InsightTileDocument):
        return "insight"
    if isinstance(tile, TextTileDocument):
        return "text"
    return "button"


def _server_kind(tile: Tile) -> Kind | None:
    if tile.insight is not None:
        return "insight"
    if tile.text is not None:
        return "text"
    if tile.button_tile is not None:
        return "button"
    return None


def _server_title(tile: Tile) -> str:
    if tile.insight is not None:
        return tile.insight.name or tile.insight.derived_name or f"insight {tile.insight.id}"
    if tile.text is not None:
        body, _ = split_text_marker(tile.text.body or "")
        return body.strip().splitlines()[0][:40] if body.strip() else "text"
    if tile.button_tile is not None:
        return tile.button_tile.text or tile.button_tile.url
    return f"tile {tile.id}"


def _content_changes(doc: TileDocument, tile: Tile) -> list[Change]:
    changes: list[Change] = []

    def compare(name: str, old: Any, new: Any) -> None:
        if old != new:
            changes.append(Change(name, old, new))

    if isinstance(doc, InsightTileDocument) and tile.insight is not None:
        insight = tile.insight
        compare("name", insight.name, doc.name)
        compare("description", insight.description or "", doc.description)
        compare("query", insight.query, doc.query)
    elif isinstance(doc, TextTileDocument) and tile.text is not None:
        body, _ = split_text_marker(tile.text.body or "")
        compare("body", body, doc.body)
    elif isinstance(doc, ButtonTileDocument) and tile.button_tile is not None:
        b = tile.button_tile
        compare("url", b.url, doc.url)
        compare("text", b.text, doc.text)
        compare("placement", b.placement, doc.placement)
        compare("style", b.style, doc.style)
    return changes


def _display_changes(doc: TileDocument, tile: Tile) -> list[Change]:
    changes: list[Change] = []
    if (tile.color or None) != doc.color:
        changes.append(Change("color", tile.color or None, doc.color))
    current = server_layouts(tile.layouts)
    for size in ("sm", "xs"):
        wanted = getattr(doc.layouts, size)
        if wanted is None:
            continue  # the document has no opinion on this breakpoint
        have = getattr(current, size)
        if have != wanted:
            changes.append(
                Change(
                    f"layouts.{size}",
                    None if have is None else msgspec.to_builtins(have),
                    msgspec.to_builtins(wanted),
                )
            )
    return changes


def _creation_changes(doc: TileDocument) -> list[Change]:
    raw = msgspec.to_builtins(doc)
    return [Change(k, None, raw[k]) for k in sorted(raw) if k not in ("key", "kind")]


@dataclass
class DocumentDiff:
    """The comparison of one document with its dashboard: steps, unchanged things, and the
    removals that only ``prune=True`` makes."""

    steps: list[Step] = field(default_factory=list)
    unchanged: list[ReportItem] = field(default_factory=list)
    not_pruned: list[Step] = field(default_factory=list)


def desired_tags(doc: DashboardDocument, current: Sequence[str], *, managed: bool) -> list[str]:
    """The tag set a dashboard should have: the document's, plus identity tags already there
    (and this document's identity tag on a dashboard the SDK manages)."""
    tags = set(doc.tags) | {t for t in current if t.startswith(IDENTITY_PREFIX)}
    if managed:
        tags.add(doc.identity_tag)
    return sorted(tags)


def diff_document(
    doc: DashboardDocument,
    current: Dashboard | None,
    *,
    managed: bool,
    host: str,
    project: int | str,
    prune: bool,
) -> DocumentDiff:
    """Compare a document with its dashboard (``None``: it does not exist yet). Pure.

    ``managed`` says whether the dashboard carries the document's identity tag (else it
    was found by the key derived from where it lives). Only tiles that carry the SDK's
    identity for this document are ever removed, and only with ``prune``.
    """
    out = DocumentDiff()
    title = doc.name or "(untitled)"
    if current is None:
        out.steps.append(
            Step(
                action="create",
                kind="dashboard",
                dashboard=doc.key,
                name=title,
                changes=[
                    Change("name", None, doc.name),
                    Change("description", None, doc.description),
                    Change("tags", None, sorted(doc.tags)),
                    Change("filters", None, doc.filters),
                    Change("variables", None, doc.variables),
                ],
            )
        )
        for new_tile in doc.tiles:
            out.steps.append(
                Step(
                    action="create",
                    kind=_tile_kind(new_tile),
                    dashboard=doc.key,
                    name=tile_title(new_tile),
                    tile=new_tile.key,
                    changes=_creation_changes(new_tile),
                )
            )
        return out

    changes: list[Change] = []
    if current.name != doc.name:
        changes.append(Change("name", current.name, doc.name))
    if (current.description or "") != doc.description:
        changes.append(Change("description", current.description or "", doc.description))
    wanted_tags = desired_tags(doc, current.tags, managed=managed)
    if sorted(set(current.tags)) != wanted_tags:
        changes.append(Change("tags", sorted(current.tags), wanted_tags))
    if (current.filters or {}) != doc.filters:
        changes.append(Change("filters", current.filters or {}, doc.filters))
    if (current.variables or {}) != doc.variables:
        changes.append(Change("variables", current.variables or {}, doc.variables))
    if changes:
        out.steps.append(
            Step(
                action="update",
                kind="dashboard",
                dashboard=doc.key,
                name=title,
                id=current.id,
                changes=changes,
            )
        )
    else:
        out.unchanged.append(
            ReportItem(kind="dashboard", dashboard=doc.key, name=title, id=current.id)
        )

    by_key: dict[str, tuple[Tile, TileIdentity]] = {}
    for tile, identity in keyed_tiles(current, doc.key, host=host, project=project):
        if identity is not None:
            by_key[identity.key] = (tile, identity)
    for tile_doc in doc.tiles:
        kind = _tile_kind(tile_doc)
        name = tile_title(tile_doc)
        found = by_key.get(tile_doc.key)
        if found is None or _server_kind(found[0]) != kind:
            out.steps.append(
                Step(
                    action="create",
                    kind=kind,
                    dashboard=doc.key,
                    name=name,
                    tile=tile_doc.key,
                    changes=_creation_changes(tile_doc),
                )
            )
            continue
        server_tile = found[0]
        content = _content_changes(tile_doc, server_tile)
        display = _display_changes(tile_doc, server_tile)
        if content:
            content_id = (
                server_tile.insight.id
                if kind == "insight" and server_tile.insight is not None
                else server_tile.id
            )
            out.steps.append(
                Step(
                    action="update",
                    kind=kind,
                    dashboard=doc.key,
                    name=name,
                    tile=tile_doc.key,
                    id=content_id,
                    changes=content,
                )
            )
        if display:
            out.steps.append(
                Step(
                    action="update",
                    kind="tile",
                    dashboard=doc.key,
                    name=name,
                    tile=tile_doc.key,
                    id=server_tile.id,
                    changes=display,
                )
            )
        if not content and not display:
            out.unchanged.append(
                ReportItem(
                    kind=kind, dashboard=doc.key, name=name, tile=tile_doc.key, id=server_tile.id
                )
            )

    wanted = {t.key for t in doc.tiles}
    for key, (tile, identity) in by_key.items():
        if not identity.managed or key in wanted:
            continue
        kind_of = _server_kind(tile)
        if kind_of is None:
            continue
        if kind_of == "insight" and tile.insight is not None:
            removal = _insight_removal(doc.key, key, tile.insight, current.id)
        else:
            removal = Step(
                action="remove",
                kind=kind_of,
                dashboard=doc.key,
                name=_server_title(tile),
                tile=key,
                id=tile.id,
            )
        (out.steps if prune else out.not_pruned).append(removal)
    return out


def _insight_removal(key: str, tile_key: str, insight: Insight, dashboard_id: int) -> Step:
    """Removing an SDK-made insight from a dashboard. An insight someone also put on other
    dashboards only leaves this one (its ``dashboards`` list shrinks); otherwise it is
    soft-deleted."""
    others = [d for d in insight.dashboards if d != dashboard_id]
    changes = [Change("dashboards", insight.dashboards, others)] if others else []
    return Step(
        action="remove",
        kind="insight",
        dashboard=key,
        name=insight.name or insight.derived_name or f"insight {insight.id}",
        tile=tile_key,
        id=insight.id,
        changes=changes,
    )


def prune_steps(key: str, dashboard: Dashboard | DashboardSummary) -> list[Step]:
    """The removal of a dashboard the SDK created whose document is gone: its SDK-made
    insights first (when the detail is known), then the dashboard. Pure."""
    steps: list[Step] = []
    if isinstance(dashboard, Dashboard):
        for tile in dashboard.tiles:
            insight = tile.insight
            if insight is None:
                continue
            tile_key = tile_key_of_insight_tags(list(insight.tags), key)
            if tile_key is not None:
                steps.append(_insight_removal(key, tile_key, insight, dashboard.id))
    steps.append(
        Step(
            action="remove",
            kind="dashboard",
            dashboard=key,
            name=dashboard.name or "(untitled)",
            id=dashboard.id,
        )
    )
    return steps


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class _Target:
    """One document and the dashboard it resolved to, as read by ``plan``."""

    doc: DashboardDocument
    current: Dashboard | None
    managed: bool
    diff: DocumentDiff


class Plan:
    """What ``apply`` would do: ``steps`` (writes, in order), ``unchanged`` things, and
    ``not_pruned`` (removals that ``prune=True`` would make). Made by
    ``ph.dashboards.plan()``, which sends no write; applied once by ``ph.dashboards.apply()``.
    """

    def __init__(
        self,
        *,
        client: AsyncPostHog,
        documents: list[DashboardDocument],
        prune: bool,
        targets: list[_Target],
        removals: list[list[Step]],
        kept: list[Step],
    ) -> None:
        self._client = client
        self._targets = targets
        self._removals = removals
        self._applied = False
        self.documents = documents
        self.prune = prune
        self.steps: list[Step] = [s for t in targets for s in t.diff.steps] + [
            s for group in removals for s in group
        ]
        self.unchanged: list[ReportItem] = [u for t in targets for u in t.diff.unchanged]
        self.not_pruned: list[Step] = [s for t in targets for s in t.diff.not_pruned] + kept

    @property
    def is_empty(self) -> bool:
        """True when applying would send no write."""
        return not self.steps

    def counts(self) -> dict[str, int]:
        """Steps by action: ``{"create": 2, "update": 1, "remove": 0}``."""
        out = {"create": 0, "update": 0, "remove": 0}
        for step in self.steps:
            out[step.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON data (for ``--json``)."""
        return {
            "is_empty": self.is_empty,
            "prune": self.prune,
            "counts": self.counts(),
            "steps": msgspec.to_builtins(self.steps),
            "unchanged": msgspec.to_builtins(self.unchanged),
            "not_pruned": msgspec.to_builtins(self.not_pruned),
        }

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"<Plan {len(self.documents)} documents: {c['create']} create, {c['update']} "
            f"update, {c['remove']} remove, {len(self.unchanged)} unchanged>"
        )


def _check_documents(documents: Iterable[DashboardDocument]) -> list[DashboardDocument]:
    if isinstance(documents, DashboardDocument):
        raise InvalidArgumentError("plan() takes a list of documents: plan([doc])")
    docs = list(documents)
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, DashboardDocument):
            raise InvalidArgumentError(
                f"documents[{i}] must be a DashboardDocument, got {type(doc).__name__}"
            )
        if doc.key in seen:
            raise InvalidArgumentError(
                f"documents[{i}] has the key {doc.key!r} of documents[{seen[doc.key]}]: "
                "every document needs its own key"
            )
        seen[doc.key] = i
    return docs


def _project_of(ph: AsyncPostHog, item: DashboardSummary) -> int | str:
    return item.team_id if item.team_id is not None else ph.project_id


async def make_plan(
    ph: AsyncPostHog, documents: Iterable[DashboardDocument], *, prune: bool = False
) -> Plan:
    """Read the project and compare it with ``documents``; sends no write."""
    docs = _check_documents(documents)
    if not isinstance(prune, bool):
        raise InvalidArgumentError(f"prune must be a bool, got {prune!r}")
    tagged: dict[str, DashboardSummary] = {}
    derived: dict[str, DashboardSummary] = {}
    async for item in ph.dashboards.iter():
        key = dashboard_key_of_tags(list(item.tags))
        if key is not None and (key not in tagged or item.id < tagged[key].id):
            tagged[key] = item
        derived[derived_dashboard_key(ph.host, _project_of(ph, item), item.id)] = item
    resolved: list[tuple[DashboardDocument, DashboardSummary | None, bool]] = []
    for doc in docs:
        if doc.key in tagged:
            resolved.append((doc, tagged[doc.key], True))
        else:
            resolved.append((doc, derived.get(doc.key), False))
    wanted = {doc.key for doc in docs}
    gone = [(key, item) for key, item in sorted(tagged.items()) if key not in wanted]

    ids = {item.id for _, item, _ in resolved if item is not None}
    if prune:
        ids |= {item.id for _, item in gone}
    details = await _gather_limited([ph.dashboards.get(i) for i in sorted(ids)])
    by_id = {d.id: d for d in details}

    targets: list[_Target] = []
    for doc, found, managed in resolved:
        current = by_id.get(found.id) if found is not None else None
        project = _project_of(ph, found) if found is not None else ph.project_id
        diff = diff_document(
            doc, current, managed=managed, host=ph.host, project=project, prune=prune
        )
        targets.append(_Target(doc=doc, current=current, managed=managed, diff=diff))
    removals: list[list[Step]] = []
    kept: list[Step] = []
    for key, summary in gone:
        steps = prune_steps(key, by_id.get(summary.id, summary))
        if prune:
            removals.append(steps)
        else:
            kept.append(steps[-1])
    return Plan(
        client=ph, documents=docs, prune=prune, targets=targets, removals=removals, kept=kept
    )


async def _gather_limited(calls: list[Awaitable[Dashboard]]) -> list[Dashboard]:
    """Run the reads together; the client's semaphore and limiter pace them."""
    if not calls:
        return []
    return list(await asyncio.gather(*calls))


# --- apply ------------------------------------------------------------------------------------


class _Recorder:
    """Collects what an apply did, as it happens, so a failure still reports it."""

    def __init__(self, report: ApplyReport, on_write: Callable[[ReportItem], None] | None) -> None:
        self.report = report
        self.on_write = on_write

    def add(self, bucket: list[ReportItem], step: Step, id_: int | None = None) -> None:
        item = ReportItem(
            kind=step.kind,
            dashboard=step.dashboard,
            name=step.name,
            tile=step.tile,
            id=id_ if id_ is not None else step.id,
        )
        bucket.append(item)
        if self.on_write is not None:
            self.on_write(item)


def _layouts_arg(tile: TileDocument) -> dict[str, dict[str, int]] | None:
    layouts = tile.layouts.to_server()
    return layouts or None


def _insight_tile_id(insight: Insight, dashboard_id: int) -> int | None:
    for ref in insight.dashboard_tiles:
        if ref.dashboard_id == dashboard_id and not ref.deleted:
            return ref.id
    return None


class _Applier:
    def __init__(
        self,
        ph: AsyncPostHog,
        report: ApplyReport,
        marked: set[int],
        on_write: Callable[[ReportItem], None] | None = None,
    ) -> None:
        self.ph = ph
        self.record = _Recorder(report, on_write)
        self.report = report
        self.marked = marked

    async def target(self, target: _Target) -> None:
        doc = target.doc
        steps = target.diff.steps
        by_tile = {d.key: d for d in doc.tiles}
        known_tiles = (
            {tile.id for tile in target.current.tiles} if target.current is not None else set()
        )
        dashboard_id = target.current.id if target.current is not None else None
        if dashboard_id is not None:
            self.report.dashboards[doc.key] = dashboard_id
        display: list[Mapping[str, Any]] = []
        display_steps: list[tuple[Step, bool]] = []
        removals: list[Step] = []
        for step in steps:
            if step.action == "remove":
                removals.append(step)
                continue
            if step.kind == "dashboard":
                dashboard_id = await self._dashboard(step, target)
                continue
            assert dashboard_id is not None
            if step.kind == "tile":
                tile_doc = by_tile[step.tile or ""]
                display.append(self._display_entry(step, tile_doc))
                display_steps.append((step, False))
                continue
            tile_doc = by_tile[step.tile or ""]
            if step.action == "create":
                entry = await self._create_tile(step, tile_doc, doc, dashboard_id, known_tiles)
                if entry is not None:
                    display.append(entry)
                    display_steps.append((step, True))
            else:
                await self._update_tile(step, tile_doc, dashboard_id)
        if display:
            assert dashboard_id is not None
            await self.ph.dashboards.update(dashboard_id, tiles=display)
            for step, created in display_steps:
                if not created:
                    self.record.add(self.report.updated, step)
        for step in removals:
            assert dashboard_id is not None
            await self._remove(step, dashboard_id)

    @staticmethod
    def _display_entry(step: Step, tile: TileDocument) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": step.id}
        for change in step.changes:
            if change.field == "color":
                entry["color"] = tile.color
        layouts = tile.layouts.to_server()
        if any(c.field.startswith("layouts.") for c in step.changes) and layouts:
            entry["layouts"] = layouts
        return entry

    async def _dashboard(self, step: Step, target: _Target) -> int:
        doc = target.doc
        ph = self.ph
        if step.action == "create":
            created = await ph.dashboards.create(
                name=doc.name,
                description=doc.description,
                tags=[*sorted(doc.tags), doc.identity_tag],
                filters=doc.filters if doc.filters else UNSET,
            )
            if doc.identity_tag not in created.tags:
                await ph.dashboards.delete(created.id)
                raise IdentityLostError(
                    f"PostHog dropped the identity tag {doc.identity_tag!r} of dashboard "
                    f"{created.id}, so it was deleted again: tags need PostHog's tagging "
                    "feature on this organisation"
                )
            self.report.dashboards[doc.key] = created.id
            self.record.add(self.report.created, step, created.id)
            if doc.variables:
                await ph.dashboards.update(created.id, variables=doc.variables)
            return created.id
        assert target.current is not None
        dashboard_id = target.current.id
        fields: dict[str, Any] = {}
        cleared: dict[str, Any] = {}
        for change in step.changes:
            if change.field in ("filters", "variables") and not change.new:
                cleared[change.field] = {}
            else:
                fields[change.field] = change.new
        if fields:
            await ph.dashboards.update(dashboard_id, **fields)
        if cleared:
            # ``{}`` clears them on current PostHog; the typed call refuses ``{}`` because
            # older servers ignore it, so this one goes through the escape hatch.
            await ph.request("PATCH", f"dashboards/{dashboard_id}/", json=cleared)
        self.record.add(self.report.updated, step, dashboard_id)
        return dashboard_id

    async def _create_tile(
        self,
        step: Step,
        tile: TileDocument,
        doc: DashboardDocument,
        dashboard_id: int,
        known_tiles: set[int],
    ) -> dict[str, Any] | None:
        """Create a tile; returns the display entry still to send (insights only)."""
        ph = self.ph
        if isinstance(tile, InsightTileDocument):
            tag = insight_identity_tag(doc.key, tile.key)
            insight = await ph.insights.create(
                query=tile.query,
                name=tile.name,
                description=tile.description,
                dashboards=[dashboard_id],
                tags=[tag],
            )
            if tag not in insight.tags:
                await ph.insights.delete(insight.id)
                raise IdentityLostError(
                    f"PostHog dropped the identity tag {tag!r} of insight {insight.id}, so it "
                    "was deleted again: tags need PostHog's tagging feature on this organisation"
                )
            self.record.add(self.report.created, step, insight.id)
            tile_id = _insight_tile_id(insight, dashboard_id)
            if tile_id is None:
                fresh = await ph.dashboards.get(dashboard_id)
                tile_id = next(
                    (t.id for t in fresh.tiles if t.insight and t.insight.id == insight.id), None
                )
            if tile_id is None:
                return None
            known_tiles.add(tile_id)
            entry: dict[str, Any] = {"id": tile_id}
            layouts = _layouts_arg(tile)
            if layouts:
                entry["layouts"] = layouts
            if tile.color is not None:
                entry["color"] = tile.color
            return entry if len(entry) > 1 else None
        if isinstance(tile, TextTileDocument):
            created = await ph.dashboards.tiles.create_text(
                dashboard_id,
                tile.body + text_marker(tile.key),
                color=tile.color if tile.color is not None else UNSET,
                layouts=_layouts_arg(tile) or UNSET,
            )
            known_tiles.add(created.id)
            self.record.add(self.report.created, step, created.id)
            return None
        assert isinstance(tile, ButtonTileDocument)
        entry = {
            "button_tile": {
                "url": tile.url,
                "text": tile.text,
                "placement": tile.placement,
                "style": tile.style,
            }
        }
        layouts = _layouts_arg(tile)
        if layouts:
            entry["layouts"] = layouts
        if tile.color is not None:
            entry["color"] = tile.color
        result = await ph.dashboards.update(dashboard_id, tiles=[entry])
        wanted = button_key(tile.url, tile.text, tile.placement, tile.style)
        new_id: int | None = None
        for t in result.tiles:
            b = t.button_tile
            if t.id in known_tiles or b is None:
                continue
            if button_key(b.url, b.text, b.placement, b.style) == wanted:
                new_id = t.id
                break
        if new_id is not None:
            known_tiles.add(new_id)
        self.record.add(self.report.created, step, new_id)
        return None

    async def _update_tile(self, step: Step, tile: TileDocument, dashboard_id: int) -> None:
        ph = self.ph
        assert step.id is not None
        changed = {c.field for c in step.changes}
        if isinstance(tile, InsightTileDocument):
            fields: dict[str, Any] = {}
            if "query" in changed:
                fields["query"] = tile.query
            if "name" in changed:
                fields["name"] = tile.name
            if "description" in changed:
                fields["description"] = tile.description
            await ph.insights.update(step.id, **fields)
        elif isinstance(tile, TextTileDocument):
            # A tile the SDK made keeps its marker; one it did not make stays unmarked.
            tile_id = step.id
            marker = text_marker(tile.key) if tile_id in self.marked else ""
            await ph.dashboards.tiles.update(dashboard_id, tile_id, body=tile.body + marker)
        else:
            await ph.dashboards.update(
                dashboard_id,
                tiles=[
                    {
                        "id": step.id,
                        "button_tile": {
                            "url": tile.url,
                            "text": tile.text,
                            "placement": tile.placement,
                            "style": tile.style,
                        },
                    }
                ],
            )
        self.record.add(self.report.updated, step)

    async def _remove(self, step: Step, dashboard_id: int) -> None:
        ph = self.ph
        assert step.id is not None
        if step.kind == "insight":
            kept = next((c.new for c in step.changes if c.field == "dashboards"), None)
            if kept:
                await ph.insights.update(step.id, dashboards=kept)
            else:
                await ph.insights.delete(step.id)
        elif step.kind == "dashboard":
            await ph.dashboards.delete(step.id)
        else:
            await ph.dashboards.tiles.delete(dashboard_id, step.id)
        self.record.add(self.report.removed, step)

    async def removal_group(self, steps: list[Step]) -> None:
        for step in steps:
            await self._remove(step, step.id or 0)


def _marked_text_tiles(targets: list[_Target]) -> set[int]:
    """Ids of the text tiles that carry the SDK's marker."""
    out: set[int] = set()
    for target in targets:
        if target.current is None:
            continue
        for tile in target.current.tiles:
            if tile.text is not None and split_text_marker(tile.text.body or "")[1] is not None:
                out.add(tile.id)
    return out


async def run_apply(
    ph: AsyncPostHog, plan: Plan, *, on_write: Callable[[ReportItem], None] | None = None
) -> ApplyReport:
    """Carry out a plan; see ``ph.dashboards.apply``. ``on_write`` is called after each
    write that succeeded (the command line's progress)."""
    if not isinstance(plan, Plan):
        raise InvalidArgumentError(f"apply() takes a Plan from plan(), got {type(plan).__name__}")
    if plan._client is not ph:
        raise InvalidArgumentError(
            "this plan was made by another client: plan and apply with the same client"
        )
    if plan._applied:
        raise InvalidArgumentError(
            "this plan was already applied: make a new plan (plan() reads the project again)"
        )
    plan._applied = True
    report = ApplyReport()
    applier = _Applier(ph, report, _marked_text_tiles(plan._targets), on_write)
    report.unchanged.extend(plan.unchanged)
    # Dashboards are independent: they go together, each in its own order (dashboard,
    # tiles, layouts, removals); the client's semaphore and limiter pace the requests.
    results = await asyncio.gather(
        *(applier.target(t) for t in plan._targets), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    if not errors:
        # Whole dashboards are removed last, and only when everything else worked.
        removal_results = await asyncio.gather(
            *(applier.removal_group(group) for group in plan._removals), return_exceptions=True
        )
        errors = [r for r in removal_results if isinstance(r, BaseException)]
    for error in errors:
        if not isinstance(error, PostHogError):
            raise error
    if errors:
        first = errors[0]
        raise ApplyError(
            f"apply stopped: {first} ({report.summary()} before the failure; plan and apply "
            "again to finish)",
            report=report,
            errors=list(errors),
        ) from first
    return report


# --- export and copy -------------------------------------------------------------------------


async def export_dashboard(
    ph: AsyncPostHog, dashboard_id: int, *, strict: bool = True
) -> DashboardDocument:
    """Read a dashboard and describe it as a document; see ``ph.dashboards.export``."""
    if not isinstance(strict, bool):
        raise InvalidArgumentError(f"strict must be a bool, got {strict!r}")
    dashboard = await ph.dashboards.get(dashboard_id)
    doc, unsupported = document_from_dashboard(dashboard, host=ph.host, project=ph.project_id)
    if unsupported and strict:
        reasons = "; ".join(f"tile {u.tile_id}: {u.reason}" for u in unsupported)
        raise ExportError(
            f"dashboard {dashboard_id} has tiles a document cannot describe ({reasons}); "
            "export(..., strict=False) leaves them out",
            dashboard_id=dashboard_id,
            unsupported=unsupported,
        )
    return doc


async def copy_dashboard(
    source: AsyncPostHog, dashboard_id: int, target: AsyncPostHog, *, strict: bool = True
) -> Dashboard:
    """Copy a dashboard from one client's project to another's (another host, project
    and key): export from ``source``, plan and apply on ``target``; returns the target's
    dashboard.

    Copying again updates that copy in place rather than making a second one: the copy
    carries the document's identity tag.
    """
    doc = await export_dashboard(source, dashboard_id, strict=strict)
    plan = await make_plan(target, [doc])
    report = await run_apply(target, plan)
    return await target.dashboards.get(report.dashboards[doc.key])
