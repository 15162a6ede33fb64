"""Execution leases of the PostgreSQL store (the contract: :mod:`accord.stores.base`).

Expiry is on the database's clock (``now()``), so instances whose clocks disagree still
agree on which leases expired. :meth:`PostgresLeases.claim_expired` locks the expired
rows it takes with ``FOR UPDATE SKIP LOCKED``: instances sweeping at once each get
different leases and never wait for each other. Lease-less orphans are claimed by an
``INSERT ... ON CONFLICT DO NOTHING``: of two instances inserting the same lease, one
wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from accord.stores._common import UNFINISHED_STATES
from accord.stores._postgres_part import PostgresPart
from accord.stores.base import Lease

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["GRANT_LEASE", "RELEASE_LEASE", "PostgresLeases"]

T = TypeVar("T")

_UNFINISHED = [s.value for s in UNFINISHED_STATES]
_COLUMNS = (
    "task_id, tenant, holder, attempt, extract(epoch FROM expires_at)::float8,"
    " cancel_requested, request"
)
_UNTIL = "now() + make_interval(secs => %s)"
_INSERT = (
    "INSERT INTO task_leases (task_id, tenant, holder, attempt, expires_at)"
    f" VALUES (%s, %s, %s, %s, {_UNTIL}) ON CONFLICT (task_id) DO NOTHING"
    f" RETURNING {_COLUMNS}"
)
# A new task's lease, written with the task (fails on an existing lease).
GRANT_LEASE = (
    "INSERT INTO task_leases (task_id, tenant, holder, attempt, expires_at)"
    f" VALUES (%s, %s, %s, 1, {_UNTIL})"
)
_RENEW = (
    f"UPDATE task_leases SET expires_at = {_UNTIL} WHERE holder = %s"
    f" RETURNING {_COLUMNS}"
)
_HELD = f"SELECT {_COLUMNS} FROM task_leases WHERE task_id = %s AND holder = %s"
RELEASE_LEASE = "DELETE FROM task_leases WHERE task_id = %s AND holder = %s"
_CANCEL = "UPDATE task_leases SET cancel_requested = true WHERE task_id = %s"
_EXPIRED = (
    f"SELECT {_COLUMNS} FROM task_leases WHERE expires_at <= now() AND holder <> ''"
)
_CLAIM = (
    f"UPDATE task_leases SET holder = %s, attempt = attempt + 1, expires_at = {_UNTIL}"
    " WHERE task_id = ANY(ARRAY(SELECT task_id FROM task_leases WHERE expires_at <= now()"
    " AND holder <> '' ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED))"
    f" RETURNING {_COLUMNS}"
)
# Queued rows (holder ''): expires_at is when they were queued, the queue's order.
# FOR UPDATE re-checks ``holder = ''`` on the latest row version, so a row withdrawn
# or claimed meanwhile is skipped; a withdraw (DELETE) waits for a claim in flight and
# then finds the row held: of a claim and a withdraw of one row, one wins.
_QUEUE = (
    "UPDATE task_leases SET holder = '', attempt = attempt - 1,"
    " expires_at = clock_timestamp(), request = %s WHERE task_id = %s"
    " AND holder = %s AND holder <> ''"
)
_QUEUED_COUNT = "SELECT count(*) FROM task_leases WHERE holder = ''"
_CLAIM_QUEUED = (
    "WITH picked AS (SELECT task_id, expires_at AS queued_at, request"
    " FROM task_leases WHERE holder = '' ORDER BY expires_at, task_id LIMIT %s"
    " FOR UPDATE SKIP LOCKED),"
    # The request goes to the claimer only: the heartbeat does not carry it around.
    " taken AS (UPDATE task_leases l SET holder = %s, attempt = attempt + 1,"
    f" expires_at = {_UNTIL}, request = '' FROM picked"
    " WHERE l.task_id = picked.task_id"
    " RETURNING l.task_id, l.tenant, l.holder, l.attempt,"
    " extract(epoch FROM l.expires_at)::float8, l.cancel_requested, picked.request,"
    " picked.queued_at)"
    " SELECT * FROM taken ORDER BY queued_at, task_id"
)
_HOLDER = "SELECT holder FROM task_leases WHERE task_id = %s"
_WITHDRAW = "DELETE FROM task_leases WHERE task_id = %s AND holder = ''"
_ORPHANS = (
    "SELECT id, tenant FROM tasks t WHERE state = ANY(%s)"
    " AND updated_at < now() - make_interval(secs => %s)"
    " AND NOT EXISTS (SELECT 1 FROM task_leases l WHERE l.task_id = t.id)"
    " LIMIT %s FOR UPDATE SKIP LOCKED"
)


def _leases(rows: list[TupleRow]) -> list[Lease]:
    return [Lease(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


class PostgresLeases(PostgresPart):
    """The lease methods of :class:`~accord.stores.postgres.PostgresTaskStore`."""

    async def acquire_lease(
        self, task_id: str, *, tenant: str, holder: str, seconds: float
    ) -> Lease | None:
        """Take the lease on ``task_id`` (attempt 1) unless one exists."""

        def run(cur: Cursor) -> Lease | None:
            cur.execute(_INSERT, (task_id, tenant, holder, 1, seconds))
            rows = _leases(cur.fetchall())
            return rows[0] if rows else None

        def mine(cur: Cursor) -> Lease | None:  # COMMIT outcome unknown
            cur.execute(_HELD, (task_id, holder))
            rows = _leases(cur.fetchall())
            return rows[0] if rows else None

        return await self._run(run, tenant=None, verify=mine)

    async def renew_leases(self, *, holder: str, seconds: float) -> list[Lease]:
        """Extend every lease ``holder`` holds; return them."""

        def run(cur: Cursor) -> list[Lease]:
            cur.execute(_RENEW, (seconds, holder))
            return _leases(cur.fetchall())

        return await self._run(run, tenant=None)

    async def release_lease(self, task_id: str, *, holder: str) -> None:
        """Delete the lease on ``task_id`` if ``holder`` holds it."""

        def run(cur: Cursor) -> None:
            cur.execute(RELEASE_LEASE, (task_id, holder))

        await self._run(run, tenant=None)

    async def request_cancel(self, task_id: str) -> bool:
        """Mark the lease on ``task_id`` cancel-requested; False if there is none."""

        def run(cur: Cursor) -> bool:
            cur.execute(_CANCEL, (task_id,))
            return cur.rowcount == 1

        return await self._run(run, tenant=None)

    async def expired_leases(self) -> list[Lease]:
        """Return the leases past their expiry."""

        def run(cur: Cursor) -> list[Lease]:
            cur.execute(_EXPIRED)
            return _leases(cur.fetchall())

        return await self._run(run, tenant=None)

    async def claim_expired(
        self, *, holder: str, seconds: float, limit: int = 100
    ) -> list[Lease]:
        """Take over up to ``limit`` expired leases and lease-less unfinished tasks."""

        def run(cur: Cursor) -> list[Lease]:
            cur.execute(_CLAIM, (holder, seconds, limit))
            claimed = _leases(cur.fetchall())
            left = limit - len(claimed)
            if left > 0:
                cur.execute(_ORPHANS, (_UNFINISHED, seconds, left))
                for task_id, tenant in cur.fetchall():
                    cur.execute(_INSERT, (task_id, tenant, holder, 2, seconds))
                    claimed.extend(_leases(cur.fetchall()))
            return claimed

        # COMMIT outcome unknown: fail; what it claimed expires and is claimed again.
        return await self._run(run, tenant=None, rerun_unknown=False)

    # --- queued work -------------------------------------------------------------------

    async def queue_lease(
        self, task_id: str, *, holder: str, request: str = ""
    ) -> bool:
        """Hand ``holder``'s lease on ``task_id`` to the queue (attempt one lower)."""

        def run(cur: Cursor) -> bool:
            cur.execute(_QUEUE, (request, task_id, holder))
            return cur.rowcount == 1

        def handed(cur: Cursor) -> bool | None:  # COMMIT outcome unknown
            cur.execute(_HOLDER, (task_id,))
            row = cur.fetchone()
            # Still ours: it did not commit (run it again). Queued, claimed since, or
            # already run and released: it did.
            return None if row is not None and row[0] == holder else True

        return await self._run(run, tenant=None, verify=handed)

    async def queued_count(self) -> int:
        """How many queued rows there are."""

        def run(cur: Cursor) -> int:
            cur.execute(_QUEUED_COUNT)
            row = cur.fetchone()
            return int(row[0]) if row else 0

        return await self._run(run, tenant=None)

    async def claim_queued(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[Lease]:
        """Take up to ``limit`` queued rows, oldest first (attempt one higher)."""

        def run(cur: Cursor) -> list[Lease]:
            cur.execute(_CLAIM_QUEUED, (limit, holder, seconds))
            return _leases(cur.fetchall())

        # COMMIT outcome unknown: fail; what it claimed is released by the heartbeat
        # (nothing runs it here) and ended or re-run by a sweep a lease later.
        return await self._run(run, tenant=None, rerun_unknown=False)

    async def withdraw(self, task_id: str) -> bool:
        """Delete ``task_id``'s queued row; False when it is not queued."""

        def run(cur: Cursor) -> bool:
            cur.execute(_WITHDRAW, (task_id,))
            return cur.rowcount == 1

        return await self._run(run, tenant=None)
