"""Leases taken with a task's creation and released with its last write (contract).

``create(..., holder=, seconds=)`` and ``append(..., release=)``: the lease row is
written by the same transaction as the task, so a new task is never visible unleased
and a finished turn never leaves its lease behind. Run against every store.
"""

from __future__ import annotations

import pytest

from accord.errors import ConflictError
from accord.stores import TaskStore
from accord.types import StreamResponse, Task, TaskState

from ._helpers import (
    ALICE,
    ALICE_AT_ACME,
    ANY_OWNER,
    created,
    make_task,
    status_changed,
)

pytestmark = pytest.mark.anyio


def _finished(task_id: str) -> tuple[Task, StreamResponse]:
    done = make_task(task_id, state=TaskState.COMPLETED)
    return done, status_changed(done)


async def test_create_with_a_holder_leases_the_task_atomically(
    store: TaskStore,
) -> None:
    task = make_task("t1", state=TaskState.SUBMITTED)
    await store.create(task, created(task), scope=ALICE_AT_ACME, holder="a", seconds=60)
    held = await store.renew_leases(holder="a", seconds=60)
    assert [(x.task_id, x.tenant, x.holder, x.attempt) for x in held] == [
        ("t1", "acme", "a", 1)
    ]
    # Held: nobody else acquires it, and it is not an orphan.
    assert (
        await store.acquire_lease("t1", tenant="acme", holder="b", seconds=60) is None
    )
    assert await store.claim_expired(holder="b", seconds=-1) == []


async def test_create_without_a_holder_writes_no_lease(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.SUBMITTED)
    await store.create(task, created(task), scope=ALICE)
    assert await store.renew_leases(holder="a", seconds=60) == []
    assert (
        await store.acquire_lease("t1", tenant="", holder="a", seconds=60) is not None
    )


async def test_create_refused_by_an_existing_lease_writes_nothing(
    store: TaskStore,
) -> None:
    await store.acquire_lease("t1", tenant="", holder="other", seconds=60)
    task = make_task("t1", state=TaskState.SUBMITTED)
    with pytest.raises(ConflictError):
        await store.create(task, created(task), scope=ALICE, holder="a", seconds=60)
    assert await store.get("t1", scope=ANY_OWNER) is None
    assert await store.renew_leases(holder="a", seconds=60) == []
    assert [x.holder for x in await store.renew_leases(holder="other", seconds=60)] == [
        "other"
    ]


async def test_create_of_an_existing_task_takes_no_lease(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.SUBMITTED)
    await store.create(task, created(task), scope=ALICE)
    with pytest.raises(ConflictError):
        await store.create(task, created(task), scope=ALICE, holder="a", seconds=60)
    assert await store.renew_leases(holder="a", seconds=60) == []


async def test_append_with_release_deletes_the_holders_lease(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.WORKING)
    await store.create(task, created(task), scope=ALICE, holder="a", seconds=60)
    done, event = _finished("t1")
    record = await store.append(done, event, expected_version=1, release="a")
    assert record.version == 2
    assert record.task.status.state is TaskState.COMPLETED
    assert await store.renew_leases(holder="a", seconds=60) == []
    # Gone: the next turn can take it.
    assert (
        await store.acquire_lease("t1", tenant="", holder="b", seconds=60) is not None
    )


async def test_append_with_release_keeps_another_holders_lease(
    store: TaskStore,
) -> None:
    task = make_task("t1", state=TaskState.WORKING)
    await store.create(task, created(task), scope=ALICE, holder="a", seconds=60)
    done, event = _finished("t1")
    await store.append(done, event, expected_version=1, release="b")
    assert [x.task_id for x in await store.renew_leases(holder="a", seconds=60)] == [
        "t1"
    ]


async def test_a_refused_append_does_not_release(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.WORKING)
    await store.create(task, created(task), scope=ALICE, holder="a", seconds=60)
    done, event = _finished("t1")
    with pytest.raises(ConflictError):
        await store.append(done, event, expected_version=7, release="a")
    assert [x.task_id for x in await store.renew_leases(holder="a", seconds=60)] == [
        "t1"
    ]
    record = await store.get("t1", scope=ALICE)
    assert record is not None
    assert record.version == 1
    assert record.task == task
