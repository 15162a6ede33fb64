"""What ``accord`` says when a key-protected agent answers 401 or 404.

The agent is the Receptionist with its example security (an API key in
``X-API-Key``; the root agent card is public, every other path needs the key) under a
real uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.cli import Result, run_cli
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

ENV = ("ACCORD_TOKEN", "ACCORD_API_KEY", "ACCORD_CLIENT_ID", "ACCORD_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("secured") / "accord.db"
    with serve_in_thread(receptionist_app(db, api_key=RECEPTIONIST_KEY)) as url:
        yield url


def _one_line(result: Result) -> str:
    assert result.err.count("\n") == 1, result.err
    assert RECEPTIONIST_KEY not in result.err
    return result.err.removeprefix("accord: ").rstrip("\n")


@pytest.mark.parametrize("command", [("card",), ("task", "list")])
def test_wrong_path_with_the_right_key_is_not_found(
    capsys: pytest.CaptureFixture[str], base: str, command: tuple[str, ...]
) -> None:
    result = run_cli(capsys, *command, f"{base}/wrong", "--api-key", RECEPTIONIST_KEY)
    assert result.code == 5
    assert _one_line(result) == (
        f"no Agent Card at {base}/wrong/.well-known/agent-card.json (404) — check "
        "the URL: the agent's base URL, or the URL of its card"
    )


def test_wrong_path_without_a_key_points_at_the_public_card(
    capsys: pytest.CaptureFixture[str], base: str
) -> None:
    result = run_cli(capsys, "card", f"{base}/wrong")
    assert result.code == 4
    assert _one_line(result) == (
        f"no public Agent Card at {base}/wrong/.well-known/agent-card.json: the "
        f"server requires authentication there (401). Its card is at "
        f"{base}/.well-known/agent-card.json — did you mean {base}?"
    )


def test_wrong_path_with_a_wrong_key(
    capsys: pytest.CaptureFixture[str], base: str
) -> None:
    result = run_cli(capsys, "card", f"{base}/wrong", "--api-key", "wrong-key-Q1")
    assert result.code == 4
    assert _one_line(result) == (
        "the server refused the API key (401) for the agent card at "
        f"{base}/wrong/.well-known/agent-card.json: check --api-key / $ACCORD_API_KEY"
    )


def test_wrong_key_is_refused_not_missing(
    capsys: pytest.CaptureFixture[str],
    base: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCORD_API_KEY", "wrong-key-Q2")
    result = run_cli(capsys, "task", "list", base)
    assert result.code == 4
    assert _one_line(result) == (
        "the server refused the API key (401): check --api-key / $ACCORD_API_KEY"
    )
    assert "wrong-key-Q2" not in result.err


def test_missing_key_still_says_how_to_pass_one(
    capsys: pytest.CaptureFixture[str], base: str
) -> None:
    result = run_cli(capsys, "task", "list", base)
    assert result.code == 4
    assert _one_line(result).endswith(
        "the agent requires an API key (header X-API-Key): pass --api-key or set "
        "ACCORD_API_KEY"
    )


def test_right_path_and_key_work(capsys: pytest.CaptureFixture[str], base: str) -> None:
    result = run_cli(capsys, "task", "list", base, "--api-key", RECEPTIONIST_KEY)
    assert result.code == 0, result.err
