"""``accord send``: blocking and streamed, text and data, exit codes, hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import closed_port_url, run_cli
from tests.helpers.examples import receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

from .fakes import bearer_wall


def _field(out: str, label: str) -> str:
    for line in out.splitlines():
        if line.startswith(f"{label}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {label!r} line in:\n{out}")


def test_blocking_send_prints_state_message_artifacts_ids(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-1002")
    assert result.code == 0, result.err
    assert _field(result.out, "state") == "COMPLETED"
    assert _field(result.out, "message") == "Summary of call-1002 attached."
    assert "artifact: call-summary" in result.out
    assert "  Call call-1002 from Marco Ruiz (+34911234567)" in result.out
    assert '    "callId": "call-1002",' in result.out  # data part as indented JSON
    assert _field(result.out, "task")
    assert _field(result.out, "context")
    assert "--task-id" not in result.out  # no hint: nothing to continue


def test_json_output_is_a_send_message_response(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-1001", "--json")
    assert result.code == 0
    task = result.json()["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][1]["data"]["callId"] == "call-1001"


def test_data_part(capsys: pytest.CaptureFixture[str], url: str) -> None:
    data = {"skill": "fetch_call_summary", "callId": "call-1004"}
    result = run_cli(capsys, "send", url, "--data", json.dumps(data), "--json")
    assert result.code == 0
    task = result.json()["task"]
    assert task["history"][0]["parts"] == [
        {"data": data, "mediaType": "application/json"}
    ]
    assert task["artifacts"][0]["parts"][1]["data"]["caller"] == "Tom Becker"


def test_input_required_prints_how_to_continue(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url, "Escalate call-1005")
    assert result.code == 0
    assert _field(result.out, "state") == "INPUT_REQUIRED"
    task_id = _field(result.out, "task")
    assert "The agent needs more input; reply with:" in result.out
    assert f'  accord send {url} "…" --task-id {task_id}' in result.out

    again = run_cli(
        capsys, "send", url, "the customer is furious", "--task-id", task_id
    )
    assert again.code == 0
    assert _field(again.out, "state") == "COMPLETED"
    assert _field(again.out, "task") == task_id


def test_failed_task_exits_1(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-4242")
    assert result.code == 1
    assert _field(result.out, "state") == "FAILED"
    assert "call-4242" in _field(result.out, "message")
    assert result.err == ""


def test_rejected_task_exits_1_in_json_too(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(
        capsys,
        "send",
        url,
        "Schedule a callback to 123 on 2026-12-01 14:00-15:00",
        "--json",
    )
    assert result.code == 1
    assert result.json()["task"]["status"]["state"] == "TASK_STATE_REJECTED"


def test_stream_prints_events_live(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(
        capsys,
        "send",
        url,
        "Schedule a callback to +1 415 555 0123 on 2026-12-02 09:00-10:00",
        "--stream",
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("task ")
    assert lines[0].split()[2] == "SUBMITTED"
    assert lines[1] == "WORKING         Checking availability…"
    assert lines[2] == "WORKING         Reserving the slot…"
    assert lines[3] == "artifact: callback-booking"
    completed = next(i for i, line in enumerate(lines) if line.startswith("COMPLETED"))
    assert completed > 3
    assert lines[completed + 1].startswith("task:")
    assert lines[completed + 2].startswith("context:")


def test_stream_json_is_ndjson(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-1003", "--stream", "--json")
    assert result.code == 0
    events = result.json_lines()
    assert "task" in events[0]
    assert "statusUpdate" in events[-1]
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert any("artifactUpdate" in event for event in events)


def test_stream_failed_exits_1(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-0000", "--stream")
    assert result.code == 1
    assert any(line.startswith("FAILED") for line in result.out.splitlines())


def test_stream_input_required_hint(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "send", url, "hello", "--stream")
    assert result.code == 0
    assert any(
        line.startswith("INPUT_REQUIRED  I can:") for line in result.out.splitlines()
    )
    assert "--task-id" in result.out


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON", "rest"])
def test_binding(capsys: pytest.CaptureFixture[str], url: str, binding: str) -> None:
    result = run_cli(capsys, "send", url, "Summary of call-1001", "--binding", binding)
    assert result.code == 0, result.err
    streamed = run_cli(
        capsys, "send", url, "Summary of call-1001", "--binding", binding, "--stream"
    )
    assert streamed.code == 0, streamed.err


def test_context_id_is_kept(capsys: pytest.CaptureFixture[str], url: str) -> None:
    first = run_cli(capsys, "send", url, "Summary of call-1001", "--json")
    context = first.json()["task"]["contextId"]
    second = run_cli(
        capsys, "send", url, "Summary of call-1002", "--context-id", context, "--json"
    )
    assert second.json()["task"]["contextId"] == context


def test_unknown_task_id_exits_5(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "send", url, "hi", "--task-id", "no-such-task")
    assert result.code == 5
    assert result.err.startswith("accord: task no-such-task was not found at ")


def test_continuing_a_finished_task_exits_1(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    done = run_cli(capsys, "send", url, "Summary of call-1001", "--json")
    task_id = done.json()["task"]["id"]
    result = run_cli(capsys, "send", url, "more", "--task-id", task_id)
    assert result.code == 1
    assert result.err.startswith("accord: the agent answered UnsupportedOperationError")
    assert result.err.count("\n") == 1


def test_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    target = closed_port_url()
    result = run_cli(capsys, "send", target, "hi")
    assert result.code == 3
    assert (
        "connection refused — is the agent running? start one with `accord serve`"
        in (result.err)
    )


@pytest.mark.parametrize(
    ("options", "code"),
    [([], 4), (["--token", "wrong"], 4), (["-H", "Authorization: Bearer s3"], 0)],
)
def test_auth(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: list[str], code: int
) -> None:
    app = bearer_wall(receptionist_app(tmp_path / "a.db"), "s3")
    with serve_in_thread(app) as base:
        result = run_cli(capsys, "send", base, "Summary of call-1001", *options)
    assert result.code == code, result.err
    if code == 4:
        assert "Traceback" not in result.err
        assert result.err.count("\n") == 1


def test_token_from_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_TOKEN", "s3")
    app = bearer_wall(receptionist_app(tmp_path / "a.db"), "s3")
    with serve_in_thread(app) as base:
        result = run_cli(capsys, "send", base, "Summary of call-1001")
    assert result.code == 0, result.err
