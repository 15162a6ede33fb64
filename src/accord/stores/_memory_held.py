"""Held terms in memory (the contract: :mod:`accord.stores.held`).

A mixin of :class:`~accord.stores.memory.MemoryTaskStore`, also usable on its own
(:class:`MemoryHeld`). Every method runs to completion without awaiting, so a take is
atomic. Rows are kept in insertion order, each scope's ids in its own ordered index
(its cap drops the oldest), expiry times in a heap (a purge pops what is due). Beyond
the per-owner cap, ``max_held`` bounds the rows of every owner together: the oldest
go first.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import TYPE_CHECKING

from accord.stores.held import HELD_PURGE_BATCH, MAX_HELD_PER_OWNER, check_kind

if TYPE_CHECKING:
    from accord.stores.base import Scope

__all__ = ["MAX_HELD", "MemoryHeld"]

#: Rows a memory store holds at most, every owner together.
MAX_HELD = 100_000

_Key = tuple[str, str]  # (kind, id)
_Owner = tuple[str, str, str]  # (tenant, owner, kind)


class MemoryHeld:
    """The held-terms methods of the memory store."""

    max_held_per_owner: int = MAX_HELD_PER_OWNER

    def __init__(
        self, *, max_held: int = MAX_HELD, max_per_owner: int = MAX_HELD_PER_OWNER
    ) -> None:
        self._init_held(max_held=max_held, max_per_owner=max_per_owner)

    def _init_held(
        self, *, max_held: int = MAX_HELD, max_per_owner: int = MAX_HELD_PER_OWNER
    ) -> None:
        if max_held < 1 or max_per_owner < 1:
            raise ValueError("held-terms caps must be >= 1")
        self._terms_max = max_held
        self.max_held_per_owner = max_per_owner
        #: (kind, id) -> (its owner key, terms, expires_at), oldest first.
        self._terms: OrderedDict[_Key, tuple[_Owner, str, float]] = OrderedDict()
        self._terms_by: dict[_Owner, OrderedDict[str, None]] = {}
        self._terms_expiry: list[tuple[float, str, str]] = []

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
        self._purge_held(now)
        key = (kind, held_id)
        if key in self._terms:
            return
        owner = (scope.tenant, scope.owner or "", kind)
        self._terms[key] = (owner, terms, expires_at)
        ids = self._terms_by.setdefault(owner, OrderedDict())
        ids[held_id] = None
        heapq.heappush(self._terms_expiry, (expires_at, kind, held_id))
        while len(ids) > self.max_held_per_owner:
            self._drop_held((kind, next(iter(ids))))
        while len(self._terms) > self._terms_max:
            self._drop_held(next(iter(self._terms)))
        if len(self._terms_expiry) > 2 * len(self._terms) + HELD_PURGE_BATCH:
            self._terms_expiry = [
                (e, k, i) for (k, i), (_, _, e) in self._terms.items()
            ]
            heapq.heapify(self._terms_expiry)

    async def take_terms(
        self, kind: str, held_id: str, scope: Scope, *, now: float
    ) -> str | None:
        """The terms held, removed (see :class:`~accord.stores.held.HeldStore`)."""
        key = (kind, held_id)
        row = self._terms.get(key)
        if row is None or row[0][:2] != (scope.tenant, scope.owner or ""):
            return None
        self._drop_held(key)
        return row[1] if row[2] > now else None

    def _drop_held(self, key: _Key) -> None:
        owner, _, _ = self._terms.pop(key)
        ids = self._terms_by[owner]
        del ids[key[1]]
        if not ids:
            del self._terms_by[owner]

    def _purge_held(self, now: float) -> None:
        """Drop up to a batch of expired rows (a heap entry of a row already gone, or
        held again, is just popped)."""
        heap = self._terms_expiry
        for _ in range(HELD_PURGE_BATCH):
            if not heap or heap[0][0] > now:
                return
            expires, kind, held_id = heapq.heappop(heap)
            row = self._terms.get((kind, held_id))
            if row is not None and row[2] == expires:
                self._drop_held((kind, held_id))
