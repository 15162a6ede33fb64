"""The PushConfigStore contract, run against every store (see ``conftest.store``).

Delivery times are made deterministic without waiting: a failure with a negative
``retry_in`` is "due long ago" (which orders the claim), one with ``retry_in=3600`` is
not due, one with ``0`` is due at once. Only lease expiry is real time: a lease of a
few milliseconds, then a poll with a deadline until another holder gets the config.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Protocol, cast

import anyio
import anyio.to_thread
import pytest

from accord.errors import InvalidParamsError, StoreError
from accord.stores import (
    MemoryTaskStore,
    Scope,
    SQLiteTaskStore,
    TaskStore,
    _memory_push,
    memory,
)
from accord.stores._common import DEFAULT_DEAD_REASON, encode_cursor
from accord.stores.base import PushConfigRecord, PushConfigStore, PushDelivery
from accord.types import TaskState

from ._helpers import (
    ALICE,
    ALICE_AT_ACME,
    ANY_OWNER,
    BOB,
    created,
    make_task,
    status_changed,
    ts,
)
from ._postgres import empty

pytestmark = pytest.mark.anyio

#: How long a poll for something that takes real time (a lease expiring) may take.
DEADLINE = 10.0


class Store(TaskStore, PushConfigStore, Protocol):
    """What every store is: both protocols (for the type checker)."""


def push(store: TaskStore) -> Store:
    assert isinstance(store, PushConfigStore)
    return cast("Store", store)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def new_task(
    store: TaskStore,
    task_id: str,
    *,
    scope: Scope = ALICE,
    events: int = 1,
    state: TaskState = TaskState.WORKING,
) -> None:
    """Create ``task_id`` in ``scope`` with ``events`` events (its version)."""
    first = make_task(task_id)
    last = make_task(task_id, state=state, at=1)
    more = [status_changed(last)] * (events - 1)
    await store.create(last if more else first, created(first), scope=scope, more=more)


async def append(store: TaskStore, task_id: str, *, state: TaskState) -> int:
    """Append a status change to ``task_id``; return its new version."""
    record = await store.get(task_id, scope=ANY_OWNER)
    assert record is not None
    task = make_task(task_id, state=state, at=record.version + 1)
    done = await store.append(
        task, status_changed(task), expected_version=record.version
    )
    return done.version


async def claim(store: Store, holder: str, *, limit: int = 100) -> list[str]:
    """Claim for ``holder`` (a minute's lease); return ``task/config`` of each."""
    taken = await store.claim_push_deliveries(holder=holder, seconds=60, limit=limit)
    return [f"{d.config.task_id}/{d.config.config_id}" for d in taken]


async def dead_letter(store: Store, task_id: str, config_id: str, reason: str) -> None:
    """Claim every due config, dead-letter this one, release the others."""
    taken = await store.claim_push_deliveries(holder="killer", seconds=60, limit=100)
    for d in taken:
        key = (d.config.task_id, d.config.config_id)
        if key == (task_id, config_id):
            assert await store.push_failed(
                *key, holder="killer", retry_in=None, reason=reason
            )
        else:
            await store.release_push(*key, holder="killer")
    assert (task_id, config_id) in {
        (d.config.task_id, d.config.config_id) for d in taken
    }


# --- the protocols ---------------------------------------------------------------


async def test_every_store_is_a_push_config_store(store: TaskStore) -> None:
    assert isinstance(store, TaskStore)
    assert isinstance(store, PushConfigStore)


# --- put / get / list / delete ---------------------------------------------------


async def test_put_then_get_list_and_delete(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", events=3)
    record = await s.put_push_config("t1", "c1", b"\x00secret\xff", scope=ALICE)
    assert record == PushConfigRecord(
        task_id="t1",
        config_id="c1",
        tenant="",
        owner="alice",
        data=b"\x00secret\xff",
        delivered_seq=3,  # after_seq None: from the task's current version on
        failures=0,
        dead_reason="",
    )
    assert await s.get_push_config("t1", "c1", scope=ALICE) == record
    assert await s.get_push_config("t1", "c1", scope=ANY_OWNER) == record
    assert await s.get_push_config("t1", "c2", scope=ALICE) is None
    assert await s.list_push_configs("t1", scope=ALICE, page_size=10) == ([record], "")

    assert await s.delete_push_config("t1", "c1", scope=ALICE)
    assert not await s.delete_push_config("t1", "c1", scope=ALICE)
    assert await s.get_push_config("t1", "c1", scope=ALICE) is None
    assert await s.list_push_configs("t1", scope=ALICE, page_size=10) == ([], "")


async def test_a_config_takes_its_tasks_scope(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", scope=ALICE_AT_ACME)
    # Maintenance (any owner) may write it; the config is still the task's owner's.
    record = await s.put_push_config(
        "t1", "c1", b"x", scope=Scope(tenant="acme", owner=None)
    )
    assert record is not None
    assert (record.tenant, record.owner) == ("acme", "alice")
    assert await s.get_push_config("t1", "c1", scope=ALICE_AT_ACME) == record


@pytest.mark.parametrize(
    "outsider",
    [BOB, Scope(tenant="acme", owner="alice"), Scope(tenant="acme", owner=None)],
    ids=["other-owner", "other-tenant", "any-owner-other-tenant"],
)
async def test_configs_outside_scope_do_not_exist(
    store: TaskStore, outsider: Scope
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    original = await s.put_push_config("t1", "c1", b"mine", scope=ALICE, after_seq=0)
    assert original is not None
    await dead_letter(s, "t1", "c1", "gone")

    assert await s.get_push_config("t1", "c1", scope=outsider) is None
    assert await s.list_push_configs("t1", scope=outsider, page_size=10) == ([], "")
    assert await s.dead_push_configs(scope=outsider) == []
    assert not await s.revive_push_config("t1", "c1", scope=outsider)
    assert not await s.delete_push_config("t1", "c1", scope=outsider)
    # A put into the invisible task writes nothing (not even a replace).
    assert await s.put_push_config("t1", "c1", b"theirs", scope=outsider) is None
    assert await s.put_push_config("t1", "c2", b"theirs", scope=outsider) is None

    mine = await s.get_push_config("t1", "c1", scope=ALICE)
    assert mine is not None
    assert (mine.data, mine.dead_reason) == (b"mine", "gone")
    assert [
        r.config_id
        for r in (await s.list_push_configs("t1", scope=ALICE, page_size=10))[0]
    ] == ["c1"]


async def test_put_into_a_missing_task_returns_none(store: TaskStore) -> None:
    s = push(store)
    assert await s.put_push_config("nope", "c1", b"x", scope=ALICE) is None
    assert await s.put_push_config("nope", "c1", b"x", scope=ANY_OWNER) is None
    assert await s.get_push_config("nope", "c1", scope=ANY_OWNER) is None
    assert await claim(s, "a") == []


async def test_replacing_keeps_the_position_and_revives(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", events=3)
    await s.put_push_config("t1", "c1", b"v1", scope=ALICE, after_seq=0)
    (delivery,) = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert await s.push_delivered("t1", "c1", holder="a", seq=2)
    assert await s.push_failed("t1", "c1", holder="a", retry_in=None, reason="410")

    record = await s.put_push_config("t1", "c1", b"v2", scope=ALICE, after_seq=0)
    assert record is not None
    # The data is new; the position is kept (after_seq applies to new configs only);
    # the config is live again and due at once.
    assert (record.data, record.delivered_seq, record.failures, record.dead_reason) == (
        b"v2",
        2,
        0,
        "",
    )
    assert await s.get_push_config("t1", "c1", scope=ALICE) == record
    (again,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (again.config, again.version, again.holder) == (record, 3, "b")
    assert delivery.config.data == b"v1"


async def test_after_seq_none_starts_now_and_0_replays_the_whole_log(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=3)
    now = await s.put_push_config("t1", "from-now", b"x", scope=ALICE)
    whole = await s.put_push_config("t1", "whole-log", b"x", scope=ALICE, after_seq=0)
    later = await s.put_push_config("t1", "after-2", b"x", scope=ALICE, after_seq=2)
    assert (now and now.delivered_seq, whole and whole.delivered_seq) == (3, 0)
    assert later is not None
    assert later.delivered_seq == 2
    # Only the configs with events past their position are due.
    taken = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert sorted((d.config.config_id, d.version) for d in taken) == [
        ("after-2", 3),
        ("whole-log", 3),
    ]
    for d in taken:
        await s.release_push("t1", d.config.config_id, holder="a")
    # A new event makes every config due.
    assert await append(s, "t1", state=TaskState.COMPLETED) == 4
    taken = await s.claim_push_deliveries(holder="a", seconds=60, limit=10)
    assert sorted((d.config.config_id, d.version) for d in taken) == [
        ("after-2", 4),
        ("from-now", 4),
        ("whole-log", 4),
    ]


async def test_pages_walk_config_ids_in_code_point_order(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1")
    await new_task(s, "t2")
    ids = ["z", "a", "é", "B", "_", "a1"]
    for config_id in ids:
        await s.put_push_config("t1", config_id, config_id.encode(), scope=ALICE)
    await s.put_push_config("t2", "other", b"x", scope=ALICE)

    seen: list[str] = []
    pages = 0
    cursor = ""
    while True:
        page, cursor = await s.list_push_configs(
            "t1", scope=ALICE, page_size=3 if pages else 2, cursor=cursor
        )
        seen.extend(r.config_id for r in page)
        pages += 1
        if not cursor:
            break
    # Python's str order is code point order: what SQLite's BINARY and PostgreSQL's
    # "C" collation give too.
    assert seen == sorted(ids) == ["B", "_", "a", "a1", "z", "é"]
    assert pages == 3  # 2, then 3 (one more is left), then the last one
    # A page size larger than the list: one page, no cursor.
    page, cursor = await s.list_push_configs("t1", scope=ALICE, page_size=100)
    assert ([r.config_id for r in page], cursor) == (sorted(ids), "")


async def test_a_page_ending_on_the_last_config_has_no_cursor(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1")
    for config_id in ("c1", "c2"):
        await s.put_push_config("t1", config_id, b"x", scope=ALICE)
    page, cursor = await s.list_push_configs("t1", scope=ALICE, page_size=2)
    assert ([r.config_id for r in page], cursor) == (["c1", "c2"], "")
    page, cursor = await s.list_push_configs("t1", scope=ALICE, page_size=1)
    assert [r.config_id for r in page] == ["c1"]
    assert cursor
    # The cursor is opaque but stable: a config added before it is not repeated.
    await s.put_push_config("t1", "c0", b"x", scope=ALICE)
    page, cursor = await s.list_push_configs(
        "t1", scope=ALICE, page_size=1, cursor=cursor
    )
    assert ([r.config_id for r in page], cursor) == (["c2"], "")


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%",
        b64(b"c2|c1"),
        b64(b"\xff\xfe"),
        encode_cursor((ts(1), "t1")),  # a ListTasks token is not a config token
    ],
    ids=["spaces", "not-base64", "unknown-layout", "not-utf8", "task-token"],
)
async def test_a_cursor_the_store_did_not_issue_is_invalid_params(
    store: TaskStore, token: str
) -> None:
    s = push(store)
    await new_task(s, "t1")
    with pytest.raises(InvalidParamsError, match="pageToken") as caught:
        await s.list_push_configs("t1", scope=ALICE, page_size=10, cursor=token)
    assert caught.value.field_violations


# --- claims ------------------------------------------------------------------------


async def test_claim_takes_only_due_live_unheld_configs_with_events_pending(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    for config_id in ("pending", "dead", "held", "backing-off"):
        await s.put_push_config("t1", config_id, b"x", scope=ALICE, after_seq=0)
    await s.put_push_config("t1", "current", b"x", scope=ALICE)  # nothing pending
    assert sorted(await claim(s, "a")) == [
        "t1/backing-off",
        "t1/dead",
        "t1/held",
        "t1/pending",
    ]
    assert await s.push_failed("t1", "dead", holder="a", retry_in=None, reason="x")
    assert await s.push_failed(
        "t1", "backing-off", holder="a", retry_in=3600, reason="503"
    )
    await s.release_push("t1", "pending", holder="a")
    # "held" is still a's: nobody else gets it while the lease runs.

    (delivery,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert delivery == PushDelivery(
        config=PushConfigRecord(
            task_id="t1",
            config_id="pending",
            tenant="",
            owner="alice",
            data=b"x",
            delivered_seq=0,
        ),
        version=2,
        holder="b",
    )
    assert await claim(s, "c") == []


async def test_claim_takes_the_longest_waiting_first_up_to_the_limit(
    store: TaskStore,
) -> None:
    s = push(store)
    for task_id in ("t1", "t2", "t3"):
        await new_task(s, task_id)
        await s.put_push_config(task_id, "c", b"x", scope=ALICE, after_seq=0)
    assert len(await claim(s, "a")) == 3
    # Due long ago, so waiting longer than t1's config, which was due from its put.
    assert await s.push_failed("t2", "c", holder="a", retry_in=-200, reason="x")
    assert await s.push_failed("t3", "c", holder="a", retry_in=-300, reason="x")
    await s.release_push("t1", "c", holder="a")

    assert await claim(s, "b", limit=2) == ["t3/c", "t2/c"]
    assert await claim(s, "b", limit=2) == ["t1/c"]
    assert await claim(s, "b", limit=0) == []


async def test_concurrent_claims_hand_each_config_to_one_caller(
    store: TaskStore,
) -> None:
    s = push(store)
    for n in range(5):
        await new_task(s, f"t{n}", events=2)
        for c in range(4):
            await s.put_push_config(f"t{n}", f"c{c}", b"x", scope=ALICE, after_seq=1)
    results: dict[str, list[str]] = {}

    async def one(holder: str) -> None:
        results[holder] = await claim(s, holder, limit=7)

    async with anyio.create_task_group() as tg:
        for holder in ("a", "b", "c", "d"):
            tg.start_soon(one, holder)
    taken = [key for keys in results.values() for key in keys]
    assert sorted(taken) == sorted(f"t{n}/c{c}" for n in range(5) for c in range(4))


async def test_an_expired_delivery_lease_is_claimed_again(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", events=3)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    (first,) = await s.claim_push_deliveries(holder="a", seconds=0.05, limit=10)
    assert first.holder == "a"

    taken: list[PushDelivery] = []
    with anyio.fail_after(DEADLINE):
        while not taken:
            taken = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
            await anyio.sleep(0.01)
    (second,) = taken
    assert (second.config.config_id, second.holder, second.version) == ("c1", "b", 3)

    # a's lease is gone: none of its writes land.
    assert not await s.push_delivered("t1", "c1", holder="a", seq=3)
    assert not await s.push_failed("t1", "c1", holder="a", retry_in=0, reason="x")
    await s.release_push("t1", "c1", holder="a")
    assert await claim(s, "c") == []  # still b's
    record = await s.get_push_config("t1", "c1", scope=ALICE)
    assert record is not None
    assert (record.delivered_seq, record.failures) == (0, 0)
    assert await s.push_delivered("t1", "c1", holder="b", seq=3)


async def test_delivered_moves_the_position_and_keeps_the_lease(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=3)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    assert await claim(s, "a") == ["t1/c1"]
    assert await s.push_failed("t1", "c1", holder="a", retry_in=0, reason="x")
    assert await claim(s, "a") == ["t1/c1"]

    assert await s.push_delivered("t1", "c1", holder="a", seq=2)
    record = await s.get_push_config("t1", "c1", scope=ALICE)
    assert record is not None
    assert (record.delivered_seq, record.failures) == (2, 0)
    # Never backwards.
    assert await s.push_delivered("t1", "c1", holder="a", seq=1)
    record = await s.get_push_config("t1", "c1", scope=ALICE)
    assert record is not None
    assert record.delivered_seq == 2
    # Still a's lease.
    assert await claim(s, "b") == []
    await s.release_push("t1", "c1", holder="a")
    (delivery,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (delivery.config.delivered_seq, delivery.version) == (2, 3)
    assert await s.push_delivered("t1", "c1", holder="b", seq=3)
    await s.release_push("t1", "c1", holder="b")
    assert await claim(s, "b") == []  # everything delivered


async def test_a_holder_that_does_not_hold_the_config_writes_nothing(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    # Nobody holds it yet: not even the empty holder (which means "nobody").
    assert not await s.push_delivered("t1", "c1", holder="", seq=2)
    assert not await s.push_delivered("t1", "c1", holder="a", seq=2)
    assert await claim(s, "a") == ["t1/c1"]
    assert not await s.push_delivered("t1", "c1", holder="b", seq=2)
    assert not await s.push_failed("t1", "c1", holder="b", retry_in=None, reason="x")
    await s.release_push("t1", "c1", holder="b")
    assert await claim(s, "b") == []
    # Deleted while held: the holder stops.
    assert await s.delete_push_config("t1", "c1", scope=ALICE)
    assert not await s.push_delivered("t1", "c1", holder="a", seq=2)
    assert not await s.push_delivered("t9", "c1", holder="a", seq=2)
    with pytest.raises(ValueError, match="holder"):
        await s.claim_push_deliveries(holder="", seconds=60, limit=10)


async def test_a_failure_backs_off_until_retry_in_has_passed(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    for config_id in ("later", "soon"):
        await s.put_push_config("t1", config_id, b"x", scope=ALICE, after_seq=0)
    assert sorted(await claim(s, "a")) == ["t1/later", "t1/soon"]
    assert await s.push_failed("t1", "later", holder="a", retry_in=3600, reason="x")
    assert await s.push_failed("t1", "soon", holder="a", retry_in=0, reason="x")
    later = await s.get_push_config("t1", "later", scope=ALICE)
    assert later is not None
    assert (later.failures, later.dead_reason, later.delivered_seq) == (1, "", 0)

    # The lease was released with the failure: "soon" is due again, for anyone.
    assert await claim(s, "b") == ["t1/soon"]
    assert await s.push_failed("t1", "soon", holder="b", retry_in=0, reason="x")
    assert await claim(s, "c") == ["t1/soon"]
    soon = await s.get_push_config("t1", "soon", scope=ALICE)
    assert soon is not None
    assert soon.failures == 2
    assert await s.push_delivered("t1", "soon", holder="c", seq=1)
    soon = await s.get_push_config("t1", "soon", scope=ALICE)
    assert soon is not None
    assert (soon.failures, soon.delivered_seq) == (0, 1)


async def test_dead_letter_and_revive(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    assert await claim(s, "a") == ["t1/c1"]
    assert await s.push_failed("t1", "c1", holder="a", retry_in=0, reason="x")
    assert await claim(s, "a") == ["t1/c1"]
    assert await s.push_failed("t1", "c1", holder="a", retry_in=None, reason="gone")

    dead = await s.get_push_config("t1", "c1", scope=ALICE)
    assert dead is not None
    # The failure that gave up counts too; the position is kept.
    assert (dead.dead_reason, dead.failures, dead.delivered_seq) == ("gone", 2, 0)
    assert await claim(s, "b") == []  # delivered no more
    assert await append(s, "t1", state=TaskState.COMPLETED) == 3
    assert await claim(s, "b") == []
    assert await s.dead_push_configs(scope=ALICE) == [dead]
    assert not await s.push_delivered("t1", "c1", holder="a", seq=2)  # released

    assert not await s.revive_push_config("t1", "c2", scope=ALICE)
    assert await s.revive_push_config("t1", "c1", scope=ALICE)
    assert not await s.revive_push_config("t1", "c1", scope=ALICE)  # live already
    live = await s.get_push_config("t1", "c1", scope=ALICE)
    assert live is not None
    assert (live.dead_reason, live.failures, live.delivered_seq) == ("", 0, 0)
    assert await s.dead_push_configs(scope=ALICE) == []
    (delivery,) = await s.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (delivery.config, delivery.version) == (live, 3)


async def test_a_dead_letter_always_has_a_reason(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    assert await claim(s, "a") == ["t1/c1"]
    assert await s.push_failed("t1", "c1", holder="a", retry_in=None, reason="")
    (dead,) = await s.dead_push_configs(scope=ALICE)
    assert dead.dead_reason == DEFAULT_DEAD_REASON
    assert await claim(s, "a") == []


async def test_dead_letters_are_listed_per_scope(store: TaskStore) -> None:
    s = push(store)
    for task_id, scope in [
        ("t-alice", ALICE),
        ("t-bob", BOB),
        ("t-acme", ALICE_AT_ACME),
        ("t-alice-2", ALICE),
    ]:
        await new_task(s, task_id, scope=scope, events=2)
        for config_id in ("c1", "c2"):
            await s.put_push_config(task_id, config_id, b"x", scope=scope, after_seq=0)
    for task_id in ("t-alice", "t-bob", "t-acme", "t-alice-2"):
        await dead_letter(s, task_id, "c1", f"{task_id} gone")

    def keys(records: list[PushConfigRecord]) -> list[str]:
        return [f"{r.task_id}/{r.config_id}" for r in records]

    # In (task id, config id) order.
    assert keys(await s.dead_push_configs(scope=ALICE)) == [
        "t-alice/c1",
        "t-alice-2/c1",
    ]
    assert keys(await s.dead_push_configs(scope=ALICE, limit=1)) == ["t-alice/c1"]
    assert keys(await s.dead_push_configs(scope=BOB)) == ["t-bob/c1"]
    assert keys(await s.dead_push_configs(scope=ANY_OWNER)) == [
        "t-alice/c1",
        "t-alice-2/c1",
        "t-bob/c1",
    ]
    (acme,) = await s.dead_push_configs(scope=Scope(tenant="acme", owner=None))
    assert (acme.task_id, acme.tenant, acme.owner, acme.dead_reason) == (
        "t-acme",
        "acme",
        "alice",
        "t-acme gone",
    )
    assert await s.dead_push_configs(scope=Scope(tenant="other", owner=None)) == []


# --- configs go with their task ----------------------------------------------------


async def test_purging_a_task_deletes_its_configs(store: TaskStore) -> None:
    s = push(store)
    await new_task(s, "old", events=2, state=TaskState.COMPLETED)
    await new_task(s, "young", events=2)
    for task_id in ("old", "young"):
        await s.put_push_config(task_id, "c1", b"x", scope=ALICE, after_seq=0)
    await dead_letter(s, "old", "c1", "gone")

    assert await s.purge_finished(older_than=ts(30)) == 1

    assert await s.get_push_config("old", "c1", scope=ANY_OWNER) is None
    assert await s.dead_push_configs(scope=ANY_OWNER) == []
    assert await claim(s, "b") == ["young/c1"]
    assert await sql_count(s, "old") in (None, 0)
    # A new task with the old id starts without configs.
    await new_task(s, "old", events=2)
    assert await s.list_push_configs("old", scope=ALICE, page_size=10) == ([], "")


async def sql_count(store: TaskStore, task_id: str) -> int | None:
    """Rows of ``task_id`` left in the SQL stores' ``push_configs`` (None: memory)."""
    if isinstance(store, SQLiteTaskStore):
        path = store._path

        def count() -> int:
            with closing(sqlite3.connect(path)) as conn:
                sql = "SELECT count(*) FROM push_configs WHERE task_id = ?"
                return int(conn.execute(sql, (task_id,)).fetchone()[0])

        return await anyio.to_thread.run_sync(count)
    if isinstance(store, MemoryTaskStore):
        return None
    import psycopg

    url = store.url  # type: ignore[attr-defined]

    def pg_count() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            sql = "SELECT count(*) FROM push_configs WHERE task_id = %s"
            row = conn.execute(sql, (task_id,)).fetchone()
            assert row is not None
            return int(row[0])

    return await anyio.to_thread.run_sync(pg_count)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def retaining(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, FakeClock | None]]:
    """A store that deletes finished tasks right away (``retention=0``), and the fake
    clock of the memory store."""
    if request.param == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        url = request.getfixturevalue("postgres_url")
        await anyio.to_thread.run_sync(empty, url)
        async with PostgresTaskStore(url, retention=0) as pg:
            yield push(pg), None
        return
    if request.param == "memory":
        clock = FakeClock()
        async with MemoryTaskStore(retention=0, clock=clock) as mem:
            yield push(mem), clock
        return
    async with SQLiteTaskStore(tmp_path / "tasks.db", retention=0) as lite:
        yield push(lite), None


async def test_the_retention_sweep_deletes_a_tasks_configs(
    retaining: tuple[Store, FakeClock | None],
) -> None:
    s, clock = retaining
    await new_task(s, "t1")
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    assert await append(s, "t1", state=TaskState.COMPLETED) == 2
    if clock is not None:
        clock.now += 1
    # The sweep runs after writes: write until it has taken the task.
    with anyio.fail_after(DEADLINE):
        n = 0
        while await s.get("t1", scope=ALICE) is not None:
            n += 1
            await new_task(s, f"tick-{n}")
            await anyio.sleep(0.01)
    assert await s.get_push_config("t1", "c1", scope=ANY_OWNER) is None
    assert await claim(s, "a") == []
    assert await sql_count(s, "t1") in (None, 0)


# --- two stores on one database ----------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two store instances on one SQLite file or one PostgreSQL schema."""
    if request.param == "postgres":
        from accord.stores.postgres import PostgresTaskStore

        url = request.getfixturevalue("postgres_url")
        await anyio.to_thread.run_sync(empty, url)
        async with PostgresTaskStore(url) as a, PostgresTaskStore(url) as b:
            yield push(a), push(b)
        return
    path = tmp_path / "tasks.db"
    async with SQLiteTaskStore(path) as a, SQLiteTaskStore(path) as b:
        yield push(a), push(b)


async def test_two_instances_never_claim_the_same_config(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = two_stores
    for n in range(6):
        await new_task(a, f"t{n}", events=2)
        for c in range(5):
            await a.put_push_config(f"t{n}", f"c{c}", b"x", scope=ALICE, after_seq=0)
    results: list[list[str]] = []

    async def one(store: Store, holder: str) -> None:
        # Small claims, over and over, until nothing is left for this claimer.
        while keys := await claim(store, holder, limit=3):
            results.append(keys)

    async with anyio.create_task_group() as tg:
        for n, store in enumerate([a, b, a, b, a, b]):
            tg.start_soon(one, store, f"h{n}")
    taken = [key for keys in results for key in keys]
    assert sorted(taken) == sorted(f"t{n}/c{c}" for n in range(6) for c in range(5))


async def test_a_config_written_by_one_instance_is_claimed_by_another(
    two_stores: tuple[Store, Store],
) -> None:
    a, b = two_stores
    await new_task(a, "t1")
    await a.put_push_config("t1", "c1", b"x", scope=ALICE)
    assert await claim(b, "b") == []
    assert await append(a, "t1", state=TaskState.COMPLETED) == 2
    (delivery,) = await b.claim_push_deliveries(holder="b", seconds=60, limit=10)
    assert (delivery.config.delivered_seq, delivery.version) == (1, 2)
    assert not await a.push_delivered("t1", "c1", holder="a", seq=2)
    assert await a.push_delivered("t1", "c1", holder="b", seq=2)
    record = await b.get_push_config("t1", "c1", scope=ALICE)
    assert record is not None
    assert record.delivered_seq == 2


# --- the memory store's bounds -----------------------------------------------------


async def test_memory_store_bounds_the_configs_of_a_task() -> None:
    async with MemoryTaskStore(max_push_configs=2) as mem:
        s = push(mem)
        await new_task(s, "t1")
        await new_task(s, "t2")
        for config_id in ("c1", "c2"):
            await s.put_push_config("t1", config_id, b"x", scope=ALICE)
        with pytest.raises(StoreError, match="max_push_configs"):
            await s.put_push_config("t1", "c3", b"x", scope=ALICE)
        # Replacing one is always possible; another task has its own allowance.
        assert await s.put_push_config("t1", "c2", b"y", scope=ALICE) is not None
        assert await s.put_push_config("t2", "c3", b"x", scope=ALICE) is not None
        assert await s.delete_push_config("t1", "c1", scope=ALICE)
        assert await s.put_push_config("t1", "c3", b"x", scope=ALICE) is not None
    with pytest.raises(ValueError, match="max_push_configs"):
        MemoryTaskStore(max_push_configs=0)


async def test_memory_store_evicts_a_tasks_configs_with_the_task() -> None:
    async with MemoryTaskStore(max_tasks=2) as mem:
        s = push(mem)
        await new_task(s, "done", events=2, state=TaskState.COMPLETED)
        await s.put_push_config("done", "c1", b"x", scope=ALICE, after_seq=0)
        await new_task(s, "t2")
        await new_task(s, "t3")  # evicts "done", the finished task
        assert await s.get("done", scope=ALICE) is None
        assert await s.get_push_config("done", "c1", scope=ANY_OWNER) is None
        assert await claim(s, "a") == []
        assert mem._push == {}


def test_memory_push_reads_the_task_entry_the_store_writes() -> None:
    assert (_memory_push._OWNER, _memory_push._TENANT, _memory_push._VERSION) == (
        memory.OWNER,
        memory.TENANT,
        memory.VERSION,
    )
