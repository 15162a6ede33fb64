"""The lifecycle diagram in the docs is the lifecycle table, drawn.

``docs/concepts/lifecycle.md`` embeds the Mermaid diagram that
``scripts/docs_lifecycle.py`` renders from ``accord.protocol.lifecycle``; a change to
the table without regenerating the page fails here.
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

from accord.protocol.lifecycle import INITIAL, TERMINAL, TRANSITIONS
from accord.types import TaskState

from .blocks import REPO


def _script() -> ModuleType:
    path = REPO / "scripts" / "docs_lifecycle.py"
    spec = importlib.util.spec_from_file_location("docs_lifecycle", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_diagram_matches_the_table() -> None:
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    assert script.embed(page) == page, "run: python scripts/docs_lifecycle.py"


def test_diagram_has_every_transition_and_nothing_else() -> None:
    edges = set(re.findall(r"^    (\S+) --> (\S+)$", _script().render(), re.MULTILINE))
    expected = {("[*]", s.name) for s in INITIAL}
    expected |= {
        (s.name, t.name) for s, targets in TRANSITIONS.items() for t in targets
    }
    expected |= {(s.name, "[*]") for s in TERMINAL}
    assert edges == expected
    assert TaskState.UNSPECIFIED.name not in {name for edge in edges for name in edge}


def test_a_stale_page_is_detected() -> None:
    script = _script()
    page = script.PAGE.read_text(encoding="utf-8")
    stale = page.replace("    WORKING --> COMPLETED\n", "")
    assert stale != page
    assert script.embed(stale) != stale
    with pytest.raises(ValueError, match="markers are missing"):
        script.embed("no markers")
