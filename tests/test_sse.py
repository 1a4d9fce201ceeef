"""Tests of the incremental event-stream decoder (``posthog_dash_async._sse``)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence

import pytest
from conftest import fixture_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_dash_async._sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder, decode_all
from posthog_dash_async.errors import EventTooLargeError, InvalidArgumentError

BOM = b"\xef\xbb\xbf"


def decode_chunks(
    chunks: Iterable[bytes], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> tuple[list[bytes], bool]:
    decoder = SSEDecoder(max_event_bytes)
    events: list[bytes] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events, decoder.close()


def one_byte_chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# (id, chunks fed in order, expected payloads, expected close() result)
CONFORMANCE: list[tuple[str, list[bytes], list[bytes], bool]] = [
    ("lf", [b"data: a\n\n"], [b"a"], False),
    ("cr", [b"data: a\r\r"], [b"a"], False),
    ("crlf", [b"data: a\r\n\r\n"], [b"a"], False),
    ("mixed_endings", [b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r"], [b"a\nb\nc", b"d"], False),
    ("lf_then_cr_blank", [b"data: a\n\r"], [b"a"], False),
    ("cr_then_lf_is_one_ending", [b"data: a\r\n"], [], True),
    ("split_crlf", [b"data: a\r", b"\n", b"\r", b"\n"], [b"a"], False),
    ("split_crlf_not_two_endings", [b"data: a\r", b"\n"], [], True),
    ("split_crlf_then_data", [b"data: a\r", b"\ndata: b\r", b"\n\r\n"], [b"a\nb"], False),
    ("cr_at_chunk_end_then_cr", [b"data: a\r", b"\r"], [b"a"], False),
    ("cr_at_chunk_end_then_empty_chunk", [b"data: a\r", b"", b"\n", b"\n"], [b"a"], False),
    ("split_lf_lf", [b"data: a\n", b"\n"], [b"a"], False),
    ("line_split_anywhere", [b"da", b"ta", b": ", b"hel", b"lo\n", b"\n"], [b"hello"], False),
    ("bom_whole", [BOM + b"data: a\n\n"], [b"a"], False),
    ("bom_alone_then_stream", [BOM, b"data: a\n\n"], [b"a"], False),
    ("bom_split_1_1_1", [b"\xef", b"\xbb", b"\xbfdata: a\n\n"], [b"a"], False),
    ("bom_split_2_1", [b"\xef\xbb", b"\xbf", b"data: a\n\n"], [b"a"], False),
    ("bom_split_with_empty_chunks", [b"", b"\xef", b"", b"\xbb\xbfdata: a\n\n"], [b"a"], False),
    ("bom_later_is_not_stripped", [b"data: a\n\n" + BOM + b"data: b\n\n"], [b"a"], False),
    ("second_bom_is_not_stripped", [BOM + BOM + b"data: a\n\n"], [], False),
    ("bom_inside_data_kept", [b"data: " + BOM + b"x\n\n"], [BOM + b"x"], False),
    ("partial_bom_is_not_a_bom", [b"\xef\xbbdata: a\n\n"], [], False),
    ("partial_bom_at_eof", [b"\xef\xbb"], [], True),
    ("comment", [b": hello\ndata: a\n: mid\n\n"], [b"a"], False),
    ("comment_only_event", [b": keep-alive\n\n"], [], False),
    ("bare_colon_comment", [b":\ndata: a\n\n"], [b"a"], False),
    ("event_field_ignored", [b"event: tile\ndata: a\n\n"], [b"a"], False),
    ("id_field_ignored", [b"id: 7\ndata: a\n\n"], [b"a"], False),
    ("retry_field_ignored", [b"retry: 10\ndata: a\n\n"], [b"a"], False),
    ("unknown_field_ignored", [b"foo: bar\ndata: a\n\n"], [b"a"], False),
    ("field_names_case_sensitive", [b"Data: a\n\nDATA: b\n\n"], [], False),
    ("field_name_with_leading_space", [b" data: a\n\n"], [], False),
    ("field_name_with_trailing_space", [b"data : a\n\n"], [], False),
    ("field_name_longer_than_data", [b"datas: a\n\ndata2\n\n"], [], False),
    ("no_colon_data_line", [b"data\n\n"], [b""], False),
    ("no_colon_unknown_field", [b"foo\ndata: a\n\n"], [b"a"], False),
    ("no_space", [b"data:a\n\n"], [b"a"], False),
    ("one_space_stripped", [b"data: a\n\n"], [b"a"], False),
    ("two_spaces_keep_one", [b"data:  a\n\n"], [b" a"], False),
    ("only_space", [b"data: \n\n"], [b""], False),
    ("tab_not_stripped", [b"data:\ta\n\n"], [b"\ta"], False),
    ("trailing_space_kept", [b"data: a \n\n"], [b"a "], False),
    ("colons_in_value", [b'data: {"a":"b:c"}\n\n'], [b'{"a":"b:c"}'], False),
    ("multi_line_joined_with_lf", [b"data: a\ndata: b\ndata: c\n\n"], [b"a\nb\nc"], False),
    ("empty_data_then_data", [b"data:\ndata: b\n\n"], [b"\nb"], False),
    ("data_then_empty_data", [b"data: a\ndata:\n\n"], [b"a\n"], False),
    ("no_colon_data_then_data", [b"data\ndata: b\n\n"], [b"\nb"], False),
    ("empty_data_alone", [b"data:\n\n"], [b""], False),
    ("two_empty_data_lines", [b"data:\ndata\n\n"], [b"\n"], False),
    ("blank_lines_without_data", [b"\n\n\r\n\r"], [], False),
    ("fields_without_data", [b"event: x\nid: 1\n\n"], [], False),
    ("fields_do_not_leak", [b"event: x\ndata: 1\n\ndata: 2\n\n"], [b"1", b"2"], False),
    ("several_events", [b"data: 1\n\ndata: 2\n\ndata: 3\n\n"], [b"1", b"2", b"3"], False),
    ("extra_blank_lines_between", [b"data: 1\n\n\n\ndata: 2\n\n"], [b"1", b"2"], False),
    ("empty_stream", [], [], False),
    ("empty_chunks", [b"", b""], [], False),
    ("eof_after_data_line", [b"data: a\n"], [], True),
    ("eof_in_data_line", [b"data: a"], [], True),
    ("eof_after_event_then_partial", [b"data: a\n\ndata: b"], [b"a"], True),
    ("eof_after_field_line", [b"data: a\n\nevent: x\n"], [b"a"], True),
    ("eof_after_comment_line", [b"data: a\n\n: bye\n"], [b"a"], False),
    ("eof_in_comment_line", [b": bye"], [], True),
    ("invalid_utf8_passed_through", [b"data: \xff\xfe\xc3\x28\n\n"], [b"\xff\xfe\xc3\x28"], False),
    ("invalid_utf8_field_name", [b"\xff: x\ndata: a\n\n"], [b"a"], False),
    ("nul_bytes", [b"data: a\x00b\n\n"], [b"a\x00b"], False),
    (
        "other_ascii_breaks_are_data",
        [b"data: a\x0bb\x0cc\x1c\x85\n\n"],
        [b"a\x0bb\x0cc\x1c\x85"],
        False,
    ),
    ("utf8_multibyte_split", [b"data: caf\xc3", b"\xa9\n\n"], [b"caf\xc3\xa9"], False),
]


@pytest.mark.parametrize(
    ("chunks", "expected", "discarded"),
    [pytest.param(c, e, d, id=i) for i, c, e, d in CONFORMANCE],
)
def test_conformance(chunks: list[bytes], expected: list[bytes], discarded: bool) -> None:
    assert decode_chunks(chunks) == (expected, discarded)
    whole = b"".join(chunks)
    # The outcome never depends on where the chunk boundaries fall.
    assert decode_chunks([whole]) == (expected, discarded)
    assert decode_chunks(one_byte_chunks(whole)) == (expected, discarded)
    assert decode_all(whole) == expected


def test_events_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n\ndata: c") == [b"a", b"b"]
    assert decoder.feed(b"\n\n") == [b"c"]
    assert decoder.close() is False


def test_close_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(BOM + b"data: a\n\ndata: partial") == [b"a"]
    assert decoder.close() is True
    # A fresh stream: the partial event is gone and a leading BOM is skipped again.
    assert decoder.feed(BOM + b"data: b\n\n") == [b"b"]
    assert decoder.close() is False


def test_accepts_bytes_like_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a\n\n")) == [b"a"]  # type: ignore[arg-type]
    assert decoder.feed(memoryview(b"data: b\n\n")) == [b"b"]  # type: ignore[arg-type]
    assert all(type(e) is bytes for e in decode_all(b"data: a\n\n"))


def test_transcript() -> None:
    data = fixture_bytes("stream_tiles_transcript.sse")
    events = decode_all(data)
    assert len(events) == 4
    types = [json.loads(e)["type"] for e in events]
    assert types == ["metadata", "tile", "error", "complete"]
    assert decode_chunks(one_byte_chunks(data)) == (events, False)
    assert decode_chunks(split_at(data, range(0, len(data), 100))) == (events, False)


def test_large_event_in_small_chunks() -> None:
    payload = b'{"result":"' + b"x" * (3 * 2**20) + b'"}'
    stream = b"data: " + payload + b"\n\ndata: after\n\n"
    chunks = split_at(stream, range(0, len(stream), 4096))
    assert decode_chunks(chunks) == ([payload, b"after"], False)


def test_large_multi_line_event_in_small_chunks() -> None:
    lines = [b"%06d" % i + b"y" * 1000 for i in range(2000)]
    stream = b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"
    chunks = split_at(stream, range(0, len(stream), 777))
    assert decode_chunks(chunks) == ([b"\n".join(lines)], False)


# --- size limit -------------------------------------------------------------------------

# (id, limit, chunks, index of the chunk whose feed() raises, payloads returned before it)
OVERSIZED: list[tuple[str, int, list[bytes], int, list[bytes]]] = [
    ("many_lines", 10, [b"data: 12345\n", b"data: 6789\n", b"data: 0\n\n"], 2, []),
    ("many_lines_one_chunk", 10, [b"data: 12345\ndata: 6789\ndata: 0\n\n"], 0, []),
    ("many_empty_lines", 3, [b"data\n" * 4, b"data\n"], 1, []),
    ("single_line", 10, [b"data: 12345678901\n\n"], 0, []),
    ("after_a_good_event", 10, [b"data: ok\n\n", b"data: " + b"x" * 11 + b"\n"], 1, [b"ok"]),
    ("long_unterminated_line", 100, [b"data: " + b"x" * 60] * 3, 1, []),
    ("long_unterminated_comment", 100, [b":" + b"x" * 99] * 3, 1, []),
    ("long_unterminated_unknown_field", 100, [b"x" * 50] * 5, 2, []),
    ("long_complete_comment_in_one_chunk", 100, [b":" + b"c" * 200 + b"\n"], 0, []),
    ("long_line_at_chunk_start", 100, [b"data: a\n", b"x" * 107 + b"\n"], 1, []),
    (
        "growing_data_line_of_multi_line_event",
        100,
        [b"data: " + b"a" * 60 + b"\ndata: " + b"b" * 50],
        0,
        [],
    ),
    (
        "growing_data_line_over_chunks",
        100,
        [b"data: " + b"a" * 60 + b"\n", b"data: ", b"b" * 50],
        2,
        [],
    ),
]


@pytest.mark.parametrize(
    ("limit", "chunks", "raising_chunk", "before"),
    [pytest.param(lim, c, r, b, id=i) for i, lim, c, r, b in OVERSIZED],
)
def test_oversized_event_raises(
    limit: int, chunks: list[bytes], raising_chunk: int, before: list[bytes]
) -> None:
    decoder = SSEDecoder(max_event_bytes=limit)
    events: list[bytes] = []
    for chunk in chunks[:raising_chunk]:
        events += decoder.feed(chunk)
    assert events == before
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(chunks[raising_chunk])
    assert info.value.limit == limit
    message = str(info.value)
    assert "too large" in message
    assert str(limit) in message
    # The decoder stays failed: later input must not produce payloads of a broken stream.
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"\n\ndata: x\n\n")
    assert decoder.close() is True
    assert decoder.feed(b"data: ok\n\n") == [b"ok"]


def test_events_completed_before_the_failure_in_the_same_chunk_are_kept() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"data: a\n\ndata: b\r\rdata: " + b"x" * 20)
    assert decoder.take_completed() == [b"a", b"b"]
    assert decoder.take_completed() == []
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"\n\ndata: x\n\n")
    assert decoder.take_completed() == []


def test_unterminated_line_is_never_buffered_past_the_limit() -> None:
    limit = 1000
    decoder = SSEDecoder(max_event_bytes=limit)
    fed = 0
    while fed < 10 * limit:
        try:
            decoder.feed(b"x" * 7)
        except EventTooLargeError:
            break
        fed += 7
    else:
        pytest.fail("an endless line was buffered without limit")
    assert fed <= limit + len(b"data: ")


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"data: " + b"x" * 100 + b"\n\n", id="single_line_space"),
        pytest.param(b"data:" + b"x" * 100 + b"\r\n\r\n", id="single_line_no_space"),
        pytest.param(b"data: " + b"x" * 49 + b"\ndata: " + b"y" * 50 + b"\n\n", id="two_lines"),
        pytest.param(b"data\n" * 99 + b"data: x\n\n", id="many_empty_lines"),
    ],
)
def test_event_of_exactly_the_limit_is_accepted(stream: bytes) -> None:
    events, _ = decode_chunks([stream], max_event_bytes=100)
    assert [len(e) for e in events] == [100]
    assert decode_chunks(one_byte_chunks(stream), max_event_bytes=100) == (events, False)
    with pytest.raises(EventTooLargeError):
        decode_all(stream, max_event_bytes=99)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_invalid_limit(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        SSEDecoder(max_event_bytes=bad)  # type: ignore[arg-type]


def test_default_limit() -> None:
    assert SSEDecoder().max_event_bytes == DEFAULT_MAX_EVENT_BYTES == 32 * 2**20


# --- properties ------------------------------------------------------------------------

_TERMINATORS = st.sampled_from([b"\n", b"\r", b"\r\n"])
_VALUE_TOKENS = [b"a", b" ", b":", b"data", b"{}", BOM, b"\xff", b"\x00", b"\xc3\xa9"]
_VALUES = st.one_of(
    st.binary(max_size=30),
    st.lists(st.sampled_from(_VALUE_TOKENS), max_size=8).map(b"".join),
).map(lambda v: v.replace(b"\r", b"").replace(b"\n", b""))
_OTHER_NAMES = [b"event", b"id", b"retry", b"foo", b"dat", b"datas", b"Data", b" data", b"data "]

# A generated line: its bytes, whether it is a comment, and its data value if a data line.
_Line = tuple[bytes, bool, bytes | None]


@st.composite
def _lines(draw: st.DrawFn) -> _Line:
    kind = draw(st.sampled_from(["comment", "data", "data", "other"]))
    value = draw(_VALUES)
    if kind == "comment":
        return b":" + value, True, None
    if kind == "data":
        if not value:
            return draw(st.sampled_from([b"data", b"data:", b"data: "])), False, value
        if value.startswith(b" "):
            return b"data: " + value, False, value
        return draw(st.sampled_from([b"data:", b"data: "])) + value, False, value
    name = draw(st.sampled_from(_OTHER_NAMES))
    if draw(st.booleans()):
        # No colon: the whole line is the field name.
        return name, False, None
    return name + draw(st.sampled_from([b":", b": "])) + value, False, None


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[bytes], bool]:
    """A stream with the payloads and close() result the standard prescribes for it."""
    out = bytearray()
    expected: list[bytes] = []
    previous_terminator = b""
    n_events = draw(st.integers(0, 5))
    truncated = draw(st.booleans())
    discarded = False
    for index in range(n_events + truncated):
        values: list[bytes] = []
        fields = False
        for text, is_comment, value in draw(st.lists(_lines(), max_size=5)):
            previous_terminator = draw(_TERMINATORS)
            out += text + previous_terminator
            fields = fields or not is_comment
            if value is not None:
                values.append(value)
        if index < n_events:
            terminator = draw(_TERMINATORS)
            if previous_terminator == b"\r" and terminator.startswith(b"\n"):
                # CR followed by LF is a single line ending, which would eat the blank line.
                terminator = b"\r"
            out += terminator
            if values:
                expected.append(b"\n".join(values))
        else:
            discarded = fields
            if draw(st.booleans()):
                tail, _, _ = draw(_lines())
                out += tail
                discarded = True
    stream = bytes(out)
    if draw(st.booleans()) or stream.startswith(BOM):
        # A BOM that a field name starts with must not be the one the decoder strips.
        stream = BOM + stream
    return stream, expected, discarded


@settings(max_examples=200, deadline=None)
@given(case=_streams(), data=st.data())
def test_property_any_chunking_matches_the_standard(
    case: tuple[bytes, list[bytes], bool], data: st.DataObject
) -> None:
    stream, expected, discarded = case
    assert decode_chunks([stream]) == (expected, discarded)
    assert decode_chunks(one_byte_chunks(stream)) == (expected, discarded)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    assert decode_chunks(split_at(stream, cuts)) == (expected, discarded)


_SOUP_TOKENS = [
    b"data",
    b"data:",
    b"data: ",
    b":",
    b" ",
    b"x",
    b"yz",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    BOM,
    b"\xef",
    b"\xff",
    b"event: e",
    b"id:1",
]


def _decode_until_error(chunks: Sequence[bytes], limit: int) -> tuple[list[bytes], bool | None]:
    """Payloads decoded before an EventTooLargeError, and close() (None if it raised)."""
    decoder = SSEDecoder(limit)
    events: list[bytes] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
    except EventTooLargeError:
        return events, None
    return events, decoder.close()


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(_SOUP_TOKENS), max_size=60),
    limit=st.integers(1, 40),
    data=st.data(),
)
def test_property_arbitrary_bytes_chunking_invariant(
    tokens: list[bytes], limit: int, data: st.DataObject
) -> None:
    stream = b"".join(tokens)
    unlimited = _decode_until_error([stream], DEFAULT_MAX_EVENT_BYTES)
    whole = _decode_until_error([stream], limit)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    for chunks in (one_byte_chunks(stream), split_at(stream, cuts)):
        events, closed = _decode_until_error(chunks, limit)
        # Whether the limit is hit does not depend on chunking, and neither does anything
        # decoded before it is hit.
        assert (closed is None) == (whole[1] is None)
        if closed is None:
            assert events == unlimited[0][: len(events)]
        else:
            assert (events, closed) == whole == unlimited
