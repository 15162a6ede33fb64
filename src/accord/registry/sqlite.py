"""The SQLite registry store: one file, FTS5 full-text search ranked with ``bm25``.

One connection, used by one worker thread at a time (a lock), in WAL mode so a
reader in another process (``accord registry list``) never waits for the server.
Each operation is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``).

Text is indexed by an FTS5 table with the ``porter unicode61`` tokenizer (so
"booking" finds "book"); ``bm25`` weighs a word in the agent's name 10, in a skill's
id, name or tags 4, elsewhere 1 (:func:`.entries.text_fields`). A query asks for any
of its words (``"w1" OR "w2"``, each quoted: only words reach FTS5).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from accord.errors import StoreError

from ._sql import Dialect, SqlRegistryStore, tables

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from ._sql import Cursor

__all__ = ["SQLiteRegistryStore"]

_SCHEMA = (
    *tables("REAL", integer_id=True),
    """CREATE VIRTUAL TABLE IF NOT EXISTS registry_fts USING fts5(
        tenant UNINDEXED, identifier UNINDEXED, name, skills, body,
        tokenize = 'porter unicode61')""",
)


class _SQLite(Dialect):
    def schema(self) -> Sequence[str]:
        return _SCHEMA

    def delete_text(self, cur: Cursor, tenant: str, identifier: str) -> None:
        # By rowid, the agent row's id (an INTEGER PRIMARY KEY: VACUUM keeps it):
        # FTS5 cannot look up its UNINDEXED columns, so a DELETE by tenant and
        # identifier would read the whole index.
        cur.execute(
            "DELETE FROM registry_fts WHERE rowid = (SELECT id FROM"
            " registry_agents WHERE tenant = ? AND identifier = ?)",
            (tenant, identifier),
        )

    def write_text(
        self, cur: Cursor, tenant: str, identifier: str, texts: tuple[str, str, str]
    ) -> None:
        self.delete_text(cur, tenant, identifier)
        cur.execute(
            "INSERT INTO registry_fts (rowid, tenant, identifier, name, skills, body)"
            " SELECT id, tenant, identifier, ?, ?, ? FROM registry_agents"
            " WHERE tenant = ? AND identifier = ?",
            (*texts, tenant, identifier),
        )

    def ranked(self, tenant: str, tokens: Sequence[str]) -> tuple[str, list[Any]]:
        match = " OR ".join(f'"{t}"' for t in tokens)
        return (
            "SELECT identifier, bm25(registry_fts, 10.0, 4.0, 1.0) AS rank"
            " FROM registry_fts WHERE registry_fts MATCH ? AND tenant = ?",
            [match, tenant],
        )

    def score(self, rank: float) -> int:
        # bm25 is negative, more negative is better: map |bm25| onto 0-100.
        relevance = -rank
        return round(100 * relevance / (relevance + 1)) if relevance > 0 else 0


class SQLiteRegistryStore(SqlRegistryStore):
    """A registry in one SQLite file (created on first use).

    Use as ``async with SQLiteRegistryStore(path) as store:``.
    """

    dialect = _SQLite()

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def __aenter__(self) -> SQLiteRegistryStore:
        def open_() -> sqlite3.Connection:
            conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            return conn

        try:
            self._conn = await anyio.to_thread.run_sync(open_)
            await self._run(self._create)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the registry {self.path}: {exc}") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()

    async def _run(self, work: Callable[[Cursor], Any]) -> Any:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the registry store is not open (use async with)")

        def transaction() -> Any:
            with self._lock:
                cur = conn.cursor()
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    result = work(cur)
                    cur.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    cur.close()

        try:
            return await anyio.to_thread.run_sync(transaction)
        except sqlite3.Error as exc:
            raise StoreError(f"registry {self.path}: {exc}") from exc
