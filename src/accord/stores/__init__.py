"""Task storage: the :class:`TaskStore` contract and its memory, SQLite and PostgreSQL stores.

``MemoryTaskStore`` is bounded and volatile (development, tests, stateless agents);
``SQLiteTaskStore`` is durable on one file and survives restarts;
``accord.stores.postgres.PostgresTaskStore`` (the ``postgres`` extra, imported only
from that module) is shared by any number of instances. Each also keeps the audit
trail (:mod:`accord.stores.audit`, :class:`AuditStore`) when made with ``audit=True``,
and holds negotiated terms for every instance sharing it (:mod:`accord.stores.held`,
:class:`HeldStore`; :class:`MemoryHeld` holds them on its own, in this process, for
a component that has no store to share). All pass the same contract
suite (``tests/stores``). :func:`open_store` picks the store a ``--db`` value names (a
``postgresql://`` URL or a SQLite file); :func:`migrate` creates or upgrades either
ahead of time (``accord db migrate``); the stores also migrate when they open.
:func:`create_database_file` creates a database file owner-only (0600).
"""

from __future__ import annotations

from accord.stores._memory_held import MemoryHeld
from accord.stores._open import is_postgres_url, migrate, open_store
from accord.stores._sqlite_db import create_database_file
from accord.stores.audit import (
    AuditBreak,
    AuditChain,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    AuditReport,
    AuditStore,
    verify_entries,
    verify_store,
)
from accord.stores.base import (
    MAX_PAGE_SIZE,
    Lease,
    PushConfigRecord,
    PushConfigStore,
    PushDelivery,
    Scope,
    StoredEvent,
    TaskPage,
    TaskQuery,
    TaskRecord,
    TaskStore,
)
from accord.stores.held import HeldStore
from accord.stores.memory import MemoryTaskStore
from accord.stores.sqlite import SQLiteTaskStore

__all__ = [
    "MAX_PAGE_SIZE",
    "AuditBreak",
    "AuditChain",
    "AuditEntry",
    "AuditQuery",
    "AuditRecord",
    "AuditReport",
    "AuditStore",
    "HeldStore",
    "Lease",
    "MemoryHeld",
    "MemoryTaskStore",
    "PushConfigRecord",
    "PushConfigStore",
    "PushDelivery",
    "SQLiteTaskStore",
    "Scope",
    "StoredEvent",
    "TaskPage",
    "TaskQuery",
    "TaskRecord",
    "TaskStore",
    "create_database_file",
    "is_postgres_url",
    "migrate",
    "open_store",
    "verify_entries",
    "verify_store",
]
