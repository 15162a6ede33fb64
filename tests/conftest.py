"""Shared fixtures: run async tests on asyncio and trio via the anyio plugin."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every ``@pytest.mark.anyio`` test runs on both backends unless it overrides this."""
    return str(request.param)
