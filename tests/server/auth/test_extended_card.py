"""GetExtendedAgentCard: always authenticated (spec §13.3), per caller, both bindings."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from accord.server import A2AApp
from accord.server.auth import ApiKeyRing, ApiKeyVerifier, AuthConfig, Principal
from accord.types import AgentCapabilities, AgentCard
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import (
    BINDINGS,
    Caller,
    api_key_scheme,
    extended_card_for,
    guarded_agent,
    message,
    requirement,
)

ALICE = "alice-key-0123456789abcdef"
BOB = "bob-key-0123456789abcdefgh"
CAROL = "carol-key-0123456789abcdef"
KEY = {"key": api_key_scheme("header", "X-API-Key")}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def open_agent() -> Iterator[str]:
    """Anonymous operations, but a declared API key for the extended card."""
    ring = ApiKeyRing()
    ring.add(ALICE, principal="alice", scopes=["card"])
    ring.add(BOB, principal="bob")
    ring.add(CAROL, principal="carol", tenant="acme", scopes=["card"])
    agent = guarded_agent(KEY, [], extended=extended_card_for)
    app = A2AApp(
        agent,
        auth=AuthConfig(
            verifiers={"key": ApiKeyVerifier(ring)},
            operation_scopes={"GetExtendedAgentCard": ["card"]},
        ),
    )
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_public_card_advertises_it(open_agent: str, http: httpx.Client) -> None:
    card = http.get(open_agent + "/.well-known/agent-card.json").json()
    assert card["capabilities"]["extendedAgentCard"] is True
    assert "securityRequirements" not in card


def test_anonymous_callers_are_asked_to_authenticate(
    open_agent: str, http: httpx.Client, binding: str
) -> None:
    anonymous = Caller(open_agent, binding, http)
    assert anonymous.call("SendMessage", {"message": message("echo hi")}).status == 200
    answer = anonymous.call("GetExtendedAgentCard", {})
    assert answer.status == 401
    assert answer.reason == "UNAUTHENTICATED"
    assert answer.challenges == [
        'ApiKey realm="Guarded", location="header", name="X-API-Key"'
    ]
    wrong = anonymous.with_credentials(headers={"X-API-Key": "x" * 20})
    assert wrong.call("GetExtendedAgentCard", {}).status == 401


def test_the_card_is_built_for_the_caller(
    open_agent: str, http: httpx.Client, binding: str
) -> None:
    alice = Caller(open_agent, binding, http, {"X-API-Key": ALICE})
    assert alice.call("GetExtendedAgentCard", {}).result["name"] == "Guarded for alice"
    carol = Caller(open_agent, binding, http, {"X-API-Key": CAROL})
    card = carol.call("GetExtendedAgentCard", {"tenant": "acme"}).result
    assert card["name"] == "Guarded for carol"
    assert card["description"] == "tenants=['acme']"
    # Carol's key is for tenant acme only.
    assert carol.call("GetExtendedAgentCard", {}).status == 403


def test_permissions_are_checked_before_the_card_is_built(
    open_agent: str, http: httpx.Client, binding: str
) -> None:
    bob = Caller(open_agent, binding, http, {"X-API-Key": BOB})
    answer = bob.call("GetExtendedAgentCard", {})
    assert answer.status == 403
    assert answer.reason == "PERMISSION_DENIED"


def test_no_declared_scheme_means_no_extended_card(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    card = AgentCard(name="Hidden", version="1", capabilities=AgentCapabilities())
    agent = guarded_agent({}, [], extended=card)
    with caplog.at_level(logging.WARNING):
        app = A2AApp(agent)
    assert "will always answer 401" in caplog.text
    with serve_in_thread(app) as url:
        for binding in BINDINGS:
            answer = Caller(url, binding, http).call("GetExtendedAgentCard", {})
            assert answer.status == 401
            assert answer.reason == "UNAUTHENTICATED"
            assert answer.challenges == []


def test_capability_and_configuration_errors(http: httpx.Client) -> None:
    ring = ApiKeyRing()
    ring.add(ALICE, principal="alice")
    undeclared = A2AApp(guarded_agent(KEY, []), auth={"key": ApiKeyVerifier(ring)})
    declared_only = A2AApp(
        guarded_agent(KEY, [], declare_extended=True),
        auth={"key": ApiKeyVerifier(ring)},
    )
    with serve_in_thread(undeclared) as a, serve_in_thread(declared_only) as b:
        for binding in BINDINGS:
            # Not declared: UnsupportedOperation, also for anonymous callers (spec §3.3.4).
            off = Caller(a, binding, http).call("GetExtendedAgentCard", {})
            assert off.reason == "UNSUPPORTED_OPERATION"
            # Declared, not configured: authentication first, then -32007 (spec §3.3.4).
            anonymous = Caller(b, binding, http).call("GetExtendedAgentCard", {})
            assert anonymous.status == 401
            alice = Caller(b, binding, http, {"X-API-Key": ALICE})
            answer = alice.call("GetExtendedAgentCard", {})
            assert answer.reason == "EXTENDED_AGENT_CARD_NOT_CONFIGURED"


def test_async_builder_behind_required_auth(http: httpx.Client) -> None:
    ring = ApiKeyRing()
    ring.add(ALICE, principal="alice")

    async def build(principal: Principal) -> AgentCard:
        return AgentCard(
            name=f"async {principal.id}", version="1", capabilities=AgentCapabilities()
        )

    agent = guarded_agent(KEY, [requirement(key=[])], extended=build)
    with serve_in_thread(A2AApp(agent, auth={"key": ApiKeyVerifier(ring)})) as url:
        for binding in BINDINGS:
            anonymous = Caller(url, binding, http).call("GetExtendedAgentCard", {})
            assert anonymous.status == 401
            alice = Caller(url, binding, http, {"X-API-Key": ALICE})
            assert (
                alice.call("GetExtendedAgentCard", {}).result["name"] == "async alice"
            )
