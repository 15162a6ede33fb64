"""The agent's audit trail, end to end: a real server on loopback, a real SQLite file.

Every operation is recorded (first, so a rate limiter's refusal is too), with the trace
id of its ``traceparent``; the store records each task state change with the task.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from accord.protocol.trace import trace_id_of
from accord.server import A2AApp, Agent, RateLimit, RateLimiter
from accord.server.context import CallContext
from accord.stores import (
    AuditEntry,
    AuditQuery,
    MemoryTaskStore,
    SQLiteTaskStore,
    verify_store,
)

from .conftest import Wire, WireError, serve, user_message
from .scripted import behave

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def read_trail(db: Path) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        async with SQLiteTaskStore(db) as store:
            (report,) = await verify_store(store)
            assert report.ok, report
            return await store.audit_entries(AuditQuery(limit=1000))

    return anyio.run(read)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_operations_and_state_changes_are_audited(
    binding: str, http: httpx.Client, tmp_path: Path
) -> None:
    db = tmp_path / "tasks.db"
    agent = Agent(behave, name="Audited", description="x")
    limiter = RateLimiter(RateLimit(per_second=0.001, burst=5))
    app = A2AApp(agent, store=SQLiteTaskStore(db, audit=True), interceptors=[limiter])
    with serve(app) as url:
        wire = Wire(url, binding, http)
        sent = http.send(
            wire.request(
                "SendMessage",
                {"message": user_message("echo hi")},
                {"traceparent": TRACEPARENT},
            )
        )
        task = sent.json()["result"] if binding == "JSONRPC" else sent.json()
        task = task["task"]
        reply = wire.call("SendMessage", {"message": user_message("reply hello")})
        with pytest.raises(WireError):
            wire.call("GetTask", {"id": "no-such-task"})
        wire.call("GetTask", {"id": task["id"]})
        events = wire.stream(
            "SendStreamingMessage", {"message": user_message("chunks 3")}
        )
        with pytest.raises(WireError) as refused:
            wire.call("GetTask", {"id": task["id"]})
        assert refused.value.reason == "RATE_LIMITED"
    trail = read_trail(db)
    operations = [e.record for e in trail if e.record.kind == "operation"]
    # A stream is recorded when it ends, which may be after the next call began.
    streams = [r for r in operations if r.operation == "SendStreamingMessage"]
    operations = [r for r in operations if r.operation != "SendStreamingMessage"]
    assert [(r.operation, r.outcome) for r in operations] == [
        ("SendMessage", "ok"),
        ("SendMessage", "ok"),
        ("GetTask", "TASK_NOT_FOUND"),
        ("GetTask", "ok"),
        ("GetTask", "RATE_LIMITED"),
    ]
    (stream,) = streams
    assert stream.outcome == "ok"
    assert stream.events == len(events)
    assert stream.response_bytes == 0
    first = operations[0]
    assert first.task_id == task["id"]
    assert first.context_id == task["contextId"]
    assert first.state == "TASK_STATE_COMPLETED"
    assert first.trace_id == TRACE
    assert first.binding == binding
    assert first.request_bytes > 0
    assert first.response_bytes > 0
    assert first.duration_us > 0
    assert operations[1].trace_id == ""
    # A message-only reply has no task: its context is what correlates it.
    message = reply["message"]
    assert operations[1].task_id == ""
    assert operations[1].context_id == message["contextId"]
    assert operations[2].task_id == "no-such-task"
    assert "no-such-task" in operations[2].detail
    streamed = events[0][1]["task"]["id"]
    states = [e.record for e in trail if e.record.kind == "state"]
    assert {r.task_id for r in states} == {task["id"], streamed}
    states = [r for r in states if r.task_id == task["id"]]
    assert states[0].previous_state == ""
    assert states[-1].state == "TASK_STATE_COMPLETED"
    assert [r.previous_state for r in states[1:]] == [r.state for r in states[:-1]]


async def test_an_engine_on_an_audited_store_records_first(
    anyio_backend: str,
) -> None:
    """The audit interceptor is put before the ones given (it sees their refusals)."""
    from accord.server import AuditInterceptor, Engine

    limiter = RateLimiter(RateLimit(per_second=1.0))
    agent = Agent(behave, name="A", description="x")
    audited = Engine(agent, store=MemoryTaskStore(audit=True), interceptors=[limiter])
    assert isinstance(audited.interceptors[0], AuditInterceptor)
    assert audited.interceptors[1] is limiter
    # Whoever sets the interceptors later (accord serve --rate-limit) comes after it.
    other = RateLimiter(RateLimit(per_second=2.0))
    audited.interceptors = (other, *audited.interceptors)
    assert audited.interceptors[0] is not other
    assert isinstance(audited.interceptors[0], AuditInterceptor)
    assert audited.interceptors[1:] == (other, limiter)
    plain = Engine(agent, store=MemoryTaskStore(), interceptors=[limiter])
    assert plain.interceptors == (limiter,)


@pytest.mark.parametrize(
    ("header", "trace"),
    [
        (TRACEPARENT, TRACE),
        (f"  {TRACEPARENT}  ", TRACE),
        (f"01-{TRACE}-00f067aa0ba902b7-01-more", TRACE),
        (f"00-{TRACE}-00f067aa0ba902b7-01-more", ""),
        (f"ff-{TRACE}-00f067aa0ba902b7-01", ""),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", ""),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", ""),
        ("garbage", ""),
        ("", ""),
    ],
)
def test_the_trace_id_is_read_from_traceparent(header: str, trace: str) -> None:
    assert trace_id_of(header) == trace
    context = CallContext(traceparent=header)
    assert context.trace_id == trace
    assert context.with_boundary(context.scope("")).traceparent == header


async def test_old_records_are_deleted_while_the_engine_runs(
    anyio_backend: str,
) -> None:
    from accord.server import Engine
    from accord.stores import AuditRecord

    store = MemoryTaskStore(audit=True)
    async with store:
        await store.append_audit(
            (
                AuditRecord(time="2001-01-01T00:00:00.000Z", operation="Old"),
                AuditRecord(time="2001-01-02T00:00:00.000Z", operation="Old"),
            )
        )
    engine = Engine(Agent(behave, name="A", description="x"), store=store)
    assert engine.audit is not None
    engine.audit.keep_days = 30
    async with engine.running():
        await store.append_audit((AuditRecord(time="2999-01-01T00:00:00.000Z"),))
        with anyio.fail_after(10):
            # A deadline poll: the first retention pass runs beside the engine.
            while any(  # noqa: ASYNC110
                e.record.operation == "Old"
                for e in await store.audit_entries(AuditQuery(limit=10))
            ):
                await anyio.sleep(0.01)
        (kept,) = await store.audit_entries(AuditQuery(limit=10))
        assert kept.record.time.startswith("2999")
        (report,) = await verify_store(store)
        assert report.ok, report  # the chain starts from the deleted ones' checkpoint
    with pytest.raises(ValueError, match="keep_days must be > 0"):
        engine.audit.keep_days = 0


def test_accord_serve_keeps_the_audit_trail_for_audit_keep_days() -> None:
    import argparse

    from accord.cli._errors import UsageError
    from accord.cli.commands._serve_limits import configure_audit
    from accord.cli.main import build_parser

    args = build_parser().parse_args(["serve", "--audit", "--audit-keep", "90"])
    audited = A2AApp(
        Agent(behave, name="A", description="x"), store=MemoryTaskStore(audit=True)
    )
    configure_audit(audited, args)
    assert audited.engine.audit is not None
    assert audited.engine.audit.keep_days == 90
    plain = A2AApp(Agent(behave, name="A", description="x"))
    with pytest.raises(UsageError, match="add --audit"):
        configure_audit(plain, args)
    configure_audit(plain, argparse.Namespace())  # nothing asked, nothing done
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--audit-keep", "0"])
