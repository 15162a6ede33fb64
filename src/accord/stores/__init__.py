"""Task storage: the :class:`TaskStore` contract and its in-memory and SQLite stores.

``MemoryTaskStore`` is bounded and volatile (development, tests, stateless agents);
``SQLiteTaskStore`` is durable on one file and survives restarts. Both pass the same
contract suite (``tests/stores``). :func:`migrate` creates or upgrades a SQLite database
ahead of time (``accord db migrate``); the store also migrates when it opens.
:func:`create_database_file` creates a database file owner-only (0600).
"""

from __future__ import annotations

from accord.stores._sqlite_db import create_database_file
from accord.stores.base import (
    MAX_PAGE_SIZE,
    Scope,
    StoredEvent,
    TaskPage,
    TaskQuery,
    TaskRecord,
    TaskStore,
)
from accord.stores.memory import MemoryTaskStore
from accord.stores.sqlite import SQLiteTaskStore, migrate

__all__ = [
    "MAX_PAGE_SIZE",
    "MemoryTaskStore",
    "SQLiteTaskStore",
    "Scope",
    "StoredEvent",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "TaskStore",
    "create_database_file",
    "migrate",
]
