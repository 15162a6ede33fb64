"""What every store's audit trail shares: state records of task writes, SQL reads.

A store made with ``audit=True`` calls :func:`state_records` with the events a task
write stores and the task's state before it, and appends what it returns in the same
transaction (so a state change and its record cannot diverge). Only events that change
the state make a record: a WORKING status with a new message does not.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from accord.stores._common import now_timestamp
from accord.stores.audit import AuditEntry, AuditRecord

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accord.stores.audit import AuditQuery
    from accord.types import StreamResponse

__all__ = ["read_entry", "select_entries", "state_records"]


def state_records(
    tenant: str, owner: str, previous: str, events: Iterable[StreamResponse]
) -> list[AuditRecord]:
    """A ``"state"`` record for each of ``events`` that changes the task's state.

    ``previous``: the state before the first event (``""`` for a new task).
    """
    records: list[AuditRecord] = []
    time = ""
    for event in events:
        if event.task is not None:
            task_id, context_id = event.task.id, event.task.context_id
            state = event.task.status.state.value
        elif event.status_update is not None:
            update = event.status_update
            task_id, context_id = update.task_id, update.context_id
            state = update.status.state.value
        else:
            continue
        if state == previous:
            continue
        time = time or now_timestamp()
        records.append(
            AuditRecord(
                time=time,
                tenant=tenant,
                kind="state",
                principal=owner,
                task_id=task_id,
                context_id=context_id,
                state=state,
                previous_state=previous,
            )
        )
        previous = state
    return records


def read_entry(row: tuple[int, int, str, str, str]) -> AuditEntry:
    """The entry of an ``audit_entries`` row (``id, seq, body, prev, hash``).

    A body that is not a record (edited into something else) reads as an empty
    record of the row's place, which verification then reports as edited.
    """
    entry_id, seq, body, prev, digest = row
    try:
        record = AuditRecord.from_json(json.loads(body))
    except (ValueError, TypeError):
        record = AuditRecord(time="", detail=f"unreadable audit body: {body[:80]!r}")
    return AuditEntry(record, seq, prev, digest, entry_id)


def select_entries(
    query: AuditQuery, columns: str, mark: str
) -> tuple[str, list[object]]:
    """The SELECT of :meth:`~accord.stores.audit.AuditStore.audit_entries` (with
    placeholder ``mark``) and its parameters."""
    where = ["id > " + mark]
    params: list[object] = [query.after]
    for column, value in (
        ("task_id", query.task_id),
        ("context_id", query.context_id),
    ):
        if value:
            where.append(f"{column} = {mark}")
            params.append(value)
    if query.tenant is not None:
        where.append(f"tenant = {mark}")
        params.append(query.tenant)
    if query.since:
        where.append(f"time >= {mark}")
        params.append(query.since)
    sql = (
        f"SELECT {columns} FROM audit_entries WHERE {' AND '.join(where)}"
        f" ORDER BY id LIMIT {mark}"
    )
    params.append(query.page_size())
    return sql, params
