"""Held terms of the SQLite store (the contract: :mod:`accord.stores.held`).

A mixin of :class:`~accord.stores.SQLiteTaskStore`, on table ``held_terms``
(migration 0008). Both operations run on the writer, in its ``BEGIN IMMEDIATE``
transaction: the file's write lock serializes them across processes, so a take's
``DELETE ... RETURNING`` hands a row to one caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from accord.stores.held import HELD_PURGE_BATCH, MAX_HELD_PER_OWNER, check_kind

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from accord.stores.base import Scope

__all__ = ["SQLiteHeld"]

T = TypeVar("T")

_PURGE = (
    "DELETE FROM held_terms WHERE seq IN (SELECT seq FROM held_terms"
    " WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)
_INSERT = (
    "INSERT INTO held_terms (kind, id, tenant, owner, terms, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO NOTHING"
)
_TRIM = (
    "DELETE FROM held_terms WHERE seq IN (SELECT seq FROM held_terms"
    " WHERE tenant = ? AND owner = ? AND kind = ? ORDER BY seq DESC LIMIT -1"
    " OFFSET ?)"
)
_TAKE = (
    "DELETE FROM held_terms WHERE kind = ? AND id = ? AND tenant = ? AND owner = ?"
    " RETURNING terms, expires_at"
)


class SQLiteHeld:
    """The held-terms methods of :class:`~accord.stores.SQLiteTaskStore` (a mixin)."""

    #: Rows one (tenant, owner, kind) holds at most; beyond, its oldest go.
    max_held_per_owner: int = MAX_HELD_PER_OWNER

    if TYPE_CHECKING:  # provided by the store this class is mixed into

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def hold_terms(
        self,
        kind: str,
        held_id: str,
        scope: Scope,
        terms: str,
        *,
        expires_at: float,
        now: float,
    ) -> None:
        """Hold ``terms`` (see :class:`~accord.stores.held.HeldStore`)."""
        check_kind(kind, held_id)
        owner = scope.owner or ""
        cap = self.max_held_per_owner

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(_PURGE, (now, HELD_PURGE_BATCH))
            row = (kind, held_id, scope.tenant, owner, terms, expires_at)
            conn.execute(_INSERT, row)
            conn.execute(_TRIM, (scope.tenant, owner, kind, cap))

        await self._write(run)

    async def take_terms(
        self, kind: str, held_id: str, scope: Scope, *, now: float
    ) -> str | None:
        """The terms held, removed (see :class:`~accord.stores.held.HeldStore`)."""
        params = (kind, held_id, scope.tenant, scope.owner or "")

        def run(conn: sqlite3.Connection) -> tuple[str, float] | None:
            row: tuple[str, float] | None = conn.execute(_TAKE, params).fetchone()
            return row

        row = await self._write(run)
        return row[0] if row is not None and row[1] > now else None
