"""The TaskStore contract, run against every store (see ``conftest.store``)."""

from __future__ import annotations

import base64

import anyio
import pytest

from accord.errors import ConflictError, InvalidParamsError
from accord.stores import Scope, TaskQuery, TaskStore
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

pytestmark = pytest.mark.anyio


async def ids(store: TaskStore, query: TaskQuery) -> list[str]:
    page = await store.list(query)
    return [task.id for task in page.tasks]


# --- create / get ---------------------------------------------------------------------


async def test_create_then_get(store: TaskStore) -> None:
    task = make_task("t1")
    record = await store.create(task, created(task), scope=ALICE)
    assert (record.task, record.owner, record.tenant, record.version) == (
        task,
        "alice",
        "",
        1,
    )
    assert await store.get("t1", scope=ALICE) == record


async def test_get_unknown_task_is_none(store: TaskStore) -> None:
    assert await store.get("nope", scope=ALICE) is None


async def test_create_existing_id_conflicts(store: TaskStore) -> None:
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)
    with pytest.raises(ConflictError, match="already exists"):
        await store.create(task, created(task), scope=BOB)
    record = await store.get("t1", scope=ALICE)
    assert record is not None
    assert record.version == 1


async def test_create_with_more_writes_the_first_events_at_once(
    store: TaskStore,
) -> None:
    first = make_task("t1")
    working = make_task("t1", state=TaskState.WORKING, at=1)
    done = make_task("t1", state=TaskState.COMPLETED, at=2, note="done")
    record = await store.create(
        done,
        created(first),
        scope=ALICE,
        more=[status_changed(working), status_changed(done)],
    )
    assert (record.task, record.version) == (done, 3)
    assert await store.get("t1", scope=ALICE) == record
    log = await store.events("t1", after=0, scope=ALICE)
    assert [(e.seq, e.event) for e in log] == [
        (1, created(first)),
        (2, status_changed(working)),
        (3, status_changed(done)),
    ]
    # Finished at creation: listed by its state, and the log is whole.
    page = await store.list(TaskQuery(scope=ALICE, state=TaskState.COMPLETED))
    assert [t.id for t in page.tasks] == ["t1"]
    assert await store.events("t1", after=2, scope=ALICE) == log[2:]


async def test_create_with_more_goes_on_with_appends(store: TaskStore) -> None:
    first = make_task("t1")
    working = make_task("t1", state=TaskState.WORKING, at=1)
    await store.create(
        working, created(first), scope=ALICE, more=[status_changed(working)]
    )
    done = make_task("t1", state=TaskState.COMPLETED, at=2)
    with pytest.raises(ConflictError):
        await store.append(done, status_changed(done), expected_version=1)
    record = await store.append(done, status_changed(done), expected_version=2)
    assert record.version == 3
    assert [e.seq for e in await store.events("t1", after=0, scope=ALICE)] == [
        1,
        2,
        3,
    ]


async def test_create_needs_a_concrete_owner(store: TaskStore) -> None:
    task = make_task("t1")
    with pytest.raises(ValueError, match="owner"):
        await store.create(task, created(task), scope=ANY_OWNER)


# --- scope isolation (spec §13.1) -----------------------------------------------------


@pytest.mark.parametrize(
    "outsider",
    [BOB, Scope(tenant="acme", owner="alice"), Scope(tenant="acme", owner=None)],
    ids=["other-owner", "other-tenant", "any-owner-other-tenant"],
)
async def test_task_outside_scope_does_not_exist(
    store: TaskStore, outsider: Scope
) -> None:
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)

    assert await store.get("t1", scope=outsider) is None
    assert await store.events("t1", after=0, scope=outsider) == []
    page = await store.list(TaskQuery(scope=outsider))
    assert (page.tasks, page.total_size, page.next_cursor) == ((), 0, "")


async def test_any_owner_scope_sees_every_owner_of_its_tenant(store: TaskStore) -> None:
    for task_id, scope in [("a", ALICE), ("b", BOB), ("c", ALICE_AT_ACME)]:
        task = make_task(task_id)
        await store.create(task, created(task), scope=scope)

    record = await store.get("b", scope=ANY_OWNER)
    assert record is not None
    assert record.owner == "bob"
    assert len(await store.events("b", after=0, scope=ANY_OWNER)) == 1
    assert await ids(store, TaskQuery(scope=ANY_OWNER)) == ["b", "a"]
    assert await ids(store, TaskQuery(scope=ALICE)) == ["a"]
    assert await ids(store, TaskQuery(scope=ALICE_AT_ACME)) == ["c"]


# --- append and the event log ---------------------------------------------------------


async def test_append_bumps_version_and_replaces_snapshot(store: TaskStore) -> None:
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE_AT_ACME)
    working = make_task("t1", state=TaskState.WORKING, at=5, note="busy")

    record = await store.append(working, status_changed(working), expected_version=1)

    assert (record.task, record.owner, record.tenant, record.version) == (
        working,
        "alice",
        "acme",
        2,
    )
    assert await store.get("t1", scope=ALICE_AT_ACME) == record


async def test_append_with_stale_version_conflicts(store: TaskStore) -> None:
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)
    working = make_task("t1", state=TaskState.WORKING, at=1)
    await store.append(working, status_changed(working), expected_version=1)
    done = make_task("t1", state=TaskState.COMPLETED, at=2)

    with pytest.raises(ConflictError, match="version"):
        await store.append(done, status_changed(done), expected_version=1)

    record = await store.get("t1", scope=ALICE)
    assert record is not None
    assert (record.version, record.task) == (2, working)
    assert len(await store.events("t1", after=0, scope=ALICE)) == 2


async def test_append_to_unknown_task_conflicts(store: TaskStore) -> None:
    task = make_task("ghost", state=TaskState.WORKING)
    with pytest.raises(ConflictError, match="does not exist"):
        await store.append(task, status_changed(task), expected_version=1)


async def test_events_are_ordered_and_resume_after_a_seq(store: TaskStore) -> None:
    first = make_task("t1")
    await store.create(first, created(first), scope=ALICE)
    sent = [created(first)]
    for version, note in enumerate(["a", "b", "c", "d"], start=1):
        task = make_task("t1", state=TaskState.WORKING, at=version, note=note)
        event = status_changed(task)
        await store.append(task, event, expected_version=version)
        sent.append(event)

    log = await store.events("t1", after=0, scope=ALICE)
    assert [(e.task_id, e.seq) for e in log] == [("t1", n) for n in range(1, 6)]
    assert [e.event for e in log] == sent
    assert [e.seq for e in await store.events("t1", after=3, scope=ALICE)] == [4, 5]
    assert await store.events("t1", after=5, scope=ALICE) == []
    assert await store.events("unknown", after=0, scope=ALICE) == []


async def test_concurrent_appends_one_wins(store: TaskStore) -> None:
    task = make_task("t1")
    await store.create(task, created(task), scope=ALICE)
    outcomes: list[str] = []

    async def attempt(n: int) -> None:
        update = make_task("t1", state=TaskState.WORKING, at=1, note=f"w{n}")
        try:
            await store.append(update, status_changed(update), expected_version=1)
        except ConflictError:
            outcomes.append("conflict")
        else:
            outcomes.append("ok")

    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(attempt, n)

    assert sorted(outcomes) == ["conflict"] * 4 + ["ok"]
    assert [e.seq for e in await store.events("t1", after=0, scope=ALICE)] == [1, 2]


# --- ListTasks filters (spec §3.1.4) --------------------------------------------------


async def seed_for_filters(store: TaskStore) -> None:
    """Six tasks over two contexts and several states; ids sort like their age."""
    rows = [
        ("t1", "ctx-a", TaskState.COMPLETED, 10),
        ("t2", "ctx-a", TaskState.WORKING, 20),
        ("t3", "ctx-b", TaskState.WORKING, 30),
        ("t4", "ctx-b", TaskState.COMPLETED, 40),
        ("t5", "ctx-a", TaskState.WORKING, 50),
        ("t6", "ctx-b", TaskState.INPUT_REQUIRED, 60),
    ]
    for task_id, context_id, state, at in rows:
        task = make_task(task_id, state=state, at=at, context_id=context_id)
        await store.create(task, created(task), scope=ALICE)
    other = make_task("bob-1", state=TaskState.WORKING, at=55, context_id="ctx-a")
    await store.create(other, created(other), scope=BOB)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["t6", "t5", "t4", "t3", "t2", "t1"]),
        ({"context_id": "ctx-a"}, ["t5", "t2", "t1"]),
        ({"state": TaskState.WORKING}, ["t5", "t3", "t2"]),
        ({"state": TaskState.UNSPECIFIED}, ["t6", "t5", "t4", "t3", "t2", "t1"]),
        ({"status_after": ts(40)}, ["t6", "t5", "t4"]),  # inclusive bound
        ({"status_after": "2025-01-01T00:00:40Z"}, ["t6", "t5", "t4"]),
        ({"context_id": "ctx-b", "state": TaskState.WORKING}, ["t3"]),
        ({"context_id": "ctx-a", "status_after": ts(15)}, ["t5", "t2"]),
        (
            {"context_id": "ctx-a", "state": TaskState.WORKING, "status_after": ts(30)},
            ["t5"],
        ),
        ({"context_id": "ctx-none"}, []),
        ({"state": TaskState.CANCELED}, []),
    ],
)
async def test_list_filters(
    store: TaskStore, filters: dict[str, object], expected: list[str]
) -> None:
    await seed_for_filters(store)
    page = await store.list(TaskQuery(scope=ALICE, **filters))  # type: ignore[arg-type]
    assert [t.id for t in page.tasks] == expected
    assert page.total_size == len(expected)
    assert page.next_cursor == ""


async def test_list_orders_newest_first_ties_by_id_untimed_last(
    store: TaskStore,
) -> None:
    for task_id, at in [("b", 5), ("a", 5), ("c", 5), ("old", 1), ("x", None)]:
        task = make_task(task_id, at=at)
        await store.create(task, created(task), scope=ALICE)
    assert await ids(store, TaskQuery(scope=ALICE)) == ["c", "b", "a", "old", "x"]
    # A task without a status timestamp cannot be "at or after" any time.
    assert await ids(store, TaskQuery(scope=ALICE, status_after=ts(0))) == [
        "c",
        "b",
        "a",
        "old",
    ]


async def test_list_follows_updates(store: TaskStore) -> None:
    for task_id, at in [("t1", 1), ("t2", 2)]:
        task = make_task(task_id, at=at)
        await store.create(task, created(task), scope=ALICE)
    done = make_task("t1", state=TaskState.COMPLETED, at=3)
    await store.append(done, status_changed(done), expected_version=1)

    page = await store.list(TaskQuery(scope=ALICE))
    assert page.tasks == (done, make_task("t2", at=2))
    assert await ids(store, TaskQuery(scope=ALICE, state=TaskState.SUBMITTED)) == ["t2"]


# --- ListTasks pagination -------------------------------------------------------


async def test_pagination_walks_every_page(store: TaskStore) -> None:
    times: list[int | None] = [7, 3, 3, 3, 9, None, 1, 5, None, 8]
    for n, at in enumerate(times):
        task = make_task(f"t{n}", at=at)
        await store.create(task, created(task), scope=ALICE)
    everything = await ids(store, TaskQuery(scope=ALICE, page_size=100))
    assert everything == ["t4", "t9", "t0", "t7", "t3", "t2", "t1", "t6", "t8", "t5"]

    seen: list[str] = []
    sizes: list[int] = []
    cursor = ""
    while True:
        page = await store.list(TaskQuery(scope=ALICE, page_size=3, cursor=cursor))
        assert page.total_size == 10
        seen += [t.id for t in page.tasks]
        sizes.append(len(page.tasks))
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == everything
    assert sizes == [3, 3, 3, 1]


async def test_pagination_with_filters(store: TaskStore) -> None:
    await seed_for_filters(store)
    query = TaskQuery(scope=ALICE, context_id="ctx-a", page_size=2)
    first = await store.list(query)
    assert ([t.id for t in first.tasks], first.total_size) == (["t5", "t2"], 3)
    assert first.next_cursor
    second = await store.list(
        TaskQuery(
            scope=ALICE, context_id="ctx-a", page_size=2, cursor=first.next_cursor
        )
    )
    assert ([t.id for t in second.tasks], second.total_size) == (["t1"], 3)
    assert second.next_cursor == ""


async def test_exact_final_page_has_empty_cursor(store: TaskStore) -> None:
    for n in range(4):
        task = make_task(f"t{n}", at=n)
        await store.create(task, created(task), scope=ALICE)
    first = await store.list(TaskQuery(scope=ALICE, page_size=2))
    second = await store.list(
        TaskQuery(scope=ALICE, page_size=2, cursor=first.next_cursor)
    )
    assert [t.id for t in second.tasks] == ["t1", "t0"]
    assert second.next_cursor == ""


async def test_pages_do_not_shift_when_newer_tasks_arrive(store: TaskStore) -> None:
    for n in range(4):
        task = make_task(f"t{n}", at=n)
        await store.create(task, created(task), scope=ALICE)
    first = await store.list(TaskQuery(scope=ALICE, page_size=2))
    newest = make_task("new", at=100)
    await store.create(newest, created(newest), scope=ALICE)
    second = await store.list(
        TaskQuery(scope=ALICE, page_size=2, cursor=first.next_cursor)
    )
    assert [t.id for t in second.tasks] == ["t1", "t0"]
    assert second.total_size == 5


def _b64(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "abc",
        _b64(b"2|2025-01-01T00:00:00.000Z|t1"),
        _b64(b"1|yesterday|t1"),
        _b64(b"1|t1"),
        _b64(b"\xff\xfe|"),
        "A" * 500,
    ],
)
async def test_unparsable_cursor_is_invalid_params(
    store: TaskStore, cursor: str
) -> None:
    with pytest.raises(InvalidParamsError, match="invalid pageToken") as caught:
        await store.list(TaskQuery(scope=ALICE, cursor=cursor))
    assert caught.value.field_violations[0][0] == "pageToken"
    assert len(caught.value.message) < 120


# --- recovery and purging -------------------------------------------------------------


async def test_unfinished_lists_submitted_and_working_of_everyone(
    store: TaskStore,
) -> None:
    rows = [
        ("s", TaskState.SUBMITTED, ALICE),
        ("w", TaskState.WORKING, BOB),
        ("w2", TaskState.WORKING, ALICE_AT_ACME),
        ("i", TaskState.INPUT_REQUIRED, ALICE),
        ("a", TaskState.AUTH_REQUIRED, ALICE),
        ("c", TaskState.COMPLETED, ALICE),
        ("f", TaskState.FAILED, BOB),
    ]
    for task_id, state, scope in rows:
        task = make_task(task_id, state=state)
        await store.create(task, created(task), scope=scope)
    done = make_task("s", state=TaskState.CANCELED, at=1)
    await store.append(done, status_changed(done), expected_version=1)

    found = {
        (r.task.id, r.owner, r.tenant, r.version) for r in await store.unfinished()
    }
    assert found == {("w", "bob", "", 1), ("w2", "alice", "acme", 1)}


async def test_purge_finished_deletes_old_terminal_tasks_only(store: TaskStore) -> None:
    rows = [
        ("old-done", TaskState.COMPLETED, 10),
        ("old-failed", TaskState.FAILED, 20),
        ("old-working", TaskState.WORKING, 10),
        ("old-input", TaskState.INPUT_REQUIRED, 10),
        ("new-done", TaskState.COMPLETED, 40),
        ("edge-done", TaskState.REJECTED, 30),
    ]
    for task_id, state, at in rows:
        task = make_task(task_id, state=state, at=at)
        await store.create(task, created(task), scope=ALICE)
    other = make_task("bob-old", state=TaskState.CANCELED, at=5)
    await store.create(other, created(other), scope=BOB)

    assert await store.purge_finished(older_than=ts(30)) == 3

    assert await store.get("old-done", scope=ALICE) is None
    assert await store.events("old-done", after=0, scope=ALICE) == []
    remaining = await ids(store, TaskQuery(scope=ANY_OWNER))
    assert remaining == ["new-done", "edge-done", "old-working", "old-input"]
    assert await store.purge_finished(older_than=ts(30)) == 0


async def test_purged_id_can_be_reused(store: TaskStore) -> None:
    task = make_task("t1", state=TaskState.COMPLETED, at=1)
    await store.create(task, created(task), scope=ALICE)
    await store.purge_finished(older_than=ts(2))
    again = make_task("t1")
    record = await store.create(again, created(again), scope=BOB)
    assert record.version == 1
    assert [e.seq for e in await store.events("t1", after=0, scope=BOB)] == [1]


# --- concurrency and cancellation -----------------------------------------------------


async def test_many_concurrent_callers(store: TaskStore) -> None:
    async def life(n: int) -> None:
        task = make_task(f"t{n:02d}", at=n)
        await store.create(task, created(task), scope=ALICE)
        for version, state in enumerate([TaskState.WORKING, TaskState.COMPLETED], 1):
            update = make_task(f"t{n:02d}", state=state, at=n + version)
            await store.append(update, status_changed(update), expected_version=version)
            assert await store.get(f"t{n:02d}", scope=ALICE) is not None
        assert len(await store.events(f"t{n:02d}", after=0, scope=ALICE)) == 3

    async with anyio.create_task_group() as tg:
        for n in range(30):
            tg.start_soon(life, n)

    page = await store.list(TaskQuery(scope=ALICE, state=TaskState.COMPLETED))
    assert page.total_size == 30
    assert await store.unfinished() == []


async def test_cancelled_write_is_complete_or_absent(store: TaskStore) -> None:
    task = make_task("t1")
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.create(task, created(task), scope=ALICE)
    record = await store.get("t1", scope=ALICE)
    if record is not None:
        assert record.version == 1
        assert [e.seq for e in await store.events("t1", after=0, scope=ALICE)] == [1]
