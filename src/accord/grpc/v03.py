"""A2A v0.3's gRPC service, ``a2a.v1.A2AService``, mapped onto v1.0 (the server side).

v0.3 clients call a different service with a different message layout (its proto,
``a2a_v03.proto``, compiled beside v1.0's in the private pool of
:mod:`accord.grpc.messages`). Each call goes the way v0.3 HTTP+JSON requests go
(:mod:`accord.bindings.v03_rest`): the request message as ProtoJSON → v0.3 JSON-RPC
``params`` (:func:`accord.bindings.v03_proto.request_in`) → the v1.0 request
(:func:`accord.bindings.v03.params_from_v03`), served by the engine as v0.3; the answer
back through the same steps into the v0.3 response message. ``GetAgentCard`` is the
authenticated extended card, as the reference SDK serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from accord import types as t
from accord.bindings import v03, v03_card, v03_proto
from accord.errors import InvalidAgentResponseError, InvalidParamsError, ProtocolError
from accord.protocol.operations import Operation, op

from .messages import ProtoMessage, message_class, parse

__all__ = [
    "BY_OPERATION",
    "METHODS",
    "PACKAGE",
    "PACKAGE_VERSION",
    "SERVICE",
    "Method",
]

#: v0.3's proto package and service (v1.0's are ``lf.a2a.v1``).
PACKAGE = "a2a.v1"
SERVICE = f"{PACKAGE}.A2AService"
#: The protocol version of this service's calls (``A2A-Version``, spec §3.6).
PACKAGE_VERSION = v03.VERSION


@dataclass(frozen=True, slots=True)
class Method:
    """One v0.3 rpc: its v0.3 JSON-RPC method, the v1.0 operation, its messages."""

    rpc: str
    method: str
    operation: Operation
    request: type[ProtoMessage]
    response: type[ProtoMessage]

    def decode(self, data: bytes) -> Any:
        """The v1.0 request of a v0.3 request message's bytes.

        Raises:
            ParseError: not a protobuf message of the rpc's request type.
            InvalidParamsError: not a valid request (the field is named).
        """
        message = parse(data, self.request)
        try:
            proto_json = json_format.MessageToDict(message)
        except json_format.Error as exc:
            raise InvalidParamsError(f"Invalid {self.rpc} request: {exc}") from None
        params = v03.params_from_v03(
            self.method, v03_proto.request_in(self.method, proto_json)
        )
        return t.convert(params, self.operation.request_type)

    def encode(self, result: Any, *, url: str) -> bytes:
        """The v0.3 response message of a v1.0 ``result``, serialized."""
        data = t.to_builtins(result)
        if self.rpc == "GetAgentCard":
            out = v03_proto.card_out(data, url, "GRPC")
        else:
            out = v03_proto.result_out(
                self.method, v03.result_to_v03(self.operation.name, data)
            )
        message = json_format.ParseDict(
            out, self.response(), ignore_unknown_fields=True
        )
        encoded: bytes = message.SerializeToString()
        return encoded

    def encode_event(self, event: t.StreamResponse) -> bytes:
        """One v1.0 stream event as v0.3's ``StreamResponse``, serialized."""
        v03_event = v03.event_to_v03(
            t.to_builtins(event), subscription=self.method == "tasks/resubscribe"
        )
        message = json_format.ParseDict(
            v03_proto.event_out(v03_event), self.response(), ignore_unknown_fields=True
        )
        encoded: bytes = message.SerializeToString()
        return encoded

    @property
    def path(self) -> str:
        """The HTTP/2 path gRPC calls it by: ``/a2a.v1.A2AService/<Rpc>``."""
        return f"/{SERVICE}/{self.rpc}"

    # --- client side: calling a v0.3 agent ---------------------------------------------

    def encode_request(self, params: Any) -> bytes:
        """The v0.3 request message for the v1.0 ``params``, serialized."""
        v03_params = v03.params_to_v03(self.operation.name, t.to_builtins(params))
        proto_json = v03_proto.request_out(self.method, v03_params)
        message = json_format.ParseDict(
            proto_json, self.request(), ignore_unknown_fields=True
        )
        encoded: bytes = message.SerializeToString()
        return encoded

    def decode_response(self, data: bytes) -> Any:
        """The v1.0 value of a v0.3 agent's answer.

        Raises:
            InvalidAgentResponseError: not a valid answer.
        """
        proto_json = self._json(data)
        if self.rpc == "GetAgentCard":
            result = v03_card.card_to_v1(proto_json)
        else:
            result = v03.result_from_v03(
                self.operation.name, v03_proto.result_in(self.method, proto_json)
            )
        return self._convert(result, self.operation.response_type)

    def decode_event(self, data: bytes) -> t.StreamResponse:
        """One v0.3 ``StreamResponse`` as the v1.0 event.

        Raises:
            InvalidAgentResponseError: not a valid event.
        """
        event = v03.event_from_v03(v03_proto.event_in(self._json(data)))
        converted: t.StreamResponse = self._convert(event, t.StreamResponse)
        return converted

    def _json(self, data: bytes) -> dict[str, Any]:
        try:
            value: dict[str, Any] = json_format.MessageToDict(
                parse(data, self.response)
            )
        except (ProtocolError, json_format.Error) as exc:
            raise InvalidAgentResponseError(
                f"Invalid {self.rpc} answer from a v0.3 agent: {exc}"
            ) from None
        return value

    def _convert(self, value: Any, type_: type[Any]) -> Any:
        try:
            return t.convert(value, type_)
        except ProtocolError as exc:
            raise InvalidAgentResponseError(
                f"Invalid {self.rpc} answer from a v0.3 agent: {exc.message}",
                field_violations=exc.field_violations,
            ) from None


def _method(rpc: str, method: str, request: str, response: str) -> Method:
    return Method(
        rpc,
        method,
        op(v03.METHODS[method]),
        message_class(request, PACKAGE),
        message_class(response, PACKAGE),
    )


#: Every v0.3 rpc by name (the v0.3 proto's service).
METHODS: dict[str, Method] = {
    m.rpc: m
    for m in (
        _method("SendMessage", "message/send", "SendMessageRequest", "SendMessageResponse"),
        _method("SendStreamingMessage", "message/stream", "SendMessageRequest", "StreamResponse"),
        _method("GetTask", "tasks/get", "GetTaskRequest", "Task"),
        _method("CancelTask", "tasks/cancel", "CancelTaskRequest", "Task"),
        _method("TaskSubscription", "tasks/resubscribe", "TaskSubscriptionRequest", "StreamResponse"),
        _method(
            "CreateTaskPushNotificationConfig",
            "tasks/pushNotificationConfig/set",
            "CreateTaskPushNotificationConfigRequest",
            "TaskPushNotificationConfig",
        ),
        _method(
            "GetTaskPushNotificationConfig",
            "tasks/pushNotificationConfig/get",
            "GetTaskPushNotificationConfigRequest",
            "TaskPushNotificationConfig",
        ),
        _method(
            "ListTaskPushNotificationConfig",
            "tasks/pushNotificationConfig/list",
            "ListTaskPushNotificationConfigRequest",
            "ListTaskPushNotificationConfigResponse",
        ),
        _method("GetAgentCard", "agent/getAuthenticatedExtendedCard", "GetAgentCardRequest", "AgentCard"),
        _method(
            "DeleteTaskPushNotificationConfig",
            "tasks/pushNotificationConfig/delete",
            "DeleteTaskPushNotificationConfigRequest",
            "Empty",
        ),
    )
}  # fmt: skip

#: The v0.3 rpc of each v1.0 operation it has (ListTasks has none).
BY_OPERATION: dict[str, Method] = {m.operation.name: m for m in METHODS.values()}
