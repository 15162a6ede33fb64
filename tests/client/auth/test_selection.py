"""Choosing credentials from the card's security requirements (no I/O)."""

from __future__ import annotations

import httpx
import pytest

from accord.client import (
    ApiKey,
    BasicAuth,
    BearerToken,
    ClientCertificate,
    OAuth2ClientCredentials,
)
from accord.client.credentials import (
    CredentialProvider,
    SchemeUse,
    describe_requirement,
    describe_scheme,
    scheme_kind,
    select_credentials,
)
from accord.errors import UnauthenticatedError
from accord.types import (
    AgentCard,
    AuthorizationCodeOAuthFlow,
    OAuth2SecurityScheme,
    OAuthFlows,
    SecurityRequirement,
    SecurityScheme,
    replace,
)

from ..helpers import interface, make_card
from .lab import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    STATIC_TOKEN,
    USER,
    api_key,
    http_auth,
    mtls,
    oauth2,
    oidc,
    requirement,
)

SCHEMES = {
    "key": api_key(),
    "bearer": http_auth("Bearer"),
    "basic": http_auth("basic"),
    "oauth": oauth2("https://auth.example/token"),
    "oidc": oidc(),
    "mtls": mtls(),
}


def card(*requirements: SecurityRequirement) -> AgentCard:
    return replace(
        make_card(interface("JSONRPC")),
        security_schemes=SCHEMES,
        security_requirements=requirements,
    )


def kinds(selected: object) -> list[str]:
    return [type(c).__name__ for c in getattr(selected, "credentials", ())]


def test_first_satisfiable_alternative_wins() -> None:
    both = card(requirement(oauth=("read",)), requirement(key=()))
    key = ApiKey(API_KEY)

    selected = select_credentials(both, [key])

    assert selected.requirement == requirement(key=())
    assert kinds(selected) == ["Placed"]


def test_alternatives_in_card_order() -> None:
    both = card(requirement(key=()), requirement(bearer=()))

    selected = select_credentials(both, [BearerToken(STATIC_TOKEN), ApiKey(API_KEY)])

    assert selected.requirement == requirement(key=())


def test_and_within_a_requirement_needs_every_scheme() -> None:
    together = card(requirement(key=(), bearer=()))

    with pytest.raises(UnauthenticatedError):
        select_credentials(together, [ApiKey(API_KEY)])
    selected = select_credentials(together, [ApiKey(API_KEY), BearerToken("t")])
    assert len(selected.credentials) == 2


def test_one_provider_does_not_serve_two_schemes() -> None:
    two_keys = replace(
        card(requirement(key=(), other=())),
        security_schemes={"key": api_key(), "other": api_key(name="X-Other")},
    )

    with pytest.raises(UnauthenticatedError):
        select_credentials(two_keys, [ApiKey(API_KEY)])
    assert (
        len(select_credentials(two_keys, [ApiKey("a"), ApiKey("b")]).credentials) == 2
    )


def test_backtracking_finds_the_assignment() -> None:
    # A bearer token fits both schemes, the client credentials only "oauth": the
    # first-fit choice (token -> oauth) would leave "bearer" without a provider.
    both = card(requirement(oauth=(), bearer=()))
    providers: list[CredentialProvider] = [
        BearerToken("t"),
        OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET),
    ]

    selected = select_credentials(both, providers)

    assert [type(c).__name__ for c in selected.credentials] == ["OAuth2Token", "Placed"]


def test_mapping_by_scheme_name() -> None:
    both = card(requirement(bearer=()), requirement(key=()))

    selected = select_credentials(both, {"key": ApiKey(API_KEY)})
    assert selected.requirement == requirement(key=())

    # A provider under the right name but of the wrong kind does not fit.
    with pytest.raises(UnauthenticatedError, match="key: BearerToken"):
        select_credentials(card(requirement(key=())), {"key": BearerToken("t")})


@pytest.mark.parametrize(
    ("scheme", "provider"),
    [
        ("key", ApiKey(API_KEY)),
        ("bearer", BearerToken(STATIC_TOKEN)),
        ("basic", BasicAuth(USER, PASSWORD)),
        ("oauth", OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET)),
        ("oauth", BearerToken(STATIC_TOKEN)),
        ("oidc", OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET)),
        ("oidc", BearerToken(STATIC_TOKEN)),
    ],
)
def test_providers_match_scheme_kinds(scheme: str, provider: ApiKey) -> None:
    selected = select_credentials(card(requirement(**{scheme: ()})), [provider])
    assert selected.requirement == requirement(**{scheme: ()})


@pytest.mark.parametrize(
    ("scheme", "provider"),
    [
        ("key", BearerToken(STATIC_TOKEN)),
        ("bearer", ApiKey(API_KEY)),
        ("basic", BearerToken(STATIC_TOKEN)),
        ("bearer", BasicAuth(USER, PASSWORD)),
        ("bearer", OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET)),
        ("mtls", BearerToken(STATIC_TOKEN)),
    ],
)
def test_providers_refuse_other_kinds(scheme: str, provider: ApiKey) -> None:
    with pytest.raises(UnauthenticatedError):
        select_credentials(card(requirement(**{scheme: ()})), [provider])


def test_client_credentials_need_that_flow_or_a_token_url() -> None:
    code_flow = SecurityScheme(
        oauth2_security_scheme=OAuth2SecurityScheme(
            flows=OAuthFlows(
                authorization_code=AuthorizationCodeOAuthFlow(
                    authorization_url="https://a/authorize", token_url="https://a/t"
                )
            )
        )
    )
    assert not OAuth2ClientCredentials("c", "s").accepts(code_flow)
    assert OAuth2ClientCredentials("c", "s", token_url="https://a/t").accepts(code_flow)


def test_unsatisfiable_lists_what_the_card_requires() -> None:
    strict = card(requirement(oauth=("read", "write"), mtls=()), requirement(key=()))

    with pytest.raises(UnauthenticatedError) as caught:
        select_credentials(strict, [BearerToken(STATIC_TOKEN)])

    message = caught.value.message
    assert "'Test Agent' requires" in message
    assert (
        "an OAuth 2.0 token (client-credentials flow) [oauth, scopes: read write]"
        " together with a client certificate (mutual TLS) [mtls]"
    ) in message
    assert "; or an API key (header X-API-Key) [key]" in message
    assert "supplied (BearerToken)" in message
    assert "nothing was sent" in message
    assert STATIC_TOKEN not in message


def test_undeclared_scheme_cannot_be_satisfied() -> None:
    broken = card(requirement(ghost=()))
    with pytest.raises(UnauthenticatedError, match=r"an undeclared scheme \[ghost\]"):
        select_credentials(broken, [BearerToken("t")])


def test_empty_alternative_allows_anonymous_access() -> None:
    optional = replace(
        card(SecurityRequirement(), requirement(key=())),
        security_schemes={"key": api_key()},
    )

    assert select_credentials(optional, [ApiKey(API_KEY)]).requirement == requirement(
        key=()
    )
    anonymous = select_credentials(optional, [BasicAuth(USER, PASSWORD)])
    assert anonymous.requirement == SecurityRequirement()
    assert len(anonymous.credentials) == 1  # sent anyway, as it stands alone


def test_no_requirements_sends_what_stands_alone() -> None:
    undeclared = replace(card(), security_schemes={})

    selected = select_credentials(
        undeclared,
        [ApiKey(API_KEY), BearerToken("t"), BasicAuth(USER, PASSWORD)],
    )

    # The API key has nowhere to go; the others are sent as they are.
    assert len(selected.credentials) == 2
    assert selected.requirement is None
    assert select_credentials(undeclared, []).credentials == ()


def test_declared_but_not_required_schemes_place_credentials() -> None:
    # Schemes declared only for the extended card (spec §3.1.11).
    declared = card()

    selected = select_credentials(declared, [ApiKey(API_KEY)])
    assert [repr(c) for c in selected.credentials] == [
        "<credential in header 'X-API-Key'>"
    ]
    by_name = select_credentials(
        declared, {"key": ApiKey(API_KEY), "nope": ApiKey("x")}
    )
    assert len(by_name.credentials) == 1


def test_without_a_card_a_key_needs_placement() -> None:
    assert len(select_credentials(None, [BearerToken("t")]).credentials) == 1
    with pytest.raises(ValueError, match="ApiKey can only be sent where"):
        select_credentials(None, [ApiKey(API_KEY)])
    assert OAuth2ClientCredentials("c", "s").bind(SchemeUse()) is None
    assert OAuth2ClientCredentials("c", "s", token_url="https://a/t").bind(SchemeUse())


def test_certificate_travels_in_tls(tls_files: dict[str, str]) -> None:
    certificate = ClientCertificate(tls_files["client_cert"], tls_files["client_key"])

    selected = select_credentials(card(requirement(mtls=())), [certificate])

    assert selected.certificate is certificate
    with pytest.raises(ValueError, match="only one ClientCertificate"):
        select_credentials(card(), [certificate, certificate])


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        select_credentials(card(), "token")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        OAuth2ClientCredentials("c", "s", scopes="read")
    for make in (
        lambda: OAuth2ClientCredentials("", "s"),
        lambda: OAuth2ClientCredentials("c", ""),
        lambda: OAuth2ClientCredentials("c", "s", refresh_margin=-1),
        lambda: BasicAuth("a:b", "c"),
        lambda: BasicAuth("a", "line\nbreak"),
    ):
        with pytest.raises(ValueError, match=r"."):
            make()


@pytest.mark.parametrize(
    ("scheme", "kind", "text"),
    [
        (api_key("cookie", "session"), "apiKey", "an API key (cookie session)"),
        (http_auth("Bearer"), "http", "a bearer token (HTTP Bearer)"),
        (http_auth("Basic"), "http", "a user name and password (HTTP Basic)"),
        (http_auth("Digest"), "http", "HTTP Digest authentication"),
        (oauth2(), "oauth2", "an OAuth 2.0 token (client-credentials flow)"),
        (oidc(), "openIdConnect", "an OpenID Connect token"),
        (mtls(), "mutualTLS", "a client certificate (mutual TLS)"),
    ],
)
def test_scheme_kinds_and_descriptions(
    scheme: SecurityScheme, kind: str, text: str
) -> None:
    assert scheme_kind(scheme) == kind
    assert describe_scheme(scheme) == text


def test_describe_requirement() -> None:
    assert describe_requirement(SecurityRequirement(), SCHEMES) == "no credentials"
    assert describe_requirement(requirement(key=()), SCHEMES) == (
        "an API key (header X-API-Key) [key]"
    )


def test_credentials_refuse_sync_httpx() -> None:
    selected = select_credentials(card(requirement(bearer=())), [BearerToken("t")])
    auth = selected.auth(httpx.AsyncClient())  # only used for token requests
    assert auth is not None

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)  # pragma: no cover - never sent

    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as sync_http,
        pytest.raises(RuntimeError, match="AsyncClient only"),
    ):
        sync_http.get("http://agent.test/", auth=auth)
