"""What a credential provider is, and how the card's security schemes are named.

A *provider* is what a caller supplies (``ApiKey("…")``); it says which declared
schemes it can satisfy (:meth:`CredentialProvider.accepts`) and, once a scheme of the
card's requirement is assigned to it, returns the *credential* bound to that scheme
(:meth:`CredentialProvider.bind`): the object that adds itself to every request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    import httpx

    from accord.types import SecurityScheme

__all__ = [
    "API_KEY",
    "HTTP",
    "MUTUAL_TLS",
    "OAUTH2",
    "OPENID_CONNECT",
    "Credential",
    "CredentialProvider",
    "Credentials",
    "SchemeUse",
    "check_secret",
    "describe_scheme",
    "scheme_kind",
]

# Scheme kinds, named after OpenAPI's ``type`` values (the card's oneof member names).
API_KEY = "apiKey"
HTTP = "http"
OAUTH2 = "oauth2"
OPENID_CONNECT = "openIdConnect"
MUTUAL_TLS = "mutualTLS"

#: ``APIKeySecurityScheme.location`` values (spec: query, header, cookie).
API_KEY_LOCATIONS = ("header", "query", "cookie")


@dataclass(frozen=True, slots=True)
class SchemeUse:
    """One scheme of the requirement the client chose, as a provider is given it.

    Attributes:
        name: the scheme's key in ``AgentCard.securitySchemes`` (``""`` without one).
        scheme: the declared scheme; ``None`` when the card declares no requirement,
            so the provider must stand on its own (or decline).
        scopes: the scopes the requirement lists for this scheme (OAuth 2.0 / OIDC).
    """

    name: str = ""
    scheme: SecurityScheme | None = None
    scopes: tuple[str, ...] = ()


class Credential(Protocol):
    """A credential bound to one scheme: it adds itself to each request."""

    async def apply(self, request: httpx.Request, http: httpx.AsyncClient) -> None:
        """Add the credential to ``request`` (obtaining a token with ``http`` if needed).

        Called before every request, and again before the one retry after a 401.
        """
        ...

    async def refresh(self, rejected: httpx.Request, http: httpx.AsyncClient) -> bool:
        """React to an HTTP 401 answered to ``rejected``.

        Returns:
            True when a fresh credential can be obtained, so the request is worth one
            retry (the client never retries more than once); False for static ones.
        """
        ...


class CredentialProvider(Protocol):
    """Something a caller supplies to authenticate: an API key, a token, a certificate.

    Providers never show their secret in ``repr`` or ``str``.
    """

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True when this provider can satisfy the declared ``scheme``."""
        ...

    def bind(self, use: SchemeUse) -> Credential | None:
        """The credential to send for ``use``.

        Returns ``None`` only when ``use.scheme`` is ``None`` and the provider cannot
        be sent without a declared scheme (an API key needs the card to say where).
        """
        ...


#: What a caller passes as ``credentials``: providers in order of preference, or
#: providers by the name of the scheme each one satisfies.
Credentials: TypeAlias = Sequence[CredentialProvider] | Mapping[str, CredentialProvider]


def scheme_kind(scheme: SecurityScheme) -> str:
    """The kind of ``scheme``: ``apiKey``, ``http``, ``oauth2``, ``openIdConnect``…"""
    if scheme.api_key_security_scheme is not None:
        return API_KEY
    if scheme.http_auth_security_scheme is not None:
        return HTTP
    if scheme.oauth2_security_scheme is not None:
        return OAUTH2
    if scheme.open_id_connect_security_scheme is not None:
        return OPENID_CONNECT
    return MUTUAL_TLS


_FLOWS = (
    ("client_credentials", "client-credentials"),
    ("authorization_code", "authorization-code"),
    ("device_code", "device-code"),
    ("implicit", "implicit"),
    ("password", "password"),
)


def describe_scheme(scheme: SecurityScheme) -> str:
    """What ``scheme`` asks for, for people: ``an API key (header X-API-Key)``."""
    if (key := scheme.api_key_security_scheme) is not None:
        return f"an API key ({key.location or '?'} {key.name or '?'})"
    if (http := scheme.http_auth_security_scheme) is not None:
        kind = http.scheme.lower()
        if kind == "bearer":
            fmt = f", {http.bearer_format}" if http.bearer_format else ""
            return f"a bearer token (HTTP Bearer{fmt})"
        if kind == "basic":
            return "a user name and password (HTTP Basic)"
        return f"HTTP {http.scheme or '?'} authentication"
    if (oauth := scheme.oauth2_security_scheme) is not None:
        flow = next(
            (label for attr, label in _FLOWS if getattr(oauth.flows, attr) is not None),
            "unknown",
        )
        return f"an OAuth 2.0 token ({flow} flow)"
    if scheme.open_id_connect_security_scheme is not None:
        return "an OpenID Connect token"
    return "a client certificate (mutual TLS)"


def check_secret(value: str, what: str) -> str:
    """``value`` if it can travel in an HTTP header or cookie; else ``ValueError``.

    Only visible ASCII is allowed (RFC 6750 ``b64token`` and RFC 7230 field values
    are ASCII). Checking here keeps a bad value from reaching httpx, whose errors
    would quote it; this message names the field, never the value.
    """
    if not value:
        raise ValueError(f"{what} is empty")
    if not all("!" <= c <= "~" for c in value):
        raise ValueError(
            f"{what} contains a character that cannot be sent in HTTP"
            " (only visible ASCII is allowed)"
        )
    return value
