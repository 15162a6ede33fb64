"""Shared fixtures and suite layout.

* Async tests run on asyncio and trio via the anyio plugin. The trio runs are part of
  the ``slow`` group: a plain ``pytest`` runs each async test once, on asyncio; CI runs
  both backends.
* The default ``pytest`` run is the fast suite. The groups below are marked ``slow``:
  they still run in CI, because ``scripts/test`` (the README's test command) selects
  every test. When the run leaves them out they are not even imported.
* Hypothesis runs the ``dev`` profile (few examples) by default and the ``ci`` profile
  (many) when ``HYPOTHESIS_PROFILE=ci`` or ``CI`` is set; ``scripts/test`` sets it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Keep the compiled, assertion-rewritten test modules (and accord's own) between runs,
# even where PYTHONDONTWRITEBYTECODE is set: recompiling them cost every xdist worker
# about 3 s of CPU per run. The caches are git-ignored __pycache__ folders.
sys.dont_write_bytecode = False

TESTS = Path(__file__).parent

#: The demo Receptionist paces its progress for people to watch (0.5 s a step); the
#: tests, and the `accord serve` subprocesses they start, run it at full speed.
os.environ.setdefault("ACCORD_DEMO_PACE", "0")

#: Test modules (or folders) marked slow as a whole: the interop suite drives the
#: official SDK's servers and clients; the conformance suite differential-tests the
#: codec against protobuf with hypothesis; the rest start subprocesses (servers,
#: lint-imports, the wheel installed into a fresh virtual environment, every code block
#: of the README and docs/) or real TLS.
SLOW = (
    "interop",
    "conformance",
    "security/test_jcs.py",
    "security/test_sdk_interop.py",
    "server/test_durability.py",
    "server/test_shutdown_serve.py",
    "server/test_tuning.py",
    "server/test_pg_events_processes.py",
    "cli/test_serve.py",
    "cli/test_serve_otel.py",
    "cli/test_push_listen.py",
    "server/auth/test_mtls.py",
    "test_clock.py",
    "test_packaging.py",
    "docs/test_code_blocks.py",
    "test_import_contracts.py",
)
_SLOW_PATHS = tuple(str(TESTS / entry) for entry in SLOW)

# Examples per property: a quick sample while developing, a thorough one in CI. A
# test's own ``@settings`` may still narrow what it needs (deadline, health checks).
settings.register_profile(
    "dev",
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def _is_slow(path: Path) -> bool:
    # Plain strings: this runs for every collected test.
    where = str(path)
    return any(where == s or where.startswith(s + os.sep) for s in _SLOW_PATHS)


def _runs_slow(config: pytest.Config) -> bool:
    """Whether the ``-m`` expression selects tests marked (only) ``slow``."""
    markexpr = str(config.getoption("markexpr", "") or "")
    if not markexpr:
        return True
    try:
        from _pytest.mark.expression import Expression

        compiled = Expression.compile(markexpr)
        return bool(compiled.evaluate(lambda name, /, **_: name == "slow"))
    except Exception:  # an unknown expression API: collect everything, deselect later
        return True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip importing the :data:`SLOW` groups when the run deselects them anyway."""
    if _is_slow(collection_path) and not _runs_slow(config):
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the :data:`SLOW` groups ``slow``."""
    for item in items:
        if _is_slow(Path(str(item.path))):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(
    params=["asyncio", pytest.param("trio", marks=pytest.mark.slow)],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every ``@pytest.mark.anyio`` test runs on both backends unless it overrides this.

    The trio run is marked ``slow``: CI runs it, a plain ``pytest`` does not.
    """
    return str(request.param)
