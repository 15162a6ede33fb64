"""One write per answer: a transport that joins the writes of one event-loop pass.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and the body when it sends ``http.response.body``: two
``send`` system calls for every small answer, each a segment of its own. Sampled on
the benchmark machine, the head's write (with the wake-up of the client it causes)
took about a sixth of a blocking SendMessage's server CPU time. With one write,
``accord serve``'s protocol, connection limits included, is no slower than uvicorn's
own: 1.00x the blocking sends, 1.05x the message replies and 1.08x the stream events
per second (``bench/bench.py --ab . --ab-stack accord-uvloop``, 2026-12-06).

:class:`CoalescingTransport` sits between uvicorn's protocol and the socket's
transport. A small write is held until the next write, which goes out with it in one
call, or until the end of the current pass of the event loop (``call_soon``),
whichever comes first. So a head and its body leave together; a Server-Sent Events
head still leaves in the same pass as it was written (its first event may not come
for seconds); nothing is held across a wait. Order is kept: every write passes here,
and closing sends what is held first. Large writes are never held or copied.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["HOLD_BYTES", "CoalescingTransport"]

#: Writes up to this size are held for the next one (a response head is far smaller).
HOLD_BYTES = 16 * 1024


class CoalescingTransport(asyncio.Transport):
    """``transport`` with the writes of one loop pass joined (see the module doc).

    Everything but writing and closing is the wrapped transport's: flow control
    (``pause_writing`` reaches the protocol from it), reading, extra info.
    """

    __slots__ = ("_held", "_loop", "_scheduled", "_transport")

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | bytearray | memoryview | None = None
        self._scheduled = False

    @property
    def wrapped(self) -> asyncio.Transport:
        """The socket's own transport."""
        return self._transport

    # --- writing ------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return  # h11's end of a Content-Length body; sockets skip it too
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif len(data) > HOLD_BYTES or self._transport.is_closing():
            self._transport.write(data)
        else:
            # A caller may reuse a bytearray it wrote; what is held must not change.
            self._held = data if type(data) is bytes else bytes(data)
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._flush_soon)

    def writelines(self, list_of_data: Any) -> None:
        held = self._held
        self._held = None
        chunks = list(list_of_data)
        self._transport.writelines(chunks if held is None else [held, *chunks])

    def flush(self) -> None:
        """Send what is held now."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (
            0 if held is None else len(held)
        )

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(
        self, high: int | None = None, low: int | None = None
    ) -> None:
        self._transport.set_write_buffer_limits(high, low)

    # --- closing --------------------------------------------------------------------

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    # --- the rest is the socket transport's ------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()
