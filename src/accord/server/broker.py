"""In-process fan-out of task events to any number of subscribers, each bounded.

Theory of operation. Every event a task records goes through :meth:`Broker.publish`
after it is durably stored. Each subscriber has its own bounded memory stream; the
publisher never blocks (an agent must not stall because a client reads slowly). When a
subscriber's buffer is full it is marked *lagged* and detached; on its next read it
reattaches and catches up from the store's event log (the log has every event, in
order, with sequence numbers), then continues live. So a slow reader costs bounded
memory, loses nothing, and never sees an event twice or out of order (spec §3.5.2).

This broker is per process. With several server processes sharing a database (later),
the same interface is fed from the database's notifications instead.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from accord.stores import StoredEvent

if TYPE_CHECKING:
    from accord.types import StreamResponse, Task

__all__ = ["DEFAULT_SUBSCRIBER_BUFFER", "Broker", "Subscription", "Update"]

#: Events buffered per subscriber before it is detached and made to catch up from the
#: store. A streamed artifact of 2,000 chunks fits twice over; memory stays bounded at
#: (subscribers x buffer) small immutable values.
DEFAULT_SUBSCRIBER_BUFFER = 4096


@dataclass(frozen=True, slots=True)
class Update:
    """One published event: its sequence number, the event, and the task after it.

    ``seq`` 0 marks an event that is not part of the task's log (a Message reply).
    ``final`` marks the end of one execution (its turn is over).
    """

    seq: int
    event: StreamResponse | None
    task: Task | None
    final: bool = False


CatchUp = Callable[[int], Awaitable[list[StoredEvent]]]


class Subscription:
    """A subscriber's view of one task's events; iterate it with ``async for``.

    A plain deque bounded by the broker's buffer size; the reader parks on an
    ``anyio.Event`` made only when the deque is empty (most reads need none).
    """

    def __init__(self, broker: Broker, task_id: str, buffer: int) -> None:
        self._broker = broker
        self.task_id = task_id
        self._buffer = buffer
        self._queue: deque[Update] = deque()
        self._waiter: anyio.Event | None = None
        self._closed = False
        self.lagged = False
        #: Highest sequence number delivered so far.
        self.last_seq = 0
        self.catch_up: CatchUp | None = None
        self._backlog: deque[Update] = deque()

    def _offer(self, update: Update) -> None:
        if self.lagged or self._closed:
            return
        if len(self._queue) >= self._buffer:
            # Too slow: drop what is queued and catch up from the event log instead.
            self.lagged = True
            self._queue.clear()
        else:
            self._queue.append(update)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    async def _reattach(self) -> list[Update]:
        # Accept new updates first, then read the log: nothing published in between
        # is lost (duplicates are skipped by sequence number).
        self.lagged = False
        if self.catch_up is None:
            return []
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
                if update.seq and update.seq <= self.last_seq:
                    continue  # already delivered (replay overlap)
                if update.seq:
                    self.last_seq = update.seq
                return update
            if self._closed:
                raise StopAsyncIteration
            waiter = self._waiter = anyio.Event()
            await waiter.wait()

    def close(self) -> None:
        """Detach from the broker; a reader waiting on it stops iterating."""
        self._broker._detach(self)
        self._closed = True
        self._queue.clear()
        self._wake()

    def end(self) -> None:
        """Detach from the broker; the reader gets what is queued, then stops."""
        self._broker._detach(self)
        self._closed = True
        self._wake()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Broker:
    """Per-process publish/subscribe of task updates, keyed by task id."""

    def __init__(self, buffer: int = DEFAULT_SUBSCRIBER_BUFFER) -> None:
        if buffer < 1 or buffer == math.inf:
            raise ValueError("subscriber buffer must be a positive integer")
        self._buffer = buffer
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(
        self, task_id: str, *, catch_up: CatchUp | None = None
    ) -> Subscription:
        """Start receiving the updates of ``task_id`` published from now on."""
        sub = Subscription(self, task_id, self._buffer)
        sub.catch_up = catch_up
        self._subs.setdefault(task_id, set()).add(sub)
        return sub

    def publish(self, task_id: str, update: Update) -> None:
        """Offer ``update`` to every subscriber of ``task_id`` without blocking."""
        for sub in tuple(self._subs.get(task_id, ())):
            sub._offer(update)

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

    def _detach(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.task_id]
