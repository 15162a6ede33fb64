"""Execution leases of the SQLite store (the contract: :mod:`accord.stores.base`).

Every lease write runs on the store's writer, inside its ``BEGIN IMMEDIATE``
transaction: SQLite's write lock makes :meth:`claim_expired` hand each expired lease to
one caller, even when several processes share the file. Expiry is epoch seconds on the
host's clock, which every process on one file shares.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from accord.stores._common import UNFINISHED_STATES
from accord.stores.base import Lease
from accord.types import format_timestamp

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

__all__ = ["RELEASE", "SQLiteLeases", "grant"]

T = TypeVar("T")

_UNFINISHED = tuple(s.value for s in UNFINISHED_STATES)
_COLUMNS = "task_id, tenant, holder, attempt, expires_at, cancel_requested, request"
_INSERT = (
    "INSERT INTO task_leases"
    " (task_id, tenant, holder, attempt, expires_at, cancel_requested)"
    " VALUES (?, ?, ?, ?, ?, 0)"
    " ON CONFLICT (task_id) DO NOTHING"
)
_RENEW = "UPDATE task_leases SET expires_at = ? WHERE holder = ?"
_HELD = f"SELECT {_COLUMNS} FROM task_leases WHERE holder = ?"
RELEASE = "DELETE FROM task_leases WHERE task_id = ? AND holder = ?"
_CANCEL = "UPDATE task_leases SET cancel_requested = 1 WHERE task_id = ?"
_EXPIRED = (
    f"SELECT {_COLUMNS} FROM task_leases WHERE expires_at <= ? AND holder <> '' LIMIT ?"
)
_CLAIM = (
    "UPDATE task_leases SET holder = ?, attempt = attempt + 1, expires_at = ?"
    " WHERE task_id = ? AND expires_at <= ?"
)
# Queued rows (holder ''): expires_at is when they were queued, the queue's order.
_QUEUE = (
    "UPDATE task_leases SET holder = '', attempt = attempt - 1, expires_at = ?,"
    " request = ? WHERE task_id = ? AND holder = ? AND holder <> ''"
)
_QUEUED_COUNT = "SELECT count(*) FROM task_leases WHERE holder = ''"
_QUEUED = (
    f"SELECT {_COLUMNS} FROM task_leases WHERE holder = ''"
    " ORDER BY expires_at, task_id LIMIT ?"
)
# The request goes to the claimer only: the heartbeat does not carry it around.
_TAKE = (
    "UPDATE task_leases SET holder = ?, attempt = attempt + 1, expires_at = ?,"
    " request = '' WHERE task_id = ? AND holder = ''"
)
_WITHDRAW = "DELETE FROM task_leases WHERE task_id = ? AND holder = ''"
_ORPHANS = (
    "SELECT id, tenant FROM tasks"
    f" WHERE state IN ({', '.join('?' * len(_UNFINISHED))}) AND updated_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM task_leases l WHERE l.task_id = tasks.id)"
    " LIMIT ?"
)


def _lease(row: tuple[str, str, str, int, float, int, str]) -> Lease:
    task_id, tenant, holder, attempt, expires_at, cancel, request = row
    return Lease(task_id, tenant, holder, attempt, expires_at, bool(cancel), request)


def grant(
    conn: sqlite3.Connection, task_id: str, tenant: str, holder: str, seconds: float
) -> bool:
    """Insert ``task_id``'s lease (attempt 1); False when one exists already."""
    expires_at = time.time() + seconds
    return conn.execute(_INSERT, (task_id, tenant, holder, 1, expires_at)).rowcount == 1


class SQLiteLeases:
    """The lease methods of :class:`~accord.stores.SQLiteTaskStore` (a mixin)."""

    if TYPE_CHECKING:  # provided by the store this class is mixed into

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def acquire_lease(
        self, task_id: str, *, tenant: str, holder: str, seconds: float
    ) -> Lease | None:
        """Take the lease on ``task_id`` (attempt 1) unless one exists."""

        def run(conn: sqlite3.Connection) -> Lease | None:
            expires_at = time.time() + seconds
            cur = conn.execute(_INSERT, (task_id, tenant, holder, 1, expires_at))
            if cur.rowcount != 1:
                return None
            return Lease(task_id, tenant, holder, 1, expires_at)

        return await self._write(run)

    async def renew_leases(self, *, holder: str, seconds: float) -> list[Lease]:
        """Extend every lease ``holder`` holds; return them."""

        def run(conn: sqlite3.Connection) -> list[Lease]:
            conn.execute(_RENEW, (time.time() + seconds, holder))
            return [_lease(row) for row in conn.execute(_HELD, (holder,)).fetchall()]

        return await self._write(run)

    async def release_lease(self, task_id: str, *, holder: str) -> None:
        """Delete the lease on ``task_id`` if ``holder`` holds it."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(RELEASE, (task_id, holder))

        await self._write(run)

    async def request_cancel(self, task_id: str) -> bool:
        """Mark the lease on ``task_id`` cancel-requested; False if there is none."""

        def run(conn: sqlite3.Connection) -> bool:
            return conn.execute(_CANCEL, (task_id,)).rowcount == 1

        return await self._write(run)

    async def expired_leases(self) -> list[Lease]:
        """Return the leases past their expiry."""

        def run(conn: sqlite3.Connection) -> list[Lease]:
            rows = conn.execute(_EXPIRED, (time.time(), -1)).fetchall()
            return [_lease(row) for row in rows]

        return await self._write(run)

    async def claim_expired(
        self, *, holder: str, seconds: float, limit: int = 100
    ) -> list[Lease]:
        """Take over up to ``limit`` expired leases and lease-less unfinished tasks."""

        def run(conn: sqlite3.Connection) -> list[Lease]:
            now = time.time()
            expires_at = now + seconds
            claimed: list[Lease] = []
            for row in conn.execute(_EXPIRED, (now, limit)).fetchall():
                old = _lease(row)
                conn.execute(_CLAIM, (holder, expires_at, old.task_id, now))
                attempt = old.attempt + 1
                claimed.append(
                    Lease(old.task_id, old.tenant, holder, attempt, expires_at)
                )
                if old.cancel_requested:
                    claimed[-1] = replace(claimed[-1], cancel_requested=True)
            cutoff = format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds))
            left = limit - len(claimed)
            if left > 0:
                orphans = conn.execute(
                    _ORPHANS, (*_UNFINISHED, cutoff, left)
                ).fetchall()
                for task_id, tenant in orphans:
                    conn.execute(_INSERT, (task_id, tenant, holder, 2, expires_at))
                    claimed.append(Lease(task_id, tenant, holder, 2, expires_at))
            return claimed

        return await self._write(run)

    # --- queued work -------------------------------------------------------------------

    async def queue_lease(
        self, task_id: str, *, holder: str, request: str = ""
    ) -> bool:
        """Hand ``holder``'s lease on ``task_id`` to the queue (attempt one lower)."""

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(_QUEUE, (time.time(), request, task_id, holder))
            return cur.rowcount == 1

        return await self._write(run)

    async def queued_count(self) -> int:
        """How many queued rows there are."""

        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(_QUEUED_COUNT).fetchone()
            return int(row[0])

        return await self._write(run)

    async def claim_queued(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[Lease]:
        """Take up to ``limit`` queued rows, oldest first (attempt one higher)."""

        def run(conn: sqlite3.Connection) -> list[Lease]:
            expires_at = time.time() + seconds
            claimed: list[Lease] = []
            for row in conn.execute(_QUEUED, (limit,)).fetchall():
                old = _lease(row)
                conn.execute(_TAKE, (holder, expires_at, old.task_id))
                claimed.append(
                    replace(
                        old,
                        holder=holder,
                        attempt=old.attempt + 1,
                        expires_at=expires_at,
                    )
                )
            return claimed

        return await self._write(run)

    async def withdraw(self, task_id: str) -> bool:
        """Delete ``task_id``'s queued row; False when it is not queued."""

        def run(conn: sqlite3.Connection) -> bool:
            return conn.execute(_WITHDRAW, (task_id,)).rowcount == 1

        return await self._write(run)
