"""Accord's gRPC client speaking v0.3 (``a2a.v1.A2AService``), against Accord's own
v0.3 service: every rpc, the errors, and answers that are not v0.3 messages."""

from __future__ import annotations

import pytest

from accord import types as t
from accord.errors import (
    InvalidAgentResponseError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.grpc import GrpcTransport, v03
from accord.grpc.status import from_status
from accord.protocol import op
from grpc import StatusCode

from .helpers import send_request, serve_grpc

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


async def test_every_rpc_over_v03() -> None:
    async with (
        serve_grpc() as s,
        GrpcTransport(s.server.url, version="0.3") as old,
    ):
        sent = await old.call(
            op("SendMessage"),
            t.replace(
                send_request("wait"),
                configuration=t.SendMessageConfiguration(return_immediately=True),
            ),
        )
        task_id = sent.task.id
        got = await old.call(op("GetTask"), t.GetTaskRequest(id=task_id))
        assert got.status.state in (t.TaskState.SUBMITTED, t.TaskState.WORKING)
        events = old.stream(op("SubscribeToTask"), t.SubscribeToTaskRequest(id=task_id))
        first, _ = await anext(events)
        assert first.task is not None
        await events.aclose()  # type: ignore[attr-defined]
        canceled = await old.call(op("CancelTask"), t.CancelTaskRequest(id=task_id))
        assert canceled.status.state is t.TaskState.CANCELED
        with pytest.raises(TaskNotFoundError):
            await old.call(op("GetTask"), t.GetTaskRequest(id="nope"))
        for name, request in (
            ("CreateTaskPushNotificationConfig", t.TaskPushNotificationConfig(task_id=task_id, url="https://h.test/")),
            ("GetTaskPushNotificationConfig", t.GetTaskPushNotificationConfigRequest(task_id=task_id, id="c")),
            ("ListTaskPushNotificationConfigs", t.ListTaskPushNotificationConfigsRequest(task_id=task_id)),
            ("DeleteTaskPushNotificationConfig", t.DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="c")),
        ):  # fmt: skip
            with pytest.raises(PushNotificationNotSupportedError):
                await old.call(op(name), request)
        with pytest.raises(UnsupportedOperationError):
            await old.call(op("GetExtendedAgentCard"), t.GetExtendedAgentCardRequest())
        with pytest.raises(UnsupportedOperationError, match=r"A2A 0\.3"):
            await old.call(op("ListTasks"), t.ListTasksRequest())


def test_only_two_versions() -> None:
    with pytest.raises(ValueError, match=r"2\.0"):
        GrpcTransport("127.0.0.1:1", version="2.0")


def test_answers_that_are_not_v03_messages() -> None:
    method = v03.METHODS["GetTask"]
    with pytest.raises(InvalidAgentResponseError):
        method.decode_response(b"\xff\xff")
    with pytest.raises(InvalidAgentResponseError):
        v03.METHODS["SendStreamingMessage"].decode_event(b"\xff\xff")
    empty_task = method.response().SerializeToString()  # a Task without id or status
    with pytest.raises(InvalidAgentResponseError):
        method.decode_response(empty_task)


def test_v03_errors_named_in_the_message() -> None:
    """v0.3 servers put the error's class before its message, without details."""
    error = from_status(
        StatusCode.FAILED_PRECONDITION,
        "TaskNotFoundError: Task t-1 not found",
        None,
        peer="p",
        v03=True,
    )
    assert isinstance(error, TaskNotFoundError)
    assert error.message == "Task t-1 not found"
    plain = from_status(StatusCode.NOT_FOUND, "Nope: x", None, peer="p", v03=True)
    assert isinstance(plain, TaskNotFoundError)
    assert plain.message == "Nope: x"
