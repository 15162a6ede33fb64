"""Latency of a task event from instance A to a subscriber on instance B, on PostgreSQL.

``python bench/pg_events_latency.py [--events 200] [--url postgresql://postgres@127.0.0.1:5432/test]``

Two instances in one process, as two Accord instances see each other: two
``PostgresTaskStore`` s and two ``PostgresTaskEvents`` (two LISTEN connections, two
NOTIFY connections) on one database, in a schema of their own (dropped at the end).
For each event, A appends it to the task's log and publishes it; B's subscriber is
woken by the NOTIFY, reads the log from B's store and gets the event. One event at a
time, so each measures the whole path, not a queue:

* ``publish -> B``: from A's ``publish`` (the event is committed) to B's subscriber
  holding it: the NOTIFY round trip, the wake-up and B's read of the log;
* ``append -> B``: the same from before A's append (the write's commit included).

The official SDK's cluster mode polls the database every 0.5 s for events (p50 about
250 ms by construction); the target here is p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import time
import uuid

import anyio
from _latency import percentile_line, scratch_schema

from accord.server.events import Update
from accord.server.pg_events import PostgresTaskEvents
from accord.stores import Scope, StoredEvent
from accord.stores.postgres import PostgresTaskStore
from accord.types import StreamResponse, Task, TaskState, TaskStatus

SCOPE = Scope(tenant="", owner="")


def _task(task_id: str, n: int) -> Task:
    return Task(
        id=task_id,
        context_id="c",
        status=TaskStatus(state=TaskState.WORKING),
        metadata={"n": n},
    )


async def measure(url: str, events: int) -> tuple[list[float], list[float]]:
    task_id = f"bench-{uuid.uuid4().hex}"
    publish_to_b: list[float] = []
    append_to_b: list[float] = []
    async with (
        PostgresTaskStore(url) as store_a,
        PostgresTaskStore(url) as store_b,
        PostgresTaskEvents(url, fallback_poll=None) as a,
        PostgresTaskEvents(url, fallback_poll=None) as b,
    ):

        async def catch_up(after: int) -> list[StoredEvent]:
            return await store_b.events(task_id, after=after, scope=SCOPE)

        with b.subscribe(task_id, catch_up=catch_up) as sub:
            version = 0
            for n in range(1, events + 21):  # the first 20 warm up
                task = _task(task_id, n)
                event = StreamResponse(task=task)
                began = time.perf_counter()
                if version == 0:
                    record = await store_a.create(task, event, scope=SCOPE)
                else:
                    record = await store_a.append(task, event, expected_version=version)
                version = record.version
                published = time.perf_counter()
                await a.publish(task_id, Update(seq=version, event=event, task=task))
                with anyio.fail_after(5):
                    update = await sub.__anext__()
                arrived = time.perf_counter()
                assert update.seq == version, (update.seq, version)
                if n > 20:
                    publish_to_b.append((arrived - published) * 1000)
                    append_to_b.append((arrived - began) * 1000)
    return publish_to_b, append_to_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_schema(args.url) as url:
        publish_to_b, append_to_b = anyio.run(measure, url, args.events)
    print(f"{args.events} events, A -> B through PostgreSQL LISTEN/NOTIFY")
    print(percentile_line("publish -> B", publish_to_b, 16))
    print(percentile_line("append -> B", append_to_b, 16))


if __name__ == "__main__":
    main()
