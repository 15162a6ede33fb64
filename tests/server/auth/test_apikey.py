"""API keys over real uvicorn, both bindings: header, query and cookie; refusals."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from accord.server import A2AApp
from accord.server.auth import (
    MIN_KEY_LENGTH,
    ApiKey,
    ApiKeyRing,
    ApiKeyVerifier,
    generate_api_key,
    hash_api_key,
)
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import (
    BINDINGS,
    Caller,
    api_key_scheme,
    challenge_schemes,
    guarded_agent,
    message,
    requirement,
    task_of,
)

ALICE = "alice-key-0123456789abcdef"
CAROL = "carol-key-0123456789abcdef"
RETIRED = "retired-key-0123456789abcd"
ROTATING = "rotating-key-0123456789abc"
WRONG = "wrong-key-0123456789abcdef"

SCHEMES = {
    "header": api_key_scheme("header", "X-API-Key"),
    "query": api_key_scheme("query", "api_key"),
    "cookie": api_key_scheme("cookie", "a2a_key"),
}


@pytest.fixture(scope="module")
def ring() -> ApiKeyRing:
    keys = ApiKeyRing()
    keys.add(ALICE, principal="alice")
    keys.add(CAROL, principal="carol", tenant="acme")
    keys.add(RETIRED, principal="old", expires_at=time.time() - 1)
    keys.add(ROTATING, principal="rotating", expires_at=time.time() + 3600)
    return keys


@pytest.fixture(scope="module")
def base(ring: ApiKeyRing) -> Iterator[str]:
    verifier = ApiKeyVerifier(ring)
    agent = guarded_agent(
        SCHEMES, [requirement(header=[]), requirement(query=[]), requirement(cookie=[])]
    )
    app = A2AApp(agent, auth={name: verifier for name in SCHEMES})
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(params=BINDINGS)
def anonymous(request: pytest.FixtureRequest, base: str, http: httpx.Client) -> Caller:
    return Caller(base, str(request.param), http)


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"X-API-Key": ALICE}, {}),
        ({}, {"api_key": ALICE}),
        ({"Cookie": f"theme=dark; a2a_key={ALICE}"}, {}),
    ],
    ids=["header", "query", "cookie"],
)
def test_each_declared_location_works(
    anonymous: Caller, headers: dict[str, str], params: dict[str, str]
) -> None:
    alice = anonymous.with_credentials(headers=headers, params=params)
    sent = alice.call("SendMessage", {"message": message("echo hi")})
    task = task_of(sent)
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    got = alice.call("GetTask", {"id": task["id"]})
    assert got.result["id"] == task["id"]
    listed = alice.call("ListTasks", {})
    assert task["id"] in [t["id"] for t in listed.result["tasks"]]


def test_missing_key_is_401_with_challenges(anonymous: Caller) -> None:
    answer = anonymous.call("SendMessage", {"message": message("echo hi")})
    assert answer.status == 401
    assert answer.reason == "UNAUTHENTICATED"
    assert challenge_schemes(answer) == ["ApiKey", "ApiKey", "ApiKey"]
    assert 'name="X-API-Key"' in answer.challenges[0]
    assert 'realm="Guarded"' in answer.challenges[0]
    error = answer.error
    assert error is not None
    if anonymous.binding == "JSONRPC":
        assert error["code"] == -31401
        assert answer.body["id"] == 1  # the request id is echoed
    else:
        assert error["code"] == 401
        assert error["status"] == "UNAUTHENTICATED"
    assert "X-API-Key" in error["message"]  # says what to send


@pytest.mark.parametrize(
    "key", [WRONG, RETIRED, "short"], ids=["wrong", "retired", "short"]
)
def test_invalid_keys_are_refused_alike(
    anonymous: Caller, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accord.server.auth")
    wrong = anonymous.with_credentials(headers={"X-API-Key": WRONG})
    reference = wrong.call("GetTask", {"id": "t-1"})
    caller = anonymous.with_credentials(headers={"X-API-Key": key})
    answer = caller.call("GetTask", {"id": "t-1"})
    assert answer.status == 401
    assert answer.error is not None
    assert answer.error["message"] == "The credentials sent are not valid"
    # A retired key is refused exactly like an unknown one: nothing says why.
    assert answer.normalized() == reference.normalized()
    assert key not in caplog.text  # the reason is logged, never the secret
    assert "rejected" in caplog.text


def test_a_key_in_its_grace_period_works(anonymous: Caller) -> None:
    caller = anonymous.with_credentials(headers={"X-API-Key": ROTATING})
    assert caller.call("ListTasks", {}).status == 200


def test_retiring_a_key_takes_effect_at_once(
    anonymous: Caller, ring: ApiKeyRing
) -> None:
    key = generate_api_key()
    record = ring.add(key, principal="temp")
    caller = anonymous.with_credentials(headers={"X-API-Key": key})
    assert caller.call("ListTasks", {}).status == 200
    ring.retire(record.key_id)
    assert caller.call("ListTasks", {}).status == 401
    ring.remove(record.key_id)


def test_a_key_of_another_tenant_is_forbidden(anonymous: Caller) -> None:
    carol = anonymous.with_credentials(headers={"X-API-Key": CAROL})
    answer = carol.call("SendMessage", {"message": message("echo hi")})
    assert answer.status == 403
    assert answer.reason == "PERMISSION_DENIED"
    assert answer.challenges == []
    own = carol.call("SendMessage", {"message": message("echo hi"), "tenant": "acme"})
    assert task_of(own)["status"]["state"] == "TASK_STATE_COMPLETED"
    alice = anonymous.with_credentials(headers={"X-API-Key": ALICE})
    assert alice.call("ListTasks", {"tenant": "acme"}).status == 403


@pytest.mark.parametrize("method", ["SendStreamingMessage", "SubscribeToTask"])
def test_streams_are_refused_before_they_start(anonymous: Caller, method: str) -> None:
    params = (
        {"message": message("echo hi")}
        if method == "SendStreamingMessage"
        else {"id": "x"}
    )
    answer = anonymous.call(method, params)
    assert answer.events is None  # a normal error response, not an SSE stream
    assert answer.status == 401
    assert answer.reason == "UNAUTHENTICATED"
    assert challenge_schemes(answer) == ["ApiKey", "ApiKey", "ApiKey"]


def test_authenticated_stream(anonymous: Caller) -> None:
    alice = anonymous.with_credentials(headers={"X-API-Key": ALICE})
    answer = alice.call("SendStreamingMessage", {"message": message("echo hi")})
    assert answer.events is not None
    assert "task" in answer.events[0]


def test_the_card_stays_public(base: str, http: httpx.Client) -> None:
    card = http.get(base + "/.well-known/agent-card.json")
    assert card.status_code == 200
    body = card.json()
    assert body["securitySchemes"]["header"] == {
        "apiKeySecurityScheme": {"location": "header", "name": "X-API-Key"}
    }
    assert body["securityRequirements"][0] == {"schemes": {"header": {}}}
    assert "url" not in body  # v0.3's members only with Agent(v03_card=True)


def test_unknown_routes_need_authentication_too(base: str, http: httpx.Client) -> None:
    assert (
        http.get(base + "/no/such/route", headers={"A2A-Version": "1.0"}).status_code
        == 401
    )
    with_key = http.get(
        base + "/no/such/route", headers={"A2A-Version": "1.0", "X-API-Key": ALICE}
    )
    assert with_key.status_code == 404


def test_query_key_does_not_leak_into_request_fields(anonymous: Caller) -> None:
    alice = anonymous.with_credentials(params={"api_key": ALICE})
    answer = alice.call("ListTasks", {"pageSize": 1})
    assert answer.status == 200
    assert answer.result["pageSize"] == 1


# --- the key ring ------------------------------------------------------------------------


def test_keys_are_stored_hashed() -> None:
    key = generate_api_key()
    assert key.startswith("acc_")
    assert len(key) >= 40
    ring = ApiKeyRing()
    record = ring.add(key, principal="p", scopes=["read"])
    assert record.hash == hash_api_key(key)
    assert record.hash.startswith("sha256:")
    assert key not in repr(record)
    assert record.key_id == record.hash[7:19]
    assert ring.match(key) == record
    assert ring.match(key + "x") is None
    assert list(ring) == [record]
    assert len(ring) == 1


def test_ring_rules() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_KEY_LENGTH}"):
        hash_api_key("too-short")
    ring = ApiKeyRing()
    ring.add(ALICE, principal="alice")
    with pytest.raises(ValueError, match="already in the ring"):
        ring.add(ALICE, principal="again")
    with pytest.raises(KeyError):
        ring.retire("nope")
    with pytest.raises(KeyError):
        ring.remove("nope")
    with pytest.raises(ValueError, match="sha256"):
        ApiKey(hash="md5:abc", principal="p")
    with pytest.raises(ValueError, match="principal"):
        ApiKey(hash=hash_api_key(ALICE), principal="")


@pytest.mark.anyio
async def test_retire_later_then_expired() -> None:
    from accord.server.auth import Credential, CredentialRejected, RequestInfo

    now = [1000.0]
    ring = ApiKeyRing([ApiKey(hash=hash_api_key(ALICE), principal="alice")])
    verifier = ApiKeyVerifier(ring, clock=lambda: now[0])
    ring.retire(hash_api_key(ALICE), at=1100.0)
    credential = Credential("header", SCHEMES["header"], ALICE, RequestInfo())
    assert "alice-key" not in repr(credential)
    principal = await verifier.verify(credential)
    assert (principal.id, principal.tenants) == ("alice", frozenset({""}))
    now[0] = 1100.0
    with pytest.raises(CredentialRejected, match="retired"):
        await verifier.verify(credential)
