"""SQLite plumbing shared by the store and ``accord db migrate``: connect, migrate.

Theory of operation. Every connection is opened the same way (:func:`connect`):

* autocommit mode (``isolation_level=None``); transactions are explicit
  ``BEGIN IMMEDIATE`` blocks (:func:`transaction`);
* WAL journal, so readers never block the writer;
* ``synchronous=NORMAL``: in WAL mode a commit survives a crash or ``kill -9`` of the
  process; only an OS crash or power loss can lose the last transactions;
* a busy timeout, so writers in other processes wait for the lock instead of failing;
* foreign keys on, so event rows are deleted with their task.

Migrations are the numbered files ``_sql/sqlite/NNNN_name.sql`` shipped as package
data, and the ``schema_version`` table lists the versions applied.
:func:`apply_migrations` applies the missing ones in order, each in its own transaction
together with its ``schema_version`` row, re-checking under the write lock so that two
processes migrating at once apply each file exactly once. A database that records a
version newer than the newest file is refused: a newer Accord wrote it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

from accord.errors import StoreError
from accord.stores._common import now_timestamp
from accord.stores._migrations import shipped

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "apply_migrations",
    "connect",
    "create_database_file",
    "migrate",
    "migrations",
    "transaction",
]

#: Milliseconds a connection waits for another process's write lock before failing.
#: Writes are short (one small transaction), so 5 s only runs out if something is stuck.
BUSY_TIMEOUT_MS = 5_000

#: Prepared statements kept per connection. ListTasks builds one statement per
#: combination of filters (at most 2**5 of them), plus a dozen fixed statements.
STATEMENT_CACHE = 128


_SCHEMA_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)"
)


def create_database_file(path: str | os.PathLike[str]) -> None:
    """Create the database file ``path`` readable by its owner only, if it is missing.

    The file holds every partner's tasks, so it is created mode 0600 from the first
    byte (``sqlite3.connect`` would use the umask, usually 0644: readable by every
    local user); SQLite gives its ``-wal`` and ``-shm`` files the same mode. An empty
    file is a valid empty database. An existing file keeps its mode (its owner may have
    chosen it); ``:memory:`` and ``file:`` URIs are left alone. Call it before opening
    the file yourself when you keep your own tables in the store's file.

    Raises:
        StoreError: the file cannot be created (no such folder, no permission).
    """
    name = os.fspath(path)
    if name == ":memory:" or name.startswith("file:"):
        return
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(
            f"cannot create the database file {name}: {exc.strerror} (check that its "
            "folder exists and is writable, or choose another path)"
        ) from None
    os.close(fd)


def connect(path: str) -> sqlite3.Connection:
    """Open and configure a connection usable from any one thread at a time.

    A database file that does not exist yet is created owner-only
    (:func:`create_database_file`).
    """
    create_database_file(path)
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=STATEMENT_CACHE,
    )
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction; roll back if it raises.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so a read-then-write inside the
    block cannot be overtaken by another writer (and never deadlocks upgrading a lock).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrations() -> tuple[tuple[int, str], ...]:
    """Return ``(version, sql)`` of every SQLite migration shipped, in order."""
    return shipped("sqlite")


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (``sqlite3.complete_statement``)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    leftover = [
        ln
        for ln in pending.splitlines()
        if ln.strip() and not ln.lstrip().startswith("--")
    ]
    if leftover:  # pragma: no cover - a malformed migration file is a packaging bug
        raise StoreError(f"unterminated SQL statement in migration: {leftover[0]!r}")


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Bring the database on ``conn`` to the newest schema; return the versions applied.

    Raises:
        StoreError: the database records a newer schema than this Accord knows.
        sqlite3.Error: the database failed (callers wrap it).
    """
    known = migrations()
    latest = known[-1][0]
    conn.execute(_SCHEMA_VERSION_DDL)
    done = {
        row[0] for row in conn.execute("SELECT version FROM schema_version").fetchall()
    }
    if done and max(done) > latest:
        raise StoreError(
            f"the task database has schema version {max(done)}, but this Accord only "
            f"knows versions up to {latest}: upgrade Accord to use this database"
        )
    applied: list[int] = []
    for version, script in known:
        if version in done:
            continue
        with transaction(conn):
            # Another process may have applied it since we looked; now we hold the lock.
            if conn.execute(
                "SELECT 1 FROM schema_version WHERE version = ?", (version,)
            ).fetchall():
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, now_timestamp()),
            )
        applied.append(version)
    return applied


def migrate(path: str | os.PathLike[str]) -> list[int]:
    """Create or upgrade the SQLite task database at ``path`` (blocking).

    Returns the migration versions this call applied (``[]`` when already up to date).

    Raises:
        StoreError: the database cannot be opened or migrated, or records a newer schema
            than this Accord knows.
    """
    try:
        with closing(connect(os.fspath(path))) as conn:
            return apply_migrations(conn)
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot migrate SQLite task database {os.fspath(path)!r}: {exc}"
        ) from exc
