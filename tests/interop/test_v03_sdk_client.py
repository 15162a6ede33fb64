"""a2a-sdk's v0.3 compatibility clients (JSON-RPC and HTTP+JSON) against Accord's v0.3.

The SDK's ``CompatJsonRpcTransport`` speaks v0.3 JSON-RPC (``message/send``, ``kind``
discriminators, lowercase states), its ``CompatRestTransport`` v0.3 HTTP+JSON (the
``/v1/...`` routes with the v0.3 proto's ProtoJSON), and both convert to its v1.0
protobuf types; Accord
serves it from the same engine as v1.0, so a task created over one version is read
and continued over the other (bindings/v03.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from a2a.client.transports.base import ClientTransport
from a2a.compat.v0_3.jsonrpc_transport import CompatJsonRpcTransport
from a2a.compat.v0_3.rest_transport import CompatRestTransport
from a2a.types import a2a_pb2 as pb

from tests.helpers.uvicorn_thread import serve_in_thread

from .agents import accord_app, gate
from .conftest import accord_client, drain

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(accord_app()) as base:
        yield base


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def binding(request: pytest.FixtureRequest) -> str:
    """The v0.3 binding the SDK's compatibility client speaks."""
    return str(request.param)


@asynccontextmanager
async def compat(url: str, binding: str) -> AsyncIterator[ClientTransport]:
    async with httpx.AsyncClient(timeout=10) as http:
        if binding == "JSONRPC":
            yield CompatJsonRpcTransport(http, None, url + "/")
        else:
            yield CompatRestTransport(http, None, url)


def request(
    text: str, *, task_id: str = "", context_id: str = "", immediately: bool = False
) -> pb.SendMessageRequest:
    message = pb.Message(
        message_id=str(uuid.uuid4()),
        role=pb.ROLE_USER,
        parts=[pb.Part(text=text)],
        task_id=task_id,
        context_id=context_id,
    )
    config = pb.SendMessageConfiguration(return_immediately=immediately)
    return pb.SendMessageRequest(message=message, configuration=config)


def texts(artifact: pb.Artifact) -> list[str]:
    return [p.text for p in artifact.parts]


async def test_send_get_and_read_over_both_versions(url: str, binding: str) -> None:
    async with compat(url, binding) as v03:
        sent = await v03.send_message(request("hello over 0.3"))
        task = sent.task
        assert task.status.state == pb.TASK_STATE_COMPLETED
        assert texts(task.artifacts[0]) == ["hello over 0.3"]
        assert task.history[0].role == pb.ROLE_USER
        got = await v03.get_task(pb.GetTaskRequest(id=task.id))
    assert got.status.state == pb.TASK_STATE_COMPLETED
    assert got.artifacts[0].artifact_id == task.artifacts[0].artifact_id
    # The same task over v1.0.
    async with accord_client(url, "JSONRPC") as v1:
        same = await v1.get_task(task.id)
    assert same.status.state.name == "COMPLETED"
    assert same.artifacts is not None
    assert same.artifacts[0].parts[0].text == "hello over 0.3"


async def test_a_message_reply(url: str, binding: str) -> None:
    async with compat(url, binding) as v03:
        sent = await v03.send_message(request("reply hi"))
    assert sent.WhichOneof("payload") == "message"
    assert sent.message.parts[0].text == "you said: hi"
    assert sent.message.role == pb.ROLE_AGENT


async def test_streaming_ends_with_the_final_status(url: str, binding: str) -> None:
    async with compat(url, binding) as v03:
        events = await drain(v03.send_message_streaming(request("chunks")))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task"
    assert kinds[-1] == "status_update"
    assert events[-1].status_update.status.state == pb.TASK_STATE_COMPLETED
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [texts(c.artifact) for c in chunks] == [["one "], ["two "], ["three"]]
    assert [c.append for c in chunks] == [False, True, True]
    assert chunks[-1].last_chunk


async def test_a_task_started_over_v1_is_continued_over_v03(
    url: str, binding: str
) -> None:
    async with accord_client(url, "JSONRPC") as v1:
        started = await v1.send_message("ask for a day")
    task_id = started.id  # type: ignore[union-attr]
    async with compat(url, binding) as v03:
        waiting = await v03.get_task(pb.GetTaskRequest(id=task_id))
        assert waiting.status.state == pb.TASK_STATE_INPUT_REQUIRED
        done = await v03.send_message(
            request("monday", task_id=task_id, context_id=waiting.context_id)
        )
    assert done.task.status.state == pb.TASK_STATE_COMPLETED
    assert texts(done.task.artifacts[-1]) == ["booked: monday"]


async def test_return_immediately_then_cancel(url: str, binding: str) -> None:
    name = f"v03-{uuid.uuid4().hex[:8]}"
    try:
        async with compat(url, binding) as v03:
            sent = await v03.send_message(request(f"wait {name}", immediately=True))
            assert sent.task.status.state in (
                pb.TASK_STATE_SUBMITTED,
                pb.TASK_STATE_WORKING,
            )
            canceled = await v03.cancel_task(pb.CancelTaskRequest(id=sent.task.id))
        assert canceled.status.state == pb.TASK_STATE_CANCELED
    finally:
        gate(name).set()


async def test_errors_keep_their_codes(url: str, binding: str) -> None:
    async with compat(url, binding) as v03:
        with pytest.raises(Exception, match="not found") as failed:
            await v03.get_task(pb.GetTaskRequest(id="no-such-task"))
    assert "TaskNotFound" in type(failed.value).__name__
