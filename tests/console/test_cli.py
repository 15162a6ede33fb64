"""``accord console`` and ``accord serve --console``: in process, and as processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.cli.commands.console import console_for
from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from tests.helpers.cli import run_cli
from tests.helpers.examples import RECEPTIONIST_KEY
from tests.helpers.serve_process import accord_serve, stop
from tests.helpers.uvicorn_thread import serve_in_thread


async def _echo(ctx: TaskContext) -> None:
    await ctx.complete(f"echo: {ctx.text}")


@pytest.fixture
def audited_console() -> Iterator[str]:
    """An agent whose store audits, with the console mounted beside it."""
    app = A2AApp(
        Agent(_echo, name="Echo", description="echoes"),
        store=MemoryTaskStore(audit=True),
    )
    with serve_in_thread(console_for(app, app, "127.0.0.1")[0]) as url:
        yield url


def test_serve_console_mounts_the_console_beside_the_agent(
    audited_console: str,
) -> None:
    with httpx.Client(base_url=audited_console, timeout=30) as client:
        moved = client.get("/console")
        assert moved.status_code == 308
        assert moved.headers["location"] == "/console/"
        assert "Accord console" in client.get("/console/").text
        state = client.get("/console/api/state").json()
        assert state["agentUrl"] == audited_console  # the agent it is mounted beside
        assert client.get("/.well-known/agent-card.json").json()["name"] == "Echo"
        shown = client.post(
            "/console/api/connect", json={"url": state["agentUrl"]}
        ).json()
        assert shown["connected"] is True
        with client.stream("POST", "/console/api/send", json={"text": "hi"}) as answer:
            body = answer.read().decode()
        assert "echo: hi" in body
        task_id = client.get("/console/api/tasks").json()["tasks"][0]["id"]
        detail = client.get(f"/console/api/tasks/{task_id}").json()
        # The agent's own trail: its operations and the task's state changes.
        kinds = {entry["kind"] for entry in detail["agentAudit"]}
        assert kinds == {"operation", "state"}


def test_console_rejects_a_bad_allow_entry(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "console", "--allow", "not a host!", "--port", "0")
    assert result.code == 2
    assert "--allow" in result.err


def _console_process(
    *args: str, env: dict[str, str]
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "console", "--port", "0", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Accord console: "):
            return process, line.removeprefix("Accord console: ").strip()
    stop(process)
    raise AssertionError(
        f"accord console printed no URL: {process.stderr and process.stderr.read()}"
    )


@pytest.mark.slow
def test_accord_console_talks_to_an_agent_with_configured_credentials(
    tmp_path: Path,
) -> None:
    keys = {"ACCORD_API_KEYS": f"partner={RECEPTIONIST_KEY}"}
    agent, base = accord_serve(tmp_path, "--db", str(tmp_path / "tasks.db"), env=keys)
    try:
        console, url = _console_process(
            "--agent",
            base,
            "--registry",
            "http://127.0.0.1:8001",
            env={"ACCORD_API_KEY": RECEPTIONIST_KEY},
        )
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                state = client.get("api/state").json()
                assert state == {
                    "agentUrl": base,
                    "credentialsConfigured": True,
                    "registry": "http://127.0.0.1:8001",
                    "connection": None,
                }
                shown = client.post("api/connect", json={"url": base}).json()
                assert shown["connected"] is True  # with the key from the environment
                with client.stream(
                    "POST", "api/send", json={"text": "Summary of call-1001"}
                ) as answer:
                    assert "TASK_STATE_COMPLETED" in answer.read().decode()
            console.send_signal(signal.SIGINT)
            _, err = console.communicate(timeout=15)
            assert console.returncode == 0, err
            assert "Traceback" not in err
        finally:
            stop(console)
    finally:
        stop(agent)


@pytest.mark.slow
def test_accord_serve_console_prints_where_the_console_is(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accord.cli",
            "serve",
            "--console",
            "--port",
            "0",
            "--db",
            str(tmp_path / "t.db"),
        ],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if k != "ACCORD_API_KEYS"},
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        console = next(
            (
                line.removeprefix("Console: ").strip()
                for line in process.stdout
                if line.startswith("Console: ")
            ),
            None,
        )
        assert console is not None
        assert console.endswith("/console/")
        with httpx.Client(base_url=console, timeout=30) as page:
            assert "Accord console" in page.get("").text
            agent = page.get("api/state").json()["agentUrl"]
            assert console == agent + "/console/"  # the agent over loopback
            key = (tmp_path / "receptionist.key").read_text().strip()
            shown = page.post("api/connect", json={"url": agent, "apiKey": key}).json()
            assert shown["connected"] is True
    finally:
        stop(process)


def test_console_options_build_the_console(tmp_path: Path) -> None:
    from accord.cli.commands.console import build_console
    from accord.cli.main import build_parser
    from accord.security import JWK, JWKSet

    jwks = tmp_path / "trusted.json"
    jwks.write_text(
        json.dumps(JWKSet((JWK.generate("ES256", kid="k").public(),)).to_dict())
    )
    args = build_parser().parse_args(
        [
            "console",
            "--agent",
            "http://agent.internal:9000",
            "--allow",
            "10.0.0.0/8",
            "--trust",
            str(jwks),
        ]
    )
    console = build_console(args)
    assert console.agent_url == "http://agent.internal:9000"
    assert set(console.settings.egress.allow) >= {
        "agent.internal",
        "10.0.0.0/8",
        "::1/128",
    }
    assert console.settings.trust is not None
    assert [key.kid for key in console.settings.trust.keys] == ["k"]


def test_console_for_a_wildcard_host_allows_loopback_only() -> None:
    app = A2AApp(
        Agent(_echo, name="Echo", description="echoes"), store=MemoryTaskStore()
    )
    served, console = console_for(app, app, "0.0.0.0")
    assert callable(served)
    assert "0.0.0.0" not in console.settings.egress.allow


def test_console_on_a_busy_port_says_it_could_not_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            capsys, "console", "--port", str(port), "--log-level", "critical"
        )
    assert result.code == 1
    assert "could not start" in result.err
