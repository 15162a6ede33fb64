"""The SQLite lane: batching of concurrent calls, group commit and its failure modes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.from_thread
import pytest

from accord.errors import StoreError
from accord.stores._lane import MAX_BATCH, Lane

pytestmark = pytest.mark.anyio


class Counted:
    """An ``after_batch`` hook that counts batches."""

    def __init__(self) -> None:
        self.batches = 0

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.batches += 1


@pytest.fixture
async def conn(anyio_backend: str) -> AsyncIterator[sqlite3.Connection]:
    connection = sqlite3.connect(
        ":memory:", isolation_level=None, check_same_thread=False
    )
    connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    yield connection
    connection.close()


def insert(k: int) -> Callable[[sqlite3.Connection], int]:
    def run(c: sqlite3.Connection) -> int:
        c.execute("INSERT INTO t VALUES (?, ?)", (k, f"v{k}"))
        return k

    return run


def count(c: sqlite3.Connection) -> int:
    return int(c.execute("SELECT count(*) FROM t").fetchone()[0])


async def test_concurrent_calls_share_hops(conn: sqlite3.Connection) -> None:
    hook = Counted()
    lane = Lane(conn, write=True, after_batch=hook)
    results: dict[int, int] = {}

    async def one(k: int) -> None:
        results[k] = await lane.call(insert(k))

    async with anyio.create_task_group() as tg:
        for k in range(300):
            tg.start_soon(one, k)

    assert results == {k: k for k in range(300)}
    assert await lane.call(count) == 300
    # At most MAX_BATCH operations share a hop, but far fewer hops than calls.
    assert 300 / MAX_BATCH < hook.batches < 100
    assert not conn.in_transaction


async def test_failed_operation_is_rolled_back_alone(conn: sqlite3.Connection) -> None:
    lane = Lane(conn, write=True)

    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (100, 'half')")
        raise ValueError("changed my mind")

    outcomes: list[object] = []

    async def run(fn: Callable[[sqlite3.Connection], object]) -> None:
        try:
            outcomes.append(await lane.call(fn))
        except ValueError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, insert(1))
        tg.start_soon(run, half_then_fail)
        tg.start_soon(run, insert(2))

    assert sorted(str(o) for o in outcomes) == ["1", "2", "changed my mind"]
    rows = conn.execute("SELECT k FROM t ORDER BY k").fetchall()
    assert rows == [(1,), (2,)]


async def test_broken_transaction_fails_the_whole_batch(
    conn: sqlite3.Connection,
) -> None:
    lane = Lane(conn, write=True)

    def sabotage(c: sqlite3.Connection) -> None:
        c.execute("ROLLBACK")  # ends the batch transaction under the lane's feet

    errors: list[BaseException] = []

    async def run(fn: Callable[[sqlite3.Connection], object]) -> None:
        try:
            await lane.call(fn)
        except StoreError as exc:
            errors.append(exc)

    entered = anyio.Event()
    release = threading.Event()

    def hold(c: sqlite3.Connection) -> None:
        # In the worker thread: the next calls queue up until the test releases it.
        anyio.from_thread.run_sync(entered.set)
        assert release.wait(10), "never released"

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, hold)
        with anyio.fail_after(10):
            await entered.wait()
        tg.start_soon(run, insert(1))
        tg.start_soon(run, sabotage)
        await anyio.wait_all_tasks_blocked()  # both are queued behind ``hold``
        release.set()

    assert len(errors) == 2
    assert all(isinstance(e.__cause__, sqlite3.Error) for e in errors)
    assert not conn.in_transaction
    assert await lane.call(insert(7)) == 7
    assert await lane.call(count) == 1


async def test_read_lane_wraps_driver_errors(conn: sqlite3.Connection) -> None:
    lane = Lane(conn, write=False)

    def bad(c: sqlite3.Connection) -> None:
        c.execute("SELECT nope FROM nowhere")

    with pytest.raises(StoreError, match="no such table") as caught:
        await lane.call(bad)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert await lane.call(count) == 0


async def test_cancelled_caller_still_completes_its_write(
    conn: sqlite3.Connection,
) -> None:
    lane = Lane(conn, write=True)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await lane.call(insert(1))
        await anyio.sleep(1)  # pragma: no cover - cancelled here
    assert scope.cancelled_caught
    assert await lane.call(count) == 1
