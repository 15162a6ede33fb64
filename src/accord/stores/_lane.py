"""A *lane*: blocking ``sqlite3`` work on one connection, batched into thread hops.

Theory of operation. ``sqlite3`` blocks, so store calls must leave the event loop
(``anyio.to_thread.run_sync``, which works on asyncio and trio alike). A hop costs
about as much as a small statement, and a connection serves one thread at a time, so
concurrent calls on one connection gain nothing from separate hops. A lane therefore
*combines* them: a call appends its operation to the lane's queue; if no hop is in
flight, the caller becomes the *drainer* and runs the whole queue in one hop; otherwise
it waits for a drainer to run it. A drainer stops once its own operation is done and
hands the lane to the oldest waiting caller, so no task keeps working for others. With
no concurrency this is exactly one hop per call; under load, one hop serves many.

On a write lane a batch is one ``BEGIN IMMEDIATE`` transaction (*group commit*: one WAL
append and one lock round for the whole batch) with a ``SAVEPOINT`` per operation, so an
operation that fails (e.g. a version conflict) is rolled back alone and the others
commit. Results are released only after ``COMMIT``; if the commit fails, every
operation of the batch fails.

Each operation runs to completion even if its caller is cancelled (the wait is
shielded), so a write is never abandoned half-way; the caller sees the cancellation at
its next checkpoint. Driver errors become :class:`~accord.errors.StoreError`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.to_thread

from accord.errors import ProtocolError, StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_BATCH", "Lane"]

T = TypeVar("T")

#: Most operations run in one hop (one transaction on a write lane). Bounds how long a
#: drainer works for others and how long one write transaction holds the lock.
MAX_BATCH = 128


class _Op(Generic[T]):
    __slots__ = ("error", "finished", "fn", "value", "wake")

    def __init__(self, fn: Callable[[sqlite3.Connection], T]) -> None:
        self.fn = fn
        self.value: T | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.wake = anyio.Event()

    def run(self, conn: sqlite3.Connection) -> None:
        try:
            self.value = self.fn(conn)
        except sqlite3.Error as exc:
            self.error = StoreError(f"SQLite task store failed: {exc}")
            self.error.__cause__ = exc
        except ProtocolError as exc:  # a stored body that no longer decodes
            self.error = StoreError(f"SQLite task store holds a corrupt row: {exc}")
            self.error.__cause__ = exc
        except Exception as exc:  # handed to the caller, raised there
            self.error = exc

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class Lane:
    """Serialise and batch blocking calls on ``conn`` (see the module docstring).

    Args:
        conn: the connection; the lane owns it from now on.
        write: run each batch as one transaction with a savepoint per operation.
        after_batch: called in the worker thread after each batch (e.g. retention).
        on_rollback: called in the worker thread when a write batch is rolled back
            whole (e.g. to forget what the batch's operations believed they wrote).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        write: bool,
        after_batch: Callable[[sqlite3.Connection], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._write = write
        self._after_batch = after_batch
        self._on_rollback = on_rollback
        self._lock = threading.Lock()
        self._queue: deque[_Op[Any]] = deque()
        self._busy = False

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a worker thread, batched with concurrent calls."""
        op = _Op(fn)
        self._queue.append(op)
        with anyio.CancelScope(shield=True):
            if self._busy:
                await op.wake.wait()
                if op.finished:
                    return op.outcome()
                # Handed over: the previous drainer left and we drain now.
            self._busy = True
            try:
                # Our operation is at the head of the queue (we only drain when the
                # lane was idle or handed over to us), so this batch includes it.
                queue = self._queue
                batch = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
                try:
                    await anyio.to_thread.run_sync(self._run_batch, batch)
                finally:
                    for other in batch:
                        if not other.finished:  # the hop itself failed
                            other.error = StoreError("SQLite task store call failed")
                            other.finished = True
                        if other is not op:
                            other.wake.set()
            finally:
                if self._queue:
                    self._queue[0].wake.set()  # hand over; the lane stays busy
                else:
                    self._busy = False
        return op.outcome()

    def close(self) -> None:
        """Close the connection (blocking) once the running batch, if any, is done."""
        with self._lock:
            self._conn.close()

    def _run_batch(self, batch: list[_Op[Any]]) -> None:
        with self._lock:
            if self._write:
                with suppress(sqlite3.Error):  # already handed to every operation
                    self._run_transaction(batch)
            else:
                for op in batch:
                    op.run(self._conn)
                    op.finished = True
            if self._after_batch is not None:
                self._after_batch(self._conn)

    def _run_transaction(self, batch: list[_Op[Any]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                conn.execute("SAVEPOINT op")
                op.run(conn)
                if op.error is not None:
                    conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except BaseException as exc:
            # Nothing of the batch is committed: every operation fails.
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if self._on_rollback is not None:
                self._on_rollback()
            for op in batch:
                op.value = None
                op.error = StoreError(f"SQLite task store failed: {exc}")
                op.error.__cause__ = exc
                op.finished = True
            raise
        for op in batch:
            op.finished = True
