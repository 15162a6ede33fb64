"""The ``store`` fixture: contract tests run against every TaskStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accord.stores import MemoryTaskStore, SQLiteTaskStore, TaskStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[TaskStore]:
    """Yield an open, empty store; SQLite uses a real file in ``tmp_path``."""
    impl: TaskStore
    if request.param == "memory":
        impl = MemoryTaskStore()
    else:
        impl = SQLiteTaskStore(tmp_path / "tasks.db")
    async with impl:
        yield impl
