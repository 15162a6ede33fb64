"""SSE encoder and incremental decoder (WHATWG HTML "Server-sent events"; spec §9.4.2, §11.7)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocol.sse import (
    MAX_EVENT_SIZE,
    SSEDecoder,
    SSEEvent,
    encode_comment,
    encode_event,
)

SETTINGS = settings(deadline=None, database=None)  # examples: the profile (conftest)


def decode_all(*chunks: bytes, decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events


def split_everywhere(stream: bytes) -> list[list[bytes]]:
    """The stream as two chunks at every byte offset, and as single bytes."""
    splits = [[stream[:i], stream[i:]] for i in range(len(stream) + 1)]
    return [*splits, [stream[i : i + 1] for i in range(len(stream))]]


# --- encoder -------------------------------------------------------------------------------


def test_encode_event() -> None:
    assert encode_event(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert encode_event(b"x", id="7", event="error") == (
        b"event: error\nid: 7\ndata: x\n\n"
    )


def test_encode_splits_lines_of_any_ending() -> None:
    assert encode_event(b"a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event(b"") == b"data: \n\n"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
def test_encode_refuses_ids_that_break_framing(bad: str) -> None:
    with pytest.raises(ValueError, match="id"):
        encode_event(b"x", id=bad)


@pytest.mark.parametrize("bad", ["a\nb", "a\rb"])
def test_encode_refuses_event_names_that_break_framing(bad: str) -> None:
    with pytest.raises(ValueError, match="event"):
        encode_event(b"x", event=bad)


def test_encode_comment() -> None:
    assert encode_comment() == b": \n\n"
    assert encode_comment("ping") == b": ping\n\n"
    assert decode_all(encode_comment("ping")) == []


# --- decoder -------------------------------------------------------------------------------

STREAM = (
    b": keep-alive\n"
    b"id: 1\n"
    b'data: {"task":\n'
    b'data: {"id":"t"}}\n'
    b"\n"
    b"event: error\n"
    b"data: caf\xc3\xa9 \xe2\x98\x95\n"
    b"\n"
    b"data: third\n"
    b"\n"
)
EXPECTED = [
    SSEEvent(data='{"task":\n{"id":"t"}}', id="1"),
    SSEEvent(data="café ☕", event="error", id="1"),  # the id is sticky
    SSEEvent(data="third", id="1"),
]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(ending: bytes) -> None:
    assert decode_all(STREAM.replace(b"\n", ending)) == EXPECTED


def test_mixed_line_endings() -> None:
    mixed = b"data: a\rdata: b\r\ndata: c\n\r\n"
    assert decode_all(mixed) == [SSEEvent(data="a\nb\nc")]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_chunks_split_at_every_byte_offset(ending: bytes) -> None:
    stream = STREAM.replace(b"\n", ending)
    for chunks in split_everywhere(stream):
        assert decode_all(*chunks) == EXPECTED, chunks


def test_crlf_split_between_chunks_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []  # an empty chunk keeps the pending CR
    assert decoder.feed(b"\n") == []  # ... so this LF ends nothing new
    assert decoder.feed(b"\r") == [SSEEvent(data="a")]
    assert decoder.feed(b"\ndata: b\n\n") == [SSEEvent(data="b")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    stream = b": ping\n:\nfoo: bar\nbogus\ndata: x\n: inside\n\n"
    assert decode_all(stream) == [SSEEvent(data="x")]


def test_field_value_parsing() -> None:
    # One leading space is dropped, no more; a line without colon is a field name.
    stream = b"data:a\ndata:  b\ndata\ndata:\n\n"
    assert decode_all(stream) == [SSEEvent(data="a\n b\n\n")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode_all(b"event: x\nid: 5\n\n") == []
    # ... but its id still counts, and its type does not leak into the next event.
    decoder = SSEDecoder()
    assert decode_all(b"event: x\nid: 5\n\ndata: y\n\n", decoder=decoder) == [
        SSEEvent(data="y", id="5")
    ]


def test_unfinished_event_is_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: partial\n") == []
    assert decoder.feed(b"data: still") == []


def test_id_stickiness() -> None:
    decoder = SSEDecoder()
    stream = (
        b"data: a\n\nid: 1\ndata: b\n\ndata: c\n\nid\ndata: d\n\nid: x\0y\ndata: e\n\n"
    )
    events = decode_all(stream, decoder=decoder)
    assert [e.id for e in events] == [None, "1", "1", "", ""]
    # "id" with no value resets the id to ""; an id holding NUL is ignored.
    assert decoder.last_event_id == ""


def test_bom_is_stripped_once_at_the_start() -> None:
    bom = b"\xef\xbb\xbf"
    assert decode_all(bom + b"data: a\n\n") == [SSEEvent(data="a")]
    # Split inside the BOM too.
    assert decode_all(bom[:1], bom[1:] + b"data: a\n\n") == [SSEEvent(data="a")]
    # A second BOM is content: the line becomes an unknown field.
    assert decode_all(bom + bom + b"data: a\n\n") == []
    assert decode_all(b"data: a\n\n" + bom + b"data: b\n\n") == [SSEEvent(data="a")]


def test_retry() -> None:
    decoder = SSEDecoder()
    events = decode_all(
        b"retry: 3000\ndata: a\n\ndata: b\n\nretry: 1x\nretry: \xc2\xb2\ndata: c\n\n",
        decoder=decoder,
    )
    assert [e.retry for e in events] == [3000, None, None]
    assert decoder.retry == 3000
    # The reconnection time applies even when no event carries it.
    assert decode_all(b"retry: 10\n\n", decoder=decoder) == []
    assert decoder.retry == 10


def test_invalid_utf8_is_replaced() -> None:
    assert decode_all(b"data: \xff\n\n") == [SSEEvent(data="\ufffd")]


def test_default_limit() -> None:
    assert MAX_EVENT_SIZE == 16 * 1024 * 1024


def test_oversize_event_in_data_lines() -> None:
    decoder = SSEDecoder(max_event_size=100)
    assert decoder.feed(b"data: " + b"x" * 60 + b"\n") == []
    with pytest.raises(ValueError, match="larger than 100"):
        decoder.feed(b"data: " + b"x" * 60 + b"\n")


def test_oversize_unterminated_line() -> None:
    decoder = SSEDecoder(max_event_size=100)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(ValueError, match="larger than 100"):
        decoder.feed(b"x" * 60)


def test_events_up_to_the_limit_pass() -> None:
    decoder = SSEDecoder(max_event_size=100)
    for _ in range(3):  # the size is per event, not per stream
        assert decoder.feed(b"data: " + b"x" * 90 + b"\n\n") == [
            SSEEvent(data="x" * 90)
        ]


def test_long_line_in_small_chunks_is_linear() -> None:
    # A 4 MiB line fed in 1 KiB chunks: rescanning the buffer on every feed would be
    # quadratic (~8 billion byte visits); the decoder resumes where it stopped.
    decoder = SSEDecoder()
    chunk = b"x" * 1024
    started = time.perf_counter()
    decoder.feed(b"data: ")
    for _ in range(4096):
        assert decoder.feed(chunk) == []
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == 4 * 1024 * 1024
    assert time.perf_counter() - started < 5


# --- round trip ----------------------------------------------------------------------------


@SETTINGS
@given(
    data=st.text(),
    event_id=st.none() | st.text().filter(lambda s: not set(s) & set("\r\n\0")),
    event=st.none() | st.text(min_size=1).filter(lambda s: not set(s) & set("\r\n")),
    cut=st.integers(min_value=0),
)
def test_round_trip(
    data: str, event_id: str | None, event: str | None, cut: int
) -> None:
    frame = encode_event(data.encode(), id=event_id, event=event)
    cut %= len(frame) + 1
    (decoded,) = decode_all(frame[:cut], frame[cut:])
    assert decoded.data == data.replace("\r\n", "\n").replace("\r", "\n")
    assert decoded.event == (event or "message")
    assert decoded.id == event_id


@SETTINGS
@given(st.lists(st.text(), min_size=1, max_size=5), st.data())
def test_round_trip_of_a_stream(payloads: list[str], data: st.DataObject) -> None:
    stream = b"".join(
        encode_event(p.encode(), id=str(i)) + encode_comment()
        for i, p in enumerate(payloads)
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    chunks = [
        stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)
    ]
    events = decode_all(*chunks)
    assert [e.data for e in events] == [
        p.replace("\r\n", "\n").replace("\r", "\n") for p in payloads
    ]
    assert [e.id for e in events] == [str(i) for i in range(len(payloads))]
