"""Write-behind for the beginning of a blocking SendMessage's new task.

Theory of operation. A blocking SendMessage runs its agent inline
(:meth:`~accord.server.runtime.Runtime.run_inline`) and answers only when the turn is
over, and its task is new: nobody but this execution knows the task's id until the
answer names it. So nothing is lost, and nobody can tell, if the task's first events
are not written one transaction each as the agent makes them, but together:

* The :class:`~accord.server.recorder.Recorder` of such an execution keeps the task's
  creation and the events after it in memory (in order, with their sequence numbers)
  while the agent runs without waiting, and writes them with **one** store call
  (``TaskStore.create(..., more=...)``) when the turn ends (a terminal or interrupted
  state: then the task is created already ended and takes no lease at all), when the
  agent calls ``ctx.submit()``, or as soon as the agent waits for anything else.
  After that first write, every event is written as it happens, as for any turn.
* "As soon as the agent waits" is this module: the recorder registers here with its
  first buffered event, which wakes :class:`WriteBehind`'s task in the runtime's task
  group. That task runs only once the request's task has given up the event loop:
  either the write at the turn's end is in flight (the recorder's lock is held; it
  writes everything, and the flush here does nothing), or the agent is waiting for
  something else (a model, a tool, a timer): then this task writes what is buffered,
  so the task and its progress are visible (GetTask, ListTasks, other instances) and
  leased while the agent waits, exactly as if each event had been written at once.

An agent that never waits between its first progress call and the end of its turn
(the common echo, lookup or template answer) costs one transaction instead of one
per event, and with PostgreSQL no wake-up for the other instances: no subscriber can
have found a task before the transaction that created it (see
:attr:`~accord.server.events.Update.created`).

Subscribers in this process are served only after the write (the updates are
published when their transaction has committed), so nothing unwritten is ever
delivered. A failed write keeps the buffer: the agent's progress call that triggered
it raises, as a direct write would, and nothing was stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from accord.errors import StoreError

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["WriteBehind"]

logger = logging.getLogger(__name__)


class WriteBehind:
    """Writes the buffered beginnings of inline turns whose agent waits (module doc).

    One per runtime; :meth:`run` is its task, in the runtime's task group.
    """

    def __init__(self) -> None:
        #: Recorders with buffered events, oldest first (a dict keeps order).
        self._buffered: dict[Recorder, None] = {}
        self._wake = anyio.Event()
        #: Buffers written because their agent waited (diagnostics, tests).
        self.flushed = 0

    def add(self, recorder: Recorder) -> None:
        """``recorder`` buffered its first event: write it once its agent waits.

        Never suspends (called from the recorder's write path). Again for each
        buffered event: nothing to do while it is registered (then :meth:`run` is
        woken already), and it registers anew once :meth:`run` took it.
        """
        if recorder in self._buffered:
            return
        self._buffered[recorder] = None
        self._wake.set()

    def discard(self, recorder: Recorder) -> None:
        """``recorder`` wrote its buffer itself (or has none any more)."""
        self._buffered.pop(recorder, None)

    async def run(self) -> None:
        """Flush the buffers of agents that wait, forever (the runtime's task group)."""
        async with anyio.create_task_group() as tg:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                # Everything registered so far: this task runs only after the tasks
                # that registered them gave up the event loop.
                waiting, self._buffered = self._buffered, {}
                for recorder in waiting:
                    tg.start_soon(self._flush, recorder)

    async def _flush(self, recorder: Recorder) -> None:
        try:
            if await recorder.flush_waiting():
                self.flushed += 1
        except StoreError as exc:
            # Kept in the buffer: the agent's next progress call (at the latest the
            # turn's end) writes it again, and its caller sees the error if it stays.
            logger.warning(
                "could not write the beginning of task %s yet: %s",
                recorder.task_id,
                exc,
            )
