"""The AuditStore contract, run against the memory, SQLite and PostgreSQL stores.

Each store is made with ``audit=True``: task writes record their state changes in the
same transaction. Tampering is done the way an attacker with database access would:
SQL on the real file or server (the memory store: its entries deque).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import replace
from pathlib import Path
from typing import Protocol, cast

import anyio.to_thread
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from accord.stores import (
    AuditQuery,
    AuditRecord,
    AuditStore,
    MemoryTaskStore,
    SQLiteTaskStore,
    TaskStore,
    verify_store,
)
from accord.stores.audit import (
    GENESIS,
    AuditChain,
    AuditEntry,
    canonical_bytes,
    link,
    verify_entries,
)
from accord.types import TaskState

from ._helpers import ALICE, ALICE_AT_ACME, created, make_task, status_changed, ts
from ._postgres import empty

pytestmark = pytest.mark.anyio


class Store(TaskStore, AuditStore, Protocol):
    """Both protocols (for the type checker)."""


#: Tampers with a store: runs SQL (SQLite, PostgreSQL) or edits the memory deque.
Tamper = Callable[[str], None]


@asynccontextmanager
async def opened(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Tamper]]:
    """An open, empty store of ``kind`` with audit on, and a way to run SQL on its
    database (statements separated by ``;``, in one transaction)."""
    if kind == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        url = request.getfixturevalue("postgres_url")
        await anyio.to_thread.run_sync(empty, url)

        def pg_sql(sql: str) -> None:
            import psycopg

            with psycopg.connect(url) as conn:
                for statement in sql.split(";"):
                    conn.execute(statement.encode())

        async with PostgresTaskStore(url, audit=True) as pg:
            yield cast("Store", pg), pg_sql
        return
    if kind == "memory":
        async with MemoryTaskStore(audit=True) as memory:
            yield cast("Store", memory), _no_sql
        return
    path = tmp_path / "tasks.db"

    def sqlite_sql(sql: str) -> None:
        with closing(sqlite3.connect(path)) as conn, conn:
            for statement in sql.split(";"):
                conn.execute(statement)

    async with SQLiteTaskStore(path, audit=True) as store:
        yield cast("Store", store), sqlite_sql


def _no_sql(sql: str) -> None:
    raise AssertionError("the memory store has no SQL")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def audited(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[tuple[Store, Tamper]]:
    """Every store, audited."""
    async with opened(request.param, request, tmp_path) as opened_store:
        yield opened_store


@pytest.fixture(params=["sqlite", "postgres"])
async def durable(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[tuple[Store, Tamper]]:
    """The stores on a database one can tamper with, audited."""
    async with opened(request.param, request, tmp_path) as opened_store:
        yield opened_store


def op(
    tenant: str = "",
    task_id: str = "",
    n: int = 0,
    *,
    context_id: str = "",
    principal: str = "",
) -> AuditRecord:
    """An operation record at second ``n``."""
    return AuditRecord(
        time=ts(n),
        tenant=tenant,
        operation="GetTask",
        task_id=task_id,
        context_id=context_id,
        principal=principal,
    )


async def entries(store: Store, **kw: object) -> list[AuditEntry]:
    return await store.audit_entries(AuditQuery(limit=1000, **kw))  # type: ignore[arg-type]


async def test_append_chains_each_tenant_and_verifies(
    audited: tuple[Store, Tamper],
) -> None:
    store, _ = audited
    appended = await store.append_audit(
        [op("", "t1", 1), op("acme", "t2", 2), op("", "t3", 3, principal="alice")]
    )
    assert [(e.record.tenant, e.seq) for e in appended] == [
        ("", 1),
        ("", 2),
        ("acme", 1),
    ] or [(e.record.tenant, e.seq) for e in appended] == [("", 1), ("acme", 1), ("", 2)]
    default = [e for e in await entries(store) if e.record.tenant == ""]
    assert [e.seq for e in default] == [1, 2]
    assert default[0].prev == GENESIS
    assert default[1].prev == default[0].hash
    assert default[1].record.principal == "alice"
    chains = await store.audit_chains()
    assert [(c.tenant, c.head_seq) for c in chains] == [("", 2), ("acme", 1)]
    assert chains[0].head_hash == default[1].hash
    reports = await verify_store(store)
    assert [(r.tenant, r.entries, r.ok) for r in reports] == [
        ("", 2, True),
        ("acme", 1, True),
    ]


async def test_task_writes_record_state_changes_only(
    audited: tuple[Store, Tamper],
) -> None:
    store, _ = audited
    task = make_task("t1", context_id="c1")
    working = make_task("t1", state=TaskState.WORKING, context_id="c1")
    note = make_task("t1", state=TaskState.WORKING, context_id="c1", note="progress")
    done = make_task("t1", state=TaskState.COMPLETED, context_id="c1")
    await store.create(
        working, created(task), scope=ALICE_AT_ACME, more=[status_changed(working)]
    )
    await store.append(note, status_changed(note), expected_version=2)
    await store.append(done, status_changed(done), expected_version=3)
    found = await entries(store, task_id="t1")
    assert [
        (e.record.kind, e.record.previous_state, e.record.state) for e in found
    ] == [
        ("state", "", "TASK_STATE_SUBMITTED"),
        ("state", "TASK_STATE_SUBMITTED", "TASK_STATE_WORKING"),
        ("state", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"),
    ]
    assert {
        (e.record.tenant, e.record.principal, e.record.context_id) for e in found
    } == {("acme", "alice", "c1")}
    assert [e.seq for e in found] == [1, 2, 3]
    assert all(r.ok for r in await verify_store(store))


async def test_a_failed_task_write_leaves_no_record(
    audited: tuple[Store, Tamper],
) -> None:
    store, _ = audited
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)
    done = make_task("t1", state=TaskState.COMPLETED)
    with pytest.raises(Exception, match="version"):
        await store.append(done, status_changed(done), expected_version=7)
    assert [e.record.state for e in await entries(store)] == ["TASK_STATE_SUBMITTED"]


async def test_without_audit_task_writes_record_nothing(
    store: TaskStore,
) -> None:
    assert isinstance(store, AuditStore)
    assert not store.audit_states
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)
    assert await store.audit_entries(AuditQuery()) == []
    assert await store.audit_chains() == []


async def test_filters_and_paging(audited: tuple[Store, Tamper]) -> None:
    store, _ = audited
    await store.append_audit(
        [
            op("", "t1", 1, context_id="c1"),
            op("", "t2", 2, context_id="c2"),
            op("acme", "t1", 3, context_id="c1"),
            op("", "t1", 4, context_id="c1"),
        ]
    )
    # Id order is append order within a tenant (a batch may group its tenants).
    found = await entries(store, task_id="t1")
    assert sorted(e.record.time for e in found) == [ts(1), ts(3), ts(4)]
    assert len(await entries(store, context_id="c2")) == 1
    assert [e.record.time for e in await entries(store, tenant="")] == [
        ts(1),
        ts(2),
        ts(4),
    ]
    assert sorted(e.record.time for e in await entries(store, since=ts(3))) == [
        ts(3),
        ts(4),
    ]
    first = await store.audit_entries(AuditQuery(limit=2))
    rest = await store.audit_entries(AuditQuery(limit=2, after=first[-1].id))
    assert sorted(e.record.time for e in first + rest) == [ts(1), ts(2), ts(3), ts(4)]


async def test_retention_keeps_a_checkpoint_the_rest_verifies_from(
    audited: tuple[Store, Tamper],
) -> None:
    store, _ = audited
    await store.append_audit([op("", "", n) for n in range(1, 8)] + [op("acme", "", 1)])
    # One "late" entry older than its predecessor: it waits for it (a chain's start).
    await store.append_audit([op("", "", 20), op("", "", 2)])
    assert await store.purge_audit(older_than=ts(5), batch=2) == 5
    kept = await entries(store, tenant="")
    assert [e.seq for e in kept] == [5, 6, 7, 8, 9]
    chains = {c.tenant: c for c in await store.audit_chains()}
    assert chains[""].base_seq == 4
    assert chains["acme"].base_seq == 1
    assert chains["acme"].head_seq == 1
    reports = await verify_store(store)
    assert all(r.ok for r in reports), reports
    # Appending after a purge continues the chain.
    await store.append_audit([op("", "", 30)])
    assert all(r.ok for r in await verify_store(store))


async def test_verify_pages_through_long_chains(audited: tuple[Store, Tamper]) -> None:
    store, _ = audited
    await store.append_audit([op("", "", n % 60) for n in range(25)])
    (report,) = await verify_store(store, page=4)
    assert report.ok
    assert report.entries == 25
    assert report.head_seq == 25


@pytest.mark.parametrize(
    ("sql", "seq", "words"),
    [
        (
            "UPDATE audit_entries SET body = replace(body, 'GetTask', 'CancelTask') WHERE seq = 3",
            3,
            "edited",
        ),
        ("DELETE FROM audit_entries WHERE seq = 3", 3, "missing"),
        ("DELETE FROM audit_entries WHERE seq >= 4", 4, "newest entries were deleted"),
        # Swap two entries' places (a reordering): the chain breaks at the first.
        (
            "UPDATE audit_entries SET id = -id WHERE seq = 2;"
            "UPDATE audit_entries SET id = id - 1 WHERE seq = 3;"
            "UPDATE audit_entries SET id = 1 - id WHERE seq = 2",
            2,
            "moved",
        ),
        (
            "UPDATE audit_entries SET hash = 'f' || substr(hash, 2) WHERE seq = 2",
            2,
            "edited",
        ),
    ],
)
async def test_verify_reports_the_first_broken_link(
    durable: tuple[Store, Tamper], sql: str, seq: int, words: str
) -> None:
    store, tamper = durable
    await store.append_audit([op("", f"t{n}", n) for n in range(1, 6)])
    await store.append_audit([op("acme", "x", 1)])
    await anyio.to_thread.run_sync(tamper, sql)
    reports = {r.tenant: r for r in await verify_store(store)}
    assert reports["acme"].ok
    broken = reports[""].broken
    assert broken is not None, reports
    assert broken.seq == seq, broken
    assert words in broken.reason


async def test_concurrent_appends_build_one_chain(
    audited: tuple[Store, Tamper],
) -> None:
    store, _ = audited

    async def writer(n: int) -> None:
        for i in range(10):
            await store.append_audit([op("", f"w{n}", i)])

    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(writer, n)
    (report,) = await verify_store(store)
    assert report.ok
    assert report.entries == 50


def test_verify_entries_of_an_export_checks_links_without_a_head() -> None:
    chain = link([op("", "a", 1), op("", "b", 2), op("", "c", 3)], seq=0, prev=GENESIS)
    assert verify_entries("", chain).ok
    # An export may start after retention: its first entry is taken as it is.
    assert verify_entries("", chain[1:]).ok
    swapped = [chain[0], chain[2], chain[1]]
    broken = verify_entries("", swapped).broken
    assert broken is not None
    assert broken.seq == 2
    assert "moved" in broken.reason
    edited = [chain[0], replace(chain[1], record=replace(chain[1].record, outcome="x"))]
    broken = verify_entries("", edited).broken
    assert broken is not None
    assert "edited" in broken.reason
    head = AuditChain("", 0, GENESIS, 3, chain[2].hash)
    assert verify_entries("", chain, chain=head).ok
    broken = verify_entries("", chain[:2], chain=head).broken
    assert broken is not None
    assert broken.seq == 3


async def test_two_postgres_instances_share_one_chain_per_tenant(
    postgres_url: str, anyio_backend: str
) -> None:
    """Several instances on one database: appends and audited task writes of one
    tenant, concurrently from both, still make one linear chain."""
    from accord.stores.postgres import PostgresTaskStore

    await anyio.to_thread.run_sync(empty, postgres_url)
    async with (
        PostgresTaskStore(postgres_url, audit=True) as one,
        PostgresTaskStore(postgres_url, audit=True) as two,
    ):

        async def operations(store: PostgresTaskStore, name: str) -> None:
            for i in range(15):
                await store.append_audit([op("acme", f"{name}{i}", i)])

        async def tasks(store: PostgresTaskStore, name: str) -> None:
            for i in range(5):
                task = make_task(f"{name}-{i}")
                done = make_task(f"{name}-{i}", state=TaskState.COMPLETED)
                await store.create(task, created(task), scope=ALICE_AT_ACME)
                await store.append(done, status_changed(done), expected_version=1)

        async with anyio.create_task_group() as tg:
            for store, name in ((one, "a"), (two, "b")):
                tg.start_soon(operations, store, name)
                tg.start_soon(operations, store, name + "x")
                tg.start_soon(tasks, store, name)
        (report,) = await verify_store(one)
        assert report.ok, report
        assert report.entries == 4 * 15 + 2 * 5 * 2


@given(
    st.dictionaries(
        st.sampled_from(["time", "tenant", "detail", "seq", "a", "Z", "_x"]),
        st.one_of(st.text(), st.integers(-(2**53) + 1, 2**53 - 1)),
    )
)
def test_canonical_bytes_is_rfc8785(value: dict[str, str | int]) -> None:
    value = {k: v for k, v in value.items() if isinstance(v, int) or _valid(v)}
    assert canonical_bytes(value) == rfc8785.dumps(value)


def _valid(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def test_lone_surrogates_become_replacement_characters() -> None:
    record = AuditRecord(time=ts(1), task_id="a\ud800b")
    assert "\ud800" not in record.task_id
    assert record.task_id.startswith("a")
    assert AuditRecord.from_json(record.to_json()) == record
    with pytest.raises(ValueError, match="member 'events'"):
        AuditRecord.from_json({**record.to_json(), "events": "1"})
    with pytest.raises(ValueError, match="2\\*\\*53"):
        canonical_bytes({"n": 2**60})
