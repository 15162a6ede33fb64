"""A follow-up the task already has (same messageId) is a retry: it is answered with
the task and never delivered to the agent again (server/replay.py, spec §3.3.1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore

from .conftest import Wire, serve
from .test_send_inline import call


class Desk:
    """An agent that asks for input on the first message and finishes on the next;
    a follow-up saying "slow" waits for ``gate`` first."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = anyio.Event()
        self.waiting = anyio.Event()
        self.agent = Agent(self.run, name="Desk", description="asks, then answers")

    async def run(self, ctx: TaskContext) -> None:
        self.calls.append(ctx.text)
        if not ctx.is_follow_up:
            await ctx.ask_for_input("which day?")
            return
        await ctx.working("booking")
        if ctx.text == "slow":
            await self.pause()
        await ctx.complete("booked")

    async def pause(self) -> None:
        self.waiting.set()
        await self.gate.wait()


def message(text: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "message": {
            "messageId": message_id,
            "role": "ROLE_USER",
            "parts": [{"text": text}],
            **extra,
        }
    }


async def started(app: A2AApp) -> dict[str, Any]:
    answer = await call(app, "SendMessage", message("book", "m-1"))
    task: dict[str, Any] = answer["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    return task


@pytest.mark.anyio
async def test_a_retried_follow_up_is_answered_without_running_the_agent() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    async with app.running():
        task = await started(app)
        follow = message("monday", "m-2", taskId=task["id"])
        first = (await call(app, "SendMessage", follow))["result"]["task"]
        again = (await call(app, "SendMessage", follow))["result"]["task"]
    assert (
        first["status"]["state"] == again["status"]["state"] == "TASK_STATE_COMPLETED"
    )
    assert again == first
    assert desk.calls == ["book", "monday"]
    ids = [m["messageId"] for m in again["history"] if m["role"] == "ROLE_USER"]
    assert ids == ["m-1", "m-2"]


@pytest.mark.anyio
async def test_a_retry_of_the_first_message_answers_the_task_as_it_stands() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    async with app.running():
        task = await started(app)
        again = await call(
            app, "SendMessage", message("book", "m-1", taskId=task["id"])
        )
    assert again["result"]["task"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert desk.calls == ["book"]


@pytest.mark.anyio
async def test_a_retry_of_a_message_that_ended_the_task_is_not_refused() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    async with app.running():
        task = await started(app)
        follow = message("monday", "m-2", taskId=task["id"])
        await call(app, "SendMessage", follow)
        # A new message to the COMPLETED task is refused; the same one is a retry.
        refused = await call(app, "SendMessage", message("x", "m-3", taskId=task["id"]))
        again = await call(app, "SendMessage", follow)
    assert refused["error"]["data"][0]["reason"] == "UNSUPPORTED_OPERATION"
    assert again["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


@pytest.mark.anyio
async def test_a_blocking_retry_waits_for_the_running_turn() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    answers: dict[str, dict[str, Any]] = {}
    async with app.running():
        task = await started(app)
        slow = message("slow", "m-2", taskId=task["id"])

        async def send(name: str, params: dict[str, Any]) -> None:
            answers[name] = await call(app, "SendMessage", params)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send, "first", slow)
                await desk.waiting.wait()
                try:
                    # returnImmediately: the task as it stands, at once.
                    now = {**slow, "configuration": {"returnImmediately": True}}
                    await send("immediate", now)
                    tg.start_soon(send, "retry", slow)
                finally:
                    desk.gate.set()
    assert answers["immediate"]["result"]["task"]["status"]["state"] == (
        "TASK_STATE_WORKING"
    )
    assert answers["retry"]["result"]["task"]["status"]["state"] == (
        "TASK_STATE_COMPLETED"
    )
    assert answers["retry"] == answers["first"]
    assert desk.calls == ["book", "slow"]


@pytest.mark.anyio
async def test_a_different_context_with_the_same_id_is_not_a_retry() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    async with app.running():
        task = await started(app)
        answer = await call(
            app,
            "SendMessage",
            message("book", "m-1", taskId=task["id"], contextId="elsewhere"),
        )
    assert answer["error"]["code"] == -32602  # the context mismatch, as before
    assert desk.calls == ["book"]


# --- SendStreamingMessage, over the wire ---------------------------------------------


class ThreadDesk(Desk):
    """Desk whose "slow" follow-up waits for a thread's gate (the test drives it from
    a thread, through a real server)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread_waiting = threading.Event()
        self.thread_gate = threading.Event()

    async def pause(self) -> None:
        self.thread_waiting.set()
        await anyio.to_thread.run_sync(self.thread_gate.wait, abandon_on_cancel=True)


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def desk_wire(
    request: pytest.FixtureRequest, http: httpx.Client
) -> Iterator[tuple[ThreadDesk, Wire]]:
    desk = ThreadDesk()
    with serve(A2AApp(desk.agent, store=MemoryTaskStore())) as url:
        yield desk, Wire(url, str(request.param), http)


def _kinds(events: list[tuple[str | None, Any]]) -> list[tuple[str, str]]:
    out = []
    for _, e in events:
        if "task" in e:
            out.append(("task", e["task"]["status"]["state"]))
        elif "statusUpdate" in e:
            out.append(("status", e["statusUpdate"]["status"]["state"]))
        else:
            out.append((next(iter(e)), ""))
    return out


def test_a_streamed_retry_after_the_turn_gets_the_task_once(
    desk_wire: tuple[ThreadDesk, Wire],
) -> None:
    desk, wire = desk_wire
    task = wire.call("SendMessage", message("book", "m-1"))["task"]
    follow = message("monday", "m-2", taskId=task["id"])
    wire.call("SendMessage", follow)
    events = wire.stream("SendStreamingMessage", follow)
    assert _kinds(events) == [("task", "TASK_STATE_COMPLETED")]
    assert desk.calls == ["book", "monday"]


def test_a_streamed_retry_during_the_turn_follows_it_to_its_end(
    desk_wire: tuple[ThreadDesk, Wire],
) -> None:
    desk, wire = desk_wire
    task = wire.call("SendMessage", message("book", "m-1"))["task"]
    slow = message("slow", "m-2", taskId=task["id"])
    results: list[Any] = []
    first = threading.Thread(
        target=lambda: results.append(wire.call("SendMessage", slow))
    )
    first.start()
    try:
        assert desk.thread_waiting.wait(10)
        events = wire.stream(
            "SendStreamingMessage",
            slow,
            on_event=lambda _id, _e: desk.thread_gate.set(),  # snapshot seen: finish
        )
    finally:
        desk.thread_gate.set()
        first.join(10)
    assert _kinds(events) == [
        ("task", "TASK_STATE_WORKING"),
        ("status", "TASK_STATE_COMPLETED"),
    ]
    assert results[0]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert desk.calls == ["book", "slow"]


@pytest.mark.anyio
async def test_a_reused_id_with_other_content_is_refused_not_replayed() -> None:
    desk = Desk()
    app = A2AApp(desk.agent, store=MemoryTaskStore())
    async with app.running():
        task = await started(app)
        reused = await call(
            app, "SendMessage", message("monday", "m-1", taskId=task["id"])
        )
        after = await call(app, "GetTask", {"id": task["id"]})
    error = reused["error"]
    assert error["code"] == -32602
    assert "already used" in error["message"]
    assert desk.calls == ["book"]
    assert after["result"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
