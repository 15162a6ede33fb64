"""SIGTERM to ``accord serve`` while a stream and a blocking call are open.

uvicorn stops accepting, waits for open connections, and only then runs the lifespan
shutdown; ``accord serve`` starts the app's shutdown first, so both clients (the
``accord`` CLI, in processes of their own) receive the interrupted task's final state
and exit non-zero, and the server exits 0 well within grace + margin.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from accord.cli.commands.serve import INTERRUPT_MARGIN

AGENT = textwrap.dedent(
    """
    import anyio

    from accord.server import Agent, TaskContext

    agent = Agent(name="Sleeper", description="Works until the server stops")


    @agent.executor
    async def work(ctx: TaskContext) -> None:
        await ctx.working("working on it")
        await anyio.sleep_forever()
    """
)
GRACE = 0.5


def _accord(*argv: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "accord.cli", *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _base_url(server: subprocess.Popen[str]) -> str:
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("Agent card: "):
            card = line.removeprefix("Agent card: ").strip()
            return card.removesuffix("/.well-known/agent-card.json")
    raise AssertionError(f"no card URL printed; stderr: {server.communicate()[1]}")


def _wait_working(base: str, count: int) -> None:
    """Poll ListTasks until ``count`` tasks are WORKING (deadline 20 s)."""
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=5, headers={"A2A-Version": "1.0"}) as http:
        while True:
            tasks = http.get(base + "/tasks").json()["tasks"]
            working = [t for t in tasks if t["status"]["state"] == "TASK_STATE_WORKING"]
            if len(working) >= count:
                return
            assert time.monotonic() < deadline, tasks
            time.sleep(0.05)


def test_sigterm_gives_open_calls_the_interrupted_state(tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text(AGENT)
    server = _accord(
        "serve",
        "sleeper.py",
        "--port",
        "0",
        "--db",
        "tasks.db",
        "--shutdown-grace",
        str(GRACE),
        cwd=tmp_path,
    )
    clients: list[subprocess.Popen[str]] = []
    try:
        base = _base_url(server)
        clients.append(_accord("send", base, "stream me", "--stream", cwd=tmp_path))
        clients.append(_accord("send", base, "wait for me", cwd=tmp_path))
        _wait_working(base, 2)
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        _, server_err = server.communicate(timeout=30)
        stopped = time.monotonic() - stopping
        (stream_out, stream_err), (block_out, block_err) = (
            c.communicate(timeout=30) for c in clients
        )
    finally:
        for process in (server, *clients):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert server.returncode == 0, server_err
    assert "Traceback" not in server_err
    assert "graceful shutdown exceeded" not in server_err
    assert stopped < GRACE + INTERRUPT_MARGIN
    # the stream: its last event is the FAILED status with the reason; exit 1
    assert clients[0].returncode == 1, (stream_out, stream_err)
    assert "\nFAILED " in stream_out
    assert "Task interrupted: the server shut down" in stream_out
    assert "ended while" not in stream_err  # a complete stream, not a cut one
    # the blocking call: the final task, FAILED, with the reason; exit 1
    assert clients[1].returncode == 1, (block_out, block_err)
    assert "state:    FAILED" in block_out
    assert "Task interrupted: the server shut down" in block_out
