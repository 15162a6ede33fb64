"""Objects for ``accord serve TARGET`` resolution tests (``tests.cli.agents:NAME``)."""

from __future__ import annotations

from accord.server import A2AApp, Agent, TaskContext


async def _echo(ctx: TaskContext) -> None:
    await ctx.reply(ctx.text)


agent = Agent(_echo, name="Echo", description="Says it back")
app = A2AApp(agent)
not_an_agent = 42
seen_db: list[str] = []


def create_agent(db: str) -> Agent:
    seen_db.append(db)
    return Agent(_echo, name="Made", description="From a factory")


def make_app() -> A2AApp:
    return A2AApp(Agent(_echo, name="NoDb", description="Factory without db"))


def bad_factory(db: str) -> int:
    return len(db)


class Holder:
    agent = Agent(_echo, name="Nested", description="Dotted OBJ path")


pushy = Agent(_echo, name="Pushy", description="Declares push", push_notifications=True)


def make_pushy_app() -> A2AApp:
    return A2AApp(
        Agent(_echo, name="PushyApp", description="x", push_notifications=True)
    )
