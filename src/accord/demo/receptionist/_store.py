"""The Receptionist's own tables (calls, bookings, escalations) in the task store's file.

The demo opens the SQLite file before the task store does (to read its key hashes and
seed its calls), so it is the demo that creates the file: :func:`create_private` makes
it owner-only (0600) from the first byte, never looser and then tightened.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from accord.errors import StoreError
from accord.stores import create_database_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["CALLS", "SCHEMA", "Database", "create_private"]


def create_private(path: str) -> None:
    """Create the file ``path`` owner-only (0600) unless it exists.

    Bookings, call records and key hashes are not for other local users
    (:func:`accord.stores.create_database_file`).

    Raises:
        ValueError: the file cannot be created (no such folder, no permission).
    """
    try:
        create_database_file(path)
    except StoreError as exc:
        raise ValueError(str(exc)) from None


SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    phone TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    transcript TEXT NOT NULL,
    summary TEXT NOT NULL,
    topics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bookings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS escalations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls (id),
    reason TEXT NOT NULL,
    priority TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# (id, caller, phone, started_at, seconds, transcript, summary, topics)
CALLS = (
    (
        "call-1001",
        "Dana Whitfield",
        "+14155550123",
        "2026-11-02T09:14:00Z",
        312,
        "Caller: My dishwasher is leaking again. | Agent: I can book a technician. "
        "| Caller: Thursday morning works.",
        "Dana Whitfield reported a leaking dishwasher (second time); a technician "
        "visit was booked for Thursday morning.",
        ["repair", "appointment"],
    ),
    (
        "call-1002",
        "Marco Ruiz",
        "+34911234567",
        "2026-11-03T15:40:00Z",
        95,
        "Caller: What are your opening hours on Sunday? | Agent: 10:00 to 16:00.",
        "Marco Ruiz asked about Sunday opening hours (10:00-16:00); no follow-up needed.",
        ["opening hours"],
    ),
    (
        "call-1003",
        "Priya Natarajan",
        "+442079460321",
        "2026-11-04T11:02:00Z",
        547,
        "Caller: I was charged twice for my subscription. | Agent: I see two charges. "
        "| Caller: I want a refund today.",
        "Priya Natarajan was charged twice for her subscription and asked for a refund "
        "the same day; the agent confirmed the duplicate charge.",
        ["billing", "refund"],
    ),
    (
        "call-1004",
        "Tom Becker",
        "+4930901820",
        "2026-11-05T17:25:00Z",
        188,
        "Caller: Can I move my delivery to next week? | Agent: Done, Tuesday.",
        "Tom Becker moved his delivery to next Tuesday.",
        ["delivery", "reschedule"],
    ),
    (
        "call-1005",
        "Aiko Tanaka",
        "+81312345678",
        "2026-11-06T08:50:00Z",
        421,
        "Caller: The installer never showed up and nobody called. | Agent: I am sorry. "
        "| Caller: I need a manager to call me.",
        "Aiko Tanaka's installation appointment was missed without notice; she asked "
        "for a manager to call her back.",
        ["complaint", "installation"],
    ),
)


class Database:
    """The receptionist's tables, via stdlib ``sqlite3`` in worker threads.

    Each operation opens its own connection (``sqlite3`` blocks, so it runs through
    ``anyio.to_thread``); SQLite's file locking serialises writers, including the task
    store's. ``":memory:"`` keeps one connection for the life of the object instead.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            create_private(path)
        self._ready = False
        self._lock = threading.Lock()
        self._memory = (
            sqlite3.connect(":memory:", check_same_thread=False)
            if path == ":memory:"
            else None
        )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            with self._lock:
                yield self._memory
            return
        with closing(
            sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        ) as conn:
            yield conn

    def _run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._connect() as conn:
            conn.isolation_level = None
            if not self._ready:
                conn.executescript(SCHEMA)
                conn.executemany(
                    "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*row[:7], json.dumps(row[7])) for row in CALLS],
                )
                self._ready = True
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await anyio.to_thread.run_sync(self._run, fn)
