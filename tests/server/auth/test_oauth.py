"""OAuth 2.0 / OpenID Connect: discovery from the card, JWT and introspected tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.server import A2AApp
from accord.server.auth import OAuthVerifier
from accord.server.auth.oauth import expected_issuer
from accord.types import (
    ClientCredentialsOAuthFlow,
    OAuth2SecurityScheme,
    OAuthFlows,
    OpenIdConnectSecurityScheme,
    SecurityScheme,
)
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import BINDINGS, Caller, guarded_agent, requirement
from .idp import AUDIENCE, CLIENT_ID, CLIENT_SECRET, IdP, claims, token


def oidc_scheme(url: str) -> SecurityScheme:
    return SecurityScheme(
        open_id_connect_security_scheme=OpenIdConnectSecurityScheme(
            open_id_connect_url=url + "/.well-known/openid-configuration"
        )
    )


def oauth2_scheme(metadata_url: str) -> SecurityScheme:
    return SecurityScheme(
        oauth2_security_scheme=OAuth2SecurityScheme(
            flows=OAuthFlows(
                client_credentials=ClientCredentialsOAuthFlow(
                    token_url="https://idp.test/token", scopes={"a2a:read": "read"}
                )
            ),
            oauth2_metadata_url=metadata_url,
        )
    )


def verifier(**options: Any) -> OAuthVerifier:
    return OAuthVerifier(
        audience=AUDIENCE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allow_insecure_http_for_tests=True,
        **options,
    )


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[IdP, str]]:
    provider = IdP()
    with serve_in_thread(provider) as url:
        yield provider, url


@pytest.fixture(scope="module")
def base(idp: tuple[IdP, str]) -> Iterator[str]:
    _, url = idp
    agent = guarded_agent(
        {
            "oidc": oidc_scheme(url),
            "oauth": oauth2_scheme(
                url + "/.well-known/oauth-authorization-server/realm1"
            ),
        },
        [requirement(oidc=["a2a:read"]), requirement(oauth=[])],
    )
    shared = verifier()
    with serve_in_thread(
        A2AApp(agent, auth={"oidc": shared, "oauth": shared})
    ) as agent_url:
        yield agent_url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(params=BINDINGS)
def anonymous(request: pytest.FixtureRequest, base: str, http: httpx.Client) -> Caller:
    return Caller(base, str(request.param), http)


def bearer(caller: Caller, value: str) -> Caller:
    return caller.with_credentials(headers={"Authorization": f"Bearer {value}"})


def active(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "active": True,
        "sub": "svc-7",
        "scope": "a2a:read other",
        "aud": AUDIENCE,
        "exp": now + 300,
        "token_type": "access_token",
        **extra,
    }


def test_jwt_access_token_via_discovered_jwks(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, url = idp
    jwt = token(provider.keys[0], claims(url, scp=["a2a:read"]))
    answer = bearer(anonymous, jwt).call("ListTasks", {})
    assert answer.status == 200


def test_jwt_without_the_required_scope_is_403(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, url = idp
    jwt = token(provider.keys[0], claims(url, scope="something-else"))
    answer = bearer(anonymous, jwt).call("ListTasks", {})
    assert answer.status == 403
    assert answer.challenges == [
        'Bearer realm="Guarded", error="insufficient_scope", scope="a2a:read"'
    ]


def test_rfc8414_metadata_with_an_issuer_path(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, url = idp
    # The oauth2 alternative needs no scope; its issuer is {url}/realm1.
    jwt = token(provider.keys[0], claims(url + "/realm1"))
    assert bearer(anonymous, jwt).call("ListTasks", {}).status == 200


def test_opaque_tokens_are_introspected(
    anonymous: Caller, idp: tuple[IdP, str]
) -> None:
    provider, _ = idp
    provider.opaque["opaque-good"] = active()
    before = provider.introspections
    caller = bearer(anonymous, "opaque-good")
    task = caller.call(
        "SendMessage",
        {
            "message": {
                "messageId": "m1",
                "role": "ROLE_USER",
                "parts": [{"text": "echo x"}],
            }
        },
    ).result["task"]
    assert caller.call("GetTask", {"id": task["id"]}).status == 200
    assert provider.introspections == before + 2  # not cached: revocation is immediate
    provider.opaque["opaque-good"] = {"active": False}
    assert caller.call("GetTask", {"id": task["id"]}).status == 401


BAD_INTROSPECTION = {
    "inactive": {"active": False},
    "unknown": None,
    "expired": active(exp=int(time.time()) - 600),
    "not-yet-valid": active(nbf=int(time.time()) + 600),
    "wrong-audience": active(aud="https://other.test"),
    "no-audience": {k: v for k, v in active().items() if k != "aud"},
    "wrong-issuer": active(iss="https://evil.test"),
    "refresh-token": active(token_type="refresh_token"),
    "active-as-string": active(active="true"),
}


@pytest.mark.parametrize("case", sorted(BAD_INTROSPECTION))
def test_bad_introspection_answers_are_401(
    anonymous: Caller, idp: tuple[IdP, str], case: str
) -> None:
    provider, _ = idp
    answer_for = BAD_INTROSPECTION[case]
    if answer_for is not None:
        provider.opaque[f"opaque-{case}"] = answer_for
    answer = bearer(anonymous, f"opaque-{case}").call("ListTasks", {})
    assert answer.status == 401
    assert 'error="invalid_token"' in answer.challenges[0]


def test_scopes_from_introspection(anonymous: Caller, idp: tuple[IdP, str]) -> None:
    provider, _ = idp
    provider.opaque["opaque-noscope"] = active(scope="other")
    answer = bearer(anonymous, "opaque-noscope").call("ListTasks", {})
    assert answer.status == 403
    assert 'error="insufficient_scope"' in answer.challenges[0]


def test_introspection_client_credentials_refused_is_503(
    idp: tuple[IdP, str], http: httpx.Client
) -> None:
    provider, url = idp
    provider.opaque["opaque-any"] = active()
    agent = guarded_agent({"oidc": oidc_scheme(url)}, [requirement(oidc=[])])
    wrong = OAuthVerifier(
        audience=AUDIENCE,
        client_id=CLIENT_ID,
        client_secret="wrong",
        allow_insecure_http_for_tests=True,
    )
    with serve_in_thread(A2AApp(agent, auth={"oidc": wrong})) as base:
        answer = bearer(Caller(base, "HTTP+JSON", http), "opaque-any").call(
            "ListTasks", {}
        )
    assert answer.status == 503


def test_without_client_credentials_opaque_tokens_are_refused(
    idp: tuple[IdP, str], http: httpx.Client
) -> None:
    provider, url = idp
    provider.opaque["opaque-any"] = active()
    agent = guarded_agent({"oidc": oidc_scheme(url)}, [requirement(oidc=[])])
    jwt_only = OAuthVerifier(audience=AUDIENCE, allow_insecure_http_for_tests=True)
    with serve_in_thread(A2AApp(agent, auth={"oidc": jwt_only})) as base:
        caller = Caller(base, "JSONRPC", http)
        assert bearer(caller, "opaque-any").call("ListTasks", {}).status == 401
        jwt = token(provider.keys[0], claims(url))
        assert bearer(caller, jwt).call("ListTasks", {}).status == 200


def test_a_discovery_document_with_another_issuer_is_not_trusted(
    idp: tuple[IdP, str], http: httpx.Client
) -> None:
    provider, url = idp
    agent = guarded_agent({"oidc": oidc_scheme(url)}, [requirement(oidc=[])])
    provider.claimed_issuer = "https://evil.test"
    try:
        with serve_in_thread(A2AApp(agent, auth={"oidc": verifier()})) as base:
            jwt = token(provider.keys[0], claims("https://evil.test"))
            answer = bearer(Caller(base, "JSONRPC", http), jwt).call("ListTasks", {})
    finally:
        provider.claimed_issuer = None
    assert answer.status == 503


def test_static_provider_configuration(
    idp: tuple[IdP, str], http: httpx.Client
) -> None:
    provider, url = idp
    agent = guarded_agent({"oauth": oauth2_scheme("")}, [requirement(oauth=[])])
    static = OAuthVerifier(
        audience=AUDIENCE,
        issuer=url,
        jwks_url=url + "/jwks",
        introspection_url=url + "/introspect",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allow_insecure_http_for_tests=True,
    )
    provider.opaque["opaque-static"] = active(iss=url)
    with serve_in_thread(A2AApp(agent, auth={"oauth": static})) as base:
        caller = Caller(base, "HTTP+JSON", http)
        assert bearer(caller, "opaque-static").call("ListTasks", {}).status == 200
        jwt = token(provider.keys[0], claims(url))
        assert bearer(caller, jwt).call("ListTasks", {}).status == 200


@pytest.mark.parametrize(
    ("url", "issuer"),
    [
        ("https://idp.test/.well-known/openid-configuration", "https://idp.test"),
        ("https://idp.test/t1/.well-known/openid-configuration", "https://idp.test/t1"),
        (
            "https://idp.test/.well-known/oauth-authorization-server/t1",
            "https://idp.test/t1",
        ),
        ("https://idp.test/.well-known/oauth-authorization-server", "https://idp.test"),
        ("https://idp.test/custom/metadata.json", None),
    ],
)
def test_expected_issuer(url: str, issuer: str | None) -> None:
    assert expected_issuer(url) == issuer
