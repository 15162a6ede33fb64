"""Mounting: two agents in one Starlette app under paths, with their own cards and tasks."""

from __future__ import annotations

import runpy
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from accord.client import Client, ClientConfig
from accord.errors import HTTPStatusError, UnavailableError
from accord.server import A2AApp, Agent, TaskContext
from accord.types import AgentCard, AgentInterface, Task, TaskState, decode
from tests.helpers.cli import run_cli

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


@pytest.fixture(scope="module")
def unstarted() -> Iterator[str]:
    """An A2AApp mounted without its lifespan: the card works, operations cannot."""
    app = A2AApp(make_agent())
    with serve(Starlette(routes=[Mount("/a", app)])) as url:
        yield url + "/a"


def test_request_before_lifespan_is_refused_in_the_bindings_shape(
    unstarted: str,
) -> None:
    with httpx.Client(timeout=10) as http:
        r = http.post(
            unstarted + "/message:send", json={"message": user_message("x")}, headers=V1
        )
        assert r.status_code == 503
        assert r.headers["retry-after"]
        error = r.json()["error"]
        assert error["status"] == "UNAVAILABLE"
        assert error["details"][0]["reason"] == "UNAVAILABLE"
        assert "lifespan was not started" in error["message"]
        assert "app.running()" in error["message"]
        rpc = http.post(
            unstarted + "/",
            json={
                "jsonrpc": "2.0",
                "id": 7,
                "method": "SendMessage",
                "params": {"message": user_message("x")},
            },
            headers=V1,
        )
        assert rpc.status_code == 503
        body = rpc.json()
        assert body["jsonrpc"] == "2.0"
        assert body["error"]["code"] == -31503
        assert "app.running()" in body["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_client_reports_what_to_do_when_the_lifespan_never_ran(
    unstarted: str, binding: str
) -> None:
    async with await Client.connect(
        unstarted, config=ClientConfig(preferred_bindings=(binding,))
    ) as client:
        with pytest.raises(UnavailableError, match=r"app\.running\(\)"):
            await client.send_message("x")
        async with client.send_streaming_message("x") as stream:
            with pytest.raises(UnavailableError, match="lifespan was not started"):
                await anext(stream)


def test_cli_reports_what_to_do_when_the_lifespan_never_ran(
    unstarted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "send", unstarted, "x")
    assert result.code == 1
    assert "lifespan was not started" in result.err
    assert "app.running()" in result.err
    assert "JSON-RPC 2.0 response" not in result.err


async def _framework_503(request: Request) -> Response:
    # What a framework, a proxy or an older Accord answers: an error, but no A2A one.
    return JSONResponse(
        {"error": "the A2A app is not running (lifespan not started)"}, status_code=503
    )


async def _proxy_502(request: Request) -> Response:
    return PlainTextResponse("upstream agent is down " + "x" * 1000, status_code=502)


@pytest.fixture(scope="module")
def not_a2a() -> Iterator[str]:
    methods = ["GET", "POST"]
    routes = [
        Route("/framework/{path:path}", _framework_503, methods=methods),
        Route("/framework/", _framework_503, methods=methods),
        Route("/proxy/{path:path}", _proxy_502, methods=methods),
        Route("/proxy/", _proxy_502, methods=methods),
    ]
    with serve(Starlette(routes=routes)) as url:
        yield url


@pytest.mark.anyio
@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize(
    ("where", "status", "text"),
    [
        ("framework", 503, "lifespan not started"),
        ("proxy", 502, "upstream agent is down"),
    ],
)
async def test_a_non_a2a_error_answer_shows_its_status_and_text(
    not_a2a: str, binding: str, where: str, status: int, text: str
) -> None:
    url = f"{not_a2a}/{where}/" if binding == "JSONRPC" else f"{not_a2a}/{where}"
    face = AgentInterface(url=url, protocol_binding=binding, protocol_version="1.0")
    async with Client.from_interface(face) as client:
        with pytest.raises(HTTPStatusError) as caught:
            await client.get_task("t-1")
        async with client.send_streaming_message("x") as stream:
            with pytest.raises(HTTPStatusError) as streamed:
                await anext(stream)
    for error in (caught.value, streamed.value):
        assert error.status_code == status
        message = str(error)
        assert f"answered HTTP {status}" in message
        assert text in message
        assert len(message) < 400  # bounded: a big body is cut


def _readme_block(heading: str) -> str:
    """The first ``python`` code block after ``heading`` in the README, as written."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```\n", start)]


def test_readme_fastapi_mount_example_runs_as_written(tmp_path: Path) -> None:
    source = _readme_block("### Mounting in FastAPI")
    main = tmp_path / "main.py"
    main.write_text(source, encoding="utf-8")
    namespace = runpy.run_path(str(main), run_name="readme_main")
    api = namespace["api"]
    with serve(api) as url, httpx.Client(timeout=10) as http:
        assert http.get(url + "/health").json() == {"status": "ok"}

        async def call() -> None:
            async with await Client.connect(url + "/agents/echo") as client:
                task = await client.send_message("hi")
                assert isinstance(task, Task)
                assert task.status.state is TaskState.COMPLETED
                assert task.artifacts[0].parts[0].text == "hi"

        anyio.run(call)
