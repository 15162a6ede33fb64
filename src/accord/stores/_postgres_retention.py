"""Retention of the PostgreSQL task store: finished tasks deleted in bounded batches.

A mixin of :class:`~accord.stores.postgres.PostgresTaskStore` (as the lease methods
are): :meth:`purge_finished` when called, and, when the store has a
``retention``, a sweep after writes at most every :data:`RETENTION_SWEEP_INTERVAL`
seconds. Every batch is its own short transaction that skips rows other instances
have locked, so purging never stalls the instances serving the same database.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from accord.errors import StoreError
from accord.stores._common import TERMINAL_STATES, effective_timestamp
from accord.stores._postgres_part import PostgresPart
from accord.types import format_timestamp

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    Cursor = psycopg.Cursor[TupleRow]

__all__ = [
    "PURGE_BATCH",
    "RETENTION_SWEEP_INTERVAL",
    "SWEEP_BATCHES",
    "PostgresRetention",
]

T = TypeVar("T")

_log = logging.getLogger("accord.stores.postgres")

#: Tasks deleted per purge statement. Each batch is its own short transaction: a purge
#: of a million tasks never holds a lock for more than one batch's delete (events,
#: messages, artifacts and parts cascade with their task).
PURGE_BATCH = 1000

#: Batches one retention sweep deletes before handing the connection back; a backlog
#: beyond it is taken up by the next write's sweep, right away.
SWEEP_BATCHES = 10

#: Longest gap (seconds) between two retention sweeps of one store.
RETENTION_SWEEP_INTERVAL = 60.0

_TERMINAL = sorted(s.value for s in TERMINAL_STATES)
_PURGE_BY_STATUS = (
    "DELETE FROM tasks WHERE id = ANY(ARRAY(SELECT id FROM tasks WHERE state = ANY(%s)"
    " AND ((status_ts <> '' AND status_ts < %s)"
    " OR (status_ts = '' AND updated_at < %s::timestamptz))"
    " LIMIT %s FOR UPDATE SKIP LOCKED))"
)
_PURGE_BY_UPDATE = (
    "DELETE FROM tasks WHERE id = ANY(ARRAY(SELECT id FROM tasks WHERE state = ANY(%s)"
    " AND updated_at < %s::timestamptz LIMIT %s FOR UPDATE SKIP LOCKED))"
)


class PostgresRetention(PostgresPart):
    """The retention methods of :class:`~accord.stores.postgres.PostgresTaskStore`."""

    if TYPE_CHECKING:  # provided by the store this class is mixed into
        _retention: float | None
        _next_sweep: float

    async def purge_finished(self, *, older_than: str) -> int:
        """Delete old terminal tasks and their events; return how many were deleted.

        A task goes when its status timestamp is before ``older_than``; a task without
        a status timestamp is aged by its last write instead. Deletes in batches of
        :data:`PURGE_BATCH`, one transaction each.
        """
        cutoff = effective_timestamp(older_than) or ""
        params = (_TERMINAL, cutoff, cutoff or "-infinity")
        return await self._purge(_PURGE_BY_STATUS, params, batches=None)

    async def _purge(self, sql: str, params: TupleRow, *, batches: int | None) -> int:
        """Run the batched DELETE ``sql`` until it deletes less than a batch."""
        deleted, done = 0, 0
        while batches is None or done < batches:
            count = await self._run(
                lambda cur: cur.execute(sql, (*params, PURGE_BATCH)).rowcount,
                tenant=None,
            )
            deleted += count
            done += 1
            if count < PURGE_BATCH:
                return deleted
        self._next_sweep = 0.0  # a backlog: the next write sweeps again
        return deleted

    async def _sweep(self) -> None:
        """Delete terminal tasks last written more than ``retention`` seconds ago."""
        retention = self._retention
        now = time.monotonic()
        if retention is None or now < self._next_sweep:
            return
        self._next_sweep = now + min(retention, RETENTION_SWEEP_INTERVAL)
        cutoff = format_timestamp(datetime.now(UTC) - timedelta(seconds=retention))
        try:
            await self._purge(
                _PURGE_BY_UPDATE, (_TERMINAL, cutoff), batches=SWEEP_BATCHES
            )
        except StoreError as exc:  # the write succeeded; a later sweep retries
            _log.warning("retention sweep failed: %s", exc)
