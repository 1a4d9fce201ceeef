"""The spec fixtures (REF shapes) as FakePostHog's 2026 default serves them.

NEWEST adds ``folder`` to dashboards (after ``last_viewed_at``), ``widget`` to every tile
(``null`` unless it is a widget tile) and ``search_match_type`` to list items; the values of
every other key are unchanged, so tests compare against the fixture with only these keys added.
"""

from __future__ import annotations

from typing import Any

import msgspec


def _with_folder(dashboard: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dashboard.items():
        out[key] = value
        if key == "last_viewed_at":
            out["folder"] = None
    return out


def tile_2026(tile: dict[str, Any]) -> dict[str, Any]:
    """A fixture tile with the ``widget`` key, or an error tile as it is."""
    if "insight" not in tile:
        return tile
    out = {k: v for k, v in tile.items() if k != "error"}
    out["widget"] = None
    if "error" in tile:
        out["error"] = tile["error"]
    return out


def detail_2026(detail: dict[str, Any]) -> dict[str, Any]:
    """A fixture dashboard detail as the 2026 server shows it."""
    out = _with_folder(detail)
    if "tiles" in out:
        out["tiles"] = [tile_2026(tile) for tile in out["tiles"]]
    return out


def list_item_2026(item: dict[str, Any]) -> dict[str, Any]:
    """A fixture list item as the 2026 server shows it (no search: ``search_match_type`` null)."""
    return {**_with_folder(item), "search_match_type": None}


def transcript_2026(transcript: bytes) -> bytes:
    """A fixture ``stream_tiles`` transcript with every event re-encoded in the 2026 shape."""
    out = []
    for block in transcript.split(b"\n\n"):
        if not block.startswith(b"data: "):
            out.append(block)
            continue
        event = msgspec.json.decode(block[len(b"data: ") :])
        if event.get("type") == "metadata":
            event["dashboard"] = detail_2026(event["dashboard"])
        elif event.get("type") == "tile":
            event["tile"] = tile_2026(event["tile"])
        out.append(b"data: " + msgspec.json.encode(event))
    return b"\n\n".join(out)
