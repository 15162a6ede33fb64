"""Graceful shutdown: new work is refused, running tasks get a grace period, and
every open stream and waiting blocking call receives the final state of a task that
had to be interrupted (FAILED, "Task interrupted: ...").

These drive the app in-process (MemoryTransport) so the test can start the shutdown
at a chosen moment; ``test_shutdown_serve.py`` does the same through ``accord serve``
and a real SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from accord.client import Client, EventStream, MemoryTransport
from accord.errors import UnavailableError
from accord.server import A2AApp, Agent, ServerLimits, TaskContext
from accord.server.events import LocalTaskEvents, Update
from accord.server.runtime import INTERRUPTED_MESSAGE, Execution, Runtime
from accord.stores import MemoryTaskStore, Scope, SQLiteTaskStore, StoredEvent
from accord.types import (
    AgentInterface,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)

from .conftest import V1, serve, user_message
from .scripted import make_agent

pytestmark = pytest.mark.anyio

BASE = "http://agent.test"


def _agent(started: Callable[[str], None], release: anyio.Event) -> Agent:
    async def behave(ctx: TaskContext) -> None:
        if ctx.text == "ask":
            await ctx.ask_for_input("what is your name?")
            return
        await ctx.working("busy")
        started(ctx.task_id)
        if ctx.text == "finish":
            await release.wait()
            await ctx.complete("done")
            return
        await anyio.sleep_forever()

    return Agent(behave, name="Shutdown", description="Runs until told or stopped")


class Harness:
    """The app under test, its client, and a count of agents that have started."""

    def __init__(self, grace: float) -> None:
        self.release = anyio.Event()
        self.started: list[str] = []
        self._running = anyio.Event()
        self._want = 0
        self.app = A2AApp(_agent(self._started, self.release), shutdown_grace=grace)

    def _started(self, task_id: str) -> None:
        self.started.append(task_id)
        if len(self.started) >= self._want:
            self._running.set()

    async def running(self, count: int) -> None:
        """Return once ``count`` agents are working."""
        self._want = count
        if len(self.started) >= count:
            return
        with anyio.fail_after(5):
            await self._running.wait()

    def client(self, http: httpx.AsyncClient, binding: str) -> Client:
        url = BASE + "/" if binding == "JSONRPC" else BASE
        face = AgentInterface(url=url, protocol_binding=binding, protocol_version="1.0")
        return Client.from_interface(face, http=http)


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _drain(
    stream: EventStream, into: list[StreamResponse], first: anyio.Event | None = None
) -> None:
    """Collect the events of ``stream`` until it ends; set ``first`` at the first."""
    async with stream:
        async for event in stream:
            into.append(event)
            if first is not None:
                first.set()


def _state(event: StreamResponse) -> TaskState:
    if event.task is not None:
        return event.task.status.state
    assert event.status_update is not None
    return event.status_update.status.state


async def test_interrupted_tasks_reach_every_stream_and_blocking_call(
    binding: str,
) -> None:
    h = Harness(grace=0)
    blocking: list[Task] = []
    streamed: list[StreamResponse] = []
    watched: list[StreamResponse] = []
    async with (
        httpx.AsyncClient(transport=MemoryTransport(h.app)) as http,
        h.client(http, binding) as client,
    ):
        asked = await client.send_message("ask")
        assert isinstance(asked, Task)
        assert asked.status.state is TaskState.INPUT_REQUIRED

        async def send() -> None:
            reply = await client.send_message("work")
            assert isinstance(reply, Task)
            blocking.append(reply)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            tg.start_soon(_drain, client.send_streaming_message("work"), streamed)
            snapshot = anyio.Event()
            tg.start_soon(_drain, client.subscribe(asked.id), watched, snapshot)
            await h.running(2)
            with anyio.fail_after(5):
                await snapshot.wait()
            h.app.begin_shutdown()
        # every waiter got an answer and every stream ended without an error
        assert blocking[0].status.state is TaskState.FAILED
        assert blocking[0].status.message is not None
        assert blocking[0].status.message.text == INTERRUPTED_MESSAGE
        assert _state(streamed[-1]) is TaskState.FAILED
        final = streamed[-1].status_update
        assert final is not None
        assert final.status.message is not None
        assert final.status.message.text == INTERRUPTED_MESSAGE
        # the task waiting for input was not running: it stays INPUT_REQUIRED
        assert [_state(e) for e in watched] == [TaskState.INPUT_REQUIRED]
        assert (await client.get_task(asked.id)).status.state is (
            TaskState.INPUT_REQUIRED
        )


async def test_new_work_is_refused_while_shutting_down(binding: str) -> None:
    h = Harness(grace=30)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(h.app)) as http,
        h.client(http, binding) as client,
    ):
        asked = await client.send_message("ask")
        assert isinstance(asked, Task)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.send_message, "finish")
            await h.running(1)
            h.app.begin_shutdown()
            with pytest.raises(UnavailableError, match="shutting down"):
                await client.send_message("work")
            with pytest.raises(UnavailableError, match="shutting down"):
                await client.send_message("more", task_id=asked.id)
            async with client.subscribe(asked.id) as stream:
                with pytest.raises(UnavailableError, match="shutting down"):
                    await anext(stream)
            async with client.send_streaming_message("work") as stream:
                with pytest.raises(UnavailableError, match="shutting down"):
                    await anext(stream)
            # reads still work
            assert (await client.get_task(asked.id)).id == asked.id
            h.release.set()


async def test_refusal_is_a_503_with_retry_after() -> None:
    h = Harness(grace=0)
    async with httpx.AsyncClient(
        transport=MemoryTransport(h.app), base_url=BASE
    ) as http:
        h.app.begin_shutdown()
        rest = await http.post(
            "/message:send", json={"message": user_message("x")}, headers=V1
        )
        assert rest.status_code == 503
        assert rest.headers["retry-after"]
        assert rest.json()["error"]["status"] == "UNAVAILABLE"
        rpc = await http.post(
            "/",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {"message": user_message("x")},
            },
            headers=V1,
        )
        assert rpc.status_code == 503
        assert rpc.headers["retry-after"]
        assert "shutting down" in rpc.json()["error"]["message"]


async def test_running_tasks_may_finish_within_the_grace_period(
    binding: str,
) -> None:
    h = Harness(grace=30)
    blocking: list[Task] = []
    streamed: list[StreamResponse] = []
    async with (
        httpx.AsyncClient(transport=MemoryTransport(h.app)) as http,
        h.client(http, binding) as client,
    ):

        async def send() -> None:
            reply = await client.send_message("finish")
            assert isinstance(reply, Task)
            blocking.append(reply)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            tg.start_soon(_drain, client.send_streaming_message("finish"), streamed)
            await h.running(2)
            h.app.begin_shutdown()
            h.release.set()
    assert blocking[0].status.state is TaskState.COMPLETED
    assert _state(streamed[-1]) is TaskState.COMPLETED


async def test_the_end_of_the_lifespan_shuts_down_too() -> None:
    # No begin_shutdown(): leaving the lifespan applies the grace, then interrupts.
    h = Harness(grace=0)
    with anyio.fail_after(10):
        async with httpx.AsyncClient(
            transport=MemoryTransport(h.app), base_url=BASE
        ) as http:
            r = await http.post(
                "/message:send",
                json={
                    "message": user_message("work"),
                    "configuration": {"returnImmediately": True},
                },
                headers=V1,
            )
            task_id = r.json()["task"]["id"]
            await h.running(1)
            store = h.app.store
    record = await store.get(task_id, scope=Scope(owner=""))
    assert record is not None
    assert record.task.status.state is TaskState.FAILED
    assert record.task.status.message is not None
    assert record.task.status.message.text == INTERRUPTED_MESSAGE


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="shutdown_grace"):
        A2AApp(make_agent(), shutdown_grace=-1)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_shutdown_marks_running_tasks_interrupted(
    tmp_path: Path, anyio_backend: str
) -> None:
    db = tmp_path / "shutdown.db"
    app = A2AApp(make_agent(), store=SQLiteTaskStore(db), shutdown_grace=0)
    with serve(app) as url, httpx.Client(timeout=10) as http:
        r = http.post(
            url + "/message:send",
            json={
                "message": user_message("wait"),
                "configuration": {"returnImmediately": True},
            },
            headers=V1,
        )
        task_id = r.json()["task"]["id"]

    async def check() -> None:
        async with SQLiteTaskStore(db) as store:
            record = await store.get(task_id, scope=Scope(owner=""))
            assert record is not None
            assert record.task.status.state is TaskState.FAILED
            assert record.task.status.message is not None
            assert "shut down" in record.task.status.message.text

    anyio.run(check)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_a_full_queue_answers_503_with_retry_after(
    tmp_path: Path, anyio_backend: str
) -> None:
    # At its running limit the instance queues new work; with no queue (bound 0)
    # the agent is saturated.
    limits = ServerLimits(max_running_tasks=1, max_queued_tasks=0)
    app = A2AApp(make_agent(), limits=limits)
    with serve(app) as url, httpx.Client(timeout=10) as http:
        first = http.post(
            url + "/message:send",
            json={
                "message": user_message("wait"),
                "configuration": {"returnImmediately": True},
            },
            headers=V1,
        )
        assert first.status_code == 200
        busy = http.post(
            url + "/message:send", json={"message": user_message("echo x")}, headers=V1
        )
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert "saturated" in busy.json()["error"]["message"]
        assert busy.json()["error"]["details"][0]["reason"] == "UNAVAILABLE"
        rpc = http.post(
            url + "/",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {"message": user_message("x")},
            },
            headers=V1,
        )
        assert rpc.status_code == 503
        assert rpc.json()["error"]["code"] == -31503
        task_id = first.json()["task"]["id"]
        http.post(url + f"/tasks/{task_id}:cancel", headers=V1)


async def _no_log(after: int) -> list[StoredEvent]:
    raise AssertionError("the queued final event needs no catch-up")


async def test_ending_all_subscriptions_keeps_what_is_queued() -> None:
    # A task's final event may be queued, not yet read, when shutdown ends the
    # streams: the reader still gets it.
    events = LocalTaskEvents()
    sub = events.subscribe("t-1", catch_up=_no_log)
    final = Update(seq=3, event=None, task=None, final=True)
    await events.publish("t-1", final)
    assert events.close_all() == 1
    with anyio.fail_after(2):
        assert [update async for update in sub] == [final]


def test_serve_shutdown_grace_option() -> None:
    from accord.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "--shutdown-grace", "0"]).shutdown_grace == 0
    assert parser.parse_args(["serve", "--shutdown-grace", "2.5"]).shutdown_grace == 2.5
    assert parser.parse_args(["serve"]).shutdown_grace is None  # the app's own
    for bad in ("-1", "soon", "inf", "nan"):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", "--shutdown-grace", bad])


async def test_a_cancelled_owner_still_records_the_interruption() -> None:
    # A hard stop (the owner of the runtime is cancelled, no drain) must not leave
    # the task WORKING either.
    h = Harness(grace=30)
    store = MemoryTaskStore()
    runtime = Runtime(h.app.agent, store, shutdown_grace=30)
    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="work"),))
    execution = Execution(
        task_id="t-1",
        context_id="c-1",
        message=message,
        request=SendMessageRequest(message=message),
        scope=Scope(),
        existing=False,
    )
    with anyio.fail_after(10), anyio.CancelScope() as outer:
        async with store, runtime:
            await runtime.start(execution, None)
            await h.running(1)
            outer.cancel()
            await anyio.sleep_forever()
    async with store:
        record = await store.get("t-1", scope=Scope())
    assert record is not None
    assert record.task.status.state is TaskState.FAILED
    assert record.task.status.message is not None
    assert record.task.status.message.text == INTERRUPTED_MESSAGE
