"""The PostgreSQL registry store: full-text search ranked with ``ts_rank``.

The same tables as :mod:`.sqlite` (see :mod:`._sql`), with the text in a
``tsvector`` column of its own table (``registry_text``, GIN-indexed), weighted A
(the agent's name), B (skills) and C (the rest) with the ``english`` configuration.
A query asks for any of its words (``w1 | w2``; only words reach ``to_tsquery``).
The rank key is ``-ts_rank`` so that, as in SQLite, smaller is better.

It talks to PostgreSQL as the task store does (:mod:`accord.stores.postgres`): a
bounded pool of psycopg connections, each call in a worker thread, the same
connect and statement timeouts, and every driver error as a
:class:`~accord.errors.StoreError` saying what to check. The tables are created
when the store opens, under an advisory lock so that instances starting together
do not race. Needs the ``postgres`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread

from accord.stores.postgres_db import (
    CONNECT_TIMEOUT,
    ConnectionPool,
    connect_kwargs,
    store_errors,
)

from ._sql import Dialect, SqlRegistryStore, tables

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from ._sql import Cursor

__all__ = ["PostgresRegistryStore"]

_SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext('accord.registry:' || current_schema()))",
    *tables("double precision"),
    """CREATE TABLE IF NOT EXISTS registry_text (
        tenant text NOT NULL, identifier text NOT NULL, document tsvector NOT NULL,
        PRIMARY KEY (tenant, identifier))""",
    """CREATE INDEX IF NOT EXISTS registry_text_document
        ON registry_text USING gin (document)""",
)


class _Postgres(Dialect):
    placeholder = "%s"

    def schema(self) -> Sequence[str]:
        return _SCHEMA

    def delete_text(self, cur: Cursor, tenant: str, identifier: str) -> None:
        cur.execute(
            "DELETE FROM registry_text WHERE tenant = %s AND identifier = %s",
            (tenant, identifier),
        )

    def write_text(
        self, cur: Cursor, tenant: str, identifier: str, texts: tuple[str, str, str]
    ) -> None:
        cur.execute(
            "INSERT INTO registry_text (tenant, identifier, document) VALUES (%s, %s,"
            " setweight(to_tsvector('english', %s), 'A')"
            " || setweight(to_tsvector('english', %s), 'B')"
            " || setweight(to_tsvector('english', %s), 'C'))"
            " ON CONFLICT (tenant, identifier) DO UPDATE SET document = EXCLUDED.document",
            (tenant, identifier, *texts),
        )

    def ranked(self, tenant: str, tokens: Sequence[str]) -> tuple[str, list[Any]]:
        return (
            "SELECT x.identifier, -ts_rank(x.document, w.q)::float8 AS rank"
            " FROM registry_text x, to_tsquery('english', ?) w(q)"
            " WHERE x.tenant = ? AND x.document @@ w.q",
            [" | ".join(tokens), tenant],
        )

    def score(self, rank: float) -> int:
        # ts_rank is about 0-1 (more with many matches): map it onto 0-100.
        relevance = -rank * 10
        return round(100 * relevance / (relevance + 1)) if relevance > 0 else 0


class PostgresRegistryStore(SqlRegistryStore):
    """A registry in a PostgreSQL database (the schema of the URL's search_path).

    Use as ``async with PostgresRegistryStore(url) as store:``.

    Args:
        url: a ``postgresql://`` URL.
        max_connections: the pool's size (the most calls at once).
    """

    dialect = _Postgres()

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs=connect_kwargs(url),
            timeout=CONNECT_TIMEOUT,
            open=False,
        )

    async def __aenter__(self) -> PostgresRegistryStore:
        with store_errors(self.url, "opening the registry"):
            await anyio.to_thread.run_sync(
                lambda: self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            )
        try:
            await self._run(self._create)
        except BaseException:
            await anyio.to_thread.run_sync(self._pool.close)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self._pool.close)

    async def _run(self, work: Callable[[Cursor], Any]) -> Any:
        def transaction() -> Any:
            with (
                self._pool.connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                return work(cur)

        with store_errors(self.url, "a registry call"):
            return await anyio.to_thread.run_sync(transaction)
