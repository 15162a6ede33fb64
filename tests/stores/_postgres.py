"""Fresh PostgreSQL schemas for the tests, on the server at 127.0.0.1:5432.

A test that needs a schema of its own (migrations, roles, dropped tables) gets one
(:func:`fresh_schema`: ``CREATE SCHEMA``, dropped afterwards with everything in it) and
a URL whose ``search_path`` selects it. The contract suite shares one migrated schema
per test process (:func:`migrated_schema`), emptied before each test: tests in a
process run one at a time, processes each have their own schema, so tests never see
each other's rows and can run in parallel. When the server cannot be reached the PostgreSQL tests skip
with the reason, except in CI (``CI`` set), where PostgreSQL is started and a skip
would hide a failure: there they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from urllib.parse import quote

import anyio.to_thread
import pytest

#: The server every machine and CI runs (trust authentication, user postgres).
SERVER = os.environ.get("ACCORD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
ADMIN_URL = f"{SERVER}/test"


@cache
def unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'accord[postgres]')"
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {ADMIN_URL} is unreachable: {exc}"
    return None


def require_postgres_now() -> None:
    """Skip (locally) or fail (CI) when PostgreSQL is not there (blocking)."""
    reason = unreachable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(reason)


async def require_postgres() -> None:
    """Skip (locally) or fail (CI) when PostgreSQL is not there."""
    await anyio.to_thread.run_sync(require_postgres_now)


def admin(sql: str, *params: object) -> list[tuple[object, ...]]:
    """Run ``sql`` as the superuser on the test database (blocking)."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        cur = conn.execute(sql.encode() if not params else sql, params or None)
        return cur.fetchall() if cur.description else []


def schema_url(schema: str, *, user: str = "postgres") -> str:
    """The URL of the test database with ``search_path`` set to ``schema``."""
    base = SERVER.replace("postgres@", f"{user}@", 1)
    return f"{base}/test?options={quote(f'-csearch_path={schema}')}"


@contextmanager
def migrated_schema() -> Iterator[str]:
    """Create and migrate a schema; yield its URL; drop it (blocking).

    For a test session (one per xdist worker): the contract suite empties it before
    each test (:func:`empty`) instead of paying a schema and a migration per test.
    """
    from accord.stores import migrate

    require_postgres_now()
    schema = f"s_{uuid.uuid4().hex[:16]}"
    admin(f"CREATE SCHEMA {schema}")
    try:
        url = schema_url(schema)
        migrate(url)
        yield url
    finally:
        admin(f"DROP SCHEMA {schema} CASCADE")


def empty(url: str) -> None:
    """Delete every task of the schema at ``url`` (the other rows cascade), and the
    audit trail and the held terms."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM tasks")
        conn.execute("DELETE FROM task_leases")
        conn.execute("DELETE FROM audit_entries")
        conn.execute("DELETE FROM audit_chains")
        conn.execute("DELETE FROM held_terms")


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[tuple[str, str]]:
    """Create an empty schema; yield ``(schema, url)``; drop it and all in it."""
    await require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    await anyio.to_thread.run_sync(admin, f"CREATE SCHEMA {schema}")
    try:
        yield schema, schema_url(schema)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(admin, f"DROP SCHEMA {schema} CASCADE")
