"""One connection's bounds, as a small state machine the uvicorn protocols drive.

:class:`Guard` knows nothing of uvicorn's classes: the protocols of
:mod:`accord.server.serving` call it from their hooks (bytes received, parser
callbacks, response complete, connection lost) and it counts, arms the one deadline
of the current phase, and refuses (a short JSON answer, then close). The protocol it
drives must expose uvicorn's ``transport``, ``loop``, ``connections``, ``cycle``,
``flow`` and ``client``.
"""

from __future__ import annotations

import json
import logging
import time
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from .limits import ConnectionLimits

__all__ = ["FD_RESERVE", "Guard", "connection_cap", "refusal"]

logger = logging.getLogger("accord.server.serving")

#: File descriptors kept free for the app (store, logs, outgoing calls) when the
#: connection cap is derived from the open-file limit.
FD_RESERVE = 64
#: Seconds a refused (over-capacity) connection may stay open for the client to read
#: its 503; closing at once with the request unread could reset the connection first.
_LINGER = 1.0
#: Seconds between two "at capacity" warnings, so a flood does not flood the log too.
_WARN_EVERY = 10.0
_STATUS = {
    408: ("Request Timeout", "DEADLINE_EXCEEDED"),
    414: ("URI Too Long", "INVALID_ARGUMENT"),
    431: ("Request Header Fields Too Large", "INVALID_ARGUMENT"),
    503: ("Service Unavailable", "UNAVAILABLE"),
}


def refusal(status: int, message: str, *, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 answer closing the connection, with a JSON error body."""
    reason, code = _STATUS[status]
    body = json.dumps(
        {"error": {"code": status, "status": code, "message": message}}
    ).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def connection_cap(limits: ConnectionLimits) -> int:
    """``limits.max_connections``, lowered to fit the process's open-file limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no RLIMIT_NOFILE
        return limits.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits.max_connections
    return max(1, min(limits.max_connections, soft - FD_RESERVE))


class _Phase(Enum):
    HEADERS = "headers"  # waiting for (the rest of) a request's headers
    BODY = "body"  # headers in, body still arriving
    APP = "app"  # request complete, the app is answering
    IDLE = "idle"  # answered; keep-alive wait for the next request
    DONE = "done"  # refused or upgraded: nothing more to enforce


class Guard:
    """The bounds of one connection: phase, byte and field counts, the one deadline."""

    def __init__(self, protocol: Any, limits: ConnectionLimits, cap: int) -> None:
        self.protocol = protocol
        self.limits = limits
        self.cap = cap
        self.phase = _Phase.HEADERS
        self.header_bytes = 0
        self.last_cycle: Any = None
        # One lazy timer: phases move ``deadline`` (loop time) and ``on_late``; the
        # timer is re-armed only when it would fire too late, so a keep-alive request
        # costs no timer calls in the common case.
        self.deadline: float | None = None
        self.on_late: Callable[[], None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    # --- connection ------------------------------------------------------------

    def opened(self) -> bool:
        """After uvicorn counted the connection: False when it is one too many."""
        protocol = self.protocol
        if len(protocol.connections) > self.cap:
            protocol.connections.discard(protocol)
            self.phase = _Phase.DONE
            _warn_capacity(type(protocol), self.cap)
            protocol.transport.write(
                refusal(
                    503,
                    f"The server is at capacity ({self.cap} connections); retry later.",
                    retry_after=self.limits.retry_after,
                )
            )
            self._arm(min(_LINGER, self.limits.header_timeout), self._close)
            return False
        self._arm(self.limits.header_timeout, self._headers_late)
        return True

    def closed(self) -> None:
        self.phase = _Phase.DONE
        self._stop()

    @property
    def refused(self) -> bool:
        return self.phase is _Phase.DONE

    # --- input -----------------------------------------------------------------

    def feed(self, data: bytes, parse: Callable[[bytes], None]) -> None:
        """Give ``data`` to the parser, never more header bytes than allowed."""
        while data and not self.refused:
            if self.phase is _Phase.IDLE or self.phase is _Phase.APP:
                self._next_request()
            if self.phase is not _Phase.HEADERS:
                parse(data)
                return
            room = self.limits.max_header_bytes - self.header_bytes
            if room <= 0:
                self.reject(
                    431,
                    f"Request headers exceed {self.limits.max_header_bytes} bytes.",
                )
                return
            if len(data) <= room:
                piece, data = data, b""
            else:
                piece, data = data[:room], data[room:]
            self.header_bytes += len(piece)
            parse(piece)

    def head(self, target: int, fields: int) -> bool:
        """A request head is parsed: check its target length and field count.

        False when refused (414 or 431 sent). Called before the app sees the request.
        """
        limits = self.limits
        if target > limits.max_request_line:
            self.reject(
                414, f"The request target exceeds {limits.max_request_line} bytes."
            )
            return False
        if fields > limits.max_headers:
            self.reject(431, f"More than {limits.max_headers} request header fields.")
            return False
        return True

    def headers_complete(self) -> None:
        self.phase = _Phase.BODY
        self.header_bytes = 0
        self._arm(self.limits.body_timeout, self._body_late)

    def message_complete(self) -> None:
        if self.phase is _Phase.BODY:
            self.phase = _Phase.APP
            self.deadline = None  # the app's time is its own

    def response_complete(self) -> None:
        # uvicorn arms its keep-alive timer (``keep_alive_timeout``) for the idle wait.
        if self.phase is _Phase.APP:
            self.phase = _Phase.IDLE

    def upgraded(self) -> None:
        self.closed()

    def _next_request(self) -> None:
        """The first bytes of a new request: its headers' clock starts."""
        self.phase = _Phase.HEADERS
        self.header_bytes = 0
        self._arm(self.limits.header_timeout, self._headers_late)

    # --- refusals and deadlines ------------------------------------------------

    def reject(self, status: int, message: str) -> None:
        """Answer ``status`` (unless an answer is under way or given) and close."""
        if self.refused:
            return
        phase = self.phase
        self.phase = _Phase.DONE
        self._stop()
        protocol = self.protocol
        cycle = protocol.cycle
        if cycle is not None and not cycle.response_complete:
            # The app's receive() now reports a disconnect and its sends are dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            answer = not cycle.response_started
        else:
            # Late body of a request already answered (e.g. 413): just close.
            answer = phase is not _Phase.BODY
        logger.info("%s from %s: %s", status, _peer(protocol), message)
        if answer:
            protocol.transport.write(refusal(status, message))
        protocol.transport.close()

    def _headers_late(self) -> None:
        if self._server_paused(self._headers_late):
            return
        if self.header_bytes == 0 and self.phase is _Phase.HEADERS:
            self._close()  # connected but silent: nobody to answer
            return
        self.reject(
            408,
            f"Request headers not received within {self.limits.header_timeout:g} s.",
        )

    def _body_late(self) -> None:
        if self._server_paused(self._body_late):
            return
        self.reject(
            408, f"Request body not received within {self.limits.body_timeout:g} s."
        )

    def _server_paused(self, again: Callable[[], None]) -> bool:
        """Reading is paused by the server (back-pressure): the client is not late."""
        flow = self.protocol.flow
        if flow is not None and flow.read_paused:
            self._arm(min(self.limits.header_timeout, self.limits.body_timeout), again)
            return True
        return False

    def _close(self) -> None:
        self.phase = _Phase.DONE
        self._stop()
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _arm(self, delay: float, on_late: Callable[[], None]) -> None:
        """The current phase must end within ``delay`` seconds, else ``on_late()``."""
        loop = self.protocol.loop
        deadline = loop.time() + delay
        self.deadline = deadline
        self.on_late = on_late
        if self.timer is None or deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(deadline, self._tick)
            self.timer_at = deadline

    def _tick(self) -> None:
        self.timer = None
        deadline = self.deadline
        if deadline is None or self.refused:
            return  # the phase with a deadline ended in time
        if self.protocol.loop.time() < deadline:  # moved later since armed
            self.timer = self.protocol.loop.call_at(deadline, self._tick)
            self.timer_at = deadline
            return
        on_late = self.on_late
        self.deadline = self.on_late = None
        if on_late is not None:
            on_late()

    def _stop(self) -> None:
        self.deadline = self.on_late = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _peer(protocol: Any) -> str:
    client = protocol.client
    return f"{client[0]}:{client[1]}" if client else "a client"


def _warn_capacity(cls: type[Any], cap: int) -> None:
    now = time.monotonic()
    if now - cls.warned_at >= _WARN_EVERY:
        cls.warned_at = now
        logger.warning(
            "At capacity (%d open connections): refusing new ones with 503; "
            "raise the limit (accord serve --limit-connections) if this is legitimate",
            cap,
        )
