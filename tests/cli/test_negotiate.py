"""``accord negotiate``: propose, accept a counter, start under the agreement."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.server.handshake.helpers import keyed_receptionist

KEY = "cli-negotiation-key-0123456789"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("negotiate") / "accord.db"
    with serve_in_thread(keyed_receptionist(db, partner=KEY)) as url:
        yield url


def _propose(agent: str, window: str, *extra: str) -> list[str]:
    return [
        "negotiate",
        agent,
        "schedule_callback",
        "--param",
        "phone=+14155550123",
        "--param",
        f"time_window={window}",
        "--api-key",
        KEY,
        *extra,
    ]


def test_a_counter_is_shown_and_not_agreed(
    capsys: pytest.CaptureFixture[str], agent: str
) -> None:
    result = run_cli(capsys, *_propose(agent, "2026-12-05 10-12"))
    assert result.code == 1, result.err
    assert "decision:  counter" in result.out
    assert (
        "nearest open window is 2026-12-04T15:00:00Z/2026-12-04T17:00:00Z" in result.out
    )
    assert '"start": "2026-12-04T15:00:00Z"' in result.out


def test_accepting_the_counter_and_starting_books_the_window(
    capsys: pytest.CaptureFixture[str], agent: str
) -> None:
    result = run_cli(
        capsys,
        *_propose(
            agent,
            "2026-12-05 10-12",
            "--residency",
            "US",
            "--budget",
            "1.00 USD",
            "--data",
            "phone_number,time_window",
            "--accept-counter",
            "--start",
            "--json",
        ),
    )
    assert result.code == 0, result.err
    body = result.json()
    assert [d["decision"] for d in body["decisions"]] == ["counter", "accept"]
    assert body["decisions"][1]["agreementId"].startswith("agr-")
    assert body["decisions"][1]["terms"]["constraints"] == {
        "budget": {"amount": "1.00", "currency": "USD"},
        "dataCategories": ["phone_number", "time_window"],
        "residency": "US",
    }
    task = body["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    booking = task["artifacts"][0]["parts"][-1]["data"]
    assert booking["window"]["start"] == "2026-12-04T15:00:00Z"


def test_a_rejection_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str], agent: str
) -> None:
    result = run_cli(capsys, *_propose(agent, "tomorrow 9-12", "--residency", "EU"))
    assert result.code == 1
    assert "decision:  reject" in result.out
    assert "reason:    call data is kept in the US only, not in EU" in result.out


def test_bad_arguments_are_usage_errors(
    capsys: pytest.CaptureFixture[str], agent: str
) -> None:
    for bad in (["--budget", "lots"], ["--deadline", "friday"], ["--param", "x"]):
        result = run_cli(capsys, *_propose(agent, "tomorrow 9-12", *bad))
        assert result.code == 2
        assert "Traceback" not in result.err


def test_an_agent_that_does_not_negotiate_is_explained(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run_cli(capsys, "negotiate", url, "schedule_callback")
    assert result.code != 0
    assert "does not declare the negotiation extension" in result.err
    assert "Traceback" not in result.err
