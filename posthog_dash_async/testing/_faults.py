"""Request recording and the fault switches of :class:`FakePostHog`."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDict

__all__ = ["FaultRule", "RecordedRequest", "StreamFaults"]


@dataclass
class RecordedRequest:
    """One request as the server received it.

    ``status`` is filled in once the server has answered (``None`` for a request whose
    connection was reset); ``fault`` names the injected fault that answered it, if any
    (``"reset"``, ``"throttle"``, ``"status"``).
    """

    method: str
    path: str
    query: MultiDict[str]
    headers: dict[str, str]
    body: bytes
    started_at: float
    status: int | None = None
    fault: str | None = None

    def json(self) -> Any:
        """The body decoded as JSON (``None`` for an empty body)."""
        if not self.body:
            return None
        return json.loads(self.body)

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, if any."""
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                return value
        return None


@dataclass
class FaultRule:
    """Answer the next ``remaining`` matching requests with a fault instead of the API."""

    kind: str
    remaining: int
    method: frozenset[str] | None = None
    path: re.Pattern[str] | None = None
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    wait: int = 37

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (and still has uses left)."""
        if self.remaining <= 0:
            return False
        if self.method is not None and method.upper() not in self.method:
            return False
        return self.path is None or self.path.search(path) is not None


def make_rule(
    kind: str,
    count: int,
    method: str | Collection[str] | None,
    path: str | re.Pattern[str] | None,
    **extra: Any,
) -> FaultRule:
    """Build a :class:`FaultRule` from the loose arguments of the public methods."""
    if count < 1:
        raise ValueError("count must be at least 1")
    methods: frozenset[str] | None
    if method is None:
        methods = None
    elif isinstance(method, str):
        methods = frozenset({method.upper()})
    else:
        methods = frozenset(m.upper() for m in method)
    pattern = re.compile(path) if isinstance(path, str) else path
    return FaultRule(kind=kind, remaining=count, method=methods, path=pattern, **extra)


@dataclass
class StreamFaults:
    """Faults applied to ``stream_tiles`` responses; every field off by default.

    Counts are data events already sent (the metadata event is the first).
    """

    #: After N events, keep the connection open and send nothing more.
    stall_after: int | None = None
    #: After N events, end the response cleanly without ``complete``.
    truncate_after: int | None = None
    #: After N events, reset the connection (the client sees a payload error).
    reset_after: int | None = None
    #: After N events, send ``{"type":"error","error":fatal_error_message}`` and end.
    fatal_error_after: int | None = None
    fatal_error_message: str = "Dashboard stream failed: connection to ClickHouse lost."
    #: Tile id -> message: that tile fails to serialise (per-tile ``error`` event).
    tile_errors: dict[int, str] = field(default_factory=dict)
    #: Seconds to wait before each ``tile`` (or per-tile ``error``) event.
    tile_delay: float = 0.0
    #: Tile id -> minimum size in bytes of that tile's JSON (the insight result is padded).
    huge_tiles: dict[int, int] = field(default_factory=dict)
    #: Use ``\r\n`` instead of ``\n`` in the framing.
    crlf: bool = False
    #: Send a ``: keep-alive`` comment block before every event.
    comments: bool = False
    #: Prefix every event with an ``event: <type>`` line (and an ``id:`` line).
    event_lines: bool = False
    #: Split every write into chunks of this many bytes (exercises client reassembly).
    chunk_size: int | None = None
