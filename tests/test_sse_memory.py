"""The SSE decoder's peak memory stays within a small constant factor of ``max_event_bytes``
whatever the shape of the lines: many tiny ``data:`` lines, CR-only endings, a line that
never ends, a huge comment or field name. Measured with tracemalloc, relative to the limit;
the input chunks are built before tracing starts, so only the decoder's own memory counts."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from posthog_dash_async._sse import SSEDecoder
from posthog_dash_async.errors import EventTooLargeError

LIMIT = 16 * 1024
#: Peak allowed: the event itself, its final copy, the growth slack of its buffer, and a
#: little for the interpreter. Before the decoder kept one buffer per event, a million
#: one-byte data lines cost a million objects: about 40x the limit.
FACTOR = 3
SLACK = 8 * 1024
CHUNK = 4 * 1024


def chunked(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def peak_of(feed: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        feed()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(chunks: list[bytes], *, too_large: bool) -> int:
    """Feed every chunk; returns the peak traced memory. Checks the outcome too."""
    decoder = SSEDecoder(LIMIT)
    outcome: list[object] = []

    def feed() -> None:
        try:
            for chunk in chunks:
                outcome.extend(decoder.feed(chunk))
        except EventTooLargeError as exc:
            outcome.append(exc)

    peak = peak_of(feed)
    failed = any(isinstance(o, EventTooLargeError) for o in outcome)
    assert failed is too_large, outcome[-1:]
    return peak


def tiny_lines(line: bytes, payload_per_line: int, blank: bytes) -> Iterator[Any]:
    fits = LIMIT // payload_per_line  # lines whose payload stays within the limit
    yield pytest.param(line * fits + blank, False, id=f"{line!r}_at_the_limit")
    yield pytest.param(line * (fits * 3) + blank, True, id=f"{line!r}_beyond_the_limit")


SHAPES = [
    # One event of one-byte data lines (each costs its byte and the LF that joins it).
    *tiny_lines(b"data:x\n", 2, b"\n"),
    *tiny_lines(b"data:x\r", 2, b"\r"),
    *tiny_lines(b"data: x\r\n", 2, b"\r\n"),
    # `data` lines without a colon: an empty value each, one LF each.
    *tiny_lines(b"data\n", 1, b"\n"),
    # Lines that never end.
    pytest.param([b"data: " + b"x" * (LIMIT * 3)], True, id="data_line_never_ends"),
    pytest.param([b":" + b"c" * (LIMIT * 3)], True, id="comment_never_ends"),
    pytest.param([b"f" * (LIMIT * 3)], True, id="field_name_never_ends"),
    pytest.param([b"f" * (LIMIT * 3) + b": v\n\n"], True, id="huge_field_name"),
    pytest.param([b":" + b"c" * (LIMIT * 3) + b"\n\n"], True, id="huge_comment_line"),
    # Lines the decoder ignores cost nothing, however many.
    pytest.param(b": ping\n" * 10_000 + b"event: x\n" * 10_000, False, id="ignored_lines"),
    # One line of exactly the limit, in small chunks, CR-terminated.
    pytest.param(b"data:" + b"y" * LIMIT + b"\r\r", False, id="one_line_at_the_limit_cr"),
    # A multi-line event whose last line grows past the limit over many chunks.
    pytest.param(b"data: a\n" + b"data: " + b"z" * (LIMIT * 3), True, id="growing_last_line"),
]


@pytest.mark.parametrize(("stream", "too_large"), SHAPES)
def test_peak_memory_is_a_small_multiple_of_max_event_bytes(
    stream: bytes | list[bytes], too_large: bool
) -> None:
    chunks = (
        chunked(stream) if isinstance(stream, bytes) else [c for s in stream for c in chunked(s)]
    )
    peak = run(chunks, too_large=too_large)
    assert peak < FACTOR * LIMIT + SLACK, f"peak {peak / LIMIT:.1f}x max_event_bytes"


def test_a_million_one_byte_lines_in_one_chunk_do_not_become_a_million_objects() -> None:
    # The whole attack arrives at once: ~7 MB, a million lines, far beyond the limit. The
    # decoder stops at the limit, having held one buffer, not a list of a million parts.
    chunk = b"data:x\n" * 1_000_000
    peak = run([chunk], too_large=True)
    assert peak < FACTOR * LIMIT + SLACK, f"peak {peak / LIMIT:.1f}x max_event_bytes"


def test_multi_line_payload_is_joined_exactly() -> None:
    # The single buffer gives the same bytes the standard's join does.
    decoder = SSEDecoder(LIMIT)
    lines = [b"a", b"", b"bc", b"\xff\x00", b"d"]
    stream = b"".join(b"data:" + line + b"\r\n" for line in lines) + b"\r\n"
    events = [e for chunk in chunked(stream, 3) for e in decoder.feed(chunk)]
    assert events == [b"\n".join(lines)]
    assert type(events[0]) is bytes
