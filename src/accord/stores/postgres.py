"""A :class:`~accord.stores.base.TaskStore` on PostgreSQL, shared by many instances.

Theory of operation. The store holds a bounded pool of psycopg 3 connections
(:mod:`accord.stores.postgres_db`). Each call takes one connection, runs one
transaction on it in a worker thread and gives it back. Any number of stores, in any
number of processes, may share one database: every guarantee below is PostgreSQL's,
not the process's.

* **Layout.** A task is split into rows as in the SQLite store
  (:mod:`accord.stores._sqlite_layout`, :mod:`accord.stores._postgres_rows`): an
  append writes what changed (one part row for an artifact chunk), not the task.
  The store remembers the snapshot it last wrote for the most recently written
  unfinished tasks (:data:`SNAPSHOT_CACHE`) and uses it only for an append at that
  version, which succeeds only if the row is still there, so another instance's
  writes are noticed.
* **Optimistic concurrency.** ``append`` updates the task row only if its version is
  ``expected_version`` (the ``UPDATE``'s ``WHERE``, in the statement that also inserts
  the event) and writes the rest only then; a racing append, from this or another
  instance, waits for the row lock, then finds the new version, updates nothing and
  raises :class:`~accord.errors.ConflictError`.
* **Scope.** Owner and tenant are on the task row (tenant on every row); every read
  filters on them, and a task outside the scope looks missing (spec §13.1).
* **Row-level security** (``row_level_security=True``): each transaction sets
  ``accord.tenant`` (``SET LOCAL``) to the caller's tenant, and the policies of the
  migration let a role that does not own the tables see only that tenant's rows, so a
  query that forgets its tenant filter sees nothing. Calls without a tenant (append,
  which the contract keys by task id alone; recovery; retention) set
  ``accord.all_tenants`` instead.
* **ListTasks** (:mod:`accord.stores._postgres_list`) uses the ordering and cursor of
  :mod:`accord.stores._common`; the filters and the keyset condition walk the indexes
  of the migration; the total is counted in the same statement (one snapshot).
* **Retention.** ``purge_finished`` and the ``retention`` sweep delete in batches of
  :data:`PURGE_BATCH` tasks, one short transaction each (``FOR UPDATE SKIP LOCKED``),
  so a large purge never holds locks for long nor blocks another instance's sweep. The
  sweep runs after a write, at most once per :data:`RETENTION_SWEEP_INTERVAL`; there is
  no background task. A task's events, rows and push configs go with it (foreign keys
  ``ON DELETE CASCADE``).
* **Push-notification configs** and their delivery outbox:
  :mod:`accord.stores._postgres_push`.

* **Lost connections** (a PostgreSQL restart, a killed backend): the call runs again
  on a new connection when that is safe, and a write whose COMMIT answer was lost is
  verified, never applied twice; a database that stays down fails calls fast with
  :class:`~accord.errors.StoreUnavailableError` (503 at the API). The rules, per
  operation, are the table of :mod:`accord.stores._postgres_retry`.

Every psycopg exception is re-raised as :class:`~accord.errors.StoreError`.

**Driver choice, measured.** Accord runs on anyio and its tests run on asyncio and trio;
asyncpg and psycopg's ``AsyncConnection`` run on asyncio only. Measured on the local
PostgreSQL 15 (2 shared cores, 200 iterations of create + 10 appends + get, each write
its own transaction, p50 per iteration, two runs): asyncpg 11.2 / 12.5 ms, psycopg
async 10.9 / 9.2 ms, synchronous psycopg through ``anyio.to_thread`` 8.4 / 9.7 ms on
asyncio and 10.0 / 25 ms on trio (the trio thread hop is slower on a busy machine).
Commit latency dominates; the thread hop is lost in it. So the store uses synchronous
psycopg 3 through worker threads: one code path on both back ends, no asyncio-only
failure mode, at no measurable cost on asyncio.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Self, TypeVar

import anyio
import anyio.to_thread

from accord.errors import ConflictError, StoreError
from accord.stores._audit import state_records
from accord.stores._common import (
    TERMINAL_STATES,
    UNFINISHED_STATES,
    encode_cursor,
    sort_key,
)
from accord.stores._postgres_audit import PostgresAudit, append_entries
from accord.stores._postgres_held import PostgresHeld
from accord.stores._postgres_leases import GRANT_LEASE, RELEASE_LEASE, PostgresLeases
from accord.stores._postgres_list import list_statements
from accord.stores._postgres_push import PostgresPush
from accord.stores._postgres_retention import (
    PURGE_BATCH,
    RETENTION_SWEEP_INTERVAL,
    PostgresRetention,
)
from accord.stores._postgres_retry import RECONNECT_WINDOW, Calls
from accord.stores._postgres_rows import load_tasks, text, write_rows
from accord.stores._sqlite_layout import plan
from accord.stores.base import StoredEvent, TaskPage, TaskQuery, TaskRecord
from accord.stores.postgres_db import (
    CONNECT_TIMEOUT,
    STATEMENT_TIMEOUT,
    ConnectionPool,
    UniqueViolation,
    apply_migrations,
    begin,
    check_schema,
    connect_kwargs,
    store_errors,
)
from accord.types import StreamResponse, Task, decode

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager

    import psycopg
    from psycopg.rows import TupleRow

    from accord.stores.base import Scope

    Cursor = psycopg.Cursor[TupleRow]

__all__ = [
    "PURGE_BATCH",
    "RETENTION_SWEEP_INTERVAL",
    "SNAPSHOT_CACHE",
    "PostgresTaskStore",
]

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: Unfinished tasks whose last written snapshot the store remembers (see the module
#: docstring); a task that fell out is rewritten whole once.
SNAPSHOT_CACHE = 512

#: Default connections per store: PostgreSQL serves each on its own backend process,
#: so a handful per instance is plenty; calls beyond it wait for a free one.
POOL_SIZE = 10

_TERMINAL = sorted(s.value for s in TERMINAL_STATES)
_UNFINISHED = [s.value for s in UNFINISHED_STATES]

_INSERT_TASK = (
    "INSERT INTO tasks (id, tenant, owner, context_id, state, status_ts, version,"
    " body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_SELECT_TASK = (
    "SELECT id, body, owner, tenant, version FROM tasks"
    " WHERE id = %s AND tenant = %s AND (%s::text IS NULL OR owner = %s)"
)
# One statement: the version check (the UPDATE's WHERE, under the row lock it takes),
# the new snapshot and the event; no row when the task is not at the expected version.
_APPEND = (
    "WITH t AS (UPDATE tasks SET context_id = %s, state = %s, status_ts = %s,"
    " version = %s, updated_at = now(), body = %s WHERE id = %s AND version = %s"
    " RETURNING owner, tenant),"
    " e AS (INSERT INTO task_events (task_id, tenant, seq, event)"
    " SELECT %s, tenant, %s, %s FROM t)"
    " SELECT owner, tenant FROM t"
)
_VERSION = "SELECT version FROM tasks WHERE id = %s"
# With audit: the state before an append, the row locked first (before the chain).
_STATE = "SELECT state FROM tasks WHERE id = %s FOR UPDATE"
_INSERT_EVENT = (
    "INSERT INTO task_events (task_id, tenant, seq, event) VALUES (%s, %s, %s, %s)"
)
# The first events of a task written at once (create with ``more``): one statement.
_INSERT_EVENTS = (
    "INSERT INTO task_events (task_id, tenant, seq, event)"
    " SELECT %s, %s, s, e FROM unnest(%s::int[], %s::text[]) AS u(s, e)"
)
# What a write whose COMMIT outcome is unknown left: the event at a seq, and the version.
_SELECT_WRITTEN = (
    "SELECT t.owner, t.tenant, t.version, e.event FROM tasks t"
    " LEFT JOIN task_events e ON e.task_id = t.id AND e.seq = %s WHERE t.id = %s"
)
_SELECT_EVENTS = (
    "SELECT e.seq, e.event FROM task_events e JOIN tasks t ON t.id = e.task_id"
    " WHERE e.task_id = %s AND e.seq > %s AND t.tenant = %s"
    " AND (%s::text IS NULL OR t.owner = %s) ORDER BY e.seq"
)
_SELECT_UNFINISHED = (
    "SELECT id, body, owner, tenant, version FROM tasks"
    " WHERE state = ANY(%s) ORDER BY created_at, id"
)


class PostgresTaskStore(
    PostgresRetention, PostgresLeases, PostgresPush, PostgresAudit, PostgresHeld
):
    """Store tasks, their event logs and push configs in PostgreSQL, shareable by many
    instances.

    Args:
        url: ``postgresql://user[:password]@host[:port]/database`` (libpq URI; a
            ``?options=-csearch_path%3Dmyschema`` query selects a schema).
        retention: seconds a terminal task is kept after its last write; None keeps it
            until :meth:`purge_finished` deletes it.
        row_level_security: set the caller's tenant on every transaction, for the
            row-level security policies (serve as a role that does not own the
            tables; docs/postgres.md).
        pool_size: most connections open at once; calls beyond wait for one (at most
            ``connect_timeout``, then StoreError).
        migrate: apply pending migrations on open (needs DDL rights). With False the
            store only checks that the schema is the one it knows.
        connect_timeout: seconds to wait for a connection (to the server, or a free
            one from the pool) before StoreUnavailableError; once the database is
            known unreachable, calls wait at most 1 s until it is back.
        statement_timeout: seconds any one statement may run (including waiting for a
            task's row lock) before PostgreSQL cancels it and the call raises
            StoreError.
        audit: record each task state change in the audit trail
            (:mod:`accord.stores.audit`), in the transaction that writes the task,
            and let an engine record its operations there.

    Use as ``async with PostgresTaskStore(url) as store: ...``.
    """

    def __init__(
        self,
        url: str,
        *,
        retention: float | None = None,
        row_level_security: bool = False,
        pool_size: int = POOL_SIZE,
        migrate: bool = True,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float = STATEMENT_TIMEOUT,
        audit: bool = False,
    ) -> None:
        if retention is not None and retention < 0:
            raise ValueError("retention must be >= 0 seconds or None")
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if connect_timeout <= 0 or statement_timeout <= 0:
            raise ValueError("connect_timeout and statement_timeout must be > 0")
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._url = url
        self._retention = retention
        self._rls = row_level_security
        self._audit_on = audit
        self._pool_size = pool_size
        self._migrate = migrate
        self._pool: ConnectionPool | None = None
        self._calls: Calls | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._threads: anyio.CapacityLimiter | None = None  # worker threads
        self._next_sweep = 0.0  # time.monotonic() of the next retention sweep
        self._lock = threading.Lock()  # guards _written (worker threads)
        self._written: OrderedDict[str, tuple[int, Task]] = OrderedDict()

    @property
    def url(self) -> str:
        """The database URL the store was given (task events connect to it too)."""
        return self._url

    async def __aenter__(self) -> Self:
        """Open the pool (waiting for a first connection) and migrate or check."""
        if self._pool is not None:
            raise RuntimeError("PostgresTaskStore is already open")
        self._pool = await anyio.to_thread.run_sync(self._open)
        self._calls = Calls(self._pool, self._url, self._connect_timeout)
        self._limiter = anyio.CapacityLimiter(self._pool_size)
        self._threads = anyio.CapacityLimiter(self._pool_size)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the pool (waits for the calls in progress)."""
        pool, self._pool, self._calls = self._pool, None, None
        if pool is None:
            return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(pool.close)

    def _open(self) -> ConnectionPool:
        pool = ConnectionPool(
            self._url,
            min_size=1,
            max_size=self._pool_size,
            kwargs=connect_kwargs(
                self._url,
                connect_timeout=self._connect_timeout,
                statement_timeout=self._statement_timeout,
            ),
            timeout=self._connect_timeout,
            reconnect_timeout=RECONNECT_WINDOW,
            open=False,
            name="accord-tasks",
        )
        try:
            with self._errors("opening the task store"):
                pool.open(wait=True, timeout=self._connect_timeout)
                with pool.connection() as conn:
                    if self._migrate:
                        apply_migrations(conn)
                    else:
                        check_schema(conn, self._url)
        except BaseException:
            pool.close()
            raise
        return pool

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
            ConflictError: a task with this id already exists (in any scope), or a
                lease on it does.
            StoreError: the database failed.
        """
        owner = scope.owner
        if owner is None:
            raise ValueError("create needs a concrete owner (scope.owner is None)")
        tenant = scope.tenant
        rows = plan(None, task)
        head = (task.id, tenant, owner, task.context_id, task.status.state.value)
        first = text(event)
        version = 1 + len(more)
        record = TaskRecord(task=task, owner=owner, tenant=tenant, version=version)
        audit = self._audit_on

        def run(cur: Cursor) -> TaskRecord:
            # Pipelined with BEGIN and COMMIT: one round trip. A task or lease that
            # exists fails its INSERT, and the pipeline with it (nothing committed).
            cur.execute(_INSERT_TASK, (*head, _ts(task), version, text(rows.head)))
            write_rows(cur, task.id, tenant, rows)
            if more:
                bodies = [first, *(text(e) for e in more)]
                seqs = list(range(1, version + 1))
                cur.execute(_INSERT_EVENTS, (task.id, tenant, seqs, bodies))
            else:
                cur.execute(_INSERT_EVENT, (task.id, tenant, 1, first))
            if holder is not None:
                cur.execute(GRANT_LEASE, (task.id, tenant, holder, seconds))
            if audit:
                append_entries(cur, state_records(tenant, owner, "", (event, *more)))
            return record

        def applied(cur: Cursor) -> TaskRecord | None:
            # COMMIT outcome unknown: our row and first event mean it committed (with
            # the rest and the lease, written by the same transaction).
            found = cur.execute(_SELECT_WRITTEN, (1, task.id)).fetchone()
            return record if found == (owner, tenant, version, first) else None

        try:
            record = await self._run(
                run, tenant=tenant, write=True, verify=applied, pipeline=True
            )
        except StoreError as exc:
            if not isinstance(exc.__cause__, UniqueViolation):
                raise
            raise ConflictError(
                f"task {task.id!r} already exists"
                + ("" if holder is None else " or is leased already")
            ) from exc
        self._remember(task, version)
        return record

    async def get(self, task_id: str, *, scope: Scope) -> TaskRecord | None:
        """Return the task if it exists within ``scope``, else None."""
        owner = scope.owner

        def run(cur: Cursor) -> TaskRecord | None:
            row = cur.execute(
                _SELECT_TASK, (task_id, scope.tenant, owner, owner)
            ).fetchone()
            if row is None:
                return None
            return _records(cur, [row])[0]

        return await self._run(run, tenant=scope.tenant)

    async def append(
        self,
        task: Task,
        event: StreamResponse,
        *,
        expected_version: int,
        release: str | None = None,
    ) -> TaskRecord:
        """Record ``event`` (seq ``expected_version + 1``) and the snapshot ``task``;
        delete the task's lease if ``release`` holds it (same transaction).

        Raises:
            ConflictError: the task is at another version, or does not exist.
            StoreError: the database failed.
        """
        seq = expected_version + 1
        body = text(event)
        with self._lock:
            known = self._written.pop(task.id, None)

        old = known[1] if known is not None and known[0] == expected_version else None
        head = (task.context_id, task.status.state.value, _ts(task), seq)
        audit = self._audit_on

        def run(cur: Cursor) -> TaskRecord:
            # Pipelined: BEGIN and the statement that checks the version, updates the
            # row and inserts the event are one round trip; the rows and COMMIT another.
            update = plan(old, task)
            before = cur.execute(_STATE, (task.id,)).fetchone() if audit else None
            params = (*head, text(update.head), task.id, expected_version)
            row = cur.execute(_APPEND, (*params, task.id, seq, body)).fetchone()
            if row is None:
                found = cur.execute(_VERSION, (task.id,)).fetchone()
                if found is None:
                    raise ConflictError(f"task {task.id!r} does not exist")
                raise ConflictError(
                    f"task {task.id!r} is at version {found[0]}, not {expected_version}"
                )
            owner, tenant = row
            write_rows(cur, task.id, tenant, update)
            if release is not None:
                cur.execute(RELEASE_LEASE, (task.id, release))
            if before is not None:
                append_entries(cur, state_records(tenant, owner, before[0], (event,)))
            return TaskRecord(task=task, owner=owner, tenant=tenant, version=seq)

        def applied(cur: Cursor) -> TaskRecord | None:
            # COMMIT outcome unknown: our event at ``seq`` means it committed; the
            # version still at ``expected_version`` means it did not (run again).
            found = cur.execute(_SELECT_WRITTEN, (seq, task.id)).fetchone()
            if found is None or found[3] != body or found[2] < seq:
                return None
            return TaskRecord(task=task, owner=found[0], tenant=found[1], version=seq)

        record = await self._run(
            run, tenant=None, write=True, verify=applied, pipeline=True
        )
        self._remember(task, seq)
        return record

    async def events(
        self, task_id: str, *, after: int, scope: Scope
    ) -> list[StoredEvent]:
        """Return the task's events with ``seq > after``, oldest first.

        Returns an empty list when the task is not visible within ``scope``.
        """
        owner = scope.owner
        params = (task_id, after, scope.tenant, owner, owner)

        def run(cur: Cursor) -> list[StoredEvent]:
            return [
                StoredEvent(
                    task_id=task_id,
                    seq=seq,
                    event=decode(body, StreamResponse),
                )
                for seq, body in cur.execute(_SELECT_EVENTS, params)
            ]

        return await self._run(run, tenant=scope.tenant)

    async def list(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query`` (spec §3.1.4).

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
            StoreError: the database failed.
        """
        statements = list_statements(query)
        size = statements.size

        def run(cur: Cursor) -> TaskPage:
            rows = cur.execute(statements.page_sql, statements.page_params).fetchall()
            if rows:
                total = rows[0][2]
            else:
                count = cur.execute(statements.count_sql, statements.count_params)
                total = count.fetchall()[0][0]
            heads = [(r[0], r[1]) for r in rows[:size]]
            tasks = tuple(load_tasks(cur, heads))
            more = len(rows) > size
            return TaskPage(
                tasks=tasks,
                next_cursor=encode_cursor(sort_key(tasks[-1])) if more else "",
                total_size=total,
            )

        return await self._run(run, tenant=query.scope.tenant)

    # ``builtins.list``: in this class body ``list`` names the method above.
    async def unfinished(self) -> builtins.list[TaskRecord]:
        """Return every task in SUBMITTED or WORKING state, oldest created first."""

        def run(cur: Cursor) -> list[TaskRecord]:
            rows = cur.execute(_SELECT_UNFINISHED, (_UNFINISHED,)).fetchall()
            return _records(cur, rows)

        return await self._run(run, tenant=None)

    # --- plumbing -------------------------------------------------------------------

    def _remember(self, task: Task, version: int) -> None:
        """Note the snapshot just committed: unfinished tasks only."""
        if task.status.state in TERMINAL_STATES:
            return
        with self._lock:
            self._written[task.id] = (version, task)
            if len(self._written) > SNAPSHOT_CACHE:
                self._written.popitem(last=False)

    async def _run(
        self,
        fn: Callable[[Cursor], T],
        *,
        tenant: str | None,
        write: bool = False,
        verify: Callable[[Cursor], T | None] | None = None,
        rerun_unknown: bool = True,
        pipeline: bool = False,
    ) -> T:
        """Run ``fn`` in one transaction on a pooled connection, in a worker thread.

        ``pipeline``: see :meth:`~accord.stores._postgres_retry.Calls.run`.

        ``tenant`` None marks a call that spans tenants (maintenance). A lost
        connection is handled by the rules of :mod:`accord.stores._postgres_retry`:
        ``verify`` settles a write whose COMMIT outcome is unknown (its result when
        applied, None when not: then ``fn`` runs again); without it such a call runs
        again, or fails if not ``rerun_unknown``. After a ``write``, the retention
        sweep runs when due. Snapshots are remembered only after their transaction
        committed, so a failed call leaves nothing to forget.
        """
        calls, limiter = self._calls, self._limiter
        if calls is None or limiter is None:
            raise RuntimeError("PostgresTaskStore is not open; use 'async with store:'")
        rls = self._rls

        def start(cur: Cursor) -> None:
            begin(
                cur, tenant=tenant if rls else None, all_tenants=rls and tenant is None
            )

        def call() -> T:
            return calls.run(
                fn,
                begin=start,
                doing="a task store call",
                verify=verify,
                rerun_unknown=rerun_unknown,
                pipeline=pipeline,
            )

        # The wait for a free connection is bounded here too: calls beyond pool_size
        # queue on the limiter, before the pool's own timeout can apply.
        acquired = False
        with anyio.move_on_after(calls.wait()):
            await limiter.acquire()
            acquired = True
        if not acquired:
            raise calls.no_slot("a task store call")
        try:
            result = await anyio.to_thread.run_sync(call, limiter=self._threads)
        finally:
            limiter.release()
        if write and self._retention is not None:
            await self._sweep()
        return result

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return store_errors(self._url, doing, connect_timeout=self._connect_timeout)


def _records(cur: Cursor, rows: builtins.list[TupleRow]) -> list[TaskRecord]:
    tasks = load_tasks(cur, [(r[0], r[1]) for r in rows])
    return [
        TaskRecord(task=task, owner=r[2], tenant=r[3], version=r[4])
        for task, r in zip(tasks, rows, strict=True)
    ]


def _ts(task: Task) -> str:
    return task.status.timestamp or ""
