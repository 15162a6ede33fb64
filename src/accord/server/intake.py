"""Message intake: what a SendMessage must satisfy before the agent runs (spec §3.1.1).

:func:`prepare` checks the request (role, configuration, accepted media types) and,
for a follow-up message, the task it continues (visible, not terminal, same context,
waiting for input), then makes the :class:`~accord.server.runtime.Execution` the
runtime will run; a follow-up's push-notification config joins its task there.

A follow-up whose ``messageId`` and parts the task's history already holds (a user
message) is a retry of a message the agent has received: it is not delivered again,
whatever the task's state. :func:`prepare` answers :class:`Replay` instead, and the
handler answers the task (:mod:`accord.server.replay`). Spec §3.3.1 lets SendMessage
be idempotent and lets an agent use ``messageId`` to detect duplicates. The same id
with other parts is not a retry but a reused id, refused with InvalidParamsError: it
would otherwise be lost (answered as the earlier message) or shadow it in the history.

``historyLength`` (spec §3.2.4) is checked here (:func:`check_history_length`) and
applied to the tasks the handler answers with (:func:`trim_task`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord._quote import shorten
from accord.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.protocol import lifecycle
from accord.stores.base import Scope
from accord.types import Role, replace

from .runtime import Execution

if TYPE_CHECKING:
    from accord.stores.base import TaskRecord
    from accord.types import SendMessageRequest, Task

    from .agent import Agent
    from .context import CallContext
    from .runtime import Runtime

__all__ = [
    "Replay",
    "check_history_length",
    "check_input_modes",
    "prepare",
    "trim_task",
]


@dataclass(frozen=True, slots=True)
class Replay:
    """A follow-up the task has already received (same ``messageId``): answered with
    the task, never delivered to the agent again."""

    record: TaskRecord
    scope: Scope


def check_history_length(value: int | None, field: str) -> None:
    """Refuse a negative ``historyLength`` (spec §3.2.4)."""
    if value is not None and value < 0:
        raise InvalidParamsError(
            f"{field} must be >= 0 (got {value})",
            field_violations=[(field, "must be >= 0")],
        )


def trim_task(
    task: Task, history_length: int | None, *, artifacts: bool = True
) -> Task:
    """Apply ``historyLength`` (spec §3.2.4) and optionally drop artifacts (ListTasks)."""
    if history_length is None and artifacts:  # nothing to trim: the usual request
        return task
    changes: dict[str, Any] = {}
    if history_length is not None and len(task.history) > history_length:
        changes["history"] = (
            task.history[len(task.history) - history_length :] if history_length else ()
        )
    if not artifacts and task.artifacts:
        changes["artifacts"] = ()
    return replace(task, **changes) if changes else task


async def prepare(
    req: SendMessageRequest, ctx: CallContext, runtime: Runtime
) -> tuple[Execution, TaskRecord | None] | Replay:
    """Check a SendMessage and make its :class:`Execution` (with the task it continues),
    or say it is a :class:`Replay` of a message the task already has.

    Raises the spec's errors before the agent runs: a non-user message, a bad
    configuration, an unaccepted media type; for a follow-up (``message.taskId``) a
    task that is invisible, terminal, in another context, or not waiting for input.
    """
    msg = req.message
    if msg.role is not Role.USER:
        raise InvalidParamsError(
            f"message.role must be ROLE_USER for a client message (got {msg.role.value})",
            field_violations=[("message.role", "must be ROLE_USER")],
        )
    config = req.configuration
    push_config = None
    if config is not None:
        check_history_length(config.history_length, "configuration.historyLength")
        push_config = config.task_push_notification_config
        if push_config is not None:
            if runtime.push is None:
                raise PushNotificationNotSupportedError(
                    "configuration.taskPushNotificationConfig was given, but this agent "
                    "does not support push notifications"
                )
            runtime.push.check(push_config, "configuration.taskPushNotificationConfig")
    for part in msg.parts:
        if part.media_type:  # text parts need not name one: then nothing to check
            check_input_modes(runtime.agent, req)
            break
    if msg.task_id:
        record = await runtime.store.get(msg.task_id, scope=ctx.scope(req.tenant))
        if record is None:
            raise TaskNotFoundError(
                f"Task {shorten(msg.task_id)} not found",
                metadata={"taskId": shorten(msg.task_id)},
            )
        task = record.task
        same_context = not msg.context_id or msg.context_id == task.context_id
        earlier = next(
            (
                m
                for m in task.history
                if m.message_id == msg.message_id and m.role is Role.USER
            ),
            None,
        )
        if earlier is not None and same_context:
            if earlier.parts != msg.parts:
                # Not a retry: a client that reuses ids would have this message lost.
                raise InvalidParamsError(
                    f"message.messageId {shorten(msg.message_id)!r} was already used in "
                    f"task {task.id} for a different message; give every message its "
                    "own messageId (a retry of the same message is answered, not run "
                    "again)",
                    field_violations=[
                        ("message.messageId", "already used for another message")
                    ],
                    metadata={"taskId": task.id},
                )
            return Replay(record, Scope(tenant=record.tenant, owner=record.owner))
        state = task.status.state
        if lifecycle.is_terminal(state):
            # spec §3.1.1 / §3.2: terminal tasks are immutable; continue in a new task.
            raise UnsupportedOperationError(
                f"Task {task.id} is {state.name} and accepts no more messages; send a new "
                f"message in context {task.context_id} (optionally with referenceTaskIds)",
                metadata={"taskId": task.id, "state": state.value},
            )
        if msg.context_id and msg.context_id != task.context_id:
            # spec §3.4.3: taskId and contextId that disagree are rejected.
            raise InvalidParamsError(
                f"message.contextId {shorten(msg.context_id)!r} does not match the context of "
                f"task {task.id} ({task.context_id!r})",
                field_violations=[
                    ("message.contextId", "does not match the task's context")
                ],
            )
        if state not in lifecycle.INTERRUPTED or runtime.live(task.id) is not None:
            raise UnsupportedOperationError(
                f"Task {task.id} is still {state.name}; send the next message when it "
                "asks for input (INPUT_REQUIRED) or authorization (AUTH_REQUIRED)",
                metadata={"taskId": task.id, "state": state.value},
            )
        execution = Execution(
            task_id=task.id,
            context_id=task.context_id,
            message=msg,
            request=req,
            # The task keeps its owner, also when a widened boundary (a tenant
            # administrator) continues it.
            scope=Scope(tenant=record.tenant, owner=record.owner),
            existing=True,
            version=ctx.version,
        )
        if push_config is not None:
            # A webhook given with a follow-up joins the task from now on (a new
            # task's is stored with its creation: recorder.py). runtime.push is set:
            # the configuration was checked above.
            assert runtime.push is not None
            await runtime.push.create(task.id, push_config, scope=execution.scope)
        return execution, record
    # Positional, in the order of Execution's fields (one per request).
    execution = Execution(
        runtime.new_id(),  # task_id
        # context_id (spec §3.4.1: the server may accept a client-chosen contextId or
        # make one; a new one is not the task's id)
        msg.context_id or runtime.new_id(),
        msg,
        req,
        ctx.owner_scope(req.tenant),
        False,  # existing
        ctx.version,
    )
    return execution, None


def check_input_modes(agent: Agent, req: SendMessageRequest) -> None:
    """Refuse parts whose media type the card's ``defaultInputModes`` do not accept."""
    accepted = agent.default_input_modes
    if not accepted:
        return
    for i, part in enumerate(req.message.parts):
        if part.media_type and not any(
            fnmatch.fnmatchcase(
                part.media_type.split(";")[0].strip().lower(), m.lower()
            )
            for m in accepted
        ):
            raise ContentTypeNotSupportedError(
                f"message.parts[{i}] has media type {part.media_type!r}; this agent "
                f"accepts {', '.join(accepted)}",
                field_violations=[(f"message.parts[{i}].mediaType", "not accepted")],
            )
