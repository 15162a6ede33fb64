"""AuthConfig checked against the card at start-up, and the requirement semantics."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from accord.errors import PermissionDeniedError, UnavailableError
from accord.security.jose import JWK, JWKSet
from accord.server import A2AApp
from accord.server.auth import (
    AccessPolicy,
    AccessRequest,
    ApiKeyRing,
    ApiKeyVerifier,
    AuthConfig,
    AuthConfigError,
    AuthenticationRequired,
    Authenticator,
    Credential,
    CredentialRejected,
    InsufficientScope,
    JWTVerifier,
    MutualTLSVerifier,
    OAuthVerifier,
    Principal,
    RequestInfo,
)
from accord.server.auth.verifier import scheme_kind
from accord.stores.base import Scope
from accord.types import (
    ClientCredentialsOAuthFlow,
    OAuth2SecurityScheme,
    OAuthFlows,
    OpenIdConnectSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
)

from .helpers import (
    api_key_scheme,
    bearer_scheme,
    guarded_agent,
    mtls_scheme,
    requirement,
)

pytestmark = pytest.mark.anyio

KEY = api_key_scheme("header", "X-API-Key")
OTHER = api_key_scheme("header", "X-Other")
BEARER = bearer_scheme()


class Fake:
    """Accepts the listed credential values; anything else is rejected."""

    def __init__(self, kind: str = "apiKey", **principals: Principal) -> None:
        self.kind = kind
        self.principals = principals
        self.calls = 0

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        if scheme_kind(scheme) != self.kind:
            raise ValueError(f"Fake serves {self.kind}")

    async def verify(self, credential: Credential) -> Principal:
        self.calls += 1
        principal = self.principals.get(credential.value)
        if principal is None:
            raise CredentialRejected("not on the list")
        return principal


class Broken:
    def __init__(self, error: Exception | None = None, result: Any = None) -> None:
        self.error = error
        self.result = result

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        pass

    async def verify(self, credential: Credential) -> Principal:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[no-any-return]


def request(**headers: str) -> RequestInfo:
    return RequestInfo(
        headers=tuple((k.lower().replace("_", "-"), v) for k, v in headers.items())
    )


def authenticator(
    schemes: dict[str, SecurityScheme],
    requirements: list[SecurityRequirement],
    verifiers: dict[str, Any],
    **config: Any,
) -> Authenticator:
    return Authenticator(
        schemes, requirements, AuthConfig(verifiers=verifiers, **config), realm="Test"
    )


def _id(principal: Principal | None) -> str | None:
    return None if principal is None else principal.id


P = Principal(id="p1", tenants=frozenset({"t"}), scopes=frozenset({"read"}))
Q = Principal(id="q1", tenants=frozenset({"t", "u"}), scopes=frozenset({"write"}))


# --- fail fast ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schemes", "requirements", "verifiers", "message"),
    [
        ({"k": KEY}, [requirement(k=[])], {}, "no verifier is configured for it"),
        (
            {"k": KEY},
            [],
            {"x": Fake()},
            "which the agent's security_schemes do not declare",
        ),
        ({"k": KEY}, [requirement(z=[])], {"k": Fake()}, "names the scheme 'z'"),
        (
            {"k": KEY},
            [requirement(k=[])],
            {"k": Fake("http")},
            "security scheme 'k': Fake serves http",
        ),
        ({"k": KEY}, [requirement(k=[])], {"k": object()}, "does not implement"),
        (
            {"b": BEARER},
            [requirement(b=[])],
            {"b": ApiKeyVerifier([])},
            "needs an apiKeySecurityScheme",
        ),
        (
            {"k": KEY},
            [requirement(k=[])],
            {"k": MutualTLSVerifier()},
            "needs an mtlsSecurityScheme",
        ),
        (
            {"m": mtls_scheme()},
            [requirement(m=[])],
            {"m": JWTVerifier(issuer="i", audience=None, keys=[])},
            "JWTVerifier serves bearer tokens",
        ),
        (
            {"k": api_key_scheme("body", "k")},
            [requirement(k=[])],
            {"k": ApiKeyVerifier([])},
            "location must be",
        ),
    ],
)
async def test_start_up_refuses_a_config_that_does_not_fit_the_card(
    schemes: dict[str, SecurityScheme],
    requirements: list[SecurityRequirement],
    verifiers: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(AuthConfigError, match=message):
        authenticator(schemes, requirements, verifiers)


async def test_unknown_operation_in_operation_scopes() -> None:
    with pytest.raises(AuthConfigError, match="not an A2A operation"):
        authenticator({"k": KEY}, [], {"k": Fake()}, operation_scopes={"Nope": ["x"]})


async def test_skill_requirements_must_name_declared_schemes() -> None:
    with pytest.raises(AuthConfigError, match="a skill's securityRequirements"):
        Authenticator(
            {"k": KEY},
            [],
            AuthConfig(),
            realm="x",
            skill_requirements=[requirement(nope=[])],
        )


async def test_the_app_fails_fast() -> None:
    agent = guarded_agent({"k": KEY}, [requirement(k=[])])
    with pytest.raises(AuthConfigError, match="pass auth="):
        A2AApp(agent)
    A2AApp(agent, auth={"k": ApiKeyVerifier(ApiKeyRing())})  # fine


def test_jwt_verifier_configuration_rules() -> None:
    with pytest.raises(ValueError, match="'none' algorithm"):
        JWTVerifier(
            issuer="i", audience="a", jwks_url="https://x/jwks", algorithms=["none"]
        )
    with pytest.raises(ValueError, match="forge"):
        JWTVerifier(
            issuer="i", audience="a", jwks_url="https://x/jwks", algorithms=["HS256"]
        )
    with pytest.raises(ValueError, match="exactly one"):
        JWTVerifier(issuer="i", audience="a")
    with pytest.raises(ValueError, match="https://"):
        JWTVerifier(issuer="i", audience="a", jwks_url="http://127.0.0.1:1/jwks")
    with pytest.raises(ValueError, match="https://"):
        JWTVerifier(
            issuer="i",
            audience="a",
            jwks_url="http://example.com/jwks",
            allow_insecure_http_for_tests=True,
        )
    with pytest.raises(ValueError, match="unknown JWS algorithms"):
        JWTVerifier(
            issuer="i", audience="a", jwks_url="https://x/j", algorithms=["XS1"]
        )
    with pytest.raises(ValueError, match="issuer"):
        JWTVerifier(issuer="", audience="a", jwks_url="https://x/j")
    secret = JWK(kid="s", alg="HS256", key=b"0" * 32)
    JWTVerifier(issuer="i", audience="a", keys=JWKSet((secret,)), algorithms=["HS256"])
    JWTVerifier(
        issuer="i",
        audience="a",
        jwks_url="http://127.0.0.1:1/jwks",
        allow_insecure_http_for_tests=True,
    )


def test_oauth_verifier_configuration_rules() -> None:
    oauth2 = SecurityScheme(
        oauth2_security_scheme=OAuth2SecurityScheme(
            flows=OAuthFlows(
                client_credentials=ClientCredentialsOAuthFlow(token_url="https://t")
            )
        )
    )
    with pytest.raises(ValueError, match="no oauth2MetadataUrl"):
        OAuthVerifier(audience="a").check_scheme("o", oauth2)
    OAuthVerifier(
        audience="a", issuer="https://i", jwks_url="https://i/j"
    ).check_scheme("o", oauth2)
    oidc = SecurityScheme(
        open_id_connect_security_scheme=OpenIdConnectSecurityScheme(
            open_id_connect_url="http://idp.example/.well-known/openid-configuration"
        )
    )
    with pytest.raises(ValueError, match="https://"):
        OAuthVerifier(audience="a").check_scheme("o", oidc)
    with pytest.raises(ValueError, match="serves oauth2"):
        OAuthVerifier(audience="a").check_scheme("k", KEY)
    with pytest.raises(ValueError, match="both client_id"):
        OAuthVerifier(audience="a", client_id="x")
    with pytest.raises(ValueError, match="need issuer"):
        OAuthVerifier(audience="a", jwks_url="https://i/j")
    with pytest.raises(ValueError, match="jwks_url= and/or"):
        OAuthVerifier(audience="a", issuer="https://i")


# --- requirement semantics ------------------------------------------------------------------


async def test_alternatives() -> None:
    auth = authenticator(
        {"k": KEY, "o": OTHER},
        [requirement(k=[]), requirement(o=[])],
        {"k": Fake(good=P), "o": Fake(fine=Q)},
    )
    assert _id(await auth.authenticate(request(x_api_key="good"))) == "p1"
    assert _id(await auth.authenticate(request(x_other="fine"))) == "q1"
    with pytest.raises(AuthenticationRequired) as missing:
        await auth.authenticate(request())
    assert "X-API-Key" in missing.value.message
    assert "X-Other" in missing.value.message
    assert len(missing.value.challenges) == 2


async def test_schemes_of_one_requirement_are_needed_together() -> None:
    auth = authenticator(
        {"k": KEY, "o": OTHER},
        [requirement(k=[], o=[])],
        {"k": Fake(good=P), "o": Fake(fine=Q)},
    )
    with pytest.raises(AuthenticationRequired):
        await auth.authenticate(request(x_api_key="good"))
    both = await auth.authenticate(request(x_api_key="good", x_other="fine"))
    assert both is not None
    assert both.id == "p1"
    assert both.scopes == {"read", "write"}
    assert both.tenants == frozenset({"t"})  # the intersection
    assert set(both.claims) == {"k", "o"}


async def test_scopes_must_be_granted() -> None:
    auth = authenticator(
        {"b": BEARER}, [requirement(b=["write"])], {"b": Fake("http", tok=P, tok2=Q)}
    )
    with pytest.raises(InsufficientScope) as denied:
        await auth.authenticate(request(authorization="Bearer tok"))
    assert denied.value.challenges == (
        'Bearer realm="Test", error="insufficient_scope", scope="write"',
    )
    ok = await auth.authenticate(request(authorization="bearer tok2"))
    assert ok is not None
    assert ok.id == "q1"


async def test_bearer_challenges_follow_rfc_6750() -> None:
    auth = authenticator({"b": BEARER}, [requirement(b=[])], {"b": Fake("http")})
    with pytest.raises(AuthenticationRequired) as missing:
        await auth.authenticate(request(authorization="Basic abc"))
    assert missing.value.challenges == ('Bearer realm="Test"',)
    with pytest.raises(AuthenticationRequired) as invalid:
        await auth.authenticate(request(authorization="Bearer nope"))
    assert invalid.value.challenges == ('Bearer realm="Test", error="invalid_token"',)
    assert invalid.value.message == "The credentials sent are not valid"


async def test_an_empty_requirement_makes_authentication_optional() -> None:
    auth = authenticator(
        {"k": KEY}, [requirement(k=[]), SecurityRequirement()], {"k": Fake(good=P)}
    )
    assert await auth.authenticate(request()) is None
    assert _id(await auth.authenticate(request(x_api_key="good"))) == "p1"
    with pytest.raises(AuthenticationRequired):
        await auth.authenticate(request(x_api_key="forged"))


async def test_no_requirements_means_anonymous() -> None:
    fake = Fake(good=P)
    auth = authenticator({"k": KEY}, [], {"k": fake})
    assert not auth.required
    assert await auth.authenticate(request(x_api_key="forged")) is None
    assert fake.calls == 0
    # ... but the extended card still needs a declared scheme.
    assert _id(await auth.authenticate_any(request(x_api_key="good"))) == "p1"
    with pytest.raises(AuthenticationRequired):
        await auth.authenticate_any(request())


def test_required_follows_the_requirements() -> None:
    # `required` is computed when the requirements are set (it is read per request):
    # setting them again must not leave it stale, either way.
    auth = authenticator({"k": KEY}, [], {"k": Fake(good=P)})
    assert not auth.required
    auth.requirements = [requirement(k=[])]
    assert auth.required
    assert auth.requirements == (requirement(k=[]),)
    auth.requirements = ()
    assert not auth.required


async def test_without_any_scheme_the_extended_card_is_refused() -> None:
    auth = authenticator({}, [], {})
    with pytest.raises(AuthenticationRequired, match="declares no security scheme"):
        await auth.authenticate_any(request())


@pytest.mark.parametrize(
    "verifier",
    [
        Broken(error=RuntimeError("bug")),
        Broken(result="not a principal"),
    ],
    ids=["raises", "returns-junk"],
)
async def test_a_broken_verifier_fails_closed(
    verifier: Broken, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authenticator({"k": KEY}, [requirement(k=[])], {"k": verifier})
    with pytest.raises(AuthenticationRequired):
        await auth.authenticate(request(x_api_key="anything"))
    assert "rejecting" in caplog.text


async def test_an_unreachable_provider_is_503_not_401() -> None:
    auth = authenticator(
        {"k": KEY}, [requirement(k=[])], {"k": Broken(error=UnavailableError("down"))}
    )
    with pytest.raises(UnavailableError):
        await auth.authenticate(request(x_api_key="anything"))


async def test_the_principal_names_the_scheme_that_authenticated_it() -> None:
    auth = authenticator({"k": KEY}, [requirement(k=[])], {"k": Fake(good=P)})
    principal = await auth.authenticate(request(x_api_key="good"))
    assert principal is not None
    assert principal.scheme == "k"


async def test_challenge_kinds() -> None:
    schemes = {"k": KEY, "m": mtls_scheme(), "b": BEARER}
    auth = authenticator(
        schemes,
        [requirement(k=[]), requirement(m=[]), requirement(b=[])],
        {"k": Fake(), "m": Fake("mutualTLS"), "b": Fake("http")},
    )
    with pytest.raises(AuthenticationRequired) as missing:
        await auth.authenticate(RequestInfo())
    assert missing.value.challenges == (
        'ApiKey realm="Test", location="header", name="X-API-Key"',
        'MutualTLS realm="Test"',
        'Bearer realm="Test"',
    )


# --- authorization ----------------------------------------------------------------------


async def test_tenant_binding() -> None:
    policy = AccessPolicy()
    assert await policy.authorize("GetTask", "t", P, "p1") == Scope("t", "p1")
    with pytest.raises(PermissionDeniedError, match="tenant 'x'"):
        await policy.authorize("GetTask", "x", P, "p1")
    with pytest.raises(PermissionDeniedError, match="without a tenant"):
        await policy.authorize("GetTask", "", P, "p1")
    unbound = Principal(id="u")
    assert await policy.authorize("GetTask", "x", unbound, "u") == Scope("x", "u")
    assert await policy.authorize("GetTask", "x", None, "") == Scope("x", "")


async def test_operation_scopes() -> None:
    policy = AccessPolicy(operation_scopes={"CancelTask": ["write"]})
    with pytest.raises(InsufficientScope):
        await policy.authorize("CancelTask", "t", P, "p1")
    assert await policy.authorize("CancelTask", "t", Q, "q1") == Scope("t", "q1")
    assert await policy.authorize("GetTask", "t", P, "p1") == Scope("t", "p1")
    with pytest.raises(AuthenticationRequired):
        await policy.authorize("CancelTask", "t", None, "")


async def test_hooks() -> None:
    seen: list[AccessRequest] = []

    def widen(req: AccessRequest) -> Scope:
        seen.append(req)
        return Scope(req.tenant, owner=None)

    async def async_default(req: AccessRequest) -> Scope:
        return req.default

    def elsewhere(req: AccessRequest) -> Scope:
        return Scope("other", owner=None)

    def junk(req: AccessRequest) -> Any:
        return {"tenant": req.tenant}

    def boom(req: AccessRequest) -> Scope:
        raise RuntimeError("policy store down")

    assert await AccessPolicy(task_access=widen).authorize(
        "ListTasks", "t", P, "p1"
    ) == Scope("t", None)
    assert seen[0].default == Scope("t", "p1")
    assert seen[0].operation == "ListTasks"
    assert await AccessPolicy(task_access=async_default).authorize(
        "GetTask", "t", P, "p1"
    ) == Scope("t", "p1")
    for hook in (elsewhere, junk, boom):
        with pytest.raises(PermissionDeniedError, match="policy"):
            await AccessPolicy(task_access=hook).authorize("GetTask", "t", P, "p1")
    # The card operation reads no tasks: the hook is not asked.
    assert await AccessPolicy(task_access=boom).authorize(
        "GetExtendedAgentCard", "t", P, "p1"
    ) == Scope("t", "p1")


def test_request_info_from_scope() -> None:
    info = RequestInfo.from_scope(
        {
            "headers": [
                (b"X-A", b"1"),
                (b"cookie", b'a=1; b="two"; a=3'),
                (b"cookie", b"c=4"),
            ],
            "query_string": b"k=v&k=w&e=",
            "client": ("127.0.0.1", 5),
            "extensions": {"tls": {"client_cert_chain": []}},
        }
    )
    assert info.header("x-a") == "1"
    assert info.cookies == {"a": "1", "b": "two", "c": "4"}
    assert info.query_param("k") == "v"
    assert info.query_param("e") == ""
    assert info.client == ("127.0.0.1", 5)
    assert info.tls == {"client_cert_chain": []}
    assert RequestInfo.from_scope({}).tls is None


async def test_the_realm_is_header_safe() -> None:
    auth = Authenticator(
        {"k": KEY},
        [requirement(k=[])],
        AuthConfig(verifiers={"k": Fake()}),
        realm='受付 "desk"\r\nX-Evil: 1',
    )
    with pytest.raises(AuthenticationRequired) as missing:
        await auth.authenticate(RequestInfo())
    challenge = missing.value.challenges[0]
    challenge.encode("ascii")
    assert "\r" not in challenge
    assert "\n" not in challenge
    assert 'realm="?? \\"desk\\"??X-Evil: 1"' in challenge


def test_principal_needs_an_id() -> None:
    with pytest.raises(ValueError, match="non-empty id"):
        Principal(id="")
    logging.getLogger(__name__).debug("ok")
