"""The task lifecycle as a table, and the pure function that applies an event to a task.

Theory of operation (spec §3, §3.1). A task is created in some first state and
moves through states by status updates. Terminal states (COMPLETED, FAILED, CANCELED,
REJECTED) are final: no transition leaves them (task immutability, spec §3.2). The
interrupted states (INPUT_REQUIRED, AUTH_REQUIRED) end a blocking call and a stream,
and the task resumes when the client sends another message. SUBMITTED is only a first
state. ``TASK_STATE_UNSPECIFIED`` is never a real task state.

``apply`` folds one event into a task, returning a new Task (values are immutable).
The same function aggregates a stream on the client side.
"""

from __future__ import annotations

from accord.errors import InvalidAgentResponseError
from accord.types import (
    Artifact,
    Message,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
    replace,
)

__all__ = [
    "ACTIVE",
    "CANCELABLE",
    "INITIAL",
    "INTERRUPTED",
    "TERMINAL",
    "TRANSITIONS",
    "apply",
    "check_transition",
    "ends_stream",
    "is_terminal",
]

S = TaskState

TERMINAL: frozenset[TaskState] = frozenset(
    {S.COMPLETED, S.FAILED, S.CANCELED, S.REJECTED}
)
INTERRUPTED: frozenset[TaskState] = frozenset({S.INPUT_REQUIRED, S.AUTH_REQUIRED})
ACTIVE: frozenset[TaskState] = frozenset({S.SUBMITTED, S.WORKING})
#: Every non-terminal state may be canceled (spec §3.1.5, §3.2.2).
CANCELABLE: frozenset[TaskState] = ACTIVE | INTERRUPTED

_ONGOING = frozenset({S.WORKING}) | INTERRUPTED | TERMINAL

#: States a task may be created in (an agent may skip SUBMITTED, spec §3.1.1, §3.1.6).
INITIAL: frozenset[TaskState] = frozenset({S.SUBMITTED}) | _ONGOING

#: Legal next states of each state.
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.SUBMITTED: _ONGOING,
    S.WORKING: _ONGOING,
    S.INPUT_REQUIRED: _ONGOING,
    S.AUTH_REQUIRED: _ONGOING,
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.UNSPECIFIED: frozenset(),
}


def is_terminal(state: TaskState) -> bool:
    """True for COMPLETED, FAILED, CANCELED and REJECTED."""
    return state in TERMINAL


def ends_stream(state: TaskState) -> bool:
    """True when a blocking call returns and a stream closes at ``state``.

    Terminal and interrupted states (spec §3.2.2, §11.7).
    """
    return state in TERMINAL or state in INTERRUPTED


def check_transition(current: TaskState | None, new: TaskState) -> None:
    """Refuse an illegal transition (``current`` is None for a task being created).

    Raises:
        InvalidAgentResponseError: the agent produced a transition the spec forbids.
    """
    allowed = INITIAL if current is None else TRANSITIONS[current]
    if new not in allowed:
        where = "a new task" if current is None else current.name
        raise InvalidAgentResponseError(
            f"Illegal task state transition: {where} -> {new.name}"
        )


def apply(
    task: Task,
    event: StreamResponse | TaskStatusUpdateEvent | TaskArtifactUpdateEvent | Message,
) -> Task:
    """Return ``task`` with ``event`` applied.

    * a status update replaces the status (after :func:`check_transition`); its message,
      if any, joins the history;
    * an artifact update adds a new artifact, replaces one with the same id, or with
      ``append`` extends its parts (spec §4.1);
    * a message joins the history;
    * a ``task`` snapshot replaces the task wholesale (a change of state is checked
      like a status update).

    A task in a terminal state is immutable (spec §3.1.1, §3.1.6): the only event it takes is
    a snapshot in that same state, the final snapshot a server may re-send (§11.7).

    Raises:
        InvalidAgentResponseError: the event breaks the lifecycle.
    """
    # The agent's updates first: ``isinstance`` is quick for the event's own class,
    # and costs a call for any other Struct class (its metaclass is not ``type``).
    final = task.status.state in TERMINAL  # is_terminal()
    if isinstance(event, TaskStatusUpdateEvent):
        if final:
            raise _immutable(task, event)
        check_transition(task.status.state, event.status.state)
        history = task.history
        msg = event.status.message
        if msg is not None and all(m.message_id != msg.message_id for m in history):
            history = (*history, msg)
        return replace(task, status=event.status, history=history)
    if isinstance(event, TaskArtifactUpdateEvent):
        if final:
            raise _immutable(task, event)
        return replace(task, artifacts=_merge_artifact(task.artifacts, event))
    if isinstance(event, StreamResponse):
        payload = event.payload
        if isinstance(payload, Task):
            if payload.status.state != task.status.state:
                check_transition(task.status.state, payload.status.state)
            return payload
        return apply(task, payload)
    if final:
        raise _immutable(task, event)
    if isinstance(event, Message):
        if any(m.message_id == event.message_id for m in task.history):
            return task
        return replace(task, history=(*task.history, event))
    raise TypeError(f"cannot apply {type(event).__name__} to a task")


def _immutable(task: Task, event: object) -> InvalidAgentResponseError:
    """Why ``task``, in a terminal state, takes no ``event`` (spec §3.1.1)."""
    return InvalidAgentResponseError(
        f"Task {task.id} is {task.status.state.name}, which is final: "
        f"it takes no {type(event).__name__}"
    )


def _merge_artifact(
    artifacts: tuple[Artifact, ...], event: TaskArtifactUpdateEvent
) -> tuple[Artifact, ...]:
    new = event.artifact
    for i, old in enumerate(artifacts):
        if old.artifact_id == new.artifact_id:
            merged = (
                replace(old, parts=(*old.parts, *new.parts)) if event.append else new
            )
            return (*artifacts[:i], merged, *artifacts[i + 1 :])
    return (*artifacts, new)
