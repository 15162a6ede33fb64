"""The ``store`` fixture: contract tests run against every TaskStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accord.stores import MemoryTaskStore, SQLiteTaskStore, TaskStore

from ._postgres import fresh_schema


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[TaskStore]:
    """Yield an open, empty store.

    SQLite uses a real file in ``tmp_path``; PostgreSQL a fresh schema on the local
    server (``_postgres.fresh_schema``), dropped afterwards.
    """
    impl: TaskStore
    if request.param == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        async with fresh_schema() as (_, url), PostgresTaskStore(url) as pg:
            yield pg
        return
    if request.param == "memory":
        impl = MemoryTaskStore()
    else:
        impl = SQLiteTaskStore(tmp_path / "tasks.db")
    async with impl:
        yield impl
