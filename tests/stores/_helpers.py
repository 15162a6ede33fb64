"""Builders for the store tests: tasks, events and scopes with readable defaults."""

from __future__ import annotations

from accord.stores import Scope
from accord.types import (
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

ALICE = Scope(tenant="", owner="alice")
BOB = Scope(tenant="", owner="bob")
ALICE_AT_ACME = Scope(tenant="acme", owner="alice")
#: Server maintenance: any owner in the default tenant.
ANY_OWNER = Scope(tenant="", owner=None)


def ts(second: int) -> str:
    """Return a canonical timestamp ``second`` seconds after 2025-01-01T00:00:00Z."""
    minutes, seconds = divmod(second, 60)
    return f"2025-01-01T00:{minutes:02d}:{seconds:02d}.000Z"


def make_task(
    task_id: str,
    *,
    state: TaskState = TaskState.SUBMITTED,
    at: int | None = 0,
    context_id: str = "ctx-1",
    note: str = "",
) -> Task:
    """Return a task in ``state`` whose status timestamp is ``ts(at)`` (None: none)."""
    message = None
    if note:
        message = Message(
            message_id=f"m-{task_id}-{note}",
            context_id=context_id,
            task_id=task_id,
            role=Role.AGENT,
            parts=(Part(text=note),),
        )
    return Task(
        id=task_id,
        context_id=context_id,
        status=TaskStatus(
            state=state, message=message, timestamp=None if at is None else ts(at)
        ),
    )


def created(task: Task) -> StreamResponse:
    """Return the creation event of ``task`` (its first snapshot)."""
    return StreamResponse(task=task)


def status_changed(task: Task) -> StreamResponse:
    """Return the status-update event that moved a task to ``task.status``."""
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(
            task_id=task.id, context_id=task.context_id, status=task.status
        )
    )
