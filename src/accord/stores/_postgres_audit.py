"""The audit trail of the PostgreSQL store (the contract: :mod:`accord.stores.audit`).

A mixin of :class:`~accord.stores.postgres.PostgresTaskStore`. :func:`append_entries`
runs inside a transaction: the store's own ``append_audit``, and its task writes when
the store audits state changes (so a task row and its state record commit together).

**One chain per tenant, whatever the number of instances.** An append first makes
sure its tenant's ``audit_chains`` row exists (``INSERT ... ON CONFLICT DO NOTHING``),
then locks it (``SELECT ... FOR UPDATE``) and holds the lock to the end of its
transaction: another append to the same tenant, from this or any instance, waits for
the commit and then reads the moved head. ``(tenant, seq)`` is unique besides, so a
forked chain could not even be stored. Locks are taken in one order (a task row
before its tenant's chain; tenants sorted), so appends never deadlock. The cost: task
writes of one tenant commit one at a time while the store audits them.

Retention deletes a chain's oldest entries in batches, one short transaction each
(the chain row locked while its base moves).
"""

from __future__ import annotations

from functools import partial
from itertools import takewhile
from typing import TYPE_CHECKING, TypeVar

from accord.stores._audit import read_entry, select_entries
from accord.stores._postgres_part import PostgresPart
from accord.stores.audit import GENESIS, AuditChain, AuditEntry, canonical_bytes, link

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg
    from psycopg.rows import TupleRow

    from accord.stores.audit import AuditQuery, AuditRecord

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["PostgresAudit", "append_entries"]

T = TypeVar("T")

_ENSURE_CHAIN = (
    "INSERT INTO audit_chains (tenant, base_seq, base_hash, head_seq, head_hash)"
    " VALUES (%s, 0, %s, 0, %s) ON CONFLICT (tenant) DO NOTHING"
)
_LOCK_CHAIN = (
    "SELECT head_seq, head_hash FROM audit_chains WHERE tenant = %s FOR UPDATE"
)
_CHAINS = (
    "SELECT tenant, base_seq, base_hash, head_seq, head_hash FROM audit_chains"
    " ORDER BY tenant"
)
_MOVE_HEAD = "UPDATE audit_chains SET head_seq = %s, head_hash = %s WHERE tenant = %s"
_MOVE_BASE = "UPDATE audit_chains SET base_seq = %s, base_hash = %s WHERE tenant = %s"
_INSERT = (
    "INSERT INTO audit_entries (tenant, seq, time, task_id, context_id, body, prev,"
    " hash) SELECT %s, s, t, k, c, b, p, h FROM unnest(%s::bigint[], %s::text[],"
    " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
    " AS u(s, t, k, c, b, p, h) RETURNING id"
)
_COLUMNS = "id, seq, body, prev, hash"
_OLDEST = (
    "SELECT id, seq, hash, time FROM audit_entries WHERE tenant = %s ORDER BY seq"
    " LIMIT %s"
)
_DELETE_UPTO = "DELETE FROM audit_entries WHERE tenant = %s AND seq <= %s"


def append_entries(cur: Cursor, records: Sequence[AuditRecord]) -> list[AuditEntry]:
    """Chain and insert ``records`` (call inside the transaction that owns them)."""
    groups: dict[str, list[AuditRecord]] = {}
    for record in records:
        groups.setdefault(record.tenant, []).append(record)
    appended: list[AuditEntry] = []
    for tenant in sorted(groups):
        cur.execute(_ENSURE_CHAIN, (tenant, GENESIS, GENESIS))
        row = cur.execute(_LOCK_CHAIN, (tenant,)).fetchone()
        if row is None:  # pragma: no cover - the INSERT above made it
            raise RuntimeError(f"audit chain of tenant {tenant!r} is missing")
        entries = link(groups[tenant], seq=row[0], prev=row[1])
        columns: list[list[object]] = [[], [], [], [], [], [], []]
        for entry in entries:
            record = entry.record
            body = canonical_bytes(record.to_json()).decode("utf-8")
            values = (
                entry.seq,
                record.time,
                record.task_id,
                record.context_id,
                body,
                entry.prev,
                entry.hash,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        ids = [r[0] for r in cur.execute(_INSERT, (tenant, *columns)).fetchall()]
        last = entries[-1]
        cur.execute(_MOVE_HEAD, (last.seq, last.hash, tenant))
        appended.extend(
            AuditEntry(e.record, e.seq, e.prev, e.hash, i)
            for e, i in zip(entries, sorted(ids), strict=True)
        )
    return appended


class PostgresAudit(PostgresPart):
    """The audit methods of :class:`~accord.stores.postgres.PostgresTaskStore`."""

    _audit_on: bool

    @property
    def audit_states(self) -> bool:
        """True when task writes append a ``"state"`` record for each state change."""
        return self._audit_on

    async def append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append ``records`` (any tenants; in order within each) to their chains.

        A call whose COMMIT answer was lost is not run again (its records could be
        appended twice): it raises StoreError.
        """
        if not records:
            return []
        tenants = {r.tenant for r in records}
        tenant = next(iter(tenants)) if len(tenants) == 1 else None
        return await self._run(
            lambda cur: append_entries(cur, records),
            tenant=tenant,
            write=True,
            rerun_unknown=False,
        )

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to ``query.limit`` entries matching ``query``, in id order."""
        sql, params = select_entries(query, _COLUMNS, "%s")

        def run(cur: Cursor) -> list[AuditEntry]:
            return [read_entry(row) for row in cur.execute(sql, params).fetchall()]

        return await self._run(run, tenant=query.tenant)

    async def audit_chains(self) -> list[AuditChain]:
        """Every tenant's chain (base and head), by tenant."""
        return await self._run(
            lambda cur: [AuditChain(*row) for row in cur.execute(_CHAINS).fetchall()],
            tenant=None,
        )

    async def purge_audit(self, *, older_than: str, batch: int = 1000) -> int:
        """Delete each chain's oldest entries older than ``older_than``, ``batch`` per
        transaction, moving the chain's base to the last one deleted."""
        if batch < 1:
            raise ValueError("batch must be >= 1")

        def run(cur: Cursor, tenant: str) -> int:
            cur.execute(_LOCK_CHAIN, (tenant,))
            rows = cur.execute(_OLDEST, (tenant, batch)).fetchall()
            old = list(takewhile(lambda row: row[3] < older_than, rows))
            if not old:
                return 0
            last = old[-1]
            cur.execute(_DELETE_UPTO, (tenant, last[1]))
            cur.execute(_MOVE_BASE, (last[1], last[2], tenant))
            return len(old)

        deleted = 0
        for chain in await self.audit_chains():
            while True:
                count = await self._run(
                    partial(run, tenant=chain.tenant), tenant=chain.tenant, write=True
                )
                deleted += count
                if count < batch:
                    break
        return deleted
