"""Incremental decoder for ``text/event-stream`` bodies (Server-Sent Events).

:class:`SSEDecoder` implements the "event stream interpretation" algorithm of the WHATWG HTML
standard on bytes: chunks of arbitrary size go in, the ``data`` payload of every completed
event comes out. It does no I/O, so the stream layer can feed it whatever the transport
yields (``aiohttp``'s ``iter_any()``) and the tests can feed it plain values.

What it does, following the standard:

* Lines end in LF, CR or CRLF, in any mix; a CRLF split across two chunks is one line ending.
* One UTF-8 byte order mark at the very start of the stream is skipped, even when it arrives
  over several chunks. A BOM anywhere else is ordinary data.
* Lines starting with ``:`` are comments. Otherwise the field name runs up to the first ``:``
  and the value is the rest, with one leading space removed; a line without a colon is a
  field name with an empty value.
* ``data`` lines accumulate; a blank line dispatches the event, whose payload is the ``data``
  values joined by LF. A blank line with no ``data`` line before it dispatches nothing.
  ``event``, ``id``, ``retry`` and unknown fields are accepted and ignored: PostHog's
  ``stream_tiles`` endpoint sends only ``data`` lines and this SDK exposes nothing else.
* An event that is not terminated by a blank line before EOF is discarded.

Everything stays in bytes. Field names are compared as bytes and payloads are passed through
untouched, so invalid UTF-8 cannot break the decoder; decoding the JSON inside is the
caller's job.

Memory is bounded by ``max_event_bytes``: an event whose payload would exceed it, or a line
longer than ``max_event_bytes + len(b"data: ")`` (the longest line that can still carry an
acceptable payload), raises :class:`~posthog_dash_async.errors.EventTooLargeError` as soon as
it is detected. Because the same limits apply to complete and to partially received lines,
whether a stream is accepted does not depend on how it was split into chunks. The peak stays
within a small constant factor of the limit whatever the line shape: the data lines of one
event go into one buffer (a million one-byte lines cost a million bytes, not a million
objects), comment and other field lines are never kept, and a partial line is capped.

Performance: the PostHog server sends ``data: <compact JSON>\\n\\n`` per event, with events
from a few KB to several MB. Line ends are located with ``bytes.find`` (``memchr``); the
positions of the next CR and LF are remembered so that no byte is scanned twice, and a line
that is still incomplete is accumulated in a ``bytearray`` while only the newly arrived bytes
are searched, which keeps a multi-megabyte event delivered in small chunks linear. A
single-line event that is followed by its blank line in the same chunk is sliced straight out
of the chunk without touching the event buffer.
"""

from __future__ import annotations

from typing import Final

from .errors import EventTooLargeError, InvalidArgumentError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "decode_all"]

#: Default limit on the payload of one event (32 MiB).
DEFAULT_MAX_EVENT_BYTES: Final = 32 * 2**20

_BOM: Final = b"\xef\xbb\xbf"
_LF: Final = 0x0A
_COLON: Final = 0x3A
_SPACE: Final = 0x20
_DATA_PREFIX: Final = b"data: "
# A line may be this much longer than the payload limit and still carry an acceptable event.
_LINE_SLACK: Final = len(_DATA_PREFIX)


class SSEDecoder:
    """Incremental WHATWG event-stream decoder: bytes in, event data payloads out.

    Feed it the body of one response with :meth:`feed` and call :meth:`close` at EOF. After
    :meth:`close` the decoder is back in its initial state and may decode another stream.

    If :meth:`feed` raises :class:`~posthog_dash_async.errors.EventTooLargeError`, events
    completed earlier in the same chunk are not returned but kept for
    :meth:`take_completed`, and every further :meth:`feed` raises it again until
    :meth:`close` resets the decoder.
    """

    __slots__ = (
        "_at_start",
        "_completed",
        "_data",
        "_error",
        "_head",
        "_line",
        "_max_event_bytes",
        "_max_line",
        "_pending",
        "_skip_lf",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise InvalidArgumentError(
                f"max_event_bytes must be an int, not {type(max_event_bytes).__name__}"
            )
        if max_event_bytes < 1:
            raise InvalidArgumentError(f"max_event_bytes must be positive, got {max_event_bytes}")
        self._max_event_bytes = max_event_bytes
        self._max_line = max_event_bytes + _LINE_SLACK
        self._reset()

    def _reset(self) -> None:
        # Still undecided whether the stream starts with a BOM.
        self._at_start = True
        # Up to two bytes that may be the beginning of a BOM split over chunks.
        self._head = b""
        # The beginning of a line whose terminator has not arrived yet.
        self._line = bytearray()
        # The previous chunk ended in CR: an LF opening the next chunk belongs to that CRLF.
        self._skip_lf = False
        # The payload of the current event: None before its first data line, the value itself
        # (bytes) after one, the values joined by LF (one growing bytearray) after several.
        # One buffer whatever the number of lines: a million one-byte data lines cost a
        # million bytes, not a million objects.
        self._data: bytes | bytearray | None = None
        # A field line has been seen since the last blank line (close() reports it).
        self._pending = False
        self._error: EventTooLargeError | None = None
        # The events the chunk that failed had completed before the failure.
        self._completed: list[bytes] = []

    @property
    def max_event_bytes(self) -> int:
        """The largest accepted event payload, in bytes."""
        return self._max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume a chunk; return the ``data`` payloads (bytes, lines joined by ``b"\\n"``)
        of every event completed by it, in order.

        Raises :class:`~posthog_dash_async.errors.EventTooLargeError` when an event or a line
        exceeds the limit (see the module documentation).
        """
        if self._error is not None:
            # A fresh exception: re-raising the stored one would keep growing its traceback.
            raise self._too_large("an earlier event of this stream was too large")
        if type(chunk) is not bytes:
            chunk = bytes(chunk)
        if not chunk:
            return []
        pos = 0
        if self._at_start:
            if self._head:
                chunk = self._head + chunk
                self._head = b""
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._at_start = False
            if chunk.startswith(_BOM):
                pos = len(_BOM)
        elif self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                pos = 1
        events: list[bytes] = []
        try:
            if self._line:
                pos = self._continue_line(chunk, pos, events)
            if pos >= 0:
                self._scan(chunk, pos, events)
        except EventTooLargeError as exc:
            self._error = exc
            self._completed = events
            raise
        return events

    def take_completed(self) -> list[bytes]:
        """After :meth:`feed` raised: the payloads the failing chunk completed before the
        oversized event, so that a caller can deliver them before the error (once)."""
        completed, self._completed = self._completed, []
        return completed

    def close(self) -> bool:
        """Signal EOF and reset the decoder.

        An event not terminated by a blank line is discarded, as the standard requires.
        Returns True if such a partial event, or a partial line, was discarded.
        """
        discarded = bool(
            self._pending
            or self._data is not None
            or self._line
            or self._head
            or self._error is not None
        )
        self._reset()
        return discarded

    def _too_large(self, detail: str) -> EventTooLargeError:
        limit = self._max_event_bytes
        return EventTooLargeError(
            f"server-sent event too large: the limit is {limit} bytes (max_event_bytes); {detail}",
            limit=limit,
        )

    def _check_partial_line(self) -> None:
        line = self._line
        n = len(line)
        if n > self._max_line:
            raise self._too_large(f"an unterminated line reached {n} bytes")
        # A growing data line of a multi-line event can be rejected before the line is done:
        # its value is at least n - len(b"data: ") bytes long.
        data = self._data
        if (
            data is not None
            and line.startswith(b"data:")
            and len(data) + 1 + n - _LINE_SLACK > self._max_event_bytes
        ):
            raise self._too_large("its data exceeds the limit")

    def _continue_line(self, chunk: bytes, pos: int, events: list[bytes]) -> int:
        """Complete the buffered partial line with the head of ``chunk``.

        Returns where scanning of ``chunk`` resumes, or -1 if the whole chunk was consumed.
        """
        lf = chunk.find(b"\n", pos)
        cr = chunk.find(b"\r", pos, lf if lf >= 0 else len(chunk))
        if cr >= 0:
            end = cr
            nxt = cr + 1
            if nxt == len(chunk):
                self._skip_lf = True
            elif chunk[nxt] == _LF:
                nxt += 1
        elif lf >= 0:
            end = lf
            nxt = lf + 1
        else:
            # Only the new bytes were searched; the buffered ones are known to hold no EOL.
            self._line += memoryview(chunk)[pos:]
            self._check_partial_line()
            return -1
        line = self._line
        line += memoryview(chunk)[pos:end]
        if len(line) > self._max_line:
            raise self._too_large(f"a line of {len(line)} bytes")
        self._line = bytearray()
        self._field(line, 0, len(line), events)
        return nxt

    def _scan(self, chunk: bytes, pos: int, events: list[bytes]) -> None:
        """Process every complete line of ``chunk`` from ``pos``; buffer the incomplete rest."""
        n = len(chunk)
        find = chunk.find
        startswith = chunk.startswith
        max_line = self._max_line
        emit = events.append
        # The next LF and CR at or after pos; n stands for "none in this chunk", which also
        # keeps a search from being repeated once it has failed.
        lf = find(b"\n", pos)
        if lf < 0:
            lf = n
        cr = find(b"\r", pos)
        if cr < 0:
            cr = n
        while True:
            if lf < cr:
                end = lf
                if end - pos > max_line:
                    raise self._too_large(f"a line of {end - pos} bytes")
                nxt = end + 1
                # The shape PostHog sends: `data: <payload>` LF LF, starting a new event.
                if (
                    nxt < n
                    and chunk[nxt] == _LF
                    and startswith(_DATA_PREFIX, pos)
                    and self._data is None
                ):
                    emit(chunk[pos + _LINE_SLACK : end])
                    self._pending = False
                    pos = nxt + 1
                    lf = find(b"\n", pos)
                    if lf < 0:
                        lf = n
                    continue
            elif cr < n:
                end = cr
                if end - pos > max_line:
                    raise self._too_large(f"a line of {end - pos} bytes")
                nxt = end + 1
                if nxt == n:
                    self._skip_lf = True
                elif chunk[nxt] == _LF:
                    nxt += 1
            else:
                break
            self._field(chunk, pos, end, events)
            pos = nxt
            if lf < pos:
                lf = find(b"\n", pos)
                if lf < 0:
                    lf = n
            if cr < pos:
                cr = find(b"\r", pos)
                if cr < 0:
                    cr = n
        if pos < n:
            self._line = bytearray(memoryview(chunk)[pos:])
            self._check_partial_line()

    def _field(self, buf: bytes | bytearray, start: int, end: int, events: list[bytes]) -> None:
        """Interpret the line ``buf[start:end]`` (terminator excluded)."""
        if start == end:
            data = self._data
            if data is not None:
                events.append(data if type(data) is bytes else bytes(data))
                self._data = None
            self._pending = False
            return
        if buf[start] == _COLON:
            return
        self._pending = True
        # Only `data` matters; every other field name, known or not, is ignored.
        if not buf.startswith(b"data", start, end):
            return
        vstart = start + 4
        if vstart < end:
            if buf[vstart] != _COLON:
                return
            vstart += 1
            if vstart < end and buf[vstart] == _SPACE:
                vstart += 1
        data = self._data
        if data is None:
            size = end - vstart
            if size > self._max_event_bytes:
                raise self._too_large(f"its data reached {size} bytes")
            self._data = (
                buf[vstart:end] if type(buf) is bytes else bytes(memoryview(buf)[vstart:end])
            )
            return
        size = len(data) + 1 + end - vstart
        if size > self._max_event_bytes:
            raise self._too_large(f"its data reached {size} bytes")
        if type(data) is bytes:
            data = self._data = bytearray(data)
        data += b"\n"
        data += buf[vstart:end]


def decode_all(data: bytes, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> list[bytes]:
    """Decode a complete event stream; a trailing unterminated event is discarded."""
    decoder = SSEDecoder(max_event_bytes)
    events = decoder.feed(data)
    decoder.close()
    return events
