"""Server-Sent Events: the encoder and an incremental decoder (bytes in, events out).

Both follow the WHATWG HTML "Server-sent events" parsing rules: lines end in CRLF, LF
or CR; a line starting with ``:`` is a comment (used for keep-alives); ``data`` lines of
one event are joined with ``\\n``; ``id`` sets the last event id (ignored if it holds
NUL); an empty line dispatches the event; an event with no data is dropped. A2A puts
one JSON document in each event's data (spec §9.4.2, §11.7) and uses ``id`` for the
per-task event sequence, so that a reconnecting subscriber can send ``Last-Event-ID``.

The decoder is sans-IO in the h11 style: feed it whatever bytes arrived, get back the
complete events. It bounds what it buffers (:data:`MAX_EVENT_SIZE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_EVENT_SIZE",
    "SSEDecoder",
    "SSEEvent",
    "encode_comment",
    "encode_event",
]

#: Largest event (all its lines) the decoder buffers. A2A events are single JSON
#: documents; 16 MiB leaves room for sizeable inline file parts while still stopping a
#: peer that never ends an event from growing our memory without bound.
MAX_EVENT_SIZE = 16 * 1024 * 1024

_LINE_END = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


def encode_event(
    data: bytes, *, id: str | None = None, event: str | None = None
) -> bytes:
    """Frame ``data`` as one SSE event; embedded newlines become several ``data:`` lines."""
    out = bytearray()
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError("an SSE event name cannot contain newlines")
        out += b"event: " + event.encode() + b"\n"
    if id is not None:
        if "\n" in id or "\r" in id or "\0" in id:
            raise ValueError("an SSE id cannot contain newlines or NUL")
        out += b"id: " + id.encode() + b"\n"
    for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        out += b"data: " + line + b"\n"
    out += b"\n"
    return bytes(out)


def encode_comment(text: str = "") -> bytes:
    """A comment line (clients ignore it); used as a keep-alive."""
    return b": " + text.encode() + b"\n\n"


class SSEDecoder:
    """Incremental SSE parser.

    >>> d = SSEDecoder()
    >>> d.feed(b"data: {}\\n")
    []
    >>> d.feed(b"\\n")
    [SSEEvent(data='{}', event='message', id=None, retry=None)]
    """

    def __init__(self, max_event_size: int = MAX_EVENT_SIZE) -> None:
        self._max = max_event_size
        self._buffer = bytearray()
        self._pending_cr = False
        self._scanned = 0
        self._started = False
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._retry: int | None = None
        #: The id of the last event seen (sticky across events, as in the spec).
        self.last_event_id: str | None = None
        #: The last reconnection time (``retry``, ms) the stream set, even if no event
        #: carried it (WHATWG: it applies at once, not at dispatch).
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume bytes; return the events they completed.

        Raises:
            ValueError: when one event grows past ``max_event_size``.
        """
        events: list[SSEEvent] = []
        buf = self._buffer
        buf += chunk
        if self._pending_cr and buf:
            # The last chunk ended in CR: a LF now belongs to that CRLF.
            if buf[0] == 0x0A:
                del buf[:1]
            self._pending_cr = False
        start = 0
        # Resume the search where the last call stopped: the bytes before that hold
        # no line ending, and rescanning them would make a long line cost O(n^2).
        pos = self._scanned
        while (match := _LINE_END.search(buf, pos)) is not None:
            end = match.start()
            self._line(bytes(buf[start:end]), events)
            start = end + 1
            if buf[end] == 0x0D:
                if start == len(buf):
                    self._pending_cr = True
                elif buf[start] == 0x0A:
                    start += 1
            pos = start
        del buf[:start]
        self._scanned = len(buf)
        if len(buf) + self._size > self._max:
            raise ValueError(f"SSE event larger than {self._max} bytes")
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        line = raw.decode("utf-8", errors="replace")
        if not self._started:
            self._started = True
            line = line.removeprefix("\ufeff")
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                raise ValueError(f"SSE event larger than {self._max} bytes")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            # ASCII digits only: str.isdigit() also accepts e.g. "²", which int() refuses.
            self._retry = self.retry = int(value)
        # any other field name is ignored (WHATWG SSE)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(
                SSEEvent(
                    data="\n".join(self._data),
                    event=self._event or "message",
                    id=self.last_event_id,
                    retry=self._retry,
                )
            )
        self._data = []
        self._size = 0
        self._event = ""
        self._retry = None
