"""Work can start anywhere: queued at an instance's running limit, run where there is room.

Two engines on one store stand for two instances (one memory store object; two SQLite
stores on one file; two PostgreSQL stores on one schema, whose task events and work
wake-ups cross through LISTEN/NOTIFY). Instance A runs at most one task; a task
blocked on a gate keeps it full. The agent writes a journal of which instance ran
what, so every test can say where a task ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from accord.client import Client
from accord.errors import UnavailableError
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.server.limits import ServerLimits
from accord.stores import Scope, TaskStore
from accord.types import (
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
)

from .test_leases import client, store_pair

pytestmark = pytest.mark.anyio

#: Short: instances whose task events do not cross (memory, SQLite) find queued work
#: at their periodic claim, every half lease.
LEASE = 1.0
BASE = "http://agent.test"
NOW = SendMessageConfiguration(return_immediately=True)
#: (event, instance, task id, attempt, follow-up): "start" or "end".
Entry = tuple[str, str, str, int, bool]


class Lab:
    """The agent of every instance; "block" waits for ``gate``, "reply" replies."""

    def __init__(self) -> None:
        self.journal: list[Entry] = []
        #: task id -> (request metadata, accepted output modes) the agent saw.
        self.requests: dict[str, tuple[object, object]] = {}
        self.gate = anyio.Event()
        self._changed = anyio.Event()

    def agent(self, instance: str, *, retry_safe: bool) -> Agent:
        async def work(ctx: TaskContext) -> None:
            entry = (instance, ctx.task_id, ctx.attempt, ctx.is_follow_up)
            config = ctx.configuration
            modes = None if config is None else config.accepted_output_modes
            self.requests[ctx.task_id] = (ctx.request_metadata, modes)
            self._note("start", *entry)
            if ctx.text == "reply":
                await ctx.reply(f"hello from {instance}")
                return
            await ctx.working("on it")
            if ctx.text == "block":
                await self.gate.wait()
            if ctx.text == "ask":
                await ctx.ask_for_input("which day?")
                return
            await ctx.add_artifact(f"{ctx.text} on {instance}")
            self._note("end", *entry)

        return Agent(
            work,
            name="Lab",
            description="for tests",
            retry_safe=retry_safe,
            streaming=True,
        )

    def _note(self, event: str, *entry: object) -> None:
        self.journal.append(cast(Entry, (event, *entry)))
        self._changed.set()
        self._changed = anyio.Event()

    async def started(self, task_id: str) -> Entry:
        """Wait until ``task_id`` starts somewhere; its journal entry."""
        while True:
            for entry in self.journal:
                if entry[0] == "start" and entry[2] == task_id:
                    return entry
            await self._changed.wait()

    def runs(self, task_id: str) -> list[Entry]:
        return [e for e in self.journal if e[0] == "start" and e[2] == task_id]


@dataclass
class Node:
    name: str
    engine: Engine
    client: Client

    @property
    def runtime(self):  # type: ignore[no-untyped-def]  # the running Runtime
        return self.engine.handler.runtime


@asynccontextmanager
async def node(
    name: str, lab: Lab, store: TaskStore, limits: ServerLimits, *, retry_safe: bool
) -> AsyncIterator[Node]:
    engine = Engine(
        lab.agent(name, retry_safe=retry_safe),
        store=store,
        limits=limits,
        lease_seconds=LEASE,
    )
    async with engine.running(), client(A2AApp.from_engine(engine)) as a2a:
        yield Node(name, engine, a2a)


@dataclass
class Cluster:
    lab: Lab
    a: Node
    b: Node | None
    #: B's store: unopened when B does not run (a test may start B later).
    store_b: TaskStore

    @property
    def store(self) -> TaskStore:
        """A's (open) store."""
        return self.a.engine.store

    async def fill_a(self) -> str:
        """Start a "block" task on A (its one slot); its id."""
        task = await self.a.client.send_message("block", configuration=NOW)
        assert isinstance(task, Task)
        entry = await self.lab.started(task.id)
        assert entry[1] == "A"
        return task.id

    async def until(self, task_id: str, *states: TaskState) -> Task:
        """Poll GetTask on A until the task is in one of ``states``."""
        while True:
            task = await self.a.client.get_task(task_id)
            if task.status.state in states:
                return task
            await anyio.sleep(0.02)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("sqlite", marks=pytest.mark.slow),
        pytest.param("postgres", marks=pytest.mark.slow),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


@asynccontextmanager
async def cluster(
    kind: str,
    tmp_path: Path,
    *,
    b: ServerLimits | None = ServerLimits(),
    a: ServerLimits = ServerLimits(max_running_tasks=1),
    retry_safe: bool = False,
) -> AsyncIterator[Cluster]:
    lab = Lab()
    async with store_pair(kind, tmp_path) as (store_a, store_b), AsyncExitStack() as st:
        node_a = await st.enter_async_context(
            node("A", lab, store_a, a, retry_safe=retry_safe)
        )
        node_b = None
        if b is not None:
            node_b = await st.enter_async_context(
                node("B", lab, store_b, b, retry_safe=retry_safe)
            )
        try:
            with anyio.fail_after(30):
                yield Cluster(lab, node_a, node_b, store_b)
        finally:
            lab.gate.set()


async def test_return_immediately_at_the_limit_runs_on_the_free_instance(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        assert task.status.state is TaskState.SUBMITTED
        assert task.history[0].text == "quick"
        done = await x.until(task.id, TaskState.COMPLETED)
        assert done.artifacts[0].parts[0].text == "quick on B"
        assert x.lab.runs(task.id) == [("start", "B", task.id, 1, False)]
        assert x.b is not None
        assert x.b.runtime.queue.claimed == 1
        assert x.a.runtime.queue.claimed == 0


async def test_the_claimer_sees_the_requests_configuration_and_metadata(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        config = SendMessageConfiguration(
            return_immediately=True, accepted_output_modes=("text/plain",)
        )
        task = await x.a.client.send_message(
            "quick", configuration=config, metadata={"trace": "t-1"}
        )
        assert isinstance(task, Task)
        await x.until(task.id, TaskState.COMPLETED)
        assert x.lab.runs(task.id)[0][1] == "B"
        assert x.lab.requests[task.id] == ({"trace": "t-1"}, ("text/plain",))


async def test_below_the_limit_the_receiving_instance_runs_it(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        task = await x.a.client.send_message("quick")
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED
        assert x.lab.runs(task.id) == [("start", "A", task.id, 1, False)]
        assert await x.store.queued_count() == 0


async def test_a_blocking_call_at_the_limit_completes_through_the_free_instance(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        task = await x.a.client.send_message("quick")
        assert isinstance(task, Task)
        assert task.status.state is TaskState.COMPLETED
        assert task.artifacts[0].parts[0].text == "quick on B"


async def test_a_stream_at_the_limit_streams_the_free_instances_events(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        async with x.a.client.send_streaming_message("quick") as stream:
            events: list[StreamResponse] = [event async for event in stream]
        assert events[0].task is not None
        assert events[0].task.status.state is TaskState.SUBMITTED
        artifacts = [e.artifact_update for e in events if e.artifact_update]
        assert [a.artifact.parts[0].text for a in artifacts] == ["quick on B"]
        last = events[-1].status_update
        assert last is not None
        assert last.status.state is TaskState.COMPLETED


async def test_a_follow_up_at_the_limit_is_resumed_once_and_run_elsewhere(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        asked = await x.a.client.send_message("ask")
        assert isinstance(asked, Task)
        assert asked.status.state is TaskState.INPUT_REQUIRED
        await x.fill_a()
        answer = await x.a.client.send_message(
            "monday", task_id=asked.id, configuration=NOW
        )
        assert isinstance(answer, Task)
        # The state when the answer was read: B may already have run it (seen under
        # load), which a returnImmediately answer may show (spec §3.1.1).
        assert answer.status.state in (TaskState.WORKING, TaskState.COMPLETED)
        done = await x.until(asked.id, TaskState.COMPLETED)
        assert done.artifacts[0].parts[0].text == "monday on B"
        assert x.lab.runs(asked.id) == [
            ("start", "A", asked.id, 1, False),
            ("start", "B", asked.id, 1, True),
        ]
        users = [m.text for m in done.history if m.role is Role.USER]
        assert users == ["ask", "monday"]  # the follow-up recorded once
        log = await x.store.events(asked.id, after=0, scope=Scope(owner=None))
        states = [
            (e.event.status_update.status.state, e.event.status_update.status.message)
            for e in log
            if e.event.status_update is not None
        ]
        after_input = states[
            [s for s, _ in states].index(TaskState.INPUT_REQUIRED) + 1 :
        ]
        # Resumed once, by A when it queued it; then B's own progress.
        assert [(s, m.text if m else None) for s, m in after_input] == [
            (TaskState.WORKING, None),
            (TaskState.WORKING, "on it"),
            (TaskState.COMPLETED, None),
        ]


async def test_a_reply_on_queued_work_completes_its_task(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        task = await x.a.client.send_message("reply")
        assert isinstance(task, Task)  # the task existed: no bare Message
        assert task.status.state is TaskState.COMPLETED
        assert task.status.message is not None
        assert task.status.message.text == "hello from B"


async def test_one_full_instance_runs_its_queue_when_a_slot_frees(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path, b=None) as x:
        blocker = await x.fill_a()
        queued = []
        for _ in range(3):
            task = await x.a.client.send_message("quick", configuration=NOW)
            assert isinstance(task, Task)
            queued.append(task.id)
        assert await x.store.queued_count() == 3
        assert x.lab.runs(queued[0]) == []
        x.lab.gate.set()
        await x.until(blocker, TaskState.COMPLETED)
        for task_id in queued:
            await x.until(task_id, TaskState.COMPLETED)
        # Oldest first, one at a time (the limit is 1), all here.
        starts = [e for e in x.lab.journal if e[0] == "start" and e[2] in queued]
        assert starts == [("start", "A", t, 1, False) for t in queued]
        assert x.a.runtime.queue.claimed == 3


async def test_a_draining_instance_claims_nothing(kind: str, tmp_path: Path) -> None:
    async with cluster(kind, tmp_path, b=None) as x:
        blocker = await x.fill_a()
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        x.a.engine.begin_shutdown()
        x.lab.gate.set()
        await x.until(blocker, TaskState.COMPLETED)  # a slot is free, but draining
        assert await x.a.runtime.queue.claim() == 0
        assert await x.store.queued_count() == 1
        assert x.lab.runs(task.id) == []
        # It waits, SUBMITTED, for an instance that has room.
        assert (await x.a.client.get_task(task.id)).status.state is (
            TaskState.SUBMITTED
        )


async def test_a_full_queue_answers_unavailable(kind: str, tmp_path: Path) -> None:
    limits = ServerLimits(max_running_tasks=1, max_queued_tasks=2)
    async with cluster(kind, tmp_path, a=limits, b=None) as x:
        await x.fill_a()
        for _ in range(2):
            assert await x.a.client.send_message("quick", configuration=NOW)
        with pytest.raises(UnavailableError, match=r"saturated.*retry later"):
            await x.a.client.send_message("quick", configuration=NOW)
        assert await x.store.queued_count() == 2


async def test_cancel_of_a_queued_task_withdraws_it_at_once(
    kind: str, tmp_path: Path
) -> None:
    # B is full too: nobody claims the task before the cancel.
    full = ServerLimits(max_running_tasks=1)
    async with cluster(kind, tmp_path, b=full) as x:
        await x.fill_a()
        assert x.b is not None
        other = await x.b.client.send_message("block", configuration=NOW)
        assert isinstance(other, Task)
        await x.lab.started(other.id)
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        canceled = await x.b.client.cancel_task(task.id)
        assert canceled.status.state is TaskState.CANCELED
        assert await x.store.queued_count() == 0
        x.lab.gate.set()
        await x.until(other.id, TaskState.COMPLETED)
        assert x.lab.runs(task.id) == []  # never ran anywhere
        assert (await x.a.client.get_task(task.id)).status.state is (TaskState.CANCELED)


async def test_cancel_after_the_claim_reaches_the_claimer(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path) as x:
        await x.fill_a()
        task = await x.a.client.send_message("block", configuration=NOW)
        assert isinstance(task, Task)
        entry = await x.lab.started(task.id)
        assert entry[1] == "B"
        canceled = await x.a.client.cancel_task(task.id)
        assert canceled.status.state is TaskState.CANCELED
        assert x.b is not None
        # B drops the execution once its agent has ended, just after CANCELED is
        # written (the answer above can come first under load).
        with anyio.fail_after(10):
            while x.b.runtime.live(task.id) is not None:  # noqa: ASYNC110 - B's cleanup, no event to wait on
                await anyio.sleep(0.01)


async def test_a_takeover_at_the_limit_is_queued_not_failed(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path, b=None, retry_safe=True) as x:
        await x.fill_a()
        # A task whose instance died: WORKING, its lease expired.
        message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
        orphan = Task(
            id="orphan",
            context_id="c-1",
            status=TaskStatus(state=TaskState.WORKING),
            history=(message,),
        )
        store = x.store
        await store.create(orphan, StreamResponse(task=orphan), scope=Scope())
        await store.acquire_lease("orphan", tenant="", holder="dead", seconds=-1)
        while await store.queued_count() == 0:  # noqa: ASYNC110 - A's sweep, elsewhere
            await anyio.sleep(0.02)
        record = await store.get("orphan", scope=Scope())
        assert record is not None
        assert record.task.status.state is TaskState.WORKING  # not FAILED
        assert x.lab.runs("orphan") == []
        # An instance with room runs it, as the retry it is.
        async with node("B", x.lab, x.store_b, ServerLimits(), retry_safe=True):
            done = await x.until("orphan", TaskState.COMPLETED)
        assert done.artifacts[-1].parts[0].text == "hi on B"
        assert x.lab.runs("orphan") == [("start", "B", "orphan", 2, True)]


def test_limit_settings() -> None:
    from accord.cli.commands._serve_limits import configure_limits
    from accord.cli.main import build_parser

    assert ServerLimits().max_queued_tasks == 10_000
    with pytest.raises(ValueError, match="max_running_tasks must be >= 1"):
        ServerLimits(max_running_tasks=0)
    with pytest.raises(ValueError, match="max_queued_tasks must be >= 0"):
        ServerLimits(max_queued_tasks=-1)
    parser = build_parser()
    args = parser.parse_args(["serve", "--max-running", "3", "--max-queued", "0"])
    app = A2AApp(Lab().agent("A", retry_safe=False))
    configure_limits(app, args)
    assert app.engine.limits.max_running_tasks == 3
    assert app.engine.limits.max_queued_tasks == 0
    untouched = A2AApp(Lab().agent("A", retry_safe=False))
    configure_limits(untouched, parser.parse_args(["serve"]))
    assert untouched.engine.limits == ServerLimits()
    for bad in (["--max-running", "0"], ["--max-queued", "-1"], ["--max-running", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])


async def test_a_cancel_request_on_queued_work_ends_it_when_claimed(
    kind: str, tmp_path: Path
) -> None:
    # A CancelTask that came while the task was being queued marks the lease; the
    # claimer ends the task CANCELED instead of running it.
    async with cluster(kind, tmp_path, b=None) as x:
        blocker = await x.fill_a()
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        assert await x.store.request_cancel(task.id)
        x.lab.gate.set()
        await x.until(blocker, TaskState.COMPLETED)
        await x.until(task.id, TaskState.CANCELED)
        assert x.lab.runs(task.id) == []
        assert await x.store.queued_count() == 0


async def test_a_claim_the_runtime_cannot_start_goes_back_to_the_queue(
    kind: str, tmp_path: Path
) -> None:
    async with cluster(kind, tmp_path, b=None) as x:
        await x.fill_a()
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        runtime = x.a.runtime
        x.a.engine.begin_shutdown()
        # Claimed just before the drain began: the claimer hands it back.
        (lease,) = await x.store.claim_queued(
            holder=runtime.leases.holder, seconds=LEASE, limit=1
        )
        await runtime.queue._start(lease, 0.0)
        (again,) = await x.store.claim_queued(holder="other", seconds=LEASE, limit=1)
        assert (again.task_id, again.attempt) == (task.id, 1)
        assert x.lab.runs(task.id) == []


def test_request_options_round_trip() -> None:
    from accord.server.queue import options, request
    from accord.stores import Lease

    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
    plain = SendMessageRequest(tenant="acme", message=message)
    assert options(plain) == ""
    lease = Lease("t", "acme", "b", 1, 0.0)
    assert request(lease, message) == plain
    full = SendMessageRequest(
        tenant="acme",
        message=message,
        configuration=SendMessageConfiguration(accepted_output_modes=("text/plain",)),
        metadata={"k": [1, 2]},
    )
    carried = Lease("t", "acme", "b", 1, 0.0, request=options(full))
    assert request(carried, message) == full
    for junk in ("not json", "[1, 2]", '{"configuration": {"historyLength": "x"}}'):
        assert request(Lease("t", "acme", "b", 1, 0.0, request=junk), message) == plain


def test_the_callers_version_goes_through_the_queue() -> None:
    """ctx.protocol_version on the claiming instance is the caller's (v0.3 here)."""
    from accord.server.queue import options, request, version_of
    from accord.stores import Lease

    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
    plain = SendMessageRequest(message=message)
    assert version_of(Lease("t", "", "b", 1, 0.0, request=options(plain))) == "1.0"
    carried = Lease("t", "", "b", 1, 0.0, request=options(plain, "0.3"))
    assert version_of(carried) == "0.3"
    assert request(carried, message) == plain
    for junk in ("not json", "[1]", '{"version": 3}'):
        assert version_of(Lease("t", "", "b", 1, 0.0, request=junk)) == "1.0"


async def test_a_heartbeat_while_work_is_queued_or_claimed_keeps_its_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease held but not running yet (being queued, or claimed and not started) is
    not released by the heartbeat's clean-up of leases nothing runs."""
    async with cluster("memory", tmp_path) as x:
        assert x.b is not None
        a, b = x.a.runtime, x.b.runtime
        store = x.store
        queue_lease = store.queue_lease

        async def renew_then_queue(task_id: str, **kw: object) -> bool:
            await a.leases.renew()  # A's beat while A hands the lease over
            return await queue_lease(task_id, **kw)  # type: ignore[arg-type]

        start = b.queue._start

        async def renew_then_start(lease: object, sent: float) -> None:
            await b.leases.renew()  # B's beat between its claim and the start
            await start(lease, sent)

        monkeypatch.setattr(store, "queue_lease", renew_then_queue)
        monkeypatch.setattr(b.queue, "_start", renew_then_start)
        await x.fill_a()
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        done = await x.until(task.id, TaskState.COMPLETED, TaskState.FAILED)
        assert done.status.state is TaskState.COMPLETED
        assert x.lab.runs(task.id) == [("start", "B", task.id, 1, False)]


async def test_blocking_sends_arriving_together_never_overshoot_the_limit(
    kind: str, tmp_path: Path
) -> None:
    """Sends admitted at once (each taking its lease) count against ``max_running``
    before they run: the ones beyond it are queued, none is refused or runs extra."""
    limits = ServerLimits(max_running_tasks=2)
    async with cluster(kind, tmp_path, a=limits, b=None) as x:
        results: list[Task] = []

        async def send() -> None:
            task = await x.a.client.send_message("block")
            assert isinstance(task, Task)
            results.append(task)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(send)
            while len(x.lab.journal) < 2 or await x.store.queued_count() < 4:
                assert x.a.runtime.live_count <= 2
                await anyio.sleep(0.02)
            assert len(x.lab.journal) == 2  # two started, four wait in the queue
            x.lab.gate.set()
        assert [t.status.state for t in results] == [TaskState.COMPLETED] * 6
        assert len({t.id for t in results}) == 6


async def test_return_immediately_answers_the_task_as_created_when_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued task may already run elsewhere before its answer is read, and the
    read may come from the log (a wake-up made the subscriber catch up): the answer
    is still the task as created, SUBMITTED (spec §3.1.1), not whatever it is now."""
    async with cluster("memory", tmp_path) as x:
        runtime = x.a.runtime
        defer = runtime.queue.defer

        async def defer_then_catch_up(execution: Any, record: Any) -> None:
            await defer(execution, record)
            task_id = execution.task_id
            await x.lab.started(task_id)  # B claimed it
            while True:  # and wrote past SUBMITTED
                stored = await x.store.get(task_id, scope=Scope(tenant="", owner=None))
                assert stored is not None
                if stored.task.status.state is not TaskState.SUBMITTED:
                    break
                await anyio.sleep(0.01)
            runtime.events.refresh(task_id)  # A's subscriber reads the log

        await x.fill_a()
        monkeypatch.setattr(runtime.queue, "defer", defer_then_catch_up)
        task = await x.a.client.send_message("quick", configuration=NOW)
        assert isinstance(task, Task)
        assert task.status.state is TaskState.SUBMITTED
        assert task.history[0].text == "quick"
        assert x.lab.runs(task.id)[0][1] == "B"
