"""How many executions run here, per caller and per tenant: what concurrency quotas count.

The :class:`~accord.server.runtime.Runtime` counts each execution it runs under its
task's scope (tenant and owner) from the moment it is registered until it ends. A
concurrency quota (:class:`~accord.server.quotas.QuotaRule` ``running=``) checks the
count before a message is handled, and must not be fooled by requests that arrive
together: each admitted request therefore *reserves* its slot at once
(:meth:`RunningCounts.reserve`), and the execution that request starts adopts the
reservation instead of counting itself a second time. The reservation travels from
the interceptor to the runtime in a context variable, since both run in the request's
task; a reservation that no execution adopted (a message answered without running the
agent, an error, work deferred to the queue) is given back when the call ends.

Counts are this process's: executions another instance runs are counted there.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Reservation", "RunningCounts"]


@dataclass(slots=True, eq=False)
class Reservation:
    """One slot taken for a request before its execution exists."""

    tenant: str
    owner: str
    #: True once an execution took the slot over (it gives it back when it ends).
    adopted: bool = False
    #: True once the slot was given back (by the call, or by its execution).
    released: bool = False
    counts: RunningCounts | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the slot back unless an execution adopted it (idempotent)."""
        if not self.adopted and not self.released and self.counts is not None:
            self.released = True
            self.counts.leave(self.tenant, self.owner)


#: The reservation of the request being handled in this task, if any.
_RESERVED: ContextVar[Reservation | None] = ContextVar("accord_reserved", default=None)


class RunningCounts:
    """Executions running in this process, by (tenant, owner) and by tenant."""

    def __init__(self) -> None:
        self._callers: Counter[tuple[str, str]] = Counter()
        self._tenants: Counter[str] = Counter()

    def of_caller(self, tenant: str, owner: str) -> int:
        """Executions (and reservations) of ``owner`` in ``tenant``."""
        return self._callers[(tenant, owner)]

    def of_tenant(self, tenant: str) -> int:
        """Executions (and reservations) of every caller in ``tenant``."""
        return self._tenants[tenant]

    def reserve(self, tenant: str, owner: str) -> Reservation:
        """Count a slot now for the request being handled in this task.

        The execution the request starts (in this task) adopts it; the caller must
        :meth:`Reservation.release` it once the call ended, which does nothing if it
        was adopted.
        """
        self.enter(tenant, owner)
        reservation = Reservation(tenant, owner, counts=self)
        _RESERVED.set(reservation)
        return reservation

    def start(self, tenant: str, owner: str) -> None:
        """An execution of (``tenant``, ``owner``) starts: adopt this task's
        reservation for the same caller, or count a new slot."""
        reservation = _RESERVED.get()
        if (
            reservation is not None
            and reservation.counts is self
            and not reservation.adopted
            and not reservation.released
            and reservation.tenant == tenant
            and reservation.owner == owner
        ):
            reservation.adopted = True
            _RESERVED.set(None)
            return
        self.enter(tenant, owner)

    def enter(self, tenant: str, owner: str) -> None:
        """Count one more slot of (``tenant``, ``owner``)."""
        self._callers[(tenant, owner)] += 1
        self._tenants[tenant] += 1

    def leave(self, tenant: str, owner: str) -> None:
        """Count one slot of (``tenant``, ``owner``) less (an execution ended)."""
        key = (tenant, owner)
        left = self._callers[key] - 1
        if left > 0:
            self._callers[key] = left
        else:
            self._callers.pop(key, None)
        left = self._tenants[tenant] - 1
        if left > 0:
            self._tenants[tenant] = left
        else:
            self._tenants.pop(tenant, None)
