"""PostgreSQL store: migrations, row-level security, races, purges, errors, layout.

The contract itself runs in ``test_contract.py``; these tests cover what only the
PostgreSQL store has, against the real server (a fresh schema per test).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from accord.cli._errors import UsageError
from accord.cli.commands.serve import load_app
from accord.cli.main import main as cli_main
from accord.errors import ConflictError, StoreError
from accord.stores import Scope, TaskQuery, migrate, open_store
from accord.stores import _postgres_retention as pg_retention
from accord.stores._common import encode_cursor
from accord.stores._postgres_list import list_statements
from accord.stores.postgres import PostgresTaskStore
from accord.stores.postgres_db import apply_migrations, migrations
from accord.types import Artifact, Part, StreamResponse, Task, TaskState, replace

from ._helpers import ALICE, ALICE_AT_ACME, created, make_task, status_changed, ts
from ._postgres import admin, fresh_schema, schema_url
from .test_sqlite_layout import _edit as layout_edit
from .test_sqlite_layout import _edits as layout_edits

pytestmark = pytest.mark.anyio


@pytest.fixture
async def schema() -> AsyncIterator[tuple[str, str]]:
    """``(schema, url)`` of an empty schema, dropped afterwards."""
    async with fresh_schema() as made:
        yield made


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql.encode())
        return cur.fetchall() if cur.description else []


async def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run ``sql`` on ``url`` as its user, in a worker thread."""
    return await anyio.to_thread.run_sync(_rows, url, sql)


# --- migrations -----------------------------------------------------------------


async def test_migrate_applies_each_version_once(schema: tuple[str, str]) -> None:
    _, url = schema
    assert await anyio.to_thread.run_sync(migrate, url) == [1, 2, 3, 4, 5, 6, 7]
    assert await anyio.to_thread.run_sync(migrate, url) == []
    assert await rows(url, "SELECT version FROM schema_version ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
        (7,),
    ]


async def test_concurrent_migrators_apply_each_version_exactly_once(
    schema: tuple[str, str],
) -> None:
    _, url = schema
    results: list[list[int]] = []

    async def one() -> None:
        results.append(await anyio.to_thread.run_sync(migrate, url))

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)

    assert sorted(results) == [[], [], [], [], [], [1, 2, 3, 4, 5, 6, 7]]
    assert await rows(url, "SELECT version FROM schema_version ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
        (7,),
    ]


async def test_a_later_migration_applies_on_top(schema: tuple[str, str]) -> None:
    _, url = schema
    later = len(migrations()) + 1
    extra = (*migrations(), (later, "CREATE TABLE later (x integer);"))

    def run() -> list[int]:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
            return apply_migrations(conn, extra)

    assert await anyio.to_thread.run_sync(run) == [later]
    assert await rows(url, "SELECT count(*) FROM later") == [(0,)]


async def test_migrate_and_open_refuse_a_newer_schema(
    schema: tuple[str, str],
) -> None:
    _, url = schema
    await anyio.to_thread.run_sync(migrate, url)
    await rows(
        url, "INSERT INTO schema_version (version) VALUES (99) RETURNING version"
    )

    with pytest.raises(StoreError, match=r"schema version 99.*upgrade Accord"):
        await anyio.to_thread.run_sync(migrate, url)
    with pytest.raises(StoreError, match="schema version 99"):
        async with PostgresTaskStore(url):
            pass


async def test_store_without_migrate_needs_a_migrated_schema(
    schema: tuple[str, str],
) -> None:
    _, url = schema
    with pytest.raises(StoreError, match="accord db migrate"):
        async with PostgresTaskStore(url, migrate=False):
            pass
    await anyio.to_thread.run_sync(migrate, url)
    async with PostgresTaskStore(url, migrate=False) as store:
        assert await store.get("t1", scope=ALICE) is None


async def test_cli_db_migrate_on_postgres(
    schema: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = schema
    assert await anyio.to_thread.run_sync(cli_main, ["db", "migrate", "--db", url]) == 0
    assert "applied migration 0001" in capsys.readouterr().out
    code = await anyio.to_thread.run_sync(
        cli_main, ["db", "migrate", "--db", url, "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["applied"] == []


async def test_serve_wraps_an_agent_in_the_postgres_store(
    schema: tuple[str, str],
) -> None:
    _, url = schema
    app, _ = await anyio.to_thread.run_sync(load_app, "tests.cli.agents:agent", url)
    assert isinstance(app.store, PostgresTaskStore)
    # Migrated up front, so a bad --db fails before the server starts.
    assert await rows(url, "SELECT version FROM schema_version ORDER BY 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
        (7,),
    ]


def test_serve_refuses_the_demo_on_postgres() -> None:
    with pytest.raises(UsageError, match="Receptionist keeps its tables in SQLite"):
        load_app(None, "postgresql://postgres@127.0.0.1/test")


def test_open_store_picks_the_store_by_the_db_value() -> None:
    assert isinstance(open_store("postgresql://u@h/db"), PostgresTaskStore)
    assert isinstance(open_store("postgres://u@h/db"), PostgresTaskStore)
    assert not isinstance(open_store("tasks.db"), PostgresTaskStore)


# --- races between instances ----------------------------------------------------


async def test_two_instances_racing_appends_one_wins(schema: tuple[str, str]) -> None:
    _, url = schema
    async with PostgresTaskStore(url) as a, PostgresTaskStore(url) as b:
        task = make_task("t1")
        await a.create(task, created(task), scope=ALICE)
        outcomes: list[str] = []

        async def attempt(store: PostgresTaskStore, n: int) -> None:
            update = make_task("t1", state=TaskState.WORKING, at=1, note=f"w{n}")
            try:
                await store.append(update, status_changed(update), expected_version=1)
            except ConflictError:
                outcomes.append("conflict")
            else:
                outcomes.append("ok")

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(attempt, a if n % 2 else b, n)

        assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
        assert [e.seq for e in await b.events("t1", after=0, scope=ALICE)] == [1, 2]


async def test_an_instance_notices_another_instances_write(
    schema: tuple[str, str],
) -> None:
    """A remembered snapshot is not used once another instance moved the task on."""
    _, url = schema
    async with PostgresTaskStore(url) as a, PostgresTaskStore(url) as b:
        task = _with_chunk(make_task("t1", state=TaskState.WORKING), "a0")
        await a.create(task, created(task), scope=ALICE)
        on_a = _with_chunk(task, "a1")
        await a.append(on_a, _chunk(on_a, "a1"), expected_version=1)
        # B writes a different artifact (fewer parts) at version 3.
        on_b = _with_chunk(make_task("t1", state=TaskState.WORKING), "b0")
        await b.append(on_b, _chunk(on_b, "b0"), expected_version=2)
        # A goes on from B's snapshot; its memory of version 2 must not be used.
        again = _with_chunk(on_b, "a2")
        await a.append(again, _chunk(again, "a2"), expected_version=3)

        for store in (a, b):
            record = await store.get("t1", scope=ALICE)
            assert record is not None
            assert (record.version, record.task) == (4, again)


# --- row-level security ---------------------------------------------------------


@pytest.fixture
async def app_role(schema: tuple[str, str]) -> AsyncIterator[tuple[str, str]]:
    """``(role, url)``: a migrated schema and a non-superuser role that uses it.

    Superusers and table owners bypass row-level security; the role owns nothing.
    """
    name, url = schema
    await anyio.to_thread.run_sync(migrate, url)
    role = f"accord_app_{uuid.uuid4().hex[:12]}"
    await anyio.to_thread.run_sync(admin, f"CREATE ROLE {role} LOGIN")
    grants = (
        f"GRANT USAGE ON SCHEMA {name} TO {role};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {name} TO {role}"
    )
    await anyio.to_thread.run_sync(admin, grants)
    try:
        yield role, schema_url(name, user=role)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                admin, f"DROP OWNED BY {role}; DROP ROLE {role}"
            )


async def test_row_level_security_scopes_every_query(
    app_role: tuple[str, str],
) -> None:
    _, url = app_role
    async with PostgresTaskStore(url, row_level_security=True, migrate=False) as store:
        for task_id, scope in [("home", ALICE), ("acme", ALICE_AT_ACME)]:
            task = make_task(task_id)
            await store.create(task, created(task), scope=scope)
            working = make_task(task_id, state=TaskState.WORKING, at=1, note="hi")
            await store.append(working, status_changed(working), expected_version=1)

        # The store works as the role: its transactions set the tenant.
        record = await store.get("acme", scope=ALICE_AT_ACME)
        assert record is not None
        assert record.version == 2
        assert [r.task.id for r in await store.unfinished()] == ["home", "acme"]
        page = await store.list(TaskQuery(scope=ALICE_AT_ACME))
        assert [t.id for t in page.tasks] == ["acme"]

    def raw() -> tuple[list[tuple[object, ...]], ...]:
        with psycopg.connect(url, autocommit=True) as conn:
            forgot = [
                conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
                for table in (
                    "tasks",
                    "task_events",
                    "task_messages",
                    "task_artifacts",
                    "task_parts",
                )
            ]
            with conn.transaction():
                conn.execute("SELECT set_config('accord.tenant', 'acme', true)")
                acme = conn.execute("SELECT id FROM tasks").fetchall()
                events = conn.execute("SELECT count(*) FROM task_events").fetchall()
            return forgot, acme, events

    forgot, acme, events = await anyio.to_thread.run_sync(raw)
    assert forgot == [(0,)] * 5  # a query that forgets the tenant sees nothing
    assert acme == [("acme",)]
    assert events == [(2,)]


async def test_row_level_security_scopes_push_configs(
    app_role: tuple[str, str],
) -> None:
    _, url = app_role
    acme_any = Scope(tenant="acme", owner=None)
    async with PostgresTaskStore(url, row_level_security=True, migrate=False) as store:
        for task_id, scope in [("home", ALICE), ("acme", ALICE_AT_ACME)]:
            task = make_task(task_id)
            await store.create(task, created(task), scope=scope)
            working = make_task(task_id, state=TaskState.WORKING, at=1)
            await store.append(working, status_changed(working), expected_version=1)
            config = await store.put_push_config(
                task_id, "c1", task_id.encode(), scope=scope, after_seq=0
            )
            assert config is not None
        # A put through another tenant's session finds no task.
        assert await store.put_push_config("home", "c2", b"x", scope=acme_any) is None
        # Delivery is maintenance: it spans tenants.
        taken = await store.claim_push_deliveries(holder="a", seconds=60, limit=10)
        assert sorted(d.config.task_id for d in taken) == ["acme", "home"]
        assert await store.push_failed(
            "acme", "c1", holder="a", retry_in=None, reason="gone"
        )
        dead = await store.dead_push_configs(scope=acme_any)
        assert [(r.task_id, r.dead_reason) for r in dead] == [("acme", "gone")]
        assert await store.dead_push_configs(scope=Scope(tenant="", owner=None)) == []
        assert await store.revive_push_config("acme", "c1", scope=ALICE_AT_ACME)
        page, _ = await store.list_push_configs(
            "acme", scope=ALICE_AT_ACME, page_size=9
        )
        assert [(r.task_id, r.data) for r in page] == [("acme", b"acme")]

    def forge(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Write a config of tenant "" through tenant acme's session."""
        with conn.transaction():
            conn.execute("SELECT set_config('accord.tenant', 'acme', true)")
            conn.execute(
                "INSERT INTO push_configs (task_id, config_id, tenant, owner, data,"
                " delivered_seq) VALUES ('home', 'c9', '', 'alice', '', 0)"
            )

    def raw() -> tuple[object, ...]:
        with psycopg.connect(url, autocommit=True) as conn:
            forgot = conn.execute("SELECT count(*) FROM push_configs").fetchall()
            with conn.transaction():
                conn.execute("SELECT set_config('accord.tenant', 'acme', true)")
                acme = conn.execute("SELECT task_id FROM push_configs").fetchall()
                # Tenant A's session cannot touch tenant B's configs either.
                touched = conn.execute(
                    "UPDATE push_configs SET holder = 'x' WHERE task_id = 'home'"
                ).rowcount
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                forge(conn)
            return forgot, acme, touched

    forgot, acme, touched = await anyio.to_thread.run_sync(raw)
    assert forgot == [(0,)]  # a query that forgets the tenant sees nothing
    assert acme == [("acme",)]
    assert touched == 0


async def test_without_row_level_security_the_role_sees_nothing(
    app_role: tuple[str, str],
) -> None:
    """The policies hold for a role that does not own the tables: the store must set
    the tenant (``row_level_security=True``) to see its own rows."""
    _, url = app_role
    async with PostgresTaskStore(url, migrate=False) as store:
        task = make_task("t1")
        with pytest.raises(StoreError, match="row-level security"):
            await store.create(task, created(task), scope=ALICE)


# --- push delivery ---------------------------------------------------------------


async def test_a_claim_does_not_skip_configs_of_a_task_being_written(
    schema: tuple[str, str],
) -> None:
    """The claim locks config rows only: a task row that an append holds (``FOR NO
    KEY UPDATE``) neither hides its configs nor makes the claim wait."""
    _, url = schema
    async with PostgresTaskStore(url, statement_timeout=5) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        await store.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
        with psycopg.connect(url) as writer:  # a transaction left open
            writer.execute("SELECT 1 FROM tasks WHERE id = 't1' FOR NO KEY UPDATE")
            taken = await store.claim_push_deliveries(holder="a", seconds=60, limit=9)
            writer.rollback()
        assert [(d.config.config_id, d.version) for d in taken] == [("c1", 1)]


# --- purge and retention in bounded batches -------------------------------------

# A statement-level trigger logs how many task rows each DELETE statement removed.
_DELETE_LOG = """
CREATE TABLE delete_log (n integer NOT NULL);
CREATE FUNCTION log_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO delete_log SELECT count(*) FROM gone; RETURN NULL; END $$;
CREATE TRIGGER log_deletes AFTER DELETE ON tasks REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION log_deletes();
"""


async def test_purge_deletes_in_bounded_batches(
    schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = schema
    monkeypatch.setattr(pg_retention, "PURGE_BATCH", 3)
    async with PostgresTaskStore(url) as store:
        await rows(url, _DELETE_LOG)
        for n in range(8):
            task = make_task(f"old-{n}", state=TaskState.COMPLETED, at=n)
            await store.create(task, created(task), scope=ALICE)
        young = make_task("young", state=TaskState.COMPLETED, at=50)
        await store.create(young, created(young), scope=ALICE)

        assert await store.purge_finished(older_than=ts(40)) == 8

        assert await rows(url, "SELECT n FROM delete_log") == [(3,), (3,), (2,)]
        assert await rows(url, "SELECT count(*) FROM task_events") == [(1,)]
        assert await store.get("young", scope=ALICE) is not None


async def test_retention_sweeps_in_bounded_batches_after_writes(
    schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = schema
    async with PostgresTaskStore(url) as store:
        for n in range(5):
            old = make_task(f"old-{n}", state=TaskState.COMPLETED)
            await store.create(old, created(old), scope=ALICE)
        for task in (
            make_task("recent", state=TaskState.COMPLETED),
            make_task("old-but-running", state=TaskState.WORKING),
        ):
            await store.create(task, created(task), scope=ALICE)
    await rows(
        url,
        "UPDATE tasks SET updated_at = now() - interval '2 hours' WHERE id LIKE 'old%'",
    )
    monkeypatch.setattr(pg_retention, "PURGE_BATCH", 2)
    monkeypatch.setattr(pg_retention, "SWEEP_BATCHES", 2)
    left = "SELECT id FROM tasks WHERE id LIKE 'old-%' ORDER BY id"

    async with PostgresTaskStore(url, retention=3600) as store:
        first = make_task("w1")
        await store.create(first, created(first), scope=ALICE)
        # One sweep deletes at most two batches of two...
        assert len(await rows(url, left)) == 2
        # ...and a backlog makes the next write sweep again, without waiting.
        second = make_task("w2")
        await store.create(second, created(second), scope=ALICE)
        assert await rows(url, left) == [("old-but-running",)]
        assert await store.get("recent", scope=ALICE) is not None


async def test_a_failed_sweep_does_not_fail_the_write(
    schema: tuple[str, str],
    app_role: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    role, url = app_role
    revoke = f"REVOKE DELETE ON {schema[0]}.tasks FROM {role}"
    await anyio.to_thread.run_sync(admin, revoke)
    async with PostgresTaskStore(
        url, retention=0, row_level_security=True, migrate=False
    ) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        assert await store.get("t1", scope=ALICE) is not None
    assert "retention sweep failed" in caplog.text
    assert "permission denied" in caplog.text


# --- errors ---------------------------------------------------------------------


async def test_unreachable_server_is_a_store_error_saying_what_to_do() -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/test"
    with pytest.raises(
        StoreError, match=r"within 0\.5 s; check that PostgreSQL is running"
    ) as caught:
        async with PostgresTaskStore(url, connect_timeout=0.5):
            pass
    assert "secret" not in str(caught.value)
    with pytest.raises(StoreError, match="cannot reach postgresql://postgres@"):
        await anyio.to_thread.run_sync(migrate, url)


async def test_a_statement_stuck_on_a_lock_times_out(schema: tuple[str, str]) -> None:
    _, url = schema
    # Migrate first with the default timeout: the DDL of a migration can take longer
    # than the short timeout below on a busy machine; only the append must hit it.
    await anyio.to_thread.run_sync(migrate, url)
    async with PostgresTaskStore(url, statement_timeout=0.5, migrate=False) as store:
        task = make_task("t1")
        await store.create(task, created(task), scope=ALICE)
        holder: psycopg.Connection[tuple[object, ...]]
        holder = await anyio.to_thread.run_sync(lambda: psycopg.connect(url))
        try:
            lock = "SELECT 1 FROM tasks WHERE id = 't1' FOR UPDATE"
            await anyio.to_thread.run_sync(holder.execute, lock)  # opens a transaction
            working = make_task("t1", state=TaskState.WORKING, at=1)
            with pytest.raises(StoreError, match=r"cancel.*lock"):
                await store.append(working, status_changed(working), expected_version=1)
        finally:
            await anyio.to_thread.run_sync(holder.close)
        # Once the lock is gone, the append goes through.
        record = await store.append(
            working, status_changed(working), expected_version=1
        )
        assert record.version == 2


async def test_driver_errors_are_store_errors(schema: tuple[str, str]) -> None:
    _, url = schema
    async with PostgresTaskStore(url) as store:
        await rows(url, "DROP TABLE task_events")
        task = make_task("t1")
        with pytest.raises(StoreError, match="task_events") as caught:
            await store.create(task, created(task), scope=ALICE)
        assert isinstance(caught.value.__cause__, psycopg.Error)
        assert await store.get("t1", scope=ALICE) is None  # rolled back


async def test_a_store_opens_once(schema: tuple[str, str]) -> None:
    _, url = schema
    async with PostgresTaskStore(url) as store:
        with pytest.raises(RuntimeError, match="already open"):
            await store.__aenter__()
    await store.__aexit__(None, None, None)  # closing twice is harmless


async def test_store_must_be_open() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await PostgresTaskStore("postgresql://u@h/db").get("t", scope=ALICE)
    with pytest.raises(ValueError, match="retention"):
        PostgresTaskStore("postgresql://u@h/db", retention=-1)
    with pytest.raises(ValueError, match="pool_size"):
        PostgresTaskStore("postgresql://u@h/db", pool_size=0)
    with pytest.raises(ValueError, match="timeout"):
        PostgresTaskStore("postgresql://u@h/db", statement_timeout=0)


# --- layout: an appended chunk costs one row ------------------------------------


def _with_chunk(task: Task, text: str) -> Task:
    part = Part(text=text)
    if not task.artifacts:
        return replace(task, artifacts=(Artifact(artifact_id="a", parts=(part,)),))
    first = task.artifacts[0]
    return replace(task, artifacts=(replace(first, parts=(*first.parts, part)),))


def _chunk(task: Task, text: str) -> StreamResponse:
    from accord.types import TaskArtifactUpdateEvent

    return StreamResponse(
        artifact_update=TaskArtifactUpdateEvent(
            task_id=task.id,
            artifact=Artifact(artifact_id="a", parts=(Part(text=text),)),
            append=True,
        )
    )


async def test_an_appended_chunk_writes_one_row(schema: tuple[str, str]) -> None:
    """Earlier part rows are never rewritten (their ``xmin`` stays), and the task row
    holds the head only: an append costs the chunk, not the artifact so far."""
    _, url = schema
    chunk = "x" * 4096
    async with PostgresTaskStore(url) as store:
        task = _with_chunk(make_task("t1", state=TaskState.WORKING), chunk)
        await store.create(task, created(task), scope=ALICE)
        seen: dict[object, object] = {}
        for version in range(1, 21):
            task = _with_chunk(task, chunk)
            await store.append(task, _chunk(task, chunk), expected_version=version)
            now: dict[object, object] = {
                idx: xmin
                for idx, xmin in await rows(
                    url, "SELECT idx, xmin::text FROM task_parts"
                )
            }
            new = set(now) - set(seen)
            assert len(new) == 1
            assert all(now[idx] == xmin for idx, xmin in seen.items())
            seen = now
        body = await rows(url, "SELECT length(body) FROM tasks")
        assert body[0][0] < 1024  # type: ignore[operator]
        record = await store.get("t1", scope=ALICE)
        assert record is not None
        assert record.task == task


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edits=layout_edits())
def test_every_read_is_the_snapshot_written(edits: list[tuple[str, int]]) -> None:
    """Random edits (appends, replacements, truncations) read back exactly, from the
    store that wrote them and from a fresh one that remembers nothing."""

    async def scenario() -> None:
        async with fresh_schema() as (_, url):
            counter = [0]
            async with PostgresTaskStore(url) as store:
                task = make_task("t1", state=TaskState.WORKING, note="hello")
                record = await store.create(task, created(task), scope=ALICE)
                for op, n in edits:
                    task = layout_edit(task, op, n, counter)
                    record = await store.append(
                        task, StreamResponse(task=task), expected_version=record.version
                    )
                    got = await store.get("t1", scope=ALICE)
                    assert got is not None
                    assert got.task == task
                page = await store.list(TaskQuery(scope=ALICE))
                assert page.tasks == (task,)
            async with PostgresTaskStore(url) as store:
                got = await store.get("t1", scope=ALICE)
                assert got is not None
                assert got.task == task
                task = _with_chunk(task, "after a restart")
                await store.append(
                    task, StreamResponse(task=task), expected_version=record.version
                )
                again = await store.get("t1", scope=ALICE)
                assert again is not None
                assert again.task == task

    anyio.run(scenario)


# --- ListTasks pages come from the indexes --------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        TaskQuery(scope=ALICE),
        TaskQuery(scope=ALICE_AT_ACME, state=TaskState.WORKING),
        TaskQuery(scope=ALICE, context_id="ctx-1"),
        TaskQuery(scope=ALICE, status_after=ts(30)),
        TaskQuery(scope=ALICE, cursor=encode_cursor((ts(40), "t9"))),
        TaskQuery(scope=ALICE, context_id="ctx-1", cursor=encode_cursor((ts(40), "t"))),
    ],
    ids=["scope", "state", "context", "status-after", "cursor", "context-cursor"],
)
async def test_list_pages_walk_an_index_without_sorting(
    schema: tuple[str, str], query: TaskQuery
) -> None:
    """The plan reads tasks through an index in list order: no full scan, no sort,
    so a page deep in the list costs its own rows."""
    _, url = schema
    await anyio.to_thread.run_sync(migrate, url)
    statements = list_statements(query)

    def plan() -> str:
        with psycopg.connect(url, autocommit=True) as conn:
            # A tiny table would be scanned whole anyway: ask what the indexes allow.
            conn.execute("SET enable_seqscan = off")
            explained = conn.execute(
                f"EXPLAIN {statements.page_sql}",
                statements.page_params,
            ).fetchall()
            return "\n".join(str(row[0]) for row in explained)

    text = await anyio.to_thread.run_sync(plan)
    assert "Index" in text, text
    assert "Seq Scan" not in text, text
    assert "Sort" not in text, text
    if query.cursor:
        # The keyset condition starts the index scan; it is not a filter afterwards.
        assert "Index Cond: ((tenant = " in text, text
        assert "ROW(status_ts, id) <" in text, text
