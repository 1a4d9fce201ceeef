"""``posthog-dash demo``: the SDK's main job, end to end, against an embedded FakePostHog.

Every step goes through the public API of :class:`AsyncPostHog` and checks its own result
(a restored dashboard can be read again, a moved tile is on its new dashboard, ...), so
the demo doubles as a smoke test: it exits 0 only when every step worked.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._client import AsyncPostHog
from ..errors import NotFoundError, PostHogError
from ..models import Dashboard, DashboardSummary, SharingConfiguration, TileLayout
from .live import painter_for, show_stream
from .output import EXIT_ERROR, EXIT_OK, Output, person
from .render import insight_kind

__all__ = ["DemoFailed", "run_demo"]

DEMO_TAG = "sdk-demo"
SIGNUPS_QUERY = {
    "kind": "InsightVizNode",
    "source": {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "user signed up", "math": "total"}],
        "interval": "week",
    },
}
TOKEN_PREFIX = 8


class DemoFailed(Exception):
    """A step ran but its result was not what it should be."""


@dataclass
class Step:
    """One step of the demo and how it went."""

    name: str
    ok: bool = False
    detail: str = ""
    seconds: float = 0.0


@dataclass
class DemoState:
    """What earlier steps produced for later ones."""

    created: dict[str, Dashboard] = field(default_factory=dict)
    listed: list[DashboardSummary] = field(default_factory=list)
    details: dict[int, Dashboard] = field(default_factory=dict)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


def _quote(d: Dashboard | DashboardSummary) -> str:
    return f"'{d.name or 'untitled'}' (#{d.id})"


def _wire_query(query: Any) -> bytes:
    return msgspec.json.encode(query, order="sorted")


def _variety(d: Dashboard) -> tuple[int, int]:
    """How much a dashboard shows off the renderer: distinct tile kinds, then tile count."""
    kinds = {insight_kind(t.insight) if t.insight is not None else t.kind for t in d.tiles}
    return len(kinds), len(d.tiles)


class Demo:
    """The steps, in order; each returns the line that describes its result."""

    def __init__(self, ph: AsyncPostHog, out: Output, page_size: int) -> None:
        self.ph = ph
        self.out = out
        self.page_size = page_size
        self.state = DemoState()

    async def create(self) -> str:
        """Three dashboards at once; text tiles added to one of them."""
        ph = self.ph
        made = await asyncio.gather(
            ph.dashboards.create(
                name="Demo: Q4 planning",
                description="Created by posthog-dash demo",
                pinned=True,
                tags=[DEMO_TAG, "planning"],
            ),
            ph.dashboards.create(name="Demo: Release notes", tags=[DEMO_TAG]),
            ph.dashboards.create(name="Demo: Board metrics", tags=[DEMO_TAG], restriction_level=37),
        )
        planning, notes, board = made
        _check(planning.pinned and DEMO_TAG in planning.tags, "create ignored pinned/tags")
        _check(board.restriction_level == 37, "restriction_level=37 was not kept")
        notes = await ph.dashboards.update(
            notes.id,
            tiles=[
                {
                    "text": {"body": "## Release 2.4\nStreaming tiles, faster lists."},
                    "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 2}},
                },
                {
                    "text": {"body": "## Known issues\nNone this week."},
                    "layouts": {"sm": {"x": 6, "y": 0, "w": 6, "h": 2}},
                },
            ],
        )
        texts = [t for t in notes.tiles if t.text is not None]
        _check(len(texts) == 2, f"expected 2 text tiles, the server shows {len(texts)}")
        self.state.created = {"planning": planning, "notes": notes, "board": board}
        ids = ", ".join(f"#{d.id}" for d in made)
        return f"3 dashboards ({ids}) created concurrently; 2 text tiles added via update(tiles=)"

    async def list(self) -> str:
        """Every dashboard over several small pages."""
        started = time.perf_counter()
        listed = [d async for d in self.ph.dashboards.iter(page_size=self.page_size)]
        elapsed = time.perf_counter() - started
        ids = [d.id for d in listed]
        _check(len(ids) == len(set(ids)), "a dashboard was listed twice")
        missing = [d.id for d in self.state.created.values() if d.id not in ids]
        _check(not missing, f"created dashboards missing from the list: {missing}")
        count = (await self.ph.dashboards.list(limit=1)).count
        _check(count == len(listed), f"listed {len(listed)} but the server counts {count}")
        self.state.listed = listed
        pages = math.ceil(len(listed) / self.page_size)
        return (
            f"{len(listed)} dashboards over {pages} pages of {self.page_size} "
            f"(pages after the first prefetched concurrently, {elapsed * 1000:.0f} ms)"
        )

    async def details(self) -> str:
        """Every listed dashboard's detail, concurrently."""
        listed = self.state.listed
        got = await asyncio.gather(*(self.ph.dashboards.get(d.id) for d in listed))
        for summary, detail in zip(listed, got, strict=True):
            _check(summary.id == detail.id, f"asked for #{summary.id}, got #{detail.id}")
        self.state.details = {d.id: d for d in got}
        tiles = sum(len(d.tiles) for d in got)
        return f"{len(got)} dashboards with {tiles} tiles fetched concurrently (asyncio.gather)"

    async def stream(self) -> str:
        """The most varied dashboard's tiles, shown as they arrive."""
        target = max(self.state.details.values(), key=_variety)
        expected = len(target.tiles)
        self.out.line(f"    streaming {_quote(target)}: {expected} tiles")
        painter = painter_for(self.out, live=True)
        stream = self.ph.dashboards.stream_tiles(target.id)
        view = await show_stream(stream, painter)
        _check(view.done, "the stream did not complete")
        _check(
            view.received == expected,
            f"streamed {view.received} tiles, the dashboard has {expected}",
        )
        how = "from GET (stream refused)" if stream.fallback_used else "as server-sent events"
        return f"{_quote(target)}: {view.received} of {expected} tiles {how}"

    async def move_tile(self) -> str:
        """A text tile moved between two of the new dashboards."""
        notes = self.state.created["notes"]
        planning = self.state.created["planning"]
        tile = next(t for t in notes.tiles if t.text is not None)
        source = await self.ph.dashboards.move_tile(notes.id, tile.id, planning.id)
        _check(all(t.id != tile.id for t in source.tiles), "the tile is still on its old dashboard")
        destination = await self.ph.dashboards.get(planning.id)
        _check(
            any(t.id == tile.id for t in destination.tiles),
            "the moved tile is not on the destination dashboard",
        )
        self.state.created["notes"] = source
        self.state.created["planning"] = destination
        return f"tile {tile.id} moved from {_quote(notes)} to {_quote(planning)}"

    async def tiles(self) -> str:
        """A text tile placed with TileLayout, recoloured, put first, then deleted."""
        tiles = self.ph.dashboards.tiles
        notes = self.state.created["notes"]
        tile = await tiles.create_text(
            notes.id, "## Next steps\nShip it.", layouts={"sm": TileLayout(x=0, y=4, w=12, h=2)}
        )
        _check(tile.text is not None, "create_text did not answer with a text tile")
        recoloured = await tiles.update(notes.id, tile.id, color="blue")
        _check(recoloured.color == "blue", "the colour was not kept")
        others = [t.id for t in (await self.ph.dashboards.get(notes.id)).tiles if t.id != tile.id]
        await tiles.reorder(notes.id, [tile.id, *others])
        first = (await self.ph.dashboards.stream_tiles(notes.id).collect()).tiles[0]
        _check(first.id == tile.id, "reorder did not put the tile first")
        await tiles.delete(notes.id, tile.id)
        left = await self.ph.dashboards.get(notes.id)
        _check(all(t.id != tile.id for t in left.tiles), "the deleted tile is still there")
        self.state.created["notes"] = left
        return f"text tile {tile.id} added at 0,4 (12×2), coloured blue, put first, then deleted"

    async def insight(self) -> str:
        """An insight put on a dashboard, run, moved to another one, then soft-deleted."""
        ph = self.ph
        board = self.state.created["board"]
        notes = self.state.created["notes"]
        made = await ph.insights.create(
            name="Demo: weekly signups", query=SIGNUPS_QUERY, dashboards=[board.id]
        )
        _check(made.dashboards == [board.id], f"the insight is on {made.dashboards}")
        runs = await ph.dashboards.run_insights(board.id)
        _check(
            any(run.insight.id == made.id for run in runs.results),
            "run_insights did not run the new insight",
        )
        moved = await ph.insights.update(made.id, dashboards=[notes.id])
        _check(moved.dashboards == [notes.id], "the insight did not move")
        on_notes = await ph.dashboards.get(notes.id)
        _check(
            any(t.insight is not None and t.insight.id == made.id for t in on_notes.tiles),
            "the moved insight has no tile on its new dashboard",
        )
        deleted = await ph.insights.delete(made.id)
        _check(deleted.deleted, "the insight is not marked deleted")
        self.state.created["notes"] = await ph.dashboards.get(notes.id)
        return (
            f"insight {made.short_id} put on {_quote(board)}, run, moved to "
            f"{_quote(notes)} via insights.update(dashboards=), then soft-deleted"
        )

    async def share(self) -> str:
        """Sharing enabled, then the share token rotated."""
        planning = self.state.created["planning"]
        sharing = self.ph.dashboards.sharing
        enabled: SharingConfiguration = await sharing.update(planning.id, enabled=True)
        _check(enabled.enabled and bool(enabled.access_token), "sharing was not enabled")
        rotated = await sharing.refresh(planning.id)
        old, new = enabled.access_token or "", rotated.access_token or ""
        _check(bool(new) and new != old, "refresh did not issue a new token")
        _check(rotated.enabled, "refresh switched sharing off")
        return f"share token rotated: {old[:TOKEN_PREFIX]}… → {new[:TOKEN_PREFIX]}…"

    async def collaborator(self) -> str:
        """A colleague given edit rights on the restricted dashboard."""
        board = self.state.created["board"]
        owner = board.created_by.uuid if board.created_by is not None else None
        # Find a colleague through the API: someone who already edits another restricted
        # dashboard has project access and is a plausible editor for this one.
        restricted = [
            d for d in self.state.listed if d.restriction_level == 37 and d.id != board.id
        ]
        lists = await asyncio.gather(
            *(self.ph.dashboards.collaborators.list(d.id) for d in restricted)
        )
        candidates = [c.user for group in lists for c in group if c.user.uuid != owner]
        _check(bool(candidates), "no colleague with project access found to add")
        user = candidates[0]
        added = await self.ph.dashboards.collaborators.add(board.id, user.uuid)
        _check(added.user.uuid == user.uuid, "the server added someone else")
        now = await self.ph.dashboards.collaborators.list(board.id)
        _check(any(c.user.uuid == user.uuid for c in now), "the collaborator is not listed")
        return f"{person(user)} can now edit {_quote(board)} (restriction level 37)"

    async def delete_restore(self) -> str:
        """Soft delete, proven by a 404, then restore."""
        planning = self.state.created["planning"]
        deleted = await self.ph.dashboards.delete(planning.id)
        _check(deleted.deleted, "the dashboard is not marked deleted")
        try:
            await self.ph.dashboards.get(planning.id)
        except NotFoundError:
            pass
        else:
            raise DemoFailed("a deleted dashboard can still be read")
        await self.ph.dashboards.restore(planning.id)
        back = await self.ph.dashboards.get(planning.id)
        _check(not back.deleted, "the restored dashboard is still deleted")
        _check(
            len(back.tiles) == len(planning.tiles),
            f"restored with {len(back.tiles)} tiles instead of {len(planning.tiles)}",
        )
        return f"{_quote(planning)} soft-deleted (GET → 404), restored with its tiles (GET → 200)"

    async def copy(self) -> str:
        """A dashboard copied to a second instance (another host, project and key), twice."""
        from .._ascode import copy_dashboard
        from ..testing import FakePostHog

        source = max(self.state.details.values(), key=_variety)
        async with (
            FakePostHog(project_id=7, seed=False) as other,
            AsyncPostHog(
                api_key=other.api_key, host=other.url, project_id=other.project_id
            ) as target,
        ):
            copied = await copy_dashboard(self.ph, source.id, target)
            original = await self.ph.dashboards.get(source.id)
            queries = sorted(
                _wire_query(t.insight.query) for t in original.tiles if t.insight is not None
            )
            copies = sorted(
                _wire_query(t.insight.query) for t in copied.tiles if t.insight is not None
            )
            _check(queries == copies, "the copy's insight queries differ from the original's")
            _check(len(copied.tiles) == len(original.tiles), "the copy lost tiles")
            other.clear_requests()
            again = await copy_dashboard(self.ph, source.id, target)
            sent = [r for r in other.requests if r.method != "GET"]
            _check(again.id == copied.id, "copying again made a second dashboard")
            _check(not sent, f"copying again sent {len(sent)} writes")
        return (
            f"{_quote(source)} copied to a second instance (project 7) as #{copied.id} with "
            f"{len(copied.tiles)} tiles; copied again: 0 writes"
        )


async def _run_step(
    out: Output, number: int, step: Step, action: Callable[[], Awaitable[str]]
) -> None:
    started = time.perf_counter()
    try:
        step.detail = await action()
        step.ok = True
    except (PostHogError, DemoFailed) as exc:
        step.detail = " ".join(str(exc).split())
    step.seconds = time.perf_counter() - started
    mark = "✓" if step.ok else "✗"
    out.line(f"{mark} {number}. {step.name:<14} {step.detail}  ({step.seconds * 1000:.0f} ms)")


async def run_demo(out: Output, *, page_size: int = 3, tile_delay: float = 0.08) -> int:
    """Run the demo, printing one line per step; 0 when every step worked, else 1."""
    from ..testing import FakePostHog

    started = time.perf_counter()
    out.line("posthog-dash demo: the SDK end to end against an embedded FakePostHog")
    async with FakePostHog(allow_pak_on_unscoped_actions=True) as server:
        # Slow tiles a little so that the stream visibly arrives tile by tile.
        server.set_stream_faults(tile_delay=tile_delay)
        out.line(f"  server {server.url}, project {server.project_id}")
        out.line("")
        async with AsyncPostHog(
            api_key=server.api_key, host=server.url, project_id=server.project_id
        ) as ph:
            demo = Demo(ph, out, page_size)
            plan: list[tuple[str, Callable[[], Awaitable[str]]]] = [
                ("create", demo.create),
                ("list", demo.list),
                ("details", demo.details),
                ("stream", demo.stream),
                ("move tile", demo.move_tile),
                ("tiles", demo.tiles),
                ("insight", demo.insight),
                ("share token", demo.share),
                ("collaborator", demo.collaborator),
                ("delete+restore", demo.delete_restore),
                ("copy", demo.copy),
            ]
            steps: list[Step] = []
            for number, (name, action) in enumerate(plan, start=1):
                step = Step(name)
                steps.append(step)
                await _run_step(out, number, step, action)
                if not step.ok:
                    break
    total = time.perf_counter() - started
    out.line("")
    failed = [s for s in steps if not s.ok]
    if failed or len(steps) < len(plan):
        step = failed[0]
        out.line(f"demo FAILED at step {len(steps)} ({step.name}): {step.detail}")
        out.err.write(f"posthog-dash: demo failed at step '{step.name}'\n")
        return EXIT_ERROR
    out.line(f"all {len(steps)} steps passed in {total:.2f} s")
    return EXIT_OK
