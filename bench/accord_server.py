"""The benchmark's Accord server: the echo agent on A2AApp (JSON-RPC at ``POST /``).

Run: ``python bench/accord_server.py --port 8101 [--store memory|sqlite|retention]``,
or ``--store postgres --db postgresql://...`` (``PostgresTaskStore``; the Engine then
uses ``PostgresTaskEvents``: the multi-instance setup of ``bench/cluster.py``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPLY_PREFIX,
    serve,
    server_args,
    stream_chunks,
    tick_gap,
    tick_plan,
    tick_text,
    wait_gate,
)

from accord.server import A2AApp, Agent, TaskContext
from accord.server.tuning import tune_gc
from accord.stores import MemoryTaskStore, SQLiteTaskStore, TaskStore
from accord.types import AgentSkill

agent = Agent(
    name="Echo",
    description="Repeats what you say (benchmark agent)",
    skills=[
        AgentSkill(id="echo", name="Echo", description="Echoes text", tags=("bench",))
    ],
)


@agent.executor
async def echo(ctx: TaskContext) -> None:
    text = ctx.text
    chunks = stream_chunks(text)
    tick = tick_plan(text)
    if tick is not None:
        count, gate = tick
        await ctx.working()
        await wait_gate(gate)
        for i in range(count):
            await ctx.add_artifact(tick_text(i), name=f"tick-{i}")
            await asyncio.sleep(tick_gap(i))
        await ctx.complete()
    elif chunks is not None:
        artifact_id = await ctx.add_artifact("chunk 0", name="stream")
        for i in range(1, chunks):
            await ctx.append_artifact(
                artifact_id, f"chunk {i}", last_chunk=i == chunks - 1
            )
        await ctx.complete()
    elif text.startswith(REPLY_PREFIX):
        await ctx.reply(text)
    else:
        await ctx.add_artifact(text, name="echo")
        await ctx.complete()


def make_store(kind: str, db: str, retention: float, pg_pool: int = 0) -> TaskStore:
    """The task store the command line asks for."""
    if kind == "sqlite":
        return SQLiteTaskStore(db)
    if kind == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        return (
            PostgresTaskStore(db, pool_size=pg_pool)
            if pg_pool
            else PostgresTaskStore(db)
        )
    if kind == "retention":
        return MemoryTaskStore(retention=retention)
    return MemoryTaskStore()


def main() -> None:
    args = server_args(__doc__ or "")
    app = A2AApp(
        agent, store=make_store(args.store, args.db, args.retention, args.pg_pool)
    )
    tune_gc()  # what `accord serve` does once the app is built
    serve(app, args)


if __name__ == "__main__":
    main()
