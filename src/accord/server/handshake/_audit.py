"""Handshake records in the audit trail: categories and agreements, never values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord._clock import now_timestamp
from accord.errors import ProtocolError
from accord.protocol.errors import spec_for
from accord.stores.audit import AuditRecord, AuditStore, subject_of

if TYPE_CHECKING:
    from ..engine import Engine
    from ..interceptors import CallInfo, Outcome

__all__ = ["DETAIL_LIMIT", "audit_store_of", "handshake_record"]

#: Characters of a handshake record's ``detail`` kept.
DETAIL_LIMIT = 500


def audit_store_of(engine: Engine) -> AuditStore | None:
    """The engine's store when it keeps an audit trail (made with ``audit=True``)."""
    store: Any = engine.store
    if isinstance(store, AuditStore) and store.audit_states:
        return store
    return None


def handshake_record(
    call: CallInfo, outcome: Outcome, kind: str, detail: str
) -> AuditRecord:
    """A record of ``kind`` (``"data"``, ``"agreement"``) about ``call``."""
    task_id, context_id, _ = subject_of(call.request, outcome.result)
    error = outcome.error
    if error is None:
        code = "ok"
    elif isinstance(error, ProtocolError):
        code = spec_for(error).reason
    else:
        code = "INTERNAL"
    principal = call.principal
    return AuditRecord(
        time=now_timestamp(),
        tenant=call.tenant,
        kind=kind,
        operation=call.operation.name,
        principal="" if principal is None else principal.id,
        task_id=task_id,
        context_id=context_id,
        trace_id=call.context.trace_id,
        outcome=code,
        detail=detail[:DETAIL_LIMIT],
        binding=call.binding,
    )
