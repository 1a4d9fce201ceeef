"""Strings from a server, made safe to show on a terminal.

A dashboard's name, a tag, a tile's text or an error detail is written by whoever can edit
the project (or by whatever answers on the host). Printed raw, it could clear the screen
(``ESC[2J``), rewrite what was printed before it (``CR``, cursor movement), set the
clipboard (OSC 52), retitle the window, ring the bell, or reverse the text that follows
(U+202E). :func:`clean` removes every escape sequence and control character, so what
reaches the terminal is only text; :func:`json_text` keeps JSON output exact while
spelling the same characters as JSON escapes.

Every printing path of the command line goes through :func:`clean` (the :class:`Output`
sinks, the renderers of the live view, tables and error lines): one function, so that
there is one place to get right.
"""

from __future__ import annotations

import re

__all__ = ["clean", "json_text"]

# ECMA-48 sequences, in their 7-bit (ESC ...) and 8-bit (C1) forms. String sequences (OSC,
# DCS, SOS, PM, APC) run to their terminator; an unterminated one is dropped to the end, as
# a terminal would swallow it.
_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?        # CSI ... final
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                  # OSC DCS SOS PM APC
      [^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?                    #   ... BEL or ST
    | \x1b[\x20-\x2f]*[\x30-\x7e]?                             # other ESC sequences
    """,
    re.VERBOSE,
)

# Characters that change how the text around them is shown: bidi embeddings, overrides,
# isolates and marks (the "Trojan Source" set), and the Unicode line/paragraph separators.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _table(multiline: bool) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = None
    for char in _BIDI:
        table[ord(char)] = None
    if multiline:
        table[ord("\n")] = "\n"
        table[ord("\t")] = "    "
        table[0x2028] = "\n"
        table[0x2029] = "\n"
    else:
        for code in (ord("\n"), ord("\t"), ord("\r"), 0x0B, 0x0C, 0x2028, 0x2029, 0x85):
            table[code] = " "
    return table


_ONE_LINE = _table(multiline=False)
_MULTILINE = _table(multiline=True)


def clean(text: object, *, multiline: bool = False) -> str:
    """``text`` as plain printable text: escape sequences and control characters removed.

    With ``multiline=False`` (names, tags, tokens, error details) line breaks and tabs
    become spaces, so one value stays on one line; with ``multiline=True`` (a text tile's
    Markdown, a description) newlines are kept and tabs become spaces. A carriage return is
    never kept: it would let the text after it overwrite the text before it. Lone
    surrogates (which JSON escapes can produce) become U+FFFD, so printing never fails.
    """
    value = text if isinstance(text, str) else str(text)
    if value.isascii() and value.isprintable():
        return value
    value = _SEQUENCE.sub("", value)
    value = value.translate(_MULTILINE if multiline else _ONE_LINE)
    return _SURROGATE.sub("\ufffd", value)


# Characters valid unescaped in JSON that a terminal would still act on, or that reorder
# the text around them. Outside strings JSON never contains them, so a global replace is safe.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029" + _BIDI + "]")


def json_text(encoded: str) -> str:
    """Encoded JSON with DEL, C1 controls, bidi controls and U+2028/U+2029 written as
    ``\\u`` hex escapes: the same data, decoded, and nothing a terminal acts on.

    (The encoder already escapes the C0 controls, ESC included.)
    """
    if encoded.isascii() and "\x7f" not in encoded:
        return encoded
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
