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
from urllib.parse import parse_qsl, unquote

from accord import types as t
from accord.bindings import rest, v03, v03_proto
from accord.errors import InvalidParamsError, MethodNotFoundError, ProtocolError
from accord.protocol.errors import spec_for
from accord.protocol.operations import Operation, op

__all__ = [
    "PREFIX",
    "V03RestCall",
    "encode_error",
    "encode_result",
    "encode_stream_event",
    "is_v03_path",
    "parse_request",
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
