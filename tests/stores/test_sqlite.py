"""SQLiteTaskStore specifics: durability, migrations, errors, multi-process races."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from importlib import resources
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from accord.errors import ConflictError, StoreError
from accord.stores import SQLiteTaskStore, TaskQuery, migrate
from accord.stores._sqlite_db import migrations
from accord.types import TaskState

from ._helpers import ALICE, ANY_OWNER, BOB, created, make_task, status_changed, ts


def run_sql(path: Path, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on a fresh connection (blocking); return the last one's rows."""
    rows: list[tuple[object, ...]] = []
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            rows = conn.execute(statement).fetchall()
        conn.commit()
    return rows


# --- migrations (sync: the CLI calls migrate() outside any event loop) --------


def test_migration_files_are_package_data() -> None:
    folder = resources.files("accord.stores") / "_sql" / "sqlite"
    assert (folder / "0001_initial.sql").is_file()
    assert (folder / "0002_split_snapshots.sql").is_file()
    assert (folder / "0003_task_leases.sql").is_file()
    assert (folder / "0005_push_configs.sql").is_file()
    assert (folder / "0006_push_pending.sql").is_file()
    assert (folder / "0007_audit.sql").is_file()
    assert [version for version, _ in migrations()] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    assert migrate(db) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert migrate(db) == []
    assert migrate(str(db)) == []
    assert run_sql(db, "SELECT version FROM schema_version") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
        (7,),
        (8,),
    ]
    names = run_sql(
        db, "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
    )
    assert {"tasks", "task_events", "push_configs", "schema_version"} <= {
        n for (n,) in names
    }
    assert {
        "tasks_by_scope",
        "tasks_by_context",
        "tasks_by_state",
        "push_configs_pending",
        "push_configs_dead",
    } <= {n for (n,) in names}
    assert run_sql(db, "PRAGMA journal_mode") == [("wal",)]


def test_migrate_refuses_a_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    migrate(db)
    future = migrations()[-1][0] + 1
    run_sql(
        db, f"INSERT INTO schema_version VALUES ({future}, '2099-01-01T00:00:00.000Z')"
    )
    with pytest.raises(StoreError, match="upgrade Accord"):
        migrate(db)


def test_migrate_wraps_driver_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StoreError, match="cannot migrate") as caught:
        migrate(junk)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"retention": -1.0}, "retention")], ids=["retention"]
)
def test_invalid_configuration(
    tmp_path: Path, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SQLiteTaskStore(tmp_path / "x.db", retention=kwargs["retention"])


# --- the store ------------------------------------------------------------------


@pytest.mark.anyio
async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    task = make_task("t1")
    done = make_task("t1", state=TaskState.COMPLETED, at=9, note="bye")
    async with SQLiteTaskStore(db) as store:
        await store.create(task, created(task), scope=ALICE)
        written = await store.append(done, status_changed(done), expected_version=1)
        log = await store.events("t1", after=0, scope=ALICE)

    async with SQLiteTaskStore(db) as store:
        assert await store.get("t1", scope=ALICE) == written
        assert await store.events("t1", after=0, scope=ALICE) == log
        assert (await store.list(TaskQuery(scope=ALICE))).tasks == (done,)
        later = make_task("t1", state=TaskState.COMPLETED, at=10)
        with pytest.raises(ConflictError):
            await store.append(later, status_changed(later), expected_version=1)


@pytest.mark.anyio
async def test_open_migrates_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    async with SQLiteTaskStore(db):
        pass
    assert await anyio.to_thread.run_sync(migrate, db) == []

    future = migrations()[-1][0] + 1
    await anyio.to_thread.run_sync(
        run_sql, db, f"INSERT INTO schema_version VALUES ({future}, 'x')"
    )
    with pytest.raises(StoreError, match="upgrade Accord"):
        async with SQLiteTaskStore(db):
            pass  # pragma: no cover - never reached


@pytest.mark.anyio
async def test_open_wraps_driver_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    await anyio.to_thread.run_sync(junk.write_bytes, b"not a database" * 300)
    with pytest.raises(StoreError, match="cannot open") as caught:
        async with SQLiteTaskStore(junk):
            pass  # pragma: no cover - never reached
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


@pytest.mark.anyio
async def test_calls_wrap_driver_errors(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    async with SQLiteTaskStore(db) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        await anyio.to_thread.run_sync(
            run_sql, db, "DROP TABLE task_events", "DROP TABLE tasks"
        )
        with pytest.raises(StoreError, match="no such table") as caught:
            await store.get("t1", scope=ALICE)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(StoreError, match="no such table"):
            await store.create(task, created(task), scope=ALICE)
        with pytest.raises(StoreError, match="no such table"):
            await store.list(TaskQuery(scope=ALICE))


@pytest.mark.anyio
async def test_corrupt_rows_raise_store_error(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    async with SQLiteTaskStore(db) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        await anyio.to_thread.run_sync(run_sql, db, "UPDATE tasks SET body = '{}'")
        with pytest.raises(StoreError, match="corrupt"):
            await store.get("t1", scope=ALICE)


@pytest.mark.anyio
async def test_store_must_be_open(tmp_path: Path) -> None:
    store = SQLiteTaskStore(tmp_path / "tasks.db")
    with pytest.raises(RuntimeError, match="not open"):
        await store.get("t1", scope=ALICE)
    async with store:
        with pytest.raises(RuntimeError, match="already open"):
            await store.__aenter__()
    with pytest.raises(RuntimeError, match="not open"):
        await store.purge_finished(older_than=ts(0))
    await store.__aexit__(None, None, None)  # closing twice is harmless


@pytest.mark.anyio
async def test_two_stores_on_one_file_race_safely(tmp_path: Path) -> None:
    """Two stores stand in for two processes: BEGIN IMMEDIATE serialises them."""
    db = tmp_path / "tasks.db"
    outcomes: list[str] = []
    async with SQLiteTaskStore(db) as one, SQLiteTaskStore(db) as two:
        task = make_task("t1")
        await one.create(task, created(task), scope=ALICE)

        async def attempt(store: SQLiteTaskStore, note: str) -> None:
            update = make_task("t1", state=TaskState.WORKING, at=1, note=note)
            try:
                await store.append(update, status_changed(update), expected_version=1)
            except ConflictError:
                outcomes.append("conflict")
            else:
                outcomes.append("ok")

        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(attempt, one, f"one-{n}")
                tg.start_soon(attempt, two, f"two-{n}")

        assert sorted(outcomes) == ["conflict"] * 5 + ["ok"]
        record = await two.get("t1", scope=ALICE)
        assert record is not None
        assert record.version == 2


@pytest.mark.anyio
async def test_retention_sweeps_old_finished_tasks_on_write(tmp_path: Path) -> None:
    async with SQLiteTaskStore(tmp_path / "tasks.db", retention=0.0) as store:
        done = make_task("done", state=TaskState.COMPLETED)
        busy = make_task("busy", state=TaskState.WORKING)
        await store.create(busy, created(busy), scope=ALICE)
        await store.create(done, created(done), scope=BOB)
        await anyio.sleep(0.005)  # let the wall clock pass the millisecond
        other = make_task("other")
        await store.create(other, created(other), scope=ALICE)

        assert await store.get("done", scope=BOB) is None
        page = await store.list(TaskQuery(scope=ANY_OWNER))
        assert sorted(t.id for t in page.tasks) == ["busy", "other"]


@pytest.mark.anyio
async def test_in_memory_database(tmp_path: Path) -> None:
    async with SQLiteTaskStore(":memory:") as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        assert (await store.list(TaskQuery(scope=ALICE))).total_size == 1
        assert len(await store.unfinished()) == 1
