"""One trace across a caller and two Accord agents on real servers (loopback).

The caller, inside a span of its own, sends a message to agent A with a tracing
client; A's agent, while executing, sends a message to agent B with a tracing client.
Every span must be in the caller's trace, each the child of the one before:

caller -> client SendMessage -> A's server SendMessage -> A's execution
       -> A's client SendMessage -> B's server SendMessage -> B's execution
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from accord.client import Client, ClientConfig
from accord.otel import ClientTracing, instrument
from accord.server import A2AApp, Agent, TaskContext
from accord.types import AgentSkill, Task, text_of
from tests.helpers.uvicorn_thread import serve_in_thread

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

SKILL = AgentSkill(id="relay", name="Relay", description="asks B", tags=("test",))


@contextmanager
def served(telemetry: Telemetry, binding: str) -> Iterator[tuple[str, str]]:
    """(A's URL, B's URL), both served and instrumented."""

    async def second(ctx: TaskContext) -> None:
        await ctx.add_artifact(f"B got: {ctx.text}")
        await ctx.complete()

    b_url: list[str] = []

    async def first(ctx: TaskContext) -> None:
        config = ClientConfig(
            preferred_bindings=(binding,),
            hooks=(ClientTracing(telemetry.tracer_provider),),
        )
        async with await Client.connect(b_url[0], config=config) as client:
            reply = await client.send_message(f"relayed {ctx.text}")
        assert isinstance(reply, Task)
        await ctx.add_artifact(f"{reply.id} {text_of(reply.artifacts[0])}")
        await ctx.complete()

    apps = []
    for name, run, skills in (("B", second, ()), ("A", first, (SKILL,))):
        app = A2AApp(Agent(run, name=name, description=name, skills=skills))
        instrument(
            app,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        apps.append(app)
    with ExitStack() as stack:
        b_url.append(stack.enter_context(serve_in_thread(apps[0])))
        a_url = stack.enter_context(serve_in_thread(apps[1]))
        yield a_url, b_url[0]


def _one(
    spans: Sequence[ReadableSpan], name: str, kind: SpanKind, **attrs: object
) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.name == name
        and s.kind == kind
        and all((s.attributes or {}).get(k) == v for k, v in attrs.items())
    ]
    assert len(found) == 1, [(s.name, s.kind, s.attributes) for s in spans]
    return found[0]


def _child(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None, child.name
    assert child.parent.span_id == parent.context.span_id, (child.name, parent.name)
    assert child.context.trace_id == parent.context.trace_id


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_one_trace_follows_the_caller_through_two_agents(
    telemetry: Telemetry, binding: str
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("caller")
    with served(telemetry, binding) as (a_url, b_url):
        config = ClientConfig(
            preferred_bindings=(binding,),
            hooks=(ClientTracing(telemetry.tracer_provider),),
        )
        with tracer.start_as_current_span("caller") as root:
            async with await Client.connect(a_url, config=config) as client:
                task = await client.send_message("hello")
    assert isinstance(task, Task)
    b_task_id, _, text = text_of(task.artifacts[0]).partition(" ")
    assert text == "B got: relayed hello"

    spans = telemetry.wait_spans(lambda s: len(s) >= 7)
    assert len(spans) == 7, [s.name for s in spans]
    caller = _one(spans, "caller", SpanKind.INTERNAL)
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert len(clients) == 2
    a_client, b_client = sorted(
        clients,
        key=lambda s: s.parent is None or s.parent.span_id != caller.context.span_id,
    )
    a_server = _one(spans, "SendMessage", SpanKind.SERVER, **{"a2a.task.id": task.id})
    a_run = _one(spans, "A execute", SpanKind.INTERNAL)
    b_server = _one(spans, "SendMessage", SpanKind.SERVER, **{"a2a.task.id": b_task_id})
    b_run = _one(spans, "B execute", SpanKind.INTERNAL)

    assert caller.parent is None
    assert caller.context.span_id == root.get_span_context().span_id
    for child, parent in (
        (a_client, caller),
        (a_server, a_client),
        (a_run, a_server),
        (b_client, a_run),
        (b_server, b_client),
        (b_run, b_server),
    ):
        _child(child, parent)
    assert {s.context.trace_id for s in spans} == {caller.context.trace_id}

    assert str((a_client.attributes or {})["url.full"]).startswith(a_url)
    assert str((b_client.attributes or {})["url.full"]).startswith(b_url)
    for span in (a_client, a_server, b_client, b_server):
        attrs = span.attributes or {}
        assert attrs["rpc.system"] == "a2a"
        assert attrs["rpc.method"] == "SendMessage"
        assert attrs["a2a.binding"] == binding
        assert span.status.status_code is StatusCode.UNSET
    assert (a_server.attributes or {})["a2a.context.id"] == task.context_id
    a_attrs, b_attrs = a_run.attributes or {}, b_run.attributes or {}
    assert a_attrs["a2a.task.id"] == task.id
    assert a_attrs["a2a.context.id"] == task.context_id
    assert a_attrs["a2a.skill.id"] == "relay"  # A declares one skill
    assert a_attrs["a2a.agent.name"] == "A"
    assert a_attrs["a2a.task.state"] == "TASK_STATE_COMPLETED"
    assert b_attrs["a2a.task.id"] == b_task_id
    assert "a2a.skill.id" not in b_attrs  # B declares none
    assert b_attrs["a2a.task.state"] == "TASK_STATE_COMPLETED"
