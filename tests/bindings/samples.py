"""Sample requests and responses for every operation, shared by the binding tests."""

from __future__ import annotations

import re
from typing import Any

from accord import types as t
from accord.protocol.operations import OPERATIONS, op

#: Ids that need percent-encoding in a path or query: space, slash, colon, unicode,
#: a verb-looking suffix, percent and plus signs, dots.
AWKWARD_IDS = (
    "plain-id_1.2~x",
    "with space",
    "a/b/c",
    "ns:task",
    "x:cancel",
    "naïve-日本",
    "100%+sure?&=#",
    ".",
    "..",
)

TENANTS = ("", "acme", "org/team a:b")

MESSAGE = t.Message(
    message_id="m-1",
    context_id="ctx-1",
    task_id="task-1",
    role=t.Role.USER,
    parts=(
        t.Part(text="hello", metadata={"k": "v"}),
        t.Part(raw=b"\x00\x01binary", media_type="application/octet-stream"),
        t.Part(url="https://example.com/a.pdf", filename="a.pdf"),
        t.Part(data=None),
        t.Part(data={"nested": [1, 2.5, True, None, "s"]}),
    ),
    metadata={"ext": {"a": 1}},
    extensions=("https://example.com/ext/v1",),
    reference_task_ids=("task-0",),
)

AGENT_MESSAGE = t.Message(
    message_id="m-2", context_id="ctx-1", role=t.Role.AGENT, parts=(t.Part(text="hi"),)
)

TASK = t.Task(
    id="task-1",
    context_id="ctx-1",
    status=t.TaskStatus(
        state=t.TaskState.WORKING,
        message=AGENT_MESSAGE,
        timestamp="2025-01-02T03:04:05.678Z",
    ),
    artifacts=(t.Artifact(artifact_id="art-1", name="out", parts=(t.Part(text="x"),)),),
    history=(MESSAGE, AGENT_MESSAGE),
    metadata={"n": 1},
)

AUTH = t.AuthenticationInfo(scheme="Bearer", credentials="secret")

PUSH_CONFIG = t.TaskPushNotificationConfig(
    id="cfg-1",
    task_id="task-1",
    url="https://hooks.example.com/a2a",
    token="tok",
    authentication=AUTH,
)

CARD = t.AgentCard(
    name="Agent",
    description="An agent",
    supported_interfaces=(
        t.AgentInterface(
            url="https://agent.example.com/a2a",
            protocol_binding="JSONRPC",
            tenant="acme",
            protocol_version="1.0",
        ),
    ),
    provider=t.AgentProvider(url="https://example.com", organization="Example"),
    version="1.2.3",
    capabilities=t.AgentCapabilities(streaming=True, extended_agent_card=False),
    security_schemes={
        "bearer": t.SecurityScheme(
            http_auth_security_scheme=t.HTTPAuthSecurityScheme(scheme="Bearer")
        )
    },
    security_requirements=(
        t.SecurityRequirement(schemes={"bearer": t.StringList(list=("read",))}),
    ),
    default_input_modes=("text/plain",),
    default_output_modes=("text/plain",),
    skills=(t.AgentSkill(id="s", name="Skill", description="d", tags=("t",)),),
)

SEND = t.SendMessageRequest(
    message=MESSAGE,
    configuration=t.SendMessageConfiguration(
        accepted_output_modes=("text/plain",),
        task_push_notification_config=t.TaskPushNotificationConfig(
            url="https://hooks.example.com/a2a", authentication=AUTH
        ),
        history_length=0,
        return_immediately=True,
    ),
    metadata={"trace": "abc"},
)

STREAM_EVENTS = (
    t.StreamResponse(task=TASK),
    t.StreamResponse(message=AGENT_MESSAGE),
    t.StreamResponse(
        status_update=t.TaskStatusUpdateEvent(
            task_id="task-1",
            context_id="ctx-1",
            status=t.TaskStatus(state=t.TaskState.COMPLETED),
            metadata={"m": True},
        )
    ),
    t.StreamResponse(
        artifact_update=t.TaskArtifactUpdateEvent(
            task_id="task-1",
            context_id="ctx-1",
            artifact=t.Artifact(artifact_id="art-1", parts=(t.Part(text="chunk"),)),
            append=True,
            last_chunk=True,
        )
    ),
)

#: Requests for every operation: a minimal and a full one (tenant left empty).
REQUESTS: dict[str, tuple[Any, ...]] = {
    "SendMessage": (t.SendMessageRequest(message=AGENT_MESSAGE), SEND),
    "SendStreamingMessage": (t.SendMessageRequest(message=AGENT_MESSAGE), SEND),
    "GetTask": (
        t.GetTaskRequest(id="task-1"),
        t.GetTaskRequest(id="task-1", history_length=0),
    ),
    "ListTasks": (
        t.ListTasksRequest(),
        t.ListTasksRequest(
            context_id="ctx 1/2",
            status=t.TaskState.INPUT_REQUIRED,
            page_size=100,
            page_token="tok+/=",
            history_length=0,
            status_timestamp_after="2025-01-02T03:04:05.678Z",
            include_artifacts=False,
        ),
    ),
    "CancelTask": (
        t.CancelTaskRequest(id="task-1"),
        t.CancelTaskRequest(id="task-1", metadata={"reason": ["x", 1]}),
    ),
    "SubscribeToTask": (t.SubscribeToTaskRequest(id="task-1"),),
    "CreateTaskPushNotificationConfig": (
        t.TaskPushNotificationConfig(task_id="task-1", url="https://h.example.com"),
        PUSH_CONFIG,
    ),
    "GetTaskPushNotificationConfig": (
        t.GetTaskPushNotificationConfigRequest(task_id="task-1", id="cfg-1"),
    ),
    "ListTaskPushNotificationConfigs": (
        t.ListTaskPushNotificationConfigsRequest(task_id="task-1"),
        t.ListTaskPushNotificationConfigsRequest(
            task_id="task-1", page_size=5, page_token="p 1"
        ),
    ),
    "DeleteTaskPushNotificationConfig": (
        t.DeleteTaskPushNotificationConfigRequest(task_id="task-1", id="cfg-1"),
    ),
    "GetExtendedAgentCard": (t.GetExtendedAgentCardRequest(),),
}

#: Responses (or, for streaming operations, events) for every operation.
RESPONSES: dict[str, tuple[Any, ...]] = {
    "SendMessage": (
        t.SendMessageResponse(task=TASK),
        t.SendMessageResponse(message=AGENT_MESSAGE),
    ),
    "SendStreamingMessage": STREAM_EVENTS,
    "GetTask": (TASK, t.Task(id="t", status=t.TaskStatus(state=t.TaskState.SUBMITTED))),
    "ListTasks": (
        t.ListTasksResponse(),
        t.ListTasksResponse(
            tasks=(TASK,), next_page_token="next", page_size=1, total_size=3
        ),
    ),
    "CancelTask": (TASK,),
    "SubscribeToTask": STREAM_EVENTS,
    "CreateTaskPushNotificationConfig": (PUSH_CONFIG,),
    "GetTaskPushNotificationConfig": (PUSH_CONFIG,),
    "ListTaskPushNotificationConfigs": (
        t.ListTaskPushNotificationConfigsResponse(),
        t.ListTaskPushNotificationConfigsResponse(
            configs=(PUSH_CONFIG,), next_page_token="n"
        ),
    ),
    "DeleteTaskPushNotificationConfig": (t.Empty(),),
    "GetExtendedAgentCard": (CARD,),
}

assert set(REQUESTS) == set(RESPONSES) == {o.name for o in OPERATIONS}


def request_cases() -> list[tuple[str, Any]]:
    """``(operation name, request)`` for every sample request."""
    return [(name, r) for name, rs in REQUESTS.items() for r in rs]


def response_cases() -> list[tuple[str, Any]]:
    """``(operation name, response)`` for every sample response."""
    return [(name, r) for name, rs in RESPONSES.items() for r in rs]


def with_tenant(params: Any, tenant: str) -> Any:
    """``params`` with its tenant set."""
    return t.replace(params, tenant=tenant)


def route_fields(operation_name: str) -> list[str]:
    """Attribute names of the fields bound to the path of the operation's REST route."""
    template = op(operation_name).rest[0].path
    return [_ATTRS[name] for name in re.findall(r"\{(\w+)\}", template)]


_ATTRS = {"id": "id", "taskId": "task_id"}
