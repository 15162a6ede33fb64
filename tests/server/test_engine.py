"""The Engine: one store, event stream, runtime, handler and authenticator, shared by
any number of front ends, and the order in which its interceptors run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.errors import (
    PermissionDeniedError,
    TaskNotFoundError,
    UnavailableError,
    UnsupportedOperationError,
)
from accord.protocol import op
from accord.server import A2AApp, CallInfo, Engine, Interceptor, Outcome
from accord.server.auth.access import AccessRequest
from accord.server.auth.config import AuthConfig
from accord.server.context import CallContext
from accord.server.events import LocalTaskEvents
from accord.server.streams import Events, HandlerStream
from accord.stores import MemoryTaskStore, Scope, StoredEvent
from accord.types import (
    AgentInterface,
    GetTaskRequest,
    ListTasksRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskState,
    TaskStatus,
)

from .scripted import make_agent

pytestmark = pytest.mark.anyio

BASE = "http://agent.test"


@asynccontextmanager
async def client(app: A2AApp, binding: str = "HTTP+JSON") -> AsyncIterator[Client]:
    url = BASE + "/" if binding == "JSONRPC" else BASE
    face = AgentInterface(url=url, protocol_binding=binding, protocol_version="1.0")
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app), base_url=BASE) as http,
        Client.from_interface(face, http=http) as a2a,
    ):
        yield a2a


async def test_front_ends_over_one_engine_share_its_tasks() -> None:
    engine = Engine(make_agent(), store=MemoryTaskStore())
    jsonrpc_front = A2AApp.from_engine(engine)
    rest_front = A2AApp(engine=engine)
    async with (
        engine.running(),
        client(jsonrpc_front, "JSONRPC") as one,
        client(rest_front) as two,
    ):
        sent = await one.send_message("echo shared")
        assert isinstance(sent, Task)
        assert (await two.get_task(sent.id)).status == sent.status
        assert rest_front.handler is jsonrpc_front.handler is engine.handler
        assert rest_front.store is engine.store


async def test_a_front_end_over_a_shared_engine_does_not_start_it() -> None:
    engine = Engine(make_agent())
    front = A2AApp.from_engine(engine)
    async with front.running(), client(front) as a2a:  # its lifespan runs, too
        assert not engine.is_running
        with pytest.raises(UnavailableError, match=r"inside `engine\.running\(\)`"):
            await a2a.send_message("echo early")
    async with engine.running():
        assert engine.is_running


async def test_an_app_built_from_an_agent_runs_its_own_engine() -> None:
    app = A2AApp(make_agent(), shutdown_grace=1.5)
    assert app.engine.shutdown_grace == 1.5
    async with app.running():
        assert app.engine.is_running
        assert isinstance(app.engine.events, LocalTaskEvents)
    assert not app.engine.is_running


async def test_an_engine_runs_once_at_a_time() -> None:
    engine = Engine(make_agent())
    async with engine.running():
        with pytest.raises(RuntimeError, match="already running"):
            async with engine.running():
                pass  # pragma: no cover
    async with engine.running():  # and can run again once stopped
        pass


def test_engine_settings_go_to_the_engine() -> None:
    engine = Engine(make_agent())
    with pytest.raises(TypeError, match="store"):
        A2AApp(engine=engine, store=MemoryTaskStore())
    with pytest.raises(TypeError, match="interceptors"):
        A2AApp.from_engine(engine, interceptors=[])
    with pytest.raises(TypeError, match="agent"):
        A2AApp(make_agent(), engine=engine)
    with pytest.raises(TypeError, match="agent"):
        A2AApp()
    with pytest.raises(ValueError, match="shutdown_grace"):
        Engine(make_agent(), shutdown_grace=-1)


# --- interceptors, in order ---------------------------------------------------------


class Named(Interceptor):
    def __init__(self, name: str, journal: list[str], refuse: bool = False) -> None:
        self.name, self.journal, self.refuse = name, journal, refuse

    async def before(self, call: CallInfo) -> None:
        self.journal.append(f"{self.name} before {call.operation.name}")
        if self.refuse:
            raise PermissionDeniedError("Not today")

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        what = "ok" if outcome.ok else type(outcome.error).__name__
        self.journal.append(f"{self.name} after {what}")


async def dispatch(engine: Engine, operation: str, request: object) -> object:
    return await engine.dispatch(
        op(operation),
        request,
        CallContext(),
        binding="test",
        credentials=lambda: pytest.fail("no credentials needed"),
    )


async def test_interceptors_nest_in_the_order_given() -> None:
    journal: list[str] = []
    engine = Engine(
        make_agent(), interceptors=[Named("a", journal), Named("b", journal)]
    )
    async with engine.running():
        await dispatch(engine, "ListTasks", ListTasksRequest())
    assert journal == [
        "a before ListTasks",
        "b before ListTasks",
        "b after ok",
        "a after ok",
    ]


async def test_a_refusal_reaches_only_the_interceptors_around_it() -> None:
    journal: list[str] = []
    engine = Engine(
        make_agent(),
        interceptors=[
            Named("audit", journal),
            Named("quota", journal, refuse=True),
            Named("trace", journal),
        ],
    )
    async with engine.running():
        with pytest.raises(PermissionDeniedError, match="Not today"):
            await dispatch(engine, "GetTask", GetTaskRequest(id="t-1"))
    assert journal == [
        "audit before GetTask",
        "quota before GetTask",
        "audit after PermissionDeniedError",
    ]


async def test_an_interceptor_failing_after_the_call_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Interceptor):
        async def after(self, call: CallInfo, outcome: Outcome) -> None:
            raise RuntimeError("audit sink down")

    engine = Engine(make_agent(), interceptors=[Broken()])
    with caplog.at_level(logging.ERROR, logger="accord.server.interceptors"):
        async with engine.running():
            page = await dispatch(engine, "ListTasks", ListTasksRequest())
    assert page is not None
    assert "audit sink down" in caplog.text
    assert "the answer is unchanged" in caplog.text


async def test_the_duration_covers_the_operation() -> None:
    seen: list[Outcome] = []

    class Timer(Interceptor):
        async def after(self, call: CallInfo, outcome: Outcome) -> None:
            seen.append(outcome)

    class Slow(Interceptor):
        async def before(self, call: CallInfo) -> None:
            await anyio.sleep(0.05)

    engine = Engine(make_agent(), interceptors=[Timer(), Slow()])
    async with engine.running():
        await dispatch(engine, "ListTasks", ListTasksRequest())
    assert seen[0].duration >= 0.05


async def test_an_observed_stream_reports_an_error_after_its_first_event() -> None:
    # What an interceptor's after() receives when a stream fails midway.
    ended: list[tuple[Exception | None, int, bool]] = []

    async def on_end(error: Exception | None, events: int, finished: bool) -> None:
        ended.append((error, events, finished))

    async def failing() -> Events:
        yield (
            1,
            StreamResponse(
                task=Task(id="t-1", status=TaskStatus(state=TaskState.WORKING))
            ),
        )
        raise TaskNotFoundError("Task t-1 vanished")

    async def no_log(after: int) -> list[StoredEvent]:
        return []

    sub = LocalTaskEvents().subscribe("t-1", catch_up=no_log)
    stream = HandlerStream(sub, failing()).observed(on_end)
    seen: list[int | None] = []

    async def read() -> None:
        async with stream:
            async for seq, _ in stream:
                seen.append(seq)

    with pytest.raises(TaskNotFoundError):
        await read()
    assert seen == [1]
    assert len(ended) == 1
    error, events, finished = ended[0]
    assert isinstance(error, TaskNotFoundError)
    assert events == 1
    assert not finished


# --- dispatch without interceptors: the handler's coroutine, refusals as before ------


async def test_a_refusal_before_the_method_reaches_the_interceptors() -> None:
    # The handler refuses a streaming call to an agent without streaming before its
    # method runs (synchronously): the interceptors still see it as the outcome.
    journal: list[str] = []
    engine = Engine(make_agent(streaming=False), interceptors=[Named("a", journal)])
    request = SubscribeToTaskRequest(id="t-1")
    async with engine.running():
        with pytest.raises(UnsupportedOperationError):
            await dispatch(engine, "SubscribeToTask", request)
    assert journal == ["a before SubscribeToTask", "a after UnsupportedOperationError"]


async def test_without_interceptors_refusals_and_results_are_the_same() -> None:
    engine = Engine(make_agent(streaming=False))
    with pytest.raises(UnavailableError):
        await dispatch(engine, "ListTasks", ListTasksRequest())
    async with engine.running():
        with pytest.raises(UnsupportedOperationError):
            await dispatch(engine, "SubscribeToTask", SubscribeToTaskRequest(id="t"))
        with pytest.raises(TaskNotFoundError):
            await dispatch(engine, "GetTask", GetTaskRequest(id="t-1"))
        assert await dispatch(engine, "ListTasks", ListTasksRequest()) is not None


async def test_a_task_access_hook_decides_the_boundary_of_a_dispatch() -> None:
    asked: list[str] = []

    def hook(request: AccessRequest) -> Scope:
        asked.append(request.operation)
        return request.default

    engine = Engine(make_agent(), auth=AuthConfig(verifiers={}, task_access=hook))
    async with engine.running():
        with pytest.raises(TaskNotFoundError):
            await dispatch(engine, "GetTask", GetTaskRequest(id="t-1"))
    assert asked == ["GetTask"]
