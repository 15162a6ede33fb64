"""Execute a :class:`~accord.stores._sqlite_layout.Plan` and read a split task back.

Blocking functions on a ``sqlite3`` connection, run in the store's lane threads; the
caller holds the write transaction. The row layout is explained in
:mod:`accord.stores._sqlite_layout`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.stores._sqlite_layout import LAYOUT_WHOLE, assemble
from accord.types import Artifact, Message, Part, Task, decode, encode

if TYPE_CHECKING:
    import sqlite3

    from accord.stores._sqlite_layout import Plan

__all__ = ["load_task", "text", "write_rows"]

_INSERT_MESSAGE = "INSERT INTO task_messages (task_id, idx, body) VALUES (?, ?, ?)"
_UPSERT_ARTIFACT = (
    "INSERT INTO task_artifacts (task_id, idx, body) VALUES (?, ?, ?)"
    " ON CONFLICT (task_id, idx) DO UPDATE SET body = excluded.body"
)
_INSERT_PART = (
    "INSERT INTO task_parts (task_id, artifact, idx, body) VALUES (?, ?, ?, ?)"
)
_DELETE_MESSAGES = "DELETE FROM task_messages WHERE task_id = ? AND idx >= ?"
_DELETE_ARTIFACTS = "DELETE FROM task_artifacts WHERE task_id = ? AND idx >= ?"
_DELETE_PARTS = "DELETE FROM task_parts WHERE task_id = ? AND artifact = ? AND idx >= ?"
_SELECT_MESSAGES = "SELECT body FROM task_messages WHERE task_id = ? ORDER BY idx"
_SELECT_ARTIFACTS = (
    "SELECT idx, body FROM task_artifacts WHERE task_id = ? ORDER BY idx"
)
_SELECT_PARTS = (
    "SELECT artifact, body FROM task_parts WHERE task_id = ? ORDER BY artifact, idx"
)


def text(value: Task | Message | Artifact | Part | object) -> str:
    """``value`` as ProtoJSON text (what the ``body`` columns hold)."""
    return encode(value).decode("utf-8")


def write_rows(conn: sqlite3.Connection, task_id: str, plan: Plan) -> None:
    """Apply the message, artifact and part operations of ``plan`` (not the head)."""
    if plan.rewrite:
        conn.execute(_DELETE_MESSAGES, (task_id, 0))
        conn.execute(_DELETE_ARTIFACTS, (task_id, 0))  # parts cascade
    if plan.truncate_history is not None:
        conn.execute(_DELETE_MESSAGES, (task_id, plan.truncate_history))
    if plan.messages:
        conn.executemany(
            _INSERT_MESSAGE,
            [
                (task_id, plan.first_message + i, text(message))
                for i, message in enumerate(plan.messages)
            ],
        )
    if plan.truncate_artifacts is not None:
        conn.execute(_DELETE_ARTIFACTS, (task_id, plan.truncate_artifacts))
    for rows in plan.artifacts:
        if rows.head is not None:
            conn.execute(_UPSERT_ARTIFACT, (task_id, rows.index, text(rows.head)))
        if rows.truncate_parts is not None:
            conn.execute(_DELETE_PARTS, (task_id, rows.index, rows.truncate_parts))
        if rows.parts:
            conn.executemany(
                _INSERT_PART,
                [
                    (task_id, rows.index, rows.first_part + i, text(part))
                    for i, part in enumerate(rows.parts)
                ],
            )


def load_task(conn: sqlite3.Connection, task_id: str, body: str, layout: int) -> Task:
    """The whole task whose ``tasks`` row has ``body`` and ``layout``."""
    head = decode(body, Task)
    if layout == LAYOUT_WHOLE:
        return head
    messages = [
        decode(row[0], Message)
        for row in conn.execute(_SELECT_MESSAGES, (task_id,)).fetchall()
    ]
    heads = conn.execute(_SELECT_ARTIFACTS, (task_id,)).fetchall()
    if not heads:
        return assemble(head, messages, ())
    parts: dict[int, list[Part]] = {}
    for artifact, part in conn.execute(_SELECT_PARTS, (task_id,)).fetchall():
        parts.setdefault(artifact, []).append(decode(part, Part))
    return assemble(
        head,
        messages,
        [(decode(row, Artifact), parts.get(idx, ())) for idx, row in heads],
    )
