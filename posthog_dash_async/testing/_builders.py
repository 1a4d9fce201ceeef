"""Helpers that describe tiles for :meth:`FakePostHog.add_dashboard` and the seed data.

A :class:`TileSpec` wraps a tile in the API's own shape (the object a retrieve returns, with
any subset of keys); the server fills in whatever is left out. Insight helpers produce the
query nodes and cached results the PostHog web app would show for trends, funnel and
big-number insights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

__all__ = [
    "TileSpec",
    "funnel_tile",
    "insight_tile",
    "number_tile",
    "text_tile",
    "trends_tile",
]

Layout = tuple[int, int, int, int]


@dataclass
class TileSpec:
    """A tile to store: ``tile`` is API-shaped (``insight``/``text``/``layouts``/... keys).

    ``stream_error`` makes the tile fail whenever ``stream_tiles`` serialises it (a
    per-tile ``error`` event, or an error object inside the metadata for the first two).
    """

    tile: dict[str, Any] = field(default_factory=dict)
    stream_error: str | None = None


def _layouts(layout: Layout | None, layouts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if layouts is not None:
        return dict(layouts)
    if layout is None:
        return None
    x, y, w, h = layout
    return {"sm": {"x": x, "y": y, "w": w, "h": h}, "xs": {"x": 0, "y": y, "w": 1, "h": h}}


def _tile(
    *,
    insight: dict[str, Any] | None = None,
    text: dict[str, Any] | None = None,
    layout: Layout | None,
    layouts: Mapping[str, Any] | None,
    color: str | None,
    tile_id: int | None,
    stream_error: str | None,
) -> TileSpec:
    tile: dict[str, Any] = {}
    if tile_id is not None:
        tile["id"] = tile_id
    tile["insight"] = insight
    tile["text"] = text
    resolved = _layouts(layout, layouts)
    if resolved is not None:
        tile["layouts"] = resolved
    tile["color"] = color
    return TileSpec(tile=tile, stream_error=stream_error)


def insight_tile(
    name: str | None,
    *,
    query: Mapping[str, Any] | None,
    result: Any = None,
    description: str | None = None,
    layout: Layout | None = None,
    layouts: Mapping[str, Any] | None = None,
    color: str | None = None,
    tile_id: int | None = None,
    insight_id: int | None = None,
    is_cached: bool = True,
    last_refresh: str | None = None,
    stream_error: str | None = None,
    **insight_fields: Any,
) -> TileSpec:
    """An insight tile with any query node and cached ``result``.

    ``layout`` is ``(x, y, w, h)`` of the ``sm`` grid; ``layouts`` gives the full object.
    Extra keyword arguments become insight fields (``hogql``, ``types``, ``tags``, ...).
    """
    insight: dict[str, Any] = {"name": name, "query": dict(query) if query else None}
    if insight_id is not None:
        insight["id"] = insight_id
    insight["description"] = description
    insight["result"] = result
    insight["is_cached"] = is_cached
    if last_refresh is not None:
        insight["last_refresh"] = last_refresh
    insight.update(insight_fields)
    return _tile(
        insight=insight,
        layout=layout,
        layouts=layouts,
        color=color,
        tile_id=tile_id,
        stream_error=stream_error,
    )


def _series(event: str, math: str) -> dict[str, Any]:
    return {"kind": "EventsNode", "event": event, "name": event, "math": math}


def _action(event: str, math: str) -> dict[str, Any]:
    return {
        "id": event,
        "type": "events",
        "order": 0,
        "name": event,
        "custom_name": None,
        "math": math,
        "math_property": None,
        "math_hogql": None,
        "math_group_type_index": None,
        "properties": {},
    }


def trends_tile(
    name: str,
    *,
    data: Sequence[float] = (120.0, 132.0, 141.0, 128.0, 150.0, 163.0, 158.0),
    event: str = "$pageview",
    math: str = "total",
    interval: str = "day",
    display: str = "ActionsLineGraph",
    start: date = date(2025, 10, 28),
    **options: Any,
) -> TileSpec:
    """A trends insight (``TrendsQuery``) with one series and its cached result.

    ``options`` are those of :func:`insight_tile` (``layout``, ``color``, ``tile_id``, ...).
    """
    step = timedelta(weeks=1) if interval == "week" else timedelta(days=1)
    days = [(start + step * index).isoformat() for index in range(len(data))]
    labels = [
        f"{day.day}-{day.strftime('%b-%Y')}" for day in (start + step * i for i in range(len(data)))
    ]
    values = [float(value) for value in data]
    query = {
        "kind": "InsightVizNode",
        "source": {
            "kind": "TrendsQuery",
            "series": [_series(event, math)],
            "interval": interval,
            "dateRange": {"date_from": f"-{len(data)}{interval[0]}", "explicitDate": False},
            "filterTestAccounts": True,
            "trendsFilter": {"display": display},
        },
    }
    result = [
        {
            "action": _action(event, math),
            "label": event,
            "count": float(sum(values)),
            "data": values,
            "labels": labels,
            "days": days,
            "filter": {"display": display, "interval": interval, "insight": "TRENDS"},
        }
    ]
    return insight_tile(name, query=query, result=result, **options)


def number_tile(
    name: str,
    *,
    value: float = 1234.0,
    event: str = "$pageview",
    math: str = "total",
    **options: Any,
) -> TileSpec:
    """A big-number insight (trends with ``BoldNumber`` display, ``aggregated_value``)."""
    query = {
        "kind": "InsightVizNode",
        "source": {
            "kind": "TrendsQuery",
            "series": [_series(event, math)],
            "dateRange": {"date_from": "-7d", "explicitDate": False},
            "trendsFilter": {"display": "BoldNumber"},
        },
    }
    result = [
        {
            "action": _action(event, math),
            "label": event,
            "count": 0,
            "aggregated_value": value,
            "data": [],
            "labels": [],
            "days": [],
            "filter": {"display": "BoldNumber", "insight": "TRENDS"},
        }
    ]
    return insight_tile(name, query=query, result=result, **options)


def funnel_tile(
    name: str,
    *,
    steps: Sequence[tuple[str, int]] = (("$pageview", 1000), ("user signed up", 120)),
    **options: Any,
) -> TileSpec:
    """A funnel insight (``FunnelsQuery``), one result entry per ``(event, count)`` step."""
    query = {
        "kind": "InsightVizNode",
        "source": {
            "kind": "FunnelsQuery",
            "series": [{"kind": "EventsNode", "event": e, "name": e} for e, _ in steps],
            "dateRange": {"date_from": "-30d", "explicitDate": False},
            "funnelsFilter": {
                "funnelVizType": "steps",
                "funnelWindowInterval": 14,
                "funnelWindowIntervalUnit": "day",
            },
            "filterTestAccounts": True,
        },
    }
    result: list[dict[str, Any]] = [
        {
            "action_id": event,
            "name": event,
            "custom_name": None,
            "order": index,
            "people": [],
            "count": count,
            "type": "events",
            "average_conversion_time": None if index == 0 else 3600.0 * index,
            "median_conversion_time": None if index == 0 else 1800.0 * index,
            "breakdown": None,
            "breakdown_value": None,
        }
        for index, (event, count) in enumerate(steps)
    ]
    return insight_tile(name, query=query, result=result, **options)


def text_tile(
    body: str,
    *,
    layout: Layout | None = None,
    layouts: Mapping[str, Any] | None = None,
    color: str | None = None,
    tile_id: int | None = None,
    text_id: int | None = None,
    stream_error: str | None = None,
) -> TileSpec:
    """A markdown text card tile."""
    text: dict[str, Any] = {"body": body}
    if text_id is not None:
        text["id"] = text_id
    return _tile(
        text=text,
        layout=layout,
        layouts=layouts,
        color=color,
        tile_id=tile_id,
        stream_error=stream_error,
    )
