"""Execution leases: which instance runs a task, and recovery of the ones that stopped.

Theory of operation (the store side: :mod:`accord.stores.base`).

* **Acquire.** An execution of an existing task takes the task's lease before it runs
  (:meth:`Leases.acquire`); an execution whose task is leased by anyone else is
  refused (the task is already processing a message, maybe on another instance).
  A *new* task's execution takes no lease before it runs: its lease is written by the
  transaction that creates the task (:meth:`Leases.create`; nobody can see the task,
  let alone contend for it, before it exists), and an execution that only replies
  with a Message never writes a lease at all. Where an execution's lease is, is its
  :class:`LeaseHold`.
* **Release with the last write.** The write that ends the turn (a terminal or
  interrupted state) deletes the lease in its own transaction (:meth:`Leases.append`);
  only an execution that did not end that way releases it separately as it ends.
* **Heartbeat.** One task in the runtime's task group renews every lease this instance
  holds, in one store call, every ``lease_seconds / 4`` (at most every
  :data:`HEARTBEAT_MAX` seconds): two renewals can fail before the instance fences
  itself, three before the lease expires. One write per instance per beat, whatever
  the number of tasks. The answer also carries the cancel requests (CancelTask received
  by another instance: the execution is cancelled and records CANCELED, as a local
  CancelTask would) and tells which leases were lost (expired and claimed elsewhere,
  for example after this process was paused for longer than a lease): those executions
  stop at once and write nothing more, since the task now belongs to another instance.
* **Cancel wake-up.** The instance that stores a cancel request also sends a cancel
  wake-up through the task events (:meth:`~accord.server.events.TaskEvents.cancel_requested`;
  a NOTIFY on PostgreSQL). The runtime watches the tasks it runs; woken, it calls
  :meth:`Leases.nudge`, and the heartbeat renews *now*: the same one store call, the
  same cancellation, milliseconds after the CancelTask instead of up to a heartbeat
  later. Wake-ups that come during a renewal are served by one more renewal right
  after it (never two at once). A lost wake-up costs the wait for the next beat.
* **Fencing.** An instance that cannot renew (the database is unreachable, or slow)
  stops its own executions once :data:`FENCE` of a lease has passed since its last
  renewal was sent, before the lease can expire and be claimed elsewhere: a
  watchdog task checks every ``lease_seconds / 8``, independently of the renewal call,
  which may hang. So a task never runs on two instances at once, as long as the
  instances' clocks run at the same rate.
* **Release.** When an execution ends, its lease is deleted. A renewed lease with
  nothing running it here (its release failed: the database was down as the execution
  ended, or a take-over stopped part-way) is released by the heartbeat, so the task
  becomes an orphan that a sweep ends, instead of a lease renewed forever.
* **Sweep.** Every ``lease_seconds / 2`` (and once at start-up), the instance claims
  expired leases (:meth:`~accord.stores.base.TaskStore.claim_expired`: each goes to
  exactly one instance) and the unfinished tasks without any lease that have not been
  written for a whole lease (tasks from before leases existed, or whose instance died
  between creating the task and leasing it; a live execution's task is leased from
  its creation until the write that ends the turn, which leaves it neither SUBMITTED
  nor WORKING, so such a task has nobody running it). A claimed task still
  SUBMITTED or WORKING is re-run here when the agent declares itself safe to retry
  (``Agent(retry_safe=True)``; the agent sees ``ctx.attempt > 1``; when this instance
  is at its running limit, the task is queued instead, for an instance with room:
  :mod:`accord.server.queue`) and otherwise
  ended FAILED with :data:`LEASE_EXPIRED_MESSAGE`, the safe default. A cancel request
  made before the takeover ends it CANCELED instead. A live instance's tasks are never
  touched: their leases do not expire.
"""

from __future__ import annotations

import enum
import logging
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio

from accord.errors import ConflictError, StoreError, UnsupportedOperationError
from accord.stores import Scope
from accord.types import Role, SendMessageRequest, TaskState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from accord.stores import Lease, TaskRecord
    from accord.types import Message, StreamResponse, Task

    from .runtime import Execution, Runtime

__all__ = [
    "FENCE",
    "HEARTBEAT_MAX",
    "LEASE_EXPIRED_MESSAGE",
    "LEASE_LOST",
    "LEASE_SECONDS",
    "SWEEP_BATCH",
    "LeaseHold",
    "LeaseState",
    "Leases",
    "last_user_message",
]

logger = logging.getLogger(__name__)

#: Default lease duration in seconds (``Engine(lease_seconds=...)``, ``accord serve
#: --lease-seconds``): how long a task of a crashed instance may stay WORKING before a
#: surviving instance takes it over.
LEASE_SECONDS = 10.0
#: Longest gap (seconds) between two heartbeats, whatever the lease: a cancel request
#: whose wake-up was lost reaches the instance running the task within it.
HEARTBEAT_MAX = 1.0
#: Expired leases one sweep claims at most; a backlog is taken by the next sweeps.
SWEEP_BATCH = 100
#: Fraction of a lease after the last renewal sent at which an instance that could not
#: renew stops its executions (see the module docstring).
FENCE = 0.7
#: Cancel reason of an execution whose lease was claimed by another instance.
LEASE_LOST = "lease lost"
#: Status message of a task whose instance stopped while running it.
LEASE_EXPIRED_MESSAGE = (
    "Task interrupted: the instance running it stopped before the agent finished. "
    "Send the message again (as a new task) to retry."
)

_RUNNING = (TaskState.SUBMITTED, TaskState.WORKING)


class LeaseState(enum.Enum):
    """Where an execution's lease is."""

    #: Its task does not exist yet; the write that creates it takes the lease.
    WITH_CREATE = "with-create"
    #: Held (acquired, claimed, or taken with the task's creation).
    HELD = "held"
    #: A write that takes or releases it is in flight.
    CHANGING = "changing"
    #: Released by the write that ended the turn.
    RELEASED = "released"


#: The members as module names, for the paths every execution takes: on Python 3.11
#: reading a member through its Enum class goes through the hook of EnumType's
#: ``__getattr__`` (about 1k instructions a read, several a request).
WITH_CREATE = LeaseState.WITH_CREATE
HELD = LeaseState.HELD
CHANGING = LeaseState.CHANGING
RELEASED = LeaseState.RELEASED


def _nothing() -> None:
    """The default of :attr:`LeaseHold.unwatch`: not watching."""


class LeaseHold:
    """Where one execution's lease is, and how many times that changed.

    The heartbeat holds an execution to its lease only when the lease was HELD when
    the renewal was sent and did not change until its answer came (the renewal may
    have run before the task was created, or after its last write released it).
    """

    __slots__ = ("changes", "since", "state", "unwatch")

    def __init__(self, state: LeaseState = HELD) -> None:
        self.state = state
        self.changes = 0
        #: time.monotonic() when the lease was requested (fencing).
        self.since = 0.0
        #: Stops watching the task's cancel wake-ups (:meth:`Leases.watch`).
        self.unwatch: Callable[[], None] = _nothing

    def set(self, state: LeaseState) -> None:
        self.state = state
        self.changes += 1


class Leases:
    """The lease side of a :class:`~accord.server.runtime.Runtime` (see module doc)."""

    def __init__(self, runtime: Runtime, *, seconds: float, holder: str) -> None:
        if seconds <= 0:
            raise ValueError(f"lease_seconds must be > 0 (got {seconds})")
        self.runtime = runtime
        self.seconds = seconds
        #: This instance's name in the store's lease rows.
        self.holder = holder
        #: time.monotonic() when the last successful renewal was sent.
        self._renewed = time.monotonic()
        #: time.monotonic() when the running sweep's claim was sent.
        self._claim_sent = self._renewed
        #: Set by :meth:`nudge`: the heartbeat renews without waiting for its beat.
        self._nudged = anyio.Event()
        #: Renewals made early because of a nudge (diagnostics, tests).
        self.nudged_renewals = 0
        #: Tasks whose lease is being taken (acquire, take-over) and not running yet.
        self._starting: set[str] = set()

    async def acquire(self, x: Execution) -> Lease:
        """Take the lease of ``x``'s task.

        Raises:
            UnsupportedOperationError: someone holds it (the task is running).
        """
        x.leased_at = time.monotonic()
        # The caller launches it with no checkpoint in between.
        with self.starting((x.task_id,)):
            lease = await self.runtime.store.acquire_lease(
                x.task_id,
                tenant=x.scope.tenant,
                holder=self.holder,
                seconds=self.seconds,
            )
        if lease is None:
            raise UnsupportedOperationError(
                f"Task {x.task_id} is already processing a message (possibly on "
                "another instance); send the next message when it asks for input",
                metadata={"taskId": x.task_id},
            )
        return lease

    def with_creation(self, x: Execution) -> None:
        """Let ``x`` (a new task's execution) take its lease as it creates the task."""
        x.lease.since = time.monotonic()  # x.leased_at, without its property
        x.lease.set(WITH_CREATE)

    async def create(
        self,
        hold: LeaseHold,
        scope: Scope,
        task: Task,
        event: StreamResponse,
        *,
        more: Sequence[StreamResponse] = (),
        final: bool = False,
    ) -> TaskRecord:
        """Create an execution's task (its lease ``hold``), with the lease when
        :meth:`with_creation` said so, unless the creation is ``final`` (it already
        ends the turn: ``more`` holds the rest of its events, write_behind.py).

        Takes the execution's parts, not the execution: the recorder that calls it
        must not hold its execution (a cycle per execution, see recorder.py).
        """
        store = self.runtime.store
        if hold.state is not WITH_CREATE:
            return await store.create(task, event, scope=scope, more=more)
        if final:
            # Never leased: the turn is over by the time anyone can see the task.
            record = await store.create(task, event, scope=scope, more=more)
            hold.set(RELEASED)
            return record
        hold.since = time.monotonic()
        hold.set(CHANGING)
        self.watch(task.id, hold)  # from now on a cancel request may be stored
        try:
            record = await store.create(
                task,
                event,
                scope=scope,
                holder=self.holder,
                seconds=self.seconds,
                more=more,
            )
        except BaseException:
            hold.set(WITH_CREATE)  # rolled back: nothing was written
            raise
        hold.set(HELD)
        return record

    async def append(
        self,
        hold: LeaseHold,
        task: Task,
        event: StreamResponse,
        *,
        expected_version: int,
        final: bool,
    ) -> TaskRecord:
        """Append to an execution's task; a ``final`` write (the turn ends) releases
        its lease (``hold``)."""
        store = self.runtime.store
        if not final or hold.state is not HELD:
            return await store.append(task, event, expected_version=expected_version)
        hold.set(CHANGING)
        try:
            record = await store.append(
                task, event, expected_version=expected_version, release=self.holder
            )
        except BaseException:
            hold.set(HELD)  # rolled back: still held
            raise
        hold.set(RELEASED)
        return record

    def watch(self, task_id: str, hold: LeaseHold) -> None:
        """Renew at once on cancel wake-ups for ``task_id`` (:meth:`nudge`), until
        ``hold.unwatch()``: from when its execution takes the lease, or may (a new
        task's, as its creation is written). Only a lease carries a cancel request
        from another instance, so an execution that holds none needs no wake-up:
        a new task's turn that ends with its creation (write_behind.py) never
        watches."""
        if hold.unwatch is _nothing:
            hold.unwatch = self.runtime.events.watch_cancel(task_id, self.nudge)

    @contextmanager
    def starting(self, task_ids: Iterable[str]) -> Iterator[None]:
        """Mark leases held here whose executions are not running yet (see
        :meth:`_release_stale`): taken, claimed, or being handed to the queue."""
        ids = set(task_ids) - self._starting
        self._starting |= ids
        try:
            yield
        finally:
            self._starting -= ids

    @staticmethod
    def holds(x: Execution) -> bool:
        """Whether ``x`` may hold its task's lease still: :meth:`release` has work."""
        return x.lease.state not in (WITH_CREATE, RELEASED)

    async def release(self, x: Execution) -> None:
        """Delete the lease of ``x``'s task, unless it holds none (never took one, or
        its last write released it).

        Not shielded: when the runtime is cancelled outright the lease simply expires,
        and the sweep that claims it finds the task ended and deletes it.
        """
        if not self.holds(x):
            return
        try:
            await self.runtime.store.release_lease(x.task_id, holder=self.holder)
        except StoreError as exc:  # it expires; a sweep finds the task ended
            logger.warning("could not release the lease of %s: %s", x.task_id, exc)

    # --- heartbeat ----------------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Renew this instance's leases forever (runs in the runtime's task group).

        Every beat, or at once after :meth:`nudge`.
        """
        while True:
            with anyio.move_on_after(min(self.seconds / 4, HEARTBEAT_MAX)):
                await self._nudged.wait()
            if self._nudged.is_set():
                self._nudged = anyio.Event()
                self.nudged_renewals += 1
            await self.renew()

    def nudge(self) -> None:
        """Renew now (a cancel request may be stored for a task running here).

        Never suspends: called by the task events on a cancel wake-up.
        """
        self._nudged.set()

    async def renew(self) -> None:
        """Renew every lease held; cancel executions asked to stop or that lost theirs."""
        # Only the leases held now and unchanged until the answer are checked: a task
        # created or ended meanwhile may have been written before or after the renewal.
        live = [
            (x, x.lease.changes)
            for x in self.runtime.live_executions()
            if x.lease.state is HELD
        ]
        sent = time.monotonic()
        try:
            held = await self.runtime.store.renew_leases(
                holder=self.holder, seconds=self.seconds
            )
        except StoreError as exc:
            logger.warning("lease heartbeat failed (retrying): %s", exc)
            return
        self._renewed = max(self._renewed, sent)
        leases = {lease.task_id: lease for lease in held}
        await self._release_stale(leases)
        for x, changes in live:
            if self.runtime.live(x.task_id) is not x or x.lease.changes != changes:
                continue  # ended meanwhile, or its lease was released with a write
            lease = leases.get(x.task_id)
            if lease is None:
                logger.warning(
                    "task %s: another instance took over its lease; stopping here",
                    x.task_id,
                )
                x.cancel(LEASE_LOST)
            elif lease.cancel_requested:
                x.cancel("canceled by client")

    async def _release_stale(self, leases: dict[str, Lease]) -> None:
        """Release the leases held here with nothing running them.

        An execution's own release can fail (the database was down as it ended);
        renewed with the others, such a lease would keep its task unfinished forever.
        Released, the task is an orphan that a sweep ends (or re-runs) a lease later.
        """
        for task_id in leases:
            if self.runtime.live(task_id) is None and task_id not in self._starting:
                try:
                    await self.runtime.store.release_lease(task_id, holder=self.holder)
                except StoreError as exc:
                    logger.warning(
                        "could not release the lease of %s: %s", task_id, exc
                    )
                    return

    async def watchdog(self) -> None:
        """Stop executions whose lease may have expired (runtime's task group)."""
        while True:
            await anyio.sleep(self.seconds / 8)
            self.fence()

    def fence(self) -> int:
        """Stop the executions not renewed for :data:`FENCE` of a lease; how many."""
        now = time.monotonic()
        stopped = 0
        for x in self.runtime.live_executions():
            if x.lease.state in (WITH_CREATE, RELEASED):
                continue  # holds no lease: none can expire
            since = now - max(self._renewed, x.leased_at)
            if since >= FENCE * self.seconds and x.cancel_reason is None:
                logger.warning(
                    "task %s: its lease could not be renewed for %.3g s; stopping it "
                    "here before another instance takes it over",
                    x.task_id,
                    since,
                )
                x.cancel(LEASE_LOST)
                stopped += 1
        return stopped

    # --- recovery -----------------------------------------------------------------------

    async def sweeper(self) -> None:
        """Claim expired leases now and every ``seconds / 2`` (runtime's task group)."""
        while True:
            try:
                await self.sweep()
            except StoreError as exc:
                logger.warning("lease sweep failed (retrying): %s", exc)
            await anyio.sleep(self.seconds / 2)

    async def sweep(self) -> int:
        """Take over the tasks whose instance stopped; return how many were claimed."""
        if self.runtime.draining:
            return 0
        self._claim_sent = time.monotonic()
        claimed = await self.runtime.store.claim_expired(
            holder=self.holder, seconds=self.seconds, limit=SWEEP_BATCH
        )
        with self.starting(lease.task_id for lease in claimed):
            for lease in claimed:
                await self.take_over(lease)
        return len(claimed)

    async def take_over(self, lease: Lease) -> None:
        """End, re-run or re-queue the task of a claimed lease (``attempt`` > 1)."""
        runtime = self.runtime
        scope = Scope(tenant=lease.tenant, owner=None)
        for _ in range(3):
            record = await runtime.store.get(lease.task_id, scope=scope)
            if record is None or record.task.status.state not in _RUNNING:
                break  # never created, or it ended: nothing left to do
            if lease.cancel_requested:
                state, text = TaskState.CANCELED, None
            elif runtime.agent.retry_safe and runtime.full:
                # No room here: an instance with room runs it (accord.server.queue).
                await runtime.queue.requeue(lease)
                return
            elif runtime.agent.retry_safe and self._rerun(record, lease):
                return  # the execution owns the lease now
            else:
                state, text = TaskState.FAILED, LEASE_EXPIRED_MESSAGE
            try:
                await runtime.force_state(record, state, text)
            except ConflictError:
                continue  # written meanwhile: look again
            logger.warning(
                "task %s: its instance stopped (lease expired); ended %s",
                lease.task_id,
                state.name,
            )
            break
        await runtime.store.release_lease(lease.task_id, holder=self.holder)

    def _rerun(self, record: TaskRecord, lease: Lease) -> bool:
        """Start the task's last message again here, as attempt ``lease.attempt``."""
        from .runtime import Execution  # runtime imports this module

        message = last_user_message(record)
        if message is None:
            return False
        task = record.task
        x = Execution(
            task_id=task.id,
            context_id=task.context_id,
            message=message,
            request=SendMessageRequest(tenant=lease.tenant, message=message),
            scope=Scope(tenant=record.tenant, owner=record.owner),
            existing=True,
            attempt=lease.attempt,
        )
        x.leased_at = self._claim_sent
        try:
            self.runtime.launch(x, record)
        except Exception as exc:  # shutting down, or at the running limit
            logger.warning("task %s: cannot re-run it here: %s", task.id, exc)
            return False
        logger.warning(
            "task %s: its instance stopped (lease expired); running it again here "
            "(attempt %d)",
            task.id,
            lease.attempt,
        )
        return True


def last_user_message(record: TaskRecord) -> Message | None:
    """The task's latest client message (what a re-run or a claimed run answers)."""
    for message in reversed(record.task.history or ()):
        if message.role is Role.USER:
            return message
    return None
