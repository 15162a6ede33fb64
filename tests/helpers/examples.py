"""Load the runnable examples (``examples/*.py``) as modules; serve the demo Receptionist."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType

from accord.demo.receptionist import Pace, create_agent, create_app
from accord.server import A2AApp
from accord.server.auth import ApiKeyRing
from accord.stores import SQLiteTaskStore

__all__ = [
    "EXAMPLES",
    "RECEPTIONIST_KEY",
    "RECEPTIONIST_NOW",
    "load_example",
    "receptionist_app",
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@cache
def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` under the module name ``examples_<name>``."""
    path = EXAMPLES / f"{name}.py"
    module_name = f"examples_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


#: The clock the tests give the Receptionist: bookings are validated against it.
RECEPTIONIST_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


#: The API key the secured test Receptionist accepts (principal ``partner``).
RECEPTIONIST_KEY = "test-key-0123456789abcdef"


def receptionist_app(
    db: str | Path,
    *,
    pace: Pace = 0.0,
    api_key: str | None = None,
) -> A2AApp:
    """The Receptionist (:mod:`accord.demo.receptionist`) with its tasks in ``db``.

    With ``api_key``: its example configuration (``create_app``), accepting that key
    in ``X-API-Key``. Without: the agent without security, for tests about something
    else (the CLI's output, transports). ``pace``: seconds per progress step (0: the
    tests do not wait for the demo's show of work).
    """
    if api_key is not None:
        keys = ApiKeyRing()
        keys.add(api_key, principal="partner")
        return create_app(str(db), keys=keys, clock=lambda: RECEPTIONIST_NOW, pace=pace)
    agent = create_agent(
        str(db), clock=lambda: RECEPTIONIST_NOW, pace=pace, secured=False
    )
    return A2AApp(agent, store=SQLiteTaskStore(db))
