"""Serve with uvicorn, bounded: header bytes and count, URL length, timeouts, a cap.

uvicorn's httptools protocol puts no bound on request headers (a single 64 MiB header
was buffered whole, for seconds), waits forever for slow headers or bodies, and keeps
every socket a client opens (its ``limit_concurrency`` answers 503 per *request*, so
idle sockets are never counted against it and can use up the file descriptors). The
protocol classes here are uvicorn's own, with the bounds of a
:class:`~accord.server.limits.ConnectionLimits` enforced on the wire:

* header bytes are counted as they arrive, before the parser buffers them (431);
  header fields (431) and the URL length (414) are checked when the head is parsed,
  before the app sees the request (the byte bound already caps both);
* one deadline per phase: from connecting (or the first byte of the next request) to
  the end of the headers, then from there to the end of the body (408 and close);
  the idle wait between requests is the keep-alive timeout;
* the connection beyond ``max_connections`` is answered 503 with ``Retry-After`` as
  soon as it is accepted, and closed.

Refusals are short JSON bodies shaped like the HTTP+JSON binding's errors
(``{"error": {"code", "status", "message"}}``, spec §11.6) with ``Connection: close``.
The same classes add the ASGI TLS extension on TLS connections
(:mod:`accord.server.auth.tls`), so one class carries both concerns. They also send
each answer in one write where uvicorn makes two, head then body
(:mod:`accord.server._coalesce`), and log access lines the short way when logging
is configured as ``accord serve`` does (:mod:`accord.server.access_log`).

Running uvicorn yourself::

    uvicorn.run(app, host="0.0.0.0", port=8000, **uvicorn_options(ConnectionLimits()))

or, from uvicorn's command line with the default limits,
``uvicorn module:app --http accord.server.serving:BoundedProtocol``.

Needs the ``serve`` extra (uvicorn; httptools is used when installed, else h11).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._coalesce import CoalescingTransport
from ._guard import FD_RESERVE, Guard, connection_cap, refusal
from .access_log import access_log
from .auth.tls import attach_tls
from .limits import ConnectionLimits

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "FD_RESERVE",
    "BoundedH11Protocol",
    "BoundedProtocol",
    "Parser",
    "connection_cap",
    "http_protocol",
    "refusal",
    "uvicorn_options",
]

logger = logging.getLogger(__name__)


class _Rejected(Exception):
    """Stops the parser after a refusal was sent (uvicorn catches parser errors)."""


class _Guarded:
    """What both bounded protocols do the same way: count, refuse, and add TLS info.

    Mixed in before uvicorn's protocol class, so ``super()`` is uvicorn's. The
    subclass sets ``self.guard`` in ``__init__``.
    """

    guard: Guard
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        # uvicorn writes through self.transport: one write per answer (_coalesce).
        self.transport = CoalescingTransport(
            cast("asyncio.Transport", transport), self.loop
        )
        if self.guard.opened():
            attach_tls(self, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self.guard.refused:
            return
        self.guard.feed(data, super().data_received)  # type: ignore[misc]


class BoundedH11Protocol(_Guarded, H11Protocol):
    """uvicorn's h11 protocol with :class:`ConnectionLimits` and the ASGI TLS extension.

    Used when httptools is not installed. h11 parses a head whole, then uvicorn
    starts the app at once: a head refused for its fields or URL reaches the app as
    a disconnect (with httptools it never reaches the app).
    """

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    cap: ClassVar[int] = 1000
    warned_at: ClassVar[float] = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_logger = access_log()  # type: ignore[assignment]  # access_log
        limits = self.limits
        self.timeout_keep_alive = limits.keep_alive_timeout  # type: ignore[assignment]
        # Our own count refuses first (431); h11's bound is only a backstop.
        self.conn = h11.Connection(
            h11.SERVER, max_incomplete_event_size=limits.max_header_bytes + 1024
        )
        self.guard = Guard(self, limits, self.cap)

    def handle_events(self) -> None:
        # Called for received data and, for a pipelined request, after an answer.
        super().handle_events()
        guard = self.guard
        cycle = self.cycle
        if guard.refused or cycle is None:
            return
        if cycle is not guard.last_cycle:  # h11 parsed a new request head
            guard.last_cycle = cycle
            scope = cycle.scope
            target = len(scope["raw_path"]) + len(scope["query_string"])
            if not guard.head(target, len(list(scope["headers"]))):
                return
            guard.headers_complete()
        if not cycle.more_body:
            guard.message_complete()

    def on_response_complete(self) -> None:
        # Before uvicorn starts a pipelined request (from handle_events).
        self.guard.response_complete()
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self.guard.upgraded()
        super().handle_websocket_upgrade(event)


@functools.cache
def _httptools_base() -> type[asyncio.Protocol] | None:
    """The bounded httptools protocol class, or None without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is optional in uvicorn
        return None

    class BoundedHttpToolsProtocol(_Guarded, HttpToolsProtocol):
        """uvicorn's httptools protocol with :class:`ConnectionLimits` and TLS info."""

        limits: ClassVar[ConnectionLimits] = ConnectionLimits()
        cap: ClassVar[int] = 1000
        warned_at: ClassVar[float] = float("-inf")

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.access_logger = access_log()  # type: ignore[assignment]  # access_log
            self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
            self.guard = Guard(self, self.limits, self.cap)

        def on_headers_complete(self) -> None:
            # Checked before uvicorn hands the request to the app.
            if not self.guard.head(len(self.url), len(self.headers)):
                raise _Rejected
            super().on_headers_complete()
            self.guard.headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.guard.message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self.guard.response_complete()

        def send_400_response(self, msg: str) -> None:
            if not self.guard.refused:  # else the refusal is already sent
                self.guard.closed()
                super().send_400_response(msg)

        def handle_websocket_upgrade(self) -> None:
            self.guard.upgraded()
            super().handle_websocket_upgrade()

    return cast("type[asyncio.Protocol]", BoundedHttpToolsProtocol)


#: ``parser`` values of :func:`http_protocol`.
Parser = Literal["auto", "httptools", "h11"]


def http_protocol(
    limits: ConnectionLimits | None = None, parser: Parser = "auto"
) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``http=``) enforcing ``limits``.

    ``parser`` ``"auto"`` is httptools when installed (``accord[serve]`` brings it),
    else h11. The class also adds the ASGI TLS extension on TLS connections. The
    same arguments give the same class.

    Raises:
        ImportError: ``parser="httptools"`` without httptools installed.
    """
    return _protocol_class(limits or ConnectionLimits(), parser)


@functools.cache
def _protocol_class(limits: ConnectionLimits, parser: Parser) -> type[asyncio.Protocol]:
    base: type[asyncio.Protocol] | None = None
    if parser != "h11":
        base = _httptools_base()
        if base is None and parser == "httptools":
            raise ImportError("httptools is not installed: pip install httptools")
    base = base or BoundedH11Protocol
    cap = connection_cap(limits)
    if cap < limits.max_connections:
        logger.info(
            "Serving at most %d connections, not %d: the open-file limit (ulimit -n) "
            "keeps %d descriptors for the app",
            cap,
            limits.max_connections,
            FD_RESERVE,
        )
    namespace = {"limits": limits, "cap": cap}
    return type(f"Accord{base.__name__}", (base,), namespace)


def uvicorn_options(limits: ConnectionLimits | None = None) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` / ``uvicorn.run`` enforcing ``limits``.

    Example::

        limits = ConnectionLimits(max_connections=200, header_timeout=5)
        uvicorn.run(app, host="0.0.0.0", port=8000, **uvicorn_options(limits))

    For HTTPS use :func:`accord.server.auth.tls.uvicorn_ssl_options` instead (give it
    the same ``limits``): its protocol class carries both.
    """
    limits = limits or ConnectionLimits()
    return {
        "http": http_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_timeout,
    }


#: The class for the default limits, for uvicorn's command line:
#: ``uvicorn module:app --http accord.server.serving:BoundedProtocol``.
BoundedProtocol = http_protocol()
