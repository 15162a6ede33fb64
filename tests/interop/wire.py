"""Record what crosses the wire, and check that the receiver decodes all of it.

:class:`Recorder` is an ASGI middleware put around each server under test. It keeps
every HTTP exchange: method, raw path, query, headers, request body, status, response
headers and response body (SSE streams included, byte for byte). Bodies are appended
*before* they are passed on, so whatever a client has received is already recorded.

:func:`check` walks the recorded exchanges, works out which A2A operation each one is
(JSON-RPC by ``method``; HTTP+JSON by verb and path; the card by its well-known path)
and hands every payload to the decoder of the side that *received* it:

* request bodies and params: the server's decoder (the client sent them);
* query strings (GET/DELETE): decoded by both Accord's REST binding and the SDK's
  query parser, which must agree field for field;
* responses, SSE events and cards: the client's decoder (the server sent them);
* errors (JSON-RPC ``error`` objects and AIP-193 REST bodies): each typed detail is
  parsed strictly as the protobuf message its ``@type`` names and must survive the
  round trip, and the receiver must map the error to the class whose ErrorInfo
  ``reason`` the sender put on the wire.

It returns the problems found (empty: everything decoded without loss) and what kinds
of payload were seen, so a test can assert coverage.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from a2a.utils import proto_utils
from a2a.utils.errors import (
    A2A_ERROR_MAPPING,
    A2A_ERROR_REASONS,
    A2A_REASON_TO_ERROR,
    JSON_RPC_ERROR_CODE_MAP,
)
from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2
from starlette.datastructures import QueryParams

from accord import types as t
from accord.bindings import jsonrpc, rest
from accord.errors import ProtocolError
from accord.protocol.errors import spec_for
from accord.protocol.operations import BY_METHOD, Operation

from .lossless import (
    accord_roundtrip,
    diff,
    pb_class,
    sdk_roundtrip,
    without_v03_members,
)

__all__ = [
    "CARD_PATH",
    "Exchange",
    "Outcome",
    "Recorder",
    "Side",
    "check",
    "sse_events",
]

Side = Literal["accord", "sdk"]
Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CARD_PATH = "/.well-known/agent-card.json"
#: Errors A2A gives no JSON-RPC code and the SDK has no class for: they are
#: transport-level refusals (HTTP 401/403, spec §3.3.2), which the SDK's client
#: reports as a plain HTTP error (docs/interop.md D8).
_TRANSPORT_REASONS = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_DETAIL_TYPES = {
    "type.googleapis.com/google.rpc.ErrorInfo": error_details_pb2.ErrorInfo,
    "type.googleapis.com/google.rpc.BadRequest": error_details_pb2.BadRequest,
}


@dataclass
class Exchange:
    """One HTTP request and its response, as they crossed the wire."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytearray = field(default_factory=bytearray)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    @property
    def content_type(self) -> str:
        """The response's media type, without parameters."""
        return self.response_headers.get("content-type", "").split(";")[0].strip()


class Recorder:
    """ASGI middleware recording every HTTP exchange of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> list[Exchange]:
        """A snapshot of the exchanges recorded so far."""
        with self._lock:
            return list(self._exchanges)

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._exchanges.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        exchange = Exchange(
            method=scope["method"],
            path=raw.decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            request_headers={
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in scope["headers"]
            },
        )
        with self._lock:
            self._exchanges.append(exchange)

        async def recording_receive() -> ASGIMessage:
            message = await receive()
            if message["type"] == "http.request":
                exchange.request_body += message.get("body", b"")
            return message

        async def recording_send(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
                if not message.get("more_body", False):
                    exchange.complete = True
            await send(message)

        await self.app(scope, recording_receive, recording_send)


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One complete server-sent event."""

    event: str
    data: str
    id: str | None


def sse_events(body: bytes) -> list[SseEvent]:
    """The complete events of an SSE body (a trailing partial event is left out)."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    blocks = text.split("\n\n")[:-1]  # the last piece is not terminated yet
    events: list[SseEvent] = []
    for block in blocks:
        kind, data, event_id = "message", [], None
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
        if data:
            events.append(SseEvent(kind, "\n".join(data), event_id))
    return events


# --- classification -----------------------------------------------------------------

_SEG = r"(?P<{}>[^/]+)"
_REST: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (
        frozenset(verbs.split("|")),
        re.compile(
            pattern.format(id=_SEG.format("id"), task=_SEG.format("taskId")) + r"\Z"
        ),
        name,
    )
    for verbs, pattern, name in (
        ("POST", r"/message:send", "SendMessage"),
        ("POST", r"/message:stream", "SendStreamingMessage"),
        ("POST", r"/tasks/{id}:cancel", "CancelTask"),
        ("POST|GET", r"/tasks/{id}:subscribe", "SubscribeToTask"),
        (
            "GET",
            r"/tasks/{task}/pushNotificationConfigs/{id}",
            "GetTaskPushNotificationConfig",
        ),
        (
            "DELETE",
            r"/tasks/{task}/pushNotificationConfigs/{id}",
            "DeleteTaskPushNotificationConfig",
        ),
        (
            "GET",
            r"/tasks/{task}/pushNotificationConfigs",
            "ListTaskPushNotificationConfigs",
        ),
        (
            "POST",
            r"/tasks/{task}/pushNotificationConfigs",
            "CreateTaskPushNotificationConfig",
        ),
        ("GET", r"/tasks/{id}", "GetTask"),
        ("GET", r"/tasks", "ListTasks"),
        ("GET", r"/extendedAgentCard", "GetExtendedAgentCard"),
    )
)


def _rest_route(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation and path fields of a REST request (a tenant prefix allowed)."""
    for tenant, rest_of_path in (("", path), _split_tenant(path)):
        for verbs, pattern, name in _REST:
            match = pattern.match(rest_of_path)
            if match and method in verbs:
                fields = {k: unquote(v) for k, v in match.groupdict().items()}
                if tenant:
                    fields["tenant"] = unquote(tenant)
                return BY_METHOD[name], fields
    return None


def _split_tenant(path: str) -> tuple[str, str]:
    tenant, _, rest_of_path = path.removeprefix("/").partition("/")
    return tenant, "/" + rest_of_path


# --- checking -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What :func:`check` found."""

    #: Payloads that did not decode, or did not survive the round trip.
    problems: list[str] = field(default_factory=list)
    #: Kinds of payload checked, e.g. ``("sdk", "JSONRPC", "request", "SendMessageRequest")``.
    seen: set[tuple[str, str, str, str]] = field(default_factory=set)
    #: Known, documented disagreements met on the way (see docs/interop.md).
    notes: set[str] = field(default_factory=set)


def _other(side: Side) -> Side:
    return "sdk" if side == "accord" else "accord"


def check(exchanges: list[Exchange], *, server: Side, jsonrpc_path: str) -> Outcome:
    """Decode every payload of ``exchanges`` with its receiver's decoder."""
    out = Outcome()
    for exchange in exchanges:
        where = f"{exchange.method} {exchange.path}"
        if exchange.path == CARD_PATH:
            if exchange.status == 200:
                _payload(
                    out,
                    where,
                    server,
                    "card",
                    "response",
                    "AgentCard",
                    exchange.response_body,
                )
            continue
        if exchange.method == "POST" and exchange.path == jsonrpc_path:
            _jsonrpc(out, exchange, where, server)
            continue
        route = _rest_route(exchange.method, exchange.path)
        if route is None:
            out.problems.append(f"{where}: not an A2A route")
            continue
        _rest(out, exchange, where, server, *route)
    return out


def _payload(
    out: Outcome,
    where: str,
    sender: Side,
    binding: str,
    direction: str,
    type_name: str,
    data: bytes | bytearray | str,
) -> None:
    """Decode one ProtoJSON payload with the receiver's decoder; record differences."""
    receiver = _other(sender)
    raw = bytes(data) if not isinstance(data, str) else data
    label = f"{where} {direction} {type_name} ({sender} -> {receiver})"
    out.seen.add((sender, binding, direction, type_name))
    try:
        original = json.loads(raw)
        if type_name == "AgentCard" and isinstance(original, dict):
            # The members for v0.3 clients are not v1.0 fields; v1.0 readers (the
            # SDK's card resolver too) ignore them. The rest is checked strictly.
            original = without_v03_members(original)
            raw = json.dumps(original)
        if receiver == "accord":
            again = accord_roundtrip(raw, type_name)
        else:
            again = sdk_roundtrip(raw, type_name)
    except Exception as exc:
        out.problems.append(f"{label}: {receiver} cannot decode it: {exc!r}: {raw!r}")
        return
    descriptor = pb_class(type_name).DESCRIPTOR
    # Accord keeps timestamps to the millisecond (docs/interop.md D3).
    found = diff(original, again, descriptor, ms_timestamps=receiver == "accord")
    out.problems.extend(f"{label}: {d}" for d in found)


def _jsonrpc(out: Outcome, exchange: Exchange, where: str, server: Side) -> None:
    client = _other(server)
    try:
        envelope = json.loads(bytes(exchange.request_body))
        operation = BY_METHOD[envelope["method"]]
    except Exception as exc:
        out.problems.append(f"{where}: unreadable JSON-RPC request: {exc!r}")
        return
    where = f"{where} {operation.name}"
    _envelope(out, where, envelope, request=True)
    params = envelope.get("params", {})
    _payload(
        out,
        where,
        client,
        "JSONRPC",
        "request",
        operation.request_type.__name__,
        json.dumps(params),
    )
    if exchange.content_type == "text/event-stream":
        for event in sse_events(bytes(exchange.response_body)):
            _jsonrpc_answer(out, where, server, operation, event.data.encode(), "event")
    elif exchange.complete:
        _jsonrpc_answer(
            out, where, server, operation, bytes(exchange.response_body), "response"
        )


def _envelope(out: Outcome, where: str, env: Any, *, request: bool) -> None:
    if not isinstance(env, dict) or env.get("jsonrpc") != "2.0":
        out.problems.append(f"{where}: not a JSON-RPC 2.0 object: {env!r}")
        return
    request_id = env.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        out.problems.append(f"{where}: bad JSON-RPC id {request_id!r}")
    if not request and ("result" in env) == ("error" in env):
        out.problems.append(f"{where}: exactly one of result/error expected: {env!r}")


def _jsonrpc_answer(
    out: Outcome,
    where: str,
    server: Side,
    operation: Operation,
    body: bytes,
    direction: str,
) -> None:
    env = json.loads(body)
    _envelope(out, f"{where} {direction}", env, request=False)
    if "error" in env:
        _jsonrpc_error(out, where, server, operation, body, env["error"])
        return
    result = env.get("result")
    type_name = operation.response_type.__name__
    if result is None and type_name == "Empty":
        # The SDK answers Delete with null, ProtoJSON says {} (docs/interop.md D1).
        out.notes.add(f"{server}: JSON-RPC {operation.name} result null")
        result = {}
    _payload(out, where, server, "JSONRPC", direction, type_name, json.dumps(result))


def _details(out: Outcome, where: str, sender: Side, details: Any) -> dict[str, Any]:
    """Check each typed detail survives protobuf; return the ErrorInfo (or {})."""
    if not isinstance(details, list):
        out.problems.append(f"{where}: error details are not a list: {details!r}")
        return {}
    info: dict[str, Any] = {}
    for detail in details:
        type_url = detail.get("@type") if isinstance(detail, dict) else None
        out.seen.add((sender, "error", "detail", str(type_url)))
        message_type = _DETAIL_TYPES.get(str(type_url))
        if message_type is None:
            out.problems.append(f"{where}: unexpected error detail {detail!r}")
            continue
        try:
            parsed = json_format.ParseDict(detail, any_pb2.Any())
            again = json_format.MessageToDict(parsed)
        except Exception as exc:
            out.problems.append(f"{where}: detail does not parse: {exc!r}: {detail!r}")
            continue
        body = {k: v for k, v in detail.items() if k != "@type"}
        back = {k: v for k, v in again.items() if k != "@type"}
        found = diff(body, back, message_type.DESCRIPTOR)
        out.problems.extend(f"{where}: detail {d}" for d in found)
        if type_url == _ERROR_INFO and not info:
            info = detail
    return info


def _jsonrpc_error(
    out: Outcome,
    where: str,
    sender: Side,
    operation: Operation,
    body: bytes,
    error: Any,
) -> None:
    if not isinstance(error, dict):
        out.problems.append(f"{where}: error is not an object: {error!r}")
        return
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, int) or not isinstance(message, str):
        out.problems.append(f"{where}: bad error code/message: {error!r}")
        return
    info = _details(out, where, sender, error.get("data", []))
    reason = info.get("reason")
    out.seen.add((sender, "JSONRPC", "error", str(reason)))
    if _other(sender) == "accord":
        _accord_reads_error(
            out, where, info, lambda: jsonrpc.parse_response(body, operation), message
        )
    elif reason in _TRANSPORT_REASONS:
        out.notes.add(f"{sender}: JSON-RPC {reason} is an HTTP error to the SDK")
    else:
        cls = next((c for c, n in JSON_RPC_ERROR_CODE_MAP.items() if n == code), None)
        if cls is None or A2A_ERROR_REASONS.get(cls) != reason:
            out.problems.append(
                f"{where}: the SDK maps code {code} to {cls}, not to reason {reason}"
            )


def _accord_reads_error(
    out: Outcome,
    where: str,
    info: dict[str, Any],
    parse: Callable[[], Any],
    message: str,
) -> None:
    try:
        parse()
    except ProtocolError as error:
        if spec_for(error).reason != info.get("reason"):
            out.problems.append(
                f"{where}: Accord reads {type(error).__name__}, the wire says {info!r}"
            )
        if error.message != message:
            out.problems.append(f"{where}: message {error.message!r} != {message!r}")
        if dict(error.metadata or {}) != (info.get("metadata") or {}):
            out.problems.append(
                f"{where}: metadata {error.metadata!r} != {info.get('metadata')!r}"
            )
    else:
        out.problems.append(f"{where}: Accord does not read the error {info!r}")


def _rest(
    out: Outcome,
    exchange: Exchange,
    where: str,
    server: Side,
    operation: Operation,
    path_fields: dict[str, str],
) -> None:
    client = _other(server)
    where = f"{where} {operation.name}"
    request_type = operation.request_type.__name__
    route_has_body = exchange.method == "POST"
    if route_has_body and exchange.request_body.strip():
        _payload(
            out,
            where,
            client,
            "HTTP+JSON",
            "request",
            request_type,
            exchange.request_body,
        )
    elif not route_has_body:
        _query(out, exchange, where, client, operation, path_fields)
    status = exchange.status or 0
    body = bytes(exchange.response_body)
    if status >= 400:
        if exchange.complete:
            _rest_error(out, where, server, operation, status, body)
        return
    type_name = operation.response_type.__name__
    if exchange.content_type == "text/event-stream":
        for event in sse_events(body):
            if event.event == "error":
                _rest_error(out, where, server, operation, None, event.data.encode())
            else:
                _payload(
                    out, where, server, "HTTP+JSON", "event", type_name, event.data
                )
    elif exchange.complete:
        _payload(out, where, server, "HTTP+JSON", "response", type_name, body)


def _query(
    out: Outcome,
    exchange: Exchange,
    where: str,
    sender: Side,
    operation: Operation,
    path_fields: dict[str, str],
) -> None:
    """Both sides must read the same request from the path and query string."""
    type_name = operation.request_type.__name__
    out.seen.add((sender, "HTTP+JSON", "query", type_name))
    try:
        call = rest.parse_request(exchange.method, exchange.path, exchange.query, b"")
        accord_view = t.to_builtins(call.params)
    except Exception as exc:
        out.problems.append(f"{where}: Accord cannot read the query: {exc!r}")
        return
    try:
        message = pb_class(type_name)()
        proto_utils.parse_params(QueryParams(exchange.query), message)
        sdk_view = json_format.MessageToDict(message)
        sdk_view.update(path_fields)
    except Exception as exc:
        out.problems.append(f"{where}: the SDK cannot read the query: {exc!r}")
        return
    found = diff(sdk_view, accord_view, pb_class(type_name).DESCRIPTOR)
    out.problems.extend(f"{where} query {exchange.query!r}: {d}" for d in found)


def _rest_error(
    out: Outcome,
    where: str,
    sender: Side,
    operation: Operation,
    status: int | None,
    body: bytes,
) -> None:
    """An AIP-193 error body; ``status`` is None for an error event in a stream."""
    try:
        wrapper = json.loads(body)
        error = wrapper["error"]
        code, grpc_status, message = error["code"], error["status"], error["message"]
    except Exception as exc:
        out.problems.append(f"{where}: not an AIP-193 error body: {exc!r}: {body!r}")
        return
    if set(wrapper) != {"error"} or set(error) - {
        "code",
        "status",
        "message",
        "details",
    }:
        out.problems.append(f"{where}: unexpected members in the error body: {body!r}")
    info = _details(out, where, sender, error.get("details", []))
    reason = info.get("reason")
    out.seen.add((sender, "HTTP+JSON", "error", str(reason)))
    if _other(sender) == "accord":
        _accord_reads_error(
            out,
            where,
            info,
            lambda: rest.parse_response(code, body, operation),
            message,
        )
    elif reason in _TRANSPORT_REASONS:
        out.notes.add(f"{sender}: REST {reason} is an HTTP error to the SDK")
    else:
        cls = A2A_REASON_TO_ERROR.get(str(reason))
        mapping = A2A_ERROR_MAPPING.get(cls) if cls is not None else None
        if mapping is None or (mapping.http_code, mapping.grpc_status) != (
            code,
            grpc_status,
        ):
            out.problems.append(
                f"{where}: the SDK maps reason {reason} to {mapping}, the wire says {code} {grpc_status}"
            )
    if status is not None and status != code:
        out.problems.append(f"{where}: HTTP {status} but error.code {code}")
