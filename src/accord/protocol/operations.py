"""The one operations table: every A2A operation once (spec §5.3).

Each row gives the JSON-RPC method (identical to the gRPC rpc name), the REST routes
(verb + path template relative to the interface URL; every route also exists with a
leading ``/{tenant}`` segment), the request and response types, whether the response
is a stream, which card capability the operation needs, and whether it delivers a
message to the agent (then the card's required extensions apply). The JSON-RPC and REST
bindings, the ASGI router, the client transports and (later) the gRPC servicer all
derive from this table.

Path templates name request fields by their JSON name; each variable is one path
segment (``{id=*}`` in the proto's HTTP annotations).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from accord import types as t

__all__ = [
    "BY_METHOD",
    "OPERATIONS",
    "Capability",
    "Operation",
    "RestRoute",
    "op",
]


class Capability(enum.Enum):
    """A card capability an operation depends on (spec §3.3.4)."""

    STREAMING = "streaming"
    PUSH_NOTIFICATIONS = "push_notifications"
    EXTENDED_AGENT_CARD = "extended_agent_card"


@dataclass(frozen=True, slots=True)
class RestRoute:
    """One HTTP+JSON route of an operation (spec §11.3)."""

    verb: str
    path: str
    #: True when the request message (minus path fields) travels in the JSON body;
    #: False when it travels in the query string (GET/DELETE, spec §11.5).
    body: bool


@dataclass(frozen=True, slots=True)
class Operation:
    """One A2A operation."""

    #: PascalCase name: the JSON-RPC method and the gRPC rpc (spec §9.4, §10.4).
    name: str
    request_type: type
    #: For streaming operations the type of each streamed event.
    response_type: type
    streaming: bool
    rest: tuple[RestRoute, ...]
    requires: Capability | None = None
    #: True when the operation delivers a message to the agent: it then needs every
    #: extension the card marks ``required`` (spec §3.3.4).
    delivers_message: bool = False

    @property
    def method(self) -> str:
        """The JSON-RPC method name."""
        return self.name


def _post(path: str) -> RestRoute:
    return RestRoute("POST", path, body=True)


def _get(path: str) -> RestRoute:
    return RestRoute("GET", path, body=False)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "SendMessage",
        t.SendMessageRequest,
        t.SendMessageResponse,
        streaming=False,
        rest=(_post("/message:send"),),
        delivers_message=True,
    ),
    Operation(
        "SendStreamingMessage",
        t.SendMessageRequest,
        t.StreamResponse,
        streaming=True,
        rest=(_post("/message:stream"),),
        requires=Capability.STREAMING,
        delivers_message=True,
    ),
    Operation(
        "GetTask",
        t.GetTaskRequest,
        t.Task,
        streaming=False,
        rest=(_get("/tasks/{id}"),),
    ),
    Operation(
        "ListTasks",
        t.ListTasksRequest,
        t.ListTasksResponse,
        streaming=False,
        rest=(_get("/tasks"),),
    ),
    Operation(
        "CancelTask",
        t.CancelTaskRequest,
        t.Task,
        streaming=False,
        rest=(_post("/tasks/{id}:cancel"),),
    ),
    Operation(
        "SubscribeToTask",
        t.SubscribeToTaskRequest,
        t.StreamResponse,
        streaming=True,
        # The spec table says POST, the proto annotation says GET: accept both (spec §11.3.2).
        rest=(_post("/tasks/{id}:subscribe"), _get("/tasks/{id}:subscribe")),
        requires=Capability.STREAMING,
    ),
    Operation(
        "CreateTaskPushNotificationConfig",
        t.TaskPushNotificationConfig,
        t.TaskPushNotificationConfig,
        streaming=False,
        rest=(_post("/tasks/{taskId}/pushNotificationConfigs"),),
        requires=Capability.PUSH_NOTIFICATIONS,
    ),
    Operation(
        "GetTaskPushNotificationConfig",
        t.GetTaskPushNotificationConfigRequest,
        t.TaskPushNotificationConfig,
        streaming=False,
        rest=(_get("/tasks/{taskId}/pushNotificationConfigs/{id}"),),
        requires=Capability.PUSH_NOTIFICATIONS,
    ),
    Operation(
        "ListTaskPushNotificationConfigs",
        t.ListTaskPushNotificationConfigsRequest,
        t.ListTaskPushNotificationConfigsResponse,
        streaming=False,
        rest=(_get("/tasks/{taskId}/pushNotificationConfigs"),),
        requires=Capability.PUSH_NOTIFICATIONS,
    ),
    Operation(
        "DeleteTaskPushNotificationConfig",
        t.DeleteTaskPushNotificationConfigRequest,
        t.Empty,
        streaming=False,
        rest=(
            RestRoute(
                "DELETE", "/tasks/{taskId}/pushNotificationConfigs/{id}", body=False
            ),
        ),
        requires=Capability.PUSH_NOTIFICATIONS,
    ),
    Operation(
        "GetExtendedAgentCard",
        t.GetExtendedAgentCardRequest,
        t.AgentCard,
        streaming=False,
        rest=(_get("/extendedAgentCard"),),
        requires=Capability.EXTENDED_AGENT_CARD,
    ),
)

#: Operations by JSON-RPC method name.
BY_METHOD: dict[str, Operation] = {o.name: o for o in OPERATIONS}


def op(name: str) -> Operation:
    """Return the operation called ``name`` (e.g. ``"GetTask"``).

    Raises:
        KeyError: for an unknown name.
    """
    return BY_METHOD[name]
