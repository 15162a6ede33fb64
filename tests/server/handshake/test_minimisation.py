"""Data minimisation over the wire: the server strips or refuses what a skill did not
declare, the Accord caller cuts its message first, and the audit trail names the
categories that crossed, never a value (the SQLite file is searched for them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.client.handshake import CallerPolicy, MinimisationRefused, declared_needs
from accord.demo.receptionist import DATA_NEEDS
from accord.protocol.handshake import MINIMISATION_EXTENSION, DataNeeds
from accord.server import A2AApp, Agent, TaskContext
from accord.server.handshake import DataMinimisation, Inbound
from accord.stores import AuditQuery, AuditRecord, SQLiteTaskStore
from accord.types import Message, Part, Role, data_of
from tests.helpers.uvicorn_thread import serve_in_thread

pytestmark = pytest.mark.anyio

V1 = {"A2A-Version": "1.0"}
EMAIL = "ann.secret@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+14155550123"
TEXT_PHONE = "+1 415 555 0199"
NEEDS = next(n for n in DATA_NEEDS if n.skill == "schedule_callback")


def recording_agent() -> tuple[Agent, list[Message]]:
    """An agent that keeps each message it is given and echoes its data."""
    seen: list[Message] = []

    async def run(ctx: TaskContext) -> None:
        seen.append(ctx.message)
        await ctx.complete(
            data={"got": [p.data for p in ctx.message.parts if p.kind == "data"]}
        )

    return Agent(run, name="Desk", description="Books callbacks"), seen


def app_for(db: Path, inbound: Inbound) -> tuple[A2AApp, list[Message]]:
    agent, seen = recording_agent()
    app = A2AApp(
        agent,
        store=SQLiteTaskStore(db, audit=True),
        interceptors=[DataMinimisation(DATA_NEEDS, inbound=inbound)],
    )
    return app, seen


def oversharing() -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "metadata": {"skill": "schedule_callback"},
        "parts": [
            {
                "data": {
                    "phone": PHONE,
                    "time_window": "tomorrow 9-12",
                    "email": EMAIL,
                    "notes": f"card {CARD}",
                }
            },
            {"text": f"Call {TEXT_PHONE} or write to {EMAIL}"},
        ],
    }


def call(url: str, binding: str, message: dict[str, Any]) -> httpx.Response:
    if binding == "JSONRPC":
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {"message": message},
        }
        return httpx.post(f"{url}/", json=body, headers=V1)
    return httpx.post(f"{url}/message:send", json={"message": message}, headers=V1)


def trail(db: Path) -> list[AuditRecord]:
    async def read() -> list[AuditRecord]:
        async with SQLiteTaskStore(db) as store:
            return [e.record for e in await store.audit_entries(AuditQuery(limit=1000))]

    return anyio.run(read)


def assert_no_value_stored(db: Path) -> None:
    """Neither the audit trail nor the task rows hold a withheld value: every file of
    the database (WAL included) is searched for them."""
    for path in db.parent.glob(db.name + "*"):
        content = path.read_bytes()
        for secret in (EMAIL, CARD, CARD.replace(" ", "")):
            assert secret.encode() not in content, (secret, path.name)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_the_server_strips_and_audits_categories_only(
    tmp_path: Path, binding: str
) -> None:
    db = tmp_path / "tasks.db"
    app, seen = app_for(db, "strip")
    with serve_in_thread(app) as url:
        card = httpx.get(f"{url}/.well-known/agent-card.json").json()
        reply = call(url, binding, oversharing())
        assert reply.status_code == 200, reply.text
    [declared] = [
        e
        for e in card["capabilities"]["extensions"]
        if e["uri"] == MINIMISATION_EXTENSION
    ]
    assert declared["params"]["inbound"] == "strip"
    assert declared["params"]["skills"]["schedule_callback"]["fields"]["phone"] == (
        "phone_number"
    )
    [message] = seen
    assert message.parts[0].data == {"phone": PHONE, "time_window": "tomorrow 9-12"}
    assert message.parts[1].text == f"Call {TEXT_PHONE} or write to [withheld: email]"
    [record] = [r for r in trail(db) if r.kind == "data"]
    assert record.detail == (
        "skill=schedule_callback shared=phone_number,time_window "
        "withheld=card_number:removed,email:redacted,email:removed"
    )
    assert (record.operation, record.outcome, record.binding) == (
        "SendMessage",
        "ok",
        binding,
    )
    assert record.task_id
    assert_no_value_stored(db)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_the_server_refuses_when_so_configured(tmp_path: Path, binding: str) -> None:
    db = tmp_path / "tasks.db"
    app, seen = app_for(db, "refuse")
    with serve_in_thread(app) as url:
        reply = call(url, binding, oversharing())
        body = reply.json()
        error = body["error"]
        details = error["data"] if binding == "JSONRPC" else error["details"]
        [bad] = [d for d in details if d["@type"].endswith("BadRequest")]
        assert [v["field"] for v in bad["fieldViolations"]] == [
            "message.parts[0].data.email",
            "message.parts[0].data.notes",
            "message.parts[1].text",
        ]
        assert EMAIL not in reply.text
        assert CARD not in reply.text
        # Within the declaration: served.
        within = oversharing()
        within["parts"] = [{"data": {"phone": PHONE, "time_window": "tomorrow 9-12"}}]
        assert call(url, binding, within).status_code == 200
    assert "message.parts[0].data.email (email)" in error["message"]
    assert len(seen) == 1
    records = [r for r in trail(db) if r.kind == "data"]
    assert [(r.outcome, r.detail) for r in records] == [
        (
            "INVALID_PARAMS",
            "skill=schedule_callback shared=- "
            "withheld=card_number:removed,email:redacted,email:removed",
        ),
        ("ok", "skill=schedule_callback shared=phone_number,time_window withheld=-"),
    ]
    assert_no_value_stored(db)


def test_messages_naming_no_skill_pass_untouched(tmp_path: Path) -> None:
    app, seen = app_for(tmp_path / "tasks.db", "refuse")
    message = oversharing()
    del message["metadata"]
    with serve_in_thread(app) as url:
        assert call(url, "HTTP+JSON", message).status_code == 200
    assert seen[0].parts[0].data == oversharing()["parts"][0]["data"]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[Client, list[Message]]]:
    app, seen = app_for(tmp_path / "tasks.db", "refuse")
    async with (
        httpx.AsyncClient(
            transport=MemoryTransport(app), base_url="http://agent"
        ) as http,
        await Client.connect("http://agent", http=http) as connected,
    ):
        yield connected, seen


async def test_the_caller_cuts_its_message_before_sending(
    client: tuple[Client, list[Message]],
) -> None:
    connected, seen = client
    assert declared_needs(connected.card) == {n.skill: n for n in DATA_NEEDS}
    message = Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=(
            Part(data={"phone": PHONE, "time_window": "tomorrow 9-12", "email": EMAIL}),
            Part(text=f"My card is {CARD}, call {TEXT_PHONE}"),
        ),
        metadata={"skill": "schedule_callback"},
    )
    cut = CallerPolicy().apply(connected.card, message)
    assert [w.to_json() for w in cut.withheld] == [
        {
            "where": "message.parts[0].data.email",
            "category": "email",
            "action": "removed",
        },
        {
            "where": "message.parts[1].text",
            "category": "card_number",
            "action": "redacted",
        },
    ]
    assert cut.message is not None
    # The server refuses anything undeclared: what the caller sends passes.
    task = await connected.send_message(cut.message)
    assert data_of(task)[0]["got"] == [{"phone": PHONE, "time_window": "tomorrow 9-12"}]
    assert (
        seen[0].parts[1].text
        == f"My card is [withheld: card_number], call {TEXT_PHONE}"
    )
    strict = CallerPolicy(never=frozenset({"phone_number"})).apply(
        connected.card, message
    )
    assert strict.message is not None
    assert strict.message.parts[0].data == {"time_window": "tomorrow 9-12"}


async def test_the_caller_refuses_what_it_cannot_minimise(
    client: tuple[Client, list[Message]],
) -> None:
    connected, _ = client
    unnamed = Message(message_id="m", role=Role.USER, parts=(Part(text="hi"),))
    with pytest.raises(MinimisationRefused, match="names no skill"):
        CallerPolicy().apply(connected.card, unnamed)
    with pytest.raises(MinimisationRefused, match="declares no data needs for 'x'"):
        CallerPolicy().apply(connected.card, unnamed, skill="x")
    same = CallerPolicy(require_declaration=False).apply(
        connected.card, unnamed, skill="x"
    )
    assert same.message is unnamed
    only_file = Message(
        message_id="m",
        role=Role.USER,
        parts=(Part(url="https://example.com/passport.pdf"),),
        metadata={"skill": "schedule_callback"},
    )
    with pytest.raises(MinimisationRefused, match=r"message.parts\[0\] \(file\)"):
        CallerPolicy().apply(connected.card, only_file)
    assert declared_needs(None) is None
    assert isinstance(NEEDS, DataNeeds)
