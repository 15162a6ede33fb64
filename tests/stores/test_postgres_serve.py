"""``accord serve --db postgresql://...``: a real server process on the PostgreSQL store.

Slow (a subprocess): serve an agent, send it a message, get the task back over the
CLI, and find the task in the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import anyio.to_thread
import psycopg
import pytest

from tests.helpers.cli import run_cli

from ._postgres import fresh_schema

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

AGENT = textwrap.dedent(
    """
    from accord.server import Agent

    async def shout(ctx):
        await ctx.working()
        await ctx.add_artifact(ctx.text.upper())
        await ctx.complete("done")

    agent = Agent(shout, name="Shout", description="Says it louder")
    """
)


def _card_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Agent card: "):
            return line.removeprefix("Agent card: ").strip()
    raise AssertionError(f"no card URL printed; stderr: {process.communicate()[1]}")


def _serve_send_get(
    folder: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> tuple[str, dict[str, object], int, str]:
    (folder / "shout.py").write_text(AGENT)
    argv = [sys.executable, "-m", "accord.cli", "serve", "shout.py", "--db", url]
    process = subprocess.Popen(
        [*argv, "--port", "0"],
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = _card_line(process).removesuffix("/.well-known/agent-card.json")
        sent = run_cli(capsys, "send", base, "hello postgres", "--json")
        assert sent.code == 0, sent.err
        task_id = sent.json()["task"]["id"]
        got = run_cli(capsys, "task", "get", base, task_id, "--json")
        assert got.code == 0, got.err
        process.terminate()
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return task_id, got.json(), process.returncode, err


@pytest.fixture
def anyio_backend() -> str:
    """One server process is enough: the store's back-end coverage is elsewhere."""
    return "asyncio"


async def test_serve_an_agent_on_postgres(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with fresh_schema() as (_, url):
        task_id, task, code, err = await anyio.to_thread.run_sync(
            _serve_send_get, tmp_path, url, capsys
        )
        assert code == 0, err
        assert "Traceback" not in err
        assert task["id"] == task_id
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"  # type: ignore[index]
        assert task["artifacts"][0]["parts"] == [{"text": "HELLO POSTGRES"}]  # type: ignore[index]

        def stored() -> list[tuple[object, ...]]:
            with psycopg.connect(url) as conn:
                return conn.execute("SELECT id, state FROM tasks").fetchall()

        rows = await anyio.to_thread.run_sync(stored)
        assert rows == [(task_id, "TASK_STATE_COMPLETED")]
