"""A fresh PostgreSQL schema per test, on the server at 127.0.0.1:5432.

Each test gets its own schema (``CREATE SCHEMA``, dropped afterwards with everything in
it) and a URL whose ``search_path`` selects it, so tests never see each other's rows
and can run in parallel. When the server cannot be reached the PostgreSQL tests skip
with the reason, except in CI (``CI`` set), where PostgreSQL is started and a skip
would hide a failure: there they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


async def require_postgres() -> None:
    """Skip (locally) or fail (CI) when PostgreSQL is not there."""
    reason = await anyio.to_thread.run_sync(unreachable)
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
    pytest.skip(reason)


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
