"""The one server-side binding interface: :class:`Exchange`, and the steps every
binding shares (:func:`perform`).

Every front end serves a request the same way: authenticate it against the card's
security requirements, negotiate its A2A version *before* the body is interpreted
(spec §3.6.2: the version decides which methods and shapes the body may have), decode
it, build the call's context and hand the operation to the
:class:`~accord.server.Engine`; then it writes the result, the stream's events or the
error. What differs between bindings is behind :class:`Exchange`, one object per
request, generic in the binding's answer: JSON-RPC (spec §9), HTTP+JSON (spec §11)
and v0.3's HTTP+JSON answer with an HTTP status and body
(:mod:`accord.server.exchanges`); gRPC (spec §10) with a status code, serialized
message and trailers (:mod:`accord.grpc.server`). The transport work around it (how
the body is read and bounded, how answers and events are written) stays with each
front end: :mod:`accord.server.pipelines` for HTTP, the gRPC server for gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from accord.bindings import v03
from accord.errors import ProtocolError
from accord.protocol import versioning

from .context import CallContext

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from accord.protocol import Operation
    from accord.types import StreamResponse

    from .auth.principal import Principal
    from .auth.verifier import RequestInfo
    from .engine import Engine

__all__ = ["Exchange", "Request", "perform"]

AnswerT = TypeVar("AnswerT", covariant=True)


class Exchange(Protocol[AnswerT]):
    """One request over one binding: how its version is chosen, how its body is read
    and how its answers are written. ``AnswerT`` is what the binding answers with."""

    @property
    def binding(self) -> str:
        """The card's name of the binding (``JSONRPC``, ``HTTP+JSON``, ``GRPC``),
        for interceptors and logs."""
        ...

    def negotiate(self, requested: str | None) -> str | None:
        """The version the request is served with, given the one it states
        (:attr:`Request.requested_version`), from
        :func:`~accord.protocol.versioning.negotiate` over the binding's versions
        (which raises VersionNotSupportedError); None when it is decided later."""
        ...

    def early_error(self, body: bytes) -> None:
        """Note what an error raised before :meth:`parse` needs from the body (the
        JSON-RPC id an early refusal echoes)."""
        ...

    def parse(self, body: bytes, query: str) -> tuple[Operation, Any]:
        """The operation and its request value.

        Raises:
            ProtocolError: the request is not valid (the answer says why).
        """
        ...

    def result(self, result: Any) -> AnswerT:
        """The answer carrying a unary operation's ``result``."""
        ...

    def event(self, event: StreamResponse) -> bytes:
        """One streamed event, as the binding writes it."""
        ...

    def error(self, error: ProtocolError) -> AnswerT:
        """The answer carrying ``error`` (before any stream began)."""
        ...


# Not frozen: a front end makes one per request and only perform() reads it; a frozen
# dataclass's __init__ (object.__setattr__ per field) cost ~1 % of a request.
@dataclass(slots=True)
class Request:
    """What a front end read off one request before its body is interpreted.

    Attributes:
        body: the request's bytes (already bounded by the front end).
        header: a request header (HTTP) or metadata value (gRPC) by lower-case name.
        requested_version: the A2A version the request states (spec §3.6.2's
            ``A2A-Version``, or the service's own for gRPC), None when it states none.
        info: the credentials-bearing parts of the request, built when needed.
        query: the URL's query string (HTTP).
        base_url_of: the agent's absolute URL as this caller sees it, when known.
        last_event_id: SSE's ``Last-Event-ID`` (HTTP), where SubscribeToTask resumes.
    """

    body: bytes
    header: Callable[[str], str | None]
    requested_version: str | None
    info: Callable[[], RequestInfo]
    query: str = ""
    base_url_of: Callable[[], str] | None = None
    last_event_id: str | None = None


def perform(
    engine: Engine, exchange: Exchange[Any], request: Request
) -> Awaitable[Any]:
    """Authenticate, negotiate, decode and dispatch one request; await what this
    returns for its result, or the :class:`~accord.server.streams.HandlerStream` of a
    streaming operation. Without a caller to authenticate it is the engine's
    dispatch itself (one frame fewer per request).

    Raises:
        ProtocolError: the request is refused (the exchange writes the answer).
    """
    if engine.auth.required:
        return _authenticated(engine, exchange, request)
    return _dispatch(engine, exchange, request, None)


async def _authenticated(
    engine: Engine, exchange: Exchange[Any], request: Request
) -> Any:
    """:func:`perform` once the caller is authenticated."""
    try:
        principal = await engine.auth.authenticate(request.info())
    except ProtocolError:
        exchange.early_error(request.body)
        raise
    return await _dispatch(engine, exchange, request, principal)


def _dispatch(
    engine: Engine,
    exchange: Exchange[Any],
    request: Request,
    principal: Principal | None,
) -> Awaitable[Any]:
    """Negotiate, decode, build the call's context and hand it to the engine."""
    try:
        version = exchange.negotiate(request.requested_version)
    except ProtocolError:
        exchange.early_error(request.body)
        raise
    operation, params = exchange.parse(request.body, request.query)
    if version is None:
        version = versioning.negotiate(request.requested_version)
    header = request.header
    extensions = header("a2a-extensions")
    if extensions is None and version == v03.VERSION:
        extensions = header("x-a2a-extensions")  # v0.3's name
    # Positional, in field order (keywords cost a third more; this is per request):
    # owner, version, extensions, principal, boundary (decided by the handler),
    # base_url_of, header, traceparent.
    ctx = CallContext(
        "" if principal is None else principal.id,
        version,
        tuple(e.strip() for e in extensions.split(",") if e.strip())
        if extensions
        else (),
        principal,
        None,
        request.base_url_of,
        header,
        header("traceparent") or "",
    )
    return engine.dispatch(
        operation,
        params,
        ctx,
        binding=exchange.binding,
        credentials=request.info,
        last_event_id=request.last_event_id,
    )
