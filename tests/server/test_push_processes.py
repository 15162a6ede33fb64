"""Push delivery across ``accord serve`` processes sharing a database (slow).

* kill -9 of the instance that is delivering, in the middle of a delivery: a survivor
  takes the config over once its lease expires and every event still arrives, the
  interrupted one again with the same notification id;
* two instances on one PostgreSQL database, in the normal case: each notification is
  delivered once, by one of them, in order per task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio.to_thread
import httpx
import pytest

from accord.server.push import generate_key
from accord.stores import migrate
from tests.helpers.serve_process import accord_serve, stop
from tests.stores._postgres import fresh_schema

from .conftest import V1, user_message
from .webhook import DEADLINE, Answer, Notification, receiver

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

#: The push lease of the instances: how soon a survivor takes a config over.
LEASE = 1.0

AGENT = textwrap.dedent(
    f"""
    import os

    from accord.egress import EgressPolicy
    from accord.server import A2AApp, Agent, PushSettings
    from accord.stores import open_store


    async def work(ctx):
        await ctx.working("step")
        await ctx.add_artifact("first", name="a")
        await ctx.add_artifact("second", name="b")
        await ctx.complete("done")


    agent = Agent(work, name="Lab", description="push lab", push_notifications=True)


    def create_app(db):
        return A2AApp(
            agent,
            store=open_store(db),
            push=PushSettings(
                keys=[bytes.fromhex(os.environ["PUSH_KEY"])],
                egress=EgressPolicy(allow=("127.0.0.1",)),
                lease_seconds={LEASE},
                poll_interval=0.05,
                retry_base=0.05,
                retry_max=0.2,
            ),
        )
    """
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def serve(folder: Path, db: str, key: str) -> tuple[subprocess.Popen[str], str]:
    args = ("lab.py:create_app", "--db", db, "--shutdown-grace", "0")
    return accord_serve(folder, *args, env={"PUSH_KEY": key})


class Instances:
    """``accord serve`` processes of the lab agent on one database, one key; each is
    stopped (killed if need be) when the block ends."""

    def __init__(self, stack: ExitStack, folder: Path, db: str) -> None:
        (folder / "lab.py").write_text(AGENT)
        self._stack, self._folder, self._db = stack, folder, db
        self._key = generate_key().hex()

    def start(self) -> tuple[subprocess.Popen[str], str]:
        process, base = serve(self._folder, self._db, self._key)
        self._stack.callback(stop, process)
        return process, base


@contextmanager
def instances(
    folder: Path, db: str, count: int
) -> Iterator[list[tuple[subprocess.Popen[str], str]]]:
    with ExitStack() as stack:
        lab = Instances(stack, folder, db)
        yield [lab.start() for _ in range(count)]


def send(http: httpx.Client, base: str, webhook: str, config_id: str) -> str:
    body = {
        "message": user_message("go"),
        "configuration": {
            "taskPushNotificationConfig": {"url": webhook, "id": config_id},
            "returnImmediately": True,
        },
    }
    r = http.post(base + "/message:send", json=body, headers=V1)
    assert r.status_code == 200, r.text
    task_id: str = r.json()["task"]["id"]
    return task_id


def state(http: httpx.Client, base: str, task_id: str) -> str:
    answer = http.get(f"{base}/tasks/{task_id}", headers=V1)
    if answer.status_code == 503:
        # The store did not answer in time (a loaded machine): a poll asks again.
        return "UNAVAILABLE"
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"]["state"])


def completed(task_id: str) -> Callable[[list[Notification]], bool]:
    def done(got: list[Notification]) -> bool:
        return any(
            n.status == 200
            and n.body.get("statusUpdate", {}).get("taskId") == task_id
            and n.body["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
            for n in got
        )

    return done


def kill_mid_delivery(folder: Path, db: str) -> None:
    held = threading.Event()
    with (
        receiver() as hook,
        ExitStack() as stack,
        httpx.Client(timeout=10) as http,
    ):
        lab = Instances(stack, folder, db)
        victim, base_v = lab.start()
        # The first notification is held unanswered: the victim is mid-delivery. The
        # survivor starts only now, so the delivery in flight is the victim's.
        hook.script(Answer(200, hold=held))
        task_id = send(http, base_v, hook.url, "c")
        hook.wait_for(lambda got: len(got) >= 1, "the first notification")
        lab.start()
        # The task itself is done (its events all in the log); its delivery is not.
        deadline = time.monotonic() + DEADLINE
        while state(http, base_v, task_id) != "TASK_STATE_COMPLETED":
            assert time.monotonic() < deadline, "the task did not complete"
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        held.set()
        got = hook.wait_for(completed(task_id), "every event, from the survivor")
    first = got[0]
    accepted = [n for n in got[1:] if n.status == 200]
    seqs = [n.seq for n in accepted]
    # The interrupted notification again (same id), then the rest, in order.
    assert seqs == list(range(1, len(seqs) + 1))
    assert accepted[0].id == first.id
    assert len(seqs) >= 5  # task, WORKING, two artifacts, COMPLETED


def two_deliver_once(folder: Path, db: str) -> None:
    with (
        receiver() as hook,
        instances(folder, db, 2) as started,
        httpx.Client(timeout=10) as http,
    ):
        tasks = [send(http, started[i % 2][1], hook.url, f"c{i}") for i in range(10)]
        for task_id in tasks:
            hook.wait_for(completed(task_id), f"task {task_id} completed")
        got = hook.accepted()
    counts = Counter(n.id for n in got)
    assert set(counts.values()) == {1}, [i for i, c in counts.items() if c > 1]
    for task_id in tasks:
        seqs = [n.seq for n in got if n.id.startswith(task_id + "/")]
        assert seqs == list(range(1, len(seqs) + 1))


async def test_kill_9_mid_delivery_on_postgres(tmp_path: Path) -> None:
    async with fresh_schema() as (_, url):
        await anyio.to_thread.run_sync(migrate, url)
        await anyio.to_thread.run_sync(kill_mid_delivery, tmp_path, url)


async def test_kill_9_mid_delivery_on_one_sqlite_file(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    await anyio.to_thread.run_sync(migrate, db)
    await anyio.to_thread.run_sync(kill_mid_delivery, tmp_path, db)


async def test_two_instances_deliver_each_notification_once(tmp_path: Path) -> None:
    async with fresh_schema() as (_, url):
        await anyio.to_thread.run_sync(migrate, url)
        await anyio.to_thread.run_sync(two_deliver_once, tmp_path, url)
