"""The broker: every subscriber gets every update, in order, within a bounded buffer."""

from __future__ import annotations

import anyio
import pytest

from accord.server.broker import Broker, Update
from accord.stores import StoredEvent
from accord.types import StreamResponse, Task, TaskState, TaskStatus

pytestmark = pytest.mark.anyio


def event(n: int) -> StreamResponse:
    return StreamResponse(
        task=Task(id="t", status=TaskStatus(state=TaskState.WORKING), metadata={"n": n})
    )


async def test_each_subscriber_gets_every_update_in_order() -> None:
    broker = Broker(buffer=100)
    subs = [broker.subscribe("t") for _ in range(3)]
    for n in range(1, 11):
        broker.publish("t", Update(seq=n, event=event(n), task=None))
    for sub in subs:
        got = []
        async for update in sub:
            got.append(update.seq)
            if update.seq == 10:
                break
        assert got == list(range(1, 11))
        sub.close()
    assert broker.subscriber_count("t") == 0


async def test_a_slow_subscriber_catches_up_from_the_log_without_loss() -> None:
    log = [StoredEvent(task_id="t", seq=n, event=event(n)) for n in range(1, 51)]
    calls: list[int] = []

    async def catch_up(after: int) -> list[StoredEvent]:
        calls.append(after)
        return [e for e in log if e.seq > after]

    broker = Broker(buffer=4)
    with broker.subscribe("t", catch_up=catch_up) as sub:
        for stored in log[:20]:  # overflows the buffer of 4
            broker.publish("t", Update(seq=stored.seq, event=stored.event, task=None))
        assert sub.lagged
        got = []
        async for update in sub:
            got.append(update.seq)
            if update.seq == 50:
                break
    assert got == list(range(1, 51))  # nothing lost, nothing twice
    assert calls == [0]


async def test_close_wakes_a_waiting_reader() -> None:
    broker = Broker()
    sub = broker.subscribe("t")
    ended = anyio.Event()

    async def read() -> None:
        async for _ in sub:
            pass
        ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await anyio.wait_all_tasks_blocked()  # the reader waits for an event
        assert broker.close_all() == 1
        with anyio.fail_after(2):
            await ended.wait()


async def test_duplicates_from_replay_overlap_are_skipped() -> None:
    broker = Broker()
    with broker.subscribe("t") as sub:
        sub.last_seq = 3  # e.g. a snapshot at version 3 was already sent
        for n in (2, 3, 4, 5):
            broker.publish("t", Update(seq=n, event=event(n), task=None))
        first = await sub.__anext__()
        assert first.seq == 4


def test_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Broker(buffer=0)
