"""kill -9 a server using SQLite while tasks run; after restart nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import V1, user_message

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.server.durable_app", str(db), str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/.well-known/agent-card.json", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(
                    proc.stderr.read().decode() if proc.stderr else "server died"
                ) from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_kill_9_then_restart_keeps_acknowledged_tasks(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    port = free_port()
    proc = start(db, port)
    base = f"http://127.0.0.1:{port}"
    running: list[str] = []
    done: list[str] = []
    try:
        with httpx.Client(timeout=10) as http:
            for _ in range(5):
                r = http.post(
                    base + "/message:send",
                    json={
                        "message": user_message("long"),
                        "configuration": {"returnImmediately": True},
                    },
                    headers=V1,
                )
                running.append(r.json()["task"]["id"])
            for _ in range(3):
                r = http.post(
                    base + "/message:send",
                    json={"message": user_message("quick")},
                    headers=V1,
                )
                done.append(r.json()["task"]["id"])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
    proc = start(db, port)
    try:
        with httpx.Client(timeout=10) as http:
            for task_id in done:
                task = http.get(f"{base}/tasks/{task_id}", headers=V1).json()
                assert task["status"]["state"] == "TASK_STATE_COMPLETED"
                assert task["artifacts"][0]["parts"] == [{"text": "done"}]
            for task_id in running:
                # Taken over once its lease (0.5 s) expired: within a sweep or two.
                deadline = time.monotonic() + 10
                while True:
                    task = http.get(f"{base}/tasks/{task_id}", headers=V1).json()
                    if task["status"]["state"] != "TASK_STATE_WORKING":
                        break
                    assert time.monotonic() < deadline, "still WORKING"
                    time.sleep(0.05)
                assert task["status"]["state"] == "TASK_STATE_FAILED"
                assert "interrupted" in task["status"]["message"]["parts"][0]["text"]
            listed = http.get(base + "/tasks", headers=V1).json()
            assert listed["totalSize"] == 8
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
