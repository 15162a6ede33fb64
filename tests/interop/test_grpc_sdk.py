"""The gRPC binding between Accord and the official SDK (a2a-sdk 1.3.0), both ways.

* The SDK's client against Accord's :class:`~accord.grpc.GrpcServer`: the SDK reads
  Accord's public card (served in-process by the ASGI app sharing the engine), picks
  its ``GRPC`` interface (``ClientFactory`` pinned to ``GRPC`` with
  ``grpc.aio.insecure_channel``) and dials the bare ``host:port`` it names.
* Accord's client against the SDK's own ``GrpcHandler`` (over its
  ``DefaultRequestHandler``) on ``grpc.aio``: Accord's client reads the SDK's card
  (its card route, in-process), whose only usable interface is the ``GRPC`` one
  added here; a server interceptor records every call, so the tests see the client
  really spoke gRPC.

Both agents are the interop test agent (``agents.py``): the first word of the text
picks the behaviour. Every server is real, on loopback, port 0, one per test; it runs
on the test's event loop (``grpc.aio`` is asyncio-only, as is the SDK).

Errors: the SDK's client maps a failed call by the ``google.rpc.ErrorInfo`` reason in
the ``grpc-status-details-bin`` trailer alone (without one it raises a plain
``A2AClientError``), so each typed SDK error below proves Accord's trailer was read.
Accord's client reads the reason first too: UnsupportedOperation, TaskNotCancelable and
PushNotificationNotSupported share FAILED_PRECONDITION, so getting the right class
back proves the SDK's trailer was read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver, A2AClientError, ClientFactory
from a2a.client import Client as SdkClient
from a2a.client import ClientCallContext as SdkCallContext
from a2a.client import ClientConfig as SdkClientConfig
from a2a.server.request_handlers import GrpcHandler
from a2a.types import a2a_pb2 as pb
from a2a.types import a2a_pb2_grpc
from a2a.utils.errors import InvalidParamsError as SdkInvalidParams
from a2a.utils.errors import PushNotificationNotSupportedError as SdkPushNotSupported
from a2a.utils.errors import TaskNotCancelableError as SdkTaskNotCancelable
from a2a.utils.errors import TaskNotFoundError as SdkTaskNotFound
from a2a.utils.errors import UnsupportedOperationError as SdkUnsupportedOperation
from google.protobuf import json_format, struct_pb2

import grpc
from accord.client import Client, ClientConfig
from accord.errors import (
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.grpc import GRPC_TRANSPORTS, GrpcServer
from accord.types import (
    AgentInterface,
    AuthenticationInfo,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    StreamResponse,
    Task,
    TaskState,
)

from .agents import API_KEY_HEADER, SdkServer, accord_app, gate
from .conftest import API_KEY, drain

pytestmark = pytest.mark.anyio

#: Seconds any one test may take; a hang fails instead of blocking the suite.
DEADLINE = 15
#: Return at once (the task keeps running).
NOW = SendMessageConfiguration(return_immediately=True)
#: Accord's client on gRPC only.
GRPC_ONLY = ClientConfig(transports=GRPC_TRANSPORTS, preferred_bindings=("GRPC",))


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """asyncio only (the SDK and grpc.aio), on one event loop for the module."""
    return "asyncio"


@pytest.fixture(scope="module", autouse=True)
async def one_event_loop() -> AsyncIterator[None]:
    """Hold the test runner, so every test of the module runs on one event loop.

    grpc.aio hands a call's late completions (they may arrive after its channel or
    server is closed) to the loop the call was made on; with a loop per test, one
    landing after its test's loop closed fails the next test with "Event loop is
    closed" (seen about once in 150 runs under ``-n 4 --dist load``).
    """
    yield  # noqa: PT022 (the runner is held until the module's last test)


def fresh_key() -> str:
    """A gate name no other test uses."""
    return f"grpc-{uuid.uuid4()}"


# --- the SDK's client against Accord's gRPC server ---------------------------------------


@dataclass
class AccordGrpc:
    """Accord's gRPC server and two SDK clients built from the card it serves."""

    server: GrpcServer
    card: pb.AgentCard
    blocking: SdkClient
    streaming: SdkClient


def sdk_factory(*, streaming: bool) -> ClientFactory:
    """The SDK's client factory, pinned to gRPC (plaintext on loopback)."""
    return ClientFactory(
        SdkClientConfig(
            supported_protocol_bindings=["GRPC"],
            grpc_channel_factory=grpc.aio.insecure_channel,
            streaming=streaming,
        )
    )


@asynccontextmanager
async def serve_accord(api_key: str | None = None) -> AsyncIterator[AccordGrpc]:
    """Accord's interop agent on a GrpcServer, and the SDK's clients for it.

    The card comes from Accord's own card endpoint (the ASGI app over the same
    engine, called in-process), so it lists the gRPC interface as Accord
    advertises it while the server listens.
    """
    app = accord_app(api_key)
    engine = app.engine
    engine.shutdown_grace = 0  # a task still waiting at the end is interrupted
    async with (
        engine.running(),
        GrpcServer(engine, grace=1).serving() as front,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http,
    ):
        card = await A2ACardResolver(http, "http://accord.test").get_agent_card()
        blocking = sdk_factory(streaming=False).create(card)
        streaming = sdk_factory(streaming=True).create(card)
        try:
            yield AccordGrpc(front, card, blocking, streaming)
        finally:
            with anyio.CancelScope(shield=True):
                await streaming.close()
                await blocking.close()


@pytest.fixture
async def accord() -> AsyncIterator[AccordGrpc]:
    async with serve_accord() as served:
        yield served


def sdk_message(
    text: str,
    *,
    task_id: str = "",
    context_id: str = "",
    parts: list[pb.Part] | None = None,
) -> pb.Message:
    return pb.Message(
        message_id=str(uuid.uuid4()),
        role=pb.ROLE_USER,
        parts=[pb.Part(text=text), *(parts or [])],
        task_id=task_id,
        context_id=context_id,
    )


def sdk_request(
    text: str,
    *,
    task_id: str = "",
    context_id: str = "",
    parts: list[pb.Part] | None = None,
    return_immediately: bool = False,
) -> pb.SendMessageRequest:
    return pb.SendMessageRequest(
        message=sdk_message(text, task_id=task_id, context_id=context_id, parts=parts),
        configuration=pb.SendMessageConfiguration(
            return_immediately=return_immediately
        ),
    )


async def sdk_send(client: SdkClient, req: pb.SendMessageRequest) -> pb.StreamResponse:
    """A blocking SendMessage: the SDK yields exactly one Task or Message."""
    events = [event async for event in client.send_message(req)]
    assert len(events) == 1, events
    return events[0]


async def sdk_send_task(client: SdkClient, req: pb.SendMessageRequest) -> pb.Task:
    event = await sdk_send(client, req)
    assert event.HasField("task"), event
    return event.task


def sdk_state(event: pb.StreamResponse) -> int:
    """The task state an SDK stream event reports (0 for a message)."""
    if event.HasField("task"):
        return event.task.status.state
    if event.HasField("status_update"):
        return event.status_update.status.state
    return pb.TASK_STATE_UNSPECIFIED


def sdk_rich_parts() -> list[pb.Part]:
    data = struct_pb2.Value()
    json_format.ParseDict({"k": [1, 2.5, True, None, "s"], "nested": {}}, data)
    return [
        pb.Part(data=data, media_type="application/json"),
        pb.Part(
            raw=b"\x00\x01\xfe\xff",
            filename="blob.bin",
            media_type="application/octet-stream",
        ),
        pb.Part(
            url="https://example.com/f.txt",
            filename="f.txt",
            media_type="text/plain",
            metadata={"source": "test", "n": 3},
        ),
    ]


async def test_sdk_picks_the_grpc_interface_from_accords_card(
    accord: AccordGrpc,
) -> None:
    interfaces = [
        (i.protocol_binding, i.url, i.protocol_version)
        for i in accord.card.supported_interfaces
    ]
    # The bare host:port form the SDK passes to grpc.aio.insecure_channel as is.
    assert interfaces[-1] == ("GRPC", f"127.0.0.1:{accord.server.port}", "1.0")
    assert [b for b, _, _ in interfaces] == ["JSONRPC", "HTTP+JSON", "GRPC"]
    assert accord.card.capabilities.streaming
    assert not accord.card.capabilities.push_notifications


async def test_sdk_blocking_send_returns_the_completed_task(
    accord: AccordGrpc,
) -> None:
    sent = sdk_request("echo hello", parts=sdk_rich_parts())
    task = await sdk_send_task(accord.blocking, sent)

    assert task.status.state == pb.TASK_STATE_COMPLETED
    assert [p.text for p in task.status.message.parts] == ["done"]
    (artifact,) = task.artifacts
    assert artifact.name == "echo"
    assert artifact.description == "what you sent"
    # Every kind of part crossed gRPC to Accord and came back unchanged.
    assert list(artifact.parts) == list(sent.message.parts)
    assert json_format.MessageToDict(artifact.metadata) == {
        "count": 4,
        "nested": {"ok": True},
    }
    assert task.history[0].message_id == sent.message.message_id
    assert task.history[0].role == pb.ROLE_USER


async def test_sdk_blocking_send_returns_a_message(accord: AccordGrpc) -> None:
    event = await sdk_send(accord.blocking, sdk_request("reply hi there"))
    assert event.HasField("message"), event
    assert event.message.role == pb.ROLE_AGENT
    assert [p.text for p in event.message.parts] == ["you said: hi there"]
    assert event.message.task_id == ""


async def test_sdk_streaming_send_gets_the_events_in_order(
    accord: AccordGrpc,
) -> None:
    with anyio.fail_after(DEADLINE):
        events = [
            event
            async for event in accord.streaming.send_message(sdk_request("chunks"))
        ]

    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[0] == "task"
    assert kinds[-1] == "status_update"
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]
    assert [c.append for c in chunks] == [False, True, True]
    assert [c.last_chunk for c in chunks] == [False, False, True]
    assert len({c.artifact.artifact_id for c in chunks}) == 1
    states = [sdk_state(e) for e in events if not e.HasField("artifact_update")]
    assert states[-1] == pb.TASK_STATE_COMPLETED
    assert pb.TASK_STATE_WORKING in states
    # The artifact chunks come between WORKING and COMPLETED.
    first_chunk = kinds.index("artifact_update")
    assert sdk_state(events[first_chunk - 1]) == pb.TASK_STATE_WORKING
    assert kinds[first_chunk : first_chunk + 3] == ["artifact_update"] * 3

    task_id = events[0].task.id
    assert {
        e.status_update.task_id for e in events[1:] if e.HasField("status_update")
    } == {task_id}
    stored = await accord.blocking.get_task(pb.GetTaskRequest(id=task_id))
    (artifact,) = stored.artifacts
    assert [p.text for p in artifact.parts] == ["one ", "two ", "three"]


async def test_sdk_get_task_and_history_length(accord: AccordGrpc) -> None:
    task = await sdk_send_task(accord.blocking, sdk_request("echo history"))
    assert len(task.history) >= 2

    full = await accord.blocking.get_task(pb.GetTaskRequest(id=task.id))
    assert full == task
    one = await accord.blocking.get_task(
        pb.GetTaskRequest(id=task.id, history_length=1)
    )
    assert list(one.history) == list(task.history[-1:])
    assert list(one.artifacts) == list(task.artifacts)


async def test_sdk_list_tasks_filters_by_context(accord: AccordGrpc) -> None:
    first = await sdk_send_task(accord.blocking, sdk_request("echo one"))
    second = await sdk_send_task(
        accord.blocking, sdk_request("echo two", context_id=first.context_id)
    )
    other = await sdk_send_task(accord.blocking, sdk_request("echo elsewhere"))
    assert other.context_id != first.context_id

    listed = await accord.blocking.list_tasks(
        pb.ListTasksRequest(context_id=first.context_id)
    )
    assert {t.id for t in listed.tasks} == {first.id, second.id}
    assert listed.total_size == 2
    assert listed.next_page_token == ""
    assert all(t.status.state == pb.TASK_STATE_COMPLETED for t in listed.tasks)

    everything = await accord.blocking.list_tasks(pb.ListTasksRequest())
    assert {t.id for t in everything.tasks} == {first.id, second.id, other.id}


async def test_sdk_multi_turn_input_required(accord: AccordGrpc) -> None:
    task = await sdk_send_task(accord.blocking, sdk_request("ask"))
    assert task.status.state == pb.TASK_STATE_INPUT_REQUIRED
    assert [p.text for p in task.status.message.parts] == ["Which day?"]

    done = await sdk_send_task(
        accord.blocking,
        sdk_request("tuesday", task_id=task.id, context_id=task.context_id),
    )
    assert done.id == task.id
    assert done.status.state == pb.TASK_STATE_COMPLETED
    assert [p.text for p in done.artifacts[0].parts] == ["booked: tuesday"]


async def test_sdk_cancels_a_running_task_a_subscriber_sees_it(
    accord: AccordGrpc,
) -> None:
    task = await sdk_send_task(
        accord.blocking, sdk_request(f"wait {fresh_key()}", return_immediately=True)
    )
    assert task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)

    seen: list[pb.StreamResponse] = []
    subscribed = anyio.Event()

    async def follow() -> None:
        request = pb.SubscribeToTaskRequest(id=task.id)
        async for event in accord.streaming.subscribe(request):
            seen.append(event)
            subscribed.set()

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            await subscribed.wait()
            canceled = await accord.blocking.cancel_task(
                pb.CancelTaskRequest(id=task.id)
            )

    assert canceled.id == task.id
    assert canceled.status.state == pb.TASK_STATE_CANCELED
    # The subscription opened with the task and ended at the cancellation.
    assert seen[0].HasField("task")
    assert seen[0].task.id == task.id
    assert sdk_state(seen[-1]) == pb.TASK_STATE_CANCELED
    got = await accord.blocking.get_task(pb.GetTaskRequest(id=task.id))
    assert got.status.state == pb.TASK_STATE_CANCELED

    with pytest.raises(SdkTaskNotCancelable):
        await accord.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))


async def test_sdk_subscribes_to_a_running_task(accord: AccordGrpc) -> None:
    key = fresh_key()
    task = await sdk_send_task(
        accord.blocking, sdk_request(f"wait {key}", return_immediately=True)
    )
    events: list[pb.StreamResponse] = []
    with anyio.fail_after(DEADLINE):
        async for event in accord.streaming.subscribe(
            pb.SubscribeToTaskRequest(id=task.id)
        ):
            events.append(event)
            if len(events) == 1:  # the snapshot is in: let the task finish
                gate(key).set()

    assert events[0].HasField("task")
    assert events[0].task.id == task.id
    assert events[0].task.status.state in (
        pb.TASK_STATE_SUBMITTED,
        pb.TASK_STATE_WORKING,
    )
    artifacts = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [(a.artifact.name, a.artifact.parts[0].text) for a in artifacts] == [
        ("result", "gate opened")
    ]
    assert sdk_state(events[-1]) == pb.TASK_STATE_COMPLETED


async def test_sdk_reads_task_not_found_from_the_trailer(accord: AccordGrpc) -> None:
    with pytest.raises(SdkTaskNotFound) as got:
        await accord.blocking.get_task(pb.GetTaskRequest(id="no-such-task"))
    assert "no-such-task" in str(got.value)
    with pytest.raises(SdkTaskNotFound):
        await accord.blocking.cancel_task(pb.CancelTaskRequest(id="no-such-task"))
    with pytest.raises(SdkTaskNotFound):
        await sdk_send(accord.blocking, sdk_request("hi", task_id="no-such-task"))
    with anyio.fail_after(DEADLINE), pytest.raises(SdkTaskNotFound):
        await drain(
            accord.streaming.subscribe(pb.SubscribeToTaskRequest(id="no-such-task"))
        )


async def test_sdk_reads_the_failed_precondition_reasons(accord: AccordGrpc) -> None:
    # Three errors share FAILED_PRECONDITION: only the ErrorInfo reason tells them
    # apart, and the SDK's client maps by reason alone.
    done = await sdk_send_task(accord.blocking, sdk_request("echo done"))
    with pytest.raises(SdkTaskNotCancelable):
        await accord.blocking.cancel_task(pb.CancelTaskRequest(id=done.id))
    with pytest.raises(SdkUnsupportedOperation):
        await sdk_send(accord.blocking, sdk_request("more", task_id=done.id))
    with anyio.fail_after(DEADLINE), pytest.raises(SdkUnsupportedOperation):
        await drain(accord.streaming.subscribe(pb.SubscribeToTaskRequest(id=done.id)))


async def test_sdk_reads_the_bad_request_field_violations(accord: AccordGrpc) -> None:
    # INVALID_PARAMS travels with a google.rpc.BadRequest naming the field; the SDK
    # hands its violations over as data["errors"].
    with pytest.raises(SdkInvalidParams) as too_big:
        await accord.blocking.list_tasks(pb.ListTasksRequest(page_size=500))
    task = await sdk_send_task(accord.blocking, sdk_request("echo x"))
    with pytest.raises(SdkInvalidParams) as negative:
        await accord.blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=-1))
    for caught, name in ((too_big, "pageSize"), (negative, "historyLength")):
        assert caught.value.data is not None
        assert [e["field"] for e in caught.value.data["errors"]] == [name]


async def test_sdk_push_operations_are_not_supported(accord: AccordGrpc) -> None:
    task = await sdk_send_task(accord.blocking, sdk_request("ask"))
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: accord.blocking.get_task_push_notification_config(
            pb.GetTaskPushNotificationConfigRequest(task_id=task.id, id="c-1")
        ),
        lambda: accord.blocking.create_task_push_notification_config(
            pb.TaskPushNotificationConfig(task_id=task.id, url="https://x.test/h")
        ),
        lambda: accord.blocking.list_task_push_notification_configs(
            pb.ListTaskPushNotificationConfigsRequest(task_id=task.id)
        ),
        lambda: accord.blocking.delete_task_push_notification_config(
            pb.DeleteTaskPushNotificationConfigRequest(task_id=task.id, id="c-1")
        ),
    ]
    for call in calls:
        with pytest.raises(SdkPushNotSupported, match="push"):
            await call()


async def test_sdk_extended_card_needs_the_api_key_in_metadata() -> None:
    async with serve_accord(api_key=API_KEY) as secured:
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED"):
            # Unauthenticated has no A2A reason: the SDK reports the bare status.
            await secured.blocking.get_extended_agent_card(
                pb.GetExtendedAgentCardRequest()
            )
        # The SDK sends service parameters as lower-cased metadata keys.
        keyed = SdkCallContext(service_parameters={API_KEY_HEADER: API_KEY})
        card = await secured.blocking.get_extended_agent_card(
            pb.GetExtendedAgentCardRequest(), context=keyed
        )
        assert card.name == "Accord interop agent (extended)"
        assert [s.id for s in card.skills] == ["secret"]
        # Every operation needs the key on this agent.
        with pytest.raises(A2AClientError, match="UNAUTHENTICATED"):
            await sdk_send(secured.blocking, sdk_request("echo anonymous"))
        events = [
            event
            async for event in secured.blocking.send_message(
                sdk_request("echo keyed"), context=keyed
            )
        ]
        assert [e.task.status.state for e in events] == [pb.TASK_STATE_COMPLETED]


# --- Accord's client against the SDK's gRPC server ---------------------------------------


@dataclass
class Call:
    """One call the SDK's gRPC server received."""

    method: str
    metadata: dict[str, str]


@dataclass
class Witness(grpc.aio.ServerInterceptor):
    """Records every call the server receives (method path and metadata)."""

    calls: list[Call] = field(default_factory=list)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails],
            Awaitable[grpc.RpcMethodHandler[Any, Any] | None],
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        metadata = {
            key: value
            for key, value in handler_call_details.invocation_metadata or ()
            if isinstance(value, str)
        }
        self.calls.append(Call(handler_call_details.method, metadata))
        return await continuation(handler_call_details)

    def methods(self) -> list[str]:
        """The rpc names called, in order."""
        return [c.method.rsplit("/", 1)[-1] for c in self.calls]


@dataclass
class SdkGrpc:
    """The SDK's gRPC server and Accord's client for it."""

    target: str
    sdk: SdkServer
    witness: Witness
    client: Client


@asynccontextmanager
async def serve_sdk() -> AsyncIterator[SdkGrpc]:
    """The SDK's interop agent behind its GrpcHandler, and Accord's client for it.

    The card lists the SDK's JSON-RPC and REST interfaces at an unroutable host and
    the gRPC one at ``127.0.0.1:port``; Accord's client reads it from the SDK's card
    route (in-process) and is restricted to ``GRPC``.
    """
    async with httpx.AsyncClient() as webhook_http:
        sdk = SdkServer(webhook_http)
        witness = Witness()
        # No SO_REUSEPORT: two servers of parallel workers could share a port 0 pick.
        server = grpc.aio.server(
            interceptors=(witness,), options=(("grpc.so_reuseport", 0),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        assert port != 0
        target = f"127.0.0.1:{port}"
        for card in (sdk.card, sdk.extended_card):
            card.supported_interfaces.add(
                url=target, protocol_binding="GRPC", protocol_version="1.0"
            )
        servicer = GrpcHandler(sdk.handler)
        a2a_pb2_grpc.add_A2AServiceServicer_to_server(  # type: ignore[no-untyped-call]
            servicer, server
        )
        await server.start()
        try:
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=sdk.app)) as http,
                await Client.connect(
                    "http://sdk.test", http=http, config=GRPC_ONLY
                ) as client,
            ):
                yield SdkGrpc(target, sdk, witness, client)
        finally:
            with anyio.CancelScope(shield=True):
                await server.stop(None)
                await sdk.handler.aclose()


@pytest.fixture
async def sdk() -> AsyncIterator[SdkGrpc]:
    async with serve_sdk() as served:
        yield served


def rich_parts() -> tuple[Part, ...]:
    return (
        Part(
            data={"k": [1, 2.5, True, None, "s"], "nested": {}},
            media_type="application/json",
        ),
        Part(
            raw=b"\x00\x01\xfe\xff",
            filename="blob.bin",
            media_type="application/octet-stream",
        ),
        Part(
            url="https://example.com/f.txt",
            filename="f.txt",
            media_type="text/plain",
            metadata={"source": "test", "n": 3},
        ),
    )


async def send_task(client: Client, *args: Any, **kwargs: Any) -> Task:
    result = await client.send_message(*args, **kwargs)
    assert isinstance(result, Task), result
    return result


async def collect(client: Client, text: str, **kwargs: Any) -> list[StreamResponse]:
    with anyio.fail_after(DEADLINE):
        async with client.send_streaming_message(text, **kwargs) as stream:
            return [event async for event in stream]


def state(event: StreamResponse) -> TaskState | None:
    """The task state an Accord stream event reports (None for the others)."""
    if event.task is not None:
        return event.task.status.state
    if event.status_update is not None:
        return event.status_update.status.state
    return None


async def test_accord_client_speaks_grpc_to_the_sdk(sdk: SdkGrpc) -> None:
    assert sdk.client.interface == AgentInterface(
        url=sdk.target, protocol_binding="GRPC", protocol_version="1.0"
    )
    task = await send_task(sdk.client, "echo binding")
    assert task.status.state is TaskState.COMPLETED
    assert sdk.witness.methods() == ["SendMessage"]
    (call,) = sdk.witness.calls
    assert call.method == "/lf.a2a.v1.A2AService/SendMessage"
    assert call.metadata["a2a-version"] == "1.0"


async def test_accord_client_from_a_bare_grpc_interface(sdk: SdkGrpc) -> None:
    interface = AgentInterface(
        url=sdk.target, protocol_binding="GRPC", protocol_version="1.0"
    )
    async with Client.from_interface(interface, config=GRPC_ONLY) as client:
        result = await client.send_message("reply no card")
    assert isinstance(result, Message)
    assert result.text == "you said: no card"
    assert sdk.witness.methods() == ["SendMessage"]


async def test_accord_blocking_send_returns_the_completed_task(sdk: SdkGrpc) -> None:
    sent = Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=(Part(text="echo hello"), *rich_parts()),
    )
    task = await send_task(sdk.client, sent)

    assert task.status.state is TaskState.COMPLETED
    assert task.status.message is not None
    assert task.status.message.text == "done"
    (artifact,) = task.artifacts
    assert artifact.name == "echo"
    # Every kind of part crossed gRPC to the SDK and came back unchanged.
    assert artifact.parts == sent.parts
    assert artifact.metadata == {"count": 4, "nested": {"ok": True}}
    assert task.history[0].message_id == sent.message_id


async def test_accord_blocking_send_returns_a_message(sdk: SdkGrpc) -> None:
    result = await sdk.client.send_message("reply hi there")
    assert isinstance(result, Message)
    assert result.role is Role.AGENT
    assert result.text == "you said: hi there"
    assert result.task_id == ""


async def test_accord_streaming_send_gets_the_events_in_order(sdk: SdkGrpc) -> None:
    events = await collect(sdk.client, "chunks")

    assert events[0].task is not None
    task_id = events[0].task.id
    chunks = [e.artifact_update for e in events if e.artifact_update is not None]
    assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]
    assert [c.append for c in chunks] == [False, True, True]
    assert [c.last_chunk for c in chunks] == [False, False, True]
    assert {c.task_id for c in chunks} == {task_id}
    states = [s for s in map(state, events) if s is not None]
    assert states[-1] is TaskState.COMPLETED
    assert TaskState.WORKING in states
    assert events[-1].status_update is not None
    assert sdk.witness.methods() == ["SendStreamingMessage"]

    task = await sdk.client.get_task(task_id)
    (artifact,) = task.artifacts
    assert [p.text for p in artifact.parts] == ["one ", "two ", "three"]


async def test_accord_streaming_a_message_reply(sdk: SdkGrpc) -> None:
    (event,) = await collect(sdk.client, "reply streamed")
    assert event.message is not None
    assert event.message.text == "you said: streamed"


async def test_accord_get_task_and_history_length(sdk: SdkGrpc) -> None:
    task = await send_task(sdk.client, "echo history")
    assert len(task.history) >= 2

    assert await sdk.client.get_task(task.id) == task
    one = await sdk.client.get_task(task.id, history_length=1)
    assert one.history == task.history[-1:]
    none = await sdk.client.get_task(task.id, history_length=0)
    assert none.history == ()
    assert none.artifacts == task.artifacts


async def test_accord_list_tasks_filters_by_context(sdk: SdkGrpc) -> None:
    first = await send_task(sdk.client, "echo one")
    second = await send_task(sdk.client, "echo two", context_id=first.context_id)
    other = await send_task(sdk.client, "echo elsewhere")
    assert other.context_id != first.context_id

    listed = await sdk.client.list_tasks(context_id=first.context_id)
    assert {t.id for t in listed.tasks} == {first.id, second.id}
    assert listed.total_size == 2
    assert listed.next_page_token == ""
    assert all(t.artifacts == () for t in listed.tasks)  # includeArtifacts unset

    rich = await sdk.client.list_tasks(
        context_id=first.context_id, include_artifacts=True
    )
    assert all(len(t.artifacts) == 1 for t in rich.tasks)
    everything = await sdk.client.list_tasks()
    assert {t.id for t in everything.tasks} == {first.id, second.id, other.id}


async def test_accord_multi_turn_input_required(sdk: SdkGrpc) -> None:
    task = await send_task(sdk.client, "ask")
    assert task.status.state is TaskState.INPUT_REQUIRED
    assert task.status.message is not None
    assert task.status.message.text == "Which day?"

    done = await send_task(
        sdk.client, "tuesday", task_id=task.id, context_id=task.context_id
    )
    assert done.id == task.id
    assert done.status.state is TaskState.COMPLETED
    assert done.artifacts[0].parts[0].text == "booked: tuesday"


async def test_accord_cancels_a_running_task_a_subscriber_sees_it(
    sdk: SdkGrpc,
) -> None:
    task = await send_task(sdk.client, f"wait {fresh_key()}", configuration=NOW)
    assert task.status.state in (TaskState.SUBMITTED, TaskState.WORKING)

    seen: list[StreamResponse] = []
    subscribed = anyio.Event()

    async def follow() -> None:
        async with sdk.client.subscribe(task.id) as subscription:
            async for event in subscription:
                seen.append(event)
                subscribed.set()

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            await subscribed.wait()
            canceled = await sdk.client.cancel_task(task.id)

    assert canceled.id == task.id
    assert canceled.status.state is TaskState.CANCELED
    assert seen[0].task is not None
    assert seen[0].task.id == task.id
    assert state(seen[-1]) is TaskState.CANCELED
    assert (await sdk.client.get_task(task.id)).status.state is TaskState.CANCELED

    with pytest.raises(TaskNotCancelableError):
        await sdk.client.cancel_task(task.id)


async def test_accord_subscribes_to_a_running_task(sdk: SdkGrpc) -> None:
    key = fresh_key()
    task = await send_task(sdk.client, f"wait {key}", configuration=NOW)
    events: list[StreamResponse] = []
    with anyio.fail_after(DEADLINE):
        async with sdk.client.subscribe(task.id) as subscription:
            async for event in subscription:
                events.append(event)
                if len(events) == 1:  # the snapshot is in: let the task finish
                    gate(key).set()

    assert events[0].task is not None
    assert events[0].task.id == task.id
    assert events[0].task.status.state in (TaskState.SUBMITTED, TaskState.WORKING)
    artifacts = [e.artifact_update for e in events if e.artifact_update is not None]
    assert [(a.artifact.name, a.artifact.parts[0].text) for a in artifacts] == [
        ("result", "gate opened")
    ]
    assert state(events[-1]) is TaskState.COMPLETED


async def test_accord_reads_task_not_found(sdk: SdkGrpc) -> None:
    with pytest.raises(TaskNotFoundError) as got:
        await sdk.client.get_task("no-such-task")
    # The SDK's ErrorInfo names the reason only: no metadata to carry over.
    assert got.value.metadata == {}
    with pytest.raises(TaskNotFoundError):
        await sdk.client.cancel_task("no-such-task")
    with pytest.raises(TaskNotFoundError):
        await sdk.client.send_message("hello", task_id="no-such-task")
    with anyio.fail_after(DEADLINE), pytest.raises(TaskNotFoundError):
        await drain(sdk.client.subscribe("no-such-task"))


async def test_accord_reads_the_failed_precondition_reasons(sdk: SdkGrpc) -> None:
    done = await send_task(sdk.client, "echo done")
    with pytest.raises(TaskNotCancelableError):
        await sdk.client.cancel_task(done.id)
    with pytest.raises(UnsupportedOperationError):
        await sdk.client.send_message("more", task_id=done.id)
    with anyio.fail_after(DEADLINE), pytest.raises(UnsupportedOperationError):
        await drain(sdk.client.subscribe(done.id))


async def test_accord_reads_invalid_params(sdk: SdkGrpc) -> None:
    task = await send_task(sdk.client, "ask")  # a task that accepts messages
    with pytest.raises(InvalidParamsError):  # another context than the task's
        await sdk.client.send_message("more", task_id=task.id, context_id="other")
    with pytest.raises(InvalidParamsError):
        await sdk.client.get_task(task.id, history_length=-1)
    with pytest.raises(InvalidParamsError):
        await sdk.client.list_tasks(page_size=500)
    await sdk.client.cancel_task(task.id)


async def test_accord_push_config_crud(sdk: SdkGrpc) -> None:
    task = await send_task(sdk.client, "ask")
    auth = AuthenticationInfo(scheme="Bearer", credentials="secret")
    created = await sdk.client.create_push_config(
        task.id, "https://example.com/hook", token="tok", authentication=auth
    )
    assert created.task_id == task.id
    assert created.id  # assigned by the agent
    assert created.url == "https://example.com/hook"
    assert created.token == "tok"
    assert created.authentication == auth

    assert await sdk.client.get_push_config(task.id, created.id) == created
    assert (await sdk.client.list_push_configs(task.id)).configs == (created,)
    await sdk.client.delete_push_config(task.id, created.id)
    assert (await sdk.client.list_push_configs(task.id)).configs == ()
    with pytest.raises(TaskNotFoundError):
        await sdk.client.get_push_config(task.id, created.id)
    await sdk.client.cancel_task(task.id)


async def test_accord_gets_the_extended_card(sdk: SdkGrpc) -> None:
    card = await sdk.client.get_extended_agent_card()
    assert card.name == "SDK interop agent (extended)"
    assert [s.id for s in card.skills] == ["echo", "secret"]
    assert ("GRPC", sdk.target) in [
        (i.protocol_binding, i.url) for i in card.supported_interfaces
    ]
    assert sdk.witness.methods() == ["GetExtendedAgentCard"]
