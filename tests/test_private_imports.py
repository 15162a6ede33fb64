"""No package of Accord imports another package's private modules.

A module whose name starts with ``_`` (``accord.stores._memory_held``) belongs to its
package (``accord.stores``): other packages go through what it exports, so it can be
split, renamed or rewritten without breaking them. The top-level private modules
(``accord._clock``, ``accord._net``, ``accord._slots``) are the bottom layer, shared by
every package on purpose (pyproject's import contracts). import-linter has no contract
for this rule, so this test reads every import statement of ``src/accord``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _package_of(module: str) -> str:
    """The top-level package a module belongs to (``accord.stores.memory`` -> stores);
    empty for ``accord`` and its top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def _imported(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """Every module or name an import statement of ``module`` reaches, absolute."""
    names: list[str] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def private_imports(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The imports in ``source`` (the text of ``module``) of another package's private
    modules."""
    own = _package_of(module + ".x" if is_package else module)
    found = []
    for name in _imported(ast.parse(source), module, is_package):
        parts = name.split(".")
        if parts[0] != "accord" or len(parts) < 3 or parts[1] == own:
            continue
        if any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
            found.append(name)
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    offences = {}
    for path in sorted((SRC / "accord").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        found = private_imports(path.read_text(), module, is_package=is_package)
        if found:
            offences[module] = found
    assert offences == {}


def test_the_check_sees_absolute_relative_and_from_imports() -> None:
    module = "accord.registry.postgres"
    assert private_imports("import accord.stores._postgres_db", module) == [
        "accord.stores._postgres_db"
    ]
    assert private_imports("from accord.stores._postgres_db import pool", module) == [
        "accord.stores._postgres_db",
        "accord.stores._postgres_db.pool",
    ]
    # A private name imported from another package's public module.
    assert private_imports("from accord.stores import _lane", module) == [
        "accord.stores._lane"
    ]
    # Relative imports reaching out of the package.
    assert private_imports("from ..stores._sql import x", module) == [
        "accord.stores._sql",
        "accord.stores._sql.x",
    ]
    # Allowed: the package's own private modules, the bottom layer, public modules.
    allowed = (
        "from ._sql import Dialect\n"
        "from accord.registry._sql import tables\n"
        "from accord._clock import new_id\n"
        "from accord.stores.postgres_db import connect_kwargs\n"
        "import accord.stores.__init__\n"
    )
    assert private_imports(allowed, module) == []
    # A package's __init__ belongs to that package.
    assert (
        private_imports("from ._memory_held import M", "accord.stores", is_package=True)
        == []
    )
