"""Held terms of the PostgreSQL store (the contract: :mod:`accord.stores.held`).

A mixin of :class:`~accord.stores.postgres.PostgresTaskStore`, on table
``held_terms`` (migration 0007). A take is one ``DELETE ... RETURNING``: a second
instance taking the same row waits for the first's row lock, then finds it gone, so
exactly one gets it. A hold runs across tenants (its purge of expired rows does) in
one short transaction; holding again after a lost COMMIT answer is harmless (``ON
CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.stores._postgres_part import PostgresPart
from accord.stores.held import HELD_PURGE_BATCH, MAX_HELD_PER_OWNER, check_kind

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    from accord.stores.base import Scope

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["PostgresHeld"]

# ``= ANY(ARRAY(subquery))``, not ``IN (subquery)``: the ARRAY is an InitPlan, run
# once, so LIMIT bounds the batch whatever plan is chosen; an IN subquery with LIMIT
# and SKIP LOCKED may be re-scanned by some plans and delete more than a batch (seen
# once in the suite: 105 rows purged by one hold). The same in the other stores'
# batched statements (retention, lease claims).
_PURGE = (
    "DELETE FROM held_terms WHERE seq = ANY(ARRAY(SELECT seq FROM held_terms"
    " WHERE expires_at <= %s ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED))"
)
_INSERT = (
    "INSERT INTO held_terms (kind, id, tenant, owner, terms, expires_at)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, id) DO NOTHING"
)
_TRIM = (
    "DELETE FROM held_terms WHERE seq = ANY(ARRAY(SELECT seq FROM held_terms"
    " WHERE tenant = %s AND owner = %s AND kind = %s ORDER BY seq DESC OFFSET %s"
    " FOR UPDATE SKIP LOCKED))"
)
_TAKE = (
    "DELETE FROM held_terms WHERE kind = %s AND id = %s AND tenant = %s"
    " AND owner = %s RETURNING terms, expires_at"
)


class PostgresHeld(PostgresPart):
    """The held-terms methods of :class:`~accord.stores.postgres.PostgresTaskStore`."""

    #: Rows one (tenant, owner, kind) holds at most; beyond, its oldest go.
    max_held_per_owner: int = MAX_HELD_PER_OWNER

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

        def run(cur: Cursor) -> None:
            cur.execute(_PURGE, (now, HELD_PURGE_BATCH))
            cur.execute(
                _INSERT, (kind, held_id, scope.tenant, owner, terms, expires_at)
            )
            cur.execute(_TRIM, (scope.tenant, owner, kind, cap))

        await self._run(run, tenant=None, write=True)

    async def take_terms(
        self, kind: str, held_id: str, scope: Scope, *, now: float
    ) -> str | None:
        """The terms held, removed (see :class:`~accord.stores.held.HeldStore`)."""
        params = (kind, held_id, scope.tenant, scope.owner or "")

        def run(cur: Cursor) -> tuple[str, float] | None:
            row = cur.execute(_TAKE, params).fetchone()
            return None if row is None else (str(row[0]), float(row[1]))

        row = await self._run(run, tenant=scope.tenant, write=True)
        return row[0] if row is not None and row[1] > now else None
