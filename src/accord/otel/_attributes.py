"""The attribute names of Accord's spans and metrics, and what a request says of its
task.

The RPC names follow OpenTelemetry's semantic conventions (``rpc.system``,
``rpc.method``, ``url.full``); the A2A ones share the ``a2a.`` prefix. Kept in one
table so that spans, metrics and the docs agree.
"""

from __future__ import annotations

from typing import Any

from accord.errors import ProtocolError
from accord.protocol.errors import spec_for
from accord.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    SendMessageRequest,
    SendMessageResponse,
    SubscribeToTaskRequest,
    Task,
)

__all__ = [
    "AGENT",
    "ATTEMPT",
    "BINDING",
    "CONTEXT_ID",
    "OPERATION",
    "OUTCOME",
    "PUSH_OUTCOME",
    "RPC_METHOD",
    "RPC_SYSTEM",
    "SKILL",
    "STATE",
    "SYSTEM",
    "TASK_ID",
    "TENANT",
    "URL",
    "ids_of",
    "outcome_of",
]

#: ``rpc.system`` of every A2A span.
SYSTEM = "a2a"
RPC_SYSTEM = "rpc.system"
RPC_METHOD = "rpc.method"
URL = "url.full"
OPERATION = "a2a.operation"
BINDING = "a2a.binding"
OUTCOME = "a2a.outcome"
TASK_ID = "a2a.task.id"
CONTEXT_ID = "a2a.context.id"
TENANT = "a2a.tenant"
AGENT = "a2a.agent.name"
SKILL = "a2a.skill.id"
ATTEMPT = "a2a.execution.attempt"
STATE = "a2a.task.state"
PUSH_OUTCOME = "a2a.push.outcome"


def ids_of(value: Any) -> tuple[str, str]:
    """``(task id, context id)`` a request or a result names (``""`` when none).

    SendMessage's message names them when it continues a task (spec §3.1.1); GetTask,
    CancelTask and SubscribeToTask name the task by ``id``, the push config
    operations by ``task_id``; a Task answer has both.
    """
    if isinstance(value, SendMessageRequest):
        value = value.message
    elif isinstance(value, SendMessageResponse):
        value = value.task if value.task is not None else value.message
    if isinstance(value, Task):
        return value.id, value.context_id
    if isinstance(value, Message):
        return value.task_id or "", value.context_id or ""
    if isinstance(value, GetTaskRequest | CancelTaskRequest | SubscribeToTaskRequest):
        return value.id, ""
    task_id = getattr(value, "task_id", None)  # push config requests and answers
    return (task_id, "") if isinstance(task_id, str) else ("", "")


def outcome_of(error: BaseException | None) -> str:
    """``ok``, or an A2A error's ErrorInfo reason (``TASK_NOT_FOUND``,
    ``RATE_LIMITED``..., spec §5.4), else the exception's class name: a small set of
    values, fit for a metric label."""
    if error is None:
        return "ok"
    if isinstance(error, ProtocolError):
        return spec_for(error).reason
    return type(error).__name__
