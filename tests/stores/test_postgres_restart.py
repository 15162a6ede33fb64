"""PostgreSQL store across lost connections, restarts and outages (a private cluster).

The retry rules under test are the table of :mod:`accord.stores._postgres_retry`:
a call whose connection is lost before COMMIT runs again on a fresh connection; a
write whose COMMIT outcome is unknown is verified, never blindly run again; a down
database fails calls with StoreUnavailableError, fast, and the store serves again by
itself when it is back. Connections are cut for real (``pg_terminate_backend``, the
server stopped); the one seam is the COMMIT step, so that the cut falls exactly there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from urllib.parse import quote

import anyio
import anyio.to_thread
import psycopg
import pytest

from accord.errors import StoreError, StoreUnavailableError
from accord.stores import _postgres_retry as retry
from accord.stores.postgres import PostgresTaskStore
from accord.types import TaskState, replace
from tests.helpers.pg_cluster import PrivateCluster

from ._helpers import ALICE, created, make_task, status_changed

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

Connection = psycopg.Connection[tuple[object, ...]]


def _admin(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql.encode() if not params else sql, params or None)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def schema_url(private_postgres: PrivateCluster) -> Iterator[str]:
    """A fresh schema on the private cluster (its URL selects it); dropped after."""
    schema = f"r_{uuid.uuid4().hex[:12]}"
    _admin(private_postgres.url, f"CREATE SCHEMA {schema}")
    try:
        yield f"{private_postgres.url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        _admin(private_postgres.url, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def store(schema_url: str) -> AsyncIterator[PostgresTaskStore]:
    async with PostgresTaskStore(schema_url, pool_size=4, connect_timeout=5) as opened:
        yield opened


def _calls(store: PostgresTaskStore) -> retry.Calls:
    calls = store._calls
    assert calls is not None
    return calls


def _terminate_clients(url: str) -> int:
    """Terminate every client backend but this one; return how many."""
    rows = _admin(
        url,
        "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    killed = rows[0][0]
    assert isinstance(killed, int)
    return killed


def _cut_once(
    calls: retry.Calls, admin_url: str, *, after_commit: bool
) -> Callable[[Connection], None]:
    """A COMMIT step that, once, loses the connection before or after committing."""
    done = False

    def cut(conn: Connection) -> None:
        nonlocal done
        if done:
            retry.commit(conn)
            return
        done = True
        if after_commit:
            retry.commit(conn)
        _admin(
            admin_url, "SELECT pg_terminate_backend(%s, 10000)", conn.info.backend_pid
        )
        if after_commit:
            conn.execute("SELECT 1")  # the answer to COMMIT is "lost": surface it
        else:
            retry.commit(conn)

    calls.commit = cut
    return cut


async def test_terminated_connections_are_replaced_without_failing_a_call(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    task = make_task("t-1")
    await store.create(task, created(task), scope=ALICE)

    async def get() -> None:
        assert await store.get("t-1", scope=ALICE) is not None

    async with anyio.create_task_group() as tg:  # fill the pool with connections
        for _ in range(8):
            tg.start_soon(get)
    killed = await anyio.to_thread.run_sync(_terminate_clients, private_postgres.url)
    assert killed >= 1
    async with anyio.create_task_group() as tg:  # every call succeeds
        for _ in range(8):
            tg.start_soon(get)
    assert _calls(store).retries >= 1
    assert not _calls(store).unreachable


@pytest.mark.parametrize(
    "after_commit", [True, False], ids=["committed", "rolled-back"]
)
async def test_append_with_unknown_commit_outcome_is_applied_once(
    store: PostgresTaskStore, private_postgres: PrivateCluster, after_commit: bool
) -> None:
    task = make_task("t-1")
    await store.create(task, created(task), scope=ALICE)
    working = replace(task, status=replace(task.status, state=TaskState.WORKING))
    _cut_once(_calls(store), private_postgres.url, after_commit=after_commit)

    record = await store.append(working, status_changed(working), expected_version=1)

    assert record.version == 2
    assert _calls(store).retries == 1
    events = await store.events("t-1", after=0, scope=ALICE)
    assert [e.seq for e in events] == [1, 2]
    stored = await store.get("t-1", scope=ALICE)
    assert stored is not None
    assert stored.version == 2
    assert stored.task.status.state is TaskState.WORKING
    # The store goes on from there: the next append is at version 2.
    done = replace(working, status=replace(working.status, state=TaskState.COMPLETED))
    assert (
        await store.append(done, status_changed(done), expected_version=2)
    ).version == 3


@pytest.mark.parametrize(
    "after_commit", [True, False], ids=["committed", "rolled-back"]
)
async def test_create_with_unknown_commit_outcome_is_applied_once(
    store: PostgresTaskStore, private_postgres: PrivateCluster, after_commit: bool
) -> None:
    task = make_task("t-1")
    _cut_once(_calls(store), private_postgres.url, after_commit=after_commit)

    record = await store.create(task, created(task), scope=ALICE)

    assert record.version == 1
    assert _calls(store).retries == 1
    assert [e.seq for e in await store.events("t-1", after=0, scope=ALICE)] == [1]


async def test_create_with_more_and_unknown_commit_outcome_is_applied_once(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    first = make_task("t-1")
    done = make_task("t-1", state=TaskState.COMPLETED, at=1)
    _cut_once(_calls(store), private_postgres.url, after_commit=True)

    record = await store.create(
        done, created(first), scope=ALICE, more=[status_changed(done)]
    )

    assert (record.version, _calls(store).retries) == (2, 1)
    assert [e.seq for e in await store.events("t-1", after=0, scope=ALICE)] == [1, 2]


async def test_acquire_lease_with_unknown_commit_outcome_returns_the_lease(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    _cut_once(_calls(store), private_postgres.url, after_commit=True)
    lease = await store.acquire_lease("t-1", tenant="", holder="me", seconds=30)
    assert lease is not None
    assert lease.holder == "me"
    # Still exclusive: another holder is refused.
    assert await store.acquire_lease("t-1", tenant="", holder="you", seconds=30) is None


async def test_claim_with_unknown_commit_outcome_fails_and_is_claimed_again(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    await store.acquire_lease("t-1", tenant="", holder="gone", seconds=0.001)
    _cut_once(_calls(store), private_postgres.url, after_commit=True)
    with pytest.raises(StoreUnavailableError, match="unknown"):
        await store.claim_expired(holder="me", seconds=0.001)
    with anyio.fail_after(30):  # the claim committed; it expires and is claimed again
        while not await store.claim_expired(holder="me", seconds=30):  # noqa: ASYNC110 - the database's clock
            await anyio.sleep(0.01)


@pytest.mark.parametrize(
    "after_commit", [True, False], ids=["committed", "rolled-back"]
)
async def test_push_writes_with_unknown_commit_outcome_are_applied_once(
    store: PostgresTaskStore, private_postgres: PrivateCluster, after_commit: bool
) -> None:
    """A one-row push write whose COMMIT answer was lost answers as if it was not:
    True once, the failure counted once."""
    task = make_task("t-1")
    await store.create(task, created(task), scope=ALICE)
    for config_id in ("c1", "c2"):
        await store.put_push_config("t-1", config_id, b"x", scope=ALICE, after_seq=0)
    await store.append(task, status_changed(task), expected_version=1)
    claimed = await store.claim_push_deliveries(holder="me", seconds=60, limit=9)
    assert len(claimed) == 2
    cut = partial(_cut_once, _calls(store), private_postgres.url)

    cut(after_commit=after_commit)
    assert await store.push_failed(
        "t-1", "c1", holder="me", retry_in=3600, reason="503"
    )
    cut(after_commit=after_commit)
    assert await store.push_failed(
        "t-1", "c2", holder="me", retry_in=None, reason="gone"
    )
    record = await store.get_push_config("t-1", "c2", scope=ALICE)
    assert record is not None
    assert (record.failures, record.dead_reason) == (1, "gone")
    cut(after_commit=after_commit)
    assert await store.revive_push_config("t-1", "c2", scope=ALICE)
    cut(after_commit=after_commit)
    assert await store.delete_push_config("t-1", "c1", scope=ALICE)

    assert _calls(store).retries == 4
    page, _ = await store.list_push_configs("t-1", scope=ALICE, page_size=9)
    assert [(r.config_id, r.failures, r.dead_reason) for r in page] == [("c2", 0, "")]


async def test_a_push_claim_with_unknown_commit_outcome_fails(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    task = make_task("t-1")
    await store.create(task, created(task), scope=ALICE)
    await store.put_push_config("t-1", "c1", b"x", scope=ALICE, after_seq=0)
    _cut_once(_calls(store), private_postgres.url, after_commit=True)
    with pytest.raises(StoreUnavailableError, match="unknown"):
        await store.claim_push_deliveries(holder="me", seconds=0.001, limit=9)
    # What it took is claimed again once the lease expires.
    taken: list[object] = []
    with anyio.fail_after(10):
        while not taken:
            taken = list(
                await store.claim_push_deliveries(holder="you", seconds=60, limit=9)
            )
            await anyio.sleep(0.01)


async def test_outage_fails_calls_fast_and_the_store_serves_again(
    store: PostgresTaskStore, private_postgres: PrivateCluster
) -> None:
    task = make_task("t-1")
    await store.create(task, created(task), scope=ALICE)
    await anyio.to_thread.run_sync(private_postgres.stop, "immediate")
    try:
        with anyio.fail_after(60):  # bounded by connect_timeout, never a hang
            with pytest.raises(StoreUnavailableError) as first:
                await store.get("t-1", scope=ALICE)
        assert "unreachable" in str(first.value)
        assert first.value.message == StoreUnavailableError.default_message
        assert _calls(store).unreachable
        with anyio.fail_after(60):  # known down: fails after UNREACHABLE_WAIT
            with pytest.raises(StoreUnavailableError):
                await store.get("t-1", scope=ALICE)
    finally:
        await anyio.to_thread.run_sync(private_postgres.start)
    with anyio.fail_after(60):
        while True:
            try:
                record = await store.get("t-1", scope=ALICE)
                break
            except StoreUnavailableError:
                await anyio.sleep(0.05)
    assert record is not None
    assert not _calls(store).unreachable


async def test_opening_while_the_database_is_down_fails_with_a_clear_error(
    schema_url: str, private_postgres: PrivateCluster
) -> None:
    await anyio.to_thread.run_sync(private_postgres.stop, "fast")
    try:
        with anyio.fail_after(60), pytest.raises(StoreError) as raised:
            async with PostgresTaskStore(schema_url, connect_timeout=1):
                pass
    finally:
        await anyio.to_thread.run_sync(private_postgres.start)
    text = str(raised.value)
    assert f"127.0.0.1:{private_postgres.port}" in text
    assert "check that PostgreSQL is running" in text


async def test_a_busy_pool_is_not_taken_for_a_down_database(schema_url: str) -> None:
    async with PostgresTaskStore(schema_url, pool_size=1, connect_timeout=1) as busy:
        task = make_task("t-1")
        await busy.create(task, created(task), scope=ALICE)
        working = replace(task, status=replace(task.status, state=TaskState.WORKING))
        with psycopg.connect(schema_url) as locker:  # holds the task's row lock
            locker.execute("SELECT 1 FROM tasks WHERE id = 't-1' FOR UPDATE")
            async with anyio.create_task_group() as tg:
                # The append waits for the lock on the pool's only connection.
                tg.start_soon(
                    partial(busy.append, expected_version=1),
                    working,
                    status_changed(working),
                )
                with anyio.fail_after(30):
                    while _calls(busy)._pool.get_stats().get("pool_available", 1):  # noqa: ASYNC110 - the pool's state
                        await anyio.sleep(0.01)
                with pytest.raises(
                    StoreUnavailableError, match="every pooled connection is in use"
                ):
                    await busy.get("t-1", scope=ALICE)
                assert not _calls(busy).unreachable
                locker.rollback()
    assert (await _get_version(schema_url)) == 2


async def _get_version(url: str) -> int:
    async with PostgresTaskStore(url) as store:
        record = await store.get("t-1", scope=ALICE)
    assert record is not None
    return record.version


class _Conn:
    """What connection_lost reads of a connection."""

    def __init__(self, *, broken: bool = False, closed: bool = False) -> None:
        self.broken = broken
        self.closed = closed


@pytest.mark.parametrize(
    ("exc", "conn", "lost"),
    [
        # A pipeline the server cut: psycopg has not marked the connection broken yet.
        (
            psycopg.OperationalError("cannot exit pipeline mode while busy"),
            _Conn(),
            True,
        ),
        (
            psycopg.OperationalError("server closed the connection"),
            _Conn(broken=True),
            True,
        ),
        (psycopg.errors.AdminShutdown("terminating connection"), _Conn(), True),
        # A statement's own errors (they carry a SQLSTATE), on a healthy connection.
        (psycopg.errors.QueryCanceled("statement timeout"), _Conn(), False),
        (psycopg.errors.QueryCanceled("statement timeout"), _Conn(closed=True), True),
        (psycopg.errors.UniqueViolation("duplicate key"), _Conn(), False),
    ],
)
def test_what_counts_as_a_lost_connection(
    exc: BaseException, conn: _Conn, lost: bool
) -> None:
    assert retry.connection_lost(exc, conn) is lost  # type: ignore[arg-type]
