"""Request and response messages of the eleven A2A operations (spec §3.2, §3.1)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from ._base import A2AStruct, Timestamp, normalize_timestamp
from ._core import Message, Task, TaskState
from ._push import TaskPushNotificationConfig

__all__ = [
    "CancelTaskRequest",
    "DeleteTaskPushNotificationConfigRequest",
    "Empty",
    "GetExtendedAgentCardRequest",
    "GetTaskPushNotificationConfigRequest",
    "GetTaskRequest",
    "ListTaskPushNotificationConfigsRequest",
    "ListTaskPushNotificationConfigsResponse",
    "ListTasksRequest",
    "ListTasksResponse",
    "SendMessageConfiguration",
    "SendMessageRequest",
    "SendMessageResponse",
    "SubscribeToTaskRequest",
]

#: proto ``int32``.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class SendMessageConfiguration(A2AStruct, frozen=True, kw_only=True):
    """Per-request options of SendMessage / SendStreamingMessage."""

    accepted_output_modes: tuple[str, ...] = ()
    task_push_notification_config: TaskPushNotificationConfig | None = None
    #: Limit on returned history (spec §3.2.4); unset = server default.
    history_length: Int32 | None = None
    #: False (default): block until the task is terminal or interrupted.
    return_immediately: bool = False


class SendMessageRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of SendMessage and SendStreamingMessage."""

    tenant: str = ""
    message: Message
    configuration: SendMessageConfiguration | None = None
    metadata: dict[str, Any] | None = None


class SendMessageResponse(A2AStruct, frozen=True, kw_only=True):
    """Output of SendMessage: exactly one of ``task`` or ``message``."""

    task: Task | None = None
    message: Message | None = None

    def __post_init__(self) -> None:
        if (self.task is None) == (self.message is None):
            raise ValueError("a SendMessageResponse sets exactly one of task, message")


class GetTaskRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of GetTask."""

    tenant: str = ""
    id: str
    history_length: Int32 | None = None


class ListTasksRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of ListTasks: filters and cursor pagination (spec §3.1.4 ListTasks)."""

    tenant: str = ""
    context_id: str = ""
    #: UNSPECIFIED means "no filter".
    status: TaskState = TaskState.UNSPECIFIED
    page_size: Int32 | None = None
    page_token: str = ""
    history_length: Int32 | None = None
    status_timestamp_after: Timestamp | None = None
    include_artifacts: bool | None = None

    def __post_init__(self) -> None:
        if self.status_timestamp_after is not None:
            msgspec.structs.force_setattr(
                self,
                "status_timestamp_after",
                normalize_timestamp(self.status_timestamp_after),
            )


class ListTasksResponse(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    omit_defaults=False,
    forbid_unknown_fields=True,
    gc=False,
):
    """Output of ListTasks. Every field is REQUIRED and always emitted (spec §3.1.4)."""

    tasks: tuple[Task, ...] = ()
    #: ``""`` on the last page.
    next_page_token: str = ""
    page_size: Int32 = 0
    total_size: Int32 = 0


class CancelTaskRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of CancelTask."""

    tenant: str = ""
    id: str
    metadata: dict[str, Any] | None = None


class SubscribeToTaskRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of SubscribeToTask."""

    tenant: str = ""
    id: str


class GetTaskPushNotificationConfigRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of GetTaskPushNotificationConfig."""

    tenant: str = ""
    task_id: str
    id: str


class DeleteTaskPushNotificationConfigRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of DeleteTaskPushNotificationConfig."""

    tenant: str = ""
    task_id: str
    id: str


class ListTaskPushNotificationConfigsRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of ListTaskPushNotificationConfigs (note: ``tenant`` is field 4)."""

    task_id: str
    page_size: Int32 = 0
    page_token: str = ""
    tenant: str = ""


class ListTaskPushNotificationConfigsResponse(A2AStruct, frozen=True, kw_only=True):
    """Output of ListTaskPushNotificationConfigs."""

    configs: tuple[TaskPushNotificationConfig, ...] = ()
    next_page_token: str = ""


class GetExtendedAgentCardRequest(A2AStruct, frozen=True, kw_only=True):
    """Input of GetExtendedAgentCard."""

    tenant: str = ""


class Empty(A2AStruct, frozen=True, kw_only=True):
    """``google.protobuf.Empty``: encodes as ``{}``."""
