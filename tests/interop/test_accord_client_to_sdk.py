"""Accord's client against the official SDK's server (a2a-sdk 1.3.0), on both bindings.

The SDK server is its own Starlette app (agent card, JSON-RPC and REST route
factories) over ``DefaultRequestHandler`` + ``InMemoryTaskStore`` with the test agent
as an ``AgentExecutor`` (``agents.SdkAgent``). Accord's client is pinned to one binding
with ``ClientConfig(preferred_bindings=...)``. After every test, every payload that
crossed the wire is decoded by the side that received it and must survive the round
trip (``assert_lossless``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from accord.client import Client, ClientConfig
from accord.errors import (
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.types import (
    AuthenticationInfo,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    StreamResponse,
    Task,
    TaskState,
    decode,
    replace,
)

from .agents import SDK_JSONRPC_PATH, gate
from .conftest import (
    BINDINGS,
    Delivery,
    Served,
    Webhook,
    accord_client,
    assert_lossless,
    drain,
)
from .lossless import accord_roundtrip, diff, pb_class

pytestmark = pytest.mark.anyio

NOW = SendMessageConfiguration(return_immediately=True)


@pytest.fixture(autouse=True)
def lossless(sdk_server: Served) -> Iterator[None]:
    """Every payload of the test decodes without loss on the receiving side."""
    yield from assert_lossless(sdk_server)


@pytest.fixture(params=BINDINGS)
async def client(
    request: pytest.FixtureRequest, sdk_server: Served
) -> AsyncIterator[Client]:
    async with accord_client(sdk_server.url, str(request.param)) as client:
        yield client


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


async def send_task(client: Client, *args: object, **kwargs: object) -> Task:
    result = await client.send_message(*args, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Task), result
    return result


async def collect(client: Client, text: str, **kwargs: object) -> list[StreamResponse]:
    async with client.send_streaming_message(text, **kwargs) as stream:  # type: ignore[arg-type]
        return [event async for event in stream]


# --- discovery --------------------------------------------------------------------------


async def test_card_resolution_from_the_well_known_url(
    client: Client, sdk_server: Served
) -> None:
    card = client.card
    assert card is not None
    assert card.name == "SDK interop agent"
    assert [(i.protocol_binding, i.url) for i in card.supported_interfaces] == [
        ("JSONRPC", sdk_server.url + SDK_JSONRPC_PATH),
        ("HTTP+JSON", sdk_server.url),
    ]
    assert card.capabilities.streaming
    assert card.capabilities.push_notifications
    assert card.capabilities.extended_agent_card


async def test_the_client_speaks_the_pinned_binding(
    client: Client, sdk_server: Served
) -> None:
    sdk_server.recorder.clear()
    await send_task(client, "echo binding")
    (exchange,) = sdk_server.recorder.exchanges
    assert exchange.request_headers["a2a-version"] == "1.0"
    assert client.interface is not None
    if client.interface.protocol_binding == "JSONRPC":
        assert exchange.path == SDK_JSONRPC_PATH
    else:
        assert exchange.path == "/message:send"


async def test_extended_card(client: Client) -> None:
    # The SDK's handler serves the extended card to anonymous callers unless the
    # deployment adds authentication; spec §13.3 says MUST require it (D7).
    card = await client.get_extended_agent_card()
    assert card.name == "SDK interop agent (extended)"
    assert [s.id for s in card.skills] == ["echo", "secret"]
    assert client.card == card


async def test_the_interfaces_tenant_goes_with_every_request(
    client: Client, sdk_server: Served
) -> None:
    # Spec §8.3.2 step 4: the client copies the interface's
    # tenant into every request; REST carries it as the first path segment.
    assert client.card is not None
    assert client.interface is not None
    binding = client.interface.protocol_binding
    card = replace(
        client.card,
        supported_interfaces=tuple(
            replace(i, tenant="acme") for i in client.card.supported_interfaces
        ),
    )
    sdk_server.recorder.clear()
    config = ClientConfig(preferred_bindings=(binding,))
    async with Client(card, config=config) as tenanted:
        task = await send_task(tenanted, "echo tenant")
        assert (await tenanted.get_task(task.id)).id == task.id
        await tenanted.list_tasks(context_id=task.context_id)
    calls = sdk_server.recorder.exchanges
    if binding == "JSONRPC":
        tenants = {json.loads(bytes(e.request_body))["params"]["tenant"] for e in calls}
        assert tenants == {"acme"}
    else:
        assert all(e.path.startswith("/acme/") for e in calls)


# --- SendMessage ----------------------------------------------------------------------


async def test_blocking_send_returns_the_finished_task(client: Client) -> None:
    parts = rich_parts()
    sent = Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=(Part(text="echo hello"), *parts),
    )
    task = await send_task(client, sent)

    assert task.status.state is TaskState.COMPLETED
    assert task.status.message is not None
    assert task.status.message.parts[0].text == "done"
    (artifact,) = task.artifacts
    assert artifact.name == "echo"
    # Every kind of part went to the SDK and came back unchanged.
    assert artifact.parts == sent.parts
    assert artifact.metadata == {"count": 4, "nested": {"ok": True}}
    assert task.history[0].message_id == sent.message_id


async def test_blocking_send_returns_a_message(client: Client) -> None:
    result = await client.send_message("reply hi there")
    assert isinstance(result, Message)
    assert result.role is Role.AGENT
    assert result.text == "you said: hi there"
    assert result.task_id == ""


async def test_return_immediately_answers_before_the_task_ends(
    client: Client,
) -> None:
    key = str(uuid.uuid4())
    task = await send_task(client, f"wait {key}", configuration=NOW)
    assert task.status.state in (TaskState.SUBMITTED, TaskState.WORKING)
    gate(key).set()


# --- SendStreamingMessage ---------------------------------------------------------------


async def test_streaming_a_chunked_artifact(client: Client) -> None:
    events = await collect(client, "chunks")

    assert events[0].task is not None
    chunks = [e.artifact_update for e in events if e.artifact_update is not None]
    assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]
    assert [c.append for c in chunks] == [False, True, True]
    assert [c.last_chunk for c in chunks] == [False, False, True]
    assert len({c.artifact.artifact_id for c in chunks}) == 1
    last = events[-1].status_update
    assert last is not None
    assert last.status.state is TaskState.COMPLETED

    task = await client.get_task(events[0].task.id)
    (artifact,) = task.artifacts
    assert [p.text for p in artifact.parts] == ["one ", "two ", "three"]


async def test_streaming_a_message_reply(client: Client) -> None:
    (event,) = await collect(client, "reply streamed")
    assert event.message is not None
    assert event.message.text == "you said: streamed"


async def test_stream_closes_at_input_required(client: Client) -> None:
    # Spec §11.7 (§3.1.6 names terminal states only): both implementations
    # end the stream at INPUT_REQUIRED.
    events = await collect(client, "ask")
    last = events[-1].status_update
    assert last is not None
    assert last.status.state is TaskState.INPUT_REQUIRED

    follow_up = await collect(client, "friday", task_id=last.task_id)
    final = follow_up[-1].status_update
    assert final is not None
    assert final.status.state is TaskState.COMPLETED


# --- GetTask / ListTasks ----------------------------------------------------------------


async def test_get_task_with_history_length(client: Client) -> None:
    task = await send_task(client, "echo history")
    assert len(task.history) >= 2  # the user's message and the progress message

    full = await client.get_task(task.id)
    assert full == task
    one = await client.get_task(task.id, history_length=1)
    assert one.history == task.history[-1:]
    none = await client.get_task(task.id, history_length=0)
    assert none.history == ()
    assert none.artifacts == task.artifacts


async def test_blocking_send_with_history_length(client: Client) -> None:
    task = await send_task(
        client, "echo short", configuration=SendMessageConfiguration(history_length=1)
    )
    assert len(task.history) == 1


async def test_list_tasks_filters_and_pages(client: Client) -> None:
    first = await send_task(client, "echo one")
    context = first.context_id
    await anyio.sleep(0.005)  # distinct status timestamps, even to the millisecond
    second = await send_task(client, "echo two", context_id=context)
    await anyio.sleep(0.005)
    third = await send_task(client, "echo three", context_id=context)

    page = await client.list_tasks(context_id=context, page_size=2)
    assert [t.id for t in page.tasks] == [third.id, second.id]  # newest first
    assert page.total_size == 3
    assert page.page_size == 2
    assert page.next_page_token
    assert all(t.artifacts == () for t in page.tasks)  # includeArtifacts unset

    rest = await client.list_tasks(
        context_id=context, page_size=2, page_token=page.next_page_token
    )
    assert [t.id for t in rest.tasks] == [first.id]
    assert rest.next_page_token == ""

    rich = await client.list_tasks(
        context_id=context,
        status=TaskState.COMPLETED,
        include_artifacts=True,
        history_length=1,
    )
    assert [t.id for t in rich.tasks] == [third.id, second.id, first.id]
    assert all(len(t.artifacts) == 1 and len(t.history) == 1 for t in rich.tasks)

    working = await client.list_tasks(context_id=context, status=TaskState.WORKING)
    assert working.tasks == ()
    assert working.total_size == 0

    assert second.status.timestamp is not None
    after = await client.list_tasks(
        context_id=context, status_timestamp_after=second.status.timestamp
    )
    assert [t.id for t in after.tasks] == [third.id, second.id]


# --- CancelTask -------------------------------------------------------------------------


async def test_cancel_a_running_task(client: Client) -> None:
    task = await send_task(client, f"wait never-{uuid.uuid4()}", configuration=NOW)
    canceled = await client.cancel_task(task.id)
    assert canceled.id == task.id
    assert canceled.status.state is TaskState.CANCELED
    assert (await client.get_task(task.id)).status.state is TaskState.CANCELED

    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(task.id)


async def test_cancel_a_task_waiting_for_input(client: Client) -> None:
    task = await send_task(client, "ask")
    assert task.status.state is TaskState.INPUT_REQUIRED
    canceled = await client.cancel_task(task.id)
    assert canceled.status.state is TaskState.CANCELED


# --- SubscribeToTask --------------------------------------------------------------------


async def test_subscribe_and_resubscribe(client: Client) -> None:
    key = str(uuid.uuid4())
    task = await send_task(client, f"wait {key}", configuration=NOW)

    # First subscription: read the snapshot, then drop the connection.
    async with client.subscribe(task.id) as subscription:
        first = await anext(subscription)
    assert first.task is not None
    assert first.task.id == task.id
    assert first.task.status.state in (TaskState.SUBMITTED, TaskState.WORKING)

    # Resubscribe: a fresh snapshot, then the live events to the end.
    events: list[StreamResponse] = []
    async with client.subscribe(task.id) as subscription:
        async for event in subscription:
            events.append(event)
            if len(events) == 1:
                gate(key).set()
    assert events[0].task is not None
    assert any(e.artifact_update is not None for e in events)
    last = events[-1].status_update
    assert last is not None
    assert last.status.state is TaskState.COMPLETED


async def test_a_subscription_outlives_input_required(client: Client) -> None:
    # SubscribeToTask ends only at a terminal state (spec §3.1.6); both agree.
    task = await send_task(client, "ask")
    events: list[StreamResponse] = []
    async with client.subscribe(task.id) as subscription:
        async for event in subscription:
            events.append(event)
            if len(events) == 1:
                assert event.task is not None
                assert event.task.status.state is TaskState.INPUT_REQUIRED
                await send_task(client, "monday", task_id=task.id)
    last = events[-1].status_update
    assert last is not None
    assert last.status.state is TaskState.COMPLETED


# --- multi-turn -------------------------------------------------------------------------


async def test_multi_turn_input_required(client: Client) -> None:
    task = await send_task(client, "ask")
    assert task.status.state is TaskState.INPUT_REQUIRED
    assert task.status.message is not None
    assert task.status.message.text == "Which day?"
    assert task.status.message.role is Role.AGENT

    done = await send_task(
        client, "tuesday", task_id=task.id, context_id=task.context_id
    )
    assert done.id == task.id
    assert done.status.state is TaskState.COMPLETED
    assert done.artifacts[0].parts[0].text == "booked: tuesday"


# --- errors -----------------------------------------------------------------------------


async def test_unknown_task_is_task_not_found(client: Client) -> None:
    with pytest.raises(TaskNotFoundError):
        await client.get_task("no-such-task")
    with pytest.raises(TaskNotFoundError):
        await client.cancel_task("no-such-task")
    with pytest.raises(TaskNotFoundError):
        await client.send_message("hello", task_id="no-such-task")
    with pytest.raises(TaskNotFoundError):
        await drain(client.subscribe("no-such-task"))


async def test_finished_task_is_not_cancelable(client: Client) -> None:
    task = await send_task(client, "echo done")
    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(task.id)


async def test_finished_task_refuses_messages_and_subscriptions(
    client: Client,
) -> None:
    task = await send_task(client, "echo done")
    with pytest.raises(UnsupportedOperationError):
        await client.send_message("more", task_id=task.id)
    with pytest.raises(UnsupportedOperationError):
        await drain(client.subscribe(task.id))


async def test_invalid_params_are_invalid_params(client: Client) -> None:
    task = await send_task(client, "ask")  # a task that accepts messages
    with pytest.raises(InvalidParamsError):  # another context than the task's
        await client.send_message("more", task_id=task.id, context_id="other")
    with pytest.raises(InvalidParamsError):
        await client.get_task(task.id, history_length=-1)
    with pytest.raises(InvalidParamsError):
        await client.list_tasks(page_size=500)
    await client.cancel_task(task.id)


# --- push notifications -----------------------------------------------------------------


async def test_push_config_crud(client: Client) -> None:
    task = await send_task(client, "ask")
    auth = AuthenticationInfo(scheme="Bearer", credentials="secret")
    created = await client.create_push_config(
        task.id, "https://example.com/hook", token="tok", authentication=auth
    )
    assert created.task_id == task.id
    assert created.id  # assigned by the agent
    assert created.url == "https://example.com/hook"
    assert created.token == "tok"
    assert created.authentication == auth

    assert await client.get_push_config(task.id, created.id) == created
    listed = await client.list_push_configs(task.id)
    assert listed.configs == (created,)

    await client.delete_push_config(task.id, created.id)
    await client.delete_push_config(task.id, created.id)  # idempotent
    assert (await client.list_push_configs(task.id)).configs == ()
    with pytest.raises(TaskNotFoundError):
        await client.get_push_config(task.id, created.id)
    with pytest.raises(TaskNotFoundError):
        await client.create_push_config("no-such-task", "https://example.com/hook")
    await client.cancel_task(task.id)


async def test_push_delivery_reaches_the_webhook(
    client: Client, webhook: Webhook
) -> None:
    key = str(uuid.uuid4())
    token = f"tok-{key}"
    task = await send_task(client, f"wait {key}", configuration=NOW)
    await client.create_push_config(
        task.id,
        webhook.url,
        token=token,
        authentication=AuthenticationInfo(scheme="Bearer", credentials="secret"),
    )
    gate(key).set()

    def mine(deliveries: list[Delivery]) -> list[Delivery]:
        return [
            d for d in deliveries if d.headers.get("x-a2a-notification-token") == token
        ]

    def finished(deliveries: list[Delivery]) -> bool:
        return any(b"TASK_STATE_COMPLETED" in d.body for d in mine(deliveries))

    deliveries = mine(await anyio.to_thread.run_sync(webhook.wait_for, finished))
    descriptor = pb_class("StreamResponse").DESCRIPTOR
    for delivery in deliveries:
        # Spec §4.3.2, §13.2: the configured credentials go in Authorization;
        # the token in X-A2A-Notification-Token, which v1.0 no longer names (D5).
        assert delivery.headers["authorization"] == "Bearer secret"
        # The SDK posts application/json; the spec prefers application/a2a+json
        # (D4). Accord decodes either.
        assert delivery.headers["content-type"] == "application/json"
        event = decode(delivery.body, StreamResponse).payload
        assert (event.id if isinstance(event, Task) else event.task_id) == task.id
        again = accord_roundtrip(delivery.body, "StreamResponse")
        original = json.loads(delivery.body)
        assert diff(original, again, descriptor, ms_timestamps=True) == []


# --- coverage of the wire check ---------------------------------------------------------


async def test_every_operation_crosses_the_wire_check(
    client: Client, sdk_server: Served
) -> None:
    """One of each operation; the checker must have decoded every kind of payload."""
    assert client.interface is not None
    b = client.interface.protocol_binding
    sdk_server.recorder.clear()
    async with accord_client(sdk_server.url, b) as fresh:
        task = await send_task(fresh, "echo all")
        await fresh.send_message("reply all")
        await collect(fresh, "chunks")
        await fresh.get_task(task.id, history_length=1)
        await fresh.list_tasks(context_id=task.context_id)
        waiting = await send_task(fresh, "ask")
        async with fresh.subscribe(waiting.id) as subscription:
            await anext(subscription)
        config = await fresh.create_push_config(waiting.id, "https://example.com/h")
        await fresh.get_push_config(waiting.id, config.id)
        await fresh.list_push_configs(waiting.id)
        await fresh.delete_push_config(waiting.id, config.id)
        await fresh.cancel_task(waiting.id)
        await fresh.get_extended_agent_card()
        with pytest.raises(TaskNotFoundError):
            await fresh.get_task("no-such-task")

    outcome = sdk_server.check()
    assert outcome.problems == []
    if b == "JSONRPC":
        requests = {
            ("accord", b, "request", n)
            for n in (
                "SendMessageRequest",
                "GetTaskRequest",
                "ListTasksRequest",
                "CancelTaskRequest",
                "SubscribeToTaskRequest",
                "GetExtendedAgentCardRequest",
                "TaskPushNotificationConfig",
                "GetTaskPushNotificationConfigRequest",
                "ListTaskPushNotificationConfigsRequest",
                "DeleteTaskPushNotificationConfigRequest",
            )
        }
    else:
        requests = {
            ("accord", b, "request", n)
            for n in (
                "SendMessageRequest",
                "SubscribeToTaskRequest",
                "TaskPushNotificationConfig",
            )
        }
        requests |= {
            ("accord", b, "query", n)
            for n in (
                "GetTaskRequest",
                "ListTasksRequest",
                "GetExtendedAgentCardRequest",
                "GetTaskPushNotificationConfigRequest",
                "ListTaskPushNotificationConfigsRequest",
                "DeleteTaskPushNotificationConfigRequest",
            )
        }
    answers = {
        ("sdk", b, "response", n)
        for n in (
            "SendMessageResponse",
            "Task",
            "ListTasksResponse",
            "AgentCard",
            "TaskPushNotificationConfig",
            "ListTaskPushNotificationConfigsResponse",
            "Empty",
        )
    }
    answers |= {
        ("sdk", b, "event", "StreamResponse"),
        ("sdk", b, "error", "TASK_NOT_FOUND"),
        ("sdk", "card", "response", "AgentCard"),
    }
    assert requests | answers <= outcome.seen
