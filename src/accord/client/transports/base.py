"""The ``Transport`` protocol, and the machinery the two HTTP transports share.

Theory of operation. A transport moves one A2A operation over one binding and knows
nothing else: no interface selection, no tenant, no fallback (those are the
:class:`~accord.client.Client`'s). It has one method per shape of exchange (style guide
§7): :meth:`Transport.call` for unary operations and :meth:`Transport.stream` for the
two streaming ones. Wire encoding is the bindings' job (``accord.bindings``); a
transport builds the HTTP request from what the binding returns, sends it with httpx
inside :func:`~accord.client._http.map_httpx_exceptions`, and hands the body back to the
binding, which returns the decoded result or raises the :class:`ProtocolError` the
server sent.

Streams (spec §9.4.2, §11.7): the response body is read chunk by chunk
(the response stream itself, or ``response.aiter_bytes()`` for an encoded body)
and fed to the sans-IO :class:`SSEDecoder`; each complete
event is decoded by the binding and yielded together with its SSE ``id``, which the
caller can send back as ``Last-Event-ID`` when it resubscribes. A response that is not
``text/event-stream`` is an error answer sent before the stream began (spec §9.4.2, §11.7):
its body is read and the error it carries is raised. The HTTP response is closed in a
``finally`` block, so a consumer that stops iterating (``aclose()``, ``break`` inside
``async with aclosing(...)``) releases the connection at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self

import anyio
import httpx

from accord.errors import InvalidAgentResponseError, ParseError
from accord.protocol.sse import MAX_EVENT_SIZE, SSEDecoder, SSEEvent
from accord.protocol.versioning import CURRENT_VERSION
from accord.types import decode_json

from .._http import map_httpx_exceptions
from ..config import ClientTimeouts

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncGenerator, AsyncIterator, Mapping
    from types import TracebackType

    from accord.protocol.operations import Operation
    from accord.types import StreamResponse

    from ..credentials import ClientCertificate

#: v0.3's version (``accord.bindings.v03.VERSION``), which both HTTP transports speak.
V03_VERSION = "0.3"

__all__ = [
    "ClosingTransport",
    "HttpTransport",
    "Transport",
    "TransportOptions",
    "is_jsonrpc_response",
    "is_status_body",
    "looks_like",
]


class Transport(Protocol):
    """Moves A2A operations over one binding to one interface URL.

    Implementations are async context managers; leaving the context releases what the
    transport owns (never an ``httpx.AsyncClient`` it was given).
    """

    async def call(self, operation: Operation, params: Any) -> Any:
        """Run a unary operation and return its decoded result.

        ``params`` is the operation's request message (``operation.request_type``).

        Raises:
            ProtocolError: the subclass the server answered with.
            TransportError: the exchange failed below A2A.
        """
        ...

    def stream(
        self, operation: Operation, params: Any, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[StreamResponse, str | None]]:
        """Run a streaming operation; yield each event with its SSE id (or ``None``).

        ``last_event_id`` is sent as ``Last-Event-ID`` when resuming a stream. If the
        returned iterator has an ``aclose`` method, callers call it when they stop
        early; it must release the connection.

        Raises:
            ProtocolError: the subclass the server answered with, before or during
                the stream.
            TransportError: the exchange failed below A2A.
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport owns."""
        ...

    async def __aenter__(self) -> Self:
        """Return the transport itself."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Call :meth:`aclose`."""
        ...


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """What a transport factory (:attr:`ClientConfig.transports
    <accord.client.ClientConfig.transports>`) is given besides the interface URL.

    Attributes:
        timeouts: per-phase timeouts.
        headers: extra headers for every request (service parameters and
            credentials, spec §3.2.6; metadata for gRPC).
        auth: the credentials chosen from the card, as an httpx auth flow; ``None``
            when there are none.
        http: the httpx client of the other transports (token endpoints use it).
        certificate: the client certificate for mutual TLS, if one was supplied.
        ca_bundle: a PEM file of CA certificates to trust instead of the defaults.
        version: the A2A version the interface speaks (``1.0``, or ``0.3``).
    """

    timeouts: ClientTimeouts
    headers: Mapping[str, str]
    auth: httpx.Auth | None
    http: httpx.AsyncClient
    certificate: ClientCertificate | None = None
    ca_bundle: str | os.PathLike[str] | None = None
    version: str = "1.0"


class ClosingTransport:
    """A transport's async context: entering gives the transport, leaving calls
    :meth:`aclose` (which each transport defines)."""

    async def aclose(self) -> None:
        """Release what the transport owns."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        """Return the transport itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Call :meth:`aclose`."""
        await self.aclose()


class HttpTransport(ClosingTransport):
    """What the JSON-RPC and REST transports share: an httpx client, headers, SSE.

    Args:
        url: the interface URL (``AgentInterface.url``).
        http: the httpx client to send with. When ``None`` the transport creates one
            and closes it in :meth:`aclose`; a client passed in is borrowed, never
            closed.
        timeouts: per-phase timeouts.
        headers: extra headers for every request (e.g. ``Authorization``).
        max_event_size: the largest SSE event accepted, in bytes; a larger one
            ends the stream with :class:`~accord.errors.InvalidAgentResponseError`
            instead of growing memory without bound.
        auth: an httpx auth flow for every request, e.g. the credentials chosen
            from the card (:class:`~accord.client.credentials.SelectedCredentials`);
            ``None`` keeps the httpx client's own ``auth``.
        version: the A2A version to speak: ``1.0``, or ``0.3`` for an agent that
            speaks only that.

    Raises:
        ValueError: a version neither ``1.0`` nor ``0.3``.
    """

    #: The card's name of the binding (``AgentInterface.protocolBinding``).
    binding = ""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient | None = None,
        *,
        timeouts: ClientTimeouts | None = None,
        headers: Mapping[str, str] | None = None,
        max_event_size: int = MAX_EVENT_SIZE,
        auth: httpx.Auth | None = None,
        version: str = CURRENT_VERSION,
    ) -> None:
        if version not in (CURRENT_VERSION, V03_VERSION):
            raise ValueError(f"cannot speak A2A {version!r} over {self.binding}")
        self.version = version
        self._v03 = version == V03_VERSION
        self.url = url
        self._max_event_size = max_event_size
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._timeouts = timeouts if timeouts is not None else ClientTimeouts()
        self._headers = dict(headers or {})
        self._auth = auth

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    async def aclose(self) -> None:
        """Close the httpx client if this transport created it."""
        if self._owns_http:
            await self._http.aclose()

    async def _send(
        self, request: httpx.Request, *, stream: bool = False
    ) -> httpx.Response:
        with map_httpx_exceptions(self.url):
            if self._auth is None:  # keep the httpx client's own auth, if any
                return await self._http.send(request, stream=stream)
            return await self._http.send(request, stream=stream, auth=self._auth)

    async def _close(self, response: httpx.Response) -> None:
        # Shielded: a stream is often closed *because* its reader was cancelled, and an
        # interrupted close would leak the connection.
        with anyio.CancelScope(shield=True):
            await response.aclose()

    async def _read(self, response: httpx.Response) -> bytes:
        with map_httpx_exceptions(self.url):
            return await response.aread()

    async def _sse(self, response: httpx.Response) -> AsyncGenerator[SSEEvent, None]:
        """The SSE events of an open response, decoded incrementally."""
        decoder = SSEDecoder(self._max_event_size)
        async with _closing(_body(response)) as chunks:
            while True:
                # Translate only the I/O, never what the consumer throws in at `yield`.
                with map_httpx_exceptions(self.url):
                    chunk = await anext(chunks, None)
                if chunk is None:
                    return
                try:
                    events = decoder.feed(chunk)
                except ValueError as exc:
                    raise InvalidAgentResponseError(
                        f"Bad event stream from {self.url}: {exc}"
                    ) from None
                for event in events:
                    yield event


#: ``Content-Encoding`` values under which the body on the wire is the body itself.
_IDENTITY = frozenset({"", "identity"})


def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of a streamed response, as an iterator the caller closes.

    ``response.aiter_bytes()`` iterates ``aiter_raw()``, which iterates the response
    stream, each an async generator of httpx, and closing the outer one leaves the inner
    ones to the garbage collector (trio reports each as a ResourceWarning). Without a
    content encoding, the stream's own iterator is the body: one generator, which the
    caller closes. An encoded body (rare for SSE) still needs httpx's decoders.
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    stream = response.stream
    if encoding in _IDENTITY and isinstance(stream, httpx.AsyncByteStream):
        return aiter(stream)
    return response.aiter_bytes()


class _closing:
    """``aclosing`` for an async iterator that may have no ``aclose`` method."""

    def __init__(self, iterator: AsyncIterator[bytes]) -> None:
        self._iterator = iterator

    async def __aenter__(self) -> AsyncIterator[bytes]:
        return self._iterator

    async def __aexit__(self, *exc_info: object) -> None:
        close = getattr(self._iterator, "aclose", None)
        if close is not None:
            await close()


def looks_like(body: bytes, *keys: str) -> bool:
    """True when ``body`` is a JSON object with one of ``keys`` (an envelope probe)."""
    try:
        value = decode_json(body)
    except ParseError:
        return False
    return isinstance(value, dict) and any(k in value for k in keys)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = decode_json(body)
    except ParseError:
        return None
    return value if isinstance(value, dict) else None


def is_jsonrpc_response(body: bytes) -> bool:
    """True when ``body`` is a JSON-RPC 2.0 response object (``result`` or ``error``).

    Stricter than :func:`looks_like`: a proxy's or a framework's ``{"error": "..."}``
    is not one, and its HTTP status and text are what the caller needs to see.
    """
    obj = _json_object(body)
    return (
        obj is not None
        and obj.get("jsonrpc") == "2.0"
        and ("error" in obj or "result" in obj)
    )


def is_status_body(body: bytes) -> bool:
    """True when ``body`` is an HTTP+JSON error (``{"error": {"message": ...}}``, spec §11.6)."""
    obj = _json_object(body)
    error = None if obj is None else obj.get("error")
    return isinstance(error, dict) and isinstance(error.get("message"), str)
