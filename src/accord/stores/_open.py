"""Pick the task store a ``--db`` value names: a PostgreSQL URL or a SQLite file.

The PostgreSQL store is imported only when a URL asks for it, so ``accord.stores``
works without the ``postgres`` extra installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.stores.sqlite import SQLiteTaskStore
from accord.stores.sqlite import migrate as migrate_sqlite

if TYPE_CHECKING:
    import os

    from accord.stores.base import TaskStore

__all__ = ["is_postgres_url", "migrate", "open_store"]


def is_postgres_url(value: str | os.PathLike[str]) -> bool:
    """Return whether ``value`` names a PostgreSQL database (``postgres[ql]://...``)."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def open_store(
    db: str | os.PathLike[str],
    *,
    retention: float | None = None,
    audit: bool = False,
) -> TaskStore:
    """The (unopened) task store for ``db``: PostgreSQL for a URL, else a SQLite file.

    Use it as ``async with open_store(db) as store: ...`` (or hand it to ``A2AApp``).
    Every store is also an :class:`~accord.stores.audit.AuditStore`; ``audit`` turns
    on the audit trail (task state changes, and an engine's operations).

    Raises:
        ImportError: ``db`` is a PostgreSQL URL and the ``postgres`` extra is missing.
    """
    if is_postgres_url(db):
        from accord.stores.postgres import PostgresTaskStore

        return PostgresTaskStore(str(db), retention=retention, audit=audit)
    return SQLiteTaskStore(db, retention=retention, audit=audit)


def migrate(db: str | os.PathLike[str]) -> list[int]:
    """Create or upgrade the task database ``db`` (a PostgreSQL URL or a SQLite file).

    Blocking. Returns the migration versions applied (``[]`` when up to date).

    Raises:
        StoreError: the database cannot be reached or migrated, or records a newer
            schema than this Accord knows.
    """
    if is_postgres_url(db):
        from accord.stores.postgres_db import migrate as migrate_postgres

        return migrate_postgres(str(db))
    return migrate_sqlite(db)
