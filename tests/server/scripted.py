"""A scripted agent for server tests: the first word of the message picks the behaviour."""

from __future__ import annotations

import anyio

from accord.server import Agent, TaskContext
from accord.types import AgentCard, AgentSkill


async def behave(ctx: TaskContext) -> None:
    word, _, rest = ctx.text.partition(" ")
    if ctx.is_follow_up:
        await ctx.add_artifact(f"got {ctx.text}", name="answer")
        await ctx.complete("thanks")
        return
    if word == "echo":
        await ctx.add_artifact(rest, name="echo")
        await ctx.complete()
    elif word == "reply":
        await ctx.reply(rest or "hello")
    elif word == "ask":
        await ctx.working("thinking")
        await ctx.ask_for_input("what is your name?")
    elif word == "auth":
        await ctx.require_auth("please authorize")
    elif word == "wait":
        await ctx.working("waiting forever")
        await anyio.sleep_forever()
    elif word == "boom":
        raise ValueError("kaboom")
    elif word == "fail":
        await ctx.fail("cannot do that")
    elif word == "reject":
        await ctx.reject("will not do that")
    elif word == "chunks":
        count = int(rest or "3")
        first = await ctx.add_artifact("chunk-0 ", name="chunked")
        for i in range(1, count):
            await ctx.append_artifact(first, f"chunk-{i} ", last_chunk=i == count - 1)
        await ctx.complete()
    elif word == "slow":
        await ctx.working("step 1")
        await anyio.sleep(float(rest or "0.3"))
        await ctx.add_artifact("slow result")
        await ctx.complete()
    elif word == "gate":
        # Waits until the test releases it via the module-level event.
        await ctx.working("at the gate")
        await GATE.wait()
        await ctx.add_artifact("through the gate")
        await ctx.complete()
    elif word == "submit":
        await ctx.submit()
        await ctx.submit()  # idempotent
        await GATE.wait()
        await ctx.complete()
    elif word == "nothing":
        return
    elif word == "misuse":
        await ctx.complete()
        await ctx.working("after the end")
    else:
        await ctx.add_artifact(ctx.text or "(empty)")
        await ctx.complete()


class _Gate:
    """A resettable gate usable from the server's event loop."""

    def __init__(self) -> None:
        self.opened = False

    async def wait(self) -> None:
        # Opened from the test's thread, so an anyio.Event (not thread-safe) won't do.
        while not self.opened:  # noqa: ASYNC110
            await anyio.sleep(0.01)


GATE = _Gate()


def make_agent(
    *,
    streaming: bool = True,
    extended: AgentCard | None = None,
    declare_extended: bool | None = None,
) -> Agent:
    return Agent(
        behave,
        name="Scripted",
        description="Test agent driven by the first word of each message",
        version="9.9.9",
        skills=[
            AgentSkill(
                id="echo",
                name="Echo",
                description="Echoes",
                tags=("test",),
                examples=("echo hi",),
            )
        ],
        streaming=streaming,
        extended_card=extended,
        declare_extended_card=declare_extended,
    )
