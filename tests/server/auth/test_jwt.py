"""HTTP bearer JWTs against a real JWKS served on loopback, both bindings."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from accord.security.jose import JWK, b64url_encode
from accord.server import A2AApp
from accord.server.auth import AuthConfig, JWTVerifier
from tests.helpers.cli import closed_port_url
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import (
    BINDINGS,
    Caller,
    bearer_scheme,
    guarded_agent,
    message,
    requirement,
)
from .idp import AUDIENCE, IdP, token
from .idp import claims as base_claims


def claims(issuer: str, **extra: Any) -> dict[str, Any]:
    """Token claims for the default tenant (the verifier reads ``tenant``)."""
    return base_claims(issuer, **{"tenant": "", **extra})


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdP, str]]:
    provider = IdP()
    with serve_in_thread(provider) as url:
        yield provider, url


def bearer_app(jwks_url: str, issuer: str, **options: Any) -> A2AApp:
    verifier = JWTVerifier(
        issuer=issuer,
        audience=AUDIENCE,
        jwks_url=jwks_url,
        allow_insecure_http_for_tests=True,
        tenant_claim="tenant",
        **options,
    )
    agent = guarded_agent({"bearer": bearer_scheme()}, [requirement(bearer=[])])
    return A2AApp(
        agent,
        auth=AuthConfig(
            verifiers={"bearer": verifier},
            operation_scopes={"CancelTask": ["tasks:cancel"]},
        ),
    )


@pytest.fixture(scope="module")
def base(idp: tuple[IdP, str]) -> Iterator[str]:
    _, url = idp
    with serve_in_thread(bearer_app(url + "/jwks", url)) as agent_url:
        yield agent_url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(params=BINDINGS)
def anonymous(request: pytest.FixtureRequest, base: str, http: httpx.Client) -> Caller:
    return Caller(base, str(request.param), http)


def with_token(caller: Caller, jwt: str) -> Caller:
    return caller.with_credentials(headers={"Authorization": f"Bearer {jwt}"})


def test_a_valid_token_works(anonymous: Caller, idp: tuple[IdP, str]) -> None:
    provider, url = idp
    jwt = token(provider.keys[0], claims(url))
    caller = with_token(anonymous, jwt)
    sent = caller.call("SendMessage", {"message": message("echo hi")})
    assert sent.status == 200
    assert caller.call("ListTasks", {}).result["totalSize"] >= 1


def _forged(key: JWK, payload: dict[str, Any]) -> str:
    other = JWK.generate("ES256", kid=key.kid)  # same kid, another key
    return token(other, payload)


def _alg_none(key: JWK, payload: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"alg": "none", "kid": key.kid}).encode())
    return f"{header}.{b64url_encode(json.dumps(payload).encode())}."


def _hs256_with_the_public_key(key: JWK, payload: dict[str, Any]) -> str:
    # The algorithm-confusion attack: HMAC keyed with the (public) verification key.
    header = b64url_encode(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    body = b64url_encode(json.dumps(payload).encode())
    secret = key.public().to_pem()
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url_encode(mac)}"


BAD: dict[str, Callable[[JWK, str], str]] = {
    "expired": lambda k, url: token(k, claims(url, exp=int(time.time()) - 120)),
    "not-yet-valid": lambda k, url: token(k, claims(url, nbf=int(time.time()) + 600)),
    "wrong-audience": lambda k, url: token(k, claims(url, aud="https://other.test")),
    "wrong-issuer": lambda k, url: token(k, claims("https://evil.test")),
    "forged-signature": lambda k, url: _forged(k, claims(url)),
    "alg-none": lambda k, url: _alg_none(k, claims(url)),
    "hs256-with-public-key": lambda k, url: _hs256_with_the_public_key(k, claims(url)),
    "no-subject": lambda k, url: token(k, {**claims(url), "sub": ""}),
    "no-exp": lambda k, url: token(
        k, {c: v for c, v in claims(url).items() if c != "exp"}
    ),
    "garbage": lambda k, url: "not.a.jwt",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_tokens_get_the_same_401(
    anonymous: Caller, idp: tuple[IdP, str], case: str
) -> None:
    provider, url = idp
    reference = with_token(anonymous, "x.y.z").call("GetTask", {"id": "t"})
    answer = with_token(anonymous, BAD[case](provider.keys[0], url)).call(
        "GetTask", {"id": "t"}
    )
    assert answer.status == 401
    assert answer.reason == "UNAUTHENTICATED"
    assert answer.challenges == ['Bearer realm="Guarded", error="invalid_token"']
    assert answer.normalized() == reference.normalized()  # nothing says why


def test_no_token_has_no_error_code(anonymous: Caller) -> None:
    answer = anonymous.call("GetTask", {"id": "t"})
    assert answer.status == 401
    assert answer.challenges == ['Bearer realm="Guarded"']


def test_operation_scopes(anonymous: Caller, idp: tuple[IdP, str]) -> None:
    provider, url = idp
    plain = with_token(anonymous, token(provider.keys[0], claims(url)))
    denied = plain.call("CancelTask", {"id": "t-1"})
    assert denied.status == 403
    assert denied.reason == "PERMISSION_DENIED"
    assert denied.challenges == [
        'Bearer realm="Guarded", error="insufficient_scope", scope="tasks:cancel"'
    ]
    scoped = with_token(
        anonymous, token(provider.keys[0], claims(url, scope="tasks:read tasks:cancel"))
    )
    assert scoped.call("CancelTask", {"id": "t-1"}).reason == "TASK_NOT_FOUND"
    listed = with_token(
        anonymous, token(provider.keys[0], claims(url, scp=["tasks:cancel"]))
    )
    assert listed.call("CancelTask", {"id": "t-1"}).reason == "TASK_NOT_FOUND"


def test_tenant_claim_binds_the_token(anonymous: Caller, idp: tuple[IdP, str]) -> None:
    provider, url = idp
    acme = with_token(anonymous, token(provider.keys[0], claims(url, tenant="acme")))
    assert acme.call("ListTasks", {"tenant": "acme"}).status == 200
    assert acme.call("ListTasks", {}).status == 403
    assert acme.call("ListTasks", {"tenant": "other"}).status == 403


def test_a_token_without_the_tenant_claim_is_bound_to_no_tenant(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, url = idp
    bare = with_token(anonymous, token(provider.keys[0], base_claims(url)))
    assert bare.call("ListTasks", {}).status == 403
    assert bare.call("ListTasks", {"tenant": "acme"}).status == 403


def test_tokens_of_one_subject_share_tasks_others_do_not(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, url = idp
    key = provider.keys[0]
    first = with_token(anonymous, token(key, claims(url, sub="same")))
    task = first.call("SendMessage", {"message": message("echo a")}).result["task"]
    again = with_token(anonymous, token(key, claims(url, sub="same", jti="2")))
    assert again.call("GetTask", {"id": task["id"]}).status == 200
    other = with_token(anonymous, token(key, claims(url, sub="someone-else")))
    assert other.call("GetTask", {"id": task["id"]}).reason == "TASK_NOT_FOUND"


def test_unknown_kid_refetches_at_most_once_per_interval(
    idp: tuple[IdP, str], http: httpx.Client
) -> None:
    provider, url = idp
    now = [1000.0]
    app = bearer_app(
        url + "/jwks", url, min_refetch_interval=60.0, clock=lambda: now[0]
    )
    with serve_in_thread(app) as base:
        caller = Caller(base, "JSONRPC", http)
        hits = provider.jwks_hits
        assert (
            with_token(caller, token(provider.keys[0], claims(url)))
            .call("ListTasks", {})
            .status
            == 200
        )
        assert provider.jwks_hits == hits + 1
        # The provider rotates to a new key.
        new_key = JWK.generate("ES256", kid="k-rotated")
        provider.keys.append(new_key)
        rotated = with_token(caller, token(new_key, claims(url)))
        assert rotated.call("ListTasks", {}).status == 401  # too soon to refetch
        assert provider.jwks_hits == hits + 1
        now[0] += 61
        assert rotated.call("ListTasks", {}).status == 200  # refetched once
        assert provider.jwks_hits == hits + 2
        # Made-up kids cannot make the server hammer the provider.
        for n in range(5):
            ghost = with_token(
                caller, token(JWK.generate("ES256", kid=f"ghost{n}"), claims(url))
            )
            assert ghost.call("ListTasks", {}).status == 401
        assert provider.jwks_hits == hits + 2
        now[0] += 61
        ghost = with_token(
            caller, token(JWK.generate("ES256", kid="ghost"), claims(url))
        )
        assert ghost.call("ListTasks", {}).status == 401
        assert provider.jwks_hits == hits + 3
        # Past max_age the JWKS is fetched again on the next request.
        now[0] += 3600
        assert rotated.call("ListTasks", {}).status == 200
        assert provider.jwks_hits == hits + 4
        provider.keys.remove(new_key)


def test_an_unreachable_jwks_is_503(http: httpx.Client) -> None:
    dead = closed_port_url()
    with serve_in_thread(bearer_app(dead + "/jwks", dead)) as base:
        for binding in BINDINGS:
            answer = with_token(Caller(base, binding, http), "a.b.c").call(
                "ListTasks", {}
            )
            assert answer.status == 503
            assert answer.headers["retry-after"] == "1"
            assert answer.reason == "UNAVAILABLE"


@pytest.mark.anyio
async def test_static_hmac_keys() -> None:
    from accord.server.auth import Credential, CredentialRejected, RequestInfo

    secret = JWK(kid="hs", alg="HS256", key=b"k" * 32)
    verifier = JWTVerifier(
        issuer="https://i", audience=AUDIENCE, keys=[secret], algorithms=["HS256"]
    )
    good = token(secret, claims("https://i", scope="a b"))
    principal = await verifier.verify(
        Credential("bearer", bearer_scheme(), good, RequestInfo())
    )
    assert principal.id == "user-1"
    assert principal.scopes == {"a", "b"}
    assert principal.tenants is None
    with pytest.raises(CredentialRejected):
        await verifier.verify(
            Credential("bearer", bearer_scheme(), good + "x", RequestInfo())
        )
    await verifier.aclose()
