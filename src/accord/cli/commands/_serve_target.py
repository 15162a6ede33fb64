"""What ``accord serve [TARGET]`` serves: TARGET (a file or module, and an object in it)
resolved to an :class:`~accord.server.A2AApp`.

TARGET is ``path/to/agent.py[:OBJ]`` or ``package.module[:OBJ]``; without ``:OBJ`` the
first of :data:`DEFAULT_NAMES` the module defines. The object is an Agent, an A2AApp, or
a factory returning one (given ``db=`` when it takes it). Without TARGET, the demo
Receptionist that ships in the package (:data:`DEFAULT_TARGET`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from ._push_options import push_settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from accord.server import A2AApp

__all__ = ["DEFAULT_NAMES", "DEFAULT_TARGET", "default_target", "load_app"]

#: Names looked up in a TARGET module when no ``:OBJ`` is given, in this order.
DEFAULT_NAMES = ("app", "agent", "create_app", "create_agent")
#: What ``accord serve`` without TARGET serves.
DEFAULT_TARGET = "accord.demo.receptionist:create_app"
_IDENTIFIER_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")


def default_target() -> str:
    """The TARGET served when none is given: the demo Receptionist in the package.

    It ships inside ``accord`` (:mod:`accord.demo.receptionist`), so ``accord serve``
    works from any install, not only from a source checkout.
    """
    return DEFAULT_TARGET


def _split(target: str) -> tuple[str, str | None]:
    where, sep, name = target.rpartition(":")
    if sep and where and _IDENTIFIER_PATH.match(name):
        return where, name
    return target, None


def _is_file(where: str) -> bool:
    return (
        where.endswith(".py") or "/" in where or "\\" in where or Path(where).is_file()
    )


def _load_file(path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    name = "_accord_serve_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Like `python file.py`: the file's folder is importable, so it can import siblings.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # Registered before running: dataclasses and typing look the module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(where: str) -> ModuleType:
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        # Only a missing TARGET is a usage error; a missing import inside it is a bug
        # of that module and keeps its traceback.
        if exc.name is not None and (
            where == exc.name or where.startswith(exc.name + ".")
        ):
            raise UsageError(
                f"cannot import {where!r}: no module named {exc.name!r} "
                "(give a file path, or run from the folder containing the package)"
            ) from None
        raise


def _attribute(module: ModuleType, dotted: str, label: str) -> Any:
    value: Any = module
    for part in dotted.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise UsageError(f"{label} has no attribute {dotted!r}") from None
    return value


def _resolve(target: str | None) -> tuple[Any, str]:
    """The object TARGET names, and a label for messages."""
    if target is None:
        target = default_target()
    where, name = _split(target)
    if not where.strip():
        raise UsageError(
            f"TARGET {target!r} names no file or module; give path/to/agent.py[:OBJ] "
            "or package.module[:OBJ], or leave it out to serve the demo Receptionist"
        )
    module = _load_file(Path(where)) if _is_file(where) else _import(where)
    if name is not None:
        return _attribute(module, name, where), f"{where}:{name}"
    for candidate in DEFAULT_NAMES:
        if hasattr(module, candidate):
            return getattr(module, candidate), f"{where}:{candidate}"
    raise UsageError(
        f"{where} defines none of {', '.join(DEFAULT_NAMES)}; "
        f"name the object to serve: `accord serve {where}:OBJ`"
    )


def _call_factory(factory: Callable[..., Any], db: str) -> Any:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: assume it takes db
        return factory(db=db)
    takes_db = any(
        p.name == "db" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )
    return factory(db=db) if takes_db else factory()


def load_app(
    target: str | None, db: str, args: argparse.Namespace | None = None
) -> tuple[A2AApp, str]:
    """The :class:`A2AApp` to serve for TARGET, and a label naming what it came from.

    An Agent that declares push notifications gets the push settings of ``args``'
    flags (:mod:`._push_options`).

    Raises:
        UsageError: TARGET does not exist or names something that is not an agent.
    """
    from accord.server import A2AApp, Agent
    from accord.server.auth import AuthConfigError
    from accord.stores import is_postgres_url, migrate, open_store

    if target is None and is_postgres_url(db):
        # The demo keeps its own tables (API keys, appointments) in its SQLite file.
        raise UsageError(
            "the demo Receptionist keeps its tables in SQLite: give --db a file, or "
            "serve your own agent on PostgreSQL (`accord serve app.py --db "
            "postgresql://...`)"
        )
    obj, label = _resolve(target)
    if not isinstance(obj, A2AApp | Agent):
        if not callable(obj):
            raise UsageError(
                f"{label} is a {type(obj).__name__}, not an Agent, an A2AApp, or a "
                "factory returning one"
            )
        try:
            obj = _call_factory(obj, db)
        except (AuthConfigError, ValueError) as exc:
            # A configuration the factory refuses (e.g. bad API keys), not a crash.
            raise UsageError(f"{label}: {exc}") from None
        if not isinstance(obj, A2AApp | Agent):
            raise UsageError(
                f"{label}(db=...) returned a {type(obj).__name__}; "
                "expected an Agent or an A2AApp"
            )
    audit = bool(getattr(args, "audit", False))
    if isinstance(obj, A2AApp):
        if audit and not getattr(obj.store, "audit_states", False):
            raise UsageError(
                f"{label} is an A2AApp with its own store, which --audit cannot "
                "change: make its store with audit=True (or serve the Agent)"
            )
        return obj, label
    # Create the schema now, so that a bad --db fails here with one clear line
    # rather than in the server's lifespan.
    migrate(db)
    push = (
        push_settings(args or argparse.Namespace(), db)
        if obj.push_notifications
        else None
    )
    try:
        return A2AApp(obj, store=open_store(db, audit=audit), push=push), label
    except AuthConfigError as exc:
        raise UsageError(
            f"{label}: {exc} (an Agent that declares security requirements must be "
            "served as an A2AApp with verifiers: A2AApp(agent, auth={...}))"
        ) from None
    except ValueError as exc:  # e.g. a push key of the wrong length
        raise UsageError(f"{label}: {exc}") from None
