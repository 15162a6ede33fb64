"""Latency of work queued at a full instance A until instance B's agent starts it.

``python bench/queue_latency.py [--runs 50] [--url postgresql://postgres@127.0.0.1:5432/test]``

Two Accord engines in one process on one PostgreSQL database (in a schema of their
own, dropped at the end), each behind its own A2A client (HTTP+JSON, in memory). A
runs at most one task and is kept full by a task that waits until the end. For each
run, A's client sends a message with ``returnImmediately``: A creates the task
SUBMITTED, queues it and sends a work wake-up (NOTIFY); B claims it and runs it.

* ``SendMessage answer``: the call to A until its answer (the SUBMITTED task): what
  queueing costs the caller;
* ``answer -> B agent``: from A's answer to B's agent starting the task (the wake-up,
  B's claim, its read of the task);
* ``blocking at the limit``: a blocking SendMessage to A (queued, run by B, its
  events back to A through NOTIFY) for an agent that completes at once, against
  ``blocking below the limit`` on B (run where it arrived).

The periodic claim (every half lease) is pushed out of the way (a 30 s lease), so
every number is the wake-up's. One run at a time; the first 5 warm up.
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
from accord.server.limits import ServerLimits
from accord.stores.postgres import PostgresTaskStore
from accord.types import AgentInterface, SendMessageConfiguration, Task, TaskState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

BASE = "http://agent.test"
WARM_UP = 5


class Lab:
    """Holds "hold" until the end; notes when each other task started."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.holding = anyio.Event()
        self.started: dict[str, float] = {}
        self.arrived = anyio.Event()

    async def __call__(self, ctx: TaskContext) -> None:
        if ctx.text == "hold":
            await ctx.working()
            self.holding.set()
            await self.release.wait()
            return
        self.started[ctx.task_id] = time.perf_counter()
        self.arrived.set()
        self.arrived = anyio.Event()
        await ctx.complete("done")


@asynccontextmanager
async def instance(
    url: str, agent: Agent, limits: ServerLimits
) -> AsyncIterator[Client]:
    engine = Engine(
        agent, store=PostgresTaskStore(url), lease_seconds=30.0, limits=limits
    )
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


async def measure(url: str, runs: int) -> dict[str, list[float]]:
    lab = Lab()
    agent = Agent(lab, name="Lab", description="Queued work")
    now = SendMessageConfiguration(return_immediately=True)
    results: dict[str, list[float]] = {
        "SendMessage answer": [],
        "answer -> B agent": [],
        "blocking at the limit": [],
        "blocking below the limit": [],
    }
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            instance(url, agent, ServerLimits(max_running_tasks=1))
        )
        b = await stack.enter_async_context(instance(url, agent, ServerLimits()))
        await a.send_message("hold", configuration=now)
        with anyio.fail_after(10):
            await lab.holding.wait()
        try:
            for n in range(runs + WARM_UP):
                began = time.perf_counter()
                task = await a.send_message("go", configuration=now)
                answered = time.perf_counter()
                assert isinstance(task, Task)
                assert task.status.state is TaskState.SUBMITTED
                with anyio.fail_after(10):
                    while task.id not in lab.started:
                        await lab.arrived.wait()
                for name, client in (
                    ("blocking at the limit", a),
                    ("blocking below the limit", b),
                ):
                    start = time.perf_counter()
                    with anyio.fail_after(10):
                        done = await client.send_message("go")
                    assert isinstance(done, Task)
                    assert done.status.state is TaskState.COMPLETED
                    if n >= WARM_UP:
                        results[name].append((time.perf_counter() - start) * 1000)
                if n >= WARM_UP:
                    results["SendMessage answer"].append((answered - began) * 1000)
                    results["answer -> B agent"].append(
                        (lab.started[task.id] - answered) * 1000
                    )
        finally:
            lab.release.set()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_schema(args.url) as url:
        results = anyio.run(measure, url, args.runs)
    print(f"{args.runs} runs, work queued at full A, run by B (PostgreSQL NOTIFY)")
    for name, values in results.items():
        print(percentile_line(name, values, width=26))


if __name__ == "__main__":
    main()
