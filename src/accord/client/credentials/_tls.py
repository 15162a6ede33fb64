"""Mutual TLS and private CAs: the TLS layer of the client's httpx client.

A client certificate is not a per-request credential: it is presented during the TLS
handshake, so it is loaded into the ``ssl.SSLContext`` of the httpx client the
:class:`~accord.client.Client` creates (``verify=``; httpx 0.28 deprecates ``cert=``).
It is configured before the agent card is fetched, because an agent that requires
mutual TLS refuses the handshake of the card request too; TLS only presents it to
servers that ask for one. :attr:`ClientConfig.ca_bundle` replaces the trusted roots
for agents behind a private CA.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING

import httpx

from .._http import DeferredTrustContext

if TYPE_CHECKING:
    from accord.types import SecurityScheme

    from ..config import ClientConfig
    from ._base import SchemeUse

__all__ = ["ClientCertificate", "TLSOnly", "http_client", "ssl_context"]


class TLSOnly:
    """The per-request side of a client certificate: nothing (it lives in TLS)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<credential in TLS>"

    async def apply(self, request: httpx.Request, http: httpx.AsyncClient) -> None:
        """Nothing to add: the certificate was presented in the handshake."""

    async def refresh(self, rejected: httpx.Request, http: httpx.AsyncClient) -> bool:
        """A certificate cannot be renewed by the client."""
        return False


class ClientCertificate:
    """A TLS client certificate (mutual TLS), from PEM files.

    Args:
        cert_file: the certificate (chain) in PEM; it may hold the key too.
        key_file: the private key in PEM, when not in ``cert_file``.
        password: the key's password, if it is encrypted.

    Raises:
        ValueError: a file is missing or unreadable, or the key does not match
            (checked at once, so a typo fails before anything is sent).

    Example::

        cert = ClientCertificate("client.pem", "client.key")
        client = await Client.connect(url, credentials=[cert])
    """

    __slots__ = ("_cert_file", "_key_file", "_password")

    def __init__(
        self,
        cert_file: str | os.PathLike[str],
        key_file: str | os.PathLike[str] | None = None,
        *,
        password: str | None = None,
    ) -> None:
        self._cert_file = os.fspath(cert_file)
        self._key_file = os.fspath(key_file) if key_file is not None else None
        self._password = password
        self.load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))

    def __repr__(self) -> str:
        key = f", {self._key_file!r}" if self._key_file is not None else ""
        return f"ClientCertificate({self._cert_file!r}{key})"

    @property
    def cert_file(self) -> str:
        """The certificate (chain) file."""
        return self._cert_file

    @property
    def key_file(self) -> str:
        """The private key file (the certificate file when it holds the key)."""
        return self._key_file if self._key_file is not None else self._cert_file

    @property
    def encrypted(self) -> bool:
        """True when the key needs a password (gRPC's TLS cannot take one)."""
        return self._password is not None

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True for a ``mtlsSecurityScheme``."""
        return scheme.mtls_security_scheme is not None

    def bind(self, use: SchemeUse) -> TLSOnly:
        """Nothing per request: the certificate is presented during TLS."""
        return TLSOnly()

    def load_into(self, context: ssl.SSLContext) -> None:
        """Load the certificate and key into ``context``.

        Raises:
            ValueError: the files cannot be loaded (missing, not PEM, wrong password,
                key not matching the certificate).
        """
        try:
            context.load_cert_chain(self._cert_file, self._key_file, self._password)
        except (OSError, ssl.SSLError) as exc:
            files = self._cert_file + (f", {self._key_file}" if self._key_file else "")
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None)
            raise ValueError(
                f"Cannot load the client certificate ({files}): {reason or exc}"
            ) from None


def ssl_context(
    *,
    ca_bundle: str | os.PathLike[str] | None = None,
    certificate: ClientCertificate | None = None,
) -> ssl.SSLContext:
    """A client TLS context: httpx's default roots, or ``ca_bundle``'s, plus a cert.

    Raises:
        ValueError: the CA bundle or the certificate cannot be loaded.
    """
    if ca_bundle is None:
        context = httpx.create_ssl_context()
    else:
        try:
            context = ssl.create_default_context(cafile=os.fspath(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None)
            raise ValueError(
                f"Cannot load the CA bundle {os.fspath(ca_bundle)}: {reason or exc}"
            ) from None
    if certificate is not None:
        certificate.load_into(context)
    return context


def _default_context() -> ssl.SSLContext:
    """The default-trust TLS context, shared by every client of this process.

    Loading the CA bundle costs tens of milliseconds of CPU; a client per call (as
    ``Client.connect`` and the CLI make) paid it every time. An ``SSLContext`` is safe
    to share between connections and threads, and a :class:`DeferredTrustContext`
    loads the roots only at its first handshake (an http:// client never does). The
    roots come from ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, so one context is
    kept per value of those two.
    """
    return _shared_context(
        os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    )


@functools.cache
def _shared_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return DeferredTrustContext()


def http_client(
    config: ClientConfig, certificate: ClientCertificate | None = None
) -> httpx.AsyncClient:
    """The httpx client a :class:`~accord.client.Client` owns, with its TLS settings."""
    if config.ca_bundle is None and certificate is None:
        return httpx.AsyncClient(verify=_default_context())
    context = ssl_context(ca_bundle=config.ca_bundle, certificate=certificate)
    return httpx.AsyncClient(verify=context)
