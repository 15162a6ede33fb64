"""``accord task get|list|cancel|subscribe``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from accord.client import Client
from accord.types import SendMessageConfiguration, Task
from tests.helpers.cli import Result, run_cli
from tests.helpers.examples import receptionist_app
from tests.helpers.gates import FirstEventGate
from tests.helpers.uvicorn_thread import serve_in_thread


def _send(
    capsys: pytest.CaptureFixture[str], url: str, *argv: str
) -> dict[str, object]:
    result = run_cli(capsys, "send", url, *argv, "--json")
    task: dict[str, object] = result.json()["task"]
    return task


@pytest.fixture(scope="module")
def context(url: str) -> tuple[str, list[str]]:
    """A context holding two finished tasks (oldest first)."""
    ids: list[str] = []

    async def make() -> str:
        async with await Client.connect(url) as client:
            first = await client.send_message("Summary of call-1001")
            assert isinstance(first, Task)
            second = await client.send_message(
                "Summary of call-1002", context_id=first.context_id
            )
            assert isinstance(second, Task)
            ids.extend([first.id, second.id])
            return first.context_id

    return anyio.run(make), ids


def test_get(capsys: pytest.CaptureFixture[str], url: str) -> None:
    task = _send(capsys, url, "Summary of call-1003")
    result = run_cli(capsys, "task", "get", url, str(task["id"]))
    assert result.code == 0
    assert "state:    COMPLETED" in result.out
    assert "artifact: call-summary" in result.out
    assert "history:" not in result.out


def test_get_with_history(capsys: pytest.CaptureFixture[str], url: str) -> None:
    task = _send(capsys, url, "Summary of call-1003")
    result = run_cli(capsys, "task", "get", url, str(task["id"]), "--history", "5")
    assert result.code == 0
    assert "history:" in result.out
    assert "  user:  Summary of call-1003" in result.out
    assert "  agent: Looking up call-1003…" in result.out


def test_get_json_and_history_length(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task = _send(capsys, url, "Summary of call-1003")
    result = run_cli(
        capsys, "task", "get", url, str(task["id"]), "--history", "1", "--json"
    )
    assert result.code == 0
    got = result.json()
    assert got["id"] == task["id"]
    assert len(got["history"]) == 1


def test_get_input_required_shows_hint(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task = _send(capsys, url, "Schedule a callback please")
    result = run_cli(capsys, "task", "get", url, str(task["id"]))
    assert result.code == 0
    assert f"--task-id {task['id']}" in result.out


def test_get_unknown_task_exits_5(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "task", "get", url, "missing-task")
    assert result.code == 5
    assert result.out == ""
    assert result.err == (
        f"accord: task missing-task was not found at {url} — "
        f"list the tasks with `accord task list {url}`\n"
    )


def test_list_by_context(
    capsys: pytest.CaptureFixture[str], url: str, context: tuple[str, list[str]]
) -> None:
    context_id, ids = context
    result = run_cli(capsys, "task", "list", url, "--context-id", context_id)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["TASK", "STATE", "UPDATED", "CONTEXT"]
    assert [line.split()[0] for line in lines[1:3]] == [ids[1], ids[0]]  # newest first
    assert lines[-1] == "2 of 2 task(s)"


def test_list_pages(
    capsys: pytest.CaptureFixture[str], url: str, context: tuple[str, list[str]]
) -> None:
    context_id, ids = context
    first = run_cli(
        capsys, "task", "list", url, "--context-id", context_id, "--page-size", "1"
    )
    assert first.code == 0
    footer = first.out.splitlines()[-1]
    assert footer.startswith("1 of 2 task(s); next page: --page-token ")
    token = footer.rsplit(" ", 1)[1]
    second = run_cli(
        capsys,
        "task",
        "list",
        url,
        "--context-id",
        context_id,
        "--page-size",
        "1",
        "--page-token",
        token,
        "--json",
    )
    page = second.json()
    assert [t["id"] for t in page["tasks"]] == [ids[0]]
    assert page["nextPageToken"] == ""


def test_list_filters_and_artifacts(
    capsys: pytest.CaptureFixture[str], url: str, context: tuple[str, list[str]]
) -> None:
    context_id, _ = context
    result = run_cli(
        capsys,
        "task",
        "list",
        url,
        "--context-id",
        context_id,
        "--status",
        "completed",
        "--include-artifacts",
        "--json",
    )
    page = result.json()
    assert page["totalSize"] == 2
    assert all(t["artifacts"] for t in page["tasks"])
    human = run_cli(
        capsys, "task", "list", url, "--context-id", context_id, "--include-artifacts"
    )
    assert human.out.splitlines()[0].split()[-1] == "ARTIFACTS"
    none = run_cli(
        capsys, "task", "list", url, "--context-id", context_id, "--status", "FAILED"
    )
    assert none.out.splitlines() == ["no tasks", "0 of 0 task(s)"]


def test_cancel(capsys: pytest.CaptureFixture[str], url: str) -> None:
    task = _send(capsys, url, "Escalate call-1001")  # waits for a reason
    result = run_cli(capsys, "task", "cancel", url, str(task["id"]))
    assert result.code == 0, result.err
    assert "state:    CANCELED" in result.out
    again = run_cli(capsys, "task", "cancel", url, str(task["id"]), "--json")
    assert again.code == 1
    assert "TaskNotCancelableError" in again.err


def test_cancel_unknown_exits_5(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert run_cli(capsys, "task", "cancel", url, "nope").code == 5


@pytest.fixture
def slow_url(tmp_path: Path) -> Iterator[str]:
    """A Receptionist whose callback steps wait until a subscriber got an event.

    The booking then cannot finish before ``task subscribe`` is attached, whatever
    the machine's load: its steps are gated, not timed.
    """
    gate = FirstEventGate()
    app = receptionist_app(tmp_path / "slow.db", pace=gate.wait)
    with serve_in_thread(gate.wrap(app)) as base:
        yield base


def _start_booking(url: str) -> str:
    async def start() -> str:
        async with await Client.connect(url) as client:
            task = await client.send_message(
                "Schedule a callback to +14155550123 on 2026-12-03 10:00-11:00",
                configuration=SendMessageConfiguration(return_immediately=True),
            )
            assert isinstance(task, Task)
            return task.id

    return anyio.run(start)


def test_subscribe_follows_to_the_end(
    capsys: pytest.CaptureFixture[str], slow_url: str
) -> None:
    task_id = _start_booking(slow_url)
    result = run_cli(capsys, "task", "subscribe", slow_url, task_id)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith(f"task {task_id} ")
    assert any(line.startswith("COMPLETED") for line in lines)
    assert "artifact: callback-booking" in lines
    assert lines[-2] == f"task:     {task_id}"


def test_subscribe_json(capsys: pytest.CaptureFixture[str], slow_url: str) -> None:
    task_id = _start_booking(slow_url)
    result = run_cli(capsys, "task", "subscribe", slow_url, task_id, "--json")
    events = result.json_lines()
    assert events[0]["task"]["id"] == task_id
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_subscribe_to_a_finished_task_shows_it(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task = _send(capsys, url, "Summary of call-4040")  # FAILED
    result: Result = run_cli(capsys, "task", "subscribe", url, str(task["id"]))
    assert result.code == 1
    assert "has already ended (FAILED)" in result.err
    assert "state:    FAILED" in result.out
    as_json = run_cli(capsys, "task", "subscribe", url, str(task["id"]), "--json")
    assert as_json.json_lines()[0]["task"]["status"]["state"] == "TASK_STATE_FAILED"


def test_subscribe_unknown_exits_5(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    assert run_cli(capsys, "task", "subscribe", url, "nope").code == 5
