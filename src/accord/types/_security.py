"""Security schemes and requirements of an Agent Card (spec §4.5 "Security objects").

``SecurityScheme`` and ``OAuthFlows`` are oneofs: the JSON key is the discriminator
(no ``type`` field in v1.0), exactly one member is set.
"""

from __future__ import annotations

import msgspec

from ._base import A2AStruct

__all__ = [
    "APIKeySecurityScheme",
    "AuthorizationCodeOAuthFlow",
    "ClientCredentialsOAuthFlow",
    "DeviceCodeOAuthFlow",
    "HTTPAuthSecurityScheme",
    "ImplicitOAuthFlow",
    "MutualTlsSecurityScheme",
    "OAuth2SecurityScheme",
    "OAuthFlows",
    "OpenIdConnectSecurityScheme",
    "PasswordOAuthFlow",
    "SecurityRequirement",
    "SecurityScheme",
    "StringList",
]


def _exactly_one(owner: str, *members: object) -> None:
    if sum(m is not None for m in members) != 1:
        raise ValueError(f"{owner} must set exactly one member of its oneof")


class StringList(A2AStruct, frozen=True, kw_only=True):
    """A list of strings (the scopes of one scheme in a requirement)."""

    list: tuple[str, ...] = ()


class SecurityRequirement(A2AStruct, frozen=True, kw_only=True):
    """Schemes that are required together, each with its required scopes."""

    schemes: dict[str, StringList] = msgspec.field(default_factory=dict)


class APIKeySecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """An API key carried in a header, query parameter or cookie."""

    description: str = ""
    #: ``"header"``, ``"query"`` or ``"cookie"``.
    location: str = ""
    #: Name of the header, query parameter or cookie.
    name: str = ""


class HTTPAuthSecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """HTTP authentication (RFC 9110), e.g. ``Bearer`` or ``Basic``."""

    description: str = ""
    scheme: str = ""
    bearer_format: str = ""


class AuthorizationCodeOAuthFlow(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 authorization-code flow."""

    authorization_url: str = ""
    token_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = msgspec.field(default_factory=dict)
    pkce_required: bool = False


class ClientCredentialsOAuthFlow(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 client-credentials flow."""

    token_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = msgspec.field(default_factory=dict)


class ImplicitOAuthFlow(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 implicit flow (deprecated by OAuth 2.1)."""

    authorization_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = msgspec.field(default_factory=dict)


class PasswordOAuthFlow(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 resource-owner password flow (deprecated by OAuth 2.1)."""

    token_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = msgspec.field(default_factory=dict)


class DeviceCodeOAuthFlow(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 device authorization grant (RFC 8628)."""

    device_authorization_url: str = ""
    token_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = msgspec.field(default_factory=dict)


class OAuthFlows(A2AStruct, frozen=True, kw_only=True):
    """Exactly one OAuth 2.0 flow."""

    authorization_code: AuthorizationCodeOAuthFlow | None = None
    client_credentials: ClientCredentialsOAuthFlow | None = None
    implicit: ImplicitOAuthFlow | None = None
    password: PasswordOAuthFlow | None = None
    device_code: DeviceCodeOAuthFlow | None = None

    def __post_init__(self) -> None:
        _exactly_one(
            "OAuthFlows",
            self.authorization_code,
            self.client_credentials,
            self.implicit,
            self.password,
            self.device_code,
        )


class OAuth2SecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """OAuth 2.0 with one flow and optional RFC 8414 metadata URL."""

    description: str = ""
    flows: OAuthFlows
    oauth2_metadata_url: str = ""


class OpenIdConnectSecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """OpenID Connect discovery."""

    description: str = ""
    open_id_connect_url: str = ""


class MutualTlsSecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """Mutual TLS: the client presents a certificate."""

    description: str = ""


class SecurityScheme(A2AStruct, frozen=True, kw_only=True):
    """One security scheme: exactly one of the five members."""

    api_key_security_scheme: APIKeySecurityScheme | None = None
    http_auth_security_scheme: HTTPAuthSecurityScheme | None = None
    oauth2_security_scheme: OAuth2SecurityScheme | None = None
    open_id_connect_security_scheme: OpenIdConnectSecurityScheme | None = None
    mtls_security_scheme: MutualTlsSecurityScheme | None = None

    def __post_init__(self) -> None:
        _exactly_one(
            "SecurityScheme",
            self.api_key_security_scheme,
            self.http_auth_security_scheme,
            self.oauth2_security_scheme,
            self.open_id_connect_security_scheme,
            self.mtls_security_scheme,
        )
