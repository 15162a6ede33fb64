"""The PostgreSQL store across processes (slow: subprocesses).

* ``accord serve --db postgresql://...``: serve an agent, send it a message, get the
  task back over the CLI, and find the task in the database.
* Three processes racing appends on one task: optimistic concurrency holds across
  processes (every append lands exactly once, none is lost).
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


# Each process appends ROUNDS times to task "race": read the version, append on top,
# and on ConflictError (the other process wrote first) read again and retry.
RACER = textwrap.dedent(
    """
    import sys

    import anyio

    from accord.errors import ConflictError
    from accord.stores import Scope
    from accord.stores.postgres import PostgresTaskStore
    from accord.types import (
        Message, Part, Role, StreamResponse, Task, TaskState, TaskStatus,
        replace,
    )

    URL, NAME, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SCOPE = Scope(tenant="", owner="alice")


    async def main() -> None:
        conflicts = 0
        async with PostgresTaskStore(URL) as store:
            for n in range(ROUNDS):
                while True:
                    record = await store.get("race", scope=SCOPE)
                    note = Message(
                        message_id=f"{NAME}-{n}", role=Role.AGENT,
                        parts=(Part(text=f"{NAME} {n}"),),
                    )
                    task = replace(record.task, history=(*record.task.history, note))
                    try:
                        await store.append(
                            task, StreamResponse(message=note),
                            expected_version=record.version,
                        )
                    except ConflictError:
                        conflicts += 1
                    else:
                        break
        print(conflicts)


    anyio.run(main)
    """
)


async def test_processes_racing_appends_lose_and_duplicate_nothing(
    tmp_path: Path,
) -> None:
    from accord.stores import Scope
    from accord.stores.postgres import PostgresTaskStore
    from accord.types import StreamResponse, Task, TaskState, TaskStatus

    rounds = 15
    scope = Scope(tenant="", owner="alice")
    (tmp_path / "racer.py").write_text(RACER)
    async with fresh_schema() as (_, url):
        task = Task(
            id="race", context_id="c", status=TaskStatus(state=TaskState.WORKING)
        )
        async with PostgresTaskStore(url) as store:
            await store.create(task, StreamResponse(task=task), scope=scope)

        async def race(name: str) -> int:
            done = await anyio.run_process(
                [sys.executable, str(tmp_path / "racer.py"), url, name, str(rounds)],
                check=False,
            )
            assert done.returncode == 0, done.stderr.decode()
            return int(done.stdout)

        conflicts: list[int] = []

        async def run(name: str) -> None:
            conflicts.append(await race(name))

        async with anyio.create_task_group() as tg:
            for name in ("a", "b", "c"):
                tg.start_soon(run, name)

        async with PostgresTaskStore(url) as store:
            record = await store.get("race", scope=scope)
            events = await store.events("race", after=0, scope=scope)
        assert record is not None
        # Every append landed once: versions are gapless, and the history holds each
        # process's notes once and in its own order.
        assert record.version == 1 + 3 * rounds
        assert [e.seq for e in events] == list(range(1, 2 + 3 * rounds))
        ids = [m.message_id for m in record.task.history]
        assert sorted(ids) == sorted(f"{p}-{n}" for p in "abc" for n in range(rounds))
        for p in "abc":
            mine = [i for i in ids if i.startswith(f"{p}-")]
            assert mine == [f"{p}-{n}" for n in range(rounds)]
        assert len(conflicts) == 3
