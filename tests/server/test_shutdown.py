"""Graceful shutdown: running agents are stopped and their tasks say why."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx

from accord.server import A2AApp, ServerLimits
from accord.stores import Scope, SQLiteTaskStore
from accord.types import TaskState

from .conftest import V1, serve, user_message
from .scripted import make_agent


def test_shutdown_marks_running_tasks_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "shutdown.db"
    app = A2AApp(make_agent(), store=SQLiteTaskStore(db))
    with serve(app) as url, httpx.Client(timeout=10) as http:
        r = http.post(
            url + "/message:send",
            json={
                "message": user_message("wait"),
                "configuration": {"returnImmediately": True},
            },
            headers=V1,
        )
        task_id = r.json()["task"]["id"]

    async def check() -> None:
        async with SQLiteTaskStore(db) as store:
            record = await store.get(task_id, scope=Scope(owner=""))
            assert record is not None
            assert record.task.status.state is TaskState.FAILED
            assert record.task.status.message is not None
            assert "shut down" in record.task.status.message.text

    anyio.run(check)


def test_running_task_limit_answers_503_with_retry_after(tmp_path: Path) -> None:
    app = A2AApp(make_agent(), limits=ServerLimits(max_running_tasks=1))
    with serve(app) as url, httpx.Client(timeout=10) as http:
        first = http.post(
            url + "/message:send",
            json={
                "message": user_message("wait"),
                "configuration": {"returnImmediately": True},
            },
            headers=V1,
        )
        assert first.status_code == 200
        busy = http.post(
            url + "/message:send", json={"message": user_message("echo x")}, headers=V1
        )
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["details"][0]["reason"] == "UNAVAILABLE"
        rpc = http.post(
            url + "/",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {"message": user_message("x")},
            },
            headers=V1,
        )
        assert rpc.status_code == 503
        assert rpc.json()["error"]["code"] == -31503
        task_id = first.json()["task"]["id"]
        http.post(url + f"/tasks/{task_id}:cancel", headers=V1)
