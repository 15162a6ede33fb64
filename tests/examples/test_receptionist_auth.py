"""The Receptionist's example configuration: API keys, stored hashed, from env or generated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from accord.demo import receptionist
from accord.server.auth import hash_api_key
from tests.helpers.examples import RECEPTIONIST_NOW
from tests.helpers.uvicorn_thread import serve_in_thread

V1 = {"A2A-Version": "1.0"}


def test_the_card_declares_the_api_key() -> None:
    agent = receptionist.create_agent(":memory:")
    scheme = agent.security_schemes["apiKey"].api_key_security_scheme
    assert scheme is not None
    assert (scheme.location, scheme.name) == ("header", "X-API-Key")
    assert [dict(r.schemes) for r in agent.security_requirements] == [
        {"apiKey": receptionist.SECURITY[0].schemes["apiKey"]}
    ]
    assert (
        receptionist.create_agent(":memory:", secured=False).security_requirements == ()
    )


def test_demo_key_generated_once_and_stored_hashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "accord.db")
    ring = receptionist.load_api_keys(db, env={})
    key_file = tmp_path / "receptionist.key"
    assert capsys.readouterr().out == f"API key written to {key_file}\n"
    key = key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert ring.match(key) is not None
    assert key.encode() not in Path(db).read_bytes()  # only the hash is stored
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT hash FROM api_keys").fetchall() == [
            (hash_api_key(key),)
        ]
    # Next start: the same key, nothing new written.
    again = receptionist.load_api_keys(db, env={})
    assert capsys.readouterr().out == f"Using the API key in {key_file}\n"
    assert key_file.read_text().strip() == key
    assert again.match(key) is not None
    # The key file is lost: a new key, and the old one stops working.
    key_file.unlink()
    rotated = receptionist.load_api_keys(db, env={})
    new_key = key_file.read_text().strip()
    assert new_key != key
    old = rotated.match(key)
    assert old is not None
    assert old.expires_at is not None
    assert rotated.match(new_key) is not None
    assert key not in capsys.readouterr().out


def test_keys_from_the_environment(tmp_path: Path) -> None:
    db = str(tmp_path / "accord.db")
    ring = receptionist.load_api_keys(
        db,
        env={"ACCORD_API_KEYS": "partner-a=0123456789abcdefXYZ, 0123456789abcdefABC"},
    )
    named = ring.match("0123456789abcdefXYZ")
    bare = ring.match("0123456789abcdefABC")
    assert named is not None
    assert named.principal == "partner-a"
    assert bare is not None
    assert bare.principal.startswith("key-")
    assert not (tmp_path / "receptionist.key").exists()
    for value, message in (("", "lists no key"), ("short", "at least 16")):
        with pytest.raises(ValueError, match=message):
            receptionist.load_api_keys(db, env={"ACCORD_API_KEYS": value})


def test_the_example_configuration_requires_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_API_KEYS", "partner-a=0123456789abcdefXYZ")
    app = receptionist.create_app(
        str(tmp_path / "accord.db"), clock=lambda: RECEPTIONIST_NOW
    )
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": "m1",
                "role": "ROLE_USER",
                "parts": [{"text": "Summary of call-1001"}],
            }
        },
    }
    with serve_in_thread(app) as url, httpx.Client(timeout=20) as http:
        refused = http.post(url + "/", json=body, headers=V1)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("ApiKey ")
        ok = http.post(
            url + "/", json=body, headers={**V1, "X-API-Key": "0123456789abcdefXYZ"}
        )
        assert ok.status_code == 200
        assert ok.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
