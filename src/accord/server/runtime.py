"""The task runtime: runs agent executions in one owned task group and records events.

Theory of operation.

* :class:`Runtime` is an async context manager. Inside it, one anyio task group owns
  every agent execution; nothing is detached. A request that starts work returns (or its
  client disconnects) without affecting the execution: the work belongs to the runtime,
  not to the request (spec §3.5.2: closing a stream never affects the task). The one
  exception to the task group is a blocking SendMessage (:meth:`Runtime.run_inline`):
  its request waits for the turn to end anyway, so the execution runs in the request's
  task, in a cancel scope shielded from the request's cancellation; it is live, leased,
  cancellable and drained like any other. A task per call (its spawn, scope and
  wake-ups) was a fifth of such a request's CPU (bench/README.md).
* An :class:`Execution` is one call of the agent for one incoming message. Its
  :class:`Recorder` is the only writer of that task in this process: each progress call
  becomes one event, checked against the lifecycle table, appended to the store with
  optimistic concurrency, then published to the runtime's
  :class:`~accord.server.events.TaskEvents`.
* Cancel (CancelTask) cancels the execution's cancel scope; the execution records
  CANCELED under a shielded scope. A CancelTask received by another instance is a
  request stored on the lease; every execution that holds (or is taking) its task's
  lease watches the task's cancel wake-ups
  (:meth:`~accord.server.events.TaskEvents.watch_cancel`), which make the lease
  heartbeat read the request at once (:meth:`~accord.server.leases.Leases.nudge`).
* An exception from the agent fails the task with a generic status message carrying an
  error id; the traceback is logged at ERROR with the same id. The exception's text
  reaches the partner only when the app opts in (``expose_errors``): an agent states a
  deliberate reason with ``ctx.fail(...)``.
* Shutdown (:meth:`Runtime.begin_shutdown`, or leaving the context): new work is refused
  (UnavailableError, HTTP 503); running executions get ``shutdown_grace`` seconds to
  finish; the rest are cancelled and record FAILED ("interrupted by shutdown"), which
  every subscriber and every waiting blocking call receives as the final event; then
  the remaining subscriptions (tasks waiting for input) end after their queued events.
* Leases (:mod:`accord.server.leases`): every execution holds its task's lease in the
  store, renewed by a heartbeat task in the runtime's task group; a sweep task takes
  over the tasks of instances that stopped (their leases expired), re-running them when
  the agent is ``retry_safe`` and ending them FAILED otherwise. A live instance's work
  is never touched, so any number of instances can share one store, and a restarted
  process finds its predecessor's tasks once their leases expire.
* Where work runs (:mod:`accord.server.queue`): here, below ``max_running``; at the
  limit the task is queued in the store and whichever instance has room claims it.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from accord._clock import new_id, now_timestamp
from accord.errors import InvalidAgentResponseError, StoreError, UnavailableError
from accord.protocol import lifecycle
from accord.types import (
    StreamResponse,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from ._hooks import execution_info, hooked
from .agent import Agent, TaskContext, agent_message
from .events import LocalTaskEvents, TaskEvents, Update
from .execution import Execution
from .leases import LEASE_LOST, LEASE_SECONDS, WITH_CREATE, Leases
from .queue import WorkQueue
from .recorder import Recorder
from .running import RunningCounts
from .write_behind import WriteBehind

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from anyio.abc import TaskGroup

    from accord.stores import TaskRecord, TaskStore

    from ._hooks import ExecutionHook
    from .push.configs import PushConfigs

__all__ = ["Execution", "Recorder", "Runtime"]

logger = logging.getLogger(__name__)

#: Seconds running executions may go on finishing after shutdown begins (default of
#: ``A2AApp(shutdown_grace=...)`` and ``accord serve --shutdown-grace``).
SHUTDOWN_GRACE = 5.0
#: Seconds cancelled executions get to record their interruption before the task group
#: is cancelled outright (an agent that shields itself from cancellation).
INTERRUPT_TIMEOUT = 5.0
#: Why a request fails when the runtime was never started. It cannot start lazily on
#: a request: its task group needs an owner that outlives requests and stops it.
NOT_STARTED = (
    "The A2A app is not running: its lifespan was not started. When it is mounted in "
    "Starlette or FastAPI, enter `app.running()` in the parent app's lifespan (see the "
    "README, 'Writing an agent'); under an ASGI server, enable the lifespan (uvicorn: "
    "--lifespan on). An app over a shared Engine (A2AApp.from_engine) serves while "
    "its owner is inside `engine.running()`."
)
#: Why a request fails after the runtime stopped.
STOPPED = "The agent has shut down; retry in a moment (it may be restarting)"
#: Status message of a task interrupted by a shutdown.
INTERRUPTED_MESSAGE = (
    "Task interrupted: the server shut down before the agent finished. "
    "Send the message again (as a new task) to retry."
)


class Runtime:
    """Owns the task group that runs executions; writes the store, publishes events.

    Args:
        shutdown_grace: seconds running executions may go on finishing once shutdown
            begins, before they are interrupted.
        expose_errors: show an agent exception's type and text to the partner in the
            FAILED status message (for development); by default the partner sees a
            generic message with an error id, and the log has the traceback.
        lease_seconds: how long a task's lease lasts without a heartbeat: how soon
            another instance takes over the tasks of one that stopped.
        instance_id: this instance's name in the store's leases (default: unique).
        max_running: executions running here at once; beyond, new work is queued
            for any instance (:mod:`accord.server.queue`).
        max_queued: queued tasks the store may hold; beyond, UnavailableError.
        execution_hooks: context managers each execution runs in, in its own task
            (the interceptors' :meth:`~accord.server.Interceptor.executing`).
    """

    def __init__(
        self,
        agent: Agent,
        store: TaskStore,
        *,
        events: TaskEvents | None = None,
        id_factory: Callable[[], str] = new_id,
        max_running: int = 10_000,
        shutdown_grace: float = SHUTDOWN_GRACE,
        expose_errors: bool = False,
        lease_seconds: float = LEASE_SECONDS,
        instance_id: str | None = None,
        max_queued: int = 10_000,
        push: PushConfigs | None = None,
        execution_hooks: Iterable[ExecutionHook] = (),
    ) -> None:
        if shutdown_grace < 0:
            raise ValueError(f"shutdown_grace must be >= 0 (got {shutdown_grace})")
        self.agent = agent
        self.store = store
        self.events: TaskEvents = events if events is not None else LocalTaskEvents()
        self.new_id = id_factory
        self._tg: TaskGroup | None = None
        self._cancel_scope: type[anyio.CancelScope] = anyio.CancelScope
        self._live: dict[str, Execution] = {}
        #: Executions running here per caller and tenant (concurrency quotas).
        self.running_counts = RunningCounts()
        #: Executions between the limit check and their launch (taking a lease).
        self._admitting = 0
        #: Task id of an ended execution whose lease is being released -> the Event
        #: a follow-up turn waits on (created by the first one that waits).
        self._releasing: dict[str, anyio.Event | None] = {}
        self._closing = False
        self._draining = False
        self._drained = anyio.Event()
        self.max_running = max_running
        self.shutdown_grace = shutdown_grace
        self.expose_errors = expose_errors
        self.leases = Leases(
            self, seconds=lease_seconds, holder=instance_id or f"instance-{new_id()}"
        )
        self.queue = WorkQueue(self, max_queued=max_queued, interval=lease_seconds / 2)
        self.write_behind = WriteBehind()
        #: The push configs (None: the agent does not declare push notifications).
        self.push = push
        self.execution_hooks: tuple[ExecutionHook, ...] = tuple(execution_hooks)
        self._execute = self._observed if self.execution_hooks else self._run
        #: Called (never suspending) after a task event is written: the push
        #: deliverer's nudge when there is one (push/delivery.py).
        self.task_event_written: Callable[[], None] = lambda: None

    @property
    def running(self) -> bool:
        """True between entry and exit."""
        return self._tg is not None and not self._closing

    @property
    def live_count(self) -> int:
        """How many executions run here now, or are being admitted (taking a lease)."""
        return len(self._live) + self._admitting

    @property
    def full(self) -> bool:
        """True when ``max_running`` executions run here (new work is queued)."""
        return self.live_count >= self.max_running

    @property
    def draining(self) -> bool:
        """True once shutdown has begun: no new work is accepted."""
        return self._draining

    async def __aenter__(self) -> Runtime:
        # The event loop's own CancelScope class, for the scope of every execution:
        # ``anyio.CancelScope(...)`` looks the backend up on each call and then
        # initialises the scope twice (its __new__ returns the backend's subclass),
        # a third of the scope's cost on a blocking SendMessage.
        self._cancel_scope = type(anyio.CancelScope())
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.leases.heartbeat, name="accord-lease-heartbeat")
        self._tg.start_soon(self.leases.sweeper, name="accord-lease-sweep")
        self._tg.start_soon(self.leases.watchdog, name="accord-lease-watchdog")
        self._tg.start_soon(self.queue.claimer, name="accord-queue-claimer")
        self._tg.start_soon(self.write_behind.run, name="accord-write-behind")
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self.begin_shutdown()
        tg = self._tg
        assert tg is not None
        # Shielded: the owner may be exiting because it was cancelled, and the tasks
        # must still record how they ended (the drain itself is bounded in time).
        with anyio.CancelScope(shield=True):
            await self._drained.wait()
        self._closing = True
        self._tg = None
        tg.cancel_scope.cancel()  # whatever ignored its cancellation
        return await tg.__aexit__(*exc_info)

    def begin_shutdown(self) -> None:
        """Stop accepting work; interrupt what still runs after the grace period.

        Idempotent, and returns at once: the drain runs in the runtime's task group.
        Call it when the server starts shutting down (``accord serve`` does, before
        uvicorn waits for open connections), so that blocking calls and streams receive
        their task's final state while their connections are still open. Leaving the
        runtime's context calls it too.
        """
        if self._draining:
            return
        self._draining = True
        if self._tg is None:
            self._drained.set()
            return
        self._tg.start_soon(self._drain, name="accord-shutdown")

    async def _drain(self) -> None:
        try:
            running = list(self._live.values())
            if running:
                logger.info(
                    "shutting down: %d running task(s) get %.3g s to finish",
                    len(running),
                    self.shutdown_grace,
                )
            with anyio.move_on_after(self.shutdown_grace):
                for execution in running:
                    await execution.done.wait()
            left = [x for x in running if not x.ended]
            for execution in left:
                execution.cancel("shutdown")
            if left:
                logger.warning(
                    "shutting down: interrupting %d task(s) still running after the "
                    "%.3g s grace period",
                    len(left),
                    self.shutdown_grace,
                )
            with anyio.move_on_after(INTERRUPT_TIMEOUT):
                for execution in left:
                    await execution.done.wait()
            # Streams of tasks that run nowhere (waiting for input) end now, after the
            # events already queued for them.
            self.events.close_all()
        finally:
            self._drained.set()

    def live(self, task_id: str) -> Execution | None:
        """The execution currently running for ``task_id`` in this process, if any."""
        return self._live.get(task_id)

    def live_executions(self) -> list[Execution]:
        """The executions running in this process now."""
        return list(self._live.values())

    async def start(self, execution: Execution, record: TaskRecord | None) -> None:
        """Take the task's lease, then run ``execution`` in the runtime's task group.

        At the running-task limit the task is queued instead, for any instance with
        room (:meth:`WorkQueue.defer <accord.server.queue.WorkQueue.defer>`).

        Raises:
            UnsupportedOperationError: the task is running (here or elsewhere).
            UnavailableError: shutting down, or the queue is full.
        """
        self._check_open(limit=False)
        await self._await_release(execution.task_id)
        if self.full:
            await self.queue.defer(execution, record)
            return
        if record is None:
            self.leases.with_creation(execution)  # new task: leased as it is created
        else:
            async with self._admission():
                await self.leases.acquire(execution)
        try:
            self.launch(execution, record)
        except BaseException:
            await self.leases.release(execution)
            raise

    def launch(self, execution: Execution, record: TaskRecord | None) -> None:
        """Run ``execution``, whose lease this instance holds, in the task group."""
        self._check_open()
        self._register(execution, record)
        self._tg.start_soon(  # type: ignore[union-attr]  # _check_open
            self._execute, execution, name=f"accord-task-{execution.task_id}"
        )

    def _register(
        self, execution: Execution, record: TaskRecord | None, *, inline: bool = False
    ) -> None:
        # A blocking send's new task is written behind its agent (write_behind.py):
        # the last argument, write_behind (positional: this is per request).
        execution.recorder = Recorder(
            self, execution, record, inline and record is None
        )
        self._live[execution.task_id] = execution
        counts = self.running_counts
        if counts.active:  # quotas with running limits count executions
            scope = execution.scope
            execution.slot = counts.start(scope.tenant, scope.owner or "")
        if execution.lease.state is not WITH_CREATE:
            self.leases.watch(execution.task_id, execution.lease)

    async def _await_release(self, task_id: str) -> None:
        """Wait until the previous turn of ``task_id`` has handed its lease back."""
        if task_id in self._releasing:
            released = self._releasing[task_id]
            if released is None:
                released = self._releasing[task_id] = anyio.Event()
            await released.wait()

    def can_run_inline(self) -> bool:
        """Whether :meth:`run_inline` would accept work now (open, below the limit)."""
        return (
            self._tg is not None
            and not self._closing
            and not self._draining
            # not :attr:`full`, spelt out: two property calls per blocking send
            and len(self._live) + self._admitting < self.max_running
        )

    async def run_inline(self, execution: Execution, record: TaskRecord | None) -> None:
        """Take the task's lease and run ``execution`` in the calling task, to its end.

        For a blocking SendMessage, whose request waits for the turn to end anyway: it
        saves a task of the runtime's group per call (its spawn, scope and wake-ups
        were a fifth of such a request's CPU). The execution is the runtime's all the
        same: live, leased, cancellable (CancelTask, shutdown, fencing), drained at
        shutdown; and its scope is shielded from the caller's cancellation, so a client
        that disconnects does not stop it (spec §3.5.2). The caller gets the result
        when the agent returns, not at its last state change: an agent that goes on
        working after completing its task delays the answer by that much.

        Raises:
            UnsupportedOperationError: the task is running (here or elsewhere).
            UnavailableError: shutting down, or at the running-task limit.
        """
        self._check_open()
        if record is None:
            self.leases.with_creation(execution)  # new task: leased as it is created
        else:
            async with self._admission():
                await self._await_release(execution.task_id)
                await self.leases.acquire(execution)
        try:
            if record is not None:
                self._check_open()  # again after the waits above
            self._register(execution, record, inline=True)
        except BaseException:
            await self.leases.release(execution)
            raise
        await self._execute(execution, shield=True)

    async def _observed(self, x: Execution, *, shield: bool = False) -> None:
        """:meth:`_run` inside the execution hooks (tracing, metrics)."""
        with hooked(self.execution_hooks, execution_info(self.agent, x)):
            await self._run(x, shield=shield)

    @asynccontextmanager
    async def _admission(self) -> AsyncIterator[None]:
        """Hold a slot while an execution takes its lease: requests admitted at the
        same time cannot overshoot ``max_running`` between the check and the launch."""
        self._admitting += 1
        try:
            yield
        finally:
            self._admitting -= 1

    def _check_open(self, *, limit: bool = True) -> None:
        if self._tg is None or self._closing:
            raise RuntimeError(
                "the runtime is not running (is the ASGI lifespan enabled?)"
            )
        if self._draining:
            raise UnavailableError(
                "The agent is shutting down and accepts no new work; retry in a "
                "moment (a restarted or another instance will take it)"
            )
        if limit and len(self._live) + self._admitting >= self.max_running:  # full
            raise UnavailableError(
                f"The agent is running {self.live_count} tasks, its limit; retry later"
            )

    async def _run(self, x: Execution, *, shield: bool = False) -> None:
        recorder = x.recorder
        try:
            # Shielded when run inline: only the execution's own cancel reaches it.
            with self._cancel_scope(shield=shield) as scope:
                x.cancel_scope = scope
                if x.cancel_reason is not None:
                    scope.cancel()
                if shield:
                    recorder.shielded_by(scope)
                try:
                    if x.existing and x.attempt == 1 and not x.queued:
                        await recorder.resume()
                    await self.agent.execute(TaskContext(x))
                except Exception as exc:
                    await self._fail(x, exc)
                else:
                    if not recorder.ended:  # (a reply or a final state ends it too)
                        await recorder.finish(TaskState.COMPLETED, None)
            if x.cancel_reason is not None:
                with anyio.CancelScope(shield=True):
                    await self._record_cancel(x)
        except anyio.get_cancelled_exc_class():
            # The runtime's owner was cancelled (a hard stop, not the drain): the
            # task still says how it ended rather than staying WORKING.
            with anyio.move_on_after(INTERRUPT_TIMEOUT, shield=True):
                x.cancel_reason = x.cancel_reason or "shutdown"
                await self._record_cancel(x)
            raise
        finally:
            recorder.shielded_by(None)
            self._live.pop(x.task_id, None)
            if x.slot is not None:
                x.slot.end()
            x.lease.unwatch()
            # A follow-up turn waits while the lease is being released (it may
            # suspend; _await_release); with none to release nothing suspends here.
            releasing = self.leases.holds(x)
            if releasing:
                self._releasing[x.task_id] = None  # an Event once someone waits
            try:
                # Even when cancelled: publish never suspends (TaskEvents contract).
                # It must follow the pop at once: a follow-up message may start the
                # next execution of this task as soon as this one is not live, and
                # its subscription must not receive this execution's end. The end
                # is outside the log (seq 0): it reaches only this process's
                # subscribers (TaskEvents contract), so with none it is not made.
                events = self.events
                if events.subscriber_count(x.task_id):
                    await events.publish(
                        x.task_id,
                        Update(
                            seq=0, event=None, task=recorder.written_task, final=True
                        ),
                    )
                if releasing:
                    await self.leases.release(x)
            finally:
                if releasing:
                    released = self._releasing.pop(x.task_id, None)
                    if released is not None:
                        released.set()
                x._finish()
                self.queue.freed()  # a slot is free: queued work may start

    async def _fail(self, x: Execution, exc: Exception) -> None:
        x.error = exc
        if isinstance(exc, StoreError) and not x.recorder.created:
            # The store failed on the task's first write (its lease comes with it):
            # nothing was kept, and a task made now only to say FAILED would blame
            # the agent. The caller is answered with the store's error (UNAVAILABLE).
            logger.warning(
                "task %s was not created (the agent's first write failed): %s",
                x.task_id,
                exc,
            )
            return
        error_id = secrets.token_hex(6)
        # spec §3.3.2 (system errors): logged for diagnosis. The traceback stays
        # here; the partner gets an id to quote, not the agent's internals.
        logger.error(
            "agent %r failed on task %s (error id %s)",
            self.agent.name,
            x.task_id,
            error_id,
            exc_info=exc,
        )
        if x.recorder.ended:
            return
        if not self.expose_errors:
            text = (
                f"Internal agent error (error id {error_id}); the agent's operator "
                "can find the details in the server log under this id."
            )
        elif isinstance(exc, InvalidAgentResponseError):
            text = f"Agent error: {exc.message} (error id {error_id})"
        else:
            text = f"Agent error: {type(exc).__name__}: {exc} (error id {error_id})"
        try:
            await x.recorder.finish(TaskState.FAILED, text)
        except Exception:
            logger.exception("could not record the failure of task %s", x.task_id)

    async def _record_cancel(self, x: Execution) -> None:
        if x.recorder.ended or x.cancel_reason == LEASE_LOST:
            return  # lost: the task belongs to the instance that took it over
        if x.cancel_reason == "shutdown":
            # FAILED ("finished with an error", spec §4.1.3 TaskState), not CANCELED:
            # CANCELED answers a CancelTask (spec §3.1.5), and nobody asked for one.
            # See docs/spec-notes.md.
            state, text = TaskState.FAILED, INTERRUPTED_MESSAGE
        else:
            state, text = TaskState.CANCELED, None
        try:
            await x.recorder.finish(state, text)
        except Exception:
            logger.exception("could not record the end of task %s", x.task_id)

    async def force_state(
        self, record: TaskRecord, state: TaskState, text: str | None
    ) -> TaskRecord:
        """Write a status change to a task with no live execution (cancel, recovery).

        Raises:
            ConflictError: someone else wrote the task first.
        """
        task = record.task
        message = agent_message(text, task_id=task.id, context_id=task.context_id)
        status = TaskStatus(state=state, message=message, timestamp=now_timestamp())
        event = TaskStatusUpdateEvent(
            task_id=task.id, context_id=task.context_id, status=status
        )
        new_task = lifecycle.apply(task, event)
        stored = await self.store.append(
            new_task,
            StreamResponse(status_update=event),
            expected_version=record.version,
        )
        await self.events.publish(
            task.id,
            Update(
                seq=stored.version,
                event=StreamResponse(status_update=event),
                task=new_task,
            ),
        )
        self.task_event_written()
        return stored
