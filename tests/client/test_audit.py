"""The caller's audit trail: a client and a real agent on loopback record the same
task ids, each in its own trail; the client's records carry the agent card's hash."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import rfc8785

from accord.client import Client, ClientConfig, JsonLinesAudit
from accord.client.audit import AuditSink, card_hash
from accord.errors import TaskNotFoundError
from accord.server import A2AApp, Agent, TaskContext
from accord.stores import (
    AuditEntry,
    AuditQuery,
    AuditRecord,
    MemoryTaskStore,
    SQLiteTaskStore,
    verify_entries,
    verify_store,
)
from accord.types import Task, to_builtins
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import HTTPX_TRIO_WARNINGS

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"


async def behave(ctx: TaskContext) -> None:
    if ctx.text == "hi":
        await ctx.reply("hello")  # a message-only reply
        return
    await ctx.add_artifact(f"echo: {ctx.text}", name="echo")
    await ctx.complete()


def read_lines(path: Path) -> list[AuditEntry]:
    return [
        AuditEntry.from_json(json.loads(line)) for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_both_sides_record_the_same_task(tmp_path: Path, binding: str) -> None:
    agent_db = tmp_path / "agent.db"
    trail = tmp_path / "client-audit.jsonl"
    agent = Agent(behave, name="Audited", description="x", streaming=True)
    app = A2AApp(agent, store=SQLiteTaskStore(agent_db, audit=True))
    config = ClientConfig(
        preferred_bindings=(binding,),
        audit=JsonLinesAudit(trail),
        headers={"traceparent": TRACEPARENT},
    )
    with serve_in_thread(app) as url:
        async with await Client.connect(url, config=config) as client:
            task = await client.send_message("work")
            assert isinstance(task, Task)
            reply = await client.send_message("hi")
            with pytest.raises(TaskNotFoundError):
                await client.get_task("no-such-task")
            async with client.send_streaming_message("streamed") as stream:
                events = [event async for event in stream]
            assert client.card is not None
            expected_hash = hashlib.sha256(
                rfc8785.dumps(to_builtins(client.card))
            ).hexdigest()
    assert card_hash(client.card) == expected_hash
    mine = [e.record for e in read_lines(trail)]
    assert [(r.kind, r.operation, r.outcome) for r in mine] == [
        ("call", "SendMessage", "ok"),
        ("call", "SendMessage", "ok"),
        ("call", "GetTask", "TASK_NOT_FOUND"),
        ("call", "SendStreamingMessage", "ok"),
    ]
    assert {r.card_hash for r in mine} == {expected_hash}
    assert {r.trace_id for r in mine} == {TRACE}
    assert {r.peer for r in mine} == {client.interface.url if client.interface else ""}
    assert mine[0].task_id == task.id
    assert mine[0].context_id == task.context_id
    assert mine[0].state == "TASK_STATE_COMPLETED"
    assert mine[1].task_id == ""
    assert mine[1].context_id == getattr(reply, "context_id", None)
    assert mine[3].events == len(events)
    assert mine[3].task_id == stream.task_id != ""
    assert verify_entries("", read_lines(trail)).ok

    async with SQLiteTaskStore(agent_db) as store:
        theirs = [e.record for e in await store.audit_entries(AuditQuery(limit=100))]
        (report,) = await verify_store(store)
    assert report.ok
    # The shared ids: the agent's operations name the same tasks and contexts.
    served = [
        r for r in theirs if r.kind == "operation" and r.operation == "SendMessage"
    ]
    assert [(r.task_id, r.context_id, r.trace_id) for r in served] == [
        (mine[0].task_id, mine[0].context_id, TRACE),
        ("", mine[1].context_id, TRACE),
    ]
    assert stream.task_id in {r.task_id for r in theirs if r.kind == "state"}


async def test_a_store_is_a_sink_and_a_file_goes_on_where_it_stopped(
    tmp_path: Path,
) -> None:
    trail = tmp_path / "audit.jsonl"
    sink = JsonLinesAudit(trail)
    record = AuditRecord(time="2025-01-01T00:00:00.000Z", kind="call", tenant="t")
    await sink.append_audit([record, record])
    assert stat.S_IMODE(os.stat(trail).st_mode) == 0o600
    # A new writer (a restarted client) continues each tenant's chain.
    again = JsonLinesAudit(trail)
    await again.append_audit([record, AuditRecord(time=record.time, kind="call")])
    entries = read_lines(trail)
    assert [(e.record.tenant, e.seq) for e in entries] == [
        ("t", 1),
        ("t", 2),
        ("t", 3),
        ("", 1),
    ]
    assert verify_entries("t", [e for e in entries if e.record.tenant == "t"]).ok

    store = MemoryTaskStore()
    assert isinstance(store, AuditSink)
    app = A2AApp(Agent(behave, name="A", description="x"))
    with serve_in_thread(app) as url:
        config = ClientConfig(audit=store)
        async with await Client.connect(url, config=config) as client:
            await client.send_message("work")
    (entry,) = await store.audit_entries(AuditQuery())
    assert entry.record.kind == "call"
    assert entry.record.trace_id == ""


async def test_a_sink_that_fails_does_not_fail_the_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def append_audit(self, records: object) -> None:
            raise OSError("disk full")

    app = A2AApp(Agent(behave, name="A", description="x"))
    with serve_in_thread(app) as url:
        config = ClientConfig(audit=Broken())
        async with await Client.connect(url, config=config) as client:
            assert isinstance(await client.send_message("work"), Task)
    assert "could not write the audit record of SendMessage" in caplog.text
