"""Shared fixtures and suite layout.

* Async tests run on asyncio and trio via the anyio plugin.
* The default ``pytest`` run is the fast suite. The groups below are marked ``slow``:
  they still run in CI, because ``scripts/test`` (the README's test command) selects
  every test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

#: The demo Receptionist paces its progress for people to watch (0.5 s a step); the
#: tests, and the `accord serve` subprocesses they start, run it at full speed.
os.environ.setdefault("ACCORD_DEMO_PACE", "0")

#: Test modules (or folders) marked slow as a whole: the interop suite drives the
#: official SDK's servers and clients; the conformance suite differential-tests the
#: codec against protobuf with hypothesis; the rest start subprocesses or real TLS
#: (test_packaging builds the wheel and installs it into a fresh virtual environment;
#: the docs harness runs every code block of the README and docs/ in subprocesses).
SLOW = (
    "interop",
    "conformance",
    "security/test_jcs.py",
    "security/test_sdk_interop.py",
    "server/test_durability.py",
    "server/test_shutdown_serve.py",
    "server/test_tuning.py",
    "cli/test_serve.py",
    "server/auth/test_mtls.py",
    "test_clock.py",
    "test_packaging.py",
    "docs/test_code_blocks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the :data:`SLOW` groups ``slow``."""
    slow = [TESTS / entry for entry in SLOW]
    for item in items:
        path = Path(str(item.path))
        if any(path == s or s in path.parents for s in slow):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every ``@pytest.mark.anyio`` test runs on both backends unless it overrides this."""
    return str(request.param)
