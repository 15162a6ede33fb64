"""A small agent of the console tests: it answers with a file, structured data and
text, without streaming (so the console sends a blocking SendMessage)."""

from __future__ import annotations

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from accord.types import file_part

#: The file the agent attaches.
REPORT = b"call-1001,42s,refund\n"


async def _report(ctx: TaskContext) -> None:
    if ctx.text == "hello":  # a message, no task (spec §3.1.1)
        await ctx.reply("hello to you")
        return
    await ctx.add_artifact(
        [file_part(REPORT, media_type="text/csv", filename="report.csv")],
        name="report",
    )
    await ctx.add_artifact(data={"rows": 1, "asked": ctx.text}, name="summary")
    await ctx.complete("Report attached.")


def reports_app() -> A2AApp:
    """The agent, unsecured, its tasks in memory."""
    agent = Agent(
        _report, name="Reports", description="Files a report", streaming=False
    )
    return A2AApp(agent, store=MemoryTaskStore())
