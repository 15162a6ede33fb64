"""The Receptionist end to end: a real uvicorn server, driven by ``accord`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

WINDOW = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("receptionist") / "accord.db"
    with serve_in_thread(receptionist_app(db, api_key=RECEPTIONIST_KEY)) as base:
        yield base


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key, as the README has it: ``export ACCORD_API_KEY=...``."""
    monkeypatch.setenv("ACCORD_API_KEY", RECEPTIONIST_KEY)


def test_without_the_key_access_is_refused(
    capsys: pytest.CaptureFixture[str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCORD_API_KEY")
    result = run_cli(capsys, "send", url, "Summary of call-1001")
    assert result.code == 4
    monkeypatch.setenv("ACCORD_API_KEY", "not-the-key-0123456789")
    result = run_cli(capsys, "send", url, "Summary of call-1001")
    assert result.code == 4
    assert "not-the-key" not in result.err


def send_json(
    capsys: pytest.CaptureFixture[str], url: str, *argv: str
) -> tuple[int, Any]:
    result = run_cli(capsys, "send", url, *argv, "--json")
    return result.code, result.json()["task"]


def state(task: Any) -> str:
    return str(task["status"]["state"]).removeprefix("TASK_STATE_")


def status_text(task: Any) -> str:
    return str(task["status"]["message"]["parts"][0]["text"])


def data_of(task: Any) -> Any:
    return next(p["data"] for p in task["artifacts"][0]["parts"] if "data" in p)


@pytest.mark.parametrize(
    "argv",
    [
        ["Schedule a callback to +1 415 555 0123 on 2026-12-01 14:00-15:00"],
        [
            "--data",
            json.dumps(
                {
                    "skill": "schedule_callback",
                    "phone": "+14155550123",
                    "window": WINDOW,
                }
            ),
        ],
    ],
    ids=["text", "data"],
)
def test_schedule_callback(
    capsys: pytest.CaptureFixture[str], url: str, argv: list[str]
) -> None:
    code, task = send_json(capsys, url, *argv)
    assert code == 0
    assert state(task) == "COMPLETED"
    booking = data_of(task)
    assert booking["bookingId"].startswith("cb-")
    assert booking["phone"] == "+14155550123"
    assert booking["window"] == WINDOW
    assert booking["status"] == "confirmed"


@pytest.mark.parametrize(
    "argv",
    [
        ["Summary of call-1001"],
        ["--data", json.dumps({"skill": "fetch_call_summary", "callId": "call-1001"})],
    ],
    ids=["text", "data"],
)
def test_fetch_call_summary(
    capsys: pytest.CaptureFixture[str], url: str, argv: list[str]
) -> None:
    code, task = send_json(capsys, url, *argv)
    assert code == 0
    assert data_of(task)["caller"] == "Dana Whitfield"


@pytest.mark.parametrize(
    "argv",
    [
        ["Escalate call-1003 to a human because she wants a refund today"],
        [
            "--data",
            json.dumps(
                {
                    "skill": "escalate_to_human",
                    "callId": "call-1003",
                    "reason": "she wants a refund today",
                }
            ),
        ],
    ],
    ids=["text", "data"],
)
def test_escalate_to_human(
    capsys: pytest.CaptureFixture[str], url: str, argv: list[str]
) -> None:
    code, task = send_json(capsys, url, *argv)
    assert code == 0
    ticket = data_of(task)
    assert ticket["ticketId"].startswith("esc-")
    assert ticket["callId"] == "call-1003"
    assert ticket["reason"] == "she wants a refund today"
    assert ticket["priority"] == "high"


def test_missing_phone_then_follow_up(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    first = run_cli(
        capsys, "send", url, "Schedule a callback on 2026-12-01 14:00-15:00"
    )
    assert first.code == 0
    assert "state:    INPUT_REQUIRED" in first.out
    assert "I still need the phone number to call" in first.out
    task_id = next(
        line.split()[1] for line in first.out.splitlines() if line.startswith("task:")
    )
    assert f"--task-id {task_id}" in first.out

    second = run_cli(capsys, "send", url, "+44 20 7946 0321", "--task-id", task_id)
    assert second.code == 0
    assert "state:    COMPLETED" in second.out
    assert "artifact: callback-booking" in second.out
    assert '"phone": "+442079460321"' in second.out
    assert f"task:     {task_id}" in second.out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Schedule a callback to 555-01 on 2026-12-01 14:00-15:00",
            "The phone number '555-01' has 5 digits; a valid number has 8-15 digits",
        ),
        (
            "Schedule a callback to +14155550123 on 2026-12-01 16:00-15:00",
            "The time window ends at 2026-12-01T15:00:00Z, which is not after its start",
        ),
        (
            "Schedule a callback to +14155550123 on 2026-12-01 09:00-17:00",
            "The time window is 8 hours long; a callback window can be at most 4 hours",
        ),
    ],
)
def test_invalid_input_is_rejected(
    capsys: pytest.CaptureFixture[str], url: str, text: str, message: str
) -> None:
    result = run_cli(capsys, "send", url, text)
    assert result.code == 1
    assert "state:    REJECTED" in result.out
    assert message in result.out


def test_unknown_call_fails(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, task = send_json(capsys, url, "Summary of call-0042")
    assert code == 1
    assert state(task) == "FAILED"
    assert "call-0042" in status_text(task)


def test_streaming_shows_progress_in_order(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(
        capsys,
        "send",
        url,
        "Schedule a callback to +14155550123 on 2026-12-04 14:00-15:00",
        "--stream",
    )
    assert result.code == 0
    lines = result.out.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(prefix))
        for prefix in (
            "task ",
            "WORKING         Checking availability…",
            "WORKING         Reserving the slot…",
            "artifact: callback-booking",
            "COMPLETED       Callback cb-",
        )
    ]
    assert order == sorted(order)


def test_bookings_survive_a_restart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "accord.db"
    with serve_in_thread(receptionist_app(db, api_key=RECEPTIONIST_KEY)) as base:
        code, first = send_json(
            capsys,
            base,
            "Schedule a callback to +14155550123 on 2026-12-01 14:00-15:00",
        )
        assert code == 0
    with serve_in_thread(receptionist_app(db, api_key=RECEPTIONIST_KEY)) as base:
        # The task is still there ...
        got = run_cli(capsys, "task", "get", base, first["id"], "--json")
        assert data_of(got.json())["bookingId"] == "cb-0001"
        # ... the same request finds the stored booking, and numbering continues.
        _, again = send_json(
            capsys,
            base,
            "Schedule a callback to +14155550123 on 2026-12-01 14:00-15:00",
        )
        _, other = send_json(
            capsys,
            base,
            "Schedule a callback to +14155550123 on 2026-12-02 14:00-15:00",
        )
    assert data_of(again)["bookingId"] == "cb-0001"
    assert data_of(other)["bookingId"] == "cb-0002"
