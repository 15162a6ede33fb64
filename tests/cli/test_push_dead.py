"""``accord push dead`` / ``accord push revive``: an operator sees the webhooks whose
deliveries were given up, and brings one back, with no key and no secret printed."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from accord.stores import SQLiteTaskStore
from accord.stores.base import Scope
from tests.helpers.cli import run_cli
from tests.stores._helpers import created, make_task

SECRET = b"sealed-bytes-nobody-prints"


async def dead_letter(db: Path) -> str:
    """A task with one dead-lettered config (``c-1``) and one live one (``c-2``)."""
    task = make_task("t-dead")
    async with SQLiteTaskStore(db) as store:
        scope = Scope(tenant="", owner="alice")
        await store.create(task, created(task), scope=scope)
        for config_id in ("c-1", "c-2"):
            await store.put_push_config(
                task.id, config_id, SECRET, scope=scope, after_seq=0
            )
        claimed = await store.claim_push_deliveries(holder="me", seconds=60, limit=10)
        for delivery in claimed:
            if delivery.config.config_id == "c-1":
                await store.push_failed(
                    task.id,
                    "c-1",
                    holder="me",
                    retry_in=None,
                    reason="10 attempts failed",
                )
            else:
                await store.release_push(task.id, "c-2", holder="me")
    return task.id


def test_list_then_revive(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    task_id = anyio.run(dead_letter, db)
    listed = run_cli(capsys, "push", "dead", "--db", str(db))
    assert listed.code == 0, listed.err
    (line,) = listed.out.splitlines()
    assert line.startswith(f"task {task_id}  config c-1  owner alice")
    assert line.endswith("delivered up to event 0: 10 attempts failed")
    as_json = run_cli(capsys, "push", "dead", "--db", str(db), "--json").json()
    assert as_json == [
        {
            "taskId": task_id,
            "configId": "c-1",
            "tenant": "",
            "owner": "alice",
            "failures": 1,
            "deliveredSeq": 0,
            "reason": "10 attempts failed",
        }
    ]
    assert SECRET.decode() not in listed.out
    revived = run_cli(capsys, "push", "revive", task_id, "c-1", "--db", str(db))
    assert (revived.code, revived.out) == (
        0,
        f"revived push config c-1 of task {task_id}\n",
    )
    empty = run_cli(capsys, "push", "dead", "--db", str(db))
    assert empty.out == f"no dead-lettered push configs in {db}\n"
    # A live config, an unknown one, or another tenant's: nothing to revive.
    for argv in (
        (task_id, "c-2"),
        (task_id, "nope"),
        (task_id, "c-1", "--tenant", "other"),
    ):
        again = run_cli(capsys, "push", "revive", *argv, "--db", str(db))
        assert again.code == 5
        assert "accord push dead" in again.err
    missing = run_cli(capsys, "push", "revive", task_id, "x", "--db", str(db), "--json")
    assert (missing.code, missing.json()) == (5, {"revived": False})
