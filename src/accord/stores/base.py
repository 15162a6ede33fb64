"""The TaskStore contract: tasks, their owner/tenant scope, and a per-task event log.

Theory of operation. A task row holds the latest Task snapshot, its ``owner`` (the
authenticated principal that created it) and ``tenant``, and a ``version``. Every
change to a task is recorded as one event in the task's append-only log, with a
sequence number; the row's ``version`` is always the sequence number of the latest
event. So:

* :meth:`TaskStore.create` writes the row (version 1) and event 1 (the creation
  snapshot);
* :meth:`TaskStore.append` writes event ``n+1`` and the new snapshot atomically, but
  only if the row is still at ``expected_version == n`` (optimistic concurrency;
  otherwise :class:`~accord.errors.ConflictError`);
* :meth:`TaskStore.events` reads the log after a sequence number. SubscribeToTask
  replay (``Last-Event-ID``), and later push delivery and audit, read from here.

Every read is scoped by ``owner`` and ``tenant``. A task outside the caller's scope
behaves exactly like a task that does not exist (spec §13.1: no existence oracle).
Owner ``None`` in a :class:`Scope` means "any owner" and is reserved for the server's
own maintenance (recovery, retention), never for a request.

**Execution leases** (multi-instance recovery). The instance that runs a task holds a
:class:`Lease` on it: taken atomically when an execution starts
(:meth:`TaskStore.acquire_lease`; ``None`` when someone holds one already; or with the
task's creation, :meth:`TaskStore.create` ``holder=``), renewed by
the instance's heartbeat (:meth:`TaskStore.renew_leases`, which also reports cancel
requests, :meth:`TaskStore.request_cancel`), deleted when the execution ends
(:meth:`TaskStore.release_lease`, or with its last write: :meth:`TaskStore.append`
``release=``). A lease not renewed in time has *expired*: its
instance is presumed gone. :meth:`TaskStore.claim_expired` hands each expired lease to
exactly one caller, with ``attempt`` one higher. An unfinished task (SUBMITTED or
WORKING) with no lease at all whose last write is older than the lease duration is
claimed the same way (a task from before leases existed, or whose instance died
between creating it and taking the lease), as attempt 2. Lease expiry is measured on
the store's clock (PostgreSQL's ``now()``; the host's clock for SQLite, which all
instances on one file share), so instance clocks need not agree.

**Queued work** is a lease row nobody holds (``holder`` ``""``, :data:`QUEUED`): work
that any instance may start. An instance hands a lease it holds to the queue
(:meth:`TaskStore.queue_lease`: ``attempt`` one lower, so that the claim gives the same
attempt again; queued since the store's *now*); :meth:`TaskStore.claim_queued` hands
queued rows out, oldest first, each to exactly one caller, with ``attempt`` one higher
(a queued first run is claimed as attempt 1); :meth:`TaskStore.withdraw` deletes a
queued row nobody claimed (CancelTask), and of a withdraw and a claim of one row
exactly one succeeds. Queued rows are not expired leases: :meth:`expired_leases` and
:meth:`claim_expired` never return them, nor is a queued task an orphan.

**Push-notification configs and their delivery** (:class:`PushConfigStore`, spec §4.3).
Each webhook registered for a task is one row keyed by ``(task_id, config_id)``, with
the task's owner and tenant (reads are scoped like the task's). The config itself is
opaque bytes to the store: the server encodes it and, with a key, encrypts it (its
credentials are secrets). The row is also the config's *outbox*: the task's event log
is what is delivered, and the row keeps how far delivery got (``delivered_seq``), the
failures since the last success and when to try next, and a delivery lease, so with
many instances each delivery is made by one of them and any of them may make it. A
config whose deliveries failed past the give-up point is *dead-lettered*: it keeps its
position and reason and is delivered no more until revived. Configs go with their
task (retention, deletion).

Stores raise :class:`~accord.errors.StoreError` subclasses, never driver exceptions.
Stores import only ``accord.types`` and ``accord.errors`` (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from accord._slots import slot_setters

if TYPE_CHECKING:
    import builtins
    from collections.abc import Sequence

    from accord.types import StreamResponse, Task, TaskState

__all__ = [
    "MAX_PAGE_SIZE",
    "QUEUED",
    "Lease",
    "PushConfigRecord",
    "PushConfigStore",
    "PushDelivery",
    "Scope",
    "StoredEvent",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "TaskStore",
]

#: Largest ListTasks page (spec §3.1.4: page size 1..100).
MAX_PAGE_SIZE = 100
#: The ``holder`` of a queued lease row: nobody holds it; any instance may claim it.
QUEUED = ""


@dataclass(frozen=True, slots=True, init=False)
class Scope:
    """Who is asking: the authorization boundary of every read and write (spec §13.1).

    ``owner=None`` matches every owner; only server maintenance may use it.
    """

    # The defaults are __init__'s.
    tenant: str
    owner: str | None

    def __init__(self, tenant: str = "", owner: str | None = "") -> None:
        # Written out (see TaskRecord.__init__): a request builds two.
        _set_scope_tenant(self, tenant)
        _set_scope_owner(self, owner)


@dataclass(frozen=True, slots=True, init=False)
class TaskRecord:
    """A stored task with its scope and version (= seq of its latest event)."""

    task: Task
    owner: str
    tenant: str
    version: int

    def __init__(self, task: Task, owner: str, tenant: str, version: int) -> None:
        # Written out rather than generated: a frozen dataclass's __init__ sets each
        # field through object.__setattr__; setting the slots through their own
        # descriptors keeps the class frozen (assignment still raises
        # FrozenInstanceError; eq, hash, repr and replace unchanged) at a fraction
        # of the cost, and every store write returns a record.
        _set_record_task(self, task)
        _set_record_owner(self, owner)
        _set_record_tenant(self, tenant)
        _set_record_version(self, version)


# The slots' own setters (see TaskRecord.__init__).
_set_scope_tenant, _set_scope_owner = slot_setters(Scope, "tenant", "owner")
_set_record_task, _set_record_owner, _set_record_tenant, _set_record_version = (
    slot_setters(TaskRecord, "task", "owner", "tenant", "version")
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One entry of a task's event log."""

    task_id: str
    seq: int
    event: StreamResponse


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """ListTasks filters (spec §3.1.4) plus the caller's scope.

    ``state`` ``None`` means no filter. ``status_after`` keeps tasks whose
    ``status.timestamp`` is at or after the given canonical timestamp. ``cursor`` is the
    opaque token a previous page returned (``""`` for the first page).
    """

    scope: Scope
    context_id: str = ""
    state: TaskState | None = None
    status_after: str | None = None
    page_size: int = 50
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of tasks, newest ``status.timestamp`` first (spec §3.1.4)."""

    tasks: tuple[Task, ...]
    #: ``""`` on the last page.
    next_cursor: str
    #: Number of tasks matching the query before pagination.
    total_size: int


@dataclass(frozen=True, slots=True)
class Lease:
    """The right of one instance (``holder``) to run one task, until ``expires_at``.

    ``attempt`` is 1 for the first execution and grows by one each time an expired
    lease is claimed. ``expires_at`` is in seconds on the store's clock (epoch seconds
    for the durable stores). ``cancel_requested`` is set by a CancelTask that reached
    an instance not running the task; the holder sees it on its next renewal.
    A queued row (:data:`QUEUED` holder) has ``expires_at`` = when it was queued,
    and carries ``request``: what :meth:`TaskStore.queue_lease` was given (opaque to
    the store; the server keeps the request's options there).
    """

    task_id: str
    tenant: str
    holder: str
    attempt: int
    expires_at: float
    cancel_requested: bool = False
    request: str = ""


@runtime_checkable
class TaskStore(Protocol):
    """Durable (or in-memory) storage of tasks and their event logs.

    Implementations are async context managers: ``async with store: ...`` opens and
    closes connections. All methods are safe to call concurrently.
    """

    async def __aenter__(self) -> TaskStore: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

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
        """Store a new task (version 1) and its first event (seq 1).

        ``scope.owner`` must not be None. With a ``holder``, the task's lease is taken
        in the same transaction, as :meth:`acquire_lease` would (attempt 1, held by
        ``holder`` for ``seconds``): an execution's new task is leased from the moment
        anyone can see it, without a write of its own.

        ``more``: events that followed the first (seq 2, 3, ...), written by the same
        transaction; ``task`` is then the snapshot after the last of them and the
        version is ``1 + len(more)``. A turn that writes its task's whole beginning at
        once (server/recorder.py) costs one transaction instead of one per event.

        Raises:
            ConflictError: a task with this id already exists, or (with a
                ``holder``) a lease on it does; nothing is written.
        """
        ...

    async def get(self, task_id: str, *, scope: Scope) -> TaskRecord | None:
        """Return the task if it exists within ``scope``, else None."""
        ...

    async def append(
        self,
        task: Task,
        event: StreamResponse,
        *,
        expected_version: int,
        release: str | None = None,
    ) -> TaskRecord:
        """Record ``event`` (seq ``expected_version + 1``) and the snapshot ``task``.

        With ``release``, the same transaction deletes the task's lease if the holder
        ``release`` still holds it, as :meth:`release_lease` would (the write that ends
        an execution's turn hands its lease back without a write of its own).

        Raises:
            ConflictError: the stored version is not ``expected_version`` (someone else
                wrote first) or the task does not exist.
        """
        ...

    async def events(
        self, task_id: str, *, after: int, scope: Scope
    ) -> list[StoredEvent]:
        """Return the task's events with ``seq > after``, oldest first.

        Returns an empty list when the task is not visible within ``scope``.
        """
        ...

    async def list(self, query: TaskQuery) -> TaskPage:
        """Return one page of the tasks matching ``query`` within its scope.

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
        """
        ...

    # ``builtins.list``: inside this class body ``list`` names the method above.
    async def unfinished(self) -> builtins.list[TaskRecord]:
        """Return every task in SUBMITTED or WORKING state, any owner and tenant.

        Used at start-up to find work a previous process left running (recovery).
        """
        ...

    async def purge_finished(self, *, older_than: str) -> int:
        """Delete old terminal tasks and their events; return how many were deleted.

        A task goes when its status timestamp is before ``older_than`` (a canonical
        timestamp).
        """
        ...

    # --- execution leases (see the module docstring) --------------------------------

    async def acquire_lease(
        self, task_id: str, *, tenant: str, holder: str, seconds: float
    ) -> Lease | None:
        """Take the lease on ``task_id`` for ``seconds``, attempt 1, if nobody has one.

        Returns None when a lease exists (live or expired: an expired lease belongs to
        :meth:`claim_expired`). The task need not exist yet.
        """
        ...

    async def renew_leases(
        self, *, holder: str, seconds: float
    ) -> builtins.list[Lease]:
        """Extend every lease ``holder`` holds to ``seconds`` from now; return them.

        A lease missing from the result was lost (it expired and was claimed), so its
        execution must stop. ``cancel_requested`` tells which ones to cancel.
        """
        ...

    async def release_lease(self, task_id: str, *, holder: str) -> None:
        """Delete the lease on ``task_id`` if ``holder`` still holds it."""
        ...

    async def request_cancel(self, task_id: str) -> bool:
        """Mark the lease on ``task_id`` as cancel-requested; False if there is none."""
        ...

    async def expired_leases(self) -> builtins.list[Lease]:
        """Return the leases that have expired and are not claimed yet."""
        ...

    async def claim_expired(
        self, *, holder: str, seconds: float, limit: int = 100
    ) -> builtins.list[Lease]:
        """Atomically take over up to ``limit`` expired leases (and lease-less orphans).

        Each is handed to exactly one caller, even across processes, with
        ``attempt`` one higher, held by ``holder`` for ``seconds``.
        """
        ...

    # --- queued work (see the module docstring) ---------------------------------------

    async def queue_lease(
        self, task_id: str, *, holder: str, request: str = ""
    ) -> bool:
        """Hand the lease ``holder`` holds on ``task_id`` to the queue.

        The row becomes queued (:data:`QUEUED` holder, ``attempt`` one lower, queued
        now, carrying ``request``), keeping its cancel request. False (nothing
        changed) when ``holder`` does not hold it.
        """
        ...

    async def queued_count(self) -> int:
        """How many queued rows there are (the queue's bound is checked against it)."""
        ...

    async def claim_queued(
        self, *, holder: str, seconds: float, limit: int
    ) -> builtins.list[Lease]:
        """Atomically take up to ``limit`` queued rows, oldest first.

        Each is handed to exactly one caller, even across processes, with ``attempt``
        one higher, held by ``holder`` for ``seconds``; returned oldest first.
        """
        ...

    async def withdraw(self, task_id: str) -> bool:
        """Delete ``task_id``'s queued row; False when it is not queued (or claimed)."""
        ...


# --- push-notification configs (see the module docstring) ---------------------------


@dataclass(frozen=True, slots=True)
class PushConfigRecord:
    """A stored push-notification config of one task, and its delivery position."""

    task_id: str
    config_id: str
    tenant: str
    owner: str
    #: The config as the server encoded it (encrypted when a key is configured).
    data: bytes
    #: Events with a sequence number up to this one are delivered (or predate the
    #: config): delivery resumes after it.
    delivered_seq: int
    #: Failed attempts since the last successful delivery.
    failures: int = 0
    #: Why the config was dead-lettered; ``""`` while it is live.
    dead_reason: str = ""


@dataclass(frozen=True, slots=True)
class PushDelivery:
    """A config with events to deliver, leased to one deliverer (``holder``).

    ``version`` is the task's latest event sequence number when claimed: the events
    ``delivered_seq + 1 .. version`` are due, in order.
    """

    config: PushConfigRecord
    version: int
    holder: str


@runtime_checkable
class PushConfigStore(Protocol):
    """Push-notification configs per task and their delivery outbox (spec §4.3).

    Implemented by every task store, on the same database as the tasks. Scoped reads
    behave like :meth:`TaskStore.get`: a config of a task outside the caller's scope
    does not exist. Delivery methods are maintenance (any owner and tenant).
    """

    async def put_push_config(
        self,
        task_id: str,
        config_id: str,
        data: bytes,
        *,
        scope: Scope,
        after_seq: int | None = None,
    ) -> PushConfigRecord | None:
        """Create the config, or replace the data of the existing one with this id.

        A new config is delivered the task's events after ``after_seq`` (None: the
        task's current version, so only what happens from now; 0: the whole log, for a
        config given with the message that created the task). Replacing keeps the
        delivery position and revives a dead-lettered config. Returns None (nothing
        written) when the task does not exist within ``scope``.
        """
        ...

    async def get_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> PushConfigRecord | None:
        """Return the config if its task is visible within ``scope``, else None."""
        ...

    async def list_push_configs(
        self, task_id: str, *, scope: Scope, page_size: int, cursor: str = ""
    ) -> tuple[builtins.list[PushConfigRecord], str]:
        """One page of the task's configs in ``config_id`` order, and the cursor of
        the next page (``""`` on the last). Empty when the task is not visible.

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
        """
        ...

    async def delete_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Delete the config; False when there was none within ``scope``."""
        ...

    # --- delivery (the outbox) ---------------------------------------------------------

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> builtins.list[PushDelivery]:
        """Lease up to ``limit`` configs that have events to deliver.

        Due are live (not dead-lettered) configs whose task has events after their
        ``delivered_seq``, whose next attempt time has come, and that nobody holds
        (no lease, or an expired one). Each is handed to exactly one caller, even
        across processes, held by ``holder`` for ``seconds``; the longest-waiting
        first.
        """
        ...

    async def push_delivered(
        self, task_id: str, config_id: str, *, holder: str, seq: int
    ) -> bool:
        """Record that events up to ``seq`` were delivered (failures reset to 0; the
        lease is kept). False when ``holder`` no longer holds the config (it was
        claimed by another deliverer, or deleted): stop delivering it."""
        ...

    async def push_failed(
        self,
        task_id: str,
        config_id: str,
        *,
        holder: str,
        retry_in: float | None,
        reason: str,
    ) -> bool:
        """Record a failed attempt and release the lease: tried again ``retry_in``
        seconds from now, or (None) dead-lettered with ``reason``. False when
        ``holder`` no longer holds the config."""
        ...

    async def release_push(self, task_id: str, config_id: str, *, holder: str) -> None:
        """Release the lease ``holder`` holds on the config (its next claim may come
        at once)."""
        ...

    async def renew_push_leases(
        self, keys: Sequence[tuple[str, str]], *, holder: str, seconds: float
    ) -> int:
        """Hold the configs ``keys`` (task id, config id) that ``holder`` still holds
        for ``seconds`` from now: its deliveries under way keep their configs however
        long an attempt lasts. Returns how many it still held (another deliverer may
        have claimed one whose lease had run out, or it was deleted)."""
        ...

    async def dead_push_configs(
        self, *, scope: Scope, limit: int = 100
    ) -> builtins.list[PushConfigRecord]:
        """The dead-lettered configs within ``scope`` (owner None: every owner)."""
        ...

    async def revive_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Make a dead-lettered config live again (failures reset, due at once);
        False when there is no dead-lettered config of that id within ``scope``."""
        ...
