"""The HTTP bindings' exchanges: :class:`~accord.server.binding.Exchange` answering
with an HTTP status and body.

:class:`~accord.server.pipelines.HttpBindings` runs every HTTP request the same way
(content type, body limit, then :func:`~accord.server.binding.perform`, then the
answer or the SSE stream); what differs between the bindings is behind
:class:`HttpExchange`, one object per request, implemented here for JSON-RPC (spec §9,
and v0.3's methods), HTTP+JSON (spec §11) and v0.3's HTTP+JSON (``/v1/...``). The wire
work itself is the sans-IO ``accord.bindings`` modules'; an exchange only chooses
among them and keeps what its answers need (the JSON-RPC id, the routed call, the
media type asked for). The gRPC front end implements the same interface
(:mod:`accord.grpc.server`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from accord.bindings import jsonrpc, rest, v03, v03_rest
from accord.errors import MethodNotFoundError, ProtocolError, RateLimitedError
from accord.protocol import versioning
from accord.protocol.errors import spec_for

from .binding import Exchange
from .card import BINDING_HTTP_JSON, BINDING_JSONRPC

if TYPE_CHECKING:
    from collections.abc import Callable

    from accord.protocol import Operation
    from accord.types import StreamResponse

__all__ = [
    "JSONRPC_VERSIONS",
    "REST_VERSIONS",
    "Answer",
    "HttpExchange",
    "JsonRpcExchange",
    "RestExchange",
    "V03RestExchange",
]

#: Versions the JSON-RPC endpoint speaks: v1.0, and v0.3 (its own methods and shapes,
#: :mod:`accord.bindings.v03`).
JSONRPC_VERSIONS = (versioning.CURRENT_VERSION, v03.VERSION)
#: Versions HTTP+JSON speaks: v1.0, and v0.3 on its own ``/v1/...`` routes
#: (:mod:`accord.bindings.v03_rest`).
REST_VERSIONS = (versioning.CURRENT_VERSION, v03.VERSION)
#: HTTP statuses a JSON-RPC error keeps (the rest travel in a 200 response).
_TRANSPORT_STATUSES = frozenset({401, 403, 413, 429, 503})

JSON = b"application/json"
SSE = b"text/event-stream"


# Not frozen: made per request and written at once (as Request, binding.py).
@dataclass(slots=True)
class Answer:
    """An HTTP answer: status, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()


class HttpExchange(Exchange[Answer], Protocol):
    """One request over one HTTP binding, as the shared pipeline serves it."""

    @property
    def content_types(self) -> str | None:
        """The request media types accepted, for the refusal's text; None: not
        checked."""
        ...

    def stream_error(self, error: ProtocolError) -> bytes:
        """An error after the stream began, as the data of its SSE event."""
        ...


@dataclass(slots=True)
class JsonRpcExchange:
    """A JSON-RPC request (spec §9): errors in 200 answers with the request's id."""

    # Class constants, not fields: the __init__ run per request sets only the rest.
    binding: ClassVar[str] = BINDING_JSONRPC
    content_types: ClassVar[str | None] = "application/json"
    request_id: jsonrpc.RequestId = None
    #: The call of a v0.3 method, whose answers are translated; None for v1.0's.
    v03_call: jsonrpc.JsonRpcCall | None = None
    version: str = versioning.CURRENT_VERSION

    def negotiate(self, requested: str | None) -> str:
        # The version first: it decides which methods and shapes the body has.
        if requested is not None and requested in JSONRPC_VERSIONS:
            self.version = requested  # served as stated: the usual request
        else:
            self.version = versioning.negotiate(requested, JSONRPC_VERSIONS)
        return self.version

    def early_error(self, body: bytes) -> None:
        self.request_id = _request_id(body)

    def parse(self, body: bytes, query: str) -> tuple[Operation, Any]:
        try:
            request_id, operation, params, v03_method = jsonrpc.read_request(
                body, version=self.version
            )
        except jsonrpc.JsonRpcRejection as rejection:
            self.request_id = rejection.request_id
            raise rejection.error from None
        self.request_id = request_id
        if v03_method:
            self.v03_call = jsonrpc.JsonRpcCall(
                request_id, operation, params, v03_method
            )
        return operation, params

    def result(self, result: Any) -> Answer:
        call = self.v03_call
        if call is not None:
            return Answer(200, jsonrpc.encode_result_v03(call.id, call, result))
        return Answer(200, jsonrpc.encode_result(self.request_id, result))

    def event(self, event: StreamResponse) -> bytes:
        call = self.v03_call
        if call is not None:
            return jsonrpc.encode_stream_event_v03(call.id, call, event)
        return jsonrpc.encode_stream_event(self.request_id, event)

    def stream_error(self, error: ProtocolError) -> bytes:
        return jsonrpc.encode_error(self.request_id, error)

    def error(self, error: ProtocolError) -> Answer:
        status = spec_for(error).http_status
        body = jsonrpc.encode_error(self.request_id, error)
        call = self.v03_call
        if (
            call is not None
            and call.operation.streaming
            and status not in _TRANSPORT_STATUSES
        ):
            # v0.3 clients of a stream read its error as the stream's one event.
            return Answer(200, b"data: " + body + b"\n\n", SSE)
        # JSON-RPC errors travel in a 200 response; only transport-level refusals
        # (size, authentication, capacity) use their HTTP status.
        return Answer(
            status if status in _TRANSPORT_STATUSES else 200,
            body,
            headers=error_headers(error),
        )


@dataclass(slots=True)
class RestExchange:
    """An HTTP+JSON request (spec §11), answered in the media type it asked for."""

    verb: str
    path: str
    #: The query without API-key parameters (they are not request fields).
    binding_query: str
    #: ``application/a2a+json`` or ``application/json`` (spec §11.1).
    media: bytes
    binding: str = BINDING_HTTP_JSON
    content_types: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if self.verb in ("POST", "PUT", "PATCH"):
            self.content_types = "application/a2a+json or application/json"

    def negotiate(self, requested: str | None) -> str | None:
        # On A2A's paths the version comes before the body (it decides the shapes);
        # any other path is not found, whatever the version.
        if rest.allowed_methods(self.path):
            self.version = versioning.negotiate(requested)
        return self.version

    def early_error(self, body: bytes) -> None:
        return None

    def parse(self, body: bytes, query: str) -> tuple[Operation, Any]:
        call = rest.parse_request(self.verb, self.path, self.binding_query, body)
        return call.operation, call.params

    def result(self, result: Any) -> Answer:
        return Answer(200, rest.encode_response(result), self.media)

    def event(self, event: StreamResponse) -> bytes:
        return rest.encode_stream_event(event)

    def stream_error(self, error: ProtocolError) -> bytes:
        return rest.encode_error(error)[1]

    def error(self, error: ProtocolError) -> Answer:
        headers = error_headers(error)
        override: int | None = None
        if isinstance(error, MethodNotFoundError):
            allowed = rest.allowed_methods(self.path)
            if allowed:
                override = 405  # RFC 9110 §15.5.6, with Allow
                headers = (*headers, (b"allow", ", ".join(allowed).encode()))
        status, body = rest.encode_error(error, status=override)
        return Answer(status, body, self.media, headers)


@dataclass(slots=True)
class V03RestExchange:
    """A v0.3 HTTP+JSON request (``/v1/...``, :mod:`accord.bindings.v03_rest`)."""

    verb: str
    path: str
    binding_query: str
    #: The agent's base URL as this caller sees it (the extended card names it).
    base_url: Callable[[], str]
    binding: str = BINDING_HTTP_JSON
    content_types: str | None = None
    call: v03_rest.V03RestCall | None = field(default=None)

    def __post_init__(self) -> None:
        if self.verb in ("POST", "PUT", "PATCH"):
            self.content_types = "application/json"

    def negotiate(self, requested: str | None) -> str:
        return v03.VERSION  # chosen by the router (HttpBindings.rest)

    def early_error(self, body: bytes) -> None:
        return None

    def parse(self, body: bytes, query: str) -> tuple[Operation, Any]:
        call = v03_rest.parse_request(self.verb, self.path, self.binding_query, body)
        self.call = call
        return call.operation, call.params

    def result(self, result: Any) -> Answer:
        assert self.call is not None
        return Answer(
            200, v03_rest.encode_result(self.call, result, card_url=self.base_url())
        )

    def event(self, event: StreamResponse) -> bytes:
        assert self.call is not None
        return v03_rest.encode_stream_event(self.call, event)

    def stream_error(self, error: ProtocolError) -> bytes:
        return v03_rest.encode_error(error)[1]

    def error(self, error: ProtocolError) -> Answer:
        status, body = v03_rest.encode_error(error)
        return Answer(status, body, headers=error_headers(error))


def error_headers(error: ProtocolError) -> tuple[tuple[bytes, bytes], ...]:
    """The headers an error answer carries: ``WWW-Authenticate`` for a 401/403 with
    challenges, ``Retry-After`` for a 429 (RFC 9110 §10.2.3)."""
    challenges = getattr(error, "challenges", ())
    headers = tuple((b"www-authenticate", c.encode("latin-1")) for c in challenges)
    if isinstance(error, RateLimitedError):
        headers += ((b"retry-after", str(error.retry_after_header).encode()),)
    return headers


#: Largest body whose JSON-RPC id is read for an early refusal (an unauthenticated
#: caller should not make the server parse megabytes just to echo an id).
_ID_PARSE_LIMIT = 64 * 1024


def _request_id(body: bytes) -> jsonrpc.RequestId:
    """The JSON-RPC id of ``body`` if it can be read, else None (for early refusals)."""
    if len(body) > _ID_PARSE_LIMIT:
        return None
    try:
        return jsonrpc.parse_request(body).id
    except jsonrpc.JsonRpcRejection as rejection:
        return rejection.request_id
    except ProtocolError:
        return None
