"""tune_gc: what `accord serve` applies to its process."""

from __future__ import annotations

import subprocess
import sys


def test_tune_gc_freezes_and_raises_thresholds() -> None:
    # In a subprocess: the settings are process-wide and must not leak into this run.
    code = (
        "import gc; from accord.server.tuning import tune_gc, SERVING_GC_THRESHOLDS\n"
        "tune_gc()\n"
        "assert gc.get_threshold() == SERVING_GC_THRESHOLDS, gc.get_threshold()\n"
        "assert gc.get_freeze_count() > 0\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"


# One process of its own: the collector's state is process-wide. The agent and the
# requests are the benchmark's (a task with one artifact, completed), sent straight
# into the ASGI app.
_NO_GARBAGE = r"""
import asyncio, gc, json
from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore

agent = Agent(name="Echo", description="echo")

@agent.executor
async def echo(ctx: TaskContext) -> None:
    await ctx.add_artifact(ctx.text, name="echo")
    await ctx.complete()

store = MemoryTaskStore()
app = A2AApp(agent, store=store)

async def send(i: int) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "SendMessage", "params": {
        "message": {"messageId": f"m-{i}", "role": "ROLE_USER",
                    "parts": [{"text": "hello"}]}}}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/", "raw_path": b"/",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1:8000"), (b"a2a-version", b"1.0"),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}
    out = []
    async def send_(message):
        out.append(message)
    await app(scope, receive, send_)
    assert out[0]["status"] == 200 and b'"result"' in out[1]["body"], out

async def main() -> None:
    async with app.running():
        for i in range(50):
            await send(i)
        gc.collect()
        gc.disable()
        for i in range(50, 250):
            await send(i)
        found = gc.collect()  # unreachable objects: cycles left by those 200 calls
        gc.enable()
        for i in range(250, 300):
            await send(i)
        gc.collect(0)
        entries = list(store._tasks.values()) + list(store._logs.values())
        print(found, sum(map(gc.is_tracked, entries)), len(entries))

asyncio.run(main())
"""


def test_executions_leave_no_cyclic_garbage_and_stored_tasks_are_untracked() -> None:
    # Garbage in cycles is what makes the collector run and pause (bench/README.md):
    # a finished execution must be freed by reference counting alone, and a finished
    # task in the memory store must leave the collector's lists at its first pass.
    out = subprocess.run(
        [sys.executable, "-c", _NO_GARBAGE], capture_output=True, text=True, check=True
    )
    found, tracked, entries = (int(n) for n in out.stdout.split())
    assert entries == 600  # 300 tasks: an entry and a log each
    assert found < 50, f"{found} objects in reference cycles after 200 SendMessage"
    assert tracked == 0, f"{tracked} stored entries still tracked by the collector"
