"""``send_message`` takes plain content; the helpers read the reply (real server app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import (
    Client,
    MemoryTransport,
    data_of,
    data_part,
    file_part,
    files_of,
    find_artifact,
    text_of,
    user_message,
)
from accord.server import A2AApp, Agent, TaskContext
from accord.types import Part, Task, TaskState
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app

from .helpers import HTTPX_TRIO_WARNINGS

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

PDF = b"%PDF-1.7 not really"


async def mirror(ctx: TaskContext) -> None:
    """Answer with the parts received, as one artifact, and the task id seen."""
    await ctx.add_artifact(list(ctx.message.parts), name="mirror")
    await ctx.complete(f"seen on task {ctx.message.task_id or '-'}")


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    agent = Agent(
        mirror,
        name="Mirror",
        description="d",
        streaming=True,
        default_input_modes=("text/plain", "application/json", "application/pdf"),
    )
    app = A2AApp(agent)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect("http://agent.test", http=http) as connected,
    ):
        yield connected


async def sent_parts(client: Client, message: Any) -> tuple[Part, ...]:
    reply = await client.send_message(message)
    assert isinstance(reply, Task)
    artifact = find_artifact(reply, "mirror")
    assert artifact is not None
    return artifact.parts


async def test_send_text_data_files_and_lists(client: Client) -> None:
    assert await sent_parts(client, "hi") == (Part(text="hi"),)
    assert await sent_parts(client, {"a": 1}) == (data_part({"a": 1}),)
    pdf = file_part(PDF, media_type="application/pdf", filename="a.pdf")
    assert await sent_parts(client, pdf) == (pdf,)
    mixed = ["see", {"n": [1, 2]}, pdf, data_part([3])]
    parts = await sent_parts(client, mixed)
    assert [p.kind for p in parts] == ["text", "data", "raw", "data"]
    assert files_of(parts[2])[0].raw == PDF
    assert await sent_parts(client, ("tuple", "too")) == (
        Part(text="tuple"),
        Part(text="too"),
    )


async def test_a_built_message_keeps_its_ids(client: Client) -> None:
    message = user_message("x", message_id="m-fixed")
    reply = await client.send_message(message)
    assert isinstance(reply, Task)
    assert reply.history[0].message_id == "m-fixed"


@pytest.mark.parametrize("bad", [b"raw bytes", 42, None])
async def test_send_refuses_what_is_not_content(client: Client, bad: Any) -> None:
    with pytest.raises(TypeError, match=r"cannot (send|make a message part from)"):
        await client.send_message(bad)


async def test_streaming_takes_content_too(client: Client) -> None:
    texts = []
    async with client.send_streaming_message({"k": "v"}) as stream:
        async for event in stream:
            texts.append(text_of(event))
            if event.artifact_update is not None:
                assert data_of(event) == [{"k": "v"}]
    assert texts[-1].startswith("seen on task")


async def test_structured_data_in_and_out_with_the_receptionist(
    tmp_path: Path,
) -> None:
    app = receptionist_app(tmp_path / "accord.db", api_key=RECEPTIONIST_KEY)
    window = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        await Client.connect(
            "http://agent.test", http=http, headers={"X-API-Key": RECEPTIONIST_KEY}
        ) as client,
    ):
        # Data in, data out.
        booked = await client.send_message(
            {"skill": "schedule_callback", "phone": "+1 415 555 0123", "window": window}
        )
        assert isinstance(booked, Task)
        assert booked.status.state is TaskState.COMPLETED
        [booking] = data_of(booked)
        assert booking["bookingId"].startswith("cb-")
        assert booking["phone"] == "+14155550123"
        assert booking["window"] == window
        # Text and data read from the same task: the artifact holds both.
        summary = await client.send_message(
            ["Summary please", {"skill": "fetch_call_summary", "callId": "call-1002"}]
        )
        assert isinstance(summary, Task)
        artifact = find_artifact(summary, "call-summary")
        assert artifact is not None
        assert text_of(summary).startswith("Call call-1002 from Marco Ruiz")
        assert data_of(artifact)[0]["durationSeconds"] == 95
        # Asking for more: the status message's text and data, then the answer.
        asking = await client.send_message({"skill": "schedule_callback"})
        assert isinstance(asking, Task)
        assert asking.status.state is TaskState.INPUT_REQUIRED
        assert data_of(asking) == [
            {"skill": "schedule_callback", "missing": ["phone", "window"]}
        ]
        assert "phone number" in text_of(asking)
        done = await client.send_message(
            {"phone": "+14155550123", "window": window}, task_id=asking.id
        )
        assert isinstance(done, Task)
        assert done.status.state is TaskState.COMPLETED
        assert data_of(done)[0]["bookingId"] == booking["bookingId"]  # same slot
