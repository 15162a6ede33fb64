"""PostgreSQL plumbing shared by the store, ``accord db migrate`` and the registry's
PostgreSQL store (:mod:`accord.registry.postgres`): pool, migrate, errors.

Theory of operation. The store talks to PostgreSQL through a bounded pool of
*synchronous* psycopg 3 connections, each call running in a worker thread
(``anyio.to_thread``), so it works on asyncio and trio alike (see
:mod:`accord.stores.postgres` for the measurement behind that choice). Connections are
in autocommit mode; every store operation is one explicit transaction
(``BEGIN`` ... ``COMMIT``, run by :mod:`accord.stores._postgres_retry`, which also
decides what to do when the connection is lost).

Migrations are the numbered files ``_sql/postgres/NNNN_name.sql`` shipped as package
data; the ``schema_version`` table lists the versions applied. :func:`apply_migrations`
runs them in one transaction that first takes a transaction-scoped advisory lock keyed
by the schema, so any number of instances starting at once apply each file exactly
once: the others wait on the lock, then find the versions recorded. PostgreSQL DDL is
transactional, so a failed migration leaves nothing behind. A database that records a
version newer than the newest file is refused: a newer Accord wrote it.

Every psycopg exception is re-raised as :class:`~accord.errors.StoreError` by
:func:`store_errors`, with what to do next in the message.
"""

from __future__ import annotations

from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from accord.errors import StoreError
from accord.stores._migrations import shipped

try:
    import psycopg
    from psycopg.errors import ForeignKeyViolation, UniqueViolation
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL task store needs psycopg: pip install 'accord[postgres]'"
    ) from exc

if TYPE_CHECKING:
    from collections.abc import Iterator

    from psycopg.rows import TupleRow

__all__ = [
    "CONNECT_TIMEOUT",
    "STATEMENT_TIMEOUT",
    "ConnectionPool",
    "ForeignKeyViolation",
    "UniqueViolation",
    "apply_migrations",
    "begin",
    "check_schema",
    "connect_kwargs",
    "describe",
    "migrate",
    "migrations",
    "store_errors",
]

#: Seconds to wait for a connection to the server (and for a free pooled connection)
#: before failing with a StoreError: long enough for a busy server, short enough that a
#: wrong URL or a down server fails a request instead of hanging it.
CONNECT_TIMEOUT = 10.0

#: Seconds any one statement may run. Store statements are indexed and small; one that
#: runs this long is stuck on a lock or a sick server, and is better cancelled.
STATEMENT_TIMEOUT = 30.0


_SCHEMA_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version integer NOT NULL PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())"
)
# One lock per schema: two Accord deployments in two schemas of one database do not
# wait for each other.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('accord.migrate:' || current_schema()))"


def describe(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the PostgreSQL URL"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


@contextmanager
def store_errors(
    url: str, doing: str, *, connect_timeout: float = CONNECT_TIMEOUT
) -> Iterator[None]:
    """Re-raise psycopg and pool errors raised in the block as StoreError."""
    try:
        yield
    except PoolTimeout as exc:
        raise StoreError(
            f"{doing}: no connection to {describe(url)} within {connect_timeout:g} s; "
            "check that PostgreSQL is running and reachable at that address, or that "
            "the pool is not exhausted by long-running calls"
        ) from exc
    except psycopg.errors.QueryCanceled as exc:
        raise StoreError(
            f"{doing} on {describe(url)} was cancelled: {_first_line(exc)} (another "
            "session may hold the task's lock, or the server is overloaded; the "
            "statement timeout is the store's statement_timeout)"
        ) from exc
    except psycopg.OperationalError as exc:
        raise StoreError(
            f"{doing}: cannot reach {describe(url)}: {_first_line(exc)}; check that "
            "PostgreSQL is running, that the URL (host, port, user, database) is "
            "right, and that the user may connect"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(
            f"{doing} on {describe(url)} failed: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect_kwargs(
    url: str,
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    statement_timeout: float = STATEMENT_TIMEOUT,
) -> dict[str, Any]:
    """Connection options every store connection to ``url`` is opened with.

    The statement timeout is added to the ``options`` the URL may already carry (a
    ``search_path``, for instance), not put in their place.
    """
    options = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    # Milliseconds; also bounds how long an append waits for a task's row lock.
    timeout = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
    return {
        "autocommit": True,
        # libpq takes whole seconds (at least 2 are used whatever is asked).
        "connect_timeout": max(1, round(connect_timeout)),
        "options": f"{options} {timeout}".strip(),
    }


def begin(
    cur: psycopg.Cursor[TupleRow],
    *,
    tenant: str | None = None,
    all_tenants: bool = False,
) -> None:
    """Set the transaction's tenant for row-level security (after ``BEGIN``).

    With ``tenant`` the transaction sets ``accord.tenant`` (row-level security sees that
    tenant's rows); with ``all_tenants`` it sets ``accord.all_tenants`` (maintenance
    sees every row). Both are ``SET LOCAL``: they end with the transaction, so a pooled
    connection never carries one request's tenant into the next.
    """
    if tenant is not None:
        cur.execute("SELECT set_config('accord.tenant', %s, true)", (tenant,))
    elif all_tenants:
        cur.execute("SELECT set_config('accord.all_tenants', 'on', true)")


def migrations() -> tuple[tuple[int, str], ...]:
    """Return ``(version, sql)`` of every PostgreSQL migration shipped, in order."""
    return shipped("postgres")


def apply_migrations(
    conn: psycopg.Connection[TupleRow],
    known: tuple[tuple[int, str], ...] | None = None,
) -> list[int]:
    """Bring the schema on ``conn`` to the newest version; return the versions applied.

    ``known`` replaces the shipped migrations (tests).

    Raises:
        StoreError: the database records a newer schema than this Accord knows.
        psycopg.Error: the database failed (callers wrap it).
    """
    known = migrations() if known is None else known
    latest = known[-1][0]
    applied: list[int] = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_LOCK)
        cur.execute(_SCHEMA_VERSION_DDL)
        done = {row[0] for row in cur.execute("SELECT version FROM schema_version")}
        if done and max(done) > latest:
            raise StoreError(
                f"the task database has schema version {max(done)}, but this Accord "
                f"only knows versions up to {latest}: upgrade Accord to use it"
            )
        for version, script in known:
            if version in done:
                continue
            cur.execute(script.encode())  # several statements: no parameters
            cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied


def check_schema(conn: psycopg.Connection[TupleRow], url: str) -> None:
    """Check that the schema on ``conn`` is at the newest version this Accord knows.

    Raises:
        StoreError: it is not (or was never migrated): run ``accord db migrate``.
    """
    latest = migrations()[-1][0]
    try:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    except psycopg.errors.UndefinedTable:
        row = None
    version = row[0] if row else None
    if version != latest:
        raise StoreError(
            f"the task schema at {describe(url)} is at version {version or 'none'}, "
            f"this Accord needs {latest}: run `accord db migrate --db URL` as a role "
            "that may change the schema"
        )


def migrate(url: str) -> list[int]:
    """Create or upgrade the PostgreSQL task schema at ``url`` (blocking).

    Returns the migration versions this call applied (``[]`` when already up to date).
    Safe to run from several processes at once (an advisory lock serialises them).

    Raises:
        StoreError: the database cannot be reached or migrated, or records a newer
            schema than this Accord knows.
    """
    with (
        store_errors(url, "migrating the task database"),
        closing(psycopg.connect(url, **connect_kwargs(url))) as conn,
    ):
        return apply_migrations(conn)
