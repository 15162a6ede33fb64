"""Falling back to the next suitable interface when one cannot be reached (spec §5.2)."""

from __future__ import annotations

import httpx
import pytest

from accord.client import Client
from accord.errors import ConnectError, HTTPStatusError
from accord.types import AgentInterface, SendMessageResponse, TaskState

from .helpers import (
    HTTPX_TRIO_WARNINGS,
    RPC_URL,
    FakeAgent,
    interface,
    make_card,
    status_event,
    task,
)

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

DOWN = AgentInterface(
    url="http://down.test/rpc",
    protocol_binding="JSONRPC",
    protocol_version="1.0",
    tenant="down-tenant",
)


def unreachable_host(agent: FakeAgent) -> httpx.MockTransport:
    """``down.test`` refuses connections; everything else goes to ``agent``."""

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.test":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await agent(request)

    return httpx.MockTransport(handler)


async def test_an_unreachable_interface_falls_back_and_sticks() -> None:
    agent = FakeAgent()
    agent.on("GetTask", task())
    card = make_card(DOWN, interface("HTTP+JSON", tenant="t2"))
    async with (
        httpx.AsyncClient(transport=unreachable_host(agent)) as http,
        Client(card, http=http) as client,
    ):
        assert client.interface == DOWN
        assert await client.get_task("t-1") == task()
        assert client.interface == card.supported_interfaces[1]
        await client.get_task("t-1")

    hosts = [r.url.host for r in agent.requests]
    assert hosts == ["agent.test", "agent.test"]  # down.test tried once, then skipped
    # The tenant follows the interface actually used (spec §10).
    assert [s.params.tenant for s in agent.seen] == ["t2", "t2"]


async def test_a_stream_falls_back_before_its_first_event() -> None:
    agent = FakeAgent()
    events = [
        (status_event(TaskState.WORKING), "7"),
        (status_event(TaskState.COMPLETED), "8"),
    ]
    agent.on("SubscribeToTask", events)
    card = make_card(DOWN, interface("JSONRPC"))
    async with (
        httpx.AsyncClient(transport=unreachable_host(agent)) as http,
        Client(card, http=http) as client,
        client.subscribe("t-1") as stream,
    ):
        assert [(e, stream.last_event_id) async for e in stream] == events


async def test_all_interfaces_unreachable() -> None:
    card = make_card(DOWN, DOWN)
    async with (
        httpx.AsyncClient(transport=unreachable_host(FakeAgent())) as http,
        Client(card, http=http) as client,
    ):
        with pytest.raises(ConnectError, match="any of 2 interfaces") as caught:
            await client.get_task("t-1")
        async with client.subscribe("t-1") as stream:
            with pytest.raises(ConnectError, match="any of 2 interfaces"):
                await anext(stream)

    assert str(caught.value).count("Cannot connect to http://down.test/rpc") == 2


async def test_other_failures_do_not_fall_back() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(503, text="overloaded")

    card = make_card(interface("JSONRPC"), interface("HTTP+JSON"))
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        Client(card, http=http) as client,
    ):
        with pytest.raises(HTTPStatusError, match="503"):
            await client.send_message("do not run twice")

    assert calls == [RPC_URL]


async def test_a_closed_client_refuses_calls() -> None:
    agent = FakeAgent()
    agent.on("SendMessage", SendMessageResponse(task=task()))
    async with agent.client() as http:
        client = Client(make_card(interface("JSONRPC")), http=http)
        await client.aclose()
        await client.aclose()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            await client.send_message("x")
