"""CLI fixtures: the Receptionist served by a real uvicorn in a thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.examples import receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Receptionist shared by the tests of one module."""
    db = tmp_path_factory.mktemp("receptionist") / "accord.db"
    with serve_in_thread(receptionist_app(db)) as base:
        yield base
