"""``pda.Cache``: an opt-in, short-lived, bounded cache of GET response bodies.

Entries are keyed like coalescing (host and path, query parameters, a digest of the
credential), hold the raw response bytes (every caller decodes its own models, so nobody
sees another caller's changes) and live ``ttl`` seconds. At most ``max_entries`` are kept;
beyond that the least recently used one is evicted. Writes sent through the client drop the
entries they may have changed (see :func:`affected`).

The cache holds no event-loop object, so one ``Cache`` may serve several clients (even in
several loops or threads of one process): the credential digest in the key keeps their
answers apart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError

__all__ = ["Cache", "CacheKey", "CacheStats", "affected"]

#: (credential digest, absolute URL without query, query pairs)
CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`Cache` since it was created (or :meth:`Cache.clear`-ed).

    ``hits``: answered from the cache; ``misses``: looked up and not found (or expired);
    ``evictions``: entries dropped to stay within ``max_entries``; ``entries``: held now.
    """

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0


class _Entry:
    __slots__ = ("body", "expires", "headers", "status")

    def __init__(self, status: int, headers: Any, body: bytes, expires: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.expires = expires


def _resource_parts(url: str) -> tuple[str, list[str]]:
    """``(origin, segments after the project)`` of an absolute URL without query.

    ``/api/projects/{p}/...`` and ``/api/environments/{p}/...`` are the same resources (the
    project id may be spelled ``@current`` or numerically), so the project id is dropped.
    """
    scheme_end = url.find("://")
    slash = url.find("/", scheme_end + 3 if scheme_end >= 0 else 0)
    if slash < 0:
        return url, []
    origin, path = url[:slash], url[slash:]
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 3 and segments[0] == "api" and segments[1] in ("projects", "environments"):
        return origin, ["@project", *segments[3:]]
    return origin, segments


def affected(write_url: str) -> Callable[[str], bool]:
    """A predicate over cached URLs: may a write to ``write_url`` have changed this one?

    A write under ``dashboards/{id}/`` changes that dashboard (and everything under it) and
    the dashboard list pages; anything else (insights appear inside dashboards, a tile move
    names its target in the body, unknown endpoints) conservatively drops every entry of
    the project, and a write outside any project drops every entry of that host.
    """
    origin, segments = _resource_parts(write_url)
    if segments[:1] == ["@project"] and len(segments) >= 3 and segments[1] == "dashboards":
        ident = segments[2]
        if ident.isdigit() and not (len(segments) > 3 and segments[3] == "move_tile"):
            collection = ["@project", "dashboards"]
            subtree = ["@project", "dashboards", ident]

            def dashboard_scope(url: str) -> bool:
                o, s = _resource_parts(url)
                return o == origin and (s == collection or s[:3] == subtree)

            return dashboard_scope
    if segments[:1] == ["@project"]:

        def project_scope(url: str) -> bool:
            o, s = _resource_parts(url)
            return o == origin and s[:1] == ["@project"]

        return project_scope

    def host_scope(url: str) -> bool:
        return _resource_parts(url)[0] == origin

    return host_scope


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"Cache {name} must be a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgumentError(f"Cache {name} must be a positive number, got {value!r}")


class Cache:
    """An opt-in cache of GET responses: ``AsyncPostHog(cache=pda.Cache(ttl=5.0))``.

    ``ttl`` is how long (seconds) an answer is served without asking the server again;
    ``max_entries`` bounds how many answers are kept (least recently used go first).
    ``stats`` reports hits, misses and evictions. Writes through a client using this cache
    drop the entries they may have changed; writes made elsewhere (another process, the web
    UI) are seen once ``ttl`` has passed, so keep it short.
    """

    def __init__(
        self,
        ttl: float = 5.0,
        max_entries: int = 1024,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_positive("ttl", ttl)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidArgumentError(
                f"Cache max_entries must be an int >= 1, got {max_entries!r}"
            )
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        # Bumped by every invalidation: an answer whose request began before a write is not
        # stored when it arrives after it (it may predate the write).
        self._generation = 0

    def __repr__(self) -> str:
        return f"Cache(ttl={self.ttl!r}, max_entries={self.max_entries!r})"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._entries))

    @property
    def generation(self) -> int:
        return self._generation

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = self._evictions = 0
            self._generation += 1

    def lookup(self, key: CacheKey) -> tuple[int, Any, bytes] | None:
        """``(status, headers, body)`` of a fresh entry (counted as a hit), else None."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if entry.expires > now:
                    self._entries.move_to_end(key)
                    self._hits += 1
                    return entry.status, entry.headers, entry.body
                del self._entries[key]
            self._misses += 1
            return None

    def store(self, key: CacheKey, status: int, headers: Any, body: bytes, generation: int) -> None:
        """Keep an answer, unless a write invalidated entries since ``generation``."""
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = _Entry(status, headers, body, self._clock() + self.ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self._evictions += 1

    def invalidate(self, write_url: str) -> int:
        """Drop the entries a write to ``write_url`` may have changed; returns how many."""
        hit = affected(write_url)
        with self._lock:
            self._generation += 1
            doomed = [key for key in self._entries if hit(key[1])]
            for key in doomed:
                del self._entries[key]
            return len(doomed)
