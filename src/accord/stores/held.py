"""Held terms: negotiated agreements and counter-proposals, kept in the task store so
that every instance sharing it honours them.

Theory of operation. A negotiating agent (:mod:`accord.server.handshake.negotiation`)
answers a proposal on one instance and the caller may start the agreed task, or accept
a counter, on another (instances behind a load balancer share one PostgreSQL database
or one SQLite file). So the terms it agreed to, or countered with, are *held* in the
store: :meth:`HeldStore.hold_terms` writes them under an id, :meth:`HeldStore.take_terms` reads
them back once.

* **Single use.** ``take_terms`` deletes the row it returns in one statement
  (``DELETE ... RETURNING``): of two instances taking the same id at once, exactly
  one gets the terms, the other None.
* **Scoped.** A row belongs to the tenant and owner that held it; ``take_terms`` with any
  other scope finds nothing and leaves the row alone.
* **Expiry.** A row past its ``expires_at`` is never returned (a ``take_terms`` of it deletes
  it and answers None). Expired rows are also purged by ``hold_terms``, at most
  :data:`HELD_PURGE_BATCH` per call, oldest expiry first: each hold adds one row and
  may remove many, so expired rows never pile up, and no call pays for more than a
  batch.
* **Bounded.** Each (tenant, owner, kind) keeps at most ``max_held_per_owner`` rows
  (:data:`MAX_HELD_PER_OWNER` unless the store says otherwise): holding one more drops
  that owner's oldest. One caller can thus neither grow the table without bound nor
  push out another caller's terms.

Times are seconds since the epoch, on the clock of the instance that calls (instances
sharing a store are expected to keep their clocks in sync, as TLS and tokens do).
Terms are opaque JSON text to the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from accord.stores.base import Scope

__all__ = ["HELD_PURGE_BATCH", "MAX_HELD_PER_OWNER", "HeldStore", "check_kind"]

#: Rows one (tenant, owner, kind) may hold by default; beyond, its oldest go.
MAX_HELD_PER_OWNER = 1000
#: Expired rows one :meth:`HeldStore.hold_terms` purges at most.
HELD_PURGE_BATCH = 100


def check_kind(kind: str, held_id: str) -> None:
    """Refuse an empty kind or id (a programming error, never a caller's)."""
    if not kind or not held_id:
        raise ValueError("held terms need a kind and an id")


@runtime_checkable
class HeldStore(Protocol):
    """Holds terms under an id for one scope, until taken once or expired (see the
    module docstring). Implemented by every task store."""

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
        """Hold ``terms`` (JSON text) as ``kind`` (``"agreement"``, ``"counter"``)
        ``held_id`` for ``scope`` until ``expires_at``; purge a batch of rows expired
        at ``now`` and drop the scope's oldest beyond its cap. Holding an id already
        held leaves the first terms in place."""
        ...

    async def take_terms(
        self, kind: str, held_id: str, scope: Scope, *, now: float
    ) -> str | None:
        """The terms held as ``kind`` ``held_id`` for ``scope``, removed; None when
        there are none for this scope, they were taken, or they expired by ``now``."""
        ...
