"""Coalescing of identical GETs in flight, and the read path through the opt-in cache.

When several tasks of one client ask for the same URL with the same parameters while a
request for it is already on its way, they do not send their own: they wait for that one
and each receives the answer. What is shared is the response (status, headers, body
bytes); every caller decodes its own models from it, so no caller can see another's
changes to them.

The shared request runs in a task of its own, and every caller waits on a future of its
own, which that task resolves in its last step: a caller that is cancelled leaves the line
without touching the request, which is cancelled only when no caller is left. A failure
reaches every waiter (each receives its own copy of the exception).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from ._cache import Cache, CacheKey, affected
from ._transport import Response

__all__ = ["SharedReads", "credential_digest", "query_key"]


def credential_digest(secret: str | None) -> str:
    """A digest that tells credentials apart without holding or revealing them."""
    if secret is None:
        return "anonymous"
    return hashlib.sha256(b"posthog-dash-async\0" + secret.encode()).hexdigest()[:32]


def query_key(params: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters as a hashable key, in the order they are sent."""
    if not params:
        return ()
    items: Iterable[Any] = params.items() if isinstance(params, Mapping) else params
    return tuple((str(k), str(v)) for k, v in items)


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of a shared failure for one waiter (tracebacks and ``__notes__`` of one
    waiter must not grow on another's exception)."""
    try:
        dup = copy.copy(exc)
    except Exception:  # an exception type that cannot be copied is shared as is
        return exc
    dup.__cause__ = exc.__cause__
    dup.__suppress_context__ = exc.__suppress_context__
    return dup.with_traceback(exc.__traceback__)


class _Flight:
    """One request sent on behalf of the callers waiting for it (one future each)."""

    __slots__ = ("task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.waiters: list[asyncio.Future[Response]] = []


class SharedReads:
    """The GET path of one client: cache lookup, then coalescing, then the real send."""

    def __init__(self, *, credential: str, coalesce: bool, cache: Cache | None) -> None:
        self._credential = credential
        self._coalesce = coalesce
        self.cache = cache
        self._flights: dict[CacheKey, _Flight] = {}

    @property
    def in_flight(self) -> int:
        """Distinct GETs being sent on behalf of one or more callers right now."""
        return len(self._flights)

    async def get(
        self, url: str, params: Any, send: Callable[[], Coroutine[Any, Any, Response]]
    ) -> Response:
        key: CacheKey = (self._credential, url, query_key(params))
        cache = self.cache
        generation = 0
        if cache is not None:
            cached = cache.lookup(key)
            if cached is not None:
                return Response(*cached)
            generation = cache.generation
        if not self._coalesce:
            resp = await send()
            if cache is not None:
                cache.store(key, resp.status, resp.headers, resp.body, generation)
            return resp
        loop = asyncio.get_running_loop()
        # Each caller waits on a future of its own: cancelling a caller cancels only that
        # future, never the request the others wait for.
        waiter: asyncio.Future[Response] = loop.create_future()
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight()
            self._flights[key] = flight
            flight.waiters.append(waiter)
            flight.task = loop.create_task(
                self._fly(key, flight, send, generation if cache is not None else None)
            )
        else:
            flight.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The request finished in the same loop step as this caller's cancellation;
                # a failure of it is still this caller's failure.
                exc = waiter.exception()
                if exc is not None:
                    raise exc from exc.__cause__
                raise
            waiters = flight.waiters
            if waiter in waiters:
                waiters.remove(waiter)
            task = flight.task
            if not waiters and task is not None and not task.done():
                # Nobody is left to receive the answer.
                task.cancel()
                self._forget(key, flight)
            raise

    async def _fly(
        self,
        key: CacheKey,
        flight: _Flight,
        send: Callable[[], Coroutine[Any, Any, Response]],
        generation: int | None,
    ) -> None:
        """Send the request and hand its outcome to every caller still waiting, from
        within this task's last step (no further loop iteration before they wake)."""
        try:
            resp = await send()
        except asyncio.CancelledError:
            self._forget(key, flight)
            for waiter in flight.waiters:
                waiter.cancel()
            raise
        except BaseException as exc:
            self._forget(key, flight)
            for waiter in flight.waiters:
                if not waiter.done():
                    # Tracebacks and ``__notes__`` of one waiter must not grow on another's.
                    waiter.set_exception(_own_copy(exc))
            if not isinstance(exc, Exception):
                raise
            return
        self._forget(key, flight)
        if generation is not None and self.cache is not None:
            self.cache.store(key, resp.status, resp.headers, resp.body, generation)
        for waiter in flight.waiters:
            if not waiter.done():
                waiter.set_result(resp)

    def _forget(self, key: CacheKey, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    def invalidate(self, write_url: str) -> None:
        """A write to ``write_url`` is being (or was) sent: later GETs of what it may change
        start a request of their own instead of joining one that began before the write,
        and the cache drops those entries."""
        if self._flights:
            hit = affected(write_url)
            for key, flight in list(self._flights.items()):
                if hit(key[1]):
                    self._forget(key, flight)
        if self.cache is not None:
            self.cache.invalidate(write_url)
