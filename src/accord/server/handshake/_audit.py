"""Handshake records in the audit trail: categories and agreements, never values."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from accord.stores.audit import AuditRecord, AuditStore

from ..audit import operation_record
from ..interceptors import Interceptor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..engine import Engine
    from ..interceptors import CallInfo, Outcome

__all__ = ["DETAIL_LIMIT", "AuditingInterceptor", "handshake_record"]

#: Characters of a handshake record's ``detail`` kept.
DETAIL_LIMIT = 500


def handshake_record(
    call: CallInfo, outcome: Outcome, kind: str, detail: str
) -> AuditRecord:
    """A record of ``kind`` (``"data"``, ``"agreement"``) about ``call``: the
    operation's own record, with that kind and ``detail``."""
    return replace(
        operation_record(call, outcome), kind=kind, detail=detail[:DETAIL_LIMIT]
    )


class AuditingInterceptor(Interceptor):
    """An interceptor that writes handshake records into the engine's audit trail,
    when its store keeps one (made with ``audit=True``)."""

    _audit: AuditStore | None = None

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        store: Any = engine.store
        audits = isinstance(store, AuditStore) and store.audit_states
        self._audit = store if audits else None
        try:
            yield
        finally:
            self._audit = None

    async def record(
        self, call: CallInfo, outcome: Outcome, kind: str, detail: str
    ) -> None:
        """Append one record (nothing when the store keeps no audit trail)."""
        if self._audit is not None:
            await self._audit.append_audit(
                (handshake_record(call, outcome, kind, detail),)
            )
