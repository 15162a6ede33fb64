"""The caller's audit trail: every call this client makes to a remote agent.

With ``ClientConfig(audit=sink)`` the :class:`~accord.client.Client` appends one
:class:`~accord.stores.audit.AuditRecord` (kind ``"call"``) per call to ``sink``: when,
the tenant of the interface, the operation, the task and context ids (the same ids the
agent records on its side, so two organisations can correlate a task from both ends),
the W3C trace id of a ``traceparent`` header the client sends, the outcome (``"ok"`` or
the error's reason, spec §5.4), sizes, duration, the agent's URL (``peer``) and
``card_hash``: the sha256 of the RFC 8785 canonical JSON of the agent card the client
used, which pins which card, so which agent and which promises, the call relied on.
A stream is recorded when it ends (or is closed), with its events.

A sink is anything with ``append_audit(records)``: any task store
(:class:`~accord.stores.audit.AuditStore`, hash-chained per tenant, read with
``accord audit --db``), or a :class:`JsonLinesAudit` file, chained the same way and
checked with ``accord audit verify --file``. A record that cannot be written is logged;
the call's result stands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio
import anyio.to_thread

from accord._clock import now_timestamp
from accord.errors import ProtocolError
from accord.protocol.errors import spec_for
from accord.protocol.trace import trace_id_of
from accord.security.jcs import canonicalize
from accord.stores.audit import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    encoded_size,
    link,
    subject_of,
)
from accord.types import to_builtins

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from accord.types import AgentCard

__all__ = ["AuditSink", "JsonLinesAudit", "call_record", "card_hash"]

logger = logging.getLogger(__name__)


@runtime_checkable
class AuditSink(Protocol):
    """Where a client's audit records go (every task store is one)."""

    async def append_audit(self, records: Sequence[AuditRecord]) -> Any:
        """Append ``records``."""
        ...


def card_hash(card: AgentCard) -> str:
    """sha256 (hex) of the RFC 8785 canonical JSON of ``card`` (as it is encoded)."""
    return hashlib.sha256(canonicalize(to_builtins(card))).hexdigest()


def call_record(
    *,
    operation: str,
    tenant: str,
    request: Any,
    result: Any,
    error: BaseException | None,
    started: float,
    headers: Mapping[str, str],
    card: str,
    peer: str,
    events: int = 0,
    task_id: str = "",
) -> AuditRecord:
    """The record of one call (``started``: its :func:`time.monotonic`)."""
    subject_task, context_id, state = subject_of(request, result)
    if error is None:
        outcome, detail = "ok", ""
    elif isinstance(error, ProtocolError):
        outcome, detail = spec_for(error).reason, error.message[:200]
    else:
        outcome, detail = type(error).__name__, str(error)[:200]
    traceparent = next(
        (v for k, v in headers.items() if k.lower() == "traceparent"), ""
    )
    return AuditRecord(
        time=now_timestamp(),
        tenant=tenant,
        kind="call",
        operation=operation,
        task_id=task_id or subject_task,
        context_id=context_id,
        trace_id=trace_id_of(traceparent),
        outcome=outcome,
        detail=detail,
        state=state,
        request_bytes=encoded_size(request),
        response_bytes=0 if result is None else encoded_size(result),
        events=events,
        duration_us=int((time.monotonic() - started) * 1_000_000),
        card_hash=card,
        peer=peer,
    )


async def write(sink: AuditSink, record: AuditRecord) -> None:
    """Append ``record`` to ``sink``; a failure is logged, never raised."""
    try:
        await sink.append_audit((record,))
    except Exception:
        logger.exception("could not write the audit record of %s", record.operation)


class JsonLinesAudit:
    """A client audit trail in a JSON Lines file, hash-chained per tenant.

    Each line is an :class:`~accord.stores.audit.AuditEntry` as ``accord audit --json``
    writes it, so ``accord audit verify --file PATH`` checks it. Opening an existing
    file reads it once to find where each tenant's chain ends; appends then go on
    from there. Appends are serialized (a lock), each written and flushed in a worker
    thread. The file is created owner-only (0600).

    Args:
        path: the file (created when missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = anyio.Lock()
        self._heads: dict[str, tuple[int, str]] | None = None

    async def append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Chain ``records`` after their tenants' last lines and append them."""
        async with self._lock:
            return await anyio.to_thread.run_sync(self._append, records)

    def _append(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        heads = self._heads if self._heads is not None else self._read_heads()
        self._heads = heads
        entries: list[AuditEntry] = []
        for record in records:
            seq, prev = heads.get(record.tenant, (0, GENESIS))
            (entry,) = link((record,), seq=seq, prev=prev)
            heads[record.tenant] = (entry.seq, entry.hash)
            entries.append(entry)
        text = "".join(
            json.dumps(e.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
            for e in entries
        )
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(descriptor, "a", encoding="utf-8") as out:
            out.write(text)
        return entries

    def _read_heads(self) -> dict[str, tuple[int, str]]:
        heads: dict[str, tuple[int, str]] = {}
        try:
            with open(self.path, encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        entry = AuditEntry.from_json(json.loads(line))
                        heads[entry.record.tenant] = (entry.seq, entry.hash)
        except FileNotFoundError:
            pass
        return heads
