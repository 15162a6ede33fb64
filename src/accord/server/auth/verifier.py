"""The :class:`Verifier` protocol and what a verifier is handed: a :class:`Credential`.

Theory of operation. The framework, not the verifier, reads the credential from where
the card's scheme says it travels (spec §7, §7.3): an API key from the declared
header, query parameter or cookie; an HTTP ``Authorization`` value for ``http`` schemes;
a bearer token for OAuth 2.0 and OpenID Connect; the verified peer certificate for
mutual TLS. So one declaration (the card) drives both what clients are told and what
the server checks. A verifier then decides whether the credential is valid and who it
belongs to (a :class:`~accord.server.auth.Principal`), or raises
:class:`CredentialRejected` with a reason that is logged at debug level and never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from accord.types import SecurityScheme

    from .principal import Principal

__all__ = [
    "Credential",
    "CredentialRejected",
    "RequestInfo",
    "Verifier",
    "scheme_kind",
]


class CredentialRejected(Exception):
    """A presented credential is not valid.

    ``reason`` is for the server's debug log only; the caller is told nothing more
    than "not valid" (spec §7.4: do not reveal why a credential failed). It must
    never contain the secret.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scheme_kind(scheme: SecurityScheme) -> str:
    """``apiKey``, ``http``, ``oauth2``, ``openIdConnect`` or ``mutualTLS``."""
    if scheme.api_key_security_scheme is not None:
        return "apiKey"
    if scheme.http_auth_security_scheme is not None:
        return "http"
    if scheme.oauth2_security_scheme is not None:
        return "oauth2"
    if scheme.open_id_connect_security_scheme is not None:
        return "openIdConnect"
    return "mutualTLS"


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name and name not in out:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The parts of an HTTP request credentials can travel in.

    Attributes:
        headers: ``(lower-case name, value)`` pairs, in order.
        query: decoded query parameters, in order.
        cookies: cookie name to value (the first occurrence wins).
        client: the peer's ``(host, port)`` when known.
        tls: the ASGI TLS extension (``scope["extensions"]["tls"]``) when the server
            provides it: ``client_cert_chain`` (PEM strings, leaf first),
            ``client_cert_name``, ``client_cert_error``, ``tls_version``...
    """

    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    cookies: Mapping[str, str] = field(default_factory=dict)
    client: tuple[str, int] | None = None
    tls: Mapping[str, Any] | None = None

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> RequestInfo:
        """Read an ASGI HTTP scope."""
        headers = tuple(
            (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
            for k, v in scope.get("headers", ())
        )
        raw_query = scope.get("query_string", b"")
        query = tuple(
            parse_qsl(bytes(raw_query).decode("latin-1"), keep_blank_values=True)
        )
        cookies: dict[str, str] = {}
        for name, value in headers:
            if name == "cookie":
                for key, item in _cookies(value).items():
                    cookies.setdefault(key, item)
        client = scope.get("client")
        extensions = scope.get("extensions") or {}
        tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
        return cls(
            headers=headers,
            query=query,
            cookies=cookies,
            client=(str(client[0]), int(client[1])) if client else None,
            tls=tls if isinstance(tls, Mapping) else None,
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def query_param(self, name: str) -> str | None:
        """The first value of query parameter ``name`` (case-sensitive), or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential, read from where the card's scheme says it travels.

    Attributes:
        scheme_name: the scheme's name in the card's ``securitySchemes``.
        scheme: the declared scheme.
        value: the secret: the API key, the bearer token, or the ``Authorization``
            parameters of another ``http`` scheme (e.g. Basic); ``""`` for mutual TLS
            (the certificate is in ``request.tls``).
        request: the request it came with.
    """

    scheme_name: str
    scheme: SecurityScheme
    value: str
    request: RequestInfo

    def __repr__(self) -> str:  # never show the secret
        return f"Credential(scheme_name={self.scheme_name!r}, value=<redacted>)"


@runtime_checkable
class Verifier(Protocol):
    """Decides whether credentials of one kind are valid, and whose they are.

    Implement both methods for a custom scheme (e.g. HTTP Basic against a user
    database). A verifier may also define ``async def aclose()``: the app calls it at
    shutdown (to close HTTP clients).
    """

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        """Called at start-up for each scheme the verifier is configured for.

        Raises:
            ValueError: the verifier cannot serve this kind of scheme, or the scheme
                lacks something the verifier needs (say what, and how to fix it).
        """
        ...

    async def verify(self, credential: Credential) -> Principal:
        """Return the caller the credential belongs to.

        Raises:
            CredentialRejected: the credential is not valid (reason for the log only).
            accord.errors.UnavailableError: validity cannot be decided right now
                (e.g. the identity provider is unreachable); the caller may retry.
        """
        ...
