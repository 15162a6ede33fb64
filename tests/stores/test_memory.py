"""MemoryTaskStore specifics: retention and the ``max_tasks`` cap (fake clock)."""

from __future__ import annotations

import pytest

from accord.errors import StoreError
from accord.stores import MemoryTaskStore, TaskQuery
from accord.types import TaskState

from ._helpers import ALICE, BOB, created, make_task, status_changed

pytestmark = pytest.mark.anyio


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def add(store: MemoryTaskStore, task_id: str, state: TaskState) -> None:
    task = make_task(task_id, state=state)
    await store.create(task, created(task), scope=ALICE)


async def test_finished_tasks_expire_after_retention() -> None:
    clock = FakeClock()
    store = MemoryTaskStore(retention=60, clock=clock)
    await add(store, "done", TaskState.COMPLETED)
    await add(store, "busy", TaskState.WORKING)

    clock.now += 59.9
    assert await store.get("done", scope=ALICE) is not None
    clock.now += 0.1
    assert await store.get("done", scope=ALICE) is None
    assert await store.events("done", after=0, scope=ALICE) == []
    # Unfinished tasks never expire.
    clock.now += 1e6
    assert await store.get("busy", scope=ALICE) is not None
    assert (await store.list(TaskQuery(scope=ALICE))).total_size == 1


async def test_retention_counts_from_the_last_update() -> None:
    clock = FakeClock()
    store = MemoryTaskStore(retention=60, clock=clock)
    await add(store, "t1", TaskState.WORKING)
    clock.now += 100  # unfinished: not ageing yet
    done = make_task("t1", state=TaskState.COMPLETED, at=1)
    await store.append(done, status_changed(done), expected_version=1)
    clock.now += 59
    assert await store.get("t1", scope=ALICE) is not None
    clock.now += 1
    assert await store.get("t1", scope=ALICE) is None


async def test_expiry_goes_oldest_first() -> None:
    clock = FakeClock()
    store = MemoryTaskStore(retention=10, clock=clock)
    for n in range(5):
        await add(store, f"t{n}", TaskState.FAILED)
        clock.now += 1
    clock.now += 7  # t0 finished 12 s ago, t2 exactly 10 s ago, t4 8 s ago
    page = await store.list(TaskQuery(scope=ALICE))
    assert sorted(t.id for t in page.tasks) == ["t3", "t4"]


async def test_full_store_evicts_the_oldest_finished_task() -> None:
    clock = FakeClock()
    store = MemoryTaskStore(max_tasks=3, clock=clock)
    await add(store, "done-1", TaskState.COMPLETED)
    clock.now += 1
    await add(store, "busy", TaskState.WORKING)
    clock.now += 1
    await add(store, "done-2", TaskState.CANCELED)
    clock.now += 1

    await add(store, "new-1", TaskState.SUBMITTED)
    assert await store.get("done-1", scope=ALICE) is None
    assert await store.get("done-2", scope=ALICE) is not None

    await add(store, "new-2", TaskState.SUBMITTED)
    assert await store.get("done-2", scope=ALICE) is None
    left = await store.list(TaskQuery(scope=ALICE))
    assert sorted(t.id for t in left.tasks) == ["busy", "new-1", "new-2"]


async def test_store_full_of_unfinished_tasks_refuses_more() -> None:
    store = MemoryTaskStore(max_tasks=2)
    await add(store, "a", TaskState.SUBMITTED)
    await add(store, "b", TaskState.WORKING)
    with pytest.raises(StoreError, match="full"):
        await add(store, "c", TaskState.SUBMITTED)
    assert await store.get("c", scope=ALICE) is None


async def test_unbounded_store() -> None:
    store = MemoryTaskStore(max_tasks=None)
    for n in range(50):
        await add(store, f"t{n}", TaskState.WORKING)
    assert len(await store.unfinished()) == 50


async def test_scope_index_is_cleaned_up_on_eviction() -> None:
    store = MemoryTaskStore(max_tasks=1)
    task = make_task("bob-1", state=TaskState.COMPLETED)
    await store.create(task, created(task), scope=BOB)
    await add(store, "alice-1", TaskState.WORKING)
    assert (await store.list(TaskQuery(scope=BOB))).total_size == 0
    assert (await store.list(TaskQuery(scope=ALICE))).total_size == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"retention": -1}, "retention"), ({"max_tasks": 0}, "max_tasks")],
)
def test_invalid_configuration(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryTaskStore(**kwargs)  # type: ignore[arg-type]
