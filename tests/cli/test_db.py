"""``accord db migrate``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli


def test_migrate_then_up_to_date(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "tasks.db"
    first = run_cli(capsys, "db", "migrate", "--db", str(db))
    assert first.code == 0, first.err
    assert first.out == (
        f"applied migration 0001 to {db}\napplied migration 0002 to {db}\n"
        f"applied migration 0003 to {db}\napplied migration 0004 to {db}\n"
        f"applied migration 0005 to {db}\napplied migration 0006 to {db}\n"
        f"applied migration 0007 to {db}\napplied migration 0008 to {db}\n"
    )
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert {"tasks", "task_events", "schema_version"} <= tables

    again = run_cli(capsys, "db", "migrate", "--db", str(db))
    assert again.code == 0
    assert again.out == f"{db} is up to date; no migrations to apply\n"


def test_migrate_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "tasks.db")
    assert run_cli(capsys, "db", "migrate", "--db", db, "--json").json() == {
        "db": db,
        "applied": [1, 2, 3, 4, 5, 6, 7, 8],
    }
    assert run_cli(capsys, "db", "migrate", "--db", db, "--json").json() == {
        "db": db,
        "applied": [],
    }


def test_migrate_default_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "db", "migrate").code == 0
    assert (tmp_path / "accord.db").is_file()


def test_migrate_error_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(capsys, "db", "migrate", "--db", str(tmp_path))  # a directory
    assert result.code == 1
    assert result.err.startswith("accord: database error: cannot migrate")
    assert result.err.count("\n") == 1
