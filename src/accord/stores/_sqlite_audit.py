"""The audit trail of the SQLite store (the contract: :mod:`accord.stores.audit`).

A mixin of :class:`~accord.stores.SQLiteTaskStore`. :func:`append_entries` runs inside
a write transaction: the store's own ``append_audit``, and its task writes when the
store audits state changes (so the task row and its state record commit together).
Write transactions begin with ``BEGIN IMMEDIATE`` (the file's write lock, across
processes), so reading a chain's head and moving it never interleave with another
writer: each tenant's chain is linear. Retention deletes a chain's oldest entries in
batches of its own transactions, each moving the chain's base along.
"""

from __future__ import annotations

from functools import partial
from itertools import takewhile
from typing import TYPE_CHECKING, TypeVar

from accord.stores._audit import read_entry, select_entries
from accord.stores.audit import (
    GENESIS,
    AuditChain,
    AuditEntry,
    canonical_bytes,
    link,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Sequence

    from accord.stores.audit import AuditQuery, AuditRecord

__all__ = ["SQLiteAudit", "append_entries"]

T = TypeVar("T")

_CHAIN = (
    "SELECT tenant, base_seq, base_hash, head_seq, head_hash FROM audit_chains"
    " WHERE tenant = ?"
)
_CHAINS = (
    "SELECT tenant, base_seq, base_hash, head_seq, head_hash FROM audit_chains"
    " ORDER BY tenant"
)
_NEW_CHAIN = (
    "INSERT INTO audit_chains (tenant, base_seq, base_hash, head_seq, head_hash)"
    " VALUES (?, 0, ?, 0, ?)"
)
_MOVE_HEAD = "UPDATE audit_chains SET head_seq = ?, head_hash = ? WHERE tenant = ?"
_MOVE_BASE = "UPDATE audit_chains SET base_seq = ?, base_hash = ? WHERE tenant = ?"
_INSERT = (
    "INSERT INTO audit_entries (tenant, seq, time, task_id, context_id, body, prev,"
    " hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = "id, seq, body, prev, hash"
_OLDEST = (
    "SELECT id, seq, hash, time FROM audit_entries WHERE tenant = ? ORDER BY seq"
    " LIMIT ?"
)
_DELETE_UPTO = "DELETE FROM audit_entries WHERE tenant = ? AND seq <= ?"


def _by_tenant(records: Sequence[AuditRecord]) -> dict[str, list[AuditRecord]]:
    groups: dict[str, list[AuditRecord]] = {}
    for record in records:
        groups.setdefault(record.tenant, []).append(record)
    return groups


def append_entries(
    conn: sqlite3.Connection, records: Sequence[AuditRecord]
) -> list[AuditEntry]:
    """Chain and insert ``records`` (call inside a write transaction)."""
    appended: list[AuditEntry] = []
    for tenant, group in _by_tenant(records).items():
        row = conn.execute(_CHAIN, (tenant,)).fetchone()
        if row is None:
            conn.execute(_NEW_CHAIN, (tenant, GENESIS, GENESIS))
            seq, prev = 0, GENESIS
        else:
            seq, prev = row[3], row[4]
        for entry in link(group, seq=seq, prev=prev):
            record = entry.record
            cursor = conn.execute(
                _INSERT,
                (
                    tenant,
                    entry.seq,
                    record.time,
                    record.task_id,
                    record.context_id,
                    canonical_bytes(record.to_json()).decode("utf-8"),
                    entry.prev,
                    entry.hash,
                ),
            )
            appended.append(
                AuditEntry(
                    record, entry.seq, entry.prev, entry.hash, cursor.lastrowid or 0
                )
            )
        last = appended[-1]
        conn.execute(_MOVE_HEAD, (last.seq, last.hash, tenant))
    return appended


def _chain(row: tuple[str, int, str, int, str]) -> AuditChain:
    return AuditChain(*row)


class SQLiteAudit:
    """The audit methods of :class:`~accord.stores.SQLiteTaskStore` (a mixin)."""

    _audit_on: bool

    if TYPE_CHECKING:  # provided by the store this class is mixed into

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    @property
    def audit_states(self) -> bool:
        """True when task writes append a ``"state"`` record for each state change."""
        return self._audit_on

    async def append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append ``records`` (any tenants; in order within each) to their chains."""
        if not records:
            return []
        return await self._write(lambda conn: append_entries(conn, records))

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to ``query.limit`` entries matching ``query``, in id order."""
        sql, params = select_entries(query, _COLUMNS, "?")

        def run(conn: sqlite3.Connection) -> list[AuditEntry]:
            return [read_entry(row) for row in conn.execute(sql, params).fetchall()]

        return await self._read(run)

    async def audit_chains(self) -> list[AuditChain]:
        """Every tenant's chain (base and head), by tenant."""
        return await self._read(
            lambda conn: [_chain(row) for row in conn.execute(_CHAINS).fetchall()]
        )

    async def purge_audit(self, *, older_than: str, batch: int = 1000) -> int:
        """Delete each chain's oldest entries older than ``older_than``, ``batch`` per
        transaction, moving the chain's base to the last one deleted."""
        if batch < 1:
            raise ValueError("batch must be >= 1")

        def run(conn: sqlite3.Connection, tenant: str) -> int:
            rows = conn.execute(_OLDEST, (tenant, batch)).fetchall()
            old = list(takewhile(lambda row: row[3] < older_than, rows))
            if not old:
                return 0
            last = old[-1]
            conn.execute(_DELETE_UPTO, (tenant, last[1]))
            conn.execute(_MOVE_BASE, (last[1], last[2], tenant))
            return len(old)

        deleted = 0
        for chain in await self.audit_chains():
            while True:
                count = await self._write(partial(run, tenant=chain.tenant))
                deleted += count
                if count < batch:
                    break
        return deleted
