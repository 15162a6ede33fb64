"""The execution-lease part of the TaskStore contract, run against every store.

A lease taken for ``-1`` seconds has expired the moment it is written, and an orphan
claim with ``seconds=-1`` counts every unfinished task as silent long enough: so expiry
is tested without waiting.
"""

from __future__ import annotations

import anyio
import pytest

from accord.stores import Lease, TaskStore
from accord.types import TaskState

from ._helpers import ALICE, ALICE_AT_ACME, created, make_task

pytestmark = pytest.mark.anyio


async def test_acquire_takes_a_free_lease_once(store: TaskStore) -> None:
    lease = await store.acquire_lease("t1", tenant="acme", holder="a", seconds=60)
    assert lease is not None
    assert (lease.task_id, lease.tenant, lease.holder, lease.attempt) == (
        "t1",
        "acme",
        "a",
        1,
    )
    assert not lease.cancel_requested
    assert (
        await store.acquire_lease("t1", tenant="acme", holder="b", seconds=60) is None
    )
    assert (
        await store.acquire_lease("t1", tenant="acme", holder="a", seconds=60) is None
    )
    assert (
        await store.acquire_lease("t2", tenant="", holder="b", seconds=60) is not None
    )


async def test_an_expired_lease_is_not_acquired_but_claimed(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=-1)
    assert await store.acquire_lease("t1", tenant="", holder="b", seconds=60) is None


async def test_renew_extends_and_returns_the_holders_leases(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=-1)
    await store.acquire_lease("t2", tenant="", holder="a", seconds=60)
    await store.acquire_lease("t3", tenant="", holder="b", seconds=60)
    held = await store.renew_leases(holder="a", seconds=60)
    assert sorted(lease.task_id for lease in held) == ["t1", "t2"]
    # Renewed: t1 is no longer expired.
    assert await store.expired_leases() == []
    assert await store.claim_expired(holder="c", seconds=60) == []


async def test_release_deletes_only_the_holders_lease(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=60)
    await store.release_lease("t1", holder="b")
    assert await store.acquire_lease("t1", tenant="", holder="b", seconds=60) is None
    await store.release_lease("t1", holder="a")
    assert await store.renew_leases(holder="a", seconds=60) == []
    assert (
        await store.acquire_lease("t1", tenant="", holder="b", seconds=60) is not None
    )


async def test_a_cancel_request_reaches_the_holder(store: TaskStore) -> None:
    assert not await store.request_cancel("t1")
    await store.acquire_lease("t1", tenant="", holder="a", seconds=60)
    await store.acquire_lease("t2", tenant="", holder="a", seconds=60)
    assert await store.request_cancel("t1")
    held = {x.task_id: x for x in await store.renew_leases(holder="a", seconds=60)}
    assert held["t1"].cancel_requested
    assert not held["t2"].cancel_requested


async def test_claim_hands_an_expired_lease_over_once(store: TaskStore) -> None:
    await store.acquire_lease("dead", tenant="acme", holder="a", seconds=-1)
    await store.acquire_lease("live", tenant="", holder="a2", seconds=60)
    expired = await store.expired_leases()
    assert [(x.task_id, x.holder) for x in expired] == [("dead", "a")]
    claimed = await store.claim_expired(holder="b", seconds=60)
    assert [(x.task_id, x.tenant, x.holder, x.attempt) for x in claimed] == [
        ("dead", "acme", "b", 2)
    ]
    assert await store.claim_expired(holder="c", seconds=60) == []
    assert await store.expired_leases() == []
    # The old holder lost it: its heartbeat no longer returns it.
    assert await store.renew_leases(holder="a", seconds=60) == []
    assert [x.task_id for x in await store.renew_leases(holder="b", seconds=60)] == [
        "dead"
    ]


async def test_a_claimed_lease_keeps_its_cancel_request(store: TaskStore) -> None:
    await store.acquire_lease("t1", tenant="", holder="a", seconds=-1)
    await store.request_cancel("t1")
    (claimed,) = await store.claim_expired(holder="b", seconds=60)
    assert claimed.cancel_requested


async def test_claim_respects_the_limit(store: TaskStore) -> None:
    for n in range(5):
        await store.acquire_lease(f"t{n}", tenant="", holder="a", seconds=-1)
    first = await store.claim_expired(holder="b", seconds=60, limit=3)
    rest = await store.claim_expired(holder="c", seconds=60, limit=3)
    assert len(first) == 3
    assert len(rest) == 2
    assert {x.task_id for x in first} | {x.task_id for x in rest} == {
        f"t{n}" for n in range(5)
    }


async def test_concurrent_claims_never_share_a_lease(store: TaskStore) -> None:
    for n in range(20):
        await store.acquire_lease(f"t{n}", tenant="", holder="a", seconds=-1)
    results: dict[str, list[Lease]] = {}

    async def claim(holder: str) -> None:
        results[holder] = await store.claim_expired(holder=holder, seconds=60, limit=7)

    async with anyio.create_task_group() as tg:
        for holder in ("b", "c", "d", "e"):
            tg.start_soon(claim, holder)
    taken = [x.task_id for leases in results.values() for x in leases]
    assert sorted(taken) == sorted(f"t{n}" for n in range(20))


async def test_unfinished_tasks_without_a_lease_are_claimed_as_attempt_2(
    store: TaskStore,
) -> None:
    for task_id, state, scope in [
        ("orphan", TaskState.WORKING, ALICE_AT_ACME),
        ("waiting", TaskState.SUBMITTED, ALICE),
        ("leased", TaskState.WORKING, ALICE),
        ("done", TaskState.COMPLETED, ALICE),
        ("asking", TaskState.INPUT_REQUIRED, ALICE),
    ]:
        task = make_task(task_id, state=state)
        await store.create(task, created(task), scope=scope)
    await store.acquire_lease("leased", tenant="", holder="a", seconds=60)
    # Written just now: not silent for a whole lease yet.
    assert await store.claim_expired(holder="b", seconds=60) == []
    claimed = await store.claim_expired(holder="b", seconds=-1)
    assert sorted((x.task_id, x.tenant, x.holder, x.attempt) for x in claimed) == [
        ("orphan", "acme", "b", 2),
        ("waiting", "", "b", 2),
    ]
    # They now have leases (expired at once: seconds=-1), so they are leases, not
    # orphans, from here on: one row each.
    expired = await store.expired_leases()
    assert sorted(x.task_id for x in expired) == ["orphan", "waiting"]
