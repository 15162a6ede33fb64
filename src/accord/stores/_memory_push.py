"""Push-notification configs of the in-memory store (the contract: :mod:`accord.stores.base`).

A mixin of :class:`~accord.stores.memory.MemoryTaskStore`, which owns the state: its
``_push`` maps a task id to that task's configs by config id. Like the rest of the
store, every method runs to completion without awaiting, so each call is atomic and a
claim hands each config to exactly one caller without a lock.

``_pending`` holds the keys ``(task_id, config_id)`` of the live configs whose task has
events past their ``delivered_seq``: the only ones a claim looks at, so a claim costs
what is pending, not every config kept (a config whose events are all delivered stays
until its task goes). It is kept by every change of its terms: a task's version (the
store's ``append`` calls :meth:`MemoryPush._push_appended`; ``create`` makes a task
without configs), and a config's put, delivery, dead letter, revival and deletion, and
its task's removal (:meth:`MemoryPush._drop_push`). A subset of the configs, it is
bounded with them.

Bounds: a task's configs are dropped with the task (the store's ``_drop``: retention,
eviction at the task cap, ``purge_finished``), so the task bounds bound them too, and
a task holds at most ``max_push_configs`` of them (creating one more raises
:class:`~accord.errors.StoreError`; replacing one is always possible).

Times (next attempt, delivery lease) are on the store's monotonic ``clock``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from accord.errors import StoreError
from accord.stores._common import (
    DEFAULT_DEAD_REASON,
    decode_config_cursor,
    encode_config_cursor,
    push_page_size,
    visible,
)
from accord.stores.base import PushConfigRecord, PushDelivery

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from accord.stores.base import Scope
    from accord.types import Task

__all__ = ["MAX_PUSH_CONFIGS", "MemoryPush", "StoredPush"]

#: Default cap on one task's configs (the spec sets none; a server may set its own).
MAX_PUSH_CONFIGS = 100

# Fields of the store's task entry (accord.stores.memory._Entry) read here.
_OWNER: Final = 1
_TENANT: Final = 2
_VERSION: Final = 3


@dataclass(slots=True)
class StoredPush:
    """One config of a task and its outbox state (mutated in place)."""

    tenant: str
    owner: str
    data: bytes
    delivered_seq: int
    next_attempt_at: float
    failures: int = 0
    holder: str = ""  # "" = not held
    lease_expires_at: float = 0.0
    dead_reason: str = ""  # "" = live

    def held_by(self, holder: str) -> bool:
        return bool(holder) and self.holder == holder


def _record(task_id: str, config_id: str, row: StoredPush) -> PushConfigRecord:
    return PushConfigRecord(
        task_id=task_id,
        config_id=config_id,
        tenant=row.tenant,
        owner=row.owner,
        data=row.data,
        delivered_seq=row.delivered_seq,
        failures=row.failures,
        dead_reason=row.dead_reason,
    )


class MemoryPush:
    """The push-config methods of :class:`~accord.stores.memory.MemoryTaskStore`."""

    if TYPE_CHECKING:  # provided by the store this class is mixed into
        _tasks: dict[str, tuple[Task, str, str, int, str]]
        _clock: Callable[[], float]
        _push: dict[str, dict[str, StoredPush]]
        _pending: dict[tuple[str, str], None]
        _max_push_configs: int

        def _expire(self) -> None: ...

    async def put_push_config(
        self,
        task_id: str,
        config_id: str,
        data: bytes,
        *,
        scope: Scope,
        after_seq: int | None = None,
    ) -> PushConfigRecord | None:
        """Create the config or replace its data (keeping its delivery position, and
        reviving it); None when the task is not visible within ``scope``.

        Raises:
            StoreError: the task has ``max_push_configs`` configs already.
        """
        self._expire()
        entry = self._tasks.get(task_id)
        if entry is None or not visible(scope, entry[_OWNER], entry[_TENANT]):
            return None
        now = self._clock()
        configs = self._push.get(task_id, {})
        row = configs.get(config_id)
        if row is not None:
            row.data = data
            row.dead_reason = ""
            row.failures = 0
            row.next_attempt_at = now
            self._recheck(task_id, config_id, row)
            return _record(task_id, config_id, row)
        if len(configs) >= self._max_push_configs:
            raise StoreError(
                f"task {task_id!r} has {len(configs)} push-notification configs, the "
                "most the in-memory store keeps per task (its max_push_configs)"
            )
        row = StoredPush(
            tenant=entry[_TENANT],
            owner=entry[_OWNER],
            data=data,
            delivered_seq=entry[_VERSION] if after_seq is None else after_seq,
            next_attempt_at=now,
        )
        self._push.setdefault(task_id, configs)[config_id] = row
        self._recheck(task_id, config_id, row)
        return _record(task_id, config_id, row)

    async def get_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> PushConfigRecord | None:
        """Return the config if its task is visible within ``scope``, else None."""
        row = self._visible(task_id, scope).get(config_id)
        return None if row is None else _record(task_id, config_id, row)

    async def list_push_configs(
        self, task_id: str, *, scope: Scope, page_size: int, cursor: str = ""
    ) -> tuple[list[PushConfigRecord], str]:
        """One page of the task's configs in ``config_id`` order, and the next cursor.

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
        """
        after = decode_config_cursor(cursor) if cursor else None
        configs = self._visible(task_id, scope)
        size = push_page_size(page_size)
        window = heapq.nsmallest(
            size + 1, (c for c in configs if after is None or c > after)
        )
        page = window[:size]
        next_cursor = encode_config_cursor(page[-1]) if len(window) > size else ""
        return [_record(task_id, c, configs[c]) for c in page], next_cursor

    async def delete_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Delete the config; False when there was none within ``scope``."""
        configs = self._visible(task_id, scope)
        if configs.pop(config_id, None) is None:
            return False
        self._pending.pop((task_id, config_id), None)
        if not configs:
            del self._push[task_id]
        return True

    # --- delivery ----------------------------------------------------------------------

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        """Lease up to ``limit`` due configs to ``holder``, the longest-waiting first."""
        if not holder:
            raise ValueError("claim_push_deliveries needs a holder ('' is nobody)")
        self._expire()
        now = self._clock()
        push = self._push
        # Only the pending configs (live, events past their position): held ones
        # whose lease runs and backing-off ones are passed over here.
        due = [
            (row.next_attempt_at, task_id, config_id)
            for task_id, config_id in self._pending
            if (row := push[task_id][config_id]).next_attempt_at <= now
            and (not row.holder or row.lease_expires_at <= now)
        ]
        claimed: list[PushDelivery] = []
        for _, task_id, config_id in heapq.nsmallest(max(limit, 0), due):
            row = push[task_id][config_id]
            row.holder = holder
            row.lease_expires_at = now + seconds
            version = self._tasks[task_id][_VERSION]
            claimed.append(
                PushDelivery(_record(task_id, config_id, row), version, holder)
            )
        return claimed

    async def push_delivered(
        self, task_id: str, config_id: str, *, holder: str, seq: int
    ) -> bool:
        """Record delivery up to ``seq`` (failures reset, lease kept); False when
        ``holder`` no longer holds the config."""
        row = self._held(task_id, config_id, holder)
        if row is None:
            return False
        row.delivered_seq = max(row.delivered_seq, seq)
        row.failures = 0
        row.next_attempt_at = self._clock()  # waits behind the others from now on
        self._recheck(task_id, config_id, row)
        return True

    async def push_failed(
        self,
        task_id: str,
        config_id: str,
        *,
        holder: str,
        retry_in: float | None,
        reason: str,
    ) -> bool:
        """Record a failed attempt and release the lease: due again in ``retry_in``
        seconds, or dead-lettered with ``reason`` (None); False when ``holder`` no
        longer holds the config."""
        row = self._held(task_id, config_id, holder)
        if row is None:
            return False
        row.failures += 1
        if retry_in is None:
            row.dead_reason = reason or DEFAULT_DEAD_REASON
            self._pending.pop((task_id, config_id), None)
        else:
            row.next_attempt_at = self._clock() + retry_in
        row.holder = ""
        row.lease_expires_at = 0.0
        return True

    async def release_push(self, task_id: str, config_id: str, *, holder: str) -> None:
        """Release the lease ``holder`` holds on the config."""
        row = self._held(task_id, config_id, holder)
        if row is not None:
            row.holder = ""
            row.lease_expires_at = 0.0

    async def renew_push_leases(
        self, keys: Sequence[tuple[str, str]], *, holder: str, seconds: float
    ) -> int:
        """Hold for ``seconds`` more the configs of ``keys`` ``holder`` still holds;
        how many."""
        until = self._clock() + seconds
        held = 0
        for task_id, config_id in keys:
            row = self._held(task_id, config_id, holder)
            if row is not None:
                row.lease_expires_at = until
                held += 1
        return held

    async def dead_push_configs(
        self, *, scope: Scope, limit: int = 100
    ) -> list[PushConfigRecord]:
        """The dead-lettered configs within ``scope``, in (task, config) id order."""
        self._expire()
        dead = (
            (task_id, config_id)
            for task_id, configs in self._push.items()
            for config_id, row in configs.items()
            if row.dead_reason and visible(scope, row.owner, row.tenant)
        )
        return [
            _record(task_id, config_id, self._push[task_id][config_id])
            for task_id, config_id in heapq.nsmallest(max(limit, 0), dead)
        ]

    async def revive_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Make a dead-lettered config live and due at once; False when there is no
        dead-lettered config of that id within ``scope``."""
        row = self._visible(task_id, scope).get(config_id)
        if row is None or not row.dead_reason:
            return False
        row.dead_reason = ""
        row.failures = 0
        row.next_attempt_at = self._clock()
        self._recheck(task_id, config_id, row)
        return True

    # --- plumbing ----------------------------------------------------------------------

    def _visible(self, task_id: str, scope: Scope) -> dict[str, StoredPush]:
        """The task's configs when the task is visible within ``scope``, else {}."""
        self._expire()
        entry = self._tasks.get(task_id)
        if entry is None or not visible(scope, entry[_OWNER], entry[_TENANT]):
            return {}
        return self._push.get(task_id, {})

    def _held(self, task_id: str, config_id: str, holder: str) -> StoredPush | None:
        self._expire()
        row = self._push.get(task_id, {}).get(config_id)
        return row if row is not None and row.held_by(holder) else None

    def _recheck(self, task_id: str, config_id: str, row: StoredPush) -> None:
        """Put the config in ``_pending`` or take it out, as its state now says."""
        if not row.dead_reason and self._tasks[task_id][_VERSION] > row.delivered_seq:
            self._pending[(task_id, config_id)] = None
        else:
            self._pending.pop((task_id, config_id), None)

    def _push_appended(self, task_id: str, version: int) -> None:
        """The task is at ``version`` now: its live configs behind it are pending.

        Called by the store's ``append`` (O(the task's configs), usually none).
        """
        configs = self._push.get(task_id)
        if configs:
            pending = self._pending
            for config_id, row in configs.items():
                if not row.dead_reason and version > row.delivered_seq:
                    pending[(task_id, config_id)] = None

    def _drop_push(self, task_id: str) -> None:
        """Forget the task's configs (the task goes: retention, eviction, purge)."""
        configs = self._push.pop(task_id, None)
        if configs:
            pending = self._pending
            for config_id in configs:
                pending.pop((task_id, config_id), None)
