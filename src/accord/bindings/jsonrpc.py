"""The JSON-RPC 2.0 binding: request/response bytes <-> operations and values (spec §9).

Theory of operation. Every function is pure: bytes in, values out, or values in, bytes
out; nothing here does I/O, and the ASGI server and the client transport only move the
bytes. The method name is the operation's name in the operations table
(:data:`~accord.protocol.operations.OPERATIONS`, spec §9.4, PascalCase), ``params``
is the ProtoJSON of the operation's request message and ``result`` the ProtoJSON of
its response message (spec §9.3). Streaming
operations answer with SSE; the data of every event is a complete JSON-RPC response
carrying one ``StreamResponse`` (spec §9.4.2).

Server side, :func:`parse_request` reads the body strictly (:func:`decode_jsonrpc`:
depth limit, no duplicate member names, ``params`` left undecoded), checks the
envelope, looks the method up, and only then converts ``params`` into the request
type. Every refusal is a :class:`JsonRpcRejection` holding the JSON-RPC error to send
and the request id when it could be read:

===================================================  ===========================
problem                                              error
===================================================  ===========================
body is not JSON, nested deeper than                 ParseError -32700, id null
``MAX_JSON_DEPTH``, or repeats a member name
batch (array), non-object, ``jsonrpc`` != "2.0",     InvalidRequestError -32600
missing/null/non-scalar ``id``, non-string method,
scalar ``params`` (JSON-RPC 2.0 §4.2)
id longer than :data:`MAX_ID_LENGTH`                 InvalidRequestError, id null
unknown method                                       MethodNotFoundError -32601
``params`` an array, or not a valid request message  InvalidParamsError -32602
===================================================  ===========================

A2A requires every request to carry an id (spec §9.3), so notifications (no id)
and ``"id": null`` are refused. ``params`` may be omitted (or ``null``) when the
request message has no required field, e.g. ``GetExtendedAgentCard``.

Responses are built by concatenating bytes around the encoded payload, and request
ids are echoed exactly as received (a string stays a string, a number a number); an id
is at most :data:`MAX_ID_LENGTH` characters so the echo stays small.
Errors carry ``data``: a list of typed details, a ``google.rpc.ErrorInfo`` with the
error's reason (SHOULD since 1.0.1, spec §9.5) and a ``google.rpc.BadRequest`` when the
error names fields (see :mod:`accord.bindings.details`).

Client side, :func:`build_request` makes the request body, and :func:`parse_response` /
:func:`parse_stream_event` turn an answer back into the response value or raise the
:class:`~accord.errors.ProtocolError` subclass the server raised: by ErrorInfo reason
first, then by JSON-RPC code (spec §9.5), keeping message, metadata and field
violations. A v0.3 peer's non-list ``error.data`` is kept in ``ProtocolError.data``.
An answer that is not a well-formed JSON-RPC response raises
:class:`~accord.errors.InvalidAgentResponseError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from accord import types as t
from accord._quote import shorten
from accord._slots import slot_setters
from accord.bindings import v03, v03_card
from accord.bindings.details import (
    build_details,
    make_error,
    read_details,
    wire_message,
)
from accord.errors import (
    InvalidAgentResponseError,
    InvalidParamsError,
    InvalidRequestError,
    MethodNotFoundError,
    ProtocolError,
    UnsupportedOperationError,
    VersionNotSupportedError,
)
from accord.protocol.errors import from_jsonrpc_code, spec_for
from accord.protocol.operations import BY_METHOD, Operation
from accord.protocol.versioning import CURRENT_VERSION

# Implemented beside the codec (accord.types is the only msgspec caller); they belong
# to this binding's API.
from accord.types.jsonrpc import (
    JsonRpcEnvelope,
    JsonRpcResult,
    decode_jsonrpc,
    split_jsonrpc,
)

__all__ = [
    "MAX_ID_LENGTH",
    "JsonRpcCall",
    "JsonRpcEnvelope",
    "JsonRpcRejection",
    "RequestId",
    "RequestParts",
    "build_request",
    "build_request_v03",
    "encode_error",
    "encode_result",
    "encode_result_v03",
    "encode_stream_event",
    "encode_stream_event_v03",
    "parse_request",
    "parse_response",
    "parse_response_v03",
    "parse_stream_event",
    "parse_stream_event_v03",
    "read_request",
    "split_jsonrpc",
]

#: A JSON-RPC request id: a string or a number; ``None`` (JSON ``null``) only in
#: error responses to requests whose id could not be read.
RequestId = str | int | float | None

#: Longest request id accepted, in characters (a string) or digits (an integer); a
#: longer one is refused as Invalid Request with id null (docs/spec-notes.md).
MAX_ID_LENGTH = 128
_ID_INT_BOUND = 10**MAX_ID_LENGTH

_VERSION = "2.0"
_RESPONSE_HEAD = b'{"jsonrpc":"2.0","id":'


@dataclass(frozen=True, slots=True, init=False)
class JsonRpcCall:
    """A parsed, valid request: which operation to run, with what."""

    id: RequestId
    operation: Operation
    #: An instance of ``operation.request_type``.
    params: Any
    #: The v0.3 method the client called (:mod:`accord.bindings.v03`), else "".
    v03_method: str

    def __init__(
        self, id: RequestId, operation: Operation, params: Any, v03_method: str = ""
    ) -> None:
        # Written out, as CallContext's (accord.server.context): one per request, and
        # the generated frozen __init__'s object.__setattr__ per field costs several
        # times the slots' own setters (the class stays frozen).
        _set_id(self, id)
        _set_operation(self, operation)
        _set_params(self, params)
        _set_v03_method(self, v03_method)


# The slots' own setters (see JsonRpcCall.__init__).
_set_id, _set_operation, _set_params, _set_v03_method = slot_setters(
    JsonRpcCall, "id", "operation", "params", "v03_method"
)


class JsonRpcRejection(Exception):
    """Raised by :func:`parse_request` for a request that cannot be served.

    Answer it with ``encode_error(rejection.request_id, rejection.error)``.
    """

    def __init__(self, error: ProtocolError, request_id: RequestId = None) -> None:
        super().__init__(error.message)
        #: The request's id if it could be read, else ``None``.
        self.request_id: RequestId = request_id
        self.error: ProtocolError = error


# --- server side ---------------------------------------------------------------


#: What :func:`read_request` gives: the id, the operation, its params (an instance of
#: ``operation.request_type``) and the v0.3 method called (``""`` for v1.0).
RequestParts = tuple[RequestId, Operation, Any, str]


def parse_request(body: bytes, *, version: str = CURRENT_VERSION) -> JsonRpcCall:
    """Parse a JSON-RPC request body into the operation and its typed params.

    ``version`` is the request's negotiated A2A version: ``0.3`` reads v0.3's methods
    and shapes (:mod:`accord.bindings.v03`), anything else v1.0's.

    Raises:
        JsonRpcRejection: the request is invalid; see the module docstring for which
            error each problem gets.
    """
    return JsonRpcCall(*read_request(body, version=version))


def read_request(body: bytes, *, version: str = CURRENT_VERSION) -> RequestParts:
    """:func:`parse_request`'s call as a plain tuple: a server keeps the parts it
    answers with, and needs no frozen :class:`JsonRpcCall` per request (building one
    costs ~1 % of a blocking SendMessage).

    Raises:
        JsonRpcRejection: as :func:`parse_request`.
    """
    try:
        request = decode_jsonrpc(body)
    except ProtocolError as exc:  # ParseError, or InvalidRequestError for a batch
        if isinstance(exc, InvalidRequestError) and body.lstrip()[:1] == b"[":
            exc = InvalidRequestError(
                "Invalid request: batch requests are not supported"
            )
        raise JsonRpcRejection(exc) from None
    get = request.get
    request_id: Any = get("id")
    kind = type(request_id)
    # The usual id, a short string or a small integer, needs none of _late's checks.
    if (kind is str and len(request_id) <= MAX_ID_LENGTH) or (
        kind is int and -_ID_INT_BOUND < request_id < _ID_INT_BOUND
    ):
        late = False
    else:
        late = _late(request, version)
    if get("jsonrpc") != _VERSION:
        error = InvalidRequestError('Invalid request: "jsonrpc" must be "2.0"')
        raise JsonRpcRejection(error, request_id)
    method = get("method")
    if not isinstance(method, str):
        error = InvalidRequestError('Invalid request: "method" must be a string')
        raise JsonRpcRejection(error, request_id)
    v03_method = method if version == v03.VERSION else ""
    operation = None if v03_method else BY_METHOD.get(method)  # the usual case
    if operation is None:
        operation = _operation(method, v03_method, request_id)
    params = get("params")
    if v03_method:
        params = v03.params_from_v03(method, params)
    try:
        if type(params) is dict:
            value: Any = t.convert(params, operation.request_type)
        elif params is None:  # omitted or null: only if nothing is required
            value = t.convert({}, operation.request_type)
        elif type(params) is list:
            raise InvalidParamsError(
                "Invalid params: A2A params are by-name (a JSON object), not an array"
            )
        else:
            raise InvalidRequestError('Invalid request: "params" must be a JSON object')
    except ProtocolError as exc:
        raise JsonRpcRejection(exc, request_id) from None
    if late:
        raise JsonRpcRejection(_no_id(has_id=False))
    return request_id, operation, value, v03_method


def _late(request: dict[str, Any], version: str) -> bool:
    """Check the id of ``request`` (not a short string or small integer); whether it is
    missing from a v0.3 request, which is refused once its method and params are read
    (the v0.3 conformance suite expects MethodNotFound / InvalidParams first).

    Raises:
        JsonRpcRejection: no id, or one that is null, not a scalar, or too long.
    """
    request_id: Any = request.get("id")
    has_id = "id" in request
    notification = not has_id
    late = notification and version == v03.VERSION
    if (notification and not late) or (has_id and not _valid_id(request_id)):
        raise JsonRpcRejection(_no_id(has_id))
    if not _short_id(request_id):
        error = InvalidRequestError(
            f"Invalid request: the id is longer than {MAX_ID_LENGTH} characters; "
            "use a shorter id (a UUID is 36)"
        )
        raise JsonRpcRejection(error)
    return late


def _no_id(has_id: bool) -> InvalidRequestError:
    what = "a null or non-scalar id" if has_id else "no id (a notification)"
    return InvalidRequestError(
        f"Invalid request: A2A requests carry a string or number id; got {what}"
    )


def _operation(method: str, v03_method: str, request_id: RequestId) -> Operation:
    """The operation ``method`` names in the request's version (spec §3.6)."""
    if v03_method:
        name = v03.METHODS.get(method)
        if name is not None:
            return BY_METHOD[name]
        if method in BY_METHOD:
            error: ProtocolError = VersionNotSupportedError(
                f"{method} is an A2A {CURRENT_VERSION} method, but the request speaks "
                f"A2A {v03.VERSION} (no A2A-Version header was sent, which means "
                f"{v03.VERSION}); send A2A-Version: {CURRENT_VERSION}",
                metadata={
                    "supportedVersions": f"{CURRENT_VERSION},{v03.VERSION}",
                    "requestedVersion": v03.VERSION,
                },
            )
            raise JsonRpcRejection(error, request_id)
    else:
        operation = BY_METHOD.get(method)
        if operation is not None:
            return operation
        if method in v03.METHODS:
            error = MethodNotFoundError(
                f"Method not found: {method!r} is an A2A {v03.VERSION} method, and the "
                f"request says A2A-Version {CURRENT_VERSION}; call "
                f"{v03.METHODS[method]} (or send no A2A-Version header to speak "
                f"{v03.VERSION})"
            )
            raise JsonRpcRejection(error, request_id)
    raise JsonRpcRejection(
        MethodNotFoundError(f"Method not found: {shorten(method)!r}"), request_id
    )


def _valid_id(value: Any) -> bool:
    # JSON-RPC 2.0 §4: a string or a number; bool is not a number here.
    kind = type(value)
    if kind is str or kind is int:  # what decoded JSON ids are, nearly always
        return True
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _short_id(value: str | int | float) -> bool:
    # The response echoes the id (JSON-RPC 2.0 §5), so its size is bounded here.
    if type(value) is str:
        return len(value) <= MAX_ID_LENGTH
    return not isinstance(value, int) or -_ID_INT_BOUND < value < _ID_INT_BOUND


def encode_result(request_id: RequestId, result: Any) -> bytes:
    """Encode a success response: ``{"jsonrpc":"2.0","id":..,"result":..}``."""
    # One encode of the members in this order writes exactly those bytes.
    return t.encode(JsonRpcResult(_VERSION, request_id, result))


def encode_stream_event(request_id: RequestId, event: t.StreamResponse) -> bytes:
    """Encode one streamed event as the JSON of an SSE ``data`` line (spec §9.4.2)."""
    return encode_result(request_id, event)


def encode_result_v03(request_id: RequestId, call: JsonRpcCall, result: Any) -> bytes:
    """Encode the success response of a v0.3 ``call`` (:func:`v03.result_to_v03`)."""
    value = t.to_builtins(result)
    if isinstance(result, t.AgentCard):
        # The extended card, with the members a v0.3 client reads (v03_card).
        url = next(
            (
                i.url
                for i in result.supported_interfaces
                if i.protocol_binding.upper() == "JSONRPC"
            ),
            "",
        )
        value = v03_card.hybrid_card(value, url) if url else value
    else:
        value = v03.result_to_v03(call.operation.name, value)
    return (
        _RESPONSE_HEAD + t.encode(request_id) + b',"result":' + t.encode(value) + b"}"
    )


def encode_stream_event_v03(
    request_id: RequestId, call: JsonRpcCall, event: t.StreamResponse
) -> bytes:
    """Encode one event of a v0.3 stream (``message/stream``, ``tasks/resubscribe``)."""
    subscription = call.v03_method == "tasks/resubscribe"
    value = v03.event_to_v03(t.to_builtins(event), subscription=subscription)
    return (
        _RESPONSE_HEAD + t.encode(request_id) + b',"result":' + t.encode(value) + b"}"
    )


def encode_error(request_id: RequestId, error: ProtocolError) -> bytes:
    """Encode an error response with the table's code and typed details in ``data``."""
    body = {
        "code": spec_for(error).jsonrpc_code,
        "message": wire_message(error),
        "data": build_details(error),
    }
    return _RESPONSE_HEAD + t.encode(request_id) + b',"error":' + t.encode(body) + b"}"


# --- client side ---------------------------------------------------------------


def build_request(request_id: RequestId, operation: Operation, params: Any) -> bytes:
    """Encode a request for ``operation``.

    Raises:
        TypeError: ``params`` is not an ``operation.request_type``, or the id is
            not a string or number.
    """
    if not isinstance(params, operation.request_type):
        raise TypeError(
            f"{operation.name} takes {operation.request_type.__name__}, "
            f"got {type(params).__name__}"
        )
    if not _valid_id(request_id):
        raise TypeError(
            f"a JSON-RPC request id is a string or number, got {request_id!r}"
        )
    return (
        b'{"jsonrpc":"2.0","id":'
        + t.encode(request_id)
        + b',"method":"'
        + operation.name.encode()
        + b'","params":'
        + t.encode(params)
        + b"}"
    )


def build_request_v03(
    request_id: RequestId, operation: Operation, params: Any
) -> bytes:
    """Encode a request for ``operation`` to an agent that speaks only A2A 0.3
    (:mod:`accord.bindings.v03`).

    Raises:
        UnsupportedOperationError: the operation has no v0.3 method (ListTasks).
        TypeError: as :func:`build_request`.
    """
    method = v03.METHOD_OF.get(operation.name)
    if method is None:
        raise UnsupportedOperationError(
            f"{operation.name} does not exist in A2A {v03.VERSION}, the only version "
            "this agent speaks"
        )
    build_request(request_id, operation, params)  # the same checks
    request = {
        "jsonrpc": _VERSION,
        "id": request_id,
        "method": method,
        "params": v03.params_to_v03(operation.name, t.to_builtins(params)),
    }
    return t.encode(request)


def parse_response_v03(body: bytes, operation: Operation) -> Any:
    """Decode a v0.3 agent's response into an ``operation.response_type`` value.

    Raises:
        ProtocolError: the agent answered with an error (codes as in v1.0).
        InvalidAgentResponseError: the body is not a valid response.
    """
    name = operation.name
    result = _result_json(body, name)
    if name == "GetExtendedAgentCard" and isinstance(result, dict):
        result = v03_card.card_to_v1(result)
    else:
        result = v03.result_from_v03(name, result)
    return _convert(result, operation.response_type, name)


def parse_stream_event_v03(data: str | bytes, operation: Operation) -> t.StreamResponse:
    """Decode one SSE event of a v0.3 agent's stream."""
    result = _result_json(data, operation.name)
    return _convert(v03.event_from_v03(result), t.StreamResponse, operation.name)


T = TypeVar("T")


@dataclass(slots=True)
class _Response(Generic[T]):
    """A JSON-RPC response decoded in one pass, ``result`` straight into its type."""

    jsonrpc: Any = None
    id: Any = None
    result: T | None = None
    error: Any = None


def parse_response(body: bytes, operation: Operation) -> Any:
    """Decode a JSON-RPC response into an ``operation.response_type`` value.

    Raises:
        ProtocolError: the server answered with an error (the matching subclass).
        InvalidAgentResponseError: the body is not a valid response.
    """
    return _parse(body, operation.response_type, operation.name)


def parse_stream_event(data: str | bytes, operation: Operation) -> t.StreamResponse:
    """Decode the data of one SSE event of a streaming operation.

    Raises:
        ProtocolError: the event is an error response (the matching subclass).
        InvalidAgentResponseError: the data is not a valid response.
    """
    event: t.StreamResponse = _parse(data, t.StreamResponse, operation.name)
    return event


def _parse(body: str | bytes, type_: type[T], name: str) -> T:
    try:
        env = t.decode(body, _Response[type_])  # type: ignore[valid-type]
    except ProtocolError:
        env = None  # not JSON, or not canonical: re-read below
    if (
        env is not None
        and env.jsonrpc == _VERSION
        and env.error is None
        and env.result is not None
    ):
        result: T = env.result
        return result
    return _parse_slow(body, type_, name)


def _parse_slow(body: str | bytes, type_: type[T], name: str) -> T:
    # Everything off the fast path: errors, null results, lenient ProtoJSON, garbage.
    result = _result_json(body, name)
    if result is None and type_ is t.Empty:
        result = {}  # spec §9.4.7: Delete answers {} (ProtoJSON) or null (SDK, v0.3)
    return _convert(result, type_, name)


def _result_json(body: str | bytes, name: str) -> Any:
    """The ``result`` of a JSON-RPC response as plain JSON; raises its error."""
    try:
        obj = t.decode_json(body)
    except ProtocolError:
        raise InvalidAgentResponseError(
            f"Invalid {name} response: the body is not JSON"
        ) from None
    if not isinstance(obj, dict) or obj.get("jsonrpc") != _VERSION:
        raise InvalidAgentResponseError(
            f"Invalid {name} response: not a JSON-RPC 2.0 response object"
        )
    error = obj.get("error")
    if error is not None:
        # Some peers send "result": null next to an error; tolerate only that.
        if obj.get("result") is not None:
            raise InvalidAgentResponseError(
                f"Invalid {name} response: both result and error are set"
            )
        raise _error_from(error, name)
    if "result" not in obj:
        raise InvalidAgentResponseError(f"Invalid {name} response: no result or error")
    return obj["result"]


def _convert(result: Any, type_: type[T], name: str) -> T:
    try:
        return t.convert(result, type_)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid {name} response: {exc.message}",
            field_violations=exc.field_violations,
        ) from None


def _error_from(error: Any, name: str) -> ProtocolError:
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if (
        not isinstance(code, int)
        or isinstance(code, bool)
        or not isinstance(message, str)
    ):
        return InvalidAgentResponseError(
            f"Invalid {name} response: an error needs an int code and a string message"
        )
    row = from_jsonrpc_code(code)
    return make_error(
        row.cls if row is not None else None,
        message,
        read_details(error.get("data")),
        note=f"the peer sent the unrecognised JSON-RPC error code {code}",
    )
