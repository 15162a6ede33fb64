"""A2A v0.3 over gRPC, both directions, against a2a-sdk's v0.3 compatibility layer.

a2a-sdk's v0.3 gRPC compatibility client against Accord's v0.3 gRPC service, and
Accord's client (``GrpcTransport(version="0.3")``) against the SDK's.

The SDK's ``CompatGrpcTransport`` calls ``a2a.v1.A2AService`` (v0.3's proto: parts as
``content``, ``TASK_STATE_CANCELLED``, resource names) and converts to its v1.0 types;
Accord serves that service beside ``lf.a2a.v1.A2AService`` from the same engine
(accord.grpc.v03), so a task created over one is read and continued over the other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc
from a2a.compat.v0_3.grpc_handler import CompatGrpcHandler
from a2a.compat.v0_3.grpc_transport import CompatGrpcTransport
from a2a.types import a2a_pb2 as pb

import grpc
from accord import types as t
from accord.client import Client, ClientConfig
from accord.errors import TaskNotFoundError, UnsupportedOperationError
from accord.grpc import GRPC_TRANSPORTS, GrpcServer, GrpcTransport
from accord.protocol import op

from .agents import SdkServer, accord_app, gate
from .conftest import drain
from .test_v03_sdk_client import request, texts

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The official SDK and grpc.aio run on asyncio only."""
    return "asyncio"


@asynccontextmanager
async def served() -> AsyncIterator[tuple[CompatGrpcTransport, GrpcTransport]]:
    """Accord's interop agent over gRPC: the SDK's v0.3 client and Accord's v1.0 one."""
    app = accord_app()
    async with app.running(), GrpcServer(app.engine).serving() as server:
        channel = grpc.aio.insecure_channel(server.url)
        try:
            async with GrpcTransport(server.url) as v1:
                yield CompatGrpcTransport(channel, None), v1
        finally:
            await channel.close()


async def test_send_get_and_read_over_both_versions() -> None:
    async with served() as (v03, v1):
        sent = await v03.send_message(request("hello over 0.3 grpc"))
        task = sent.task
        assert task.status.state == pb.TASK_STATE_COMPLETED
        assert texts(task.artifacts[0]) == ["hello over 0.3 grpc"]
        assert task.history[0].role == pb.ROLE_USER
        got = await v03.get_task(pb.GetTaskRequest(id=task.id))
        assert got.artifacts[0].artifact_id == task.artifacts[0].artifact_id
        same = await v1.call(op("GetTask"), t.GetTaskRequest(id=task.id))
    assert same.status.state is t.TaskState.COMPLETED
    assert same.artifacts[0].parts[0].text == "hello over 0.3 grpc"


async def test_a_message_reply() -> None:
    async with served() as (v03, _v1):
        sent = await v03.send_message(request("reply hi"))
    assert sent.WhichOneof("payload") == "message"
    assert sent.message.parts[0].text == "you said: hi"
    assert sent.message.role == pb.ROLE_AGENT


async def test_streaming_ends_with_the_final_status() -> None:
    async with served() as (v03, _v1):
        events = await drain(v03.send_message_streaming(request("chunks")))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task"
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [texts(c.artifact) for c in chunks] == [["one "], ["two "], ["three"]]
    assert [c.append for c in chunks] == [False, True, True]


async def test_a_task_started_over_v1_is_continued_over_v03() -> None:
    async with served() as (v03, v1):
        started = await v1.call(
            op("SendMessage"),
            t.SendMessageRequest(
                message=t.Message(
                    message_id=str(uuid.uuid4()),
                    role=t.Role.USER,
                    parts=(t.Part(text="ask for a day"),),
                )
            ),
        )
        task_id = started.task.id
        waiting = await v03.get_task(pb.GetTaskRequest(id=task_id))
        assert waiting.status.state == pb.TASK_STATE_INPUT_REQUIRED
        done = await v03.send_message(
            request("monday", task_id=task_id, context_id=waiting.context_id)
        )
    assert done.task.status.state == pb.TASK_STATE_COMPLETED
    assert texts(done.task.artifacts[-1]) == ["booked: monday"]


async def test_return_immediately_then_cancel_and_subscribe() -> None:
    name = f"v03g-{uuid.uuid4().hex[:8]}"
    try:
        async with served() as (v03, _v1):
            sent = await v03.send_message(request(f"wait {name}", immediately=True))
            assert sent.task.status.state in (
                pb.TASK_STATE_SUBMITTED,
                pb.TASK_STATE_WORKING,
            )
            canceled = await v03.cancel_task(pb.CancelTaskRequest(id=sent.task.id))
            assert canceled.status.state == pb.TASK_STATE_CANCELED
            # A subscription to an ended task is refused (spec §3.1.6).
            with pytest.raises(Exception, match="cannot be subscribed"):
                await drain(v03.subscribe(pb.SubscribeToTaskRequest(id=sent.task.id)))
    finally:
        gate(name).set()


async def test_errors_keep_their_classes() -> None:
    async with served() as (v03, _v1):
        with pytest.raises(Exception, match="not found") as failed:
            await v03.get_task(pb.GetTaskRequest(id="no-such-task"))
        assert "TaskNotFound" in type(failed.value).__name__
        with pytest.raises(Exception, match=r"[Pp]ush") as push:
            await v03.get_task_push_notification_config(
                pb.GetTaskPushNotificationConfigRequest(task_id="t", id="c")
            )
    assert "PushNotificationNotSupported" in type(push.value).__name__


# --- Accord's client to a v0.3 gRPC agent ---------------------------------------------


@asynccontextmanager
async def sdk_v03_grpc() -> AsyncIterator[Client]:
    """The SDK's server with only its v0.3 gRPC service, and Accord's client to it,
    found through a v0.3 interface."""
    sdk = SdkServer()
    server = grpc.aio.server(options=(("grpc.so_reuseport", 0),))
    a2a_v0_3_pb2_grpc.add_A2AServiceServicer_to_server(  # type: ignore[no-untyped-call]
        CompatGrpcHandler(sdk.handler), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        interface = t.AgentInterface(
            url=f"127.0.0.1:{port}", protocol_binding="GRPC", protocol_version="0.3"
        )
        config = ClientConfig(transports=GRPC_TRANSPORTS)
        async with Client.from_interface(interface, config=config) as client:
            yield client
    finally:
        await server.stop(None)


async def test_accord_client_speaks_v03_grpc_to_the_sdk() -> None:
    async with sdk_v03_grpc() as client:
        task = await client.send_message("echo hello")
        assert isinstance(task, t.Task)
        assert task.status.state is t.TaskState.COMPLETED
        assert task.artifacts[0].parts[0].text == "echo hello"
        again = await client.get_task(task.id)
        assert again.id == task.id
        reply = await client.send_message("reply hi")
        assert isinstance(reply, t.Message)
        assert reply.parts[0].text == "you said: hi"
        with pytest.raises(TaskNotFoundError):
            await client.get_task("no-such-task")
        with pytest.raises(UnsupportedOperationError, match=r"A2A 0\.3"):
            await client.list_tasks()
        stream = client.send_streaming_message("chunks")
        async with stream:
            events = [event async for event in stream]
        last = events[-1].status_update
        assert last is not None
        assert last.status.state is t.TaskState.COMPLETED
        chunks = [e.artifact_update for e in events if e.artifact_update is not None]
        assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]


async def test_accord_client_speaks_v03_grpc_to_accord() -> None:
    app = accord_app()
    async with app.running(), GrpcServer(app.engine).serving() as server:
        interface = t.AgentInterface(
            url=server.url, protocol_binding="GRPC", protocol_version="0.3"
        )
        config = ClientConfig(transports=GRPC_TRANSPORTS)
        async with Client.from_interface(interface, config=config) as client:
            task = await client.send_message("ask for a day")
            assert isinstance(task, t.Task)
            assert task.status.state is t.TaskState.INPUT_REQUIRED
            done = await client.send_message("monday", task_id=task.id)
            assert isinstance(done, t.Task)
            assert done.status.state is t.TaskState.COMPLETED
            with pytest.raises(TaskNotFoundError):
                await client.get_task("no-such-task")
        async with GrpcTransport(server.url) as v1:
            same = await v1.call(op("GetTask"), t.GetTaskRequest(id=task.id))
    assert same.status.state is t.TaskState.COMPLETED
    assert [m.parts[0].text for m in same.history if m.role is t.Role.USER] == [
        "ask for a day",
        "monday",
    ]
