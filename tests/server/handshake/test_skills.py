"""Skill contracts over the wire: the card declares them, data parts are validated, and
the founding documents' manifest and skill-named call work against the Receptionist."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import MemoryTransport
from accord.demo.receptionist import CONTRACTS
from accord.protocol.handshake import SKILLS_EXTENSION
from accord.server import A2AApp, ServerLimits
from accord.server.handshake import FoundingSurface, SkillContracts
from accord.stores import SQLiteTaskStore
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import BEARER, auth, bearer_receptionist, keyed_receptionist

KEY = "skills-test-key-0123456789"
V1 = {"A2A-Version": "1.0", "X-API-Key": KEY}


@pytest.fixture(scope="module")
def receptionist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("skills") / "accord.db"
    with serve_in_thread(keyed_receptionist(db, partner=KEY)) as url:
        yield url


@pytest.fixture(scope="module")
def founding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("founding") / "accord.db"
    contracts = SkillContracts(CONTRACTS)
    app = A2AApp(
        bearer_receptionist(db),
        store=SQLiteTaskStore(db),
        auth=auth(),
        interceptors=[contracts],
    )
    with serve_in_thread(FoundingSurface(app, contracts)) as url:
        yield url


def _send(data: Any) -> dict[str, Any]:
    return {
        "message": {
            "messageId": str(uuid.uuid4()),
            "role": "ROLE_USER",
            "parts": [{"data": data, "mediaType": "application/json"}],
        }
    }


def test_the_card_declares_the_contracts_not_required(receptionist: str) -> None:
    card = httpx.get(f"{receptionist}/.well-known/agent-card.json").json()
    [extension] = [
        e for e in card["capabilities"]["extensions"] if e["uri"] == SKILLS_EXTENSION
    ]
    assert not extension.get("required", False)
    skills = {s["id"]: s for s in extension["params"]["skills"]}
    assert set(skills) == {
        "schedule_callback",
        "fetch_call_summary",
        "escalate_to_human",
    }
    assert skills["schedule_callback"]["inputSchema"]["properties"]["phone"][
        "type"
    ] == ("string")
    assert "bookingId" in skills["schedule_callback"]["outputSchema"]["required"]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_a_schema_violation_is_invalid_params_naming_the_field(
    receptionist: str, binding: str
) -> None:
    params = _send({"skill": "schedule_callback", "phone": 14155550123})
    if binding == "JSONRPC":
        body = {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": params}
        answer = httpx.post(f"{receptionist}/", json=body, headers=V1).json()
        error = answer["error"]
        assert error["code"] == -32602
        message = error["message"]
        details = error["data"]
    else:
        reply = httpx.post(f"{receptionist}/message:send", json=params, headers=V1)
        assert reply.status_code == 400
        error = reply.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        message, details = error["message"], error["details"]
    assert message == "schedule_callback: phone is not string"
    [bad_request] = [d for d in details if d["@type"].endswith("BadRequest")]
    assert bad_request["fieldViolations"] == [
        {"field": "message.parts[0].data.phone", "description": "is not string"}
    ]


def test_conforming_data_reaches_the_agent(receptionist: str) -> None:
    window = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}
    params = _send(
        {"skill": "schedule_callback", "phone": "+14155550123", "window": window}
    )
    reply = httpx.post(f"{receptionist}/message:send", json=params, headers=V1)
    assert reply.status_code == 200, reply.text
    assert reply.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_the_founding_manifest(founding: str) -> None:
    manifest = httpx.get(f"{founding}/.well-known/agent.json").json()
    assert set(manifest) == {"name", "tasks", "auth", "endpoint"}
    assert manifest["name"] == "Receptionist"
    assert manifest["auth"] == "bearer"
    assert manifest["endpoint"] == f"{founding}/"
    tasks = {t["name"]: t for t in manifest["tasks"]}
    assert set(tasks["schedule_callback"]) == {"name", "input_schema", "output_schema"}
    assert "phone" in tasks["schedule_callback"]["input_schema"]["properties"]
    # The A2A card is still served at the spec's path.
    card = httpx.get(f"{founding}/.well-known/agent-card.json").json()
    assert card["name"] == "Receptionist"
    assert "supportedInterfaces" in card


def test_the_founding_request_books_a_callback(founding: str) -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "schedule_callback",
        "params": {"phone": "+14155550123", "time_window": "tomorrow 9-12"},
    }
    answer = httpx.post(f"{founding}/", json=request, headers=BEARER).json()
    assert answer["id"] == 1
    task = answer["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED", task
    [artifact] = task["artifacts"]
    [booking] = [p["data"] for p in artifact["parts"] if "data" in p]
    assert booking["phone"] == "+14155550123"
    assert booking["window"] == {
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T12:00:00Z",
    }


def test_the_founding_request_needs_the_token_and_valid_params(founding: str) -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "schedule_callback",
        "params": {"phone": "+14155550123", "time_window": "tomorrow 9-12"},
    }
    refused = httpx.post(f"{founding}/", json=request)
    assert refused.status_code == 401
    wrong = {**request, "params": {"phone": 5}}
    error = httpx.post(f"{founding}/", json=wrong, headers=BEARER).json()["error"]
    assert (error["code"], error["message"]) == (
        -32602,
        "schedule_callback: phone is not string",
    )
    listed = {**request, "params": ["+14155550123"]}
    error = httpx.post(f"{founding}/", json=listed, headers=BEARER).json()["error"]
    assert error["code"] == -32602
    assert "params must be a JSON object" in error["message"]


def test_other_requests_pass_through(founding: str) -> None:
    unknown = {"jsonrpc": "2.0", "id": 3, "method": "book_a_table", "params": {}}
    answer = httpx.post(
        f"{founding}/", json=unknown, headers={**BEARER, "A2A-Version": "1.0"}
    )
    assert answer.json()["error"]["code"] == -32601
    body = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "SendMessage",
        "params": _send({"skill": "fetch_call_summary", "callId": "call-1001"}),
    }
    sent = httpx.post(
        f"{founding}/", json=body, headers={**BEARER, "A2A-Version": "1.0"}
    )
    assert sent.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_the_manifest_answers_head_and_bodies_that_are_not_calls_pass(
    founding: str,
) -> None:
    head = httpx.head(f"{founding}/.well-known/agent.json")
    assert head.status_code == 200
    assert head.content == b""
    broken = httpx.post(
        f"{founding}/",
        content=b"{not json",
        headers={**BEARER, "A2A-Version": "1.0", "Content-Type": "application/json"},
    )
    assert broken.json()["error"]["code"] == -32700  # the app's own parse error


@pytest.mark.anyio
async def test_a_body_over_the_limit_is_left_to_the_app(tmp_path: Path) -> None:
    contracts = SkillContracts(CONTRACTS)
    app = A2AApp(
        bearer_receptionist(tmp_path / "accord.db"),
        auth=auth(),
        interceptors=[contracts],
        limits=ServerLimits(max_body_bytes=1000),
    )
    surface = FoundingSurface(app, contracts)
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "schedule_callback",
        "params": {"phone": "+14155550123", "notes": "x" * 5000},
    }
    async with httpx.AsyncClient(
        transport=MemoryTransport(surface), base_url="http://desk"
    ) as http:
        answer = await http.post("/", json=request, headers=BEARER)
    assert answer.status_code == 413
