"""The queued-work part of the TaskStore contract, run against every store.

A queued row is a lease nobody holds: an instance hands its lease to the queue
(``queue_lease``), any instance claims queued rows (``claim_queued``: oldest first,
each to exactly one caller, attempt one higher) or CancelTask withdraws one.
"""

from __future__ import annotations

import anyio
import pytest

from accord.stores import Lease, TaskStore
from accord.types import TaskState

from ._helpers import ALICE, created, make_task

pytestmark = pytest.mark.anyio


async def queue(store: TaskStore, task_id: str, *, tenant: str = "") -> None:
    """Queue ``task_id`` as a first run: take its lease, hand it to the queue."""
    assert await store.acquire_lease(task_id, tenant=tenant, holder="me", seconds=60)
    assert await store.queue_lease(task_id, holder="me")


async def test_a_queued_first_run_is_claimed_once_as_attempt_1(
    store: TaskStore,
) -> None:
    await queue(store, "t1", tenant="acme")
    assert await store.queued_count() == 1
    # Nobody holds it: the heartbeat of its former holder no longer returns it.
    assert await store.renew_leases(holder="me", seconds=60) == []
    # Not an expired lease, and nobody else may take it as a fresh lease.
    assert await store.expired_leases() == []
    assert await store.claim_expired(holder="b", seconds=-1) == []
    assert await store.acquire_lease("t1", tenant="", holder="b", seconds=60) is None
    (claimed,) = await store.claim_queued(holder="b", seconds=60, limit=10)
    assert (claimed.task_id, claimed.tenant, claimed.holder, claimed.attempt) == (
        "t1",
        "acme",
        "b",
        1,
    )
    assert not claimed.cancel_requested
    assert await store.claim_queued(holder="c", seconds=60, limit=10) == []
    assert await store.queued_count() == 0
    assert [x.task_id for x in await store.renew_leases(holder="b", seconds=60)] == [
        "t1"
    ]


async def test_queued_rows_are_claimed_oldest_first(store: TaskStore) -> None:
    order = ["q3", "q1", "q4", "q0", "q2"]
    for task_id in order:
        await queue(store, task_id)
    first = await store.claim_queued(holder="b", seconds=60, limit=2)
    rest = await store.claim_queued(holder="b", seconds=60, limit=10)
    assert [x.task_id for x in first + rest] == order


async def test_a_requeued_takeover_keeps_its_attempt(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=-1)
    (taken,) = await store.claim_expired(holder="b", seconds=60)
    assert taken.attempt == 2
    assert not await store.queue_lease("t1", holder="a")  # no longer a's
    assert await store.queue_lease("t1", holder="b")
    (again,) = await store.claim_queued(holder="c", seconds=60, limit=1)
    assert (again.holder, again.attempt) == ("c", 2)


async def test_queue_lease_needs_the_holder(store: TaskStore) -> None:
    assert not await store.queue_lease("none", holder="a")
    await store.acquire_lease("t1", tenant="", holder="a", seconds=60)
    assert not await store.queue_lease("t1", holder="b")
    assert not await store.queue_lease("t1", holder="")
    assert await store.queued_count() == 0


async def test_a_cancel_request_travels_with_the_queued_row(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=60)
    assert await store.request_cancel("t1")
    assert await store.queue_lease("t1", holder="a")
    (claimed,) = await store.claim_queued(holder="b", seconds=60, limit=1)
    assert claimed.cancel_requested


async def test_withdraw_deletes_only_a_queued_row(store: TaskStore) -> None:
    assert not await store.withdraw("none")
    await store.acquire_lease("held", tenant="", holder="a", seconds=60)
    assert not await store.withdraw("held")
    await queue(store, "t1")
    assert await store.withdraw("t1")
    assert not await store.withdraw("t1")
    assert await store.queued_count() == 0
    assert await store.claim_queued(holder="b", seconds=60, limit=10) == []
    # A claimed row is no longer queued: the withdraw loses.
    await queue(store, "t2")
    await store.claim_queued(holder="b", seconds=60, limit=10)
    assert not await store.withdraw("t2")
    assert [x.task_id for x in await store.renew_leases(holder="b", seconds=60)] == [
        "t2"
    ]


async def test_a_queued_task_is_no_orphan(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.SUBMITTED)
    await store.create(task, created(task), scope=ALICE)
    await queue(store, "t1")
    assert await store.claim_expired(holder="b", seconds=-1) == []
    (claimed,) = await store.claim_queued(holder="b", seconds=60, limit=1)
    assert claimed.attempt == 1


async def test_concurrent_claims_never_share_a_queued_row(store: TaskStore) -> None:
    for n in range(30):
        await queue(store, f"t{n:02}")
    results: dict[str, list[Lease]] = {}

    async def claim(holder: str) -> None:
        taken: list[Lease] = []
        while batch := await store.claim_queued(holder=holder, seconds=60, limit=3):
            taken.extend(batch)
        results[holder] = taken

    async with anyio.create_task_group() as tg:
        for holder in ("b", "c", "d", "e"):
            tg.start_soon(claim, holder)
    taken = [x.task_id for leases in results.values() for x in leases]
    assert sorted(taken) == [f"t{n:02}" for n in range(30)]


async def test_claims_and_withdraws_race_one_winner_per_row(store: TaskStore) -> None:
    for n in range(20):
        await queue(store, f"t{n:02}")
    claimed: list[str] = []
    withdrawn: list[str] = []

    async def claim() -> None:
        while batch := await store.claim_queued(holder="b", seconds=60, limit=2):
            claimed.extend(x.task_id for x in batch)

    async def withdraw() -> None:
        withdrawn.extend(
            [
                f"t{n:02}"
                for n in reversed(range(20))
                if await store.withdraw(f"t{n:02}")
            ]
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(claim)
        tg.start_soon(withdraw)
    assert not set(claimed) & set(withdrawn)
    assert sorted(claimed + withdrawn) == [f"t{n:02}" for n in range(20)]


async def test_the_request_travels_to_the_claimer_only(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=60)
    assert await store.queue_lease("t1", holder="a", request='{"metadata":{"k":1}}')
    await queue(store, "t2")  # no request
    first, second = await store.claim_queued(holder="b", seconds=60, limit=2)
    assert (first.task_id, first.request) == ("t1", '{"metadata":{"k":1}}')
    assert (second.task_id, second.request) == ("t2", "")
    # Not carried around by the heartbeat.
    held = await store.renew_leases(holder="b", seconds=60)
    assert {x.request for x in held} == {""}
