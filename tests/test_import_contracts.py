"""The import contracts catch what they promise to (pyproject's ``[tool.importlinter]``).

Each probe copies ``src/accord`` to a temporary folder, plants one forbidden import and
runs ``lint-imports`` on the copy with the project's own configuration: the named
contracts must break. The unmodified copy keeps every contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CONTRACTS = (
    "Layers",
    "Stores import only types and errors",
    "Sans-IO core",
    "msgspec only in accord.types",
)


def lint_imports(tmp_path: Path, probe: dict[str, str]) -> dict[str, str]:
    """Plant ``probe`` (module path -> appended source) in a copy; contract -> status."""
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "accord",
        src / "accord",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for module, code in probe.items():
        path = src / module
        text = path.read_text() if path.exists() else ""
        path.write_text(text + "\n" + code + "\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    statuses: dict[str, str] = {}
    for line in result.stdout.splitlines():
        for name in CONTRACTS:
            for status in ("KEPT", "BROKEN"):
                if line.strip() == f"{name} {status}":
                    statuses[name] = status
    assert set(statuses) == set(CONTRACTS), result.stdout + result.stderr
    return statuses


def broken(statuses: dict[str, str]) -> set[str]:
    return {name for name, status in statuses.items() if status == "BROKEN"}


def test_the_project_keeps_every_contract(tmp_path: Path) -> None:
    assert broken(lint_imports(tmp_path, {})) == set()


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        pytest.param(
            # The probe that once left every contract kept: the sans-IO lifecycle
            # reaching SQLite (and so anyio and sqlite3) through the stores.
            {
                "accord/protocol/lifecycle.py": (
                    "from accord.stores.sqlite import SQLiteTaskStore  # noqa"
                )
            },
            {"Layers", "Sans-IO core"},
            id="protocol-imports-a-store",
        ),
        pytest.param(
            # Only indirectly: a new private module does the I/O import.
            {
                "accord/_probe_io.py": "import anyio  # noqa",
                "accord/types/_core.py": "import accord._probe_io  # noqa",
            },
            {"Sans-IO core"},
            id="types-reach-anyio-indirectly",
        ),
        pytest.param(
            {"accord/stores/base.py": "import accord.protocol.lifecycle  # noqa"},
            {"Layers", "Stores import only types and errors"},
            id="store-imports-the-protocol",
        ),
        pytest.param(
            {"accord/bindings/jsonrpc.py": "import msgspec  # noqa"},
            {"msgspec only in accord.types"},
            id="binding-imports-msgspec",
        ),
        pytest.param(
            {"accord/types/_core.py": "import accord.bindings.jsonrpc  # noqa"},
            # The stores build on the types: now they reach a binding too.
            {"Layers", "Stores import only types and errors"},
            id="types-import-a-binding",
        ),
    ],
)
def test_a_planted_import_breaks_its_contract(
    tmp_path: Path, probe: dict[str, str], expected: set[str]
) -> None:
    assert broken(lint_imports(tmp_path, probe)) == expected
