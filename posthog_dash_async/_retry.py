"""Retry policy as named, pure steps: what is retryable, for which methods, how long to wait.

The client's retry loop asks these functions and does nothing else by itself, so the whole
policy is readable (and tested) here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._transport import TransportError
from ._wire import parse_retry_after, throttle_wait

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy"]

#: Statuses worth another try: the request was not acted on, or the failure is transient.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the server's requested waits.

    ``max_retries`` extra attempts at most. A wait the server asks for (``Retry-After`` or
    PostHog's "Expected available in N seconds") that exceeds ``max_wait`` is not slept
    through: the error is raised, carrying ``retry_after``.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0
    random: Callable[[], float] = random.random

    def should_retry_transport(self, method: str, exc: TransportError, attempt: int) -> bool:
        """Transport failures are retried only before any response byte arrived; other
        methods than GET only when the connection was never made (nothing was sent)."""
        if attempt >= self.max_retries or exc.response_started:
            return False
        return method in _IDEMPOTENT or not exc.request_sent

    def should_retry_status(
        self, method: str, status: int, headers: Mapping[str, str], attempt: int
    ) -> bool:
        """Retryable statuses for idempotent methods; for writes only the answers that mean
        the server refused without acting (429, or 503 with ``Retry-After``)."""
        if attempt >= self.max_retries or status not in RETRYABLE_STATUSES:
            return False
        if method in _IDEMPOTENT:
            return True
        if status == 429:
            return True
        return status == 503 and "Retry-After" in headers

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**attempt))."""
        ceiling = min(self.max_delay, self.base_delay * (1 << min(attempt, 30)))
        return ceiling * float(self.random())

    def requested_wait(self, headers: Mapping[str, str], detail: str | None) -> float | None:
        """The wait the server asked for: ``Retry-After`` first, then the 429 body text."""
        wait = parse_retry_after(headers.get("Retry-After"))
        if wait is None:
            wait = throttle_wait(detail)
        return wait

    def wait_for(self, attempt: int, requested: float | None) -> float:
        """Seconds to sleep before the next attempt."""
        if requested is not None:
            return requested
        return self.backoff(attempt)
