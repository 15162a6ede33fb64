"""``accord task subscribe`` on a task that waits for the client (INPUT_REQUIRED).

The subscription would stay open (spec §3.1.6) with nothing to show until someone
answers; by default the CLI shows the state at once, says how to answer and exits;
``--keep-open`` follows the task through the answer to its end.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.cli import run_cli

TIMEOUT = 20


def _escalation(capsys: pytest.CaptureFixture[str], url: str) -> str:
    """A task waiting for the reason of an escalation (INPUT_REQUIRED)."""
    result = run_cli(capsys, "send", url, "Escalate call-1003", "--json")
    task = result.json()["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    task_id: str = task["id"]
    return task_id


def _subscribe(url: str, task_id: str, *options: str) -> subprocess.Popen[str]:
    # A subprocess, so that a subscription that never ends fails the test (timeout)
    # instead of hanging it.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "task",
            "subscribe",
            url,
            task_id,
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_shows_the_state_and_how_to_answer_then_exits(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task_id = _escalation(capsys, url)
    process = _subscribe(url, task_id)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"task {task_id} INPUT_REQUIRED")
    assert lines[-2:] == [
        "The agent needs more input; reply with:",
        f'  accord send {url} "…" --task-id {task_id}',
    ]


def test_json_stops_at_the_interrupted_state(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task_id = _escalation(capsys, url)
    process = _subscribe(url, task_id, "--json")
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    events = [line for line in out.splitlines() if line]
    assert len(events) == 1
    assert '"TASK_STATE_INPUT_REQUIRED"' in events[0]


def test_keep_open_follows_through_the_answer(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    task_id = _escalation(capsys, url)
    process = _subscribe(url, task_id, "--keep-open")
    assert process.stderr is not None
    # The notice comes after the current state: the subscription is open.
    notice = process.stderr.readline()
    assert notice == (
        "accord: the task waits for the client (INPUT_REQUIRED); following until "
        "it ends (Ctrl-C to stop)\n"
    )
    answer = run_cli(
        capsys, "send", url, "The caller asks for a manager", "--task-id", task_id
    )
    assert answer.code == 0, answer.err
    out, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0
    assert any(line.startswith("COMPLETED") for line in out.splitlines())
