"""A bounded in-memory :class:`~accord.stores.base.TaskStore` for development and tests.

Theory of operation. All state lives in plain dicts owned by the event loop: every
method runs to completion without awaiting, so each call is atomic with respect to the
others and no lock is needed. Stored values are frozen msgspec Structs, so nothing is
copied.

Memory is bounded two ways, both without a background task:

* **Retention.** A finished task (terminal state: COMPLETED, FAILED, CANCELED, REJECTED)
  expires ``retention`` seconds after its last update, measured on a monotonic clock.
  ``_finished`` is an ordered dict of finished task ids, oldest update first (an update
  moves the id to the end), so expiry pops from the front until it meets a task that is
  still young: each task is popped once, which makes the sweep amortised O(1) per call.
  The sweep runs at the start of every call, so an expired task is never returned.
* **Capacity.** When ``max_tasks`` tasks are stored, creating one more evicts the
  finished task with the oldest update. Unfinished tasks are never evicted: if every
  stored task is unfinished the create fails with :class:`~accord.errors.StoreError`.

Each task's event log is a list held next to the task, so the log of an evicted or
expired task goes with it; so do its push-notification configs
(:mod:`accord.stores._memory_push`, at most ``max_push_configs`` per task). A
per-``(tenant, owner)`` index keeps ListTasks from scanning other callers' tasks.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Self

from accord.errors import ConflictError, StoreError
from accord.stores._audit import state_records
from accord.stores._common import (
    TERMINAL_STATES,
    UNFINISHED_STATES,
    SortKey,
    decode_cursor,
    effective_page_size,
    effective_state,
    effective_timestamp,
    encode_cursor,
    now_timestamp,
    sort_key,
    visible,
)
from accord.stores._memory_audit import MAX_AUDIT_ENTRIES, MemoryAudit
from accord.stores._memory_held import MemoryHeld
from accord.stores._memory_push import MAX_PUSH_CONFIGS, MemoryPush, StoredPush
from accord.stores.base import (
    QUEUED,
    Lease,
    Scope,
    StoredEvent,
    TaskPage,
    TaskQuery,
    TaskRecord,
)
from accord.types import format_timestamp

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterable, Sequence

    from accord.types import StreamResponse, Task

__all__ = ["MemoryTaskStore"]


#: A stored task: (task, owner, tenant, version, updated_at). A plain tuple of atomic
#: values and ``gc=False`` Structs, rebuilt on every write rather than mutated, so
#: CPython's cyclic collector untracks it at its first generation-0 pass: a store
#: holding 100,000 finished tasks adds nothing to the cost of later collections
#: (before: ~100 ms per full pass, bench/RESULTS.md). Nothing in it may be a tuple made
#: for it (a sort key, a log): the collector reorders what it scans and meets the entry
#: before such a tuple is untracked, which kept entries tracked until a full pass (up
#: to 160,000 tracked tuples; a 20 ms generation-1 pass). Only exact tuples are
#: untracked, hence no NamedTuple. ``updated_at`` is the wall-clock time of the last
#: write, for ``purge_finished`` of tasks without a status timestamp.
_Entry = tuple["Task", str, str, int, str]
TASK: Final = 0
OWNER: Final = 1
TENANT: Final = 2
VERSION: Final = 3
UPDATED: Final = 4


def _key(entry: _Entry) -> SortKey:
    return sort_key(entry[TASK])


def _record(entry: _Entry) -> TaskRecord:
    return TaskRecord(
        task=entry[TASK],
        owner=entry[OWNER],
        tenant=entry[TENANT],
        version=entry[VERSION],
    )


class MemoryTaskStore(MemoryPush, MemoryAudit, MemoryHeld):
    """Keep tasks and their event logs in memory, bounded by retention and a task cap.

    Args:
        retention: seconds a finished task is kept after its last update.
        max_tasks: most tasks held at once (None: unbounded); at the cap, creating a
            task evicts the finished task updated longest ago.
        clock: monotonic clock in seconds, for retention and the push-delivery times
            (tests inject a fake one).
        max_push_configs: most push-notification configs one task may have.
        audit: record each task state change in the audit trail
            (:mod:`accord.stores.audit`), and let an engine record its operations
            there.
        max_audit_entries: most audit entries kept; beyond, the oldest go (the chain's
            base moves, as with retention).

    Data does not survive the process; use :class:`~accord.stores.SQLiteTaskStore` for
    that.
    """

    def __init__(
        self,
        retention: float = 3600.0,
        max_tasks: int | None = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_push_configs: int = MAX_PUSH_CONFIGS,
        audit: bool = False,
        max_audit_entries: int = MAX_AUDIT_ENTRIES,
    ) -> None:
        if retention < 0:
            raise ValueError("retention must be >= 0 seconds")
        if max_tasks is not None and max_tasks < 1:
            raise ValueError("max_tasks must be >= 1 or None")
        if max_push_configs < 1:
            raise ValueError("max_push_configs must be >= 1")
        self._retention = retention
        self._max_tasks = max_tasks
        self._clock = clock
        self._tasks: dict[str, _Entry] = {}
        self._by_scope: dict[tuple[str, str], dict[str, None]] = {}
        #: Finished task id -> clock time of its last update, oldest first.
        self._finished: OrderedDict[str, float] = OrderedDict()
        #: Task id -> its event log: the event of seq n at index n - 1. A list while
        #: the task runs, frozen into a tuple once it ends (of ``gc=False`` Structs:
        #: the collector untracks it, see _Entry).
        self._logs: dict[str, list[StreamResponse] | tuple[StreamResponse, ...]] = {}
        #: Execution leases by task id; expiry on ``clock``.
        self._leases: dict[str, Lease] = {}
        #: Push-notification configs: task id -> config id -> config and its outbox.
        self._push: dict[str, dict[str, StoredPush]] = {}
        #: The configs with events to deliver, by (task id, config id): what a
        #: delivery claim looks at (accord.stores._memory_push).
        self._pending: dict[tuple[str, str], None] = {}
        self._max_push_configs = max_push_configs
        self._init_audit(audit=audit, max_entries=max_audit_entries)
        self._init_held()

    async def __aenter__(self) -> Self:
        """Return the store; there is nothing to open."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Do nothing: the data stays until the store is garbage-collected."""

    async def create(
        self,
        task: Task,
        event: StreamResponse,
        *,
        scope: Scope,
        holder: str | None = None,
        seconds: float = 0.0,
        more: Sequence[StreamResponse] = (),
    ) -> TaskRecord:
        """Store a new task (version 1) and its first event (seq 1), and its lease
        held by ``holder`` for ``seconds`` (attempt 1) unless ``holder`` is None.
        ``more``: the events after the first, at once (``task`` is the snapshot after
        them; version ``1 + len(more)``).

        Raises:
            ConflictError: a task with this id already exists, or a lease on it does.
            StoreError: the store is full of unfinished tasks.
        """
        owner = scope.owner
        if owner is None:
            raise ValueError("create needs a concrete owner (scope.owner is None)")
        now = self._clock()
        self._expire(now)
        if task.id in self._tasks:
            raise ConflictError(f"task {task.id!r} already exists")
        if holder is not None and task.id in self._leases:
            raise ConflictError(f"task {task.id!r} is leased already")
        if self._max_tasks is not None and len(self._tasks) >= self._max_tasks:
            self._evict_one()
        finished = task.status.state in TERMINAL_STATES
        entry: _Entry = (task, owner, scope.tenant, 1 + len(more), now_timestamp())
        if holder is not None:
            self._leases[task.id] = Lease(
                task.id, scope.tenant, holder, 1, self._clock() + seconds
            )
        self._tasks[task.id] = entry
        self._logs[task.id] = (event, *more) if finished else [event, *more]
        ids = self._by_scope.get((scope.tenant, owner))
        if ids is None:
            ids = self._by_scope[scope.tenant, owner] = {}
        ids[task.id] = None
        if finished:  # _track for a new id: it joins _finished at the end
            self._finished[task.id] = now
        if self._audit_on:
            self._append_audit(state_records(scope.tenant, owner, "", (event, *more)))
        return TaskRecord(task, owner, scope.tenant, entry[VERSION])

    async def get(self, task_id: str, *, scope: Scope) -> TaskRecord | None:
        """Return the task if it exists within ``scope``, else None."""
        self._expire()
        entry = self._tasks.get(task_id)
        if entry is None or not visible(scope, entry[OWNER], entry[TENANT]):
            return None
        return _record(entry)

    async def append(
        self,
        task: Task,
        event: StreamResponse,
        *,
        expected_version: int,
        release: str | None = None,
    ) -> TaskRecord:
        """Record ``event`` (seq ``expected_version + 1``) and the snapshot ``task``;
        delete the task's lease if ``release`` holds it.

        Raises:
            ConflictError: the task is at another version, or does not exist.
        """
        self._expire()
        entry = self._tasks.get(task.id)
        if entry is None:
            raise ConflictError(f"task {task.id!r} does not exist")
        if entry[VERSION] != expected_version:
            raise ConflictError(
                f"task {task.id!r} is at version {entry[VERSION]}, not {expected_version}"
            )
        if release is not None:
            lease = self._leases.get(task.id)
            if lease is not None and lease.holder == release:
                del self._leases[task.id]
        seq = expected_version + 1
        events = self._logs[task.id]
        if isinstance(events, tuple):
            events = list(events)
        events.append(event)
        finished = task.status.state in TERMINAL_STATES
        # Finished: freeze the log (see _logs); the collector untracks the tuple.
        self._logs[task.id] = tuple(events) if finished else events
        before = entry[TASK]
        entry = (task, entry[OWNER], entry[TENANT], seq, now_timestamp())
        self._tasks[task.id] = entry
        if self._audit_on:
            self._append_audit(
                state_records(
                    entry[TENANT], entry[OWNER], before.status.state.value, (event,)
                )
            )
        self._push_appended(task.id, seq)
        self._track(task)
        return _record(entry)

    async def events(
        self, task_id: str, *, after: int, scope: Scope
    ) -> list[StoredEvent]:
        """Return the task's events with ``seq > after``, oldest first.

        Returns an empty list when the task is not visible within ``scope``.
        """
        self._expire()
        entry = self._tasks.get(task_id)
        if entry is None or not visible(scope, entry[OWNER], entry[TENANT]):
            return []
        # seq n is at index n - 1: the events after ``after`` start at index ``after``.
        start = max(after, 0)
        return [
            StoredEvent(task_id=task_id, seq=seq, event=event)
            for seq, event in enumerate(self._logs[task_id][start:], start + 1)
        ]

    async def list(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query`` (spec §3.1.4).

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
        """
        below = decode_cursor(query.cursor) if query.cursor else None
        self._expire()
        state = effective_state(query.state)
        after = effective_timestamp(query.status_after)
        context_id = query.context_id
        matching = [
            entry
            for entry in self._candidates(query.scope)
            if (not context_id or entry[TASK].context_id == context_id)
            and (state is None or entry[TASK].status.state == state)
            and (after is None or (entry[TASK].status.timestamp or "") >= after)
        ]
        remaining = (
            matching if below is None else [e for e in matching if _key(e) < below]
        )
        size = effective_page_size(query.page_size)
        window = heapq.nlargest(size + 1, remaining, key=_key)
        page = window[:size]
        next_cursor = encode_cursor(_key(page[-1])) if len(window) > size else ""
        return TaskPage(
            tasks=tuple(e[TASK] for e in page),
            next_cursor=next_cursor,
            total_size=len(matching),
        )

    # ``builtins.list``: in this class body ``list`` names the method above.
    async def unfinished(self) -> builtins.list[TaskRecord]:
        """Return every task in SUBMITTED or WORKING state, oldest created first."""
        self._expire()
        return [
            _record(e)
            for e in self._tasks.values()
            if e[TASK].status.state in UNFINISHED_STATES
        ]

    async def purge_finished(self, *, older_than: str) -> int:
        """Delete old terminal tasks and their events; return how many were deleted.

        A task goes when its status timestamp is before ``older_than``; a task without
        a status timestamp is aged by its last write instead.
        """
        self._expire()
        cutoff = effective_timestamp(older_than) or ""
        doomed = [
            task_id
            for task_id in self._finished
            if (
                (entry := self._tasks[task_id])[TASK].status.timestamp or entry[UPDATED]
            )
            < cutoff
        ]
        for task_id in doomed:
            self._drop(task_id)
        return len(doomed)

    # --- execution leases --------------------------------------------------------------

    async def acquire_lease(
        self, task_id: str, *, tenant: str, holder: str, seconds: float
    ) -> Lease | None:
        """Take the lease on ``task_id`` (attempt 1) unless one exists."""
        if task_id in self._leases:
            return None
        lease = Lease(task_id, tenant, holder, 1, self._clock() + seconds)
        self._leases[task_id] = lease
        return lease

    async def renew_leases(
        self, *, holder: str, seconds: float
    ) -> builtins.list[Lease]:
        """Extend every lease ``holder`` holds; return them."""
        expires_at = self._clock() + seconds
        held = [
            replace(lease, expires_at=expires_at)
            for lease in self._leases.values()
            if lease.holder == holder
        ]
        for lease in held:
            self._leases[lease.task_id] = lease
        return held

    async def release_lease(self, task_id: str, *, holder: str) -> None:
        """Delete the lease on ``task_id`` if ``holder`` holds it."""
        lease = self._leases.get(task_id)
        if lease is not None and lease.holder == holder:
            del self._leases[task_id]

    async def request_cancel(self, task_id: str) -> bool:
        """Mark the lease on ``task_id`` cancel-requested; False if there is none."""
        lease = self._leases.get(task_id)
        if lease is None:
            return False
        self._leases[task_id] = replace(lease, cancel_requested=True)
        return True

    async def expired_leases(self) -> builtins.list[Lease]:
        """Return the leases past their expiry."""
        now = self._clock()
        return [
            lease
            for lease in self._leases.values()
            if lease.expires_at <= now and lease.holder != QUEUED
        ]

    async def claim_expired(
        self, *, holder: str, seconds: float, limit: int = 100
    ) -> builtins.list[Lease]:
        """Take over up to ``limit`` expired leases and lease-less unfinished tasks."""
        self._expire()
        now = self._clock()
        claimed = [
            replace(lease, holder=holder, attempt=lease.attempt + 1)
            for lease in self._leases.values()
            if lease.expires_at <= now and lease.holder != QUEUED
        ][:limit]
        cutoff = format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds))
        for entry in self._tasks.values():
            if len(claimed) >= limit:
                break
            task = entry[TASK]
            if (
                task.status.state in UNFINISHED_STATES
                and task.id not in self._leases
                and entry[UPDATED] < cutoff
            ):
                claimed.append(Lease(task.id, entry[TENANT], holder, 2, 0.0))
        claimed = [replace(lease, expires_at=now + seconds) for lease in claimed]
        for lease in claimed:
            self._leases[lease.task_id] = lease
        return claimed

    # --- queued work ---------------------------------------------------------------

    async def queue_lease(
        self, task_id: str, *, holder: str, request: str = ""
    ) -> bool:
        """Hand ``holder``'s lease on ``task_id`` to the queue (attempt one lower)."""
        lease = self._leases.get(task_id)
        if lease is None or lease.holder != holder or holder == QUEUED:
            return False
        # Re-inserted: the dict's order is the queue's order (oldest first).
        del self._leases[task_id]
        self._leases[task_id] = replace(
            lease,
            holder=QUEUED,
            attempt=lease.attempt - 1,
            expires_at=self._clock(),
            request=request,
        )
        return True

    async def queued_count(self) -> int:
        """How many queued rows there are."""
        return sum(1 for lease in self._leases.values() if lease.holder == QUEUED)

    async def claim_queued(
        self, *, holder: str, seconds: float, limit: int
    ) -> builtins.list[Lease]:
        """Take up to ``limit`` queued rows, oldest first (attempt one higher)."""
        expires_at = self._clock() + seconds
        claimed: builtins.list[Lease] = []
        for lease in self._leases.values():
            if len(claimed) >= limit:
                break
            if lease.holder == QUEUED:
                claimed.append(
                    replace(
                        lease,
                        holder=holder,
                        attempt=lease.attempt + 1,
                        expires_at=expires_at,
                    )
                )
        for lease in claimed:
            # The request goes to the claimer only (as in the SQL stores).
            self._leases[lease.task_id] = replace(lease, request="")
        return claimed

    async def withdraw(self, task_id: str) -> bool:
        """Delete ``task_id``'s queued row; False when it is not queued."""
        lease = self._leases.get(task_id)
        if lease is None or lease.holder != QUEUED:
            return False
        del self._leases[task_id]
        return True

    # --- bookkeeping ----------------------------------------------------------------

    def _candidates(self, scope: Scope) -> Iterable[_Entry]:
        if scope.owner is None:
            return (e for e in self._tasks.values() if e[TENANT] == scope.tenant)
        ids = self._by_scope.get((scope.tenant, scope.owner), {})
        return (self._tasks[task_id] for task_id in ids)

    def _track(self, task: Task) -> None:
        """Note a write of ``task``: (re)start its retention clock if it is finished."""
        if task.status.state in TERMINAL_STATES:
            self._finished[task.id] = self._clock()
            self._finished.move_to_end(task.id)
        else:
            self._finished.pop(task.id, None)

    def _expire(self, now: float | None = None) -> None:
        """Drop finished tasks past their retention (oldest first, amortised O(1));
        ``now``: the clock's time, when the caller has read it already."""
        finished = self._finished
        if not finished:
            return
        deadline = (self._clock() if now is None else now) - self._retention
        while finished:
            task_id, updated = next(iter(finished.items()))
            if updated > deadline:
                break
            self._drop(task_id)

    def _evict_one(self) -> None:
        if not self._finished:
            raise StoreError(
                f"in-memory task store is full: all {len(self._tasks)} stored tasks "
                "are unfinished, so none can be evicted (raise max_tasks, or use a "
                "persistent store)"
            )
        self._drop(next(iter(self._finished)))

    def _drop(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id)
        del self._logs[task_id]
        self._drop_push(task_id)
        self._finished.pop(task_id, None)
        ids = self._by_scope[(entry[TENANT], entry[OWNER])]
        del ids[task_id]
        if not ids:
            del self._by_scope[(entry[TENANT], entry[OWNER])]
