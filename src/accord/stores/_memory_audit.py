"""The audit trail of the in-memory store (the contract: :mod:`accord.stores.audit`).

A mixin of :class:`~accord.stores.memory.MemoryTaskStore`. Entries of every tenant are
kept in one deque in append order (their :attr:`~accord.stores.audit.AuditEntry.id`
order), each tenant's chain position in ``_chains``. Like the rest of the store, every
method runs to completion without awaiting, so appends to a chain never interleave.

Bounded: at most ``max_audit_entries`` entries are kept. Appending one more drops the
oldest, and its chain's base moves to it, exactly as retention does, so the rest still
verifies.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from accord.stores.audit import AuditChain, link

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.stores.audit import AuditEntry, AuditQuery, AuditRecord

__all__ = ["MAX_AUDIT_ENTRIES", "MemoryAudit"]

#: Default cap on the entries a memory store keeps.
MAX_AUDIT_ENTRIES = 100_000


class MemoryAudit:
    """The audit methods of the memory store."""

    def _init_audit(self, *, audit: bool, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_audit_entries must be >= 1")
        self._audit_on = audit
        self._audit_max = max_entries
        self._audit: deque[AuditEntry] = deque()
        self._chains: dict[str, AuditChain] = {}
        self._audit_id = 0

    @property
    def audit_states(self) -> bool:
        """True when task writes append a ``"state"`` record for each state change."""
        return self._audit_on

    def _append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Chain and keep ``records`` (synchronously: the store's writes call it)."""
        appended: list[AuditEntry] = []
        for record in records:
            chain = self._chains.get(record.tenant) or AuditChain(record.tenant)
            self._audit_id += 1
            (entry,) = link(
                (record,),
                seq=chain.head_seq,
                prev=chain.head_hash,
                first_id=self._audit_id,
            )
            self._chains[record.tenant] = AuditChain(
                record.tenant,
                chain.base_seq,
                chain.base_hash,
                entry.seq,
                entry.hash,
            )
            self._audit.append(entry)
            appended.append(entry)
            if len(self._audit) > self._audit_max:
                self._drop_oldest()
        return appended

    def _drop_oldest(self) -> None:
        entry = self._audit.popleft()
        tenant = entry.record.tenant
        chain = self._chains[tenant]
        self._chains[tenant] = AuditChain(
            tenant, entry.seq, entry.hash, chain.head_seq, chain.head_hash
        )

    async def append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append ``records`` (any tenants; in order within each) to their chains."""
        return self._append_audit(records)

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to ``query.limit`` entries matching ``query``, in id order."""
        limit = query.page_size()
        found: list[AuditEntry] = []
        for entry in self._audit:
            if entry.id <= query.after or not query.matches(entry):
                continue
            found.append(entry)
            if len(found) == limit:
                break
        return found

    async def audit_chains(self) -> list[AuditChain]:
        """Every tenant's chain (base and head), by tenant."""
        return [self._chains[t] for t in sorted(self._chains)]

    async def purge_audit(self, *, older_than: str, batch: int = 1000) -> int:
        """Delete each chain's oldest entries older than ``older_than`` (see the
        contract); the memory store deletes them in one go."""
        keep: deque[AuditEntry] = deque()
        blocked: set[str] = set()  # tenants whose chain met an entry to keep
        deleted = 0
        for entry in self._audit:
            tenant = entry.record.tenant
            if tenant in blocked or entry.record.time >= older_than:
                blocked.add(tenant)
                keep.append(entry)
                continue
            chain = self._chains[tenant]
            self._chains[tenant] = AuditChain(
                tenant, entry.seq, entry.hash, chain.head_seq, chain.head_hash
            )
            deleted += 1
        self._audit = keep
        return deleted
