"""Where work runs: here by default, or queued for any instance when this one is full.

Theory of operation (the store side: "Queued work" in :mod:`accord.stores.base`).

* **Here first.** The instance that receives a SendMessage runs it, as long as it runs
  fewer than ``max_running`` executions (``ServerLimits.max_running_tasks``): the
  lowest latency, and nothing is written that the run itself does not write.
* **Queued at the limit** (:meth:`WorkQueue.defer`). A message that arrives when this
  instance is full is not refused: it takes the task's lease as usual, records what
  the receiving instance owes the client (a new task is created SUBMITTED with the
  message as its history; a follow-up moves the task back to WORKING with the message,
  as a resume does), then hands the lease to the queue
  (:meth:`~accord.stores.base.TaskStore.queue_lease`) and sends a work wake-up
  (:meth:`~accord.server.events.TaskEvents.work_queued`). The caller is answered as
  usual: ``returnImmediately`` at once with the SUBMITTED (or WORKING) task, a
  blocking call and a stream with the events of whichever instance runs it (they
  cross instances through the task events). When the store already holds
  ``max_queued`` queued tasks (``ServerLimits.max_queued_tasks``), the message is
  refused with UnavailableError (503), the agent being saturated: checked before
  anything is written, so instances that queue at the same moment may overshoot the
  bound by their number.
* **Claims** (:meth:`WorkQueue.claimer`, one task per runtime, so one claim at a
  time). The runtime claims queued work, oldest first, up to its free room
  (``max_running`` minus what runs), never more: on a work wake-up, when one of its
  executions ends while it was full, and every half lease (a lost wake-up). A
  draining runtime claims nothing. A claimed row whose ``attempt`` is 1 never ran: it
  runs as a first run (``ctx.attempt == 1``, whatever ``retry_safe`` says; a queued
  follow-up is not resumed twice). A claimed row with a higher attempt is a takeover
  (re-queued by an instance that was full): :meth:`~accord.server.leases.Leases`
  handles it as it handles an expired lease. A claim the runtime cannot run after all
  (it filled up meanwhile, or started draining) is handed back to the queue.
* **Cancel.** CancelTask of a queued task withdraws it
  (:meth:`~accord.stores.base.TaskStore.withdraw`) and ends it CANCELED at once; when
  a claim won the race, the cancel request reaches the claimer like any other.
* **The request.** The claimer runs the task's latest client message with the
  request's ``configuration`` and ``metadata``, which the queued row carries (JSON;
  ``ctx.configuration`` and ``ctx.request_metadata`` are the same wherever it runs).
* **reply().** A queued first run already has its task (the client was answered
  with it), so ``ctx.reply(...)`` there completes the task with the reply as its
  status message instead of answering with a bare Message.
* **Waiting callers.** A blocking call or a stream on a task this instance queued is
  also made to read the task's log every :data:`WAIT_POLL` seconds: with task events
  that do not cross processes (several processes on one SQLite file) nothing else
  would tell it that another process ran the task.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import A2AError, ConflictError, StoreError, UnavailableError
from accord.protocol.versioning import CURRENT_VERSION
from accord.stores import Scope
from accord.types import (
    SendMessageConfiguration,
    SendMessageRequest,
    TaskState,
    convert,
    decode_json,
    encode,
)

from .recorder import Recorder

if TYPE_CHECKING:
    from accord.stores import Lease, TaskRecord
    from accord.types import Message

    from .runtime import Execution, Runtime

__all__ = [
    "CLAIM_TIMEOUT",
    "WAIT_POLL",
    "WorkQueue",
    "options",
    "request",
    "saturated",
    "version_of",
]

logger = logging.getLogger(__name__)

#: Seconds between two reads of the log by a caller waiting on a task queued here.
WAIT_POLL = 1.0
#: Seconds a claim and the start of what it took may go on once shutdown cancels it.
CLAIM_TIMEOUT = 10.0

_RUNNABLE = (TaskState.SUBMITTED, TaskState.WORKING)


def saturated(queued: int) -> UnavailableError:
    """The error of a message refused because the queue is full."""
    return UnavailableError(
        f"The agent is saturated: this instance runs as many tasks as it may, and "
        f"{queued} tasks already wait in the queue (its limit); retry later"
    )


class WorkQueue:
    """The queue side of a :class:`~accord.server.runtime.Runtime` (see module doc)."""

    def __init__(self, runtime: Runtime, *, max_queued: int, interval: float) -> None:
        if max_queued < 0:
            raise ValueError(f"max_queued must be >= 0 (got {max_queued})")
        self.runtime = runtime
        self.max_queued = max_queued
        #: Seconds between two claims when nothing wakes the claimer.
        self.interval = interval
        self._wanted = anyio.Event()
        #: Tasks queued here whose callers may be waiting here.
        self._waiting: set[str] = set()
        #: Executions started from the queue (diagnostics, tests).
        self.claimed = 0

    # --- queueing -----------------------------------------------------------------------

    async def defer(self, x: Execution, record: TaskRecord | None) -> None:
        """Queue ``x`` (this instance is full): record its task, hand its lease over.

        Raises:
            UnavailableError: the queue holds ``max_queued`` tasks already.
            UnsupportedOperationError: the task is running (here or elsewhere).
        """
        runtime = self.runtime
        queued = await runtime.store.queued_count()
        if queued >= self.max_queued:
            raise saturated(queued)
        # Held but not running until handed over: the heartbeat must not release it.
        with runtime.leases.starting((x.task_id,)):
            await runtime.leases.acquire(x)
            try:
                x.recorder = Recorder(runtime, x, record)
                if record is None:
                    await x.recorder.submit()
                else:
                    await x.recorder.resume()
                handed = await runtime.store.queue_lease(
                    x.task_id,
                    holder=runtime.leases.holder,
                    request=options(x.request, x.version),
                )
            except BaseException:
                await runtime.leases.release(x)
                raise
        if not handed:  # pragma: no cover - the lease was lost within the call
            logger.warning(
                "task %s: could not queue it (its lease was lost)", x.task_id
            )
            return
        logger.info(
            "task %s: %d tasks running here (the limit); queued for any instance",
            x.task_id,
            runtime.live_count,
        )
        self._waiting.add(x.task_id)
        runtime.events.work_queued()

    async def requeue(self, lease: Lease) -> None:
        """Hand a lease this instance claimed but will not run back to the queue."""
        runtime = self.runtime
        try:
            handed = await runtime.store.queue_lease(
                lease.task_id, holder=runtime.leases.holder, request=lease.request
            )
        except StoreError as exc:  # it expires; another instance takes it over
            logger.warning("task %s: could not queue it again: %s", lease.task_id, exc)
            return
        if handed:
            runtime.events.work_queued()

    # --- claiming -----------------------------------------------------------------------

    def wake(self) -> None:
        """Claim now, if there is room (work was queued). Never suspends."""
        self._wanted.set()

    def freed(self) -> None:
        """An execution ended: claim now if the runtime was full. Never suspends."""
        runtime = self.runtime
        if runtime.live_count + 1 >= runtime.max_running:
            self._wanted.set()

    def room(self) -> int:
        """How many more executions the runtime may start now."""
        runtime = self.runtime
        if runtime.draining or not runtime.running:
            return 0
        return max(0, runtime.max_running - runtime.live_count)

    async def claimer(self) -> None:
        """Claim queued work whenever woken, and every ``interval`` (task group)."""
        stop = self.runtime.events.watch_work(self.wake)
        next_claim = 0.0  # at once: work may be waiting since before this start
        try:
            while True:
                timeout = next_claim - time.monotonic()
                if self._waiting:
                    timeout = min(timeout, WAIT_POLL)
                with anyio.move_on_after(max(0.0, timeout)):
                    await self._wanted.wait()
                self._poke_waiting()
                now = time.monotonic()
                if not self._wanted.is_set() and now < next_claim:
                    continue
                self._wanted = anyio.Event()
                next_claim = now + self.interval
                try:
                    # Shielded: claimed rows must start or go back, also at shutdown.
                    with anyio.move_on_after(CLAIM_TIMEOUT, shield=True):
                        await self.claim()
                except StoreError as exc:
                    logger.warning("claiming queued work failed (retrying): %s", exc)
                except Exception:  # a bug must not stop the runtime's task group
                    logger.exception("claiming queued work failed (retrying)")
        finally:
            stop()

    async def claim(self) -> int:
        """Claim queued work up to the free room and start it; return how many."""
        room = self.room()
        if room <= 0:
            return 0
        runtime = self.runtime
        sent = time.monotonic()
        leases = await runtime.store.claim_queued(
            holder=runtime.leases.holder, seconds=runtime.leases.seconds, limit=room
        )
        # Claimed but not running yet: the heartbeat must not release them.
        with runtime.leases.starting(lease.task_id for lease in leases):
            for lease in leases:
                if lease.attempt > 1:
                    await runtime.leases.take_over(lease)
                else:
                    await self._start(lease, sent)
        return len(leases)

    async def _start(self, lease: Lease, claim_sent: float) -> None:
        """Run a claimed first run here (or hand it back)."""
        from .leases import last_user_message  # leases imports the runtime
        from .runtime import Execution

        runtime = self.runtime
        scope = Scope(tenant=lease.tenant, owner=None)
        for _ in range(3):
            record = await runtime.store.get(lease.task_id, scope=scope)
            if record is None or record.task.status.state not in _RUNNABLE:
                break  # withdrawn and ended, or never created: nothing to run
            message = last_user_message(record)
            if message is None:  # pragma: no cover - queued tasks keep their message
                break
            if lease.cancel_requested:  # asked while it was being queued
                try:
                    await runtime.force_state(record, TaskState.CANCELED, None)
                except ConflictError:
                    continue  # written meanwhile: look again
                break
            task = record.task
            x = Execution(
                task_id=task.id,
                context_id=task.context_id,
                message=message,
                request=request(lease, message),
                version=version_of(lease),
                scope=Scope(tenant=record.tenant, owner=record.owner),
                # A follow-up was moved back to WORKING when it was queued.
                existing=task.status.state is not TaskState.SUBMITTED,
                queued=True,
            )
            x.leased_at = claim_sent
            if runtime.draining:
                await self.requeue(lease)
                return
            try:
                runtime.launch(x, record)
            except UnavailableError:  # full again meanwhile
                await self.requeue(lease)
                return
            self.claimed += 1
            return
        await runtime.store.release_lease(lease.task_id, holder=runtime.leases.holder)

    # --- waiting callers ------------------------------------------------------------------

    def _poke_waiting(self) -> None:
        """Make the callers waiting here on queued tasks read their task's log."""
        events = self.runtime.events
        for task_id in tuple(self._waiting):
            if events.subscriber_count(task_id) == 0:
                self._waiting.discard(task_id)
            else:
                events.refresh(task_id)


def options(req: SendMessageRequest, version: str = CURRENT_VERSION) -> str:
    """What a queued row carries of ``req`` besides its message (JSON, or ""), and the
    A2A version the caller spoke (``ctx.protocol_version`` on the claiming instance)."""
    if req.configuration is None and not req.metadata and version == CURRENT_VERSION:
        return ""
    data: dict[str, Any] = {
        "configuration": req.configuration,
        "metadata": req.metadata,
    }
    if version != CURRENT_VERSION:
        data["version"] = version
    return encode(data).decode()


def version_of(lease: Lease) -> str:
    """The A2A version a queued row's caller spoke (:func:`options`)."""
    if not lease.request:
        return CURRENT_VERSION
    try:
        data = decode_json(lease.request)
    except A2AError:
        return CURRENT_VERSION
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else CURRENT_VERSION


def request(lease: Lease, message: Message) -> SendMessageRequest:
    """The request a claimed row stands for: its message, with the queued options."""
    plain = SendMessageRequest(tenant=lease.tenant, message=message)
    if not lease.request:
        return plain
    try:
        data = decode_json(lease.request)
        config = data.get("configuration")
        return SendMessageRequest(
            tenant=lease.tenant,
            message=message,
            configuration=None
            if config is None
            else convert(config, SendMessageConfiguration),
            metadata=data.get("metadata"),
        )
    except (A2AError, AttributeError) as exc:  # not ours: run it without options
        logger.warning(
            "task %s: unreadable request options in its queued row: %s",
            lease.task_id,
            exc,
        )
        return plain
