"""The agent's audit trail of operations: an interceptor that records every call.

:class:`AuditInterceptor` writes one :class:`~accord.stores.audit.AuditRecord` (kind
``"operation"``) per operation into an :class:`~accord.stores.audit.AuditStore`: when,
the tenant, the principal, the operation, the task and context ids (from the request,
or from the result: the new task of a SendMessage, the context of a message-only
reply), the W3C trace id of the request (``traceparent``, :attr:`CallContext.trace_id
<accord.server.context.CallContext.trace_id>`), the outcome (``"ok"`` or the error's
reason, spec §5.4), the request and response sizes (their JSON encodings), the events
of a stream, and the duration.

The :class:`~accord.server.engine.Engine` puts it first, before every interceptor it
is given, when its store audits (made with ``audit=True``): so it also sees the calls
a later interceptor refuses (a rate limit answers ``RATE_LIMITED``). The task state
changes themselves are recorded by the store, in the transaction that writes the task
(:mod:`accord.stores.audit`).

With :attr:`AuditInterceptor.keep_days` set (``accord serve --audit-keep DAYS``),
records older than that are deleted while the engine runs: at start and then every
:data:`PURGE_EVERY` seconds, in bounded batches, keeping each chain verifiable
(:meth:`~accord.stores.audit.AuditStore.purge_audit`).

A record that cannot be written is logged and the caller's answer stands (an
interceptor's ``after`` hook cannot change it): the audit trail fails open. Requests
refused before they are operations (failed authentication, a malformed body) are not
operations and are not recorded (:mod:`accord.server.interceptors`).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from accord._clock import now_timestamp
from accord.errors import ProtocolError
from accord.protocol.errors import spec_for
from accord.stores.audit import AuditRecord, encoded_size, subject_of
from accord.types import format_timestamp

from .interceptors import CallInfo, Interceptor, Outcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from accord.stores.audit import AuditStore

    from .engine import Engine

__all__ = ["DETAIL_LIMIT", "PURGE_EVERY", "AuditInterceptor", "operation_record"]

logger = logging.getLogger(__name__)

#: Characters of an error message kept in a record's ``detail``.
DETAIL_LIMIT = 200
#: Seconds between two retention passes (with ``keep_days``).
PURGE_EVERY = 3600.0


class AuditInterceptor(Interceptor):
    """Record every operation in ``store``'s audit trail (see the module docstring).

    Args:
        store: where the records go.
        keep_days: delete records older than this many days while the engine runs
            (None: keep everything; ``accord audit purge`` deletes on demand).

    Raises:
        ValueError: ``keep_days`` is not positive.
    """

    def __init__(self, store: AuditStore, *, keep_days: float | None = None) -> None:
        self.store = store
        self.keep_days = keep_days

    @property
    def keep_days(self) -> float | None:
        """Days records are kept (None: for ever); read when the engine starts."""
        return self._keep_days

    @keep_days.setter
    def keep_days(self, days: float | None) -> None:
        if days is not None and not days > 0:
            raise ValueError(f"keep_days must be > 0 (got {days})")
        self._keep_days = days

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        days = self.keep_days
        if days is None:
            yield
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._retain, days)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _retain(self, days: float) -> None:
        """Delete what is older than ``days``, now and every :data:`PURGE_EVERY` s."""
        while True:
            cutoff = format_timestamp(datetime.now(UTC) - timedelta(days=days))
            try:
                deleted = await self.store.purge_audit(older_than=cutoff)
            except Exception as exc:
                logger.warning("audit retention failed (%s); next try later", exc)
            else:
                if deleted:
                    logger.info(
                        "audit retention: %d records before %s deleted", deleted, cutoff
                    )
            await anyio.sleep(PURGE_EVERY)

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        """Append the call's record (raises what the store raises; the engine logs)."""
        await self.store.append_audit((operation_record(call, outcome),))


def operation_record(call: CallInfo, outcome: Outcome) -> AuditRecord:
    """The audit record of one call."""
    request, result = call.request, outcome.result
    task_id, context_id, state = subject_of(request, result)
    error = outcome.error
    if error is None:
        code, detail = "ok", "" if outcome.finished else "client left"
    elif isinstance(error, ProtocolError):
        code, detail = spec_for(error).reason, error.message[:DETAIL_LIMIT]
    else:
        code, detail = "INTERNAL", type(error).__name__
    principal = call.principal
    return AuditRecord(
        time=now_timestamp(),
        tenant=call.tenant,
        kind="operation",
        operation=call.operation.name,
        principal="" if principal is None else principal.id,
        task_id=task_id,
        context_id=context_id,
        trace_id=call.context.trace_id,
        outcome=code,
        detail=detail,
        binding=call.binding,
        state=state,
        request_bytes=encoded_size(request),
        response_bytes=0 if result is None else encoded_size(result),
        events=outcome.events,
        duration_us=int(outcome.duration * 1_000_000),
    )
