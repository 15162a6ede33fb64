"""A2A v0.3 over HTTP+JSON: its ``/v1/...`` routes and bodies, mapped onto v1.0 (sans-IO).

v0.3's REST binding is the HTTP transcoding of its proto (package ``a2a.v1``): the
routes below, with ProtoJSON bodies of that proto (:mod:`accord.bindings.v03_proto`).
A request is served as v0.3 when it says ``A2A-Version: 0.3`` or no version (spec
§3.6.2) and its path is one of these; v1.0's routes carry no ``/v1`` prefix, so a
v1.0 request (``A2A-Version: 1.0``) for ``/v1/...`` is v1.0's, with ``v1`` as tenant.

Each request goes: route → the v0.3 proto request (path variables, query, body) →
v0.3 JSON-RPC ``params`` (:func:`~accord.bindings.v03_proto.request_in`) → v1.0
ProtoJSON (:func:`~accord.bindings.v03.params_from_v03`) → the v1.0 request type,
validated as every request is. Answers go the other way. Errors are v1.0's AIP-193
body (what the reference SDK's v0.3 REST handler sends) plus the top-level ``type``
(the error's class name) and ``message`` that v0.3 REST clients read.

The routes (v0.3 proto HTTP annotations):

=========================================================  ==============================
``POST /v1/message:send``                                  ``message/send``
``POST /v1/message:stream``                                ``message/stream`` (SSE)
``GET /v1/tasks/{id}`` (``?historyLength=``)                ``tasks/get``
``POST /v1/tasks/{id}:cancel``                             ``tasks/cancel``
``GET|POST /v1/tasks/{id}:subscribe``                      ``tasks/resubscribe`` (SSE)
``POST /v1/tasks/{id}/pushNotificationConfigs``            ``.../set``
``GET /v1/tasks/{id}/pushNotificationConfigs``             ``.../list``
``GET /v1/tasks/{id}/pushNotificationConfigs/{configId}``  ``.../get``
``DELETE /v1/tasks/{id}/pushNotificationConfigs/{cid}``    ``.../delete``
``GET /v1/card``                                           ``agent/getAuthenticatedExtendedCard``
=========================================================  ==============================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from accord import types as t
from accord.bindings import rest, v03, v03_card, v03_proto
from accord.errors import (
    HTTPStatusError,
    InvalidAgentResponseError,
    InvalidParamsError,
    MethodNotFoundError,
    ProtocolError,
    UnsupportedOperationError,
)
from accord.protocol.errors import ERRORS, spec_for
from accord.protocol.operations import Operation, op

__all__ = [
    "PREFIX",
    "V03RestCall",
    "build_request",
    "encode_error",
    "encode_result",
    "encode_stream_event",
    "is_v03_path",
    "parse_request",
    "parse_response",
    "parse_stream_event",
]

#: Every v0.3 REST path starts with it.
PREFIX = "/v1/"
_CONFIGS = "pushNotificationConfigs"


@dataclass(frozen=True, slots=True)
class V03RestCall:
    """A routed v0.3 REST request: its v0.3 method, the v1.0 operation and request."""

    method: str
    operation: Operation
    params: Any


def is_v03_path(path: str) -> bool:
    """True for a path under v0.3's ``/v1/`` prefix."""
    return path.startswith(PREFIX)


def _route(verb: str, segments: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The v0.3 method and the proto request's path fields, or None."""
    if segments == ["message:send"] and verb == "POST":
        return "message/send", {}
    if segments == ["message:stream"] and verb == "POST":
        return "message/stream", {}
    if segments == ["card"] and verb == "GET":
        return "agent/getAuthenticatedExtendedCard", {}
    if len(segments) < 2 or segments[0] != "tasks" or not segments[1]:
        return None
    task = segments[1]
    if len(segments) == 2:
        if task.endswith(":cancel") and verb == "POST":
            return "tasks/cancel", {"name": "tasks/" + task.removesuffix(":cancel")}
        if task.endswith(":subscribe") and verb in ("GET", "POST"):
            name = "tasks/" + task.removesuffix(":subscribe")
            return "tasks/resubscribe", {"name": name}
        if ":" not in task and verb == "GET":
            return "tasks/get", {"name": "tasks/" + task}
        return None
    if segments[2] != _CONFIGS or len(segments) > 4:
        return None
    if len(segments) == 3:
        parent = {"parent": "tasks/" + task}
        if verb == "POST":
            return "tasks/pushNotificationConfig/set", parent
        if verb == "GET":
            return "tasks/pushNotificationConfig/list", parent
        return None
    config = {"name": f"tasks/{task}/{_CONFIGS}/{segments[3]}"}
    if verb == "GET":
        return "tasks/pushNotificationConfig/get", config
    if verb == "DELETE":
        return "tasks/pushNotificationConfig/delete", config
    return None


def parse_request(verb: str, path: str, query: str, body: bytes) -> V03RestCall:
    """Route and decode one v0.3 REST request.

    Raises:
        MethodNotFoundError: no v0.3 route takes ``verb`` and ``path``.
        ParseError: the body is not JSON.
        InvalidParamsError: the request is not valid (the field is named).
    """
    segments = [unquote(s) for s in path.removeprefix(PREFIX).split("/")]
    routed = _route(verb, segments)
    if routed is None:
        raise MethodNotFoundError(f"No A2A v0.3 route for {verb} {path[:200]}")
    method, fields = routed
    request: dict[str, Any] = {}
    if body and not body.isspace() and verb in ("POST", "PUT", "PATCH"):
        decoded = t.decode_json(body, strict=True)
        if not isinstance(decoded, dict):
            raise InvalidParamsError(
                "Invalid request: the request body must be a JSON object"
            )
        request = decoded
    if method == "tasks/pushNotificationConfig/set":
        request = {"config": request}  # the body is the config (`body: "config"`)
    if method == "tasks/get":
        for key, value in parse_qsl(query):
            if key in ("historyLength", "history_length"):
                request["historyLength"] = _int(key, value)
    request.update(fields)
    params = v03.params_from_v03(method, v03_proto.request_in(method, request))
    operation = op(v03.METHODS[method])
    return V03RestCall(method, operation, t.convert(params, operation.request_type))


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParamsError(
            f"Invalid query parameter {name}: expected an integer",
            field_violations=[(name, "expected an integer")],
        ) from None


def encode_result(call: V03RestCall, result: Any, *, card_url: str = "") -> bytes:
    """The v0.3 proto ProtoJSON of a v1.0 ``result`` of ``call``."""
    data = t.to_builtins(result)
    if call.method == "agent/getAuthenticatedExtendedCard":
        return t.encode(v03_proto.card_out(data, card_url, "HTTP+JSON"))
    v03_result = v03.result_to_v03(call.operation.name, data)
    return t.encode(v03_proto.result_out(call.method, v03_result))


def encode_stream_event(call: V03RestCall, event: t.StreamResponse) -> bytes:
    """One v1.0 stream event as v0.3's ``StreamResponse`` (an SSE ``data`` line)."""
    subscription = call.method == "tasks/resubscribe"
    v03_event = v03.event_to_v03(t.to_builtins(event), subscription=subscription)
    return t.encode(v03_proto.event_out(v03_event))


def encode_error(
    error: ProtocolError, *, status: int | None = None
) -> tuple[int, bytes]:
    """v1.0's AIP-193 error body (:func:`accord.bindings.rest.encode_error`) with the
    top-level ``type`` and ``message`` v0.3 REST clients read."""
    code, body = rest.encode_error(error, status=status)
    wrapped = t.decode_json(body)
    error_body = wrapped["error"]
    wrapped["type"] = spec_for(error).cls.__name__
    wrapped["message"] = error_body["message"]
    return code, t.encode(wrapped)


# --- client side: calling a v0.3 agent over HTTP+JSON ---------------------------------

#: v0.3 JSON-RPC method -> (verb, path template); ``{id}`` and ``{config}`` are filled
#: from the v0.3 params, percent-encoded.
_ROUTES_OUT: dict[str, tuple[str, str]] = {
    "message/send": ("POST", "/v1/message:send"),
    "message/stream": ("POST", "/v1/message:stream"),
    "tasks/get": ("GET", "/v1/tasks/{id}"),
    "tasks/cancel": ("POST", "/v1/tasks/{id}:cancel"),
    "tasks/resubscribe": ("GET", "/v1/tasks/{id}:subscribe"),
    "tasks/pushNotificationConfig/set": ("POST", "/v1/tasks/{task}/pushNotificationConfigs"),
    "tasks/pushNotificationConfig/get": ("GET", "/v1/tasks/{id}/pushNotificationConfigs/{config}"),
    "tasks/pushNotificationConfig/list": ("GET", "/v1/tasks/{id}/pushNotificationConfigs"),
    "tasks/pushNotificationConfig/delete": ("DELETE", "/v1/tasks/{id}/pushNotificationConfigs/{config}"),
    "agent/getAuthenticatedExtendedCard": ("GET", "/v1/card"),
}  # fmt: skip


def build_request(
    operation: Operation, params: Any
) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """The verb, path (below the interface URL), query and body of a v0.3 request for
    the v1.0 ``params`` of ``operation``.

    Raises:
        UnsupportedOperationError: v0.3 has no such operation (ListTasks).
    """
    method = v03.METHOD_OF.get(operation.name)
    if method is None:
        raise UnsupportedOperationError(
            f"{operation.name} does not exist in A2A {v03.VERSION}, the only version "
            "this agent speaks"
        )
    v03_params = v03.params_to_v03(operation.name, t.to_builtins(params))
    verb, template = _ROUTES_OUT[method]
    path = template.format(
        id=quote(str(v03_params.get("id", "")), safe=""),
        task=quote(str(v03_params.get("taskId", "")), safe=""),
        config=quote(str(v03_params.get("pushNotificationConfigId", "")), safe=""),
    )
    query: list[tuple[str, str]] = []
    if method == "tasks/get" and "historyLength" in v03_params:
        query.append(("historyLength", str(v03_params["historyLength"])))
    body: bytes | None = None
    if verb == "POST":
        request = v03_proto.request_out(method, v03_params)
        if method == "tasks/pushNotificationConfig/set":
            request = request["config"]  # the body is the config (`body: "config"`)
        elif method == "tasks/cancel":
            request = {}
        body = t.encode(request)
    return verb, path, query, body


def parse_response(status: int, body: bytes, operation: Operation) -> Any:
    """A v0.3 agent's HTTP+JSON answer as the ``operation.response_type`` value.

    Raises:
        ProtocolError: the agent answered with an error (by its ``type`` or AIP-193
            body, else by HTTP status).
        HTTPStatusError: an error status without a body naming an error.
        InvalidAgentResponseError: a 2xx body that is not a valid response.
    """
    if not 200 <= status < 300:
        raise _error(status, body)
    try:
        value = t.decode_json(body) if body.strip() else {}
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid {operation.name} response: {exc.message}"
        ) from None
    method = v03.METHOD_OF[operation.name]
    if method == "agent/getAuthenticatedExtendedCard" and isinstance(value, dict):
        result = v03_card.card_to_v1(value)
    else:
        result = v03.result_from_v03(operation.name, v03_proto.result_in(method, value))
    try:
        return t.convert(result, operation.response_type)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid {operation.name} response: {exc.message}",
            field_violations=exc.field_violations,
        ) from None


def parse_stream_event(data: str | bytes) -> t.StreamResponse:
    """One SSE event of a v0.3 agent's stream as a v1.0 ``StreamResponse``.

    Raises:
        ProtocolError: the event is an error body.
        InvalidAgentResponseError: the data is not a v0.3 stream event.
    """
    try:
        value = t.decode_json(data)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid stream event: {exc.message}"
        ) from None
    if isinstance(value, dict) and ("error" in value or "type" in value):
        raise _error(500, t.encode(value))
    event = v03.event_from_v03(v03_proto.event_in(value))
    try:
        return t.convert(event, t.StreamResponse)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"Invalid stream event: {exc.message}"
        ) from None


def _error(status: int, body: bytes) -> Exception:
    """The error of a v0.3 REST answer: v1.0's AIP-193 body (by reason), else the
    ``type`` v0.3 servers named, else the HTTP status."""
    try:
        value = t.decode_json(body)
    except ProtocolError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("error"), dict):
        return rest.error_from(status, body)
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        cls = _BY_NAME.get(str(value.get("type", "")))
        if cls is not None:
            return cls(value["message"])
    return HTTPStatusError(
        f"HTTP {status} without an A2A error body", status_code=status, body=body
    )


_BY_NAME: dict[str, type[ProtocolError]] = {row.cls.__name__: row.cls for row in ERRORS}
