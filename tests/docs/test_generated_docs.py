"""The generated parts of the docs are the protocol tables, rendered.

``scripts/docs_tables.py`` renders the lifecycle table as a Mermaid diagram (in
``docs/concepts/lifecycle.md``) and the operations table as a Markdown table (in
``docs/concepts/a2a.md``); a change to a table without regenerating the page fails here.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from functools import cache
from types import ModuleType

import pytest

from accord.protocol.lifecycle import INITIAL, TERMINAL, TRANSITIONS
from accord.protocol.operations import OPERATIONS
from accord.types import TaskState

from .blocks import REPO

SCRIPT = REPO / "scripts" / "docs_tables.py"


@cache
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_tables", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_tables"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["lifecycle-diagram", "operations-table"])
def test_committed_region_matches_its_table(name: str) -> None:
    (region,) = [r for r in _script().REGIONS if r.name == name]
    page = region.page.read_text(encoding="utf-8")
    assert region.embed(page) == page, "run: python scripts/docs_tables.py"


def test_check_mode_passes_on_the_committed_pages() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_diagram_has_every_transition_and_nothing_else() -> None:
    diagram = _script().render_lifecycle()
    edges = set(re.findall(r"^    (\S+) --> (\S+)$", diagram, re.MULTILINE))
    expected = {("[*]", s.name) for s in INITIAL}
    expected |= {
        (s.name, t.name) for s, targets in TRANSITIONS.items() for t in targets
    }
    expected |= {(s.name, "[*]") for s in TERMINAL}
    assert edges == expected
    assert TaskState.UNSPECIFIED.name not in diagram


def test_operations_table_has_every_operation_and_route() -> None:
    table = _script().render_operations()
    rows = [line for line in table.splitlines()[2:] if line.startswith("| ")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [
        op.name for op in OPERATIONS
    ]
    for op in OPERATIONS:
        for route in op.rest:
            assert f"`{route.verb} {route.path}`" in table


def test_a_stale_page_is_detected() -> None:
    (region, _) = _script().REGIONS
    page = region.page.read_text(encoding="utf-8")
    stale = page.replace("    WORKING --> COMPLETED\n", "")
    assert stale != page
    assert region.embed(stale) != stale
    with pytest.raises(ValueError, match="markers are missing"):
        region.embed("no markers")
