"""``accord serve``: TARGET resolution, and a subprocess smoke test."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import accord
from accord.cli._errors import UsageError
from accord.cli.commands.serve import card_url, default_target, load_app
from accord.server import A2AApp
from tests.helpers.cli import reap, run_cli, spawn_serve

from . import agents

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_import_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loading a file target edits sys.path and sys.modules; undo it after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("_accord_serve_"):
            del sys.modules[name]


def test_module_target_default_name_app(tmp_path: Path) -> None:
    app, label = load_app("tests.cli.agents", str(tmp_path / "x.db"))
    assert app is agents.app
    assert label == "tests.cli.agents:app"


def test_agent_is_wrapped_with_a_sqlite_store(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    app, _ = load_app("tests.cli.agents:agent", str(db))
    assert isinstance(app, A2AApp)
    assert app.agent is agents.agent
    assert db.is_file()  # migrated up front


def test_factory_gets_the_db(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    app, _ = load_app("tests.cli.agents:create_agent", db)
    assert app.agent.name == "Made"
    assert agents.seen_db[-1] == db


def test_factory_without_db_and_dotted_name(tmp_path: Path) -> None:
    assert load_app("tests.cli.agents:make_app", "unused.db")[0].agent.name == "NoDb"
    nested, _ = load_app("tests.cli.agents:Holder.agent", str(tmp_path / "x.db"))
    assert nested.agent.name == "Nested"


def test_file_target_with_default_name_and_sibling_import(tmp_path: Path) -> None:
    (tmp_path / "helper_for_serve_test.py").write_text("NAME = 'FromFile'\n")
    (tmp_path / "my_agent.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass

            from accord.server import Agent
            from helper_for_serve_test import NAME

            @dataclass
            class Settings:
                greeting: str = "hi"

            async def run(ctx):
                await ctx.reply(Settings().greeting)

            agent = Agent(run, name=NAME, description="d")
            """
        )
    )
    app, label = load_app(str(tmp_path / "my_agent.py"), str(tmp_path / "x.db"))
    assert app.agent.name == "FromFile"
    assert label.endswith("my_agent.py:agent")


def test_default_target_is_the_receptionist(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ACCORD_API_KEYS", raising=False)
    assert default_target() == "accord.demo.receptionist:create_app"
    app, label = load_app(None, str(tmp_path / "r.db"))
    assert app.agent.name == "Receptionist"
    assert label == "accord.demo.receptionist:create_app"
    assert app.auth.required  # API keys by default
    key_file = tmp_path / "receptionist.key"
    assert capsys.readouterr().out == f"API key written to {key_file}\n"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_serve_refuses_a_bad_key_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_API_KEYS", "short")
    with pytest.raises(UsageError, match="ACCORD_API_KEYS: an API key must be at"):
        load_app(None, str(tmp_path / "r.db"))


def test_secured_agent_without_verifiers_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "locked.py").write_text(
        textwrap.dedent(
            """
            from accord.server import Agent
            from accord.types import (
                APIKeySecurityScheme, SecurityRequirement, SecurityScheme, StringList,
            )

            agent = Agent(
                name="Locked",
                description="requires a key",
                security_schemes={
                    "k": SecurityScheme(
                        api_key_security_scheme=APIKeySecurityScheme(
                            location="header", name="X-Key"
                        )
                    )
                },
                security_requirements=[SecurityRequirement(schemes={"k": StringList()})],
            )
            """
        )
    )
    with pytest.raises(UsageError, match="no verifier is configured for it"):
        load_app(str(tmp_path / "locked.py"), str(tmp_path / "x.db"))


def test_default_target_needs_no_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An installed accord has no examples/ folder beside it: the demo ships inside.
    monkeypatch.setattr(
        accord, "__file__", str(tmp_path / "a" / "b" / "accord" / "__init__.py")
    )
    monkeypatch.setenv("ACCORD_API_KEYS", "partner=" + "k" * 32)
    app, _ = load_app(None, str(tmp_path / "r.db"))
    assert app.agent.name == "Receptionist"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.cli.agents:not_an_agent", "is a int, not an Agent"),
        (
            "tests.cli.agents:bad_factory",
            "returned a int; expected an Agent or an A2AApp",
        ),
        ("tests.cli.agents:nothing", "has no attribute 'nothing'"),
        ("tests.cli.no_such_module", "cannot import 'tests.cli.no_such_module'"),
        ("no/such/file.py", "no such file"),
        ("tests.cli.fakes", "defines none of app, agent, create_app, create_agent"),
        ("", "names no file or module"),
    ],
)
def test_bad_targets(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_app(target, str(tmp_path / "x.db"))


def test_bad_target_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "serve", str(tmp_path / "nope.py"))
    assert result.code == 2
    assert result.err.startswith("accord: no such file: ")


def test_missing_uvicorn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    result = run_cli(capsys, "serve")
    assert result.code == 1
    assert "pip install 'accord[serve]'" in result.err


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/.well-known/agent-card.json"),
        ("0.0.0.0", "http://127.0.0.1:8000/.well-known/agent-card.json"),
        ("::", "http://[::1]:8000/.well-known/agent-card.json"),
        ("::1", "http://[::1]:8000/.well-known/agent-card.json"),
        ("example.test", "http://example.test:8000/.well-known/agent-card.json"),
    ],
)
def test_card_url(host: str, expected: str) -> None:
    assert card_url(host, 8000) == expected


_spawn = spawn_serve


def _card_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Agent card: "):
            return line.removeprefix("Agent card: ").strip()
    raise AssertionError(f"no card URL printed; stderr: {process.communicate()[1]}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_smoke(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signum: signal.Signals
) -> None:
    process = _spawn("--port", "0", "--db", "smoke.db", cwd=tmp_path)
    try:
        card = _card_line(process)
        assert card.startswith("http://127.0.0.1:")
        assert card.endswith("/.well-known/agent-card.json")
        response = httpx.get(card, timeout=10)
        assert response.status_code == 200
        assert response.json()["name"] == "Receptionist"
        base = card.removesuffix("/.well-known/agent-card.json")
        refused = run_cli(capsys, "send", base, "Summary of call-1005")
        assert refused.code == 4, refused.err
        key = (tmp_path / "receptionist.key").read_text().strip()
        result = run_cli(capsys, "send", base, "Summary of call-1005", "--api-key", key)
        assert result.code == 0, result.err
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "Application shutdown complete" in err
    assert "Traceback" not in err
    # uvicorn's access log, on stdout
    assert '"GET /.well-known/agent-card.json HTTP/1.1" 200' in out
    assert (tmp_path / "smoke.db").is_file()


def test_serve_without_the_access_log(tmp_path: Path) -> None:
    process = _spawn("--port", "0", "--db", "quiet.db", "--no-access-log", cwd=tmp_path)
    try:
        card = _card_line(process)
        assert httpx.get(card, timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "Application startup complete" in err  # the rest of the log stays
    assert "agent-card.json" not in err + out


def test_serve_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = _spawn("--port", str(port), "--db", "x.db", cwd=tmp_path)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 1
    assert "accord: the server could not start (see the log above)" in err
    assert "Agent card" not in out


def test_sigterm_ends_open_subscriptions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import json
    import threading

    process = _spawn("--port", "0", "--db", "sub.db", cwd=tmp_path)
    received: list[str] = []
    try:
        base = _card_line(process).removesuffix("/.well-known/agent-card.json")
        key = (tmp_path / "receptionist.key").read_text().strip()
        result = run_cli(
            capsys,
            "send",
            base,
            "Please schedule a callback to +1 415 555 0123",
            "--json",
            "--api-key",
            key,
        )
        task = json.loads(result.out)["task"]
        assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"

        def subscribe() -> None:
            with httpx.stream(
                "POST",
                f"{base}/tasks/{task['id']}:subscribe",
                headers={"A2A-Version": "1.0", "X-API-Key": key},
                timeout=30,
            ) as response:
                received.extend(line for line in response.iter_lines() if line)

        listener = threading.Thread(target=subscribe)
        listener.start()
        deadline = 50
        while not received and deadline:
            listener.join(0.1)
            deadline -= 1
        assert received, "the subscription sent no snapshot"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
        listener.join(10)
        assert not listener.is_alive()
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "graceful shutdown exceeded" not in err
    assert "Traceback" not in err
