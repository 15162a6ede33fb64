"""The docs site build (``scripts/docs``, run by ``scripts/lint``) fails on a warning.

A copy of the site's sources with one broken link must fail to build: this guards the
strictness itself (e.g. ``mkdocs build --strict --quiet`` passes with warnings).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .blocks import REPO

pytestmark = pytest.mark.slow


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copytree(REPO / "docs", project / "docs")
    (project / "src").symlink_to(REPO / "src")
    return project


@pytest.mark.timeout(120)
def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    with (project / "docs" / "index.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the missing page](no-such-page.md).\n")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "docs"), str(project)],
        capture_output=True,
        text=True,
        check=False,
        timeout=110,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no-such-page.md" in output
    assert "Aborted with 1 warnings in strict mode" in output
