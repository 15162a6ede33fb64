"""The Receptionist's example configuration: API keys, stored hashed, from env or generated."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.cli._errors import UsageError
from accord.cli.commands.serve import load_app
from accord.demo import receptionist
from accord.server.auth import hash_api_key
from tests.helpers.examples import EXAMPLES, RECEPTIONIST_NOW
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


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets files be created world-readable (0644), as many shells do."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


@pytest.mark.usefixtures("open_umask")
def test_the_database_and_key_file_are_created_private(tmp_path: Path) -> None:
    db = tmp_path / "accord.db"
    receptionist.load_api_keys(str(db), env={})
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "receptionist.key").stat().st_mode) == 0o600
    # The agent alone (keys from elsewhere) creates the file private too.
    other = tmp_path / "other.db"
    receptionist.create_agent(str(other))
    assert stat.S_IMODE(other.stat().st_mode) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_replaced_key_file_is_private_from_the_start(tmp_path: Path) -> None:
    # A key file the database does not know (copied from elsewhere), world-readable:
    # it is replaced by a new file created 0600, not rewritten in place.
    db = str(tmp_path / "accord.db")
    key_file = tmp_path / "receptionist.key"
    key_file.write_text("acc_" + "x" * 40 + "\n")
    key_file.chmod(0o644)
    before = key_file.stat().st_ino
    ring = receptionist.load_api_keys(db, env={})
    key = key_file.read_text().strip()
    assert key != "acc_" + "x" * 40
    assert ring.match(key) is not None
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.stat().st_ino != before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_readable_key_file_is_warned_about_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "accord.db")
    receptionist.load_api_keys(db, env={})
    key_file = tmp_path / "receptionist.key"
    capsys.readouterr()
    receptionist.load_api_keys(db, env={})  # private: no warning
    assert capsys.readouterr().err == ""
    key_file.chmod(0o640)
    receptionist.load_api_keys(db, env={})
    receptionist.load_api_keys(db, env={})
    captured = capsys.readouterr()
    assert captured.err == (
        f"accord: warning: {key_file} (mode 0640) can be read by other users; "
        f"make it private: chmod 600 {key_file}\n"
    )
    assert captured.out.count("Using the API key") == 2  # still used


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "exactly one key"),
        (b"too-short\n", "at least 16"),
        (b"acc_0123456789abcdef acc_0123456789abcdef\n", "exactly one key"),
        (b"\xff\xfe binary", "it is not text"),
    ],
)
def test_a_malformed_key_file_says_so_and_what_to_do(
    tmp_path: Path, content: bytes, why: str
) -> None:
    db = str(tmp_path / "accord.db")
    key_file = tmp_path / "receptionist.key"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    with pytest.raises(ValueError, match="does not hold a valid API key") as raised:
        receptionist.load_api_keys(db, env={})
    message = str(raised.value)
    assert why in message
    assert "delete it and start the server again to generate a new key" in message
    assert key_file.read_bytes() == content  # left for the user to look at


def test_serve_reports_a_malformed_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCORD_API_KEYS", raising=False)
    (tmp_path / "receptionist.key").write_text("nope\n")
    with pytest.raises(UsageError, match=r"receptionist\.key does not hold a valid"):
        load_app(None, str(tmp_path / "accord.db"))


def test_a_database_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    db = str(tmp_path / "no" / "such" / "accord.db")
    with pytest.raises(ValueError, match=r"cannot create the database file .* folder"):
        receptionist.load_api_keys(db, env={"X": "1"})


def test_the_example_file_serves_the_packaged_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a file target edits it
    monkeypatch.setenv("ACCORD_API_KEYS", "partner=" + "k" * 32)
    app, label = load_app(str(EXAMPLES / "receptionist.py"), str(tmp_path / "a.db"))
    assert label.endswith("receptionist.py:create_app")
    assert app.agent.name == "Receptionist"
    assert app.agent.skills == receptionist.SKILLS
