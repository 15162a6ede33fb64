"""An engine that stops on its own while serving (a background task failed): the ASGI
lifespan keeps to its protocol, every request is refused with a 503, the app says why
(``A2AApp.failure``), and ``accord serve`` exits with an error so that a supervisor
restarts the instance rather than keep a dead one.

The failure is an interceptor's own background work (:meth:`Interceptor.serving`): the
same path as the engine's (push delivery, the work queue) and one a user can plant.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord.server import A2AApp, Agent, Engine, Interceptor, TaskContext
from accord.server.runtime import STOPPED
from tests.helpers.cli import reap, spawn_serve

from .conftest import V1

pytestmark = pytest.mark.anyio

Message = MutableMapping[str, Any]


class Failing(Interceptor):
    """Runs background work beside the engine that fails once ``fail`` is set; or
    fails on entering (``at="start"``) or on leaving (``at="stop"``) the engine."""

    def __init__(self, at: str = "serving") -> None:
        self.at = at
        self.fail = anyio.Event()

    def serving(self, engine: Engine) -> AbstractAsyncContextManager[None]:
        return self._serving()

    @asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        if self.at == "start":
            raise RuntimeError("the quota backend is unreachable")
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._work)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
        if self.at == "stop":
            raise RuntimeError("the audit buffer could not be flushed")

    async def _work(self) -> None:
        await self.fail.wait()
        raise RuntimeError("the quota backend went away")


async def echo(ctx: TaskContext) -> None:
    await ctx.reply("ok")


def make_app(interceptor: Interceptor) -> A2AApp:
    agent = Agent(echo, name="Echo", description="echoes")
    return A2AApp(agent, interceptors=[interceptor])


class Lifespan:
    """Drives an app's ASGI lifespan by hand, as a server does (``async with``)."""

    def __init__(self, app: A2AApp) -> None:
        self.app = app
        self.last: Message = {}
        self._to_app, self._from_server = anyio.create_memory_object_stream[Message](4)
        self._to_server, self._from_app = anyio.create_memory_object_stream[Message](4)

    async def __aenter__(self) -> Lifespan:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._to_app.close()  # a lifespan still waiting for a message ends
        await self._tg.__aexit__(None, None, None)
        for stream in (self._from_server, self._to_server, self._from_app):
            stream.close()

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._from_server.receive()

        async def send(message: Message) -> None:
            await self._to_server.send(message)

        await self.app({"type": "lifespan"}, receive, send)

    async def ask(self, kind: str) -> str:
        """Send ``lifespan.<kind>``; the type of the app's answer."""
        await self._to_app.send({"type": f"lifespan.{kind}"})
        with anyio.fail_after(10):
            self.last = await self._from_app.receive()
        return str(self.last["type"])


async def get_task(app: A2AApp) -> tuple[int, dict[str, Any]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as http:
        answer = await http.get("/tasks/no-such-task", headers=V1)
    return answer.status_code, answer.json()


@contextmanager
def logged(text: str) -> Iterator[anyio.Event]:
    """An event set when the app logs a line starting with ``text``."""
    seen = anyio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(text):
                seen.set()

    watch = Watch()
    logger = logging.getLogger("accord.server.asgi")
    logger.addHandler(watch)
    try:
        yield seen
    finally:
        logger.removeHandler(watch)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_failure_while_serving_refuses_requests_and_fails_the_shutdown() -> (
    None
):
    failing = Failing()
    app = make_app(failing)
    async with Lifespan(app) as lifespan:
        assert await lifespan.ask("startup") == "lifespan.startup.complete"
        assert (await get_task(app))[0] == 404  # serving: no such task
        assert app.failure is None
        with logged("the A2A engine stopped while serving") as stopped:
            failing.fail.set()
            with anyio.fail_after(10):
                await stopped.wait()
        assert app.failure is not None
        status, body = await get_task(app)
        assert status == 503
        assert body["error"]["message"] == STOPPED
        # Protocol kept: the shutdown is answered, as failed, with the cause.
        assert await lifespan.ask("shutdown") == "lifespan.shutdown.failed"
        assert "the quota backend went away" in repr(app.failure)
    assert lifespan.last["message"] == str(app.failure)


async def test_a_failure_on_start_fails_the_startup() -> None:
    app = make_app(Failing(at="start"))
    async with Lifespan(app) as lifespan:
        assert await lifespan.ask("startup") == "lifespan.startup.failed"
    assert "the quota backend is unreachable" in str(lifespan.last["message"])
    assert app.failure is None


async def test_a_failure_on_stop_fails_the_shutdown() -> None:
    app = make_app(Failing(at="stop"))
    async with Lifespan(app) as lifespan:
        assert await lifespan.ask("startup") == "lifespan.startup.complete"
        assert await lifespan.ask("shutdown") == "lifespan.shutdown.failed"
    assert "the audit buffer could not be flushed" in str(lifespan.last["message"])
    assert app.failure is None  # it did not stop while serving


SERVED = textwrap.dedent(
    """
    import anyio
    from contextlib import asynccontextmanager

    from accord.server import A2AApp, Agent, Interceptor


    class FailsAfterFirstCall(Interceptor):
        def __init__(self):
            self.called = anyio.Event()

        async def before(self, call):
            self.called.set()

        def serving(self, engine):
            return self._serving()

        @asynccontextmanager
        async def _serving(self):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._work)
                yield
                tg.cancel_scope.cancel()

        async def _work(self):
            await self.called.wait()
            raise RuntimeError("the quota backend went away")


    async def echo(ctx):
        await ctx.reply("ok")


    app = A2AApp(
        Agent(echo, name="Echo", description="echoes"),
        interceptors=[FailsAfterFirstCall()],
    )
    """
)


@pytest.mark.slow
def test_accord_serve_exits_with_an_error_when_its_engine_stops(
    tmp_path: Path,
) -> None:
    (tmp_path / "failing.py").write_text(SERVED)
    server = spawn_serve("failing.py", "--port", "0", "--no-access-log", cwd=tmp_path)
    try:
        assert server.stdout is not None
        base = ""
        for line in server.stdout:
            if line.startswith("Agent card: "):
                base = line.removeprefix("Agent card: ").split("/.well-known/")[0]
                break
        assert base, "accord serve printed no card URL"
        with httpx.Client(timeout=10) as http:
            http.get(f"{base}/tasks/no-such-task", headers=V1)  # the first call
        _, err = server.communicate(timeout=20)
    finally:
        reap(server)
    assert server.returncode == 1, err
    assert "the agent's engine stopped while serving" in err
    assert "the quota backend went away" in err
