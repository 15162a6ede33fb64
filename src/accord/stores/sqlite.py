"""A durable :class:`~accord.stores.base.TaskStore` in one SQLite file (``sqlite3``).

Theory of operation. The store keeps two long-lived connections to the file: a *writer*
for ``create``/``append``/purges and a *reader* for everything else. In WAL mode
readers see the last committed state and never wait for the writer, so a slow
ListTasks does not delay an append. Connections are opened once, in ``__aenter__``,
which also applies pending migrations (:func:`migrate`); ``sqlite3`` caches each
connection's prepared statements, so the hot path re-binds instead of re-parsing SQL.

Each connection is driven by a :class:`~accord.stores._lane.Lane`: calls leave the
event loop through ``anyio.to_thread`` (so the store works on asyncio and trio), at
most one hop per call, and concurrent calls on a connection share a hop; concurrent
writes share one transaction (group commit), each inside its own savepoint.

A task is stored split into rows (:mod:`accord.stores._sqlite_layout`): the task
without history and artifacts, one row per message, per artifact and per part. The
writer remembers the snapshot it last wrote for each of the most recently written
unfinished tasks (:data:`SNAPSHOT_CACHE`), so an append rewrites only what changed:
streaming an artifact chunk by chunk costs each chunk, not the artifact so far. A
remembered snapshot is used only when the row is still at its version (read under the
write lock, so another process's writes are noticed), and the cache is cleared when a
write batch rolls back.

Atomicity of ``append``: inside the write transaction it reads the row's version,
compares, updates the rows and inserts the event. Write transactions start with
``BEGIN IMMEDIATE``, which takes SQLite's write lock first, so even another process
writing the same file cannot interleave; the loser of a race sees the new version and
gets :class:`~accord.errors.ConflictError`.

Every ``sqlite3`` exception is re-raised as :class:`~accord.errors.StoreError`.

With ``retention`` set, terminal tasks whose last write is older than ``retention``
seconds are deleted (their events and push-notification configs cascade) by a sweep
that runs after a write batch, at most once per :data:`RETENTION_SWEEP_INTERVAL`;
there is no background task. Push-notification configs and their delivery outbox are
:mod:`accord.stores._sqlite_push`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Self, TypeVar

import anyio
import anyio.to_thread

from accord.errors import ConflictError, StoreError
from accord.stores._audit import state_records
from accord.stores._common import (
    TERMINAL_STATES,
    UNFINISHED_STATES,
    decode_cursor,
    effective_page_size,
    effective_state,
    effective_timestamp,
    encode_cursor,
    now_timestamp,
    sort_key,
    visible,
)
from accord.stores._lane import Lane
from accord.stores._sqlite_audit import SQLiteAudit, append_entries
from accord.stores._sqlite_db import apply_migrations, connect, migrate
from accord.stores._sqlite_held import SQLiteHeld
from accord.stores._sqlite_layout import plan
from accord.stores._sqlite_leases import RELEASE, SQLiteLeases, grant
from accord.stores._sqlite_push import SQLitePush
from accord.stores._sqlite_rows import load_task, text, write_rows
from accord.stores.base import StoredEvent, TaskPage, TaskQuery, TaskRecord
from accord.types import StreamResponse, Task, decode, format_timestamp

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Sequence

    from accord.stores.base import Scope

__all__ = ["RETENTION_SWEEP_INTERVAL", "SNAPSHOT_CACHE", "SQLiteTaskStore", "migrate"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: Longest gap (seconds) between two retention sweeps. Expired tasks linger at most this
#: long past their retention; one sweep is a single indexed DELETE.
RETENTION_SWEEP_INTERVAL = 60.0

#: Unfinished tasks whose last written snapshot the writer remembers, to write only
#: what an append changes. The runtime holds these snapshots while the tasks run, so
#: the cache costs little memory; a task that fell out is rewritten whole once.
SNAPSHOT_CACHE = 512

_TERMINAL = tuple(sorted(s.value for s in TERMINAL_STATES))
_UNFINISHED = tuple(s.value for s in UNFINISHED_STATES)

_SELECT_TASK = "SELECT owner, tenant, version, body, layout, id FROM tasks WHERE id = ?"
_SELECT_SCOPE = "SELECT owner, tenant FROM tasks WHERE id = ?"
_SELECT_VERSION = "SELECT owner, tenant, version FROM tasks WHERE id = ?"
_SELECT_VERSION_STATE = "SELECT owner, tenant, version, state FROM tasks WHERE id = ?"
_INSERT_TASK = (
    "INSERT INTO tasks (id, tenant, owner, context_id, state, status_ts, version,"
    " created_at, updated_at, body, layout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)
_UPDATE_TASK = (
    "UPDATE tasks SET context_id = ?, state = ?, status_ts = ?, version = ?,"
    " updated_at = ?, body = ?, layout = 1 WHERE id = ? AND version = ?"
)
_INSERT_EVENT = (
    "INSERT INTO task_events (task_id, seq, event, created_at) VALUES (?, ?, ?, ?)"
)
_SELECT_EVENTS = (
    "SELECT seq, event FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq"
)
_SELECT_UNFINISHED = (
    "SELECT owner, tenant, version, body, layout, id FROM tasks"
    f" WHERE state IN ({', '.join('?' * len(_UNFINISHED))}) ORDER BY created_at, id"
)
_PURGE_BY_STATUS = (
    f"DELETE FROM tasks WHERE state IN ({', '.join('?' * len(_TERMINAL))})"
    " AND (CASE WHEN status_ts = '' THEN updated_at ELSE status_ts END) < ?"
)
_PURGE_BY_UPDATE = (
    f"DELETE FROM tasks WHERE state IN ({', '.join('?' * len(_TERMINAL))})"
    " AND updated_at < ?"
)


class SQLiteTaskStore(SQLiteLeases, SQLitePush, SQLiteAudit, SQLiteHeld):
    """Store tasks, their event logs and push configs in a SQLite database file.

    Args:
        path: the database file (created and migrated on open); ``":memory:"`` gives a
            private in-memory database, for tests.
        retention: seconds a terminal task is kept after its last write; None keeps it
            until :meth:`purge_finished` deletes it.
        audit: record each task state change in the audit trail
            (:mod:`accord.stores.audit`), in the transaction that writes the task,
            and let an engine record its operations there.

    Use as ``async with SQLiteTaskStore(path) as store: ...``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: float | None = None,
        audit: bool = False,
    ) -> None:
        if retention is not None and retention < 0:
            raise ValueError("retention must be >= 0 seconds or None")
        self._path = os.fspath(path)
        self._retention = retention
        self._audit_on = audit
        self._writer: Lane | None = None
        self._reader: Lane | None = None
        self._next_sweep = 0.0  # time.monotonic() of the next retention sweep
        # task id -> (version, snapshot) as last written; used by the writer thread only.
        self._written: OrderedDict[str, tuple[int, Task]] = OrderedDict()

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for a private in-memory database)."""
        return self._path

    async def __aenter__(self) -> Self:
        """Open the connections, creating and migrating the database as needed."""
        if self._writer is not None:
            raise RuntimeError("SQLiteTaskStore is already open")
        writer, reader = await anyio.to_thread.run_sync(self._open)
        sweep = None if self._retention is None else self._sweep
        self._writer = Lane(
            writer, write=True, after_batch=sweep, on_rollback=self._written.clear
        )
        self._reader = self._writer if reader is writer else Lane(reader, write=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the connections (waits for a running batch to finish)."""
        writer, reader = self._writer, self._reader
        if writer is None or reader is None:
            return
        lanes = [writer] if reader is writer else [writer, reader]
        self._writer = self._reader = None
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_close, lanes)

    def _open(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        try:
            writer = connect(self._path)
            try:
                apply_migrations(writer)
                reader = writer if self._path == ":memory:" else connect(self._path)
            except BaseException:
                writer.close()
                raise
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open SQLite task database {self._path!r}: {exc}"
            ) from exc
        return writer, reader

    # --- TaskStore ------------------------------------------------------------------

    async def create(
        self,
        task: Task,
        event: StreamResponse,
        *,
        scope: Scope,
        holder: str | None = None,
        seconds: float = 0.0,
        more: Sequence[StreamResponse] = (),
    ) -> TaskRecord:
        """Store a new task (version 1) and its first event (seq 1), and its lease
        held by ``holder`` for ``seconds`` (attempt 1) unless ``holder`` is None.
        ``more``: the events after the first, at once (``task`` is the snapshot after
        them; version ``1 + len(more)``).

        Raises:
            ConflictError: a task with this id already exists, or a lease on it does.
            StoreError: the database failed.
        """
        owner = scope.owner
        if owner is None:
            raise ValueError("create needs a concrete owner (scope.owner is None)")

        def run(conn: sqlite3.Connection) -> TaskRecord:
            now = now_timestamp()
            row = (
                task.id,
                scope.tenant,
                owner,
                task.context_id,
                task.status.state.value,
            )
            rows = plan(None, task)
            version = 1 + len(more)
            head = (*row, _ts(task), version, now, now, text(rows.head))
            try:
                conn.execute(_INSERT_TASK, head)
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"task {task.id!r} already exists") from exc
            write_rows(conn, task.id, rows)
            conn.executemany(
                _INSERT_EVENT,
                [
                    (task.id, seq, text(e), now)
                    for seq, e in enumerate((event, *more), start=1)
                ],
            )
            if holder is not None and not grant(
                conn, task.id, scope.tenant, holder, seconds
            ):
                # Raised inside the operation's savepoint: the task goes too.
                raise ConflictError(f"task {task.id!r} is leased already")
            if self._audit_on:
                records = state_records(scope.tenant, owner, "", (event, *more))
                append_entries(conn, records)
            self._remember(task, version)
            return TaskRecord(
                task=task, owner=owner, tenant=scope.tenant, version=version
            )

        return await self._write(run)

    async def get(self, task_id: str, *, scope: Scope) -> TaskRecord | None:
        """Return the task if it exists within ``scope``, else None."""

        def run(conn: sqlite3.Connection) -> TaskRecord | None:
            rows = conn.execute(_SELECT_TASK, (task_id,)).fetchall()
            if not rows or not visible(scope, rows[0][0], rows[0][1]):
                return None
            return _record(conn, rows[0])

        return await self._read(run)

    async def append(
        self,
        task: Task,
        event: StreamResponse,
        *,
        expected_version: int,
        release: str | None = None,
    ) -> TaskRecord:
        """Record ``event`` (seq ``expected_version + 1``) and the snapshot ``task``;
        delete the task's lease if ``release`` holds it.

        Raises:
            ConflictError: the task is at another version, or does not exist.
            StoreError: the database failed.
        """
        seq = expected_version + 1

        def run(conn: sqlite3.Connection) -> TaskRecord:
            now = now_timestamp()
            audit = self._audit_on
            select = _SELECT_VERSION_STATE if audit else _SELECT_VERSION
            rows = conn.execute(select, (task.id,)).fetchall()
            if not rows:
                raise ConflictError(f"task {task.id!r} does not exist")
            owner, tenant, version = rows[0][:3]
            if version != expected_version:
                raise ConflictError(
                    f"task {task.id!r} is at version {version}, not {expected_version}"
                )
            known = self._written.pop(task.id, None)
            old = known[1] if known is not None and known[0] == version else None
            update = plan(old, task)
            state = task.status.state.value
            changes = (task.context_id, state, _ts(task), seq, now, text(update.head))
            conn.execute(_UPDATE_TASK, (*changes, task.id, expected_version))
            write_rows(conn, task.id, update)
            conn.execute(_INSERT_EVENT, (task.id, seq, text(event), now))
            if release is not None:
                conn.execute(RELEASE, (task.id, release))
            if audit:
                append_entries(conn, state_records(tenant, owner, rows[0][3], (event,)))
            self._remember(task, seq)
            return TaskRecord(task=task, owner=owner, tenant=tenant, version=seq)

        return await self._write(run)

    async def events(
        self, task_id: str, *, after: int, scope: Scope
    ) -> list[StoredEvent]:
        """Return the task's events with ``seq > after``, oldest first.

        Returns an empty list when the task is not visible within ``scope``.
        """

        def run(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(_SELECT_SCOPE, (task_id,)).fetchall()
            if not rows or not visible(scope, rows[0][0], rows[0][1]):
                return []
            return [
                StoredEvent(
                    task_id=task_id, seq=seq, event=decode(text, StreamResponse)
                )
                for seq, text in conn.execute(
                    _SELECT_EVENTS, (task_id, after)
                ).fetchall()
            ]

        return await self._read(run)

    async def list(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query`` (spec §3.1.4).

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
            StoreError: the database failed.
        """
        below = decode_cursor(query.cursor) if query.cursor else None
        scope = query.scope
        where, params = ["tenant = ?"], [scope.tenant]
        if scope.owner is not None:
            where.append("owner = ?")
            params.append(scope.owner)
        if query.context_id:
            where.append("context_id = ?")
            params.append(query.context_id)
        if (state := effective_state(query.state)) is not None:
            where.append("state = ?")
            params.append(state.value)
        if (after := effective_timestamp(query.status_after)) is not None:
            # Spec §3.1.4: statusTimestampAfter keeps status.timestamp >= value.
            where.append("status_ts >= ?")
            params.append(after)
        count_sql = f"SELECT count(*) FROM tasks WHERE {' AND '.join(where)}"
        page_params: list[object] = list(params)
        if below is not None:
            where.append("(status_ts, id) < (?, ?)")
            page_params.extend(below)
        size = effective_page_size(query.page_size)
        page_params.append(size + 1)  # one extra row tells whether a next page exists
        page_sql = (
            f"SELECT id, body, layout FROM tasks WHERE {' AND '.join(where)}"
            " ORDER BY status_ts DESC, id DESC LIMIT ?"
        )

        def run(conn: sqlite3.Connection) -> TaskPage:
            conn.execute("SAVEPOINT list")  # one snapshot for the count and the page
            try:
                total = conn.execute(count_sql, params).fetchall()[0][0]
                rows = conn.execute(page_sql, page_params).fetchall()
            finally:
                conn.execute("RELEASE list")
            tasks = tuple(load_task(conn, *row) for row in rows[:size])
            more = len(rows) > size
            return TaskPage(
                tasks=tasks,
                next_cursor=encode_cursor(sort_key(tasks[-1])) if more else "",
                total_size=total,
            )

        return await self._read(run)

    # ``builtins.list``: in this class body ``list`` names the method above.
    async def unfinished(self) -> builtins.list[TaskRecord]:
        """Return every task in SUBMITTED or WORKING state, oldest created first."""

        def run(conn: sqlite3.Connection) -> list[TaskRecord]:
            rows = conn.execute(_SELECT_UNFINISHED, _UNFINISHED).fetchall()
            return [_record(conn, row) for row in rows]

        return await self._read(run)

    async def purge_finished(self, *, older_than: str) -> int:
        """Delete old terminal tasks and their events; return how many were deleted.

        A task goes when its status timestamp is before ``older_than``; a task without
        a status timestamp is aged by its last write instead.
        """
        cutoff = effective_timestamp(older_than) or ""

        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(_PURGE_BY_STATUS, (*_TERMINAL, cutoff)).rowcount

        return await self._write(run)

    # --- plumbing -------------------------------------------------------------------

    def _remember(self, task: Task, version: int) -> None:
        """Note the snapshot just written (writer thread): unfinished tasks only."""
        if task.status.state in TERMINAL_STATES:
            return
        self._written[task.id] = (version, task)
        if len(self._written) > SNAPSHOT_CACHE:
            self._written.popitem(last=False)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        lane = self._reader
        if lane is None:
            raise RuntimeError("SQLiteTaskStore is not open; use 'async with store:'")
        return await lane.call(fn)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        lane = self._writer
        if lane is None:
            raise RuntimeError("SQLiteTaskStore is not open; use 'async with store:'")
        return await lane.call(fn)

    def _sweep(self, conn: sqlite3.Connection) -> None:
        """Delete terminal tasks last written more than ``retention`` seconds ago.

        Runs in the writer's thread after each write batch; acts at most once per
        :data:`RETENTION_SWEEP_INTERVAL` (or per ``retention``, if shorter).
        """
        retention = self._retention
        now = time.monotonic()
        if retention is None or now < self._next_sweep:
            return
        self._next_sweep = now + min(retention, RETENTION_SWEEP_INTERVAL)
        cutoff = format_timestamp(datetime.now(UTC) - timedelta(seconds=retention))
        try:
            conn.execute(_PURGE_BY_UPDATE, (*_TERMINAL, cutoff))
        except sqlite3.Error as exc:  # the writes succeeded; a later batch retries
            _log.warning("retention sweep of %r failed: %s", self._path, exc)


def _close(lanes: list[Lane]) -> None:
    for lane in lanes:
        lane.close()


def _record(
    conn: sqlite3.Connection, row: tuple[str, str, int, str, int, str]
) -> TaskRecord:
    owner, tenant, version, body, layout, task_id = row
    return TaskRecord(
        task=load_task(conn, task_id, body, layout),
        owner=owner,
        tenant=tenant,
        version=version,
    )


def _ts(task: Task) -> str:
    return task.status.timestamp or ""
