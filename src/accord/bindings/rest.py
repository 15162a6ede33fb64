"""The HTTP+JSON (REST) binding: HTTP messages <-> operations and values (spec §11).

Theory of operation. Every function is pure; the ASGI server and the client transport
move the bytes. Routes come from the ``rest`` templates of
:data:`~accord.protocol.operations.OPERATIONS`; how paths are matched (tenant prefix,
precedence, percent-encoding) and how query strings are read is described in
:mod:`accord.bindings._routes`.

Server side, :func:`parse_request` takes the verb, the path *as sent* (still
percent-encoded: the ASGI ``raw_path`` minus the interface's mount prefix), the raw
query string and the body, and returns a :class:`RestCall` holding a request value:

* body routes (POST): the body is the ProtoJSON of the request message minus the fields
  bound to the path (spec §11.4); an empty body means ``{}`` (``:cancel``,
  ``:subscribe``);
* query routes (GET/DELETE): scalar fields from the query string (spec §11.5);
  unknown parameters, ``A2A-Version`` among them (the caller reads it, spec §7.1),
  are ignored;
* path variables fill the fields they name, overriding the body or query, and the
  tenant comes only from the leading path segment, never from the body or query
  (spec §8.3.2).

No route for the path raises :class:`~accord.errors.MethodNotFoundError` (HTTP 404).
A path that exists under other verbs raises the same error, naming the allowed verbs:
the error table has no "method not allowed" row, so the ASGI layer asks
:func:`allowed_methods` and, when it is non-empty, answers 405 with an ``Allow``
header instead of 404 (``encode_error(error, status=405)``: body code 405, status
UNIMPLEMENTED, reason METHOD_NOT_FOUND).

Request bodies are read strictly (``strict=True`` decode: nesting depth limit, no
duplicate member names), as ParseError (HTTP 400) otherwise.

Responses are the ProtoJSON of the response message, unwrapped (GetTask answers the
Task itself, Delete answers ``{}``); streamed events are bare ``StreamResponse`` JSON
(spec §11.7). Errors are ``google.rpc.Status`` in the AIP-193 wrapper with the HTTP
status from the error table and typed ``details`` (spec §11.6):
``{"error":{"code":404,"status":"NOT_FOUND","message":..,"details":[ErrorInfo, ..]}}``.

Client side, :func:`build_request` uses the operation's *first* route (POST for
SubscribeToTask, spec §11.3.2) and percent-encodes path variables; the transport
encodes the query pairs. :func:`parse_response` maps error bodies back to the
exception the server raised: by ErrorInfo reason, else by gRPC status name or HTTP
status (including 409/415/502 from peers built on the 1.0.0 tag, spec §5.4). A non-2xx
answer without an A2A error body raises :class:`~accord.errors.HTTPStatusError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord import types as t
from accord._quote import shorten
from accord.bindings import _routes
from accord.bindings.details import (
    build_details,
    make_error,
    read_details,
    wire_message,
)
from accord.bindings.media import UnsupportedMediaTypeError
from accord.errors import (
    ContentTypeNotSupportedError,
    HTTPStatusError,
    InternalError,
    InvalidAgentResponseError,
    InvalidParamsError,
    MethodNotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProtocolError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnauthenticatedError,
    UnsupportedOperationError,
)
from accord.protocol.errors import spec_for

if TYPE_CHECKING:
    from accord.protocol.operations import Operation

__all__ = [
    "RestCall",
    "allowed_methods",
    "build_request",
    "encode_error",
    "encode_response",
    "encode_stream_event",
    "error_from",
    "parse_request",
    "parse_response",
    "parse_stream_event",
]


@dataclass(frozen=True, slots=True)
class RestCall:
    """A routed, parsed request."""

    operation: Operation
    #: An instance of ``operation.request_type``; ``tenant`` comes from the path.
    params: Any


# --- server side ---------------------------------------------------------------


def parse_request(method: str, path: str, query: str, body: bytes) -> RestCall:
    """Route an HTTP request to its operation and decode its parameters.

    Raises:
        MethodNotFoundError: no route for the path, or not for this verb
            (see :func:`allowed_methods`).
        ParseError: a body route's body is not JSON.
        InvalidParamsError: the parameters do not form a valid request; the message
            names the field or query parameter.
    """
    allowed: list[str] = []
    for route, values, tenant in _routes.candidates(path):
        if route.verb == method:
            if route.body:
                return RestCall(
                    route.operation, _from_body(route, values, tenant, body)
                )
            return RestCall(route.operation, _from_query(route, values, tenant, query))
        allowed.append(route.verb)
    shown = shorten(path)
    if not allowed:
        raise MethodNotFoundError(f"No A2A operation at {shown!r}")
    verbs = ", ".join(sorted(set(allowed)))
    raise MethodNotFoundError(f"{method} is not allowed on {shown!r}; allowed: {verbs}")


def allowed_methods(path: str) -> tuple[str, ...]:
    """The verbs some route accepts for ``path`` (encoded), sorted; empty if none."""
    return tuple(sorted({route.verb for route, _, _ in _routes.candidates(path)}))


def _from_body(
    route: _routes.Route, values: dict[str, str], tenant: str, body: bytes
) -> Any:
    request_type = route.operation.request_type
    empty = not body or body.isspace()
    if not route.path_fields:
        # Hot path (message:send / message:stream): decode straight into the type.
        params: Any = (
            t.convert({}, request_type)
            if empty
            else t.decode(body, request_type, strict=True)
        )
        if params.tenant != tenant:
            params = t.replace(params, tenant=tenant)
        return params
    obj = {} if empty else t.decode_json(body, strict=True)
    if not isinstance(obj, dict):
        raise InvalidParamsError(
            f"Invalid {request_type.__name__}: the request body must be a JSON object"
        )
    for json_name, attr in route.path_fields:
        obj.pop(attr, None)  # the proto-name spelling must not override the path
        obj[json_name] = values[json_name]
    obj.pop("tenant", None)
    if tenant:
        obj["tenant"] = tenant
    return t.convert(obj, request_type)


def _from_query(
    route: _routes.Route, values: dict[str, str], tenant: str, query: str
) -> Any:
    request_type = route.operation.request_type
    fields = _routes.query_fields(request_type)
    obj: dict[str, Any] = {}
    for name, raw in _routes.parse_query(query):
        field = fields.get(name)
        if field is not None:
            value = _routes.coerce(field, name, raw)
            if value is not None:
                obj[field.json_name] = value
    obj.update(values)
    if tenant:
        obj["tenant"] = tenant
    return t.convert(obj, request_type)


def encode_response(result: Any) -> bytes:
    """Encode a response message as ProtoJSON, unwrapped (spec §11.3)."""
    return t.encode(result)


def encode_stream_event(event: t.StreamResponse) -> bytes:
    """Encode one streamed event as the JSON of an SSE ``data`` line (spec §11.7)."""
    return t.encode(event)


#: gRPC status names for the HTTP statuses :func:`encode_error` may be told to use
#: instead of the table's; 405 has no google.rpc mapping, and HTTP/gRPC gateways
#: answer a verb no route takes with UNIMPLEMENTED.
_STATUS_NAMES = {405: "UNIMPLEMENTED"}


def encode_error(
    error: ProtocolError, *, status: int | None = None
) -> tuple[int, bytes]:
    """Return the HTTP status and the AIP-193 error body for ``error`` (spec §11.6).

    ``status`` replaces the error table's HTTP status, for refusals HTTP itself names
    more precisely: 405 Method Not Allowed for a path served under other verbs (RFC
    9110 §15.5.6, sent with ``Allow``). An
    :class:`~accord.bindings.media.UnsupportedMediaTypeError` (a request body that is
    not JSON) is 415 Unsupported Media Type (RFC 9110 §15.5.16). The body's ``code`` always equals the
    status line (spec §11.6); the ErrorInfo ``reason`` still names the A2A error.
    """
    row = spec_for(error)
    if status is None:
        status = (
            415 if isinstance(error, UnsupportedMediaTypeError) else row.http_status
        )
    code = status
    body = {
        "error": {
            "code": code,
            "status": _STATUS_NAMES.get(code, row.grpc_status),
            "message": wire_message(error),
            "details": build_details(error),
        }
    }
    return code, t.encode(body)


# --- client side ---------------------------------------------------------------


def build_request(
    operation: Operation, params: Any
) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """Build ``(verb, encoded path, query pairs, body or None)`` for ``operation``.

    The path is relative to the interface URL and starts with the percent-encoded
    tenant when ``params.tenant`` is set. Query pairs are not yet encoded.

    Raises:
        TypeError: ``params`` is not an ``operation.request_type``.
        InvalidParamsError: a path field is empty (no URL can carry it).
    """
    _check_request(operation, params)
    route = _routes.CLIENT_ROUTES[operation.name]
    path = route.render(params)
    if params.tenant:
        path = "/" + _routes.encode_segment(params.tenant) + path
    if route.body and not route.path_fields and not params.tenant:
        return route.verb, path, [], t.encode(params)  # hot path: SendMessage
    obj = t.to_builtins(params)
    obj.pop("tenant", None)
    for json_name, _ in route.path_fields:
        obj.pop(json_name, None)
    if route.body:
        return route.verb, path, [], t.encode(obj)
    return (
        route.verb,
        path,
        [(name, _query_value(v)) for name, v in obj.items()],
        None,
    )


def _check_request(operation: Operation, params: Any) -> None:
    if not isinstance(params, operation.request_type):
        raise TypeError(
            f"{operation.name} takes {operation.request_type.__name__}, "
            f"got {type(params).__name__}"
        )


def _query_value(value: Any) -> str:
    # Every field of a query route's request is a scalar (asserted by the tests over
    # the operations table); enums are already their names here.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_response(status: int, body: bytes, operation: Operation) -> Any:
    """Decode a response: the ``operation.response_type`` value for a 2xx status.

    Raises:
        ProtocolError: the server answered with an A2A error (the matching subclass).
        HTTPStatusError: a non-2xx status without an A2A error body.
        InvalidAgentResponseError: a 2xx body that is not a valid response.
    """
    if not 200 <= status < 300:
        raise error_from(status, body)
    response_type = operation.response_type
    if response_type is t.Empty and body.strip() in (b"", b"null"):
        return t.Empty()
    try:
        return t.decode(body, response_type)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid {operation.name} response: {exc.message}",
            field_violations=exc.field_violations,
        ) from None


def parse_stream_event(data: str | bytes) -> t.StreamResponse:
    """Decode the data of one SSE event of a streaming operation.

    A2A does not say how REST reports an error once a stream has begun (spec §11.7);
    an event holding an AIP-193 error body is raised as that error.

    Raises:
        ProtocolError: the event is an error body (the matching subclass).
        InvalidAgentResponseError: the data is not a StreamResponse.
    """
    try:
        return t.decode(data, t.StreamResponse)
    except ProtocolError as exc:
        failure = exc
    obj = _json_or_none(data)
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        raise _a2a_error(code if isinstance(code, int) else 500, error)
    raise InvalidAgentResponseError(f"Invalid stream event: {failure.message}")


def _json_or_none(data: str | bytes) -> Any:
    try:
        return t.decode_json(data)
    except ProtocolError:
        return None


#: Classes for error bodies without an A2A ErrorInfo, by gRPC status name, then by
#: HTTP status; 409, 415 and 502 are the 1.0.0-tag mapping (spec §5.4).
_BY_GRPC_STATUS: dict[str, type[ProtocolError]] = {
    "FAILED_PRECONDITION": UnsupportedOperationError,
    "UNIMPLEMENTED": UnsupportedOperationError,
}
_BY_HTTP_STATUS: dict[int, type[ProtocolError]] = {
    400: InvalidParamsError,
    401: UnauthenticatedError,
    403: PermissionDeniedError,
    404: TaskNotFoundError,
    409: TaskNotCancelableError,
    413: PayloadTooLargeError,
    415: ContentTypeNotSupportedError,
    500: InternalError,
    502: InvalidAgentResponseError,
}


def error_from(status: int, body: bytes) -> Exception:
    """The exception of an error answer: the A2A error its AIP-193 body names, or
    :class:`~accord.errors.HTTPStatusError` when it has none."""
    obj = _json_or_none(body)
    error = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return HTTPStatusError(
            f"HTTP {status} without an A2A error body", status_code=status, body=body
        )
    return _a2a_error(status, error)


def _a2a_error(status: int, error: dict[str, Any]) -> ProtocolError:
    name = error.get("status")
    name = name if isinstance(name, str) else ""
    fallback = _BY_GRPC_STATUS.get(name) or _BY_HTTP_STATUS.get(status)
    return make_error(
        fallback,
        error["message"],
        read_details(error.get("details")),
        note=f"the peer answered HTTP {status} {name} without a recognised reason",
    )
