"""An app for the kill -9 durability test: run with ``python -m tests.server.durable_app DB``."""

from __future__ import annotations

import sys

import anyio
import uvicorn

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import SQLiteTaskStore


async def work(ctx: TaskContext) -> None:
    if ctx.text == "quick":
        await ctx.add_artifact("done")
        await ctx.complete()
        return
    await ctx.working("working on it")
    await anyio.sleep_forever()


if __name__ == "__main__":
    app = A2AApp(
        Agent(work, name="Durable", description="for tests"),
        store=SQLiteTaskStore(sys.argv[1]),
        # Short, so the restarted process takes the killed one's tasks over at once.
        lease_seconds=0.5,
    )
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
