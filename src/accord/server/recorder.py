"""Recorder: the single writer of one task's events within an execution.

Each progress call of the agent (through its :class:`~accord.server.agent.TaskContext`)
becomes one event: checked against the lifecycle table (spec §4.1.3), appended to the
store with optimistic concurrency, then published to the runtime's
:class:`~accord.server.events.TaskEvents`. A lock keeps one write at a time (an agent
that writes from several of its own tasks still gets a linear log).

The recorder of a blocking SendMessage's new task keeps the task's first events in
memory and writes them with one store call when the turn ends, when the agent calls
``ctx.submit()``, after :data:`BUFFER_MAX` events, or as soon as the agent waits for
anything else (:mod:`accord.server.write_behind`, which says why nothing is lost).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from accord._clock import now_timestamp
from accord.protocol import lifecycle
from accord.types import (
    UNSET,
    Artifact,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    replace,
)

from .agent import Content, agent_message
from .events import Update

if TYPE_CHECKING:
    from accord.stores import TaskRecord
    from accord.types import Message

    from .runtime import Execution, Runtime

__all__ = ["BUFFER_MAX", "YIELD_EVERY", "Recorder"]

#: Writes after which a recorder yields to the event loop (see ``Recorder._write``).
YIELD_EVERY = 32
#: Events a new task's recorder keeps unwritten at most (write_behind.py): the next
#: one writes them all, so an agent that streams without ever waiting is written in
#: batches of this size.
BUFFER_MAX = 32


class _WriteLock:
    """One write at a time, in order of arrival; made for the uncontended case.

    An agent writes sequentially almost always, so taking the lock costs one
    cancellation check (as ``anyio.Lock(fast_acquire=True)`` would) and no task
    bookkeeping; a writer that finds it held parks on an Event.

    The check is what keeps a cancelled execution from writing another event to a
    store that never suspends (memory). Inside the shielded scope of an inline
    execution (:attr:`shield`), only that scope's cancellation (CancelTask, shutdown,
    fencing: :meth:`Execution.cancel <accord.server.execution.Execution.cancel>`)
    can stop the agent, so reading its ``cancel_called`` replaces anyio's check (a
    backend lookup, the current task, its scopes: a few percent of a blocking
    SendMessage). Otherwise, or once that scope is cancelled, anyio checks. A
    cancel scope the agent opens itself is noticed at its next await that suspends.
    """

    __slots__ = ("_held", "_waiters", "shield")

    def __init__(self) -> None:
        self._held = False
        #: Writers parked on the lock; made by the first one (most locks never see any).
        self._waiters: deque[anyio.Event] | None = None
        #: The shielded cancel scope the writers run in, while they do (see above).
        self.shield: anyio.CancelScope | None = None

    async def __aenter__(self) -> None:
        shield = self.shield
        if shield is None or shield.cancel_called:
            await anyio.lowlevel.checkpoint_if_cancelled()
        while self._held:
            woken = anyio.Event()
            waiters = self._waiters
            if waiters is None:
                waiters = self._waiters = deque()
            waiters.append(woken)
            try:
                await woken.wait()
            except BaseException:
                if woken.is_set():
                    self._wake_next()  # pass on the wake-up this writer will not use
                else:
                    waiters.remove(woken)
                raise
        self._held = True

    async def __aexit__(self, *exc_info: object) -> None:
        self._held = False
        self._wake_next()

    def locked(self) -> bool:
        return self._held

    def _wake_next(self) -> None:
        if not self._held and self._waiters:
            self._waiters.popleft().set()


class Recorder:
    """The single writer of one task's events within an execution."""

    # One per execution: slots make it cheaper to make (and to read on each write).
    __slots__ = (
        "_behind",
        "_buffer",
        "_context_id",
        "_lease",
        "_lock",
        "_message",
        "_push_config",
        "_queued_first",
        "_runtime",
        "_scope",
        "_snapshots",
        "_task",
        "_task_id",
        "_version",
        "_writes",
        "ended",
        "reply_message",
    )

    def __init__(
        self,
        runtime: Runtime,
        execution: Execution,
        record: TaskRecord | None,
        write_behind: bool = False,
    ) -> None:
        self._runtime = runtime
        # The execution's fields, not the execution: it holds this recorder, and a
        # cycle would leave every finished execution to the cyclic GC (bench/README.md).
        self._task_id = execution.task_id
        self._context_id = execution.context_id
        self._message = execution.message
        self._scope = execution.scope
        self._lease = execution.lease
        #: A queued first run: the client already has the task (queue.py).
        self._queued_first = execution.queued and not execution.existing
        config = execution.request.configuration
        #: The webhook the message that creates the task gave (spec §4.3), stored with
        #: the creation so that it is delivered the task's whole log.
        self._push_config = (
            config.task_push_notification_config
            if config is not None and not execution.existing
            else None
        )
        #: The task as this recorder knows it (written, or buffered), and its version
        #: (the seq of its latest event).
        self._task: Task | None = None if record is None else record.task
        self._version = 0 if record is None else record.version
        #: The Message the agent answered with (reply), if it did.
        self.reply_message: Message | None = None
        #: True once the turn is over (terminal or interrupted state, or a reply).
        self.ended = False
        self._lock = _WriteLock()
        self._writes = 0
        #: With ``write_behind`` (a blocking send's new task): the task's first
        #: events, not written yet (the n-th is seq n); None once written (or when
        #: not buffering). ``_snapshots`` holds the task after each of them.
        self._behind = runtime.write_behind
        self._buffer: list[StreamResponse] | None = [] if write_behind else None
        self._snapshots: list[Task] = []

    @property
    def task_id(self) -> str:
        return self._task_id

    def shielded_by(self, scope: anyio.CancelScope | None) -> None:
        """The writes run in ``scope``, shielded (an inline execution), or no longer
        (None): the lock's cancellation check reads that scope (:class:`_WriteLock`)."""
        self._lock.shield = scope

    @property
    def created(self) -> bool:
        """True once the task is in the store."""
        return self._task is not None and not self._buffer

    @property
    def written_task(self) -> Task | None:
        """The task as last written to the store (None when it never was)."""
        # :attr:`created`, spelt out: each blocking send reads this.
        task = self._task
        return task if task is not None and not self._buffer else None

    @property
    def replied(self) -> bool:
        """True when the agent answered with a Message instead of a task."""
        return self.reply_message is not None

    @property
    def task(self) -> Task | None:
        return self._task

    def _closed(self, what: str) -> RuntimeError:
        """Why a progress call after the end of the turn fails (checked by the caller:
        ``what`` is formatted only then)."""
        state = self.task.status.state.name if self.task else "replied"
        return RuntimeError(
            f"cannot {what}: this turn of task {self._task_id} is over ({state}); "
            "return from the agent (a follow-up message starts a new call)"
        )

    async def status(
        self, state: TaskState, content: Content | None, *, data: Any = UNSET
    ) -> None:
        async with self._lock:
            if self.ended:
                raise self._closed(f"set state {state.name}")
            await self._write_status(state, content, data=data)

    async def _write_status(
        self, state: TaskState, content: Content | None, *, data: Any = UNSET
    ) -> None:
        message = agent_message(
            content, task_id=self._task_id, context_id=self._context_id, data=data
        )
        status = TaskStatus(state=state, message=message, timestamp=now_timestamp())
        if self._task is None:
            await self._create()
        assert self._task is not None
        event = TaskStatusUpdateEvent(
            task_id=self._task_id, context_id=self._context_id, status=status
        )
        task = lifecycle.apply(self._task, event)
        final = lifecycle.ends_stream(state)
        await self._write(task, StreamResponse(status_update=event), final=final)
        if final:
            self.ended = True

    async def artifact(
        self, artifact: Artifact, *, append: bool, last_chunk: bool
    ) -> None:
        async with self._lock:
            if self.ended:
                raise self._closed("publish an artifact")
            if self._task is None:
                await self._create()
            assert self._task is not None
            if append and all(
                a.artifact_id != artifact.artifact_id for a in self._task.artifacts
            ):
                raise ValueError(
                    f"append_artifact: no artifact {artifact.artifact_id!r} was added to this task"
                )
            event = TaskArtifactUpdateEvent(
                task_id=self._task_id,
                context_id=self._context_id,
                artifact=artifact,
                append=append,
                last_chunk=last_chunk,
            )
            task = lifecycle.apply(self._task, event)
            await self._write(task, StreamResponse(artifact_update=event))

    async def submit(self) -> None:
        async with self._lock:
            if self.ended:
                raise self._closed("submit the task")
            if self._task is None:
                await self._create()
            await self._flush()  # submit() asks for the task to be visible now

    async def reply(self, content: Content, *, data: Any = UNSET) -> None:
        async with self._lock:
            if self.ended:
                raise self._closed("reply")
            if self._task is not None and self._queued_first:
                # The client already has the task, so the reply completes it.
                await self._write_status(TaskState.COMPLETED, content, data=data)
                return
            if self._task is not None:
                raise RuntimeError(
                    "reply() answers with a Message instead of a task, but this message "
                    "already has a task; use complete(...) to finish it with a message"
                )
            message = agent_message(content, context_id=self._context_id, data=data)
            if message is None:
                raise ValueError("reply() needs content")
            self.reply_message = message
            self.ended = True
            events = self._runtime.events
            # Outside the log (seq 0): only this process's subscribers get it
            # (TaskEvents contract); with none, there is nobody to tell.
            if events.subscriber_count(self._task_id):
                await events.publish(
                    self._task_id,
                    Update(seq=0, event=StreamResponse(message=message), task=None),
                )

    async def _create(self) -> None:
        """Create the task (SUBMITTED, the message in its history): buffered, or
        written. Its callers check first that it does not exist (saving a coroutine
        on every later progress call)."""
        task_id, context_id = self._task_id, self._context_id
        history = (replace(self._message, task_id=task_id, context_id=context_id),)
        task = Task(
            id=task_id,
            context_id=context_id,
            status=TaskStatus(state=TaskState.SUBMITTED, timestamp=now_timestamp()),
            history=history,
        )
        event = StreamResponse(task=task)
        if self._buffer is not None:
            self._task, self._version = task, 1
            self._buffer.append(event)
            self._snapshots.append(task)
            self._behind.add(self)
            return
        record = await self._runtime.leases.create(
            self._lease, self._scope, task, event
        )
        self._task, self._version = record.task, record.version
        await self._store_push_config()
        await self._runtime.events.publish(
            task_id, Update(seq=1, event=event, task=task, created=True)
        )
        self._runtime.task_event_written()

    async def _flush(self, *, final: bool = False) -> None:
        """Write the buffered updates (write_behind.py) with one store call; a
        ``final`` flush (the turn ends) creates the task without a lease."""
        buffer = self._buffer
        if not buffer:
            return
        snapshots = self._snapshots
        record = await self._runtime.leases.create(
            self._lease,
            self._scope,
            snapshots[-1],
            buffer[0],
            more=buffer[1:],
            final=final,
        )
        self._buffer, self._snapshots = None, []
        self._behind.discard(self)
        self._task, self._version = record.task, record.version
        if self._push_config is not None:
            await self._store_push_config()
        # Written with the task's creation, these wake no other instance
        # (Update.created): only this process's subscribers, if any, get them.
        events = self._runtime.events
        if events.subscriber_count(self._task_id):
            for seq, (event, task) in enumerate(zip(buffer, snapshots, strict=True), 1):
                await events.publish(
                    self._task_id, Update(seq=seq, event=event, task=task, created=True)
                )
        self._runtime.task_event_written()

    async def _store_push_config(self) -> None:
        """Store the creating message's webhook, now that its task exists: it is
        delivered from the task's first event (after_seq 0)."""
        config = self._push_config
        if config is None:
            return
        self._push_config = None
        push = self._runtime.push
        assert push is not None  # intake refuses a config the agent cannot deliver
        await push.create(self._task_id, config, scope=self._scope, after_seq=0)

    async def flush_waiting(self) -> bool:
        """Write the buffer now that the agent waits (write_behind.py); False when
        there was nothing to do (a write in flight writes it, or it was written)."""
        if self._lock.locked() or not self._buffer:
            return False
        async with self._lock:
            if not self._buffer:
                return False
            await self._flush()
            return True

    async def _write(
        self, task: Task, event: StreamResponse, *, final: bool = False
    ) -> None:
        buffer, snapshots = self._buffer, self._snapshots
        if buffer:
            before = self._task, self._version
            if not self._buffer_more(buffer, task, event, final=final):
                return
            try:
                await self._flush(final=final)
            except BaseException:
                # Nothing was written: this event is not in the task (its caller sees
                # the error); the ones before it stay buffered.
                buffer.pop()
                snapshots.pop()
                self._task, self._version = before
                raise
            return
        # The write that ends the turn releases the lease (leases.py).
        record = await self._runtime.leases.append(
            self._lease, task, event, expected_version=self._version, final=final
        )
        self._task, self._version = record.task, record.version
        await self._runtime.events.publish(
            self._task_id, Update(seq=record.version, event=event, task=task)
        )
        self._runtime.task_event_written()
        self._writes += 1
        if self._writes % YIELD_EVERY == 0:
            # A store that never suspends (memory) would let an agent that streams in
            # a loop run to the end before any subscriber is served.
            await anyio.lowlevel.checkpoint()

    def _buffer_more(
        self,
        buffer: list[StreamResponse],
        task: Task,
        event: StreamResponse,
        *,
        final: bool,
    ) -> bool:
        """Buffer one more of a new task's first updates (write_behind.py); True when
        the buffer must be written now: the turn ends, or the buffer is full.

        Not a coroutine: most updates only join the buffer (:meth:`_write` writes).
        """
        buffer.append(event)  # seq ``version``: its place in the buffer
        self._snapshots.append(task)
        self._task, self._version = task, self._version + 1
        if not final and len(buffer) < BUFFER_MAX:
            self._behind.add(self)
            return False
        return True

    async def resume(self) -> None:
        """Record the client's follow-up message and move the task back to WORKING."""
        async with self._lock:
            assert self._task is not None
            task_id, context_id = self._task_id, self._context_id
            status = TaskStatus(state=TaskState.WORKING, timestamp=now_timestamp())
            event = TaskStatusUpdateEvent(
                task_id=task_id, context_id=context_id, status=status
            )
            task = lifecycle.apply(self._task, event)
            task = lifecycle.apply(
                task, replace(self._message, task_id=task_id, context_id=context_id)
            )
            await self._write(task, StreamResponse(status_update=event))

    async def finish(self, state: TaskState, text: str | None) -> None:
        """End the turn from the framework's side (auto-complete, error, cancel)."""
        async with self._lock:
            if self.ended:
                return
            await self._write_status(state, text)
