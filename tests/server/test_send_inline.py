"""A blocking SendMessage runs its execution in the request's task (Runtime.run_inline).

The execution stays the runtime's: a request cancelled by its server (a client that
went away) does not stop it (spec §3.5.2), and CancelTask reaches it.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore, Scope
from tests.helpers.asgi import asgi_post

pytestmark = pytest.mark.anyio


async def call(app: A2AApp, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One JSON-RPC call straight into the ASGI app; returns the decoded answer."""
    _, answer = await asgi_post(
        app,
        [
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            ).encode()
        ],
        [
            (b"host", b"127.0.0.1:8000"),
            (b"a2a-version", b"1.0"),
            (b"content-type", b"application/json"),
        ],
    )
    return answer


def send_params(text: str) -> dict[str, Any]:
    return {
        "message": {
            "messageId": f"m-{text}",
            "role": "ROLE_USER",
            "parts": [{"text": text}],
        }
    }


async def test_a_cancelled_blocking_request_does_not_stop_its_execution() -> None:
    started = anyio.Event()
    gate = anyio.Event()
    task_ids: list[str] = []
    agent = Agent(name="Gate", description="waits for the gate")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.submit()
        task_ids.append(ctx.task_id)
        started.set()
        await gate.wait()
        await ctx.complete("through")

    store = MemoryTaskStore()
    app = A2AApp(agent, store=store)
    async with app.running():
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, app, "SendMessage", send_params("hello"))
                await started.wait()
                # What a server that cancels the handler of a lost client does.
                tg.cancel_scope.cancel()
                gate.set()
            record = await store.get(task_ids[0], scope=Scope(tenant="", owner=""))
    assert record is not None
    assert record.task.status.state.name == "COMPLETED"


async def test_cancel_task_reaches_a_blocking_send_running_inline() -> None:
    started = anyio.Event()
    task_ids: list[str] = []
    agent = Agent(name="Forever", description="works until cancelled")

    @agent.executor
    async def run(ctx: TaskContext) -> None:
        await ctx.submit()
        task_ids.append(ctx.task_id)
        started.set()
        await anyio.sleep_forever()

    app = A2AApp(agent, store=MemoryTaskStore())
    answers: list[dict[str, Any]] = []

    async def blocking() -> None:
        answers.append(await call(app, "SendMessage", send_params("hello")))

    async with app.running():
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(blocking)
                await started.wait()
                canceled = await call(app, "CancelTask", {"id": task_ids[0]})
    assert canceled["result"]["status"]["state"] == "TASK_STATE_CANCELED"
    assert answers[0]["result"]["task"]["status"]["state"] == "TASK_STATE_CANCELED"
