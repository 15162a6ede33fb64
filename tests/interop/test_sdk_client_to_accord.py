"""The official SDK's client (a2a-sdk 1.3.0) against Accord's server, on both bindings.

The SDK's own ``ClientFactory`` picks the transport from the card (pinned with
``supported_protocol_bindings``), so each test really speaks JSON-RPC or HTTP+JSON;
``test_the_client_speaks_the_pinned_binding`` checks that on the wire. After every
test, every payload that crossed the wire is decoded by the side that received it and
must survive the round trip (``assert_lossless``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from a2a.client import A2AClientError
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from google.protobuf import json_format, struct_pb2

from .agents import API_KEY_HEADER, gate
from .conftest import (
    API_KEY,
    BINDINGS,
    SdkClients,
    Served,
    assert_lossless,
    drain,
    sdk_clients,
)
from .wire import CARD_PATH

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def lossless(accord_server: Served) -> Iterator[None]:
    """Every payload of the test decodes without loss on the receiving side."""
    yield from assert_lossless(accord_server)


@pytest.fixture(params=BINDINGS)
async def sdk(
    request: pytest.FixtureRequest, accord_server: Served
) -> AsyncIterator[SdkClients]:
    async with sdk_clients(accord_server.url, str(request.param)) as clients:
        yield clients


def message(
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


def request(
    text: str,
    *,
    task_id: str = "",
    context_id: str = "",
    parts: list[pb.Part] | None = None,
    return_immediately: bool = False,
    history_length: int | None = None,
) -> pb.SendMessageRequest:
    config = pb.SendMessageConfiguration(return_immediately=return_immediately)
    if history_length is not None:
        config.history_length = history_length
    return pb.SendMessageRequest(
        message=message(text, task_id=task_id, context_id=context_id, parts=parts),
        configuration=config,
    )


async def send(sdk: SdkClients, req: pb.SendMessageRequest) -> pb.StreamResponse:
    """A blocking SendMessage: the SDK yields exactly one Task or Message."""
    events = [event async for event in sdk.blocking.send_message(req)]
    assert len(events) == 1, events
    return events[0]


async def send_task(sdk: SdkClients, req: pb.SendMessageRequest) -> pb.Task:
    event = await send(sdk, req)
    assert event.HasField("task"), event
    return event.task


async def stream(
    sdk: SdkClients, req: pb.SendMessageRequest
) -> list[pb.StreamResponse]:
    return [event async for event in sdk.streaming.send_message(req)]


def rich_parts() -> list[pb.Part]:
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


# --- discovery --------------------------------------------------------------------------


async def test_card_resolution_from_the_well_known_url(sdk: SdkClients) -> None:
    card = sdk.card
    assert card.name == "Accord interop agent"
    assert [
        (i.protocol_binding, i.protocol_version) for i in card.supported_interfaces
    ] == [
        ("JSONRPC", "1.0"),
        ("HTTP+JSON", "1.0"),
    ]
    assert card.capabilities.streaming
    assert card.capabilities.extended_agent_card
    assert not card.capabilities.push_notifications
    assert [s.id for s in card.skills] == ["echo"]
    assert "application/octet-stream" in card.default_input_modes


async def test_the_client_speaks_the_pinned_binding(
    sdk: SdkClients, accord_server: Served
) -> None:
    accord_server.recorder.clear()
    await send_task(sdk, request("echo binding"))
    (exchange,) = accord_server.recorder.exchanges
    assert exchange.method == "POST"
    assert exchange.request_headers["a2a-version"] == "1.0"
    if sdk.binding == "JSONRPC":
        assert exchange.path == "/"
    else:
        assert exchange.path == "/message:send"


async def test_the_extended_card_needs_authentication(sdk: SdkClients) -> None:
    # Spec §3.1.11 / §13.3: MUST require authentication. Accord answers 401
    # UNAUTHENTICATED; A2A assigns that no JSON-RPC code, and the SDK's client
    # reports it as a plain HTTP error (docs/interop.md D8).
    with pytest.raises(A2AClientError, match="401"):
        await sdk.blocking.get_extended_agent_card(pb.GetExtendedAgentCardRequest())


@pytest.mark.parametrize("binding", BINDINGS)
async def test_extended_card_for_an_authenticated_caller(
    binding: str, accord_secured: Served
) -> None:
    accord_secured.recorder.clear()
    async with sdk_clients(
        accord_secured.url, binding, headers={API_KEY_HEADER: API_KEY}
    ) as sdk:
        scheme = sdk.card.security_schemes["apiKey"].api_key_security_scheme
        assert (scheme.location, scheme.name) == ("header", API_KEY_HEADER)
        assert list(sdk.card.security_requirements[0].schemes) == ["apiKey"]
        card = await sdk.blocking.get_extended_agent_card(
            pb.GetExtendedAgentCardRequest()
        )
        assert card.name == "Accord interop agent (extended)"
        assert [s.id for s in card.skills] == ["secret"]
        task = await send_task(sdk, request("echo with a key"))
        assert task.status.state == pb.TASK_STATE_COMPLETED
    outcome = accord_secured.check()
    assert outcome.problems == []
    assert ("accord", binding, "response", "AgentCard") in outcome.seen


@pytest.mark.parametrize("binding", BINDINGS)
async def test_the_interfaces_tenant_goes_with_every_request(
    binding: str, accord_server: Served
) -> None:
    # Spec §8.3.2 step 4: the client copies the interface's
    # tenant into every request; REST carries it as the first path segment.
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    accord_server.recorder.clear()
    async with sdk_clients(accord_server.url, binding, tenant=tenant) as sdk:
        task = await send_task(sdk, request("echo tenant"))
        got = await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id))
        listed = await sdk.blocking.list_tasks(pb.ListTasksRequest())
    assert got.id == task.id
    assert [t.id for t in listed.tasks] == [task.id]  # the tenant's tasks only
    calls = [e for e in accord_server.recorder.exchanges if e.path != CARD_PATH]
    if binding == "JSONRPC":
        tenants = {json.loads(bytes(e.request_body))["params"]["tenant"] for e in calls}
        assert tenants == {tenant}
    else:
        assert all(e.path.startswith(f"/{tenant}/") for e in calls)


# --- SendMessage ----------------------------------------------------------------------


async def test_blocking_send_returns_the_finished_task(sdk: SdkClients) -> None:
    parts = rich_parts()
    task = await send_task(sdk, request("echo hello", parts=parts))

    assert task.status.state == pb.TASK_STATE_COMPLETED
    assert task.status.message.parts[0].text == "done"
    (artifact,) = task.artifacts
    assert artifact.name == "echo"
    # Every kind of part went to Accord and came back unchanged.
    assert list(artifact.parts) == [pb.Part(text="echo hello"), *parts]
    assert json_format.MessageToDict(artifact.metadata) == {
        "count": 4.0,
        "nested": {"ok": True},
    }
    assert task.history[0].parts[0].text == "echo hello"
    assert task.history[0].role == pb.ROLE_USER


async def test_blocking_send_returns_a_message(sdk: SdkClients) -> None:
    event = await send(sdk, request("reply hi there"))
    assert event.HasField("message")
    assert event.message.role == pb.ROLE_AGENT
    assert event.message.parts[0].text == "you said: hi there"
    assert not event.message.task_id


async def test_return_immediately_answers_before_the_task_ends(
    sdk: SdkClients,
) -> None:
    key = str(uuid.uuid4())
    task = await send_task(sdk, request(f"wait {key}", return_immediately=True))
    assert task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)
    gate(key).set()


# --- SendStreamingMessage ---------------------------------------------------------------


async def test_streaming_a_chunked_artifact(sdk: SdkClients) -> None:
    events = await stream(sdk, request("chunks"))

    assert events[0].HasField("task")
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [c.artifact.parts[0].text for c in chunks] == ["one ", "two ", "three"]
    assert [c.append for c in chunks] == [False, True, True]
    assert [c.last_chunk for c in chunks] == [False, False, True]
    assert len({c.artifact.artifact_id for c in chunks}) == 1
    states = [
        e.status_update.status.state for e in events if e.HasField("status_update")
    ]
    assert states[-1] == pb.TASK_STATE_COMPLETED
    assert events[-1].HasField("status_update")

    task = await sdk.blocking.get_task(pb.GetTaskRequest(id=events[0].task.id))
    (artifact,) = task.artifacts
    assert [p.text for p in artifact.parts] == ["one ", "two ", "three"]


async def test_streaming_a_message_reply(sdk: SdkClients) -> None:
    (event,) = await stream(sdk, request("reply streamed"))
    assert event.message.parts[0].text == "you said: streamed"


async def test_stream_closes_at_input_required(sdk: SdkClients) -> None:
    # Spec §11.7 (§3.1.6 names terminal states only): both implementations
    # end the stream at INPUT_REQUIRED.
    events = await stream(sdk, request("ask"))
    last = events[-1]
    assert last.status_update.status.state == pb.TASK_STATE_INPUT_REQUIRED

    follow_up = await stream(
        sdk,
        request("friday", task_id=last.status_update.task_id),
    )
    assert follow_up[0].HasField("task")
    assert follow_up[-1].status_update.status.state == pb.TASK_STATE_COMPLETED


# --- GetTask / ListTasks ----------------------------------------------------------------


async def test_get_task_with_history_length(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("echo history"))
    assert len(task.history) >= 2  # the user's message and the progress message

    full = await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id))
    assert full == task
    one = await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=1))
    assert list(one.history) == [task.history[-1]]
    none = await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=0))
    assert not none.history
    assert none.artifacts == task.artifacts


async def test_blocking_send_with_history_length(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("echo short", history_length=1))
    assert len(task.history) == 1


async def test_list_tasks_filters_and_pages(sdk: SdkClients) -> None:
    first = await send_task(sdk, request("echo one"))
    context = first.context_id
    await anyio.sleep(0.005)  # distinct status timestamps, even to the millisecond
    second = await send_task(sdk, request("echo two", context_id=context))
    await anyio.sleep(0.005)
    third = await send_task(sdk, request("echo three", context_id=context))

    page = await sdk.blocking.list_tasks(
        pb.ListTasksRequest(context_id=context, page_size=2)
    )
    assert [t.id for t in page.tasks] == [third.id, second.id]  # newest first
    assert page.total_size == 3
    assert page.page_size == 2
    assert page.next_page_token
    assert all(not t.artifacts for t in page.tasks)  # includeArtifacts unset

    rest = await sdk.blocking.list_tasks(
        pb.ListTasksRequest(
            context_id=context, page_size=2, page_token=page.next_page_token
        )
    )
    assert [t.id for t in rest.tasks] == [first.id]
    assert rest.next_page_token == ""

    rich = await sdk.blocking.list_tasks(
        pb.ListTasksRequest(
            context_id=context,
            status=pb.TASK_STATE_COMPLETED,
            include_artifacts=True,
            history_length=1,
        )
    )
    assert [t.id for t in rich.tasks] == [third.id, second.id, first.id]
    assert all(len(t.artifacts) == 1 and len(t.history) == 1 for t in rich.tasks)

    working = await sdk.blocking.list_tasks(
        pb.ListTasksRequest(context_id=context, status=pb.TASK_STATE_WORKING)
    )
    assert list(working.tasks) == []
    assert working.total_size == 0

    after = await sdk.blocking.list_tasks(
        pb.ListTasksRequest(
            context_id=context, status_timestamp_after=second.status.timestamp
        )
    )
    assert [t.id for t in after.tasks] == [third.id, second.id]


# --- CancelTask -------------------------------------------------------------------------


async def test_cancel_a_running_task(sdk: SdkClients) -> None:
    task = await send_task(
        sdk, request(f"wait never-{uuid.uuid4()}", return_immediately=True)
    )
    canceled = await sdk.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))
    assert canceled.id == task.id
    assert canceled.status.state == pb.TASK_STATE_CANCELED
    again = await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id))
    assert again.status.state == pb.TASK_STATE_CANCELED

    with pytest.raises(TaskNotCancelableError):
        await sdk.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))


async def test_cancel_a_task_waiting_for_input(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("ask"))
    assert task.status.state == pb.TASK_STATE_INPUT_REQUIRED
    canceled = await sdk.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))
    assert canceled.status.state == pb.TASK_STATE_CANCELED


# --- SubscribeToTask --------------------------------------------------------------------


async def test_subscribe_and_resubscribe(sdk: SdkClients) -> None:
    key = str(uuid.uuid4())
    task = await send_task(sdk, request(f"wait {key}", return_immediately=True))

    # First subscription: read the snapshot, then drop the connection.
    subscription = sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id=task.id))
    first = await anext(subscription)
    await subscription.aclose()  # type: ignore[attr-defined]
    assert first.task.id == task.id
    assert first.task.status.state in (pb.TASK_STATE_SUBMITTED, pb.TASK_STATE_WORKING)

    # Resubscribe: a fresh snapshot, then the live events to the end.
    events: list[pb.StreamResponse] = []
    async for event in sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id=task.id)):
        events.append(event)
        if len(events) == 1:
            gate(key).set()
    assert events[0].HasField("task")
    assert any(e.HasField("artifact_update") for e in events)
    assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED


async def test_a_subscription_outlives_input_required(sdk: SdkClients) -> None:
    # SubscribeToTask ends only at a terminal state (spec §3.1.6); both agree.
    task = await send_task(sdk, request("ask"))
    events: list[pb.StreamResponse] = []
    async for event in sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id=task.id)):
        events.append(event)
        if len(events) == 1:
            assert event.task.status.state == pb.TASK_STATE_INPUT_REQUIRED
            await send_task(sdk, request("monday", task_id=task.id))
    assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED


# --- multi-turn -------------------------------------------------------------------------


async def test_multi_turn_input_required(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("ask"))
    assert task.status.state == pb.TASK_STATE_INPUT_REQUIRED
    assert task.status.message.parts[0].text == "Which day?"
    assert task.status.message.role == pb.ROLE_AGENT

    done = await send_task(
        sdk, request("tuesday", task_id=task.id, context_id=task.context_id)
    )
    assert done.id == task.id
    assert done.status.state == pb.TASK_STATE_COMPLETED
    assert done.artifacts[0].parts[0].text == "booked: tuesday"


# --- errors -----------------------------------------------------------------------------


async def test_unknown_task_is_the_sdks_task_not_found(sdk: SdkClients) -> None:
    with pytest.raises(TaskNotFoundError) as caught:
        await sdk.blocking.get_task(pb.GetTaskRequest(id="no-such-task"))
    # Accord's ErrorInfo metadata reaches the SDK's exception.
    assert caught.value.data == {"taskId": "no-such-task"}
    with pytest.raises(TaskNotFoundError):
        await sdk.blocking.cancel_task(pb.CancelTaskRequest(id="no-such-task"))
    with pytest.raises(TaskNotFoundError):
        await send(sdk, request("hello", task_id="no-such-task"))
    with pytest.raises(TaskNotFoundError):
        await drain(
            sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id="no-such-task"))
        )


async def test_finished_task_is_not_cancelable(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("echo done"))
    with pytest.raises(TaskNotCancelableError):
        await sdk.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))


async def test_finished_task_refuses_messages_and_subscriptions(
    sdk: SdkClients,
) -> None:
    task = await send_task(sdk, request("echo done"))
    with pytest.raises(UnsupportedOperationError):
        await send(sdk, request("more", task_id=task.id))
    with pytest.raises(UnsupportedOperationError):
        await drain(sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id=task.id)))


async def test_invalid_params_are_the_sdks_invalid_params(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("ask"))  # a task that accepts messages
    with pytest.raises(InvalidParamsError):  # another context than the task's
        await send(sdk, request("more", task_id=task.id, context_id="other-context"))
    with pytest.raises(InvalidParamsError):
        await sdk.blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=-1))
    with pytest.raises(InvalidParamsError):
        await sdk.blocking.list_tasks(pb.ListTasksRequest(page_size=500))
    await sdk.blocking.cancel_task(pb.CancelTaskRequest(id=task.id))


async def test_unsupported_media_type_is_the_sdks_content_type_error(
    sdk: SdkClients,
) -> None:
    png = pb.Part(raw=b"\x89PNG", media_type="image/png")
    with pytest.raises(ContentTypeNotSupportedError):
        await send(sdk, request("echo picture", parts=[png]))


async def test_push_configs_are_not_supported(sdk: SdkClients) -> None:
    task = await send_task(sdk, request("echo push"))
    with pytest.raises(PushNotificationNotSupportedError):
        await sdk.blocking.create_task_push_notification_config(
            pb.TaskPushNotificationConfig(task_id=task.id, url="https://example.com/h")
        )
    with pytest.raises(PushNotificationNotSupportedError):
        await sdk.blocking.list_task_push_notification_configs(
            pb.ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )


# --- coverage of the wire check ---------------------------------------------------------


async def test_every_operation_crosses_the_wire_check(
    sdk: SdkClients, accord_server: Served
) -> None:
    """One of each operation; the checker must have decoded every kind of payload."""
    accord_server.recorder.clear()
    async with sdk_clients(accord_server.url, sdk.binding) as clients:
        task = await send_task(clients, request("echo all"))
        await send(clients, request("reply all"))
        await stream(clients, request("chunks"))
        await clients.blocking.get_task(pb.GetTaskRequest(id=task.id, history_length=1))
        await clients.blocking.list_tasks(
            pb.ListTasksRequest(context_id=task.context_id)
        )
        waiting = await send_task(clients, request("ask"))
        subscription = clients.streaming.subscribe(
            pb.SubscribeToTaskRequest(id=waiting.id)
        )
        await anext(subscription)
        await subscription.aclose()  # type: ignore[attr-defined]
        await clients.blocking.cancel_task(pb.CancelTaskRequest(id=waiting.id))
        with pytest.raises(A2AClientError):  # anonymous: 401
            await clients.blocking.get_extended_agent_card(
                pb.GetExtendedAgentCardRequest()
            )
        with pytest.raises(TaskNotFoundError):
            await clients.blocking.get_task(pb.GetTaskRequest(id="no-such-task"))

    outcome = accord_server.check()
    assert outcome.problems == []
    b = sdk.binding
    if b == "JSONRPC":
        requests = {
            ("sdk", b, "request", n)
            for n in (
                "SendMessageRequest",
                "GetTaskRequest",
                "ListTasksRequest",
                "CancelTaskRequest",
                "SubscribeToTaskRequest",
                "GetExtendedAgentCardRequest",
            )
        }
    else:
        requests = {
            ("sdk", b, "request", n)
            for n in ("SendMessageRequest", "CancelTaskRequest")
        }
        requests |= {
            ("sdk", b, "query", n)
            for n in (
                "GetTaskRequest",
                "ListTasksRequest",
                "GetExtendedAgentCardRequest",
            )
        }
    answers = {
        ("accord", b, "response", n)
        for n in ("SendMessageResponse", "Task", "ListTasksResponse")
    }
    answers |= {
        ("accord", b, "event", "StreamResponse"),
        ("accord", b, "error", "TASK_NOT_FOUND"),
        ("accord", b, "error", "UNAUTHENTICATED"),
        ("accord", "card", "response", "AgentCard"),
    }
    assert requests | answers <= outcome.seen
