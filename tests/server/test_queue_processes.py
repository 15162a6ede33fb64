"""Three ``accord serve --max-running 1`` processes on one database (slow).

Instance V runs a task that holds its one slot until the test lets it go (a file
appears). Tasks sent to V with ``returnImmediately`` are answered SUBMITTED at once,
queued in the database, and run by whichever of the other two instances is free
(on PostgreSQL work wake-ups cross by NOTIFY; processes on one SQLite file find the
queued work at their periodic claim, every half lease). The agent writes a journal line (task, process id)
when it starts and ends each run: every task runs exactly once, never on V, and all
complete.
"""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from accord.stores import migrate
from tests.helpers.serve_process import accord_serve
from tests.stores._postgres import fresh_schema

from .conftest import V1, user_message

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

JOBS = 8

AGENT = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import anyio

    from accord.server import Agent

    JOURNAL = os.environ["QUEUE_JOURNAL"]
    GO = Path(os.environ["QUEUE_GO"])


    def note(event, ctx):
        line = f"{event} {ctx.task_id} {ctx.attempt} {os.getpid()}\\n"
        with open(JOURNAL, "a") as f:  # one small O_APPEND write: lines never mix
            f.write(line)


    async def work(ctx):
        note("start", ctx)
        await ctx.working()
        if ctx.text == "hold":
            while not GO.exists():  # the test's cue (agent-side wait)
                await anyio.sleep(0.02)
        else:
            await anyio.sleep(0.2)  # long enough that one instance cannot take all
        await ctx.add_artifact(f"ran in {os.getpid()}")
        note("end", ctx)


    agent = Agent(work, name="Lab", description="for tests")
    """
)


def serve(folder: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    return accord_serve(
        folder,
        *("lab.py", "--db", url, "--max-running", "1", "--shutdown-grace", "0"),
        *("--lease-seconds", "1"),
        env={"QUEUE_JOURNAL": str(folder / "journal"), "QUEUE_GO": str(folder / "go")},
    )


def journal(folder: Path) -> list[tuple[str, str, int, int]]:
    path = folder / "journal"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        event, task_id, attempt, pid = line.split()
        entries.append((event, task_id, int(attempt), int(pid)))
    return entries


def send(http: httpx.Client, base: str, text: str) -> dict[str, object]:
    body = {"message": user_message(text), "configuration": {"returnImmediately": True}}
    r = http.post(base + "/message:send", json=body, headers=V1)
    assert r.status_code == 200, r.text
    task: dict[str, object] = r.json()["task"]
    return task


def scenario(folder: Path, url: str) -> None:
    (folder / "lab.py").write_text(AGENT)
    started = [serve(folder, url) for _ in range(3)]
    processes = [p for p, _ in started]
    (busy, base_v), (free_1, base_1), (free_2, _) = started
    try:
        with httpx.Client(timeout=10) as http:
            hold = str(send(http, base_v, "hold")["id"])
            deadline = time.monotonic() + 20
            while not any(e[1] == hold for e in journal(folder)):
                assert time.monotonic() < deadline, "the holding task did not start"
                time.sleep(0.02)
            jobs = []
            for n in range(JOBS):
                task = send(http, base_v, f"job {n}")
                assert task["status"]["state"] == "TASK_STATE_SUBMITTED"  # type: ignore[index]
                jobs.append(str(task["id"]))
            deadline = time.monotonic() + 60
            pending = set(jobs)
            while pending:
                for task_id in sorted(pending):
                    got = http.get(f"{base_1}/tasks/{task_id}", headers=V1).json()
                    if got["status"]["state"] == "TASK_STATE_COMPLETED":
                        pending.discard(task_id)
                assert time.monotonic() < deadline, f"not completed: {pending}"
                time.sleep(0.05)
            (folder / "go").touch()
            deadline = time.monotonic() + 20
            while True:
                got = http.get(f"{base_1}/tasks/{hold}", headers=V1).json()
                if got["status"]["state"] == "TASK_STATE_COMPLETED":
                    break
                assert time.monotonic() < deadline, "the holding task did not end"
                time.sleep(0.05)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            if process.stdout:
                process.stdout.close()
    entries = journal(folder)
    ran = {}
    for task_id in jobs:
        runs = [e for e in entries if e[1] == task_id]
        # Exactly once, as a first run, on a free instance, start then end.
        assert [e[0] for e in runs] == ["start", "end"], runs
        assert runs[0][2] == 1
        assert runs[0][3] == runs[1][3]
        assert runs[0][3] in (free_1.pid, free_2.pid)
        ran[task_id] = runs[0][3]
    assert [e[3] for e in entries if e[1] == hold] == [busy.pid, busy.pid]
    print(
        f"queued on the busy instance: {JOBS} tasks; run by instance 1: "
        f"{sum(p == free_1.pid for p in ran.values())}, by instance 2: "
        f"{sum(p == free_2.pid for p in ran.values())}"
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_queued_work_runs_on_whichever_instance_is_free(tmp_path: Path) -> None:
    async with fresh_schema() as (_, url):
        await anyio.to_thread.run_sync(migrate, url)
        await anyio.to_thread.run_sync(scenario, tmp_path, url)


async def test_queued_work_runs_on_whichever_instance_is_free_on_sqlite(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "shared.db")
    await anyio.to_thread.run_sync(migrate, db)
    await anyio.to_thread.run_sync(scenario, tmp_path, db)
