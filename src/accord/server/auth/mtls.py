"""Mutual TLS: the caller is the subject of the client certificate the TLS layer verified.

Theory of operation. The TLS server (uvicorn with ``ssl_ca_certs`` and client
certificates required or optional; see :mod:`accord.server.auth.tls`) verifies the
client certificate's chain against the CA bundle during the handshake. The ASGI TLS
extension (``scope["extensions"]["tls"]``) then carries the verified leaf certificate
(``client_cert_chain``, PEM). :class:`MutualTLSVerifier` reads it, re-checks its
validity period, and maps it to a principal: by default the subject's common name;
or a DNS / URI / e-mail subject alternative name; or any function of the certificate.
A request without the extension (a server that does not provide it, or plain HTTP)
presents no certificate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

from .principal import Principal
from .verifier import Credential, CredentialRejected

if TYPE_CHECKING:
    from accord.types import SecurityScheme

__all__ = ["MutualTLSVerifier", "certificate_identity"]

#: How the principal id is read from the certificate.
Identity = str | Callable[[x509.Certificate], str | None]

_SAN_TYPES: dict[
    str, type[x509.DNSName | x509.UniformResourceIdentifier | x509.RFC822Name]
] = {
    "dns": x509.DNSName,
    "uri": x509.UniformResourceIdentifier,
    "email": x509.RFC822Name,
}


def certificate_identity(cert: x509.Certificate, identity: str) -> str | None:
    """The certificate's ``cn`` (subject common name) or first ``dns``/``uri``/``email`` SAN."""
    if identity == "cn":
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = names[0].value if names else None
        return value if isinstance(value, str) and value else None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    values = san.value.get_values_for_type(_SAN_TYPES[identity])
    first = values[0] if values else None
    return first if isinstance(first, str) and first else None


class MutualTLSVerifier:
    """Verifies the client certificate of a mutual-TLS connection (``mtlsSecurityScheme``).

    Args:
        identity: ``"cn"`` (default), ``"dns"``, ``"uri"``, ``"email"``, or a function
            of the certificate returning the principal id (None refuses it).
        allowed: if given, only these principal ids are accepted (the CA may issue
            certificates to more parties than may call this agent).
        principal_for: full control: build the :class:`Principal` (tenants, scopes)
            from the id and the certificate; return None to refuse.

    Example::

        verifier = MutualTLSVerifier(identity="dns", allowed={"partner.example.com"})
        app = A2AApp(agent, auth={"mtls": verifier})
        # served by: accord serve app.py --ssl-certfile server.pem --ssl-keyfile
        #   server.key --ssl-ca-certs partners-ca.pem
    """

    def __init__(
        self,
        *,
        identity: Identity = "cn",
        allowed: Collection[str] | None = None,
        principal_for: Callable[[str, x509.Certificate], Principal | None]
        | None = None,
    ) -> None:
        if (
            isinstance(identity, str)
            and identity != "cn"
            and identity not in _SAN_TYPES
        ):
            raise ValueError(
                f"identity must be 'cn', 'dns', 'uri', 'email' or a function (got {identity!r})"
            )
        self.identity = identity
        self.allowed = None if allowed is None else frozenset(allowed)
        self.principal_for = principal_for

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        """Accept only mutual-TLS schemes."""
        if scheme.mtls_security_scheme is None:
            raise ValueError("MutualTLSVerifier needs an mtlsSecurityScheme")

    async def verify(self, credential: Credential) -> Principal:
        """The principal named by the verified client certificate."""
        tls = credential.request.tls or {}
        if tls.get("client_cert_error"):
            raise CredentialRejected("the TLS layer reported a certificate error")
        chain = tls.get("client_cert_chain") or ()
        try:
            cert = x509.load_pem_x509_certificate(str(next(iter(chain))).encode())
        except (StopIteration, ValueError) as exc:
            raise CredentialRejected("no readable client certificate") from exc
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CredentialRejected("client certificate outside its validity period")
        ident = (
            certificate_identity(cert, self.identity)
            if isinstance(self.identity, str)
            else self.identity(cert)
        )
        if not ident:
            raise CredentialRejected("the client certificate names no identity")
        if self.allowed is not None and ident not in self.allowed:
            raise CredentialRejected(f"certificate identity {ident!r} is not allowed")
        claims = {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"),
        }
        if self.principal_for is not None:
            principal = self.principal_for(ident, cert)
            if principal is None:
                raise CredentialRejected(f"certificate identity {ident!r} refused")
            return principal
        return Principal(id=ident, scheme=credential.scheme_name, claims=claims)
