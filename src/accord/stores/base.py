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

Stores raise :class:`~accord.errors.StoreError` subclasses, never driver exceptions.
Stores import only ``accord.types`` and ``accord.errors`` (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import builtins

    from accord.types import StreamResponse, Task, TaskState

__all__ = [
    "MAX_PAGE_SIZE",
    "Scope",
    "StoredEvent",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "TaskStore",
]

#: Largest ListTasks page (spec §3.1.4: page size 1..100).
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Scope:
    """Who is asking: the authorization boundary of every read and write (spec §13.1).

    ``owner=None`` matches every owner; only server maintenance may use it.
    """

    tenant: str = ""
    owner: str | None = ""


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A stored task with its scope and version (= seq of its latest event)."""

    task: Task
    owner: str
    tenant: str
    version: int


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


@runtime_checkable
class TaskStore(Protocol):
    """Durable (or in-memory) storage of tasks and their event logs.

    Implementations are async context managers: ``async with store: ...`` opens and
    closes connections. All methods are safe to call concurrently.
    """

    async def __aenter__(self) -> TaskStore: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def create(
        self, task: Task, event: StreamResponse, *, scope: Scope
    ) -> TaskRecord:
        """Store a new task (version 1) and its first event (seq 1).

        ``scope.owner`` must not be None.

        Raises:
            ConflictError: a task with this id already exists.
        """
        ...

    async def get(self, task_id: str, *, scope: Scope) -> TaskRecord | None:
        """Return the task if it exists within ``scope``, else None."""
        ...

    async def append(
        self, task: Task, event: StreamResponse, *, expected_version: int
    ) -> TaskRecord:
        """Record ``event`` (seq ``expected_version + 1``) and the snapshot ``task``.

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
