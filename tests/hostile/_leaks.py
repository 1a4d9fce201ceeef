"""Where a leaked key could hide in an exception, and one check that looks in all of them."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
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


def _tracked(value: Any, depth: int = 0) -> list[str]:
    """What an error tracker records of one local variable: text as is, mappings and
    sequences item by item (a few levels deep), anything else as its ``repr``."""
    if depth > 6:
        return []
    if isinstance(value, (str, bytes, bytearray)):
        return [value if isinstance(value, str) else bytes(value).decode("latin-1")]
    if isinstance(value, Mapping):
        out: list[str] = []
        try:
            for k, v in list(value.items()):
                out += _tracked(k, depth + 1) + _tracked(v, depth + 1)
        except Exception:
            pass
        return out
    if isinstance(value, (Sequence, AbstractSet)):
        return [text for item in list(value) for text in _tracked(item, depth + 1)]
    try:
        return [repr(value)]
    except Exception:
        return []


def frame_locals(exc: BaseException, *, skip: int = 0) -> list[tuple[str, str]]:
    """``(where, text)`` for every local of every frame of ``exc``'s traceback and of the
    exceptions chained to it, as an error tracker (Sentry and the like) records them;
    ``skip``: outermost frames of ``exc`` left out (the caller's own, which hold what it
    passed)."""
    out: list[tuple[str, str]] = []
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        for _ in range(skip if current is exc else 0):
            tb = tb.tb_next if tb is not None else None
        while tb is not None:
            code = tb.tb_frame.f_code
            for name, value in tb.tb_frame.f_locals.items():
                where = f"{type(current).__name__}: {code.co_name}() local {name!r}"
                out += [(where, text) for text in _tracked(value)]
            tb = tb.tb_next
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return out


def assert_no_secret_in_frame_locals(exc: BaseException, *secrets: str, skip: int = 0) -> None:
    """None of ``secrets`` (the key by default) in what an error tracker records of the
    frames behind ``exc`` (``skip`` as for :func:`frame_locals`)."""
    for where, text in frame_locals(exc, skip=skip):
        for secret in secrets or (KEY,):
            assert secret.removeprefix("phx_") not in text, f"{secret!r} in {where}"
