"""Mounting: two agents in one Starlette app under paths, with their own cards and tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from accord.server import A2AApp, Agent, TaskContext
from accord.types import AgentCard, decode

from .conftest import V1, serve, user_message
from .scripted import make_agent


async def shout(ctx: TaskContext) -> None:
    await ctx.add_artifact(ctx.text.upper())
    await ctx.complete()


def test_two_agents_mounted_under_paths() -> None:
    echo = A2AApp(make_agent())
    loud = A2AApp(Agent(shout, name="Loud", description="Shouts"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(echo.running())
            await stack.enter_async_context(loud.running())
            yield

    parent = Starlette(
        routes=[Mount("/agents/echo", echo), Mount("/agents/loud", loud)],
        lifespan=lifespan,
    )
    with serve(parent) as url, httpx.Client(timeout=10) as http:
        card = decode(
            http.get(url + "/agents/loud/.well-known/agent-card.json").content,
            AgentCard,
        )
        assert card.name == "Loud"
        rest_url = next(
            i.url
            for i in card.supported_interfaces
            if i.protocol_binding == "HTTP+JSON"
        )
        rpc_url = next(
            i.url for i in card.supported_interfaces if i.protocol_binding == "JSONRPC"
        )
        assert rest_url == url + "/agents/loud"
        r = http.post(
            rest_url + "/message:send",
            json={"message": user_message("hey")},
            headers=V1,
        )
        assert r.json()["task"]["artifacts"][0]["parts"] == [{"text": "HEY"}]
        echo_card = decode(
            http.get(url + "/agents/echo/.well-known/agent-card.json").content,
            AgentCard,
        )
        assert rpc_url == url + "/agents/loud/"
        echo_rpc = next(
            i.url
            for i in echo_card.supported_interfaces
            if i.protocol_binding == "JSONRPC"
        )
        r = http.post(
            echo_rpc,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {"message": user_message("echo hi")},
            },
            headers=V1,
        )
        task = r.json()["result"]["task"]
        assert task["artifacts"][0]["parts"] == [{"text": "hi"}]
        # tasks are per agent
        r = http.get(rest_url + f"/tasks/{task['id']}", headers=V1)
        assert r.status_code == 404


def test_request_before_lifespan_is_refused_clearly() -> None:
    app = A2AApp(make_agent())
    with (
        serve(Starlette(routes=[Mount("/a", app)])) as url,
        httpx.Client(timeout=10) as http,
    ):
        r = http.post(
            url + "/a/message:send", json={"message": user_message("x")}, headers=V1
        )
        assert r.status_code == 503
        assert "lifespan" in r.text
