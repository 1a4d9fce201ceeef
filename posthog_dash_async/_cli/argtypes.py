"""Argument types shared by every sub-command: a bad value is a usage error naming it."""

from __future__ import annotations

import argparse


def _number(text: str, kind: type[int] | type[float], expected: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An id, a count or a page size: an integer above zero."""
    value = int(_number(text, int, "a positive integer"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A retry count: zero or more."""
    value = int(_number(text, int, "an integer >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A timeout: a positive number of seconds."""
    value = _number(text, float, "a number of seconds")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def delay(text: str) -> float:
    """A pause the fake server adds: 0 to 60 seconds."""
    value = _number(text, float, "seconds")
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"expected 0 to 60 seconds, got {text!r}")
    return value


def port(text: str) -> int:
    """A local TCP port; 0 picks a free one."""
    value = int(_number(text, int, "a port number"))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value
