"""``accord audit``: show, filter, export (JSON Lines), follow, verify and purge the
audit trail of a real SQLite file; and ``accord serve --audit``."""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from accord.cli._errors import UsageError
from accord.cli.commands.audit import since
from accord.cli.commands.serve import load_app
from accord.stores import AuditRecord, SQLiteTaskStore
from accord.stores.audit import AuditStore
from accord.types import TaskState
from tests.helpers.cli import run_cli
from tests.stores._helpers import ALICE, created, make_task, status_changed, ts

#: How long a line of ``--follow`` may take to show up.
DEADLINE = 20.0


def record(n: int, *, tenant: str = "", task_id: str = "t-1") -> AuditRecord:
    return AuditRecord(
        time=ts(n),
        tenant=tenant,
        operation="GetTask",
        principal="alice",
        task_id=task_id,
        context_id="ctx-1",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )


async def fill(db: Path) -> None:
    """A task that ran (3 state entries) and three operations, one in tenant acme."""
    task = make_task("t-1")
    done = make_task("t-1", state=TaskState.COMPLETED)
    async with SQLiteTaskStore(db, audit=True) as store:
        await store.create(task, created(task), scope=ALICE)
        await store.append(done, status_changed(done), expected_version=1)
        await store.append_audit([record(1), record(2, task_id="t-2")])
        await store.append_audit([record(3, tenant="acme")])


def tamper(db: Path, sql: str) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql)


def test_show_filter_export_and_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "tasks.db"
    anyio.run(fill, db)
    shown = run_cli(capsys, "audit", "--db", str(db))
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert len(lines) == 5
    assert "state new -> SUBMITTED" in lines[0]
    assert "state SUBMITTED -> COMPLETED" in lines[1]
    assert "operation GetTask  task t-1  context ctx-1  ok  by alice" in lines[2]
    assert "tenant acme" in lines[4]
    task = run_cli(capsys, "audit", "--db", str(db), "--task", "t-2", "--json")
    (only,) = task.json_lines()
    assert only["taskId"] == "t-2"
    assert {"seq", "prev", "hash", "time", "tenant"} <= set(only)
    tenant = run_cli(capsys, "audit", "--db", str(db), "--tenant", "acme", "--json")
    assert [e["tenant"] for e in tenant.json_lines()] == ["acme"]
    recent = run_cli(capsys, "audit", "--db", str(db), "--since", "1h")
    assert recent.out.count("state") == 2  # the state entries are from now
    none = run_cli(capsys, "audit", "--db", str(db), "--context", "nope")
    assert none.out == ""
    assert "no audit entries" in none.err

    export = tmp_path / "trail.jsonl"
    export.write_text(run_cli(capsys, "audit", "--db", str(db), "--json").out)
    intact = run_cli(capsys, "audit", "verify", "--db", str(db))
    assert intact.code == 0, intact.err
    assert intact.out.splitlines()[0].startswith("tenant -: intact, 4 entries, head #4")
    assert run_cli(capsys, "audit", "verify", "--file", str(export)).code == 0

    # An edit in the database: exit 1 and the first broken link, precisely.
    tamper(
        db,
        "UPDATE audit_entries SET body = replace(body, 'alice', 'mallory')"
        " WHERE seq = 3 AND tenant = ''",
    )
    broken = run_cli(capsys, "audit", "verify", "--db", str(db), "--json")
    assert broken.code == 1
    result = broken.json()
    assert result["ok"] is False
    (default,) = [c for c in result["chains"] if c["tenant"] == ""]
    assert default["broken"]["seq"] == 3
    assert "edited" in default["broken"]["reason"]
    assert "altered" in broken.err
    text = run_cli(capsys, "audit", "verify", "--db", str(db))
    assert "tenant -: BROKEN at #3 (entry id 3)" in text.out
    assert "tenant acme: intact" in text.out

    # A line deleted from the export: exit 1 too.
    kept = export.read_text().splitlines()
    export.write_text("\n".join(kept[:1] + kept[2:]) + "\n")
    gap = run_cli(capsys, "audit", "verify", "--file", str(export))
    assert gap.code == 1
    assert "BROKEN at #2" in gap.out


def test_purge_keeps_the_rest_verifiable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "tasks.db"
    anyio.run(fill, db)
    # The state entries are from now; the operations from 2025-01-01 are purged only
    # where no newer entry precedes them in their chain (acme's).
    purged = run_cli(
        capsys, "audit", "purge", "--db", str(db), "--older-than", "1", "--json"
    )
    assert purged.code == 0, purged.err
    assert purged.json()["deleted"] == 1
    verified = run_cli(capsys, "audit", "verify", "--db", str(db), "--json").json()
    assert verified["ok"] is True
    (acme,) = [c for c in verified["chains"] if c["tenant"] == "acme"]
    assert acme["entries"] == 0
    assert acme["headSeq"] == 1
    text = run_cli(capsys, "audit", "purge", "--db", str(db), "--older-than", "1")
    assert text.out.startswith("deleted 0 audit entries older than ")


def test_what_is_wrong_says_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = run_cli(capsys, "audit", "--db", str(tmp_path / "nope.db"))
    assert missing.code == 5
    assert "accord serve --audit" in missing.err
    assert "Traceback" not in missing.err
    bad = run_cli(capsys, "audit", "--db", "x.db", "--since", "yesterday")
    assert bad.code == 2
    assert "90s, 15m, 2h, 7d" in bad.err
    days = run_cli(capsys, "audit", "purge", "--db", "x.db", "--older-than", "-1")
    assert days.code == 2
    not_jsonl = tmp_path / "x.jsonl"
    not_jsonl.write_text('{"a": 1}\n')
    wrong = run_cli(capsys, "audit", "verify", "--file", str(not_jsonl))
    assert wrong.code == 2
    assert "line 1 is not an audit entry" in wrong.err
    absent = run_cli(capsys, "audit", "verify", "--file", str(tmp_path / "no.jsonl"))
    assert absent.code == 2
    assert "cannot read" in absent.err


def test_since_reads_times_and_spans() -> None:
    assert since("2025-01-31T12:00:00Z") == "2025-01-31T12:00:00.000Z"
    assert since("2025-01-31T13:00:00+01:00") == "2025-01-31T12:00:00.000Z"
    assert since("7d") < since("2h") < since("15m") < since("90s")
    with pytest.raises(ValueError, match="not a time"):
        since("5 minutes")


def test_follow_prints_new_entries_until_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    anyio.run(fill, db)
    # Started with SIGINT ignored, as a background job of a shell script is (the
    # harder case: Python keeps ignoring it unless the command takes Ctrl-C back).
    follow = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "audit", "--db", str(db), "-f", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert follow.stdout is not None
        seen = [json.loads(follow.stdout.readline()) for _ in range(5)]
        assert [e["seq"] for e in seen if e["tenant"] == "acme"] == [1]

        async def more() -> None:
            async with SQLiteTaskStore(db, audit=True) as store:
                await store.append_audit([record(9, task_id="t-new")])

        anyio.run(more)
        # readline blocks until the line comes: the test's timeout bounds it.
        new = json.loads(follow.stdout.readline())
        assert new["taskId"] == "t-new"
        follow.send_signal(signal.SIGINT)
        assert follow.wait(DEADLINE) == 0
        assert follow.stderr is not None
        assert "Traceback" not in follow.stderr.read()
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait(DEADLINE)
        for pipe in (follow.stdout, follow.stderr):
            if pipe is not None:
                pipe.close()


def test_serve_audit_turns_the_trail_on(tmp_path: Path) -> None:
    db = str(tmp_path / "tasks.db")
    app, _ = load_app("tests.cli.agents:agent", db, argparse.Namespace(audit=True))
    assert isinstance(app.store, AuditStore)
    assert app.store.audit_states
    plain, _ = load_app("tests.cli.agents:agent", db, argparse.Namespace())
    assert isinstance(plain.store, AuditStore)
    assert not plain.store.audit_states
    with pytest.raises(UsageError, match="audit=True"):
        load_app("tests.cli.agents:app", db, argparse.Namespace(audit=True))
