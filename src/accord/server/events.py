"""Task events: wake the subscribers of a task when its event log grows.

The per-task event log in the store is the source of truth (every event, in order,
numbered 1, 2, 3…). A :class:`TaskEvents` implementation only *wakes* subscribers; a
subscriber that wakes reads what it has not seen yet, so a lost or merged wake-up
costs a store read, never an event. This module defines the interface, the
:class:`Subscription` every implementation hands out, and :class:`LocalTaskEvents`, the
in-process implementation (one server process; the default).
:class:`~accord.server.pg_events.PostgresTaskEvents` extends it across instances that
share a PostgreSQL store (LISTEN/NOTIFY).

The contract (``tests/server/test_task_events.py`` checks it against every
implementation through one parametrised fixture):

* **Order, no loss, no duplicates.** A subscription yields a task's logged updates in
  increasing ``seq``, each at most once, with no gap: once it knows its position (a
  first update, or ``after``), an update beyond the next ``seq`` makes it read the log
  (its ``catch_up``) from its last ``seq`` instead.
* **Where it starts.** ``subscribe(task_id, catch_up=..., after=None)`` delivers what is
  published from the call on; ``after=n`` first reads the log after ``n``, then goes on
  live. Subscribe *before* reading the state you start from (the handler does), so
  nothing falls between the read and the subscription; overlap is skipped by ``seq``.
* **Publishing never blocks.** :meth:`TaskEvents.publish` is called by the task's
  single writer after the event is durably stored, also from the cleanup of a
  cancelled execution, so it must not suspend: an implementation that does I/O (a
  ``NOTIFY``) hands it to its own task through a bounded queue, or lets the store
  send it in the append's transaction. Nor does it wait for any subscriber: each subscription has a bounded buffer; a subscriber that falls a whole
  buffer behind is marked *lagged*, its buffer is dropped, and its next read catches
  up from the log. Memory stays at (subscribers x buffer) at most.
* **At-least-once wake-ups.** An implementation may deliver the update itself
  (:meth:`Subscription.offer`, the fast path: no store read) or only say that the log
  grew (:meth:`Subscription.notify`: the subscriber reads the log). Several wake-ups
  may be merged into one; a duplicate wake-up is harmless, and may come at any time,
  also before a subscription's first update: a subscriber that starts from a known
  position sets ``last_seq`` to it first. The PostgreSQL implementation ``NOTIFY`` s
  the task and ``seq`` and calls ``notify()`` on the other instances' subscribers.
* **Updates outside the log** (``seq`` 0: a Message reply, the end of an execution)
  are delivered by offer only, to subscribers of the same process. Nothing else relies
  on them across processes.
* **Shutdown.** :meth:`TaskEvents.close_all` ends every subscription after what is
  already queued for it (so a task's final event, published just before, still
  arrives); a subscription's reader then stops iterating.
* **Cancel wake-ups** (a second, separate kind, for the runtime, never for
  subscribers). A CancelTask received by an instance that does not run the task
  stores a cancel request on the task's lease (the signal itself), then calls
  :meth:`TaskEvents.cancel_requested`. It never suspends, and calls the ``wake`` of
  every :meth:`TaskEvents.watch_cancel` of that task, in this process at once and on
  the other instances (PostgreSQL) a NOTIFY later; the runtime that runs the task
  watches it for as long as it runs and, woken, reads the stored request right away.
  A wake-up carries nothing but "look now": it may be lost (the heartbeat still
  finds the stored request) or spurious (the read finds none).
* **Work wake-ups** (a third kind, for the runtime). An instance that queued work
  (:mod:`accord.server.queue`: its own running limit was reached) calls
  :meth:`TaskEvents.work_queued`; it never suspends and calls every
  :meth:`TaskEvents.watch_work` ``wake``, in this process at once and on the other
  instances (PostgreSQL) a NOTIFY later. A woken runtime with free room claims queued
  work from the store. Again only "look now": lost (each runtime also looks at its
  periodic sweep and whenever one of its executions ends) or spurious (nothing left to
  claim) costs nothing but time or a read.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import anyio

from accord.stores import StoredEvent

if TYPE_CHECKING:
    from accord.types import StreamResponse, Task

__all__ = [
    "DEFAULT_SUBSCRIBER_BUFFER",
    "CancelWake",
    "CatchUp",
    "LocalTaskEvents",
    "Subscription",
    "TaskEvents",
    "Update",
    "WorkWake",
]

#: Events buffered per subscriber before it is detached and made to catch up from the
#: store. A streamed artifact of 2,000 chunks fits twice over; memory stays bounded at
#: (subscribers x buffer) small immutable values.
DEFAULT_SUBSCRIBER_BUFFER = 4096


class Update(NamedTuple):
    """One published event: its sequence number, the event, and the task after it.

    ``seq`` 0 marks an event that is not part of the task's log (a Message reply).
    ``final`` marks the end of one execution (its turn is over). ``created`` marks an
    event written by the transaction that created its task: nobody anywhere can have
    subscribed to the task before that commit, so other instances need no wake-up
    for it (they read it when they first find the task). A NamedTuple: a few are made
    per event, and it is made in half the time of a frozen dataclass.
    """

    seq: int
    event: StreamResponse | None
    task: Task | None
    final: bool = False
    created: bool = False


#: Reads a task's logged events after a sequence number (the store's ``events``,
#: scoped to what the subscriber may see).
CatchUp = Callable[[int], Awaitable[list[StoredEvent]]]

#: Called (on the event loop, must not block) when a cancel request may have been
#: stored for a watched task: the watcher reads the stored request.
CancelWake = Callable[[], None]
#: Called (on the event loop, must not block) when work may have been queued: the
#: watcher claims what it has room for.
WorkWake = Callable[[], None]


class Subscription:
    """A subscriber's view of one task's events; iterate it with ``async for``.

    A plain deque bounded by ``buffer``; the reader parks on an ``anyio.Event`` made
    only when the deque is empty (most reads need none). Implementations of
    :class:`TaskEvents` feed it with :meth:`offer` or :meth:`notify`.
    """

    def __init__(
        self,
        task_id: str,
        *,
        buffer: int,
        catch_up: CatchUp,
        detach: Callable[[Subscription], None],
        after: int | None = None,
    ) -> None:
        self.task_id = task_id
        self.catch_up = catch_up
        self._buffer = buffer
        self._detach = detach
        self._queue: deque[Update] = deque()
        self._waiter: anyio.Event | None = None
        self._closed = False
        #: True when the next read must catch up from the log first.
        self.lagged = after is not None
        #: Highest sequence number delivered so far.
        self.last_seq = after or 0
        self._backlog: deque[Update] = deque()

    def offer(self, update: Update) -> None:
        """Queue ``update`` without blocking (a full buffer makes the reader catch up).

        An update that is not in the event log (``seq`` 0: the end of an execution, a
        direct reply) is queued even while the reader is to catch up, which cannot
        bring it back: after a store outage a blocking SendMessage would otherwise
        wait for an end that was dropped.
        """
        if self._closed:
            return
        if self.lagged:
            if not update.seq:
                self._queue.append(update)
                self._wake()
            return
        if len(self._queue) >= self._buffer:
            # Too slow: drop what is queued and catch up from the event log instead.
            self.lagged = True
            self._queue.clear()
        else:
            self._queue.append(update)
        self._wake()

    def notify(self) -> None:
        """Say that the log grew: the reader catches up from its last ``seq``."""
        if self._closed:
            return
        self.lagged = True  # what is queued stays; overlap is skipped by seq
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    async def _reattach(self) -> list[Update]:
        # Accept new updates first, then read the log: nothing published in between
        # is lost (duplicates are skipped by sequence number).
        self.lagged = False
        missed = await self.catch_up(self.last_seq)
        return [Update(seq=e.seq, event=e.event, task=None) for e in missed]

    # A class-based iterator rather than an async generator: a caller that stops early
    # (a blocking SendMessage that got its answer) leaves nothing to finalize.
    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Update:
        while True:
            if self._backlog:
                update = self._backlog.popleft()
                if update.seq > self.last_seq:
                    self.last_seq = update.seq
                    return update
                continue
            if self.lagged:
                self._backlog.extend(await self._reattach())
                continue
            if self._queue:
                update = self._queue.popleft()
                seq = update.seq
                if seq:
                    if seq <= self.last_seq:
                        continue  # already delivered (replay overlap)
                    if self.last_seq and seq > self.last_seq + 1:
                        # A gap (a wake-up was lost or merged): the log has the rest.
                        self.lagged = True
                        continue
                    self.last_seq = seq
                return update
            if self._closed:
                raise StopAsyncIteration
            waiter = self._waiter = anyio.Event()
            await waiter.wait()

    def close(self) -> None:
        """Unsubscribe; a reader waiting on it stops iterating."""
        self._detach(self)
        self._closed = True
        self._queue.clear()
        self._wake()

    def end(self) -> None:
        """Unsubscribe; the reader gets what is queued, then stops."""
        self._detach(self)
        self._closed = True
        self._wake()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class TaskEvents(Protocol):
    """Publish/subscribe of task updates, keyed by task id (see the module contract)."""

    async def publish(self, task_id: str, update: Update) -> None:
        """Wake the subscribers of ``task_id``; never waits for a subscriber to read."""
        ...

    def subscribe(
        self, task_id: str, *, catch_up: CatchUp, after: int | None = None
    ) -> Subscription:
        """Subscribe to ``task_id``: live from now, or from the log after ``after``."""
        ...

    def close_all(self) -> int:
        """End every subscription after its queued updates; returns how many."""
        ...

    def subscriber_count(self, task_id: str) -> int:
        """How many subscriptions ``task_id`` has in this process."""
        ...

    def cancel_requested(self, task_id: str) -> None:
        """Wake whoever watches ``task_id`` (any instance): a cancel request is stored.

        Call it after the request is durably stored; never suspends.
        """
        ...

    def watch_cancel(self, task_id: str, wake: CancelWake) -> Callable[[], None]:
        """Call ``wake`` on cancel requests for ``task_id`` until the returned stop."""
        ...

    def refresh(self, task_id: str) -> None:
        """Make the subscribers of ``task_id`` in this process read its log now."""
        ...

    def work_queued(self) -> None:
        """Wake every work watcher (any instance): work was queued in the store.

        Call it after the queued row is durably stored; never suspends.
        """
        ...

    def watch_work(self, wake: WorkWake) -> Callable[[], None]:
        """Call ``wake`` whenever work may have been queued, until the returned stop."""
        ...


class LocalTaskEvents:
    """The in-process :class:`TaskEvents`: updates are handed to subscribers directly.

    Publishing costs one deque append per subscriber and no store read; it is the
    right implementation when one process serves the store (memory, SQLite).
    """

    def __init__(self, buffer: int = DEFAULT_SUBSCRIBER_BUFFER) -> None:
        if buffer < 1 or buffer == math.inf:
            raise ValueError("subscriber buffer must be a positive integer")
        self._buffer = buffer
        self._subs: dict[str, set[Subscription]] = {}
        self._cancel_watches: dict[str, list[CancelWake]] = {}
        self._work_watches: list[WorkWake] = []

    def subscribe(
        self, task_id: str, *, catch_up: CatchUp, after: int | None = None
    ) -> Subscription:
        """Start receiving the updates of ``task_id`` (see :class:`TaskEvents`)."""
        sub = Subscription(
            task_id,
            buffer=self._buffer,
            catch_up=catch_up,
            detach=self._detach,
            after=after,
        )
        self._subs.setdefault(task_id, set()).add(sub)
        return sub

    async def publish(self, task_id: str, update: Update) -> None:
        """Offer ``update`` to every subscriber of ``task_id``; never suspends."""
        subs = self._subs.get(task_id)
        if subs:
            for sub in tuple(subs):
                sub.offer(update)

    def close_all(self) -> int:
        """End every subscription; returns how many were open.

        Each reader still gets the updates already queued for it (a task's final
        event, published just before), then its iterator stops. Used at shutdown so
        open streams finish instead of holding the server up.
        """
        subs = [sub for group in self._subs.values() for sub in group]
        for sub in subs:
            sub.end()
        return len(subs)

    def subscriber_count(self, task_id: str) -> int:
        """How many subscribers ``task_id`` has (for tests and metrics)."""
        return len(self._subs.get(task_id, ()))

    def cancel_requested(self, task_id: str) -> None:
        """Call the wakes watching ``task_id`` in this process, now; never suspends."""
        for wake in tuple(self._cancel_watches.get(task_id, ())):
            wake()

    def watch_cancel(self, task_id: str, wake: CancelWake) -> Callable[[], None]:
        """Call ``wake`` on every cancel request for ``task_id`` until stopped.

        Returns the function that stops watching (idempotent).
        """
        self._cancel_watches.setdefault(task_id, []).append(wake)
        watching = True

        def stop() -> None:
            nonlocal watching
            if watching:
                watching = False
                self._unwatch_cancel(task_id, wake)

        return stop

    def refresh(self, task_id: str) -> None:
        """Make the subscribers of ``task_id`` read its log (a wake-up from outside)."""
        for sub in tuple(self._subs.get(task_id, ())):
            sub.notify()

    def work_queued(self) -> None:
        """Call every work watcher of this process, now; never suspends."""
        for wake in tuple(self._work_watches):
            wake()

    def watch_work(self, wake: WorkWake) -> Callable[[], None]:
        """Call ``wake`` whenever work may have been queued, until stopped.

        Returns the function that stops watching (idempotent).
        """
        self._work_watches.append(wake)
        watching = True

        def stop() -> None:
            nonlocal watching
            if watching:
                watching = False
                for i, other in enumerate(self._work_watches):
                    if other is wake:
                        del self._work_watches[i]
                        break

        return stop

    def cancel_watch_count(self, task_id: str) -> int:
        """How many watchers ``task_id``'s cancel requests have here (tests, metrics)."""
        return len(self._cancel_watches.get(task_id, ()))

    def _unwatch_cancel(self, task_id: str, wake: CancelWake) -> None:
        wakes = self._cancel_watches.get(task_id)
        if wakes is not None:
            # By identity: the same bound method may watch twice.
            for i, other in enumerate(wakes):
                if other is wake:
                    del wakes[i]
                    break
            if not wakes:
                del self._cancel_watches[task_id]

    def _detach(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.task_id]
