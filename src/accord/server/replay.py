"""Replays: the answer to a follow-up the task already has (same ``messageId``).

A client that did not get the answer to a SendMessage (a timeout, a dropped
connection) sends the same message again; spec §3.3.1 lets SendMessage be idempotent
and lets an agent detect duplicates by ``messageId``. Accord detects them for
follow-ups (a message with ``taskId`` whose id the task's history holds as a user
message, :func:`~accord.server.intake.prepare`) and answers as the first call would
have, without delivering the message to the agent again:

* SendMessage waits, as a blocking call does, until the task's turn is over (a
  terminal or interrupted state, spec §3.1.1) and answers the task; when it is over
  already, or with ``returnImmediately``, it answers the task as it stands.
* SendStreamingMessage streams the task's snapshot, then, while its turn runs, the
  task's events until the turn is over (spec §3.1.2).

A first message (no ``taskId``) cannot be recognised this way: it always starts a
new task. The wait reads the task whenever its events say it changed, and at least
every :data:`REREAD` seconds (wake-ups do not cross processes that share a SQLite file).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING

from accord.protocol import lifecycle
from accord.types import StreamResponse, TaskState

from .streams import HandlerStream, live_events

if TYPE_CHECKING:
    from accord.stores import Scope, TaskRecord

    from .events import Subscription
    from .handler import RequestHandler
    from .intake import Replay
    from .streams import Events

__all__ = ["REREAD", "settled", "stream"]

#: Longest wait (seconds) between two reads of a task whose turn a replay waits for.
REREAD = 1.0

_RUNNING = (TaskState.SUBMITTED, TaskState.WORKING)


async def settled(handler: RequestHandler, replay: Replay, *, wait: bool) -> TaskRecord:
    """The task a replayed SendMessage answers: when ``wait`` (a blocking call) and
    its turn still runs, as it stands once the turn is over (see the module doc)."""
    record = replay.record
    if wait and record.task.status.state in _RUNNING:
        return await handler.await_state(
            record.task.id, replay.scope, _turn_over, poll=REREAD
        )
    return record


def _turn_over(state: TaskState) -> bool:
    return state not in _RUNNING


def stream(handler: RequestHandler, replay: Replay) -> HandlerStream:
    """SendStreamingMessage's stream for a replayed message (see the module doc)."""
    task_id = replay.record.task.id
    sub = handler.subscribe(task_id, replay.scope)
    return HandlerStream(sub, _events(handler, sub, task_id, replay.scope))


async def _events(
    handler: RequestHandler, sub: Subscription, task_id: str, scope: Scope
) -> Events:
    record = await handler.visible(task_id, scope)  # after subscribing: no gap
    yield record.version, StreamResponse(task=record.task)
    sub.last_seq = record.version
    if record.task.status.state not in _RUNNING:
        return
    # spec §3.1.2: the stream of a message ends with its turn.
    async with aclosing(live_events(sub, lifecycle.ends_stream)) as events:
        async for seq, event in events:
            yield seq, event
