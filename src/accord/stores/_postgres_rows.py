"""Execute a layout :class:`~accord.stores._sqlite_layout.Plan` on PostgreSQL; read back.

The PostgreSQL store keeps a task split into rows exactly as the SQLite store does
(:mod:`accord.stores._sqlite_layout`, which is pure and shared): the head in
``tasks.body``, one row per message, per artifact (with its first part) and per further
part. So appending an artifact chunk writes one part row plus the head, whatever the
size of the task so far.

Reads fetch every row below the heads of one or many tasks in a single statement
(:data:`_SELECT_CHILDREN`, a ``UNION ALL`` over the three tables), so a GetTask is two
round trips and a ListTasks page three, whatever the number of tasks on it.

Blocking functions on a psycopg cursor, run in the store's worker threads; the caller
holds the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.stores._sqlite_layout import assemble
from accord.types import Artifact, Message, Part, Task, decode, encode

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import psycopg
    from psycopg.rows import TupleRow

    from accord.stores._sqlite_layout import Plan

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["load_tasks", "text", "write_rows"]

_INSERT_MESSAGE = (
    "INSERT INTO task_messages (task_id, tenant, idx, body) VALUES (%s, %s, %s, %s)"
)
_UPSERT_ARTIFACT = (
    "INSERT INTO task_artifacts (task_id, tenant, idx, body) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (task_id, idx) DO UPDATE SET body = excluded.body"
)
_INSERT_PART = (
    "INSERT INTO task_parts (task_id, tenant, artifact, idx, body)"
    " VALUES (%s, %s, %s, %s, %s)"
)
_DELETE_MESSAGES = "DELETE FROM task_messages WHERE task_id = %s AND idx >= %s"
_DELETE_ARTIFACTS = "DELETE FROM task_artifacts WHERE task_id = %s AND idx >= %s"
_DELETE_PARTS = (
    "DELETE FROM task_parts WHERE task_id = %s AND artifact = %s AND idx >= %s"
)
# kind 0: message idx; 1: artifact idx (first part); 2: part (artifact, idx).
_SELECT_CHILDREN = (
    "SELECT task_id, 0, idx, 0, body FROM task_messages WHERE task_id = ANY(%(ids)s)"
    " UNION ALL SELECT task_id, 1, idx, 0, body FROM task_artifacts"
    " WHERE task_id = ANY(%(ids)s)"
    " UNION ALL SELECT task_id, 2, artifact, idx, body FROM task_parts"
    " WHERE task_id = ANY(%(ids)s)"
    " ORDER BY 1, 2, 3, 4"
)


def text(value: object) -> str:
    """``value`` as ProtoJSON text (what the ``body`` columns hold)."""
    return encode(value).decode("utf-8")


def write_rows(cur: Cursor, task_id: str, tenant: str, plan: Plan) -> None:
    """Apply the message, artifact and part operations of ``plan`` (not the head)."""
    if plan.rewrite:
        cur.execute(_DELETE_MESSAGES, (task_id, 0))
        cur.execute(_DELETE_ARTIFACTS, (task_id, 0))  # parts cascade
    if plan.truncate_history is not None:
        cur.execute(_DELETE_MESSAGES, (task_id, plan.truncate_history))
    if plan.messages:
        cur.executemany(
            _INSERT_MESSAGE,
            [
                (task_id, tenant, plan.first_message + i, text(message))
                for i, message in enumerate(plan.messages)
            ],
        )
    if plan.truncate_artifacts is not None:
        cur.execute(_DELETE_ARTIFACTS, (task_id, plan.truncate_artifacts))
    for rows in plan.artifacts:
        if rows.head is not None:
            cur.execute(
                _UPSERT_ARTIFACT, (task_id, tenant, rows.index, text(rows.head))
            )
        if rows.truncate_parts is not None:
            cur.execute(_DELETE_PARTS, (task_id, rows.index, rows.truncate_parts))
        if rows.parts:
            cur.executemany(
                _INSERT_PART,
                [
                    (task_id, tenant, rows.index, rows.first_part + i, text(part))
                    for i, part in enumerate(rows.parts)
                ],
            )


class _Children:
    __slots__ = ("artifacts", "messages", "parts")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.artifacts: list[tuple[int, Artifact]] = []
        self.parts: dict[int, list[Part]] = {}


def load_tasks(cur: Cursor, heads: Sequence[tuple[str, str]]) -> list[Task]:
    """The whole tasks whose ``(id, body)`` head rows are ``heads``, in that order."""
    if not heads:
        return []
    children: dict[str, _Children] = {}
    rows: Iterable[TupleRow] = cur.execute(
        _SELECT_CHILDREN, {"ids": [task_id for task_id, _ in heads]}
    )
    for task_id, kind, idx, _, body in rows:
        into = children.get(task_id)
        if into is None:
            into = children[task_id] = _Children()
        if kind == 0:
            into.messages.append(decode(body, Message))
        elif kind == 1:
            into.artifacts.append((idx, decode(body, Artifact)))
        else:
            into.parts.setdefault(idx, []).append(decode(body, Part))
    tasks = []
    for task_id, body in heads:
        head = decode(body, Task)
        found = children.get(task_id)
        if found is None:
            tasks.append(head)
            continue
        tasks.append(
            assemble(
                head,
                found.messages,
                [(a, found.parts.get(i, ())) for i, a in found.artifacts],
            )
        )
    return tasks
