"""Negotiation over every binding (JSON-RPC, HTTP+JSON, gRPC): the Receptionist
counters a callback window outside business hours with the nearest open one, the
caller accepts the counter and books under the agreement, which is checked and used
up; rejections say why; decisions and starts are in the audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.client.handshake import (
    CallerPolicy,
    NegotiationUnsupported,
    accept_counter,
    propose,
    send_negotiation,
    under_agreement,
)
from accord.errors import InvalidParamsError
from accord.protocol.handshake import NEGOTIATION_EXTENSION, Budget, Decision, Proposal
from accord.server import A2AApp, Agent, TaskContext
from accord.server.handshake import Negotiation
from accord.stores import AuditQuery, SQLiteTaskStore
from accord.types import Message, Part, Task, TaskState, data_of, text_of

from .helpers import connect, keyed_receptionist, with_grpc

pytestmark = pytest.mark.anyio

KEY = "negotiation-key-0123456789"
PHONE = "+14155550123"
SATURDAY = "2026-12-05 10-12"
BINDINGS = ("JSONRPC", "HTTP+JSON", "GRPC")


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


@pytest.fixture(params=BINDINGS)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Client]:
    app = keyed_receptionist(tmp_path / "accord.db", partner=KEY)
    async for connected in connect(
        with_grpc(app), str(request.param), **{"X-API-Key": KEY}
    ):
        yield connected


async def test_a_window_outside_business_hours_is_countered_then_booked(
    client: Client,
) -> None:
    counter = await propose(
        client,
        "schedule_callback",
        {"phone": PHONE, "time_window": SATURDAY},
        residency="US",
        budget=Budget(Decimal("1.00"), "USD"),
        data=("phone_number", "time_window"),
    )
    assert counter.outcome == "counter"
    assert counter.counter_id.startswith("ctr-")
    assert "outside business hours" in counter.reason
    assert counter.terms is not None
    window = {"start": "2026-12-04T15:00:00Z", "end": "2026-12-04T17:00:00Z"}
    assert counter.terms.parameters == {"phone": PHONE, "time_window": window}
    agreed = await accept_counter(client, counter)
    assert agreed.outcome == "accept"
    assert agreed.agreement_id.startswith("agr-")
    assert agreed.terms == counter.terms
    task = await client.send_message(under_agreement(agreed))
    assert isinstance(task, Task)
    assert task.status.state is TaskState.COMPLETED, text_of(task)
    [booking] = data_of(task)
    assert booking["window"] == window
    # An agreement admits one task.
    with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
        await client.send_message(under_agreement(agreed))
    # A counter is accepted once.
    again = await accept_counter(client, counter)
    assert again.outcome == "reject"
    assert "unknown or expired" in again.reason


async def test_rejections_say_why_and_nothing_runs(client: Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"residency": "EU"}, "call data is kept in the US only, not in EU"),
        (
            {"budget": Budget(Decimal("0.01"), "USD")},
            "schedule_callback costs 0.05 USD per call",
        ),
        ({"data": ("time_window",)}, "schedule_callback needs phone_number"),
    ]
    for constraints, reason in cases:
        decision = await propose(
            client, "schedule_callback", {"phone": PHONE}, **constraints
        )
        assert (decision.outcome, decision.reason) == ("reject", reason)
    unknown = await propose(client, "order_pizza")
    assert unknown.outcome == "reject"
    assert "no skill 'order_pizza'" in unknown.reason
    tasks = await client.list_tasks()
    assert tasks.tasks == ()  # no negotiation step created a task


async def test_an_accepted_proposal_is_checked_when_the_task_starts(
    client: Client,
) -> None:
    agreed = await propose(
        client, "schedule_callback", {"phone": PHONE, "time_window": "tomorrow 9-12"}
    )
    assert agreed.outcome == "accept"
    other = under_agreement(agreed, {"time_window": "tomorrow 13-15"})
    with pytest.raises(InvalidParamsError, match="time_window differs"):
        await client.send_message(other)
    # That attempt used the agreement up.
    with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
        await client.send_message(under_agreement(agreed))
    summary = await propose(client, "fetch_call_summary", {"callId": "call-1001"})
    wrong = under_agreement(summary)
    wrong = Message(
        message_id=wrong.message_id,
        role=wrong.role,
        parts=wrong.parts,
        metadata={**(wrong.metadata or {}), "skill": "escalate_to_human"},
    )
    with pytest.raises(InvalidParamsError, match="is for 'fetch_call_summary'"):
        await client.send_message(wrong)
    unnamed = under_agreement(await propose(client, "fetch_call_summary"))
    unnamed = Message(
        message_id=unnamed.message_id,
        role=unnamed.role,
        parts=(Part(text="Summary of call-1001"),),
        metadata={k: v for k, v in (unnamed.metadata or {}).items() if k != "skill"},
    )
    with pytest.raises(InvalidParamsError, match="not a message naming no skill"):
        await client.send_message(unnamed)


async def test_an_agreement_belongs_to_its_caller(tmp_path: Path) -> None:
    app = keyed_receptionist(
        tmp_path / "accord.db", partner=KEY, other="other-key-0123456789abcdef"
    )
    async with (
        httpx.AsyncClient(
            transport=MemoryTransport(app), base_url="http://agent"
        ) as http,
        await Client.connect(
            "http://agent", http=http, headers={"X-API-Key": KEY}
        ) as partner,
        await Client.connect(
            "http://agent",
            http=http,
            headers={"X-API-Key": "other-key-0123456789abcdef"},
        ) as other,
    ):
        agreed = await propose(partner, "fetch_call_summary", {"callId": "call-1001"})
        with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
            await other.send_message(under_agreement(agreed))


async def test_decisions_and_starts_are_audited_without_parameters(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tasks.db"
    ran: list[str] = []

    async def run(ctx: TaskContext) -> None:
        ran.append(ctx.text)
        await ctx.complete("done")

    def policy(proposal: Proposal) -> Decision:
        if proposal.parameters.get("size") == "large":
            return Decision.counter(
                Proposal(
                    proposal.skill,
                    {**proposal.parameters, "size": "small"},
                    proposal.constraints,
                ),
                "large is sold out",
            )
        return Decision.accept()

    negotiation = Negotiation(policy)
    agent = Agent(negotiation.wrap(run), name="Shop", description="Sells things")
    app = A2AApp(
        agent, store=SQLiteTaskStore(db, audit=True), interceptors=[negotiation]
    )
    async for client in connect(app, "HTTP+JSON"):
        card_uris = [e.uri for e in client.card.capabilities.extensions]  # type: ignore[union-attr]
        assert NEGOTIATION_EXTENSION in card_uris
        counter = await propose(
            client, "sell", {"size": "large", "phone": PHONE}, data=("phone_number",)
        )
        agreed = await accept_counter(client, counter)
        task = await client.send_message(under_agreement(agreed))
        assert isinstance(task, Task)
        plain = await client.send_message("no negotiation")
        assert isinstance(plain, Task)
    assert ran == ["", "no negotiation"]
    async with SQLiteTaskStore(db) as store:
        records = [
            e.record
            for e in await store.audit_entries(AuditQuery(limit=100))
            if e.record.kind == "agreement"
        ]
    assert [r.detail.split(" ")[0] for r in records] == [
        "decision=counter",
        "decision=accept",
        "started",
    ]
    assert f"agreement={agreed.agreement_id}" in records[1].detail
    assert "dataCategories=phone_number" in records[1].detail
    assert isinstance(task, Task)
    assert records[2].task_id == task.id
    assert all(PHONE not in r.detail and "large" not in r.detail for r in records)


async def test_an_agent_that_does_not_negotiate_gets_no_proposal(
    tmp_path: Path,
) -> None:
    async def run(ctx: TaskContext) -> None:
        raise AssertionError(
            "a proposal must not reach an agent that does not negotiate"
        )

    app = A2AApp(Agent(run, name="Plain", description="No negotiation"))
    async for client in connect(app, "JSONRPC"):
        with pytest.raises(NegotiationUnsupported, match="does not declare"):
            await propose(client, "anything")


async def test_an_async_policy_invalid_proposals_and_expiry(tmp_path: Path) -> None:
    now = [1_000.0]

    async def policy(proposal: Proposal) -> Decision:
        return Decision.accept("fine")

    async def run(ctx: TaskContext) -> None:
        await ctx.complete("done")

    negotiation = Negotiation(policy, ttl=60, clock=lambda: now[0])
    app = A2AApp(
        Agent(negotiation.wrap(run), name="Clocked", description="x"),
        interceptors=[negotiation],
    )
    async for client in connect(app, "JSONRPC"):
        agreed = await propose(client, "anything")
        assert (agreed.outcome, agreed.reason) == ("accept", "fine")
        assert agreed.expires is not None
        assert agreed.expires.timestamp() == 1_060.0
        now[0] = 1_061.0  # past the agreement's ttl
        with pytest.raises(InvalidParamsError, match="unknown, used or expired"):
            await client.send_message(under_agreement(agreed))
        bad = await send_negotiation(client, {"proposal": {"skill": 5}}, "bad")
        assert bad.outcome == "reject"
        assert "the proposal is not valid: a proposal names its skill" in bad.reason
    with pytest.raises(ValueError, match="ttl"):
        Negotiation(policy, ttl=0)
    with pytest.raises(ValueError, match="only a counter"):
        await accept_counter(client, agreed)
    with pytest.raises(ValueError, match="accepted agreement only"):
        under_agreement(Decision.reject("no"))


async def test_a_proposal_can_be_minimised_before_it_leaves(client: Client) -> None:
    decision = await propose(
        client,
        "schedule_callback",
        {"phone": PHONE, "time_window": "tomorrow 9-12", "email": "ann@example.com"},
        policy=CallerPolicy(),
    )
    assert decision.outcome == "accept"
    assert decision.terms is not None
    assert decision.terms.parameters == {"phone": PHONE, "time_window": "tomorrow 9-12"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"decision": "perhaps"}, "the agent's decision is not valid"),
        ({"nothing": 1}, "without a decision"),
    ],
)
async def test_an_answer_that_is_no_decision_is_an_invalid_agent_response(
    answer: dict[str, Any], message: str
) -> None:
    """An agent declaring the extension but answering something else: the caller is
    told the answer is not a decision, not handed a broken one."""
    from accord.errors import InvalidAgentResponseError
    from accord.types import AgentExtension

    async def run(ctx: TaskContext) -> None:
        await ctx.reply(Part(data=answer))

    agent = Agent(
        run,
        name="Odd",
        description="Declares negotiation, answers nonsense",
        extensions=[AgentExtension(uri=NEGOTIATION_EXTENSION)],
    )
    async for client in connect(A2AApp(agent), "JSONRPC"):
        with pytest.raises(InvalidAgentResponseError, match=message):
            await propose(client, "anything")
