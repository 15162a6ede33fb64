"""``accord task list``'s table: ids in full, update times in UTC, fitted to a terminal."""

from __future__ import annotations

import pytest

from accord.cli._output import task_table
from accord.types import Task, TaskState, TaskStatus
from tests.helpers.cli import run_cli

TASK_A = "1e1bbe98-8db8-402f-917b-2f0d3fb76589"
TASK_B = "b332aa62-f631-461a-9ae0-3ea311be57d1"
CONTEXT = "da0fbaf0-7c7e-4b6a-98d9-8dd2cd3c0df7"


def _task(task_id: str, when: str | None) -> Task:
    status = TaskStatus(state=TaskState.INPUT_REQUIRED, timestamp=when)
    return Task(id=task_id, context_id=CONTEXT, status=status)


TASKS = [_task(TASK_A, "2026-12-05T12:57:49.488Z"), _task(TASK_B, None)]


def test_full_table_without_a_width() -> None:
    assert task_table(TASKS) == [
        "TASK                                  STATE           UPDATED              CONTEXT",
        f"{TASK_A}  INPUT_REQUIRED  2026-12-05 12:57:49  {CONTEXT}",
        f"{TASK_B}  INPUT_REQUIRED  -                    {CONTEXT}",
    ]


def test_the_context_is_shortened_to_fit() -> None:
    lines = task_table(TASKS, width=86)
    assert all(len(line) <= 86 for line in lines)
    assert lines[1] == f"{TASK_A}  INPUT_REQUIRED  2026-12-05 12:57:49  da0fbaf0-7…"
    assert lines[0].endswith("CONTEXT")


def test_a_narrow_terminal_keeps_the_task_ids() -> None:
    lines = task_table(TASKS, width=80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].split() == ["TASK", "STATE", "UPDATED"]
    assert lines[1] == f"{TASK_A}  INPUT_REQUIRED  2026-12-05 12:57:49"


def test_offsets_are_shown_in_utc() -> None:
    lines = task_table([_task(TASK_A, "2026-12-05T14:57:49+02:00")])
    assert "2026-12-05 12:57:49" in lines[1]


def test_a_pipe_gets_every_column_in_full(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    sent = run_cli(capsys, "send", url, "Summary of call-1001", "--json")
    task = sent.json()["task"]
    result = run_cli(capsys, "task", "list", url, "--context-id", task["contextId"])
    assert result.code == 0, result.err
    header, row, *_ = result.out.splitlines()
    assert header.split()[:2] == ["TASK", "STATE"]
    assert row.split()[0] == task["id"]
    assert row.split()[-1] == task["contextId"]
