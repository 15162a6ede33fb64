"""Agreements across instances: two engines sharing one store (a SQLite file, a
PostgreSQL schema) honour each other's negotiation. The caller proposes on A, accepts
the counter on B, starts the agreed task on A; the agreement is then used up on both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from accord.client import Client
from accord.client.handshake import accept_counter, propose, under_agreement
from accord.errors import InvalidParamsError
from accord.protocol.handshake import Decision, Proposal
from accord.server import A2AApp, Agent, TaskContext
from accord.server.handshake import Negotiation
from accord.stores import HeldStore, SQLiteTaskStore, TaskStore
from accord.types import Task, TaskState, data_of
from tests.stores._postgres import fresh_schema

from .helpers import connect

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shop(store: TaskStore) -> A2AApp:
    """One instance of a shop whose policy counters "large" with "small"; each
    instance has its own Negotiation, as separate processes do."""

    async def run(ctx: TaskContext) -> None:
        await ctx.complete("sold", data={"sizes": [d.get("size") for d in ctx.data]})

    def policy(proposal: Proposal) -> Decision:
        if proposal.parameters.get("size") == "large":
            smaller = {**proposal.parameters, "size": "small"}
            return Decision.counter(
                Proposal(proposal.skill, smaller, proposal.constraints),
                "large is sold out",
            )
        return Decision.accept()

    negotiation = Negotiation(policy)
    agent = Agent(negotiation.wrap(run), name="Shop", description="Sells things")
    return A2AApp(agent, store=store, interceptors=[negotiation])


@asynccontextmanager
async def sqlite_stores(tmp_path: Path) -> AsyncIterator[Callable[[], TaskStore]]:
    db = tmp_path / "shared.db"
    yield lambda: SQLiteTaskStore(db)


@asynccontextmanager
async def postgres_stores(tmp_path: Path) -> AsyncIterator[Callable[[], TaskStore]]:
    from accord.stores.postgres import PostgresTaskStore

    async with fresh_schema() as (_, url):
        yield lambda: PostgresTaskStore(url)


@pytest.fixture(params=["sqlite", "postgres"])
async def a_and_b(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Client, Client]]:
    """Clients of instances A (JSON-RPC) and B (HTTP+JSON) sharing one store."""
    stores = sqlite_stores if request.param == "sqlite" else postgres_stores
    async with AsyncExitStack() as stack:
        make = await stack.enter_async_context(stores(tmp_path))
        a = await stack.enter_async_context(
            aclosing_first(connect(shop(make()), "JSONRPC"))
        )
        b = await stack.enter_async_context(
            aclosing_first(connect(shop(make()), "HTTP+JSON"))
        )
        yield a, b


@asynccontextmanager
async def aclosing_first(clients: AsyncIterator[Client]) -> AsyncIterator[Client]:
    """The one client ``clients`` yields, closed when the block ends."""
    client = await anext(clients)
    try:
        yield client
    finally:
        with pytest.raises(StopAsyncIteration):
            await anext(clients)


async def test_propose_on_a_accept_on_b_start_on_a_once(
    a_and_b: tuple[Client, Client],
) -> None:
    a, b = a_and_b
    counter = await propose(a, "sell", {"size": "large"})
    assert counter.outcome == "counter"
    agreed = await accept_counter(b, counter)
    assert agreed.outcome == "accept", agreed.reason
    assert agreed.terms == counter.terms
    task = await a.send_message(under_agreement(agreed))
    assert isinstance(task, Task)
    assert task.status.state is TaskState.COMPLETED
    assert data_of(task) == [{"sizes": ["small"]}]
    # Used up, on either instance; and the counter was accepted once.
    for client in (b, a):
        with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
            await client.send_message(under_agreement(agreed))
    again = await accept_counter(a, counter)
    assert again.outcome == "reject"
    assert "unknown or expired" in again.reason


class NoHeldTerms:
    """A task store that keeps no held terms (a third-party store, say): every
    other call goes to ``inner``."""

    def __init__(self, inner: TaskStore) -> None:
        self.inner = inner

    async def __aenter__(self) -> NoHeldTerms:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        if name in ("hold_terms", "take_terms"):
            raise AttributeError(name)
        return getattr(self.inner, name)


async def test_without_held_terms_in_the_store_agreements_stay_in_the_instance(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared.db"
    a_app = shop(cast("TaskStore", NoHeldTerms(SQLiteTaskStore(db))))
    b_app = shop(cast("TaskStore", NoHeldTerms(SQLiteTaskStore(db))))
    assert not isinstance(a_app.store, HeldStore)
    async with (
        aclosing_first(connect(a_app, "JSONRPC")) as a,
        aclosing_first(connect(b_app, "JSONRPC")) as b,
    ):
        first = await propose(a, "sell", {"size": "small"})
        with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
            await b.send_message(under_agreement(first))
        task = await a.send_message(under_agreement(first))
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED
        with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
            await a.send_message(under_agreement(first))
