"""SQLite split layout: appends write what changed, and reads give back the snapshot.

The property test drives random edits (append, replace, truncate, reorder) through
the store and checks every read against the snapshot written; the structural tests
check that an appended chunk costs one row and leaves the task row small.
"""

from __future__ import annotations

import itertools
import sqlite3
import stat
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.cli.main import main as cli_main
from accord.stores import SQLiteTaskStore, TaskQuery
from accord.stores._sqlite_layout import plan
from accord.types import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    decode,
    encode,
    replace,
)

from ._helpers import ALICE, created, make_task

CHUNK = "x" * 4096


def _part(n: int) -> Part:
    return Part(text=f"part-{n}")


def _chunk_event(task: Task, part: Part) -> StreamResponse:
    return StreamResponse(
        artifact_update=TaskArtifactUpdateEvent(
            task_id=task.id,
            artifact=Artifact(artifact_id="a", parts=(part,)),
            append=True,
        )
    )


def _with_chunk(task: Task, part: Part) -> Task:
    """``task`` with ``part`` appended to artifact ``a``, as the runtime derives it."""
    if not task.artifacts:
        return replace(task, artifacts=(Artifact(artifact_id="a", parts=(part,)),))
    first = task.artifacts[0]
    return replace(
        task,
        artifacts=(replace(first, parts=(*first.parts, part)), *task.artifacts[1:]),
    )


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


# --- planning: an append plans one row ------------------------------------------


def test_appending_a_chunk_plans_one_part_row() -> None:
    task = make_task("t1", state=TaskState.WORKING)
    for n in range(50):
        task = _with_chunk(task, _part(n))
    grown = _with_chunk(task, _part(50))
    step = plan(task, grown)
    assert not step.rewrite
    assert step.messages == ()
    assert step.truncate_history is None
    assert step.truncate_artifacts is None
    [rows] = step.artifacts
    assert rows.head is None  # the artifact's first part and fields are unchanged
    assert rows.truncate_parts is None
    assert (rows.first_part, rows.parts) == (50, (_part(50),))
    assert step.head.artifacts == ()
    assert step.head.history == ()


def test_appending_a_message_plans_one_message_row() -> None:
    task = make_task("t1", state=TaskState.WORKING)
    messages = tuple(
        Message(message_id=f"m{n}", role=Role.USER, parts=(_part(n),)) for n in range(3)
    )
    before = replace(task, history=messages[:2])
    step = plan(before, replace(task, history=messages))
    assert (step.first_message, step.messages) == (2, messages[2:])
    assert step.artifacts == ()


def test_equal_but_not_identical_parts_are_rewritten_from_there() -> None:
    """Identity, not equality, proves a row unchanged; a copy is simply rewritten."""
    task = _with_chunk(_with_chunk(make_task("t1"), _part(0)), _part(1))
    copy = replace(
        task, artifacts=(replace(task.artifacts[0], parts=(_part(0), _part(1))),)
    )
    [rows] = plan(task, copy).artifacts
    assert rows.head is None  # equal head
    assert (rows.truncate_parts, rows.first_part, rows.parts) == (1, 1, (_part(1),))


# --- the store: O(chunk) rows, exact reads ---------------------------------------


@pytest.mark.anyio
async def test_streamed_chunks_cost_a_row_each(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    async with SQLiteTaskStore(db) as store:
        task = make_task("t1", state=TaskState.WORKING)
        record = await store.create(task, created(task), scope=ALICE)
        head_size = len(encode(task))
        for _ in range(300):
            part = Part(text=CHUNK)
            task = _with_chunk(task, part)
            record = await store.append(
                task, _chunk_event(task, part), expected_version=record.version
            )
        got = await store.get("t1", scope=ALICE)
        assert got is not None
        assert got.task == task
    [(body_size, layout)] = await anyio.to_thread.run_sync(
        _rows, db, "SELECT length(body), layout FROM tasks"
    )
    assert layout == 1
    assert body_size <= head_size  # the task row never grows with the artifact
    parts = await anyio.to_thread.run_sync(
        _rows, db, "SELECT count(*), max(length(body)) FROM task_parts"
    )
    assert parts == [(299, len(encode(Part(text=CHUNK))))]


# Snapshot edits: each takes the current task and returns the next one.
def _edits() -> st.SearchStrategy[list[tuple[str, int]]]:
    ops = st.sampled_from(
        [
            "chunk",
            "new_artifact",
            "message",
            "replace_artifact",
            "drop_artifact",
            "truncate_history",
            "truncate_parts",
            "status",
            "rebuild",
        ]
    )
    return st.lists(st.tuples(ops, st.integers(0, 5)), min_size=1, max_size=25)


def _edit(task: Task, op: str, n: int, counter: list[int]) -> Task:
    counter[0] += 1
    fresh = _part(counter[0])
    arts = task.artifacts
    if op == "chunk" and arts:
        i = n % len(arts)
        grown = replace(arts[i], parts=(*arts[i].parts, fresh))
        return replace(task, artifacts=(*arts[:i], grown, *arts[i + 1 :]))
    if op in {"chunk", "new_artifact"}:
        new = Artifact(artifact_id=f"a{counter[0]}", name=f"n{n}", parts=(fresh,))
        return replace(task, artifacts=(*arts, new))
    if op == "message":
        msg = Message(message_id=f"m{counter[0]}", role=Role.USER, parts=(fresh,))
        return replace(task, history=(*task.history, msg))
    if op == "replace_artifact" and arts:
        i = n % len(arts)
        new = Artifact(artifact_id=f"r{counter[0]}", parts=(fresh,) * (n + 1))
        return replace(task, artifacts=(*arts[:i], new, *arts[i + 1 :]))
    if op == "drop_artifact" and arts:
        i = n % len(arts)
        return replace(task, artifacts=arts[:i] + arts[i + 1 :])
    if op == "truncate_history":
        return replace(task, history=task.history[: n % (len(task.history) + 1)])
    if op == "truncate_parts" and arts:
        i = n % len(arts)
        keep = max(1, n % (len(arts[i].parts) + 1))
        return replace(
            task,
            artifacts=(
                *arts[:i],
                replace(arts[i], parts=arts[i].parts[:keep]),
                *arts[i + 1 :],
            ),
        )
    if op == "rebuild":  # equal content, new objects (e.g. decoded from elsewhere)
        return decode(encode(task), Task)
    return replace(task, status=TaskStatus(state=TaskState.WORKING, timestamp=None))


runs = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=_edits())
def test_every_read_is_the_snapshot_written(
    tmp_path: Path, edits: list[tuple[str, int]]
) -> None:
    async def scenario() -> None:
        db = tmp_path / f"p{next(runs)}.db"
        counter = [0]
        async with SQLiteTaskStore(db) as store:
            task = make_task("t1", state=TaskState.WORKING, note="hello")
            record = await store.create(task, created(task), scope=ALICE)
            for op, n in edits:
                task = _edit(task, op, n, counter)
                record = await store.append(
                    task, StreamResponse(task=task), expected_version=record.version
                )
                got = await store.get("t1", scope=ALICE)
                assert got is not None
                assert got.task == task
            page = await store.list(TaskQuery(scope=ALICE))
            assert page.tasks == (task,)
        # A new store (no remembered snapshot) reads the same and rewrites on append.
        async with SQLiteTaskStore(db) as store:
            got = await store.get("t1", scope=ALICE)
            assert got is not None
            assert got.task == task
            task = _with_chunk(task, _part(10_000))
            await store.append(
                task, StreamResponse(task=task), expected_version=record.version
            )
            again = await store.get("t1", scope=ALICE)
            assert again is not None
            assert again.task == task

    anyio.run(scenario)


@pytest.mark.anyio
async def test_rows_written_by_schema_1_are_read_and_converted(tmp_path: Path) -> None:
    """A v1 row keeps the whole task in ``body`` (layout 0) until its next change."""
    db = tmp_path / "tasks.db"
    task = _with_chunk(make_task("old", state=TaskState.WORKING, note="hi"), _part(0))
    task = _with_chunk(task, _part(1))
    async with SQLiteTaskStore(db) as store:
        first = make_task("old", state=TaskState.WORKING)
        await store.create(first, created(first), scope=ALICE)
    whole = encode(task).decode()
    await anyio.to_thread.run_sync(_legacy_row, db, whole)
    async with SQLiteTaskStore(db) as store:
        got = await store.get("old", scope=ALICE)
        assert got is not None
        assert got.task == task
        assert [r.task.id for r in (await store.unfinished())] == ["old"]
        grown = _with_chunk(task, _part(2))
        await store.append(grown, StreamResponse(task=grown), expected_version=1)
        again = await store.get("old", scope=ALICE)
        assert again is not None
        assert again.task == grown
    assert await anyio.to_thread.run_sync(_rows, db, "SELECT layout FROM tasks") == [
        (1,)
    ]


def _legacy_row(db: Path, whole: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM task_messages")
        conn.execute("DELETE FROM task_artifacts")
        conn.execute("UPDATE tasks SET body = ?, layout = 0", (whole,))
        conn.commit()


# --- file modes ---------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.anyio
async def test_database_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    async with SQLiteTaskStore(db) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        for path in (db, tmp_path / "tasks.db-wal", tmp_path / "tasks.db-shm"):
            assert _mode(path) == 0o600, path


def test_db_migrate_creates_an_owner_only_file(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    assert cli_main(["db", "migrate", "--db", str(db), "--json"]) == 0
    assert _mode(db) == 0o600


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    """The operator's choice for an existing file stands (e.g. a shared group)."""
    db = tmp_path / "shared.db"
    db.touch(mode=0o640)
    db.chmod(0o640)
    assert cli_main(["db", "migrate", "--db", str(db), "--json"]) == 0
    assert _mode(db) == 0o640
