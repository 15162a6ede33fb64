"""The ``registry_store`` fixture: the store contract runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accord.registry import RegistryStore
from accord.registry.sqlite import SQLiteRegistryStore
from tests.stores._postgres import fresh_schema


@pytest.fixture(params=["sqlite", "postgres"])
async def registry_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[RegistryStore]:
    """An open, empty registry store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        async with SQLiteRegistryStore(tmp_path / "registry.db") as store:
            yield store
        return
    from accord.registry.postgres import PostgresRegistryStore

    async with fresh_schema() as (_, url), PostgresRegistryStore(url) as pg:
        yield pg
