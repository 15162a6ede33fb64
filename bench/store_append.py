"""Streaming into a durable store: N chunks appended to one artifact, N messages to one history.

``python bench/store_append.py [--chunks 1500] [--size 4096]`` (``bash bench/run``
installs the SDK's ``sqlite`` extra this needs for the SDK column).

What it measures: the wall time to record a task that grows by one 4 KiB artifact chunk
(or one message) per write, as a streaming agent makes it grow, in

* Accord's SQLite store (what ``accord serve`` uses),
* Accord's memory store (the floor: no I/O),
* the official SDK's ``DatabaseTaskStore`` on SQLite (SQLAlchemy + aiosqlite), which
  saves the whole task on every write,

each on its own fresh database file, one after the other in this one run. The SDK
store is given 1/10 of the chunks and its time scaled up linearly, which flatters it
(its cost per write grows with the task): the printed ratio is a lower bound.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from accord.stores import MemoryTaskStore, Scope, SQLiteTaskStore, TaskStore
from accord.types import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    replace,
)

SCOPE = Scope(owner="bench")


def _grow(task: Task, kind: str, n: int, chunk: str) -> tuple[Task, StreamResponse]:
    part = Part(text=chunk)
    if kind == "history":
        message = Message(message_id=f"m{n}", role=Role.AGENT, parts=(part,))
        return replace(task, history=(*task.history, message)), StreamResponse(
            message=message
        )
    if task.artifacts:
        first = task.artifacts[0]
        artifact = replace(first, parts=(*first.parts, part))
    else:
        artifact = Artifact(artifact_id="a", parts=(part,))
    event = TaskArtifactUpdateEvent(
        task_id=task.id, artifact=Artifact(artifact_id="a", parts=(part,)), append=True
    )
    return replace(task, artifacts=(artifact,)), StreamResponse(artifact_update=event)


async def accord(store: TaskStore, kind: str, count: int, chunk: str) -> float:
    async with store:
        task = Task(id="t", context_id="c", status=TaskStatus(state=TaskState.WORKING))
        record = await store.create(task, StreamResponse(task=task), scope=SCOPE)
        start = time.perf_counter()
        for n in range(count):
            task, event = _grow(task, kind, n, chunk)
            record = await store.append(task, event, expected_version=record.version)
        elapsed = time.perf_counter() - start
        got = await store.get("t", scope=SCOPE)
        assert got is not None
        assert got.task == task
    return elapsed


async def sdk(path: Path, kind: str, count: int, chunk: str) -> float | None:
    try:
        from a2a.server.context import ServerCallContext
        from a2a.server.tasks import DatabaseTaskStore
        from a2a.types import a2a_pb2 as pb
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError:
        return None
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    store = DatabaseTaskStore(engine)
    await store.initialize()
    context = ServerCallContext()
    task: Any = pb.Task(id="t", context_id="c")
    task.status.state = pb.TASK_STATE_WORKING
    await store.save(task, context)
    start = time.perf_counter()
    for n in range(count):
        if kind == "history":
            message = task.history.add(message_id=f"m{n}", role=pb.ROLE_AGENT)
            message.parts.add(text=chunk)
        else:
            if not task.artifacts:
                task.artifacts.add(artifact_id="a")
            task.artifacts[0].parts.add(text=chunk)
        await store.save(task, context)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return elapsed


async def main(count: int, size: int) -> None:
    chunk = "x" * size
    print(f"{count} writes of {size} B each; seconds (lower is better)")
    print(f"{'kind':<10}{'Accord SQLite':>15}{'Accord memory':>15}{'SDK SQLite':>14}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("artifact", "history"):
            db = Path(folder) / f"accord-{kind}.db"
            ours = await accord(SQLiteTaskStore(db), kind, count, chunk)
            floor = await accord(MemoryTaskStore(), kind, count, chunk)
            share = max(1, count // 10)
            theirs = await sdk(Path(folder) / f"sdk-{kind}.db", kind, share, chunk)
            sdk_text = "n/a" if theirs is None else f"{theirs * count / share:.2f}*"
            print(f"{kind:<10}{ours:>15.2f}{floor:>15.2f}{sdk_text:>14}")
            if theirs is not None:
                ratio = theirs * count / share / ours
                print(f"{'':<10}Accord SQLite is {ratio:.0f}x the SDK's (lower bound)")
    print("* measured on 1/10 of the writes and scaled linearly (a lower bound)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1500)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    anyio.run(main, args.chunks, args.size)
