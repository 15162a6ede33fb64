"""A stream that ends before its task ended (or paused for the client) is an error.

Terminal states and the interrupted ones (INPUT_REQUIRED, AUTH_REQUIRED) end a stream
legitimately, as does a message-only answer; anything else means the connection
closed early, and the client raises IncompleteStreamError instead of ending quietly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from accord import errors
from accord.client import Client
from accord.types import StreamResponse, TaskState

from .helpers import (
    HTTPX_TRIO_WARNINGS,
    FakeAgent,
    agent_message,
    interface,
    make_card,
    status_event,
    task,
)

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest.fixture
async def client(agent: FakeAgent, binding: str) -> AsyncIterator[Client]:
    async with (
        agent.client() as http,
        Client(make_card(interface(binding)), http=http) as client,
    ):
        yield client


async def test_a_stream_cut_while_working_raises(
    agent: FakeAgent, client: Client
) -> None:
    agent.on(
        "SendStreamingMessage",
        [(StreamResponse(task=task()), "1"), (status_event(TaskState.WORKING), "2")],
    )
    async with client.send_streaming_message("hi") as stream:
        await anext(stream)
        await anext(stream)  # every event arrives before the error
        with pytest.raises(errors.IncompleteStreamError) as caught:
            await anext(stream)
    error = caught.value
    assert isinstance(error, errors.TransportError)
    assert error.task_id == "t-1"
    assert error.state is TaskState.WORKING
    assert error.last_event_id == "2"
    assert "TASK_STATE_WORKING" not in str(error)
    assert "t-1 was WORKING" in str(error)
    assert "last_event_id='2'" in str(error)


async def test_a_subscription_cut_after_its_snapshot_raises(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SubscribeToTask", [StreamResponse(task=task(state=TaskState.SUBMITTED))])
    async with client.subscribe("t-1") as stream:
        assert (await anext(stream)).task is not None
        with pytest.raises(errors.IncompleteStreamError, match="SUBMITTED"):
            await anext(stream)
        # The error ends the stream: no second error, no hang.
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


@pytest.mark.parametrize(
    "state",
    [
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.CANCELED,
        TaskState.REJECTED,
        TaskState.INPUT_REQUIRED,
        TaskState.AUTH_REQUIRED,
    ],
)
async def test_terminal_and_interrupted_states_end_a_stream(
    agent: FakeAgent, client: Client, state: TaskState
) -> None:
    agent.on(
        "SendStreamingMessage",
        [StreamResponse(task=task()), status_event(state)],
    )
    async with client.send_streaming_message("hi") as stream:
        events = [event async for event in stream]
    assert len(events) == 2
    assert stream.state is state
    assert stream.task_id == "t-1"


async def test_a_snapshot_in_a_final_state_ends_a_stream(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SubscribeToTask", [StreamResponse(task=task(state=TaskState.FAILED))])
    async with client.subscribe("t-1") as stream:
        assert len([event async for event in stream]) == 1


async def test_a_message_only_stream_is_complete(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SendStreamingMessage", [StreamResponse(message=agent_message())])
    async with client.send_streaming_message("hi") as stream:
        events = [event async for event in stream]
    assert events[0].message is not None
    assert stream.state is None


async def test_closing_a_stream_early_is_not_an_error(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SendStreamingMessage", [StreamResponse(task=task())])
    async with client.send_streaming_message("hi") as stream:
        await anext(stream)
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
