"""The delivery claim looks only at configs with something to deliver.

Each store keeps which configs are pending (live, with events past their
``delivered_seq``): the memory store in ``_pending``, the SQL stores in the config row
(``task_version``, kept by a trigger on ``tasks``) and a partial index of pending rows
(SQLite migration 0006, PostgreSQL 0005). These tests check that a claim among many
delivered configs finds nothing and (SQL) reads only that index; that an event makes
delivered configs pending again, however the task row was written; that on
PostgreSQL an append racing a delivery or a put of the same config loses neither; and
that the migrations give configs written before them their task's version.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from accord.errors import StoreError
from accord.stores import (
    MemoryTaskStore,
    SQLiteTaskStore,
    TaskStore,
    _sqlite_db,
    _sqlite_push,
    migrate,
)
from accord.stores._common import now_timestamp
from accord.stores._sqlite_rows import text
from accord.types import TaskState

from ._helpers import (
    ALICE,
    ALICE_AT_ACME,
    ANY_OWNER,
    created,
    make_task,
    status_changed,
)
from ._postgres import admin, empty, fresh_schema, schema_url
from .test_push_configs import DEADLINE, Store, append, claim, new_task, push

pytestmark = pytest.mark.anyio

#: Delivered configs a claim must not look at.
MANY = 200


def pg_rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Run ``sql`` on ``url`` (autocommit); return its rows (blocking)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql.encode() if not params else sql, params or None)
        return cur.fetchall() if cur.description else []


def lite_rows(path: str | Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the SQLite file ``path``; return its rows (blocking)."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows


async def sql(store: TaskStore, statement: str, *params: object) -> list[Any]:
    """Run ``statement`` on the SQL store's database, outside the store."""
    if isinstance(store, SQLiteTaskStore):
        return await anyio.to_thread.run_sync(
            lite_rows, store._path, statement.replace("%s", "?"), *params
        )
    url = store.url  # type: ignore[attr-defined]
    return await anyio.to_thread.run_sync(pg_rows, url, statement, *params)


def pending_from_scratch(mem: MemoryTaskStore) -> dict[tuple[str, str], None]:
    """What the memory store's ``_pending`` must hold, worked out from every config."""
    return {
        (task_id, config_id): None
        for task_id, configs in mem._push.items()
        for config_id, row in configs.items()
        if not row.dead_reason and mem._tasks[task_id][3] > row.delivered_seq
    }


async def deliver_everything(s: Store, holder: str = "d") -> int:
    """Claim and deliver every pending config up to its version; how many."""
    done = 0
    while taken := await s.claim_push_deliveries(holder=holder, seconds=60, limit=50):
        for d in taken:
            key = (d.config.task_id, d.config.config_id)
            assert await s.push_delivered(*key, holder=holder, seq=d.version)
            await s.release_push(*key, holder=holder)
            done += 1
    return done


# --- (1) a claim among many delivered configs ------------------------------------


async def test_a_claim_among_many_delivered_configs_reads_only_the_pending(
    store: TaskStore,
) -> None:
    s = push(store)
    for n in range(MANY):
        await new_task(s, f"t{n}", events=2, state=TaskState.COMPLETED)
        # Half from now on (nothing pending), half delivered by a deliverer.
        after = None if n % 2 else 0
        await s.put_push_config(f"t{n}", "c", b"x", scope=ALICE, after_seq=after)
    assert await deliver_everything(s) == MANY // 2
    assert await claim(s, "a") == []

    if isinstance(store, MemoryTaskStore):
        assert store._pending == {}
        assert len(store._push) == MANY
    else:
        await analyze(store)
        await assert_claim_reads_the_pending_index(store)
        # Every config is still there, none of them pending.
        assert await sql(store, "SELECT count(*) FROM push_configs") == [(MANY,)]

    # One event: one config to deliver, the claim finds it among the others.
    assert await append(s, "t7", state=TaskState.COMPLETED) == 3
    (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert (delivery.config.task_id, delivery.config.delivered_seq) == ("t7", 2)
    assert delivery.version == 3


async def analyze(store: TaskStore) -> None:
    """Give the planner statistics, as autovacuum / PRAGMA optimize would."""
    await sql(store, "ANALYZE")


async def assert_claim_reads_the_pending_index(store: TaskStore) -> None:
    """The claim's pick walks ``push_configs_pending`` and scans no table."""
    if isinstance(store, SQLiteTaskStore):
        plan = await sql(store, "EXPLAIN QUERY PLAN " + _sqlite_push._DUE, 1, 1, 16)
        details = [row[3] for row in plan]
        assert any("USING INDEX push_configs_pending" in d for d in details), details
        assert not any(d.startswith("SCAN") for d in details), details
        return
    from accord.stores import _postgres_push

    ((explained,),) = await sql(
        store, "EXPLAIN (FORMAT JSON) " + _postgres_push._CLAIM, 16, "h", 60
    )
    picked = [
        node
        for node in walk(explained[0]["Plan"])
        if node.get("Subplan Name") == "CTE picked"
    ]
    assert len(picked) == 1, explained
    nodes = list(walk(picked[0]))
    assert any(n.get("Index Name") == "push_configs_pending" for n in nodes), nodes
    assert not any(n["Node Type"] == "Seq Scan" for n in nodes), nodes


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``node`` of a JSON plan and every node under it."""
    yield node
    for child in node.get("Plans", ()):
        yield from walk(child)


async def test_the_pending_index_replaces_the_index_of_every_live_config(
    store: TaskStore,
) -> None:
    if isinstance(store, MemoryTaskStore):
        pytest.skip("no indexes")
    if isinstance(store, SQLiteTaskStore):
        query = "SELECT name FROM sqlite_master WHERE tbl_name = 'push_configs'"
        names = {n for (n,) in await sql(store, query + " AND type = 'index'")}
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'push_configs'"
        names = {
            n for (n,) in await sql(store, query + " AND schemaname = current_schema()")
        }
    assert "push_configs_pending" in names
    assert "push_configs_dead" in names  # dead letters are listed by it
    assert "push_configs_due" not in names


# --- (2) an event makes delivered configs pending again ---------------------------


async def test_an_event_makes_delivered_configs_claimable_again(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    for config_id in ("c1", "c2", "dead"):
        await s.put_push_config("t1", config_id, b"x", scope=ALICE, after_seq=0)
    taken = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    for d in taken:
        key = (d.config.task_id, d.config.config_id)
        if key[1] == "dead":
            assert await s.push_failed(*key, holder="a", retry_in=None, reason="x")
        else:
            assert await s.push_delivered(*key, holder="a", seq=d.version)
            await s.release_push(*key, holder="a")
    assert await claim(s, "a") == []

    assert await append(s, "t1", state=TaskState.WORKING) == 3
    again = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert sorted(
        (d.config.config_id, d.config.delivered_seq, d.version) for d in again
    ) == [
        ("c1", 2, 3),
        ("c2", 2, 3),
    ]
    # Delivered up to what was claimed, but the task moved on meanwhile: c1 stays
    # pending (held by b until released); c2 caught up leaves.
    assert await append(s, "t1", state=TaskState.COMPLETED) == 4
    assert await s.push_delivered("t1", "c1", holder="b", seq=3)
    assert await s.push_delivered("t1", "c2", holder="b", seq=4)
    await s.release_push("t1", "c1", holder="b")
    await s.release_push("t1", "c2", holder="b")
    (last,) = await s.claim_push_deliveries(holder="c", seconds=60, limit=10)
    assert (last.config.config_id, last.config.delivered_seq, last.version) == (
        "c1",
        3,
        4,
    )
    # The dead letter missed both events, and has them delivered once revived.
    assert await s.revive_push_config("t1", "dead", scope=ALICE)
    (revived,) = await s.claim_push_deliveries(holder="c", seconds=60, limit=10)
    assert (revived.config.config_id, revived.config.delivered_seq) == ("dead", 0)
    assert revived.version == 4
    if isinstance(store, MemoryTaskStore):
        assert store._pending == pending_from_scratch(store)


async def test_a_task_row_written_outside_the_store_updates_its_configs(
    store: TaskStore,
) -> None:
    """The trigger keeps ``task_version`` right whoever writes ``tasks.version``."""
    if isinstance(store, MemoryTaskStore):
        pytest.skip("no database")
    s = push(store)
    await new_task(s, "t1", events=2)
    await new_task(s, "t2", events=2)
    for task_id in ("t1", "t2"):
        await s.put_push_config(task_id, "c", b"x", scope=ALICE)
    assert await claim(s, "a") == []

    await sql(store, "UPDATE tasks SET version = 5 WHERE id = %s", "t1")
    # A write that moves the version back (or leaves it) changes nothing.
    await sql(store, "UPDATE tasks SET state = state, version = 1 WHERE id = %s", "t2")
    versions = await sql(
        store, "SELECT task_id, task_version FROM push_configs ORDER BY task_id"
    )
    assert versions == [("t1", 5), ("t2", 2)]
    (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert (delivery.config.task_id, delivery.version) == ("t1", 5)


async def test_the_memory_stores_pending_configs_follow_every_change() -> None:
    """Random operations; after each, ``_pending`` is what a full scan would find,
    and a claim returns what the full scan says is due."""
    rng = random.Random(20250101)
    clock = [1000.0]
    async with MemoryTaskStore(
        max_tasks=6, retention=50, clock=lambda: clock[0]
    ) as mem:
        s = push(mem)
        held: dict[tuple[str, str], str] = {}
        for step in range(2500):
            clock[0] += rng.choice((0.0, 0.0, 1.0, 7.0))
            task_id = f"t{rng.randrange(8)}"
            config_id = f"c{rng.randrange(3)}"
            key = (task_id, config_id)
            op = rng.randrange(9)
            exists = await mem.get(task_id, scope=ANY_OWNER) is not None
            if op == 0 and not exists:
                state = rng.choice((TaskState.WORKING, TaskState.COMPLETED))
                with contextlib.suppress(StoreError):  # full of unfinished tasks
                    await new_task(s, task_id, events=rng.randrange(1, 3), state=state)
            elif op == 1 and exists:
                state = rng.choice((TaskState.WORKING, TaskState.COMPLETED))
                await append(s, task_id, state=state)
            elif op == 2:
                after = rng.choice((None, 0, 1))
                await s.put_push_config(
                    task_id, config_id, b"x", scope=ALICE, after_seq=after
                )
            elif op == 3:
                await s.delete_push_config(task_id, config_id, scope=ALICE)
            elif op == 4:
                taken = await s.claim_push_deliveries(
                    holder=f"h{step}", seconds=rng.choice((0.0, 5.0)), limit=2
                )
                for d in taken:
                    held[(d.config.task_id, d.config.config_id)] = d.holder
            elif op == 5 and key in held:
                seq = rng.randrange(0, 5)
                await s.push_delivered(*key, holder=held[key], seq=seq)
            elif op == 6 and key in held:
                retry_in = rng.choice((None, 0.0, 3.0))
                await s.push_failed(
                    *key, holder=held.pop(key), retry_in=retry_in, reason="x"
                )
            elif op == 7:
                await s.revive_push_config(task_id, config_id, scope=ALICE)
            elif op == 8:
                await mem.purge_finished(older_than="2099-01-01T00:00:00.000Z")
            assert mem._pending == pending_from_scratch(mem), step
            assert set(mem._pending) <= {
                (t, c) for t, configs in mem._push.items() for c in configs
            }


# --- (3) PostgreSQL: concurrent writes of one config ------------------------------


def wait_until_blocked_by(url: str, pid: int) -> None:
    """Return once a backend waits for a lock that backend ``pid`` holds (blocking)."""
    import psycopg

    deadline = time.monotonic() + DEADLINE
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE %s = ANY(pg_blocking_pids(pid))",
                (pid,),
            ).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"nothing waited for backend {pid}")


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    """A PostgreSQL store on this process's schema, emptied first."""
    from accord.stores.postgres import PostgresTaskStore

    await anyio.to_thread.run_sync(empty, postgres_url)
    async with PostgresTaskStore(postgres_url, statement_timeout=DEADLINE) as pg:
        yield push(pg)


def open_append(url: str, task_id: str, expected_version: int) -> Any:
    """Run the store's append statement for ``task_id`` in a transaction left open on
    a new connection (its trigger locks the task's configs); return the connection."""
    import psycopg

    from accord.stores._postgres_rows import text as pg_text
    from accord.stores._sqlite_layout import plan
    from accord.stores.postgres import _APPEND

    seq = expected_version + 1
    task = make_task(task_id, state=TaskState.WORKING, at=seq)
    head = (task.context_id, task.status.state.value, task.status.timestamp, seq)
    params = (*head, pg_text(plan(None, task).head), task_id, expected_version)
    conn = psycopg.connect(url)  # not autocommit: the transaction stays open
    row = conn.execute(
        _APPEND, (*params, task_id, seq, pg_text(status_changed(task)))
    ).fetchone()
    assert row is not None
    return conn


def open_statement(url: str, statement: str, params: tuple[object, ...]) -> Any:
    """Run ``statement`` in a transaction left open on a new connection."""
    import psycopg

    conn = psycopg.connect(url)
    conn.execute(statement, params)
    return conn


async def second_then_commit(url: str, held: Any, second: Any) -> Any:
    """Start ``second()``, wait until it waits for ``held``'s locks, commit ``held``;
    return what ``second()`` returned."""
    result: list[Any] = []

    async def run() -> None:
        result.append(await second())

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            pid = held.info.backend_pid
            await anyio.to_thread.run_sync(wait_until_blocked_by, url, pid)
            await anyio.to_thread.run_sync(held.commit)
    finally:
        await anyio.to_thread.run_sync(held.close)
    return result[0]


async def config_row(url: str, task_id: str, config_id: str) -> tuple[Any, ...]:
    """``(tasks.version, task_version, delivered_seq)`` of one config."""
    (row,) = await anyio.to_thread.run_sync(
        pg_rows,
        url,
        "SELECT t.version, p.task_version, p.delivered_seq FROM push_configs p"
        " JOIN tasks t ON t.id = p.task_id WHERE p.task_id = %s AND p.config_id = %s",
        task_id,
        config_id,
    )
    return row


@pytest.mark.parametrize("first", ["append", "delivered"])
async def test_an_append_racing_a_delivery_of_its_config_undoes_neither(
    pg_store: Store, postgres_url: str, first: str
) -> None:
    """Whichever takes the config row first, the other waits and keeps its column:
    the config is left pending, at the task's version, delivered up to 2."""
    from accord.stores._postgres_push import _DELIVERED

    s, url = pg_store, postgres_url
    await new_task(s, "t1", events=2)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    (claimed,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert claimed.version == 2

    if first == "append":
        held = await anyio.to_thread.run_sync(open_append, url, "t1", 2)

        async def second() -> object:
            return await s.push_delivered("t1", "c1", holder="a", seq=2)

        assert await second_then_commit(url, held, second) is True
    else:
        params = (2, "t1", "c1", "a")
        held = await anyio.to_thread.run_sync(open_statement, url, _DELIVERED, params)

        async def second() -> object:
            return await append(s, "t1", state=TaskState.WORKING)

        assert await second_then_commit(url, held, second) == 3

    assert await config_row(url, "t1", "c1") == (3, 3, 2)
    await s.release_push("t1", "c1", holder="a")
    (again,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (again.config.delivered_seq, again.version) == (2, 3)


@pytest.mark.parametrize("first", ["append", "put"])
async def test_an_append_racing_the_put_of_a_config_is_not_missed(
    pg_store: Store, postgres_url: str, first: str
) -> None:
    """A config being inserted is invisible to a concurrent append's trigger: the put
    locks the task row (``FOR SHARE``), so one of them waits for the other and the
    config ends at the task's version."""
    from accord.stores._postgres_push import _PUT

    s, url = pg_store, postgres_url
    await new_task(s, "t1", events=2)

    if first == "append":
        held = await anyio.to_thread.run_sync(open_append, url, "t1", 2)

        async def second() -> object:
            return await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)

        await second_then_commit(url, held, second)
    else:
        params = ("c1", b"x", 0, "t1", "", "alice", "alice")
        held = await anyio.to_thread.run_sync(open_statement, url, _PUT, params)

        async def second() -> object:
            return await append(s, "t1", state=TaskState.WORKING)

        assert await second_then_commit(url, held, second) == 3

    assert await config_row(url, "t1", "c1") == (3, 3, 0)
    (delivery,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (delivery.config.delivered_seq, delivery.version) == (0, 3)


# --- PostgreSQL: the trigger under row-level security -----------------------------


@pytest.fixture
async def app_role() -> AsyncIterator[tuple[str, str]]:
    """``(owner url, role url)``: a migrated schema, and a role that does not own it
    (row-level security applies to it)."""
    async with fresh_schema() as (name, url):
        await anyio.to_thread.run_sync(migrate, url)
        role = f"accord_app_{uuid.uuid4().hex[:12]}"
        await anyio.to_thread.run_sync(admin, f"CREATE ROLE {role} LOGIN")
        grants = (
            f"GRANT USAGE ON SCHEMA {name} TO {role};"
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {name}"
            f" TO {role}"
        )
        await anyio.to_thread.run_sync(admin, grants)
        try:
            yield url, schema_url(name, user=role)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    admin, f"DROP OWNED BY {role}; DROP ROLE {role}"
                )


async def test_the_trigger_works_under_row_level_security(
    app_role: tuple[str, str],
) -> None:
    from accord.stores.postgres import PostgresTaskStore

    owner_url, url = app_role
    async with PostgresTaskStore(url, row_level_security=True, migrate=False) as pg:
        s = push(pg)
        for task_id, scope in (("home", ALICE), ("acme", ALICE_AT_ACME)):
            await new_task(s, task_id, scope=scope, events=2)
            await s.put_push_config(task_id, "c1", b"x", scope=scope)
        assert await claim(s, "a") == []
        # The store's append (all tenants) runs the trigger as the role.
        done = make_task("acme", state=TaskState.COMPLETED, at=3)
        record = await pg.append(done, status_changed(done), expected_version=2)
        assert record.version == 3
        (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=9)
        assert (delivery.config.task_id, delivery.version) == ("acme", 3)

    def tenant_session() -> list[int]:
        """As the role, in tenant acme's session: its task moves its configs; the
        other tenant's task is not even visible."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            with conn.transaction():
                conn.execute("SELECT set_config('accord.tenant', 'acme', true)")
                changed = [
                    conn.execute(
                        "UPDATE tasks SET version = version + 1 WHERE id = %s",
                        (task_id,),
                    ).rowcount
                    for task_id in ("acme", "home")
                ]
            return changed

    assert await anyio.to_thread.run_sync(tenant_session) == [1, 0]
    versions = await anyio.to_thread.run_sync(
        pg_rows,
        owner_url,
        "SELECT task_id, task_version FROM push_configs ORDER BY task_id",
    )
    assert versions == [("acme", 4), ("home", 2)]


# --- (4) migrating a database that has configs ------------------------------------

#: ``(task_id, version, [(config_id, delivered_seq, dead_reason)])`` written at the
#: schema before the migration.
OLD_ROWS = [
    ("t1", 3, [("behind", 1, ""), ("done", 3, ""), ("dead", 0, "gone")]),
    ("t2", 1, [("done", 1, "")]),
    ("t3", 2, []),
]


def old_task(task_id: str) -> tuple[str, str, str]:
    """``(state, status_ts, body)`` of a task as the old schema stored it."""
    task = make_task(task_id, state=TaskState.WORKING, at=1)
    return task.status.state.value, task.status.timestamp or "", text(task)


def write_old_sqlite(path: Path) -> None:
    """Rows of ``OLD_ROWS`` in a database at schema version 5 (blocking)."""
    now = now_timestamp()
    with closing(sqlite3.connect(path)) as conn:
        for task_id, version, configs in OLD_ROWS:
            state, status_ts, body = old_task(task_id)
            conn.execute(
                "INSERT INTO tasks (id, tenant, owner, context_id, state, status_ts,"
                " version, created_at, updated_at, body, layout)"
                " VALUES (?, '', 'alice', 'ctx-1', ?, ?, ?, ?, ?, ?, 0)",
                (task_id, state, status_ts, version, now, now, body),
            )
            conn.executemany(
                "INSERT INTO task_events (task_id, seq, event, created_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    (task_id, seq, text(created(make_task(task_id))), now)
                    for seq in range(1, version + 1)
                ],
            )
            conn.executemany(
                "INSERT INTO push_configs (task_id, config_id, tenant, owner, data,"
                " delivered_seq, next_attempt_at, dead_reason, created_at)"
                " VALUES (?, ?, '', 'alice', x'00', ?, 0, ?, ?)",
                [(task_id, c, seq, dead, now) for c, seq, dead in configs],
            )
        conn.commit()


async def check_migrated(s: Store, versions: list[tuple[Any, ...]]) -> None:
    """The configs of ``OLD_ROWS`` after the migration: ``versions`` (their
    ``task_id, config_id, task_version``) and what the store claims."""
    assert versions == [
        ("t1", "behind", 3),
        ("t1", "dead", 3),
        ("t1", "done", 3),
        ("t2", "done", 1),
    ]
    (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert (delivery.config.task_id, delivery.config.config_id) == ("t1", "behind")
    assert (delivery.config.delivered_seq, delivery.version) == (1, 3)
    # The trigger is in place: an event makes t2's delivered config pending.
    assert await append(s, "t2", state=TaskState.COMPLETED) == 2
    (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert (delivery.config.task_id, delivery.version) == ("t2", 2)
    assert await claim(s, "b") == []


async def test_sqlite_migration_6_gives_old_configs_their_tasks_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "tasks.db"
    shipped = _sqlite_db.migrations()
    assert shipped[5][0] == 6
    with monkeypatch.context() as patched:
        patched.setattr(_sqlite_db, "migrations", lambda: shipped[:5])
        assert await anyio.to_thread.run_sync(migrate, db) == [1, 2, 3, 4, 5]
    await anyio.to_thread.run_sync(write_old_sqlite, db)

    # Migration 6 and every later one.
    later = list(range(6, len(shipped) + 1))
    assert await anyio.to_thread.run_sync(migrate, db) == later

    versions = await anyio.to_thread.run_sync(
        lite_rows,
        db,
        "SELECT task_id, config_id, task_version FROM push_configs ORDER BY 1, 2",
    )
    async with SQLiteTaskStore(db) as lite:
        await check_migrated(push(lite), versions)


async def test_postgres_migration_5_gives_old_configs_their_tasks_version() -> None:
    import psycopg

    from accord.stores.postgres import PostgresTaskStore
    from accord.stores.postgres_db import apply_migrations, migrations

    shipped = migrations()
    assert shipped[4][0] == 5

    def write_old(url: str) -> list[int]:
        with psycopg.connect(url, autocommit=True) as conn:
            assert apply_migrations(conn, shipped[:4]) == [1, 2, 3, 4]
            for task_id, version, configs in OLD_ROWS:
                state, status_ts, body = old_task(task_id)
                conn.execute(
                    "INSERT INTO tasks (id, tenant, owner, context_id, state,"
                    " status_ts, version, body)"
                    " VALUES (%s, '', 'alice', 'ctx-1', %s, %s, %s, %s)",
                    (task_id, state, status_ts, version, body),
                )
                for seq in range(1, version + 1):
                    conn.execute(
                        "INSERT INTO task_events (task_id, tenant, seq, event)"
                        " VALUES (%s, '', %s, %s)",
                        (task_id, seq, text(created(make_task(task_id)))),
                    )
                for config_id, seq, dead in configs:
                    conn.execute(
                        "INSERT INTO push_configs (task_id, config_id, tenant, owner,"
                        " data, delivered_seq, dead_reason)"
                        " VALUES (%s, %s, '', 'alice', '\\x00', %s, %s)",
                        (task_id, config_id, seq, dead),
                    )
            return apply_migrations(conn)

    async with fresh_schema() as (_, url):
        later = list(range(5, len(shipped) + 1))  # migration 5 and every later one
        assert await anyio.to_thread.run_sync(write_old, url) == later
        versions = await anyio.to_thread.run_sync(
            pg_rows,
            url,
            "SELECT task_id, config_id, task_version FROM push_configs ORDER BY 1, 2",
        )
        async with PostgresTaskStore(url) as pg:
            await check_migrated(push(pg), versions)
