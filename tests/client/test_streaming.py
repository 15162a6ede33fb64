"""SSE streams on both bindings: events and ids, resuming, errors, early close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest

from accord import errors
from accord.bindings import jsonrpc, rest
from accord.client import Client, RestTransport
from accord.protocol.operations import op
from accord.protocol.sse import encode_comment, encode_event
from accord.types import StreamResponse, SubscribeToTaskRequest, TaskState

from .helpers import (
    HTTPX_TRIO_WARNINGS,
    REST_URL,
    ClosableStream,
    FakeAgent,
    agent_message,
    client_for,
    interface,
    make_card,
    status_event,
    task,
)

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

BINDINGS = ["JSONRPC", "HTTP+JSON"]

EVENTS = [
    (StreamResponse(task=task()), "1"),
    (status_event(TaskState.WORKING), "2"),
    (status_event(TaskState.COMPLETED), "3"),
]


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest.fixture
async def client(agent: FakeAgent, binding: str) -> AsyncIterator[Client]:
    async with (
        agent.client() as http,
        Client(make_card(interface(binding, tenant="acme")), http=http) as client,
    ):
        yield client


@pytest.mark.parametrize("chunk_size", [0, 1, 7])
async def test_streaming_message_yields_events_with_ids(
    agent: FakeAgent, client: Client, chunk_size: int
) -> None:
    agent.chunk_size = chunk_size
    agent.on("SendStreamingMessage", EVENTS)

    async with client.send_streaming_message("go") as stream:
        got = [(event, stream.last_event_id) async for event in stream]

    assert got == EVENTS
    request = agent.last.request
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["A2A-Version"] == "1.0"
    assert agent.last.params.message.text == "go"
    assert agent.last.params.tenant == "acme"


async def test_a_message_only_stream(agent: FakeAgent, client: Client) -> None:
    agent.on("SendStreamingMessage", [StreamResponse(message=agent_message())])

    async with client.send_streaming_message("hi") as stream:
        events = [event async for event in stream]

    assert events == [StreamResponse(message=agent_message())]
    assert stream.last_event_id is None


async def test_an_empty_stream_is_incomplete(agent: FakeAgent, client: Client) -> None:
    agent.on("SubscribeToTask", [])

    async with client.subscribe("t-1") as stream:
        with pytest.raises(errors.IncompleteStreamError, match="before reporting"):
            await anext(stream)


async def test_subscribe_resumes_with_last_event_id(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SubscribeToTask", EVENTS[1:])

    async with client.subscribe("t-1", last_event_id="1") as stream:
        events = [event async for event in stream]

    assert events == [e for e, _ in EVENTS[1:]]
    assert stream.last_event_id == "3"
    assert agent.last.request.headers["Last-Event-ID"] == "1"
    assert agent.last.params.id == "t-1"
    assert agent.last.params.tenant == "acme"


async def test_no_last_event_id_header_on_a_fresh_subscription(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SubscribeToTask", EVENTS)

    async with client.subscribe("t-1") as stream:
        await anext(stream)

    assert "Last-Event-ID" not in agent.last.request.headers


async def test_an_error_before_the_stream_is_raised(
    agent: FakeAgent, client: Client
) -> None:
    def fail(_params: object) -> None:
        raise errors.TaskNotFoundError("no task t-9", metadata={"taskId": "t-9"})

    agent.on("SubscribeToTask", fail)

    async with client.subscribe("t-9") as stream:
        with pytest.raises(errors.TaskNotFoundError, match="no task t-9"):
            await anext(stream)
        # A failed stream is over.
        assert [event async for event in stream] == []


async def test_a_jsonrpc_error_inside_the_stream_is_raised() -> None:
    body = encode_event(
        jsonrpc.encode_stream_event(1, StreamResponse(task=task()))
    ) + encode_event(jsonrpc.encode_error(1, errors.InternalError("agent crashed")))
    response = httpx.Response(
        200, content=body, headers={"content-type": "text/event-stream"}
    )
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: response)) as http,
        Client(make_card(interface("JSONRPC")), http=http) as client,
    ):
        stream = client.subscribe("t-1")
        assert (await anext(stream)).task == task()
        with pytest.raises(errors.InternalError, match="agent crashed"):
            await anext(stream)


async def test_keepalive_comments_are_ignored(binding: str) -> None:
    event = StreamResponse(task=task(state=TaskState.COMPLETED))
    data = (
        jsonrpc.encode_stream_event(1, event)
        if binding == "JSONRPC"
        else rest.encode_stream_event(event)
    )
    body = encode_comment("ping") + encode_event(data) + encode_comment()
    response = httpx.Response(
        200, content=body, headers={"content-type": "text/event-stream; charset=utf-8"}
    )
    async with (
        client_for(response, binding) as client,
        client.subscribe("t-1") as stream,
    ):
        assert [e async for e in stream] == [event]


async def test_a_non_sse_success_answer_is_an_invalid_agent_response(
    binding: str,
) -> None:
    response = httpx.Response(200, json={"task": {"id": "t"}})
    async with (
        client_for(response, binding) as client,
        client.subscribe("t-1") as stream,
    ):
        with pytest.raises(
            errors.InvalidAgentResponseError, match="not an event stream"
        ):
            await anext(stream)


async def test_an_http_error_answer_to_a_stream(binding: str) -> None:
    response = httpx.Response(401, text="login first")
    async with (
        client_for(response, binding) as client,
        client.subscribe("t-1") as stream,
    ):
        with pytest.raises(errors.HTTPStatusError, match="requires authentication"):
            await anext(stream)


async def test_an_oversized_event_is_an_invalid_agent_response() -> None:
    # A peer that never ends its event must not grow our memory without bound.
    response = httpx.Response(
        200,
        content=b"data: " + b"x" * 1000,
        headers={"content-type": "text/event-stream"},
    )
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _r: response)
    ) as http:
        transport = RestTransport(REST_URL, http, max_event_size=100)
        events = transport.stream(op("SubscribeToTask"), SubscribeToTaskRequest(id="t"))
        with pytest.raises(errors.InvalidAgentResponseError, match="larger than"):
            await anext(events)


def endless(binding: str) -> tuple[ClosableStream, list[int]]:
    """An SSE body that never ends; the list counts the events produced."""
    produced: list[int] = []

    def chunk(n: int) -> bytes:
        produced.append(n)
        event = status_event(TaskState.WORKING)
        data = (
            jsonrpc.encode_stream_event(1, event)
            if binding == "JSONRPC"
            else rest.encode_stream_event(event)
        )
        return encode_event(data, id=str(n + 1))

    return ClosableStream(chunk), produced


async def test_leaving_a_stream_early_closes_the_response(binding: str) -> None:
    body, produced = endless(binding)
    response = httpx.Response(
        200, stream=body, headers={"content-type": "text/event-stream"}
    )
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: response)) as http,
        Client(make_card(interface(binding)), http=http) as client,
    ):
        async with aclosing(client.subscribe("t-1")) as stream:
            async for _event in stream:
                if stream.last_event_id == "3":
                    break
        assert body.closed
        assert len(produced) == 3

        # The same with break and no context manager, then an explicit aclose().
        body2, _ = endless(binding)
        response2 = httpx.Response(
            200, stream=body2, headers={"content-type": "text/event-stream"}
        )
        http._transport = httpx.MockTransport(lambda _r: response2)
        stream2 = client.subscribe("t-1")
        await anext(stream2)
        await stream2.aclose()
        await stream2.aclose()  # idempotent
        assert body2.closed
        with pytest.raises(StopAsyncIteration):
            await anext(stream2)


async def test_rest_subscribe_retries_with_get_on_405() -> None:
    agent = FakeAgent()
    agent.on("SubscribeToTask", EVENTS)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            agent.requests.append(request)
            return httpx.Response(405, headers={"Allow": "GET"})
        return await agent(request)

    async with (
        client_for(handler, "HTTP+JSON") as client,
        client.subscribe("t-1", last_event_id="0") as stream,
    ):
        events = [event async for event in stream]

    assert events == [e for e, _ in EVENTS]
    post, get = agent.requests
    assert (post.method, get.method) == ("POST", "GET")
    assert post.url.path == get.url.path == "/rest/tasks/t-1:subscribe"
    assert get.content == b""
    assert "Content-Type" not in get.headers
    assert get.headers["Last-Event-ID"] == "0"


async def test_a_second_405_is_not_retried_again() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(405)

    async with (
        client_for(handler, "HTTP+JSON") as client,
        client.subscribe("t-1") as stream,
    ):
        with pytest.raises(errors.HTTPStatusError, match="405"):
            await anext(stream)

    assert calls == ["POST", "GET"]
