"""Latency of CancelTask on instance B to the agent running the task on instance A.

``python bench/cancel_latency.py [--runs 50] [--url postgresql://postgres@127.0.0.1:5432/test]``

Two Accord engines in one process on one PostgreSQL database (in a schema of their
own, dropped at the end), each behind its own A2A client (HTTP+JSON, in memory). For
each run, A starts a task whose agent works until cancelled; then B's client sends
CancelTask. B stores the cancel request on the task's lease and sends a cancel
wake-up (NOTIFY); A renews its leases at once, finds the request and cancels the
agent; A records CANCELED, whose event wakes B's CancelTask, which answers.

* ``B cancel -> A agent``: from B's CancelTask call to A's agent seeing its
  cancellation;
* ``CancelTask answer``: from the call to B's answer (the CANCELED task).

The heartbeat (which would find the request without the wake-up, at most 1 s later)
is pushed out of the way (a 30 s lease, beat capped at 7.5 s) so that every number is
the wake-up's. One run at a time; the first 5 warm up.
"""

from __future__ import annotations

import argparse
import time
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import httpx
from _latency import percentile_line, scratch_schema

from accord.client import Client, MemoryTransport
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server import leases as leases_module
from accord.stores.postgres import PostgresTaskStore
from accord.types import AgentInterface, SendMessageConfiguration, Task, TaskState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

BASE = "http://agent.test"
WARM_UP = 5


class Sleeper:
    """Works until cancelled; notes when the cancellation reached it."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.stopped = anyio.Event()
        self.stopped_at = 0.0

    async def __call__(self, ctx: TaskContext) -> None:
        await ctx.working("on it")
        self.started.set()
        try:
            await anyio.sleep_forever()
        finally:
            self.stopped_at = time.perf_counter()
            self.stopped.set()

    def reset(self) -> None:
        self.started, self.stopped = anyio.Event(), anyio.Event()


@asynccontextmanager
async def instance(url: str, agent: Agent) -> AsyncIterator[Client]:
    engine = Engine(agent, store=PostgresTaskStore(url), lease_seconds=30.0)
    face = AgentInterface(
        url=BASE, protocol_binding="HTTP+JSON", protocol_version="1.0"
    )
    async with (
        engine.running(),
        httpx.AsyncClient(
            transport=MemoryTransport(A2AApp.from_engine(engine)), base_url=BASE
        ) as http,
        Client.from_interface(face, http=http) as client,
    ):
        yield client


async def measure(url: str, runs: int) -> tuple[list[float], list[float]]:
    leases_module.HEARTBEAT_MAX = 30.0  # the beat must not explain a fast cancel
    sleeper = Sleeper()
    agent = Agent(sleeper, name="Sleeper", description="Works until cancelled")
    to_agent: list[float] = []
    answered: list[float] = []
    config = SendMessageConfiguration(return_immediately=True)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(instance(url, agent))
        b = await stack.enter_async_context(instance(url, agent))
        for n in range(runs + WARM_UP):
            sleeper.reset()
            task = await a.send_message("go", configuration=config)
            assert isinstance(task, Task)
            with anyio.fail_after(10):
                await sleeper.started.wait()
            began = time.perf_counter()
            with anyio.fail_after(10):
                canceled = await b.cancel_task(task.id)
            done = time.perf_counter()
            assert canceled.status.state is TaskState.CANCELED
            assert sleeper.stopped.is_set()
            if n >= WARM_UP:
                to_agent.append((sleeper.stopped_at - began) * 1000)
                answered.append((done - began) * 1000)
    return to_agent, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_schema(args.url) as url:
        to_agent, answered = anyio.run(measure, url, args.runs)
    print(f"{args.runs} cancels, CancelTask on B -> agent on A (PostgreSQL NOTIFY)")
    print(percentile_line("B cancel -> A agent", to_agent))
    print(percentile_line("CancelTask answer", answered))


if __name__ == "__main__":
    main()
