"""The Receptionist's desk: where bookings, call records and tickets are kept.

The skills (``_skills``) decide; the desk keeps. :class:`Desk` is what the skills
need; :class:`SqliteDesk` keeps everything in the demo's SQLite tables (``_store``),
in the agent's own process (the default). The same desk also sits behind the demo's
MCP server (``_mcp_server``), which an agent built with ``with_mcp`` calls through
MCP instead (:class:`~accord.demo.receptionist.with_mcp.McpDesk`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from ._store import Database

if TYPE_CHECKING:
    import sqlite3

__all__ = ["CALL_KEYS", "Desk", "SqliteDesk"]

#: The members of a call record, in the order of the ``calls`` table's columns.
CALL_KEYS = (
    "callId",
    "caller",
    "phone",
    "startedAt",
    "durationSeconds",
    "summary",
    "topics",
)


class Desk(Protocol):
    """What the skills keep and look up (times are ISO 8601 strings)."""

    async def book(
        self, phone: str, start: str, end: str, *, task_id: str, now: str
    ) -> int:
        """Book a callback; return its sequence number (the same one for the same
        phone and window: a retry books nothing new)."""
        ...

    async def call_record(self, call_id: str) -> dict[str, Any] | None:
        """The record of a call (:data:`CALL_KEYS`), None when there is none."""
        ...

    async def open_ticket(
        self, call_id: str, reason: str, priority: str, *, task_id: str, now: str
    ) -> int | None:
        """Open an escalation ticket; return its sequence number, None when the
        call does not exist."""
        ...


class SqliteDesk:
    """The desk in the demo's SQLite tables (:class:`~._store.Database`)."""

    def __init__(self, db: Database | str) -> None:
        self.db = db if isinstance(db, Database) else Database(db)

    async def book(
        self, phone: str, start: str, end: str, *, task_id: str, now: str
    ) -> int:
        def book(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT seq FROM bookings WHERE phone = ? AND window_start = ? "
                "AND window_end = ? AND status = 'confirmed'",
                (phone, start, end),
            ).fetchone()
            if row is not None:  # the same request again (a retry): same booking
                return int(row[0])
            cursor = conn.execute(
                "INSERT INTO bookings (phone, window_start, window_end, status, task_id, "
                "created_at) VALUES (?, ?, ?, 'confirmed', ?, ?)",
                (phone, start, end, task_id, now),
            )
            return int(cursor.lastrowid or 0)

        return int(await self.db.run(book))

    async def call_record(self, call_id: str) -> dict[str, Any] | None:
        def read(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row = conn.execute(
                "SELECT id, caller, phone, started_at, duration_seconds, summary, topics "
                "FROM calls WHERE id = ?",
                (call_id,),
            ).fetchone()
            return None if row is None else tuple(row)

        row = await self.db.run(read)
        if row is None:
            return None
        call = dict(zip(CALL_KEYS, row, strict=True))
        call["topics"] = json.loads(call["topics"])
        return call

    async def open_ticket(
        self, call_id: str, reason: str, priority: str, *, task_id: str, now: str
    ) -> int | None:
        def open_ticket(conn: sqlite3.Connection) -> int | None:
            if (
                conn.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone()
                is None
            ):
                return None
            cursor = conn.execute(
                "INSERT INTO escalations (call_id, reason, priority, task_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (call_id, reason, priority, task_id, now),
            )
            return int(cursor.lastrowid or 0)

        seq = await self.db.run(open_ticket)
        return None if seq is None else int(seq)
