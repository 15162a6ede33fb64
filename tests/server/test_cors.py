"""CORS: the card and JWK Set for every origin; the endpoints only under a policy.

Also: endpoint answers (the extended card among them) are never publicly cacheable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from accord.security import JWK
from accord.server import A2AApp, CorsPolicy
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from tests.helpers.uvicorn_thread import serve_in_thread

from .auth.helpers import api_key_scheme, extended_card_for, guarded_agent, requirement

KEY = "partner-key-0123456789abcdef"
APP = "https://app.example.com"
#: The card declares its API key in this header: CORS must allow it, not just X-API-Key.
KEY_HEADER = "X-Partner-Key"


def guarded_app(**options: Any) -> A2AApp:
    """Every operation needs the API key; an extended card for authenticated callers."""
    ring = ApiKeyRing()
    ring.add(KEY, principal="partner")
    agent = guarded_agent(
        {"key": api_key_scheme("header", KEY_HEADER)},
        [requirement(key=[])],
        extended=extended_card_for,
    )
    return A2AApp(agent, auth={"key": ApiKeyVerifier(ring)}, **options)


@asynccontextmanager
async def client(app: A2AApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.running(),
        httpx.AsyncClient(transport=transport, base_url="http://agent.test") as http,
    ):
        yield http


def preflight(
    method: str = "POST", headers: str = "a2a-version,content-type"
) -> dict[str, str]:
    return {
        "Origin": APP,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


pytestmark = pytest.mark.anyio


# --- the public documents -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/agent-card.json",
        "/.well-known/agent-card",
        "/.well-known/jwks.json",
    ],
)
async def test_public_documents_are_readable_from_any_origin(path: str) -> None:
    app = guarded_app(card_signer=JWK.generate("ES256", kid="k"))
    async with client(app) as http:
        answer = await http.get(path, headers={"Origin": "https://anywhere.example"})
        options = await http.options(path, headers=preflight("GET", "if-none-match"))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "ETag" in answer.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in answer.headers
    # The preflight needs no credentials (the agent requires an API key everywhere else).
    assert options.status_code == 204
    assert options.content == b""
    assert options.headers["access-control-allow-origin"] == "*"
    assert "GET" in options.headers["access-control-allow-methods"]
    assert "If-None-Match" in options.headers["access-control-allow-headers"]
    assert int(options.headers["access-control-max-age"]) > 0
    assert "content-length" not in options.headers


# --- endpoints: off by default ------------------------------------------------------


async def test_endpoints_have_no_cors_by_default() -> None:
    async with client(guarded_app()) as http:
        answer = await http.get(
            "/tasks/x", headers={"Origin": APP, KEY_HEADER: KEY, "A2A-Version": "1.0"}
        )
        options = await http.options("/", headers=preflight())
    assert answer.status_code == 404
    assert not any(h.startswith("access-control-") for h in answer.headers)
    assert options.status_code != 204  # no preflight answer: the browser refuses
    assert not any(h.startswith("access-control-") for h in options.headers)


async def test_endpoint_answers_are_never_stored_by_shared_caches() -> None:
    async with client(guarded_app()) as http:
        extended = await http.get(
            "/extendedAgentCard", headers={KEY_HEADER: KEY, "A2A-Version": "1.0"}
        )
        refused = await http.get("/extendedAgentCard", headers={"A2A-Version": "1.0"})
        rpc = await http.post(
            "/",
            json={"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard"},
            headers={KEY_HEADER: KEY, "A2A-Version": "1.0"},
        )
        missing = await http.get(
            "/tasks/nope", headers={KEY_HEADER: KEY, "A2A-Version": "1.0"}
        )
    assert extended.status_code == 200, extended.text
    assert extended.json()["name"] == "Guarded for partner"
    # spec §8.6: the extended card is cached per authenticated session: the caller's
    # own cache only, per credential.
    assert extended.headers["cache-control"] == "private, max-age=300"
    assert KEY_HEADER in extended.headers["vary"]
    assert "Authorization" in extended.headers["vary"]
    for answer in (refused, rpc, missing):
        assert answer.headers["cache-control"] == "no-store"
    assert rpc.json()["result"]["name"] == "Guarded for partner"


# --- endpoints: with a policy -------------------------------------------------------


async def test_preflight_from_an_allowed_origin_needs_no_credentials() -> None:
    app = guarded_app(cors=CorsPolicy((APP + "/",), max_age=120))
    async with client(app) as http:
        rpc = await http.options(
            "/", headers=preflight("POST", f"a2a-version,a2a-extensions,{KEY_HEADER}")
        )
        rest = await http.options(
            "/tasks/t1:subscribe",
            headers=preflight("POST", "authorization,last-event-id,content-type"),
        )
        delete = await http.options(
            "/tasks/t1/pushNotificationConfigs/c1", headers=preflight("DELETE", "")
        )
    for answer in (rpc, rest, delete):
        assert answer.status_code == 204, answer.text
        assert answer.headers["access-control-allow-origin"] == APP
        assert "Origin" in answer.headers["vary"]
        assert answer.headers["access-control-max-age"] == "120"
        assert "access-control-allow-credentials" not in answer.headers
    methods = {
        m.strip() for m in rpc.headers["access-control-allow-methods"].split(",")
    }
    assert methods == {"GET", "POST", "DELETE"}
    allowed = {
        h.strip().lower()
        for h in rpc.headers["access-control-allow-headers"].split(",")
    }
    assert {
        "a2a-version",
        "a2a-extensions",
        "authorization",
        "x-api-key",
        "content-type",
        "last-event-id",
        KEY_HEADER.lower(),
    } <= allowed


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({**preflight(), "Origin": "https://evil.example"}, "origin"),
        (preflight("PUT"), "method PUT"),
        (preflight("POST", "a2a-version,x-secret-sauce"), "x-secret-sauce"),
    ],
)
async def test_preflight_refusals_say_why(headers: dict[str, str], reason: str) -> None:
    async with client(guarded_app(cors=CorsPolicy((APP,)))) as http:
        answer = await http.options("/", headers=headers)
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    assert reason in answer.json()["error"]


async def test_responses_carry_cors_headers_for_allowed_origins_only() -> None:
    async with client(guarded_app(cors=CorsPolicy((APP,)))) as http:
        allowed = await http.get(
            "/tasks/x", headers={"Origin": APP, "A2A-Version": "1.0"}
        )
        other = await http.get(
            "/tasks/x", headers={"Origin": "https://evil.example", "A2A-Version": "1.0"}
        )
        plain = await http.get("/tasks/x", headers={"A2A-Version": "1.0"})
    # A refusal must be readable too: the page learns which credential to send.
    assert allowed.status_code == 401
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "WWW-Authenticate" in allowed.headers["access-control-expose-headers"]
    assert allowed.headers["vary"] == "Origin"
    for answer in (other, plain):
        assert "access-control-allow-origin" not in answer.headers
        assert answer.headers["vary"] == "Origin"  # a cache must not mix them up


async def test_credentials_echo_the_origin_and_wildcard_has_none() -> None:
    with_credentials = guarded_app(cors=CorsPolicy((APP,), allow_credentials=True))
    async with client(with_credentials) as http:
        answer = await http.get("/tasks/x", headers={"Origin": APP})
        options = await http.options("/", headers=preflight())
    for response in (answer, options):
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"
    async with client(guarded_app(cors=CorsPolicy(("*",)))) as http:
        anyone = await http.get("/tasks/x", headers={"Origin": "https://x.example"})
    assert anyone.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in anyone.headers
    assert "vary" not in anyone.headers


@pytest.mark.parametrize(
    ("origins", "credentials", "message"),
    [
        (("*",), True, "explicit origins"),
        (("*", APP), False, "stands alone"),
        (("null",), False, "null"),
        (("https://app.example.com/path",), False, "scheme://host"),
        (("app.example.com",), False, "not an origin"),
        ((), False, "at least one"),
    ],
)
def test_bad_policies_are_refused(
    origins: tuple[str, ...], credentials: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CorsPolicy(origins, allow_credentials=credentials)


def test_origins_are_normalised() -> None:
    policy = CorsPolicy(("HTTPS://App.Example.com:443/", "http://localhost:5173"))
    assert policy.allow_origins == ("https://app.example.com", "http://localhost:5173")
    assert policy.allows("https://app.example.com")
    assert not policy.allows("https://app.example.com.evil.example")


@pytest.fixture
def real_server() -> Iterator[str]:
    with serve_in_thread(guarded_app(cors=CorsPolicy((APP,)))) as url:
        yield url


def test_cors_over_a_real_server(real_server: str) -> None:
    with httpx.Client(timeout=10) as http:
        options = http.options(real_server + "/", headers=preflight())
        sent = http.post(
            real_server + "/",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "GetTask",
                "params": {"id": "x"},
            },
            headers={"Origin": APP, KEY_HEADER: KEY, "A2A-Version": "1.0"},
        )
    assert options.status_code == 204
    assert options.headers["access-control-allow-origin"] == APP
    assert sent.headers["access-control-allow-origin"] == APP
    assert sent.headers["cache-control"] == "no-store"
    assert sent.json()["error"]["code"] == -32001  # TaskNotFound: the call went through
