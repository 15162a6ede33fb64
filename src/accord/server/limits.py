"""Bounds of the server: :class:`ConnectionLimits` (HTTP) and :class:`ServerLimits` (A2A).

Connection limits bound what a client can make the server hold before the application sees a
request: bytes and count of request headers, the length of the request target, the
time to send headers and body, idle keep-alive connections, and open connections.
The uvicorn protocol in :mod:`accord.server.serving` enforces them (``accord serve``
uses it; see ``docs/security.md``, "Connection and header limits"). Server limits
bound what the A2A app accepts and runs (:class:`~accord.server.A2AApp` enforces
them). This module is plain data, importable without uvicorn.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["ConnectionLimits", "ServerLimits"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Bounds on each connection and on how many there are; every one has a reason.

    Attributes:
        max_connections: open connections served at once. One more is answered 503
            (with ``Retry-After``) and closed at once, so idle sockets cannot use up
            the process's file descriptors and lock every other client out. Never more
            than the open-file limit (``ulimit -n``) minus a reserve for the app.
        max_header_bytes: request line plus headers, in bytes (431 beyond). 32 KiB
            fits long bearer tokens and cookies; unbounded, one 64 MiB header kept
            the server busy for seconds and held its memory.
        max_headers: header fields per request (431 beyond).
        max_request_line: bytes of the request target, the URL in the request line
            (414 URI Too Long beyond).
        header_timeout: seconds a client has, from connecting (or from the first byte
            of its next request), to finish sending the request headers. Beyond: 408
            and close, or just close when nothing was sent. Defeats slowloris clients
            that send a header byte every few seconds.
        body_timeout: seconds a client has, once the headers are in, to finish the
            request body (408 and close beyond, or close if the answer has started).
            A 10 MiB body (the app's default limit) needs ~175 KB/s.
        keep_alive_timeout: seconds an idle keep-alive connection stays open after
            an answer, waiting for the next request.
        retry_after: the ``Retry-After`` (seconds) sent with the 503 at capacity.
    """

    max_connections: int = 1000
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    max_request_line: int = 8 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive_timeout: float = 5.0
    retry_after: int = 1

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"ConnectionLimits.{field.name} must be a number")
            if value <= 0:
                raise ValueError(
                    f"ConnectionLimits.{field.name} must be positive, not {value!r}"
                )


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds and timings of the server; every one has a reason.

    Attributes:
        max_body_bytes: largest request body accepted (413 beyond). 10 MiB leaves room
            for inline file parts while refusing bodies meant to exhaust memory.
        keepalive_interval: seconds of stream silence before an SSE comment is sent, so
            proxies with idle timeouts (commonly 30-60 s) keep the connection open.
        card_max_age: ``Cache-Control: max-age`` of the card, in seconds (spec §8.6).
        max_running_tasks: agent executions this instance runs at once. Beyond it,
            new work is queued in the task store, and whichever instance sharing the
            store has room runs it (:mod:`accord.server.queue`).
        max_queued_tasks: queued tasks the store holds at most (all instances
            together); beyond it SendMessage answers UnavailableError (503: the
            agent is saturated, retry later) instead of queueing without bound.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    keepalive_interval: float = 15.0
    card_max_age: int = 300
    max_running_tasks: int = 10_000
    max_queued_tasks: int = 10_000

    def __post_init__(self) -> None:
        if self.max_running_tasks < 1:
            raise ValueError(
                f"ServerLimits.max_running_tasks must be >= 1, not {self.max_running_tasks}"
            )
        if self.max_queued_tasks < 0:
            raise ValueError(
                f"ServerLimits.max_queued_tasks must be >= 0, not {self.max_queued_tasks}"
            )
