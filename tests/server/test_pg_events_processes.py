"""Two ``accord serve --db postgresql://...`` processes: a stream sent to A, followed on B.

Slow (subprocesses). The agent streams one chunk, then waits until the test lets it
go on (a file appears), so B's subscriber is known to be following the task live
while A runs it; B then gets every further event, through PostgreSQL alone, and its
``accord task subscribe`` ends with the task.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from tests.stores._postgres import fresh_schema

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CHUNKS = 20

AGENT = textwrap.dedent(
    f"""
    import os
    from pathlib import Path

    import anyio

    from accord.server import Agent

    GO = Path(os.environ["ACCORD_TEST_GO"])

    async def stream(ctx):
        await ctx.working("started")
        first = await ctx.add_artifact("chunk-0 ", name="out")
        while not GO.exists():  # the test's cue (agent-side wait, not test ordering)
            await anyio.sleep(0.01)
        for i in range(1, {CHUNKS}):
            await ctx.append_artifact(first, f"chunk-{{i}} ", last_chunk=i == {CHUNKS - 1})
        await ctx.complete("done")

    agent = Agent(stream, name="Streamer", description="Streams chunks on cue")
    """
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the servers are subprocesses; one back end is enough here


def _popen(argv: list[str], folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "accord.cli", *argv],
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def _running(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _base(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Agent card: "):
            card = line.removeprefix("Agent card: ").strip()
            return card.removesuffix("/.well-known/agent-card.json")
    raise AssertionError(f"no card URL printed; stderr: {process.communicate()[1]}")


def _json_lines(process: subprocess.Popen[str]) -> Iterator[dict[str, object]]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            yield json.loads(line)


def _follow_on_b(folder: Path, url: str) -> tuple[list[dict[str, object]], str]:
    go = folder / "go"
    env = {"ACCORD_TEST_GO": str(go)}
    (folder / "stream.py").write_text(AGENT)
    serve = ["serve", "stream.py", "--db", url, "--port", "0"]
    with ExitStack() as stack:
        a = stack.enter_context(_running(_popen(serve, folder, env)))
        b = stack.enter_context(_running(_popen(serve, folder, env)))
        base_a, base_b = _base(a), _base(b)
        send = stack.enter_context(
            _running(_popen(["send", base_a, "go", "--stream", "--json"], folder, env))
        )
        sent = _json_lines(send)
        task_id = ""
        for event in sent:  # until A's stream names the task
            task = event.get("task") or event.get("statusUpdate") or {}
            assert isinstance(task, dict)
            task_id = str(task.get("id") or task.get("taskId") or "")
            if task_id:
                break
        assert task_id, "A's stream never named its task"
        sub = stack.enter_context(
            _running(
                _popen(["task", "subscribe", base_b, task_id, "--json"], folder, env)
            )
        )
        followed = _json_lines(sub)
        got = [next(followed)]  # B's snapshot: B follows the task now
        go.touch()  # let the agent on A stream the rest
        got.extend(followed)  # until B's stream ends with the task
        assert sub.wait(timeout=30) == 0, sub.communicate()[1]
        list(sent)
        assert send.wait(timeout=30) == 0, send.communicate()[1]
        return got, task_id


async def test_a_stream_sent_to_a_is_followed_to_its_end_on_b(tmp_path: Path) -> None:
    async with fresh_schema() as (_, url):
        with anyio.fail_after(90):
            got, task_id = await anyio.to_thread.run_sync(
                _follow_on_b, tmp_path, url, abandon_on_cancel=True
            )
    chunks = [part["text"] for event in got for part in _parts(event)]
    # B saw the snapshot (chunk-0 at most), then every later chunk once, in order.
    assert chunks[-(CHUNKS - 1) :] == [f"chunk-{i} " for i in range(1, CHUNKS)]
    last = got[-1].get("statusUpdate")
    assert isinstance(last, dict)
    assert last["taskId"] == task_id
    assert last["status"]["state"] == "TASK_STATE_COMPLETED"


def _parts(event: dict[str, object]) -> list[dict[str, str]]:
    update = event.get("artifactUpdate")
    if not isinstance(update, dict):
        return []
    return list(update["artifact"]["parts"])
