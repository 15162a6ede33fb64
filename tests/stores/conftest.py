"""The ``store`` fixture: contract tests run against every TaskStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio.to_thread
import pytest

from accord.stores import MemoryTaskStore, SQLiteTaskStore, TaskStore
from tests.helpers.pg_cluster import PrivateCluster, private_cluster

from ._postgres import empty, migrated_schema


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a migrated schema for this test process, dropped at the end."""
    with migrated_schema() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[TaskStore]:
    """Yield an open, empty store.

    SQLite uses a real file in ``tmp_path``; PostgreSQL this process's schema on the
    local server (``postgres_url``), emptied first.
    """
    impl: TaskStore
    if request.param == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        url = request.getfixturevalue("postgres_url")
        await anyio.to_thread.run_sync(empty, url)
        async with PostgresTaskStore(url) as pg:
            yield pg
        return
    if request.param == "memory":
        impl = MemoryTaskStore()
    else:
        impl = SQLiteTaskStore(tmp_path / "tasks.db")
    async with impl:
        yield impl


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this test module's own, free to restart or crash.

    Skips (with the reason) only when the server binaries are not installed.
    """
    try:
        cluster = private_cluster()
        running = cluster.__enter__()
    except LookupError as exc:
        pytest.skip(str(exc))
    try:
        yield running
    finally:
        cluster.__exit__(None, None, None)
