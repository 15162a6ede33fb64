"""How many executions run here, per caller and per tenant: what concurrency quotas count.

The :class:`~accord.server.runtime.Runtime` counts each execution it runs under its
task's scope (tenant and owner) from the moment it is registered until it ends: a
:class:`Slot`. A concurrency quota (:class:`~accord.server.quotas.QuotaRule`
``running=``) holds a place for a message before it is handled, and must not be fooled
by requests that arrive together: each admitted request therefore *reserves* its slot
at once (:meth:`RunningCounts.reserve`), and the execution that request starts adopts
the reservation instead of counting itself a second time. The reservation travels from
the interceptor to the runtime in a context variable, since both run in the request's
task; a reservation that no execution adopted (a message answered without running the
agent, an error, work deferred to the queue) ends when the call ends.

Whoever holds something for a slot (a quota backend's place) adds a callback with
:meth:`Slot.when_ended`; it runs once, when the slot ends.

Counts are this process's: executions another instance runs are counted there.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RunningCounts", "Slot"]

logger = logging.getLogger(__name__)


class Slot:
    """One counted execution (or a reservation for one): it ends exactly once."""

    __slots__ = ("_counts", "_ended", "_on_end", "adopted", "owner", "tenant")

    def __init__(self, counts: RunningCounts, tenant: str, owner: str) -> None:
        self._counts = counts
        self.tenant = tenant
        self.owner = owner
        #: True once an execution took the reservation over (it ends it).
        self.adopted = False
        self._ended = False
        self._on_end: list[Callable[[], None]] = []

    @property
    def ended(self) -> bool:
        """True once the slot was given back."""
        return self._ended

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (which must not suspend nor raise) when the slot ends."""
        if self._ended:
            callback()
        else:
            self._on_end.append(callback)

    def end(self) -> None:
        """Give the slot back (idempotent)."""
        if self._ended:
            return
        self._ended = True
        self._counts.leave(self.tenant, self.owner)
        for callback in self._on_end:
            try:
                callback()
            except Exception:
                logger.exception("a running slot's end callback failed")

    def release(self) -> None:
        """End a reservation no execution adopted (the call is over)."""
        if not self.adopted:
            self.end()


#: The reservation of the request being handled in this task, if any.
_RESERVED: ContextVar[Slot | None] = ContextVar("accord_reserved", default=None)


class RunningCounts:
    """Executions running in this process, by (tenant, owner) and by tenant.

    Counting starts once something needs it (:attr:`active`: quotas with running
    limits set it when they start serving); until then an execution costs it nothing.
    """

    def __init__(self) -> None:
        self._callers: dict[tuple[str, str], int] = {}
        self._tenants: dict[str, int] = {}
        #: Whether the runtime counts its executions here.
        self.active = False

    def of_caller(self, tenant: str, owner: str) -> int:
        """Executions (and reservations) of ``owner`` in ``tenant``."""
        return self._callers.get((tenant, owner), 0)

    def of_tenant(self, tenant: str) -> int:
        """Executions (and reservations) of every caller in ``tenant``."""
        return self._tenants.get(tenant, 0)

    def reserve(self, tenant: str, owner: str) -> Slot:
        """Count a slot now for the request being handled in this task.

        The execution the request starts (in this task) adopts it; the caller must
        :meth:`Slot.release` it once the call ended, which does nothing if it was
        adopted.
        """
        slot = self._enter(tenant, owner)
        _RESERVED.set(slot)
        return slot

    def start(self, tenant: str, owner: str) -> Slot:
        """An execution of (``tenant``, ``owner``) starts: its slot is this task's
        reservation for the same caller, adopted, or a new one. End it when the
        execution ends."""
        slot = _RESERVED.get()
        if (
            slot is not None
            and slot._counts is self
            and not slot.adopted
            and not slot.ended
            and slot.tenant == tenant
            and slot.owner == owner
        ):
            slot.adopted = True
            _RESERVED.set(None)
            return slot
        return self._enter(tenant, owner)

    def _enter(self, tenant: str, owner: str) -> Slot:
        callers, tenants, key = self._callers, self._tenants, (tenant, owner)
        callers[key] = callers.get(key, 0) + 1
        tenants[tenant] = tenants.get(tenant, 0) + 1
        return Slot(self, tenant, owner)

    def leave(self, tenant: str, owner: str) -> None:
        """Count one slot of (``tenant``, ``owner``) less."""
        callers, tenants, key = self._callers, self._tenants, (tenant, owner)
        left = callers.get(key, 0) - 1
        if left > 0:
            callers[key] = left
        else:
            callers.pop(key, None)
        left = tenants.get(tenant, 0) - 1
        if left > 0:
            tenants[tenant] = left
        else:
            tenants.pop(tenant, None)
