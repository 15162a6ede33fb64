"""Task events across instances that share a PostgreSQL task store (LISTEN/NOTIFY).

:class:`PostgresTaskEvents` is :class:`~accord.server.events.LocalTaskEvents` (the
same process's subscribers get each update directly, seq-0 updates included) plus
wake-ups for the other instances: each logged update is NOTIFYed by
:class:`~accord.stores.postgres_notify.PostgresNotifier` and, on every other instance,
the subscribers of that task are told that its log grew
(:meth:`~accord.server.events.Subscription.notify`) and read what they miss from the
store. Nothing is carried but the wake-up, so a lost or merged NOTIFY costs a read,
never an event.

Why not NOTIFY inside the append's transaction: the store would have to know about
wake-ups, every append would take PostgreSQL's global notify-queue lock while it
holds its task's row lock, and the event's commit and its wake-up would be one; sent
from a task of its own, the wake-ups of events that pile up during one round trip
share one statement and one commit. The cost is a round trip after the append
(``bench/pg_events_latency.py`` measures the whole path from one instance's publish
to another instance's subscriber).

Cancel wake-ups (:meth:`PostgresTaskEvents.cancel_requested`) go the same way, as a
message of their own kind: the instance whose runtime watches the task (it runs it)
maps the task key to the watched task ids and calls their ``wake``; the runtime then
reads the stored cancel request at once instead of at its next heartbeat.

Work wake-ups (:meth:`PostgresTaskEvents.work_queued`, a third kind) tell every
other instance that work was queued (an instance at its running limit); each calls its
work watchers, and a runtime with room claims it (:mod:`accord.server.queue`).

Two safety nets: whenever the LISTEN connection is re-established, every subscriber
reads the log once (what was published while it was down); and every
``fallback_poll`` seconds every subscriber does (a wake-up lost some other way, for
instance an instance that crashed between its append and its NOTIFY). The poll is
slow on purpose: one indexed read per subscription per interval.

The :class:`~accord.server.Engine` picks this implementation by itself when its store
is a :class:`~accord.stores.postgres.PostgresTaskStore`, and runs it for its
lifetime.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Self

import anyio

from accord.stores.postgres_notify import (
    CONNECT_TIMEOUT,
    MAX_PENDING,
    RECONNECT_DELAY,
    WAKE_ALL,
    PostgresNotifier,
    task_key,
)

from .events import DEFAULT_SUBSCRIBER_BUFFER, LocalTaskEvents

if TYPE_CHECKING:
    from collections.abc import Callable

    from .events import CancelWake, CatchUp, Subscription, Update

__all__ = ["FALLBACK_POLL", "PostgresTaskEvents"]

#: Seconds between two safety-net reads of every subscription's log.
FALLBACK_POLL = 5.0


class PostgresTaskEvents(LocalTaskEvents):
    """:class:`~accord.server.events.TaskEvents` shared by instances through PostgreSQL.

    Args:
        url: the task store's URL (same database, same ``search_path``).
        buffer: updates buffered per subscriber (see
            :data:`~accord.server.events.DEFAULT_SUBSCRIBER_BUFFER`).
        fallback_poll: seconds between two safety-net reads of every subscription's
            log; None turns the safety net off.
        connect_timeout: seconds to wait for a connection to PostgreSQL.
        max_pending: tasks whose wake-ups may wait to be sent at once.
        reconnect_delay: first and longest backoff (seconds) after a lost connection.

    Run it with ``async with events: ...`` (the Engine does). It holds two
    connections: one LISTEN, one to send NOTIFYs.

    Raises:
        ValueError: a buffer, poll interval or pending limit that is not positive.
    """

    def __init__(
        self,
        url: str,
        *,
        buffer: int = DEFAULT_SUBSCRIBER_BUFFER,
        fallback_poll: float | None = FALLBACK_POLL,
        connect_timeout: float = CONNECT_TIMEOUT,
        max_pending: int = MAX_PENDING,
        reconnect_delay: tuple[float, float] = RECONNECT_DELAY,
    ) -> None:
        super().__init__(buffer)
        if fallback_poll is not None and fallback_poll <= 0:
            raise ValueError("fallback_poll must be > 0 seconds (or None)")
        self._poll = fallback_poll
        self.notifier = PostgresNotifier(
            url,
            self,
            connect_timeout=connect_timeout,
            max_pending=max_pending,
            reconnect_delay=reconnect_delay,
        )
        self._keys: dict[str, set[str]] = {}  # task key -> task ids subscribed to
        self._cancel_keys: dict[str, set[str]] = {}  # task key -> task ids watched
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        """Connect (LISTEN) and start sending; wake-ups flow while inside.

        Raises:
            StoreError: PostgreSQL cannot be reached.
            RuntimeError: already running.
        """
        if self._stack is not None:
            raise RuntimeError("these PostgresTaskEvents are already running")
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.notifier.running())
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            if self._poll is not None:
                tg.start_soon(self._fallback_poll, self._poll)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Send the wake-ups still pending (bounded), then disconnect."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def subscribe(
        self, task_id: str, *, catch_up: CatchUp, after: int | None = None
    ) -> Subscription:
        """Start receiving the updates of ``task_id``, from any instance."""
        sub = super().subscribe(task_id, catch_up=catch_up, after=after)
        self._keys.setdefault(task_key(task_id), set()).add(task_id)
        return sub

    async def publish(self, task_id: str, update: Update) -> None:
        """Deliver ``update`` here and queue its wake-up for the others; never suspends.

        No wake-up for an update written with its task's creation (``Update.created``).
        """
        await super().publish(task_id, update)
        if update.seq and not update.created:
            self.notifier.send(task_id, update.seq)

    def wake(self, key: str, seq: int) -> None:
        """Another instance logged ``seq`` for the task(s) with ``key``."""
        for task_id in tuple(self._keys.get(key, ())):
            for sub in tuple(self._subs.get(task_id, ())):
                if sub.last_seq < seq:
                    sub.notify()

    def cancel_requested(self, task_id: str) -> None:
        """Wake ``task_id``'s cancel watchers here now, elsewhere by NOTIFY."""
        super().cancel_requested(task_id)
        self.notifier.send_cancel(task_id)

    def watch_cancel(self, task_id: str, wake: CancelWake) -> Callable[[], None]:
        """Call ``wake`` on cancel requests for ``task_id`` from any instance."""
        self._cancel_keys.setdefault(task_key(task_id), set()).add(task_id)
        return super().watch_cancel(task_id, wake)

    def wake_cancel(self, key: str) -> None:
        """Another instance stored a cancel request for the task(s) with ``key``."""
        if key == WAKE_ALL:
            task_ids: tuple[str, ...] = tuple(self._cancel_watches)
        else:
            task_ids = tuple(self._cancel_keys.get(key, ()))
        for task_id in task_ids:
            super().cancel_requested(task_id)

    def work_queued(self) -> None:
        """Wake the work watchers here now, and on the other instances by NOTIFY."""
        super().work_queued()
        self.notifier.send_work()

    def wake_work(self) -> None:
        """Another instance queued work (or LISTEN was re-established)."""
        super().work_queued()

    def _unwatch_cancel(self, task_id: str, wake: CancelWake) -> None:
        super()._unwatch_cancel(task_id, wake)
        if task_id not in self._cancel_watches:
            key = task_key(task_id)
            ids = self._cancel_keys.get(key)
            if ids is not None:
                ids.discard(task_id)
                if not ids:
                    del self._cancel_keys[key]

    def wake_all(self) -> None:
        """Make every subscription read its log (it may have missed a wake-up)."""
        for group in tuple(self._subs.values()):
            for sub in tuple(group):
                sub.notify()

    def _detach(self, sub: Subscription) -> None:
        super()._detach(sub)
        if sub.task_id not in self._subs:
            key = task_key(sub.task_id)
            ids = self._keys.get(key)
            if ids is not None:
                ids.discard(sub.task_id)
                if not ids:
                    del self._keys[key]

    async def _fallback_poll(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self.wake_all()
