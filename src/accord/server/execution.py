"""An :class:`Execution`: one call of the agent for one incoming message.

The :class:`~accord.server.runtime.Runtime` makes one per message that runs the agent
(a new task, a follow-up to an interrupted one, a task taken over or claimed from the
queue) and keeps it while it runs: its cancel scope, its lease, its recorder and its
place in the running counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from accord.protocol.versioning import CURRENT_VERSION

from .leases import LeaseHold

if TYPE_CHECKING:
    from accord.stores import Scope
    from accord.types import Message, SendMessageRequest

    from .recorder import Recorder
    from .running import Slot

__all__ = ["Execution"]


@dataclass(eq=False, slots=True, init=False)
class Execution:
    """One call of the agent for one incoming message."""

    # The defaults are __init__'s.
    task_id: str
    context_id: str
    message: Message
    request: SendMessageRequest
    scope: Scope
    existing: bool
    recorder: Recorder  # set by Runtime.start
    cancel_scope: anyio.CancelScope | None
    cancel_reason: str | None
    #: 1 for the first run; n > 1 when an instance re-runs the task it took over.
    attempt: int
    #: The exception the agent (or the store under it) raised, if any.
    error: Exception | None
    #: Claimed from the queue (queue.py): its task exists, a follow-up is resumed.
    queued: bool
    #: Where its lease is (leases.py: taken with the task's creation, released with
    #: its last write).
    lease: LeaseHold
    #: Its place in the running counts (running.py), from registration to its end.
    slot: Slot | None
    #: The A2A version the caller spoke (``1.0``, or ``0.3``: bindings/v03.py).
    version: str
    #: True once the execution has ended (its task recorded, its lease released).
    ended: bool
    _done: anyio.Event | None = field(repr=False)

    def __init__(
        self,
        task_id: str,
        context_id: str,
        message: Message,
        request: SendMessageRequest,
        scope: Scope,
        existing: bool,
        version: str = CURRENT_VERSION,
        attempt: int = 1,
        queued: bool = False,
    ) -> None:
        # Written out rather than generated: one is made per request, and the
        # generated __init__ (keyword defaults, the lease's default_factory) cost
        # more than these plain assignments (measured).
        self.task_id = task_id
        self.context_id = context_id
        self.message = message
        self.request = request
        self.scope = scope
        self.existing = existing
        self.version = version
        self.attempt = attempt
        self.queued = queued
        self.recorder = None  # type: ignore[assignment]  # set by Runtime.start
        self.cancel_scope = None
        self.cancel_reason = None
        self.error = None
        self.lease = LeaseHold()
        self.slot = None
        self.ended = False
        self._done = None

    @property
    def done(self) -> anyio.Event:
        """Set once the execution has ended; made on first use (most are never
        awaited, and an Event per execution is measurable on the blocking path)."""
        if self._done is None:
            self._done = anyio.Event()
            if self.ended:
                self._done.set()
        return self._done

    def _finish(self) -> None:
        self.ended = True
        if self._done is not None:
            self._done.set()

    @property
    def leased_at(self) -> float:
        """time.monotonic() when its lease was requested (leases.py: fencing)."""
        return self.lease.since

    @leased_at.setter
    def leased_at(self, value: float) -> None:
        self.lease.since = value

    def cancel(self, reason: str) -> None:
        """Ask the execution to stop; it records the end state itself."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()
