"""The held-terms contract (accord.stores.held) on every store: a take is single use
(also when two stores on one database race for it), scoped to its tenant and owner,
never returns expired terms; expired rows are purged in batches; each owner's rows are
capped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from accord.stores import HeldStore, MemoryTaskStore, Scope, SQLiteTaskStore, TaskStore
from accord.stores.held import HELD_PURGE_BATCH

from ._postgres import empty

pytestmark = pytest.mark.anyio

ANN = Scope("acme", "ann")
NOW = 1_000_000.0
LATER = NOW + 60


async def held_count(store: Any) -> int:
    """Rows the store holds, expired or not (each store's own way to count)."""
    if isinstance(store, MemoryTaskStore):
        return len(store._terms)
    sql = "SELECT count(*) FROM held_terms"
    if isinstance(store, SQLiteTaskStore):
        return int(await store._read(lambda conn: conn.execute(sql).fetchone()[0]))
    return int(
        await store._run(lambda cur: cur.execute(sql).fetchone()[0], tenant=None)
    )


def held(store: TaskStore) -> HeldStore:
    assert isinstance(store, HeldStore)
    return store


async def test_terms_are_taken_once(store: TaskStore) -> None:
    terms = held(store)
    await terms.hold_terms(
        "agreement", "agr-1", ANN, '{"skill":"a"}', expires_at=LATER, now=NOW
    )
    # Holding the same id again keeps the first terms.
    await terms.hold_terms(
        "agreement", "agr-1", ANN, '{"skill":"b"}', expires_at=LATER, now=NOW
    )
    # Kinds are separate: a counter of the same id is another row.
    await terms.hold_terms(
        "counter", "agr-1", ANN, '{"skill":"c"}', expires_at=LATER, now=NOW
    )
    assert await terms.take_terms("agreement", "agr-1", ANN, now=NOW) == (
        '{"skill":"a"}'
    )
    assert await terms.take_terms("agreement", "agr-1", ANN, now=NOW) is None
    assert await terms.take_terms("counter", "agr-1", ANN, now=NOW) == '{"skill":"c"}'
    assert await terms.take_terms("agreement", "never-held", ANN, now=NOW) is None
    with pytest.raises(ValueError, match="kind and an id"):
        await terms.hold_terms("agreement", "", ANN, "{}", expires_at=LATER, now=NOW)


async def test_another_tenant_or_owner_finds_nothing(store: TaskStore) -> None:
    terms = held(store)
    await terms.hold_terms("agreement", "agr-1", ANN, "{}", expires_at=LATER, now=NOW)
    for other in (Scope("acme", "bob"), Scope("globex", "ann"), Scope("", "ann")):
        assert await terms.take_terms("agreement", "agr-1", other, now=NOW) is None
    # Their attempts left it in place for its owner.
    assert await terms.take_terms("agreement", "agr-1", ANN, now=NOW) == "{}"


async def test_expired_terms_are_never_returned(store: TaskStore) -> None:
    terms = held(store)
    await terms.hold_terms("counter", "ctr-1", ANN, "{}", expires_at=LATER, now=NOW)
    assert await terms.take_terms("counter", "ctr-1", ANN, now=LATER) is None
    # That take removed it: it is gone even for a clock that lags.
    assert await terms.take_terms("counter", "ctr-1", ANN, now=NOW) is None
    assert await held_count(store) == 0


async def test_a_hold_purges_a_batch_of_expired_rows(store: TaskStore) -> None:
    terms = held(store)
    expired = HELD_PURGE_BATCH + 5
    for n in range(expired):
        owner = Scope("acme" if n % 2 else "globex", f"owner-{n % 7}")
        await terms.hold_terms(
            "agreement", f"old-{n}", owner, "{}", expires_at=NOW + 1 + n, now=NOW
        )
    await terms.hold_terms(
        "agreement", "live", ANN, "{}", expires_at=LATER + 10_000, now=NOW
    )
    assert await held_count(store) == expired + 1
    # Every old row expired by now; the next hold removes one batch of them, the
    # one after that the rest; the live rows stay.
    now = NOW + expired
    await terms.hold_terms(
        "agreement", "new-1", ANN, "{}", expires_at=now + 60, now=now
    )
    assert await held_count(store) == expired + 2 - HELD_PURGE_BATCH
    await terms.hold_terms(
        "agreement", "new-2", ANN, "{}", expires_at=now + 60, now=now
    )
    assert await held_count(store) == 3
    for name in ("live", "new-1", "new-2"):
        assert await terms.take_terms("agreement", name, ANN, now=now) == "{}"


async def test_each_owner_holds_at_most_its_cap(store: TaskStore) -> None:
    terms = held(store)
    cap = 3
    store.max_held_per_owner = cap  # type: ignore[attr-defined]
    bob = Scope("acme", "bob")
    await terms.hold_terms("agreement", "bob-1", bob, "{}", expires_at=LATER, now=NOW)
    for n in range(cap + 2):
        await terms.hold_terms(
            "agreement", f"ann-{n}", ANN, "{}", expires_at=LATER, now=NOW
        )
    # Counters count apart from agreements.
    await terms.hold_terms("counter", "ann-c", ANN, "{}", expires_at=LATER, now=NOW)
    assert await held_count(store) == 1 + cap + 1
    taken = [
        await terms.take_terms("agreement", f"ann-{n}", ANN, now=NOW)
        for n in range(cap + 2)
    ]
    assert taken == [None, None, "{}", "{}", "{}"]  # the oldest went
    assert await terms.take_terms("agreement", "bob-1", bob, now=NOW) == "{}"
    assert await terms.take_terms("counter", "ann-c", ANN, now=NOW) == "{}"


# --- two stores on one database -----------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[HeldStore, HeldStore]]:
    """Two stores sharing one database, as two instances do (memory: one store,
    shared by two engines of one process)."""
    if request.param == "memory":
        async with MemoryTaskStore() as memory:
            yield memory, memory
        return
    if request.param == "sqlite":
        db = tmp_path / "tasks.db"
        async with SQLiteTaskStore(db) as a, SQLiteTaskStore(db) as b:
            yield a, b
        return
    from accord.stores.postgres import PostgresTaskStore

    url = request.getfixturevalue("postgres_url")
    await anyio.to_thread.run_sync(empty, url)
    async with PostgresTaskStore(url) as pa, PostgresTaskStore(url) as pb:
        yield pa, pb


async def test_of_two_stores_racing_for_terms_exactly_one_gets_them(
    two_stores: tuple[HeldStore, HeldStore],
) -> None:
    a, b = two_stores
    ids = [f"agr-{n}" for n in range(40)]
    for n, held_id in enumerate(ids):
        await (a if n % 2 else b).hold_terms(
            "agreement", held_id, ANN, f'{{"n":{n}}}', expires_at=LATER, now=NOW
        )
    got: dict[str, list[str]] = {held_id: [] for held_id in ids}

    async def take(store: HeldStore, held_id: str) -> None:
        terms = await store.take_terms("agreement", held_id, ANN, now=NOW)
        if terms is not None:
            got[held_id].append(terms)

    async with anyio.create_task_group() as tg:
        for held_id in ids:
            for store in (a, b, a, b):
                tg.start_soon(take, store, held_id)
    assert got == {held_id: [f'{{"n":{n}}}'] for n, held_id in enumerate(ids)}


async def test_memory_bounds_every_owner_together_and_its_expiry_heap() -> None:
    from accord.stores._memory_held import MemoryHeld

    with pytest.raises(ValueError, match="caps"):
        MemoryHeld(max_held=0)
    terms = MemoryHeld(max_held=4, max_per_owner=3)
    for n in range(6):
        owner = Scope("acme", f"owner-{n}")
        await terms.hold_terms(
            "agreement", f"a-{n}", owner, "{}", expires_at=LATER, now=NOW
        )
    assert len(terms._terms) == 4  # the two oldest went
    assert (
        await terms.take_terms("agreement", "a-1", Scope("acme", "owner-1"), now=NOW)
        is None
    )
    assert (
        await terms.take_terms("agreement", "a-5", Scope("acme", "owner-5"), now=NOW)
        == "{}"
    )
    # Taken rows leave entries in the expiry heap until they are due; the heap is
    # rebuilt from the rows held before it grows past twice their number and a batch.
    for n in range(3 * HELD_PURGE_BATCH):
        await terms.hold_terms(
            "counter", f"c-{n}", ANN, "{}", expires_at=LATER, now=NOW
        )
        await terms.take_terms("counter", f"c-{n}", ANN, now=NOW)
    assert len(terms._terms_expiry) <= 2 * len(terms._terms) + HELD_PURGE_BATCH
