"""Retry policy as named, pure steps: what is retryable, for which methods, how long to wait.

The client's retry loop asks :meth:`RetryPolicy.after_transport_error` or
:meth:`RetryPolicy.after_status` for the wait before the next attempt (``None``: give up and
raise) and does nothing else by itself, so the whole policy is readable (and tested) here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ._transport import TransportError
from ._wire import parse_retry_after, throttle_wait

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy"]

#: Statuses worth another try: the request was not acted on, or the failure is transient.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Methods that may be repeated even when the first attempt may have reached the server.
#: PostHog's writes (POST, PATCH, DELETE) are not: a repeated POST creates a second dashboard.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the server's requested waits.

    - ``max_retries``: extra attempts at most.
    - ``base_delay``/``max_delay``: the backoff before retry *n* (0-based) is uniform in
      ``[0, min(max_delay, max_wait, base_delay * 2**n))``.
    - ``max_wait``: the longest wait the client sleeps through. A wait the server asks for
      (``Retry-After``, or PostHog's "Expected available in N seconds") beyond it is not
      slept: the error is raised at once (a 429 as ``RateLimitError`` with ``retry_after``).
    - ``jitter``: the source of uniform numbers in ``[0, 1)``; tests force it.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    # --- the steps -------------------------------------------------------------------

    def attempts_left(self, attempt: int) -> bool:
        """``attempt`` is the 0-based number of the attempt that just failed."""
        return attempt < self.max_retries

    def is_retryable_transport(self, method: str, exc: TransportError) -> bool:
        """Transport failures are retried only before any response byte arrived, and for
        other methods than GET only when the connection was never made (nothing was sent)."""
        if exc.response_started or not exc.retryable:
            return False
        return method in _IDEMPOTENT or not exc.request_sent

    def is_retryable_status(self, method: str, status: int, headers: Mapping[str, str]) -> bool:
        """Retryable statuses for GET; for writes only the answers that mean the server
        refused without acting (429, or 503 with ``Retry-After``)."""
        if status not in RETRYABLE_STATUSES:
            return False
        if method in _IDEMPOTENT or status == 429:
            return True
        return status == 503 and "Retry-After" in headers

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, max_wait, base_delay * 2**attempt))``."""
        ceiling = min(self.max_delay, self.max_wait, self.base_delay * (1 << min(attempt, 30)))
        return ceiling * float(self.jitter())

    def requested_wait(
        self, headers: Mapping[str, str], detail: str | None, *, now: datetime | None = None
    ) -> float | None:
        """The wait the server asked for: ``Retry-After`` (seconds or an HTTP date) first,
        then the "Expected available in N seconds" of PostHog's 429 body, which is where
        PostHog itself puts it (it sends no ``Retry-After`` on 429)."""
        wait = parse_retry_after(headers.get("Retry-After"), now=now)
        if wait is None:
            wait = throttle_wait(detail)
        return wait

    # --- the decisions the retry loop asks for ------------------------------------------

    def after_transport_error(self, method: str, exc: TransportError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or ``None`` to raise it."""
        if not self.attempts_left(attempt) or not self.is_retryable_transport(method, exc):
            return None
        return self.backoff(attempt)

    def after_status(
        self,
        method: str,
        status: int,
        headers: Mapping[str, str],
        detail: str | None,
        attempt: int,
        *,
        now: datetime | None = None,
    ) -> float | None:
        """Seconds to wait before retrying after an error status, or ``None`` to raise it.

        ``None`` also when the server asks for a longer wait than ``max_wait``: sleeping
        through it would hold the caller hostage, and the raised error tells how long.
        """
        if not self.attempts_left(attempt) or not self.is_retryable_status(method, status, headers):
            return None
        requested = self.requested_wait(headers, detail, now=now)
        if requested is None:
            return self.backoff(attempt)
        if requested > self.max_wait:
            return None
        return requested
