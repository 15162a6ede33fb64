"""A stream whose response start cannot be sent releases its subscription.

The subscription behind an SSE response is opened when the operation is dispatched,
before the response starts; when sending ``http.response.start`` fails (the client
went away, the server is shutting the connection), the stream must still be closed,
or the task would keep a subscriber nobody reads.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest

from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server.events import LocalTaskEvents

pytestmark = pytest.mark.anyio

Message = MutableMapping[str, Any]


class _StartFailed(OSError):
    pass


async def _call(
    app: A2AApp, method: str, path: str, body: bytes, *, fail_start: bool
) -> list[Message]:
    """Drive ``app`` with one request; ``send`` raises on the response start."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"agent.test"),
            (b"content-type", b"application/json"),
            (b"a2a-version", b"1.0"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []
    delivered = False
    gone = anyio.Event()

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if fail_start and message["type"] == "http.response.start":
            gone.set()
            raise _StartFailed("the client went away")
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _message(text: str) -> bytes:
    return json.dumps(
        {"message": {"messageId": text, "role": "ROLE_USER", "parts": [{"text": text}]}}
    ).encode()


@pytest.mark.parametrize("operation", ["SubscribeToTask", "SendStreamingMessage"])
async def test_a_failed_response_start_closes_the_subscription(operation: str) -> None:
    release = anyio.Event()
    started: list[str] = []
    running = anyio.Event()

    async def run(ctx: TaskContext) -> None:
        started.append(ctx.task_id)
        await ctx.working("waiting")
        running.set()
        await release.wait()
        await ctx.complete("done")

    events = LocalTaskEvents()
    engine = Engine(Agent(run, name="Held", description="waits"), events=events)
    app = A2AApp.from_engine(engine)
    async with engine.running():
        with anyio.fail_after(10):
            if operation == "SubscribeToTask":
                send = json.loads(_message("first"))
                send["configuration"] = {"returnImmediately": True}
                sent = await _call(
                    app,
                    "POST",
                    "/message:send",
                    json.dumps(send).encode(),
                    fail_start=False,
                )
                task_id = json.loads(sent[-1]["body"])["task"]["id"]
                path, body = f"/tasks/{task_id}:subscribe", b""
            else:
                path, body = "/message:stream", _message("streamed")
            with pytest.raises(_StartFailed):
                await _call(app, "POST", path, body, fail_start=True)
            await running.wait()
            (task_id,) = started
            assert events.subscriber_count(task_id) == 0
            release.set()
