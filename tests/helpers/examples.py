"""Load the runnable examples (``examples/*.py``) as modules, once per session."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType

from accord.server import A2AApp
from accord.stores import SQLiteTaskStore

__all__ = ["EXAMPLES", "RECEPTIONIST_NOW", "load_example", "receptionist_app"]

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


def receptionist_app(db: str | Path, *, pause: float = 0.005) -> A2AApp:
    """The Receptionist served with its tasks (and tables) in the SQLite file ``db``."""
    module = load_example("receptionist")
    agent = module.create_agent(str(db), clock=lambda: RECEPTIONIST_NOW, pause=pause)
    return A2AApp(agent, store=SQLiteTaskStore(db))
