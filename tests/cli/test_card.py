"""``accord card``: fetch, validate and show an agent card."""

from __future__ import annotations

import pytest

from tests.helpers.cli import closed_port_url, run_cli
from tests.helpers.examples import receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

from .fakes import bearer_wall, static


def test_card_human(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "card", url)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "Receptionist 1.0.0"
    assert "provider:      Accord examples (https://example.com/receptionist)" in lines
    assert f"interfaces:    JSONRPC    {url}/  (A2A 1.0)" in lines
    assert "capabilities:  streaming, push notifications" in lines
    assert "security:      none (anonymous access)" in lines
    assert "skills (3):" in lines
    for skill in ("schedule_callback", "fetch_call_summary", "escalate_to_human"):
        assert any(line.startswith(f"  {skill} — ") for line in lines)
    assert "      - Summary of call-1001" in lines


def test_card_json_is_the_card(capsys: pytest.CaptureFixture[str], url: str) -> None:
    result = run_cli(capsys, "card", url + "/.well-known/agent-card.json", "--json")
    assert result.code == 0
    card = result.json()
    assert card["name"] == "Receptionist"
    assert card["capabilities"]["streaming"] is True
    assert [s["id"] for s in card["skills"]] == [
        "schedule_callback",
        "fetch_call_summary",
        "escalate_to_human",
    ]
    assert {i["protocolBinding"] for i in card["supportedInterfaces"]} == {
        "JSONRPC",
        "HTTP+JSON",
    }


def test_invalid_card(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(static(200, b'{"name": 5}')) as base:
        result = run_cli(capsys, "card", base)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("accord: Agent card at ")
    assert "invalid" in result.err
    assert result.err.count("\n") == 1


def test_card_that_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(static(200, b"<html>hi</html>", b"text/html")) as base:
        result = run_cli(capsys, "card", base)
    assert result.code == 1
    assert "is not JSON" in result.err


def test_valid_but_unusable_card(capsys: pytest.CaptureFixture[str]) -> None:
    body = (
        b'{"name":"Old","capabilities":{},"supportedInterfaces":'
        b'[{"url":"http://x","protocolBinding":"GRPC","protocolVersion":"1.0"}]}'
    )
    with serve_in_thread(static(200, body)) as base:
        result = run_cli(capsys, "card", base)
    assert result.code == 1
    assert result.out.startswith("Old")  # shown, then refused
    assert "valid but unusable" in result.err


def test_no_card_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(static(404, b"nothing here", b"text/plain")) as base:
        result = run_cli(capsys, "card", base)
    assert result.code == 5
    assert result.err == (
        f"accord: no Agent Card at {base}/.well-known/agent-card.json (404) — check "
        "the URL: the agent's base URL, or the URL of its card\n"
    )


@pytest.mark.parametrize(("token", "code"), [(None, 4), ("wrong", 4), ("secret", 0)])
def test_protected_card(
    capsys: pytest.CaptureFixture[str], tmp_path: object, token: str | None, code: int
) -> None:
    app = bearer_wall(receptionist_app(f"{tmp_path}/a.db"), "secret", protect_card=True)
    with serve_in_thread(app) as base:
        extra = ["--token", token] if token else []
        result = run_cli(capsys, "card", base, *extra)
    assert result.code == code, result.err
    if code:
        assert result.err.startswith("accord: ")
        assert "Traceback" not in result.err


def test_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    target = closed_port_url()
    result = run_cli(capsys, "card", target)
    assert result.code == 3
    assert result.err == (
        f"accord: cannot connect to {target}: connection refused — is the agent "
        "running? start one with `accord serve`\n"
    )
