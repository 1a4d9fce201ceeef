"""Where a leaked key could hide in an exception, and one check that looks in all of them."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

#: The key the hostile suite's clients hold, and its distinctive tail: a scrubbed text may
#: keep the ``phx_`` prefix, never the rest.
KEY = "phx_HostileSuiteKey0123456789abcdefXYZ"
KEY_TAIL = "HostileSuiteKey0123456789abcdefXYZ"


def _texts(value: Any, seen: set[int], depth: int = 0) -> list[str]:
    """Every text reachable from ``value`` through attributes, mappings and sequences."""
    if id(value) in seen or depth > 6:
        return []
    seen.add(id(value))
    out: list[str] = []
    if isinstance(value, (str, bytes, bytearray)):
        return [value.decode("latin-1") if not isinstance(value, str) else value]
    if isinstance(value, (int, float, bool)) or value is None:
        return []
    out.append(repr(value))
    if isinstance(value, dict) or hasattr(value, "items"):
        try:
            for k, v in list(value.items()):
                out += _texts(k, seen, depth + 1) + _texts(v, seen, depth + 1)
        except Exception:
            pass
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            out += _texts(item, seen, depth + 1)
    for name in getattr(value, "__slots__", ()) or ():
        out += _texts(getattr(value, name, None), seen, depth + 1)
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        for item in attrs.values():
            out += _texts(item, seen, depth + 1)
    if isinstance(value, BaseException):
        out.append(str(value))
        for linked in (value.__cause__, value.__context__):
            if linked is not None:
                out += _texts(linked, seen, depth + 1)
        # aiohttp's ClientResponseError keeps the request (and its headers) here.
        for name in ("request_info", "headers", "history", "message", "args"):
            out += _texts(getattr(value, name, None), seen, depth + 1)
    return out


def assert_no_key(exc: BaseException, key: str = KEY) -> None:
    """``key`` is nowhere in ``exc``: not in its text, repr, attributes, pickle, formatted
    traceback, nor in any exception of its ``__cause__``/``__context__`` chain."""
    tail = key.removeprefix("phx_")
    texts = _texts(exc, set())
    texts.append("".join(traceback.format_exception(exc)))
    texts.append(pickle.dumps(exc).decode("latin-1"))
    for text in texts:
        assert tail not in text, f"the key leaked into: {text[:300]!r}"
        # JSON and percent escapes spell the same key.
        assert "\\u0070hx_" + tail[:4] not in text
