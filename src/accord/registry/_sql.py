"""The registry store written once over DB-API cursors; a :class:`Dialect` per database.

Theory of operation. Both stores keep the same four tables (every row with its
tenant):

* ``registry_agents``: one row per agent, its latest card and its health;
* ``registry_versions``: every card version with its pin and diff;
* ``registry_terms``: the ``(field, value)`` filter terms of each agent's latest card
  (:func:`.entries.index_terms`), what filters and facets read;
* the full-text index, which is where the databases differ: an FTS5 table ranked
  with ``bm25`` in SQLite, a ``tsvector`` column ranked with ``ts_rank`` in
  PostgreSQL (:class:`Dialect`).

Search orders by a *rank key*, ascending (the dialect makes smaller better), then by
identifier, and pages with a keyset on that pair (:func:`.entries.encode_cursor`).
A subclass supplies :meth:`SqlRegistryStore._run`: run a function with a cursor in
one transaction, in a worker thread (the drivers block).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from accord.client.card import decode_card

from .entries import (
    CardVersion,
    Entry,
    Health,
    Hit,
    SearchPage,
    SearchQuery,
    Status,
    decode_cursor,
    encode_cursor,
    index_terms,
    search_tokens,
    text_fields,
)
from .recording import Latest, next_version
from .store import Recorded

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from accord.types import AgentCard

__all__ = ["TABLES", "Dialect", "SqlRegistryStore", "tables"]

Cursor = Any
Row = tuple[Any, ...]

_AGENT_COLUMNS = (
    "a.tenant, a.identifier, a.card_json, a.pin, a.version, a.source_url, "
    "a.signed_by, a.drift, a.breaking, a.registered_at, a.updated_at, a.status, "
    "a.checked_at, a.latency_ms, a.next_check_at, a.etag, a.failures, a.error"
)


#: The tables both stores keep (the full-text index is the dialect's own):
#: ``{real}`` is the database's double-precision type; ``{id}`` an integer id column
#: for a store whose index keys on one, ``{key}`` then ``UNIQUE`` (else
#: ``PRIMARY KEY``).
TABLES = (
    """CREATE TABLE IF NOT EXISTS registry_agents ({id}
        tenant TEXT NOT NULL, identifier TEXT NOT NULL, card_json TEXT NOT NULL,
        pin TEXT NOT NULL, version INTEGER NOT NULL, source_url TEXT,
        signed_by TEXT, drift INTEGER NOT NULL, breaking INTEGER NOT NULL,
        registered_at {real} NOT NULL, updated_at {real} NOT NULL,
        status TEXT NOT NULL, checked_at {real}, latency_ms {real},
        next_check_at {real} NOT NULL, etag TEXT, failures INTEGER NOT NULL,
        error TEXT NOT NULL, {key} (tenant, identifier))""",
    """CREATE INDEX IF NOT EXISTS registry_agents_due
        ON registry_agents (next_check_at) WHERE source_url IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS registry_versions (
        tenant TEXT NOT NULL, identifier TEXT NOT NULL, number INTEGER NOT NULL,
        pin TEXT NOT NULL, card_json TEXT NOT NULL, diff_json TEXT,
        version_unchanged INTEGER NOT NULL, breaking INTEGER NOT NULL,
        recorded_at {real} NOT NULL, PRIMARY KEY (tenant, identifier, number))""",
    """CREATE TABLE IF NOT EXISTS registry_terms (
        tenant TEXT NOT NULL, identifier TEXT NOT NULL, field TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (tenant, identifier, field, value))""",
    """CREATE INDEX IF NOT EXISTS registry_terms_value
        ON registry_terms (tenant, field, value)""",
)


def tables(real: str, *, integer_id: bool = False) -> tuple[str, ...]:
    """:data:`TABLES` with the database's double-precision type, and with an
    ``id INTEGER PRIMARY KEY`` column on ``registry_agents`` when ``integer_id``."""
    names = (
        {"id": "\n        id INTEGER PRIMARY KEY,", "key": "UNIQUE"}
        if integer_id
        else {"id": "", "key": "PRIMARY KEY"}
    )
    return tuple(statement.format(real=real, **names) for statement in TABLES)


class Dialect(ABC):
    """What differs between the databases: placeholders, DDL and full text."""

    #: The driver's parameter placeholder (``?`` or ``%s``).
    placeholder = "?"

    def sql(self, text: str) -> str:
        """``text`` (written with ``?``) in the driver's placeholder style."""
        return text.replace("?", self.placeholder)

    @abstractmethod
    def schema(self) -> Sequence[str]:
        """The statements creating the tables (idempotent)."""

    @abstractmethod
    def write_text(
        self, cur: Cursor, tenant: str, identifier: str, texts: tuple[str, str, str]
    ) -> None:
        """Index (or re-index) an agent's text: name, skills, the rest (its
        ``registry_agents`` row exists)."""

    @abstractmethod
    def delete_text(self, cur: Cursor, tenant: str, identifier: str) -> None:
        """Drop an agent's text from the index (before its row is deleted)."""

    @abstractmethod
    def ranked(self, tenant: str, tokens: Sequence[str]) -> tuple[str, list[Any]]:
        """A subquery ``(identifier, rank)`` of the tenant's agents matching any of
        ``tokens``, smaller rank better: its SQL (``?`` placeholders) and parameters.
        """

    @abstractmethod
    def score(self, rank: float) -> int:
        """The 0-100 score of a rank key."""


def _entry(row: Row) -> Entry:
    card_json = str(row[2])
    return Entry(
        tenant=row[0],
        identifier=row[1],
        card=decode_card(card_json.encode(), "the stored card"),
        card_json=card_json,
        pin=row[3],
        version=int(row[4]),
        source_url=row[5],
        signed_by=row[6],
        drift=bool(row[7]),
        breaking=bool(row[8]),
        registered_at=float(row[9]),
        updated_at=float(row[10]),
        health=Health(
            status=Status(row[11]),
            checked_at=row[12],
            latency_ms=row[13],
            next_check_at=float(row[14]),
            etag=row[15],
            failures=int(row[16]),
            error=row[17],
        ),
    )


def _version(row: Row) -> CardVersion:
    return CardVersion(
        number=int(row[0]),
        pin=row[1],
        card_json=row[2],
        diff=json.loads(row[3]) if row[3] is not None else None,
        version_unchanged=bool(row[4]),
        breaking=bool(row[5]),
        recorded_at=float(row[6]),
    )


class SqlRegistryStore(ABC):
    """The :class:`~accord.registry.store.RegistryStore` over a :class:`Dialect`."""

    dialect: Dialect

    @abstractmethod
    async def _run(self, work: Callable[[Cursor], Any]) -> Any:
        """Run ``work(cursor)`` in one transaction, in a worker thread."""

    @abstractmethod
    async def __aenter__(self) -> SqlRegistryStore: ...

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def _create(self, cur: Cursor) -> None:
        for statement in self.dialect.schema():
            cur.execute(statement)

    # --- writes -------------------------------------------------------------------------

    async def record(
        self,
        tenant: str,
        identifier: str,
        card: AgentCard,
        card_json: str,
        *,
        source_url: str | None,
        signed_by: str | None,
        now: float,
    ) -> Recorded:
        """See :meth:`RegistryStore.record`."""
        q = self.dialect.sql

        def work(cur: Cursor) -> Recorded:
            cur.execute(
                q(
                    "SELECT version, pin, card_json FROM registry_agents"
                    " WHERE tenant = ? AND identifier = ?"
                ),
                (tenant, identifier),
            )
            row = cur.fetchone()
            latest = (
                Latest(
                    int(row[0]), row[1], decode_card(row[2].encode(), "the stored card")
                )
                if row
                else None
            )
            version = next_version(latest, card, card_json, now)
            if version is None:
                # The same content (maybe re-signed): keep the card as now served.
                cur.execute(
                    q(
                        "UPDATE registry_agents SET card_json = ?, signed_by = ?,"
                        " source_url = COALESCE(?, source_url)"
                        " WHERE tenant = ? AND identifier = ?"
                    ),
                    (card_json, signed_by, source_url, tenant, identifier),
                )
            else:
                # The agent's row first: the text index may key on it.
                self._write_agent(
                    cur,
                    tenant,
                    identifier,
                    version,
                    source_url=source_url,
                    signed_by=signed_by,
                    created=latest is None,
                )
                self._write_version(cur, tenant, identifier, card, version)
            entry = self._get(cur, tenant, identifier)
            assert entry is not None
            return Recorded(entry, version)

        result: Recorded = await self._run(work)
        return result

    def _write_version(
        self,
        cur: Cursor,
        tenant: str,
        identifier: str,
        card: AgentCard,
        version: CardVersion,
    ) -> None:
        q = self.dialect.sql
        cur.execute(
            q(
                "INSERT INTO registry_versions (tenant, identifier, number, pin,"
                " card_json, diff_json, version_unchanged, breaking, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                tenant,
                identifier,
                version.number,
                version.pin,
                version.card_json,
                json.dumps(version.diff) if version.diff is not None else None,
                int(version.version_unchanged),
                int(version.breaking),
                version.recorded_at,
            ),
        )
        cur.execute(
            q("DELETE FROM registry_terms WHERE tenant = ? AND identifier = ?"),
            (tenant, identifier),
        )
        terms = index_terms(card)
        if terms:
            cur.executemany(
                q(
                    "INSERT INTO registry_terms (tenant, identifier, field, value)"
                    " VALUES (?, ?, ?, ?)"
                ),
                [(tenant, identifier, f, v) for f, v in terms],
            )
        self.dialect.write_text(cur, tenant, identifier, text_fields(card))

    def _write_agent(
        self,
        cur: Cursor,
        tenant: str,
        identifier: str,
        version: CardVersion,
        *,
        source_url: str | None,
        signed_by: str | None,
        created: bool,
    ) -> None:
        q = self.dialect.sql
        values = (
            version.card_json,
            version.pin,
            version.number,
            signed_by,
            int(version.version_unchanged),
            int(version.breaking),
            version.recorded_at,
        )
        if created:
            cur.execute(
                q(
                    "INSERT INTO registry_agents (card_json, pin, version, signed_by,"
                    " drift, breaking, updated_at, tenant, identifier, source_url,"
                    " registered_at, status, next_check_at, failures, error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'unknown', 0, 0, '')"
                ),
                (*values, tenant, identifier, source_url, version.recorded_at),
            )
        else:
            cur.execute(
                q(
                    "UPDATE registry_agents SET card_json = ?, pin = ?, version = ?,"
                    " signed_by = ?, drift = ?, breaking = ?, updated_at = ?,"
                    " source_url = COALESCE(?, source_url)"
                    " WHERE tenant = ? AND identifier = ?"
                ),
                (*values, source_url, tenant, identifier),
            )

    async def remove(self, tenant: str, identifier: str) -> bool:
        """See :meth:`RegistryStore.remove`."""
        q = self.dialect.sql

        def work(cur: Cursor) -> bool:
            key = (tenant, identifier)
            self.dialect.delete_text(cur, tenant, identifier)  # may key on the row
            cur.execute(
                q("DELETE FROM registry_agents WHERE tenant = ? AND identifier = ?"),
                key,
            )
            gone = bool(cur.rowcount)
            for table in ("registry_versions", "registry_terms"):
                cur.execute(
                    q(f"DELETE FROM {table} WHERE tenant = ? AND identifier = ?"), key
                )
            return gone

        result: bool = await self._run(work)
        return result

    async def record_health(self, tenant: str, identifier: str, health: Health) -> None:
        """See :meth:`RegistryStore.record_health`."""
        q = self.dialect.sql

        def work(cur: Cursor) -> None:
            cur.execute(
                q(
                    "UPDATE registry_agents SET status = ?, checked_at = ?,"
                    " latency_ms = ?, next_check_at = ?, etag = ?, failures = ?,"
                    " error = ? WHERE tenant = ? AND identifier = ?"
                ),
                (
                    health.status.value,
                    health.checked_at,
                    health.latency_ms,
                    health.next_check_at,
                    health.etag,
                    health.failures,
                    health.error,
                    tenant,
                    identifier,
                ),
            )

        await self._run(work)

    # --- reads --------------------------------------------------------------------------

    def _get(self, cur: Cursor, tenant: str, identifier: str) -> Entry | None:
        cur.execute(
            self.dialect.sql(
                f"SELECT {_AGENT_COLUMNS} FROM registry_agents a"
                " WHERE a.tenant = ? AND a.identifier = ?"
            ),
            (tenant, identifier),
        )
        row = cur.fetchone()
        return _entry(row) if row else None

    async def get(self, tenant: str, identifier: str) -> Entry | None:
        """See :meth:`RegistryStore.get`."""
        result: Entry | None = await self._run(
            lambda cur: self._get(cur, tenant, identifier)
        )
        return result

    async def versions(self, tenant: str, identifier: str) -> tuple[CardVersion, ...]:
        """See :meth:`RegistryStore.versions`."""

        def work(cur: Cursor) -> tuple[CardVersion, ...]:
            cur.execute(
                self.dialect.sql(
                    "SELECT number, pin, card_json, diff_json, version_unchanged,"
                    " breaking, recorded_at FROM registry_versions"
                    " WHERE tenant = ? AND identifier = ? ORDER BY number"
                ),
                (tenant, identifier),
            )
            return tuple(_version(r) for r in cur.fetchall())

        result: tuple[CardVersion, ...] = await self._run(work)
        return result

    async def due(self, now: float, limit: int) -> tuple[Entry, ...]:
        """See :meth:`RegistryStore.due`."""

        def work(cur: Cursor) -> tuple[Entry, ...]:
            cur.execute(
                self.dialect.sql(
                    f"SELECT {_AGENT_COLUMNS} FROM registry_agents a"
                    " WHERE a.source_url IS NOT NULL AND a.next_check_at <= ?"
                    " ORDER BY a.next_check_at, a.tenant, a.identifier LIMIT ?"
                ),
                (now, limit),
            )
            return tuple(_entry(r) for r in cur.fetchall())

        result: tuple[Entry, ...] = await self._run(work)
        return result

    def _matches(self, tenant: str, query: SearchQuery) -> tuple[str, list[Any]]:
        """``FROM ... WHERE ...`` of the agents matching ``query``, with ``rank``.

        Without text every rank is 0, so the order is by identifier.
        """
        tokens = search_tokens(query.text)
        if tokens:
            ranked, params = self.dialect.ranked(tenant, tokens)
            sql = (
                f" FROM ({ranked}) r JOIN registry_agents a"
                " ON a.tenant = ? AND a.identifier = r.identifier WHERE 1 = 1"
            )
            args: list[Any] = [*params, tenant]
        else:
            sql = " FROM registry_agents a WHERE a.tenant = ?"
            args = [tenant]
        for name, value in query.terms:
            sql += (
                " AND EXISTS (SELECT 1 FROM registry_terms t WHERE t.tenant = a.tenant"
                " AND t.identifier = a.identifier AND t.field = ? AND t.value = ?)"
            )
            args += [name, value]
        return sql, args

    async def search(self, tenant: str, query: SearchQuery) -> SearchPage:
        """See :meth:`RegistryStore.search`."""
        q = self.dialect.sql
        matches, args = self._matches(tenant, query)
        rank = "r.rank" if search_tokens(query.text) else "0.0"
        sql = f"SELECT {_AGENT_COLUMNS}, {rank} AS rank_key{matches}"
        if query.cursor is not None:
            after_rank, after_id = decode_cursor(query.cursor)
            sql += f" AND ({rank} > ? OR ({rank} = ? AND a.identifier > ?))"
            args += [after_rank, after_rank, after_id]
        sql += " ORDER BY rank_key, a.identifier LIMIT ?"
        args.append(query.limit + 1)

        def work(cur: Cursor) -> list[Row]:
            cur.execute(q(sql), args)
            rows: list[Row] = cur.fetchall()
            return rows

        rows: list[Row] = await self._run(work)
        page = rows[: query.limit]
        # A match scores at least 1; a listing without text scores 0.
        floor = 1 if search_tokens(query.text) else 0
        hits = tuple(
            Hit(_entry(row[:-1]), max(floor, self.dialect.score(float(row[-1]))))
            for row in page
        )
        more = len(rows) > query.limit
        last = page[-1] if page else None
        cursor = encode_cursor(float(last[-1]), last[1]) if more and last else None
        return SearchPage(hits, cursor)

    async def count(self, tenant: str, query: SearchQuery) -> int:
        """See :meth:`RegistryStore.count`."""
        matches, args = self._matches(tenant, query)

        def work(cur: Cursor) -> int:
            cur.execute(self.dialect.sql(f"SELECT COUNT(*){matches}"), args)
            return int(cur.fetchone()[0])

        result: int = await self._run(work)
        return result

    async def facets(
        self, tenant: str, query: SearchQuery, fields: Sequence[str], limit: int
    ) -> dict[str, list[tuple[str, int]]]:
        """See :meth:`RegistryStore.facets`."""
        q = self.dialect.sql
        matches, args = self._matches(tenant, query)

        def work(cur: Cursor) -> dict[str, list[tuple[str, int]]]:
            out: dict[str, list[tuple[str, int]]] = {}
            for name in fields:
                cur.execute(
                    q(
                        "SELECT t.value, COUNT(*) AS n FROM registry_terms t"
                        " WHERE t.tenant = ? AND t.field = ? AND t.identifier IN"
                        f" (SELECT a.identifier{matches})"
                        " GROUP BY t.value ORDER BY n DESC, t.value LIMIT ?"
                    ),
                    [tenant, name, *args, limit],
                )
                out[name] = [(str(v), int(n)) for v, n in cur.fetchall()]
            return out

        result: dict[str, list[tuple[str, int]]] = await self._run(work)
        return result
