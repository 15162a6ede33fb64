"""Pins and drift over HTTP: ``Client.connect(pin=...)``, ``accord card pin|diff``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.client import Client
from accord.errors import CardDriftError, CardError
from accord.security import JWK, card_json, card_pin, sign_card
from accord.types import AgentCard, convert
from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.security.test_card_diff import BASE

pytestmark = pytest.mark.anyio


class CardHost:
    """A minimal ASGI app serving one agent card that a test can replace."""

    def __init__(self, card: dict[str, Any]) -> None:
        self.card = card

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        found = scope["path"] == "/.well-known/agent-card.json"
        body = json.dumps(self.card).encode() if found else b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200 if found else 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def host() -> Iterator[tuple[CardHost, str]]:
    app = CardHost(copy.deepcopy(BASE))
    with serve_in_thread(app) as url:
        yield app, url


def _card(data: dict[str, Any]) -> AgentCard:
    return convert(data, AgentCard)


async def test_connect_with_the_right_pin(host: tuple[CardHost, str]) -> None:
    _, url = host
    pin = card_pin(_card(BASE))
    async with await Client.connect(url, pin=pin) as client:
        assert client.card == _card(BASE)
    # Upper-case hex and surrounding spaces are the same pin.
    async with await Client.connect(url, pin=f" {pin.upper()} ") as client:
        assert client.card is not None


async def test_connect_refuses_a_drifted_card(host: tuple[CardHost, str]) -> None:
    app, url = host
    pin = card_pin(_card(BASE))
    app.card["skills"].pop()
    with pytest.raises(CardDriftError) as caught:
        await Client.connect(url, pin=pin)
    error = caught.value
    assert isinstance(error, CardError)
    assert error.expected == pin
    assert error.actual == card_pin(_card(app.card))
    assert error.url == url
    assert "accord card diff" in str(error)
    assert pin in str(error)


async def test_a_resigned_card_keeps_its_pin(
    host: tuple[CardHost, str], es256: JWK
) -> None:
    app, url = host
    pin = card_pin(_card(BASE))
    app.card = card_json(sign_card(_card(BASE), es256))
    async with await Client.connect(url, pin=pin) as client:
        assert client.card is not None
        assert client.card.signatures


async def test_a_malformed_pin_fails_before_fetching() -> None:
    with pytest.raises(ValueError, match="not a card pin"):
        await Client.connect("http://127.0.0.1:9", pin="md5:abc")


def test_cli_pin(
    capsys: pytest.CaptureFixture[str], host: tuple[CardHost, str]
) -> None:
    _, url = host
    result = run_cli(capsys, "card", "pin", url)
    assert result.code == 0, result.err
    assert result.out == card_pin(_card(BASE)) + "\n"
    result = run_cli(capsys, "card", "pin", url, "--json")
    assert result.json() == {
        "card": url,
        "pin": card_pin(_card(BASE)),
        "name": "Scheduler",
        "version": "1.2.0",
    }


def test_cli_diff_url_against_file(
    capsys: pytest.CaptureFixture[str], host: tuple[CardHost, str], tmp_path: Path
) -> None:
    app, url = host
    pinned = tmp_path / "pinned.json"
    pinned.write_text(json.dumps(BASE))
    same = run_cli(capsys, "card", "diff", str(pinned), url)
    assert same.code == 0, same.err
    assert same.out.startswith("no change: both cards have pin sha256:")

    app.card["capabilities"]["pushNotifications"] = True
    app.card["name"] = "Callbacks"
    app.card["version"] = "1.3.0"
    changed = run_cli(capsys, "card", "diff", str(pinned), url)
    assert changed.code == 1, changed.err
    assert "version: 1.2.0 -> 1.3.0" in changed.out
    assert "compatible (1):" in changed.out
    assert "cosmetic (2):" in changed.out
    assert "breaking" not in changed.out

    app.card["skills"].pop()  # breaking, under a minor bump
    broken = run_cli(capsys, "card", "diff", str(pinned), url)
    assert broken.code == 6
    assert "breaking (1):\n  skills[csv]: a skill is gone (csv)" in broken.out
    assert "without a major version bump" in broken.out
    document = run_cli(capsys, "card", "diff", str(pinned), url, "--json").json()
    assert document["old"] == str(pinned)
    assert document["new"] == url
    assert document["impact"] == "breaking"
    assert document["unannouncedBreak"] is True
    assert next(c["rule"] for c in document["changes"]) == "skill.removed"


def test_cli_diff_flags_a_change_without_version_bump(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(BASE))
    new.write_text(json.dumps({**BASE, "description": "Books calls"}))
    result = run_cli(capsys, "card", "diff", str(old), str(new))
    assert result.code == 1
    assert "the card changed without a version bump" in result.out
    assert "description: the description changed (Books callbacks -> Books calls)" in (
        result.out
    )


def test_cli_diff_errors(
    capsys: pytest.CaptureFixture[str], host: tuple[CardHost, str], tmp_path: Path
) -> None:
    _, url = host
    good = tmp_path / "card.json"
    good.write_text(json.dumps(BASE))
    missing = run_cli(capsys, "card", "diff", str(tmp_path / "none.json"), str(good))
    assert missing.code == 2
    assert "cannot read" in missing.err
    (tmp_path / "bad.json").write_text("not json")
    bad = run_cli(capsys, "card", "diff", str(tmp_path / "bad.json"), str(good))
    assert bad.code == 1
    assert "is not JSON" in bad.err
    (tmp_path / "invalid.json").write_text(json.dumps({"supportedInterfaces": [{}]}))
    invalid = run_cli(capsys, "card", "diff", str(good), str(tmp_path / "invalid.json"))
    assert invalid.code == 1
    assert "is not a valid agent card" in invalid.err
    gone = run_cli(capsys, "card", "diff", str(good), url + "/agents/none")
    assert gone.code == 5
    assert "Traceback" not in gone.err


def test_cli_diff_piped_to_head(host: tuple[CardHost, str], tmp_path: Path) -> None:
    _, url = host
    old = tmp_path / "old.json"
    many = copy.deepcopy(BASE)
    many["skills"] = [
        {"id": f"skill-{i}", "name": "S", "tags": []} for i in range(3000)
    ]
    old.write_text(json.dumps(many))
    command = f"{sys.executable} -m accord.cli card diff {old} {url} | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 141)
