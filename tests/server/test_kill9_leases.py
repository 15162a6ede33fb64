"""kill -9 one of three ``accord serve`` instances sharing a database (slow).

Three instances serve a retry-safe agent on one database (PostgreSQL, and one SQLite
file) with 1-second leases. Tasks
run on every instance; the first one is killed with SIGKILL. Then:

* every acknowledged task is still there (read through another instance);
* each task the killed instance was running is taken over (run again, attempt 2) by
  a survivor within a few lease durations: none stays WORKING;
* the survivors' own tasks are not touched (they stay on attempt 1);
* no task runs twice at once: the agent writes a start and an end line per execution
  to a journal file (with its process id and the wall-clock time), and every re-run
  starts after the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from accord.stores import migrate
from tests.helpers.serve_process import accord_serve, stop
from tests.stores._postgres import fresh_schema

from .conftest import V1, user_message

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

LEASE = 1.0

AGENT = textwrap.dedent(
    """
    import os
    import time

    import anyio

    from accord.server import Agent

    JOURNAL = os.environ["LEASE_JOURNAL"]


    def note(event, ctx):
        line = f"{event} {ctx.task_id} {ctx.attempt} {os.getpid()} {time.time()!r}\\n"
        with open(JOURNAL, "a") as f:  # one small O_APPEND write: lines never mix
            f.write(line)


    async def work(ctx):
        note("start", ctx)
        await ctx.working()
        if ctx.text == "long" and ctx.attempt == 1:
            await anyio.sleep_forever()  # until its instance dies
        await ctx.add_artifact(f"attempt {ctx.attempt}")
        note("end", ctx)
        await ctx.complete()


    agent = Agent(work, name="Lab", description="for tests", retry_safe=True)
    """
)


def serve(folder: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    return accord_serve(
        folder,
        *(
            "lab.py",
            "--db",
            url,
            "--lease-seconds",
            str(LEASE),
            "--shutdown-grace",
            "0",
        ),
        env={"LEASE_JOURNAL": str(folder / "j")},
    )


def journal(folder: Path) -> list[tuple[str, str, int, int, float]]:
    path = folder / "j"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        event, task_id, attempt, pid, at = line.split()
        entries.append((event, task_id, int(attempt), int(pid), float(at)))
    return entries


def send(http: httpx.Client, base: str, text: str, *, wait: bool) -> dict[str, object]:
    body: dict[str, object] = {"message": user_message(text)}
    if not wait:
        body["configuration"] = {"returnImmediately": True}
    r = http.post(base + "/message:send", json=body, headers=V1)
    assert r.status_code == 200, r.text
    task: dict[str, object] = r.json()["task"]
    return task


def scenario(folder: Path, url: str) -> None:
    (folder / "lab.py").write_text(AGENT)
    started = [serve(folder, url) for _ in range(3)]
    processes = [p for p, _ in started]
    (victim, base_v), (_, base_1), (_, base_2) = started
    try:
        with httpx.Client(timeout=10) as http:
            doomed = [
                str(send(http, base_v, "long", wait=False)["id"]) for _ in range(5)
            ]
            quick = [
                str(send(http, base_v, "quick", wait=True)["id"]) for _ in range(3)
            ]
            kept = [str(send(http, base_1, "long", wait=False)["id"]) for _ in range(2)]
            deadline = time.monotonic() + 10
            while {e[1] for e in journal(folder) if e[0] == "start"} < {*doomed, *kept}:
                assert time.monotonic() < deadline, "the long tasks did not start"
                time.sleep(0.02)
            killed_at = time.time()
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            deadline = time.monotonic() + 10 * LEASE
            taken: dict[str, float] = {}
            while len(taken) < len(doomed):
                for task_id in doomed:
                    task = http.get(f"{base_2}/tasks/{task_id}", headers=V1).json()
                    if task["status"]["state"] == "TASK_STATE_COMPLETED":
                        taken.setdefault(task_id, time.time() - killed_at)
                assert time.monotonic() < deadline, f"still WORKING: {taken}"
                time.sleep(0.05)
            for task_id in quick:
                task = http.get(f"{base_1}/tasks/{task_id}", headers=V1).json()
                assert task["status"]["state"] == "TASK_STATE_COMPLETED"
            for task_id in kept:
                task = http.get(f"{base_2}/tasks/{task_id}", headers=V1).json()
                assert task["status"]["state"] == "TASK_STATE_WORKING"
            listed = http.get(base_2 + "/tasks", headers=V1).json()
            assert listed["totalSize"] == 10
    finally:
        for process in processes:
            stop(process)
    entries = journal(folder)
    for task_id in doomed:
        runs = [e for e in entries if e[1] == task_id]
        first = [e for e in runs if e[2] == 1]
        again = [e for e in runs if e[2] == 2]
        assert [(e[0], e[3]) for e in first] == [("start", victim.pid)]
        # Exactly one re-run, on a survivor, begun after the kill, and it ended.
        assert [e[0] for e in again] == ["start", "end"]
        assert again[0][3] != victim.pid
        assert again[0][4] > killed_at
    for task_id in kept:
        assert [e[2] for e in entries if e[1] == task_id] == [1]
    worst = max(taken.values())
    print(f"kill -9: {len(doomed)} tasks taken over in {worst:.2f} s at most")
    # A lease expires at most LEASE after the last renewal; a sweep runs every
    # LEASE / 2; the re-run completes at once. Slack for a busy machine.
    assert worst < 4 * LEASE


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_kill_9_one_of_three_instances_on_postgres(tmp_path: Path) -> None:
    async with fresh_schema() as (_, url):
        await anyio.to_thread.run_sync(migrate, url)
        await anyio.to_thread.run_sync(scenario, tmp_path, url)


async def test_kill_9_one_of_three_instances_on_one_sqlite_file(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "shared.db")
    await anyio.to_thread.run_sync(migrate, db)
    await anyio.to_thread.run_sync(scenario, tmp_path, db)
