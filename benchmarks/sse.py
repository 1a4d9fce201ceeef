"""Server-Sent Events splitters used by the raw contenders.

``FastSplitter`` is the floor's parser: events are cut at blank lines; the PostHog framing
(one ``data: <json>`` line per event, §8.4) takes a fast path, anything else (``\\r\\n``, several
``data`` lines, comments, other fields) goes through a general line parser, so it stays correct
for any well-formed stream.

``LineDecoder`` follows the structure of the SSE decoder in Stainless-generated SDKs (split the
byte stream into lines, decode each to ``str``, accumulate fields, dispatch on a blank line).
"""

from __future__ import annotations

_DATA = b"data: "


def _parse_block(block: bytes) -> bytes | None:
    """Data of one event block (lines without the final blank line), or None if it has none."""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if field == b"data":
            data.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(data) if data else None


class FastSplitter:
    """Incremental SSE splitter: ``feed(chunk)`` returns the data of every completed event."""

    __slots__ = ("_pending", "_skip_lf")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._skip_lf = False  # the last chunk ended in CR: a leading LF completes a CRLF

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not chunk:
            return []
        pending = self._pending
        if pending:
            last = pending[-1]
            pending.append(chunk)
            # Only join when the chunk can complete an event (avoids re-copying big events).
            if not (
                b"\n\n" in chunk
                or b"\r" in chunk
                or (last.endswith(b"\n") and chunk.startswith(b"\n"))
            ):
                return []
            buf = b"".join(pending)
            pending.clear()
        else:
            buf = chunk
        if b"\r" in buf:
            self._skip_lf = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        out: list[bytes] = []
        start = 0
        find = buf.find
        while True:
            end = find(b"\n\n", start)
            if end < 0:
                break
            if buf.startswith(_DATA, start) and find(b"\n", start, end) < 0:
                out.append(buf[start + 6 : end])
            else:
                data = _parse_block(buf[start:end])
                if data is not None:
                    out.append(data)
            start = end + 2
        if start < len(buf):
            pending.append(buf[start:] if start else buf)
        return out


class LineDecoder:
    """Line-oriented SSE decoder in the style of Stainless SDKs (``str`` data per event)."""

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        buf = self._tail + chunk
        lines = buf.splitlines(keepends=True)
        self._tail = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
        out: list[str] = []
        for raw in lines:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if self._data:
                    out.append("\n".join(self._data))
                    self._data = []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            if field == "data":
                self._data.append(value[1:] if value.startswith(" ") else value)
        return out
