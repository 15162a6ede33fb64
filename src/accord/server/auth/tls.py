"""Serve with uvicorn and see the client certificate: the ASGI TLS extension.

uvicorn verifies client certificates (``ssl_ca_certs`` + ``ssl_cert_reqs``) but does
not pass the peer certificate to the application. The protocol classes here do: when
a TLS connection is made (after the handshake), they read the verified peer
certificate and add ``scope["extensions"]["tls"]`` to every request of the connection,
as the ASGI TLS extension specifies (``client_cert_chain`` as PEM strings, leaf first;
``client_cert_name`` as an RFC 4514 string; ``client_cert_error`` None because the
handshake would have failed otherwise; ``tls_version``). Only the leaf is available
from Python's ``ssl`` module before 3.13.

The protocol classes are those of :mod:`accord.server.serving`, which also enforce
the connection limits (:class:`~accord.server.limits.ConnectionLimits`): one class
for both concerns. Use :func:`uvicorn_ssl_options` (or pass
``http=tls_http_protocol()`` to ``uvicorn.Config``). Serving needs the ``serve``
extra (uvicorn); this module imports it only when a protocol class is asked for.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import MutableMapping

    from ..limits import ConnectionLimits

__all__ = [
    "CLIENT_CERT_MODES",
    "attach_tls",
    "tls_extension",
    "tls_http_protocol",
    "uvicorn_ssl_options",
]

#: ``--ssl-client-cert`` values and the ``ssl`` verify modes they mean.
CLIENT_CERT_MODES = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS = {
    "TLSv1": 0x0301,
    "TLSv1.1": 0x0302,
    "TLSv1.2": 0x0303,
    "TLSv1.3": 0x0304,
}


def _subject(der: bytes) -> str | None:
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - the security extra is absent
        return None
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:  # pragma: no cover - the handshake verified it
        return None


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection, or None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": _subject(der) if der else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(str(ssl_object.version())),
        "cipher_suite": None,
    }


class _WithTLS:
    """Adds the connection's TLS extension to each HTTP/WebSocket scope."""

    def __init__(self, app: Any, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Any, send: Any
    ) -> None:
        if scope.get("type") in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = self.extension
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)


def attach_tls(protocol: Any, transport: asyncio.BaseTransport) -> None:
    """Make ``protocol`` (a uvicorn HTTP protocol) add the TLS extension to its scopes.

    A no-op on a connection that is not TLS.
    """
    extension = tls_extension(transport)
    if extension is not None:
        protocol.app = _WithTLS(protocol.app, extension)


def tls_http_protocol(
    limits: ConnectionLimits | None = None,
) -> type[asyncio.Protocol]:
    """The HTTP protocol class to give uvicorn: TLS extension plus ``limits``.

    httptools when installed, else h11 (:func:`accord.server.serving.http_protocol`).
    """
    from ..limits import ConnectionLimits
    from ..serving import http_protocol

    return http_protocol(limits or ConnectionLimits())


def uvicorn_ssl_options(
    *,
    certfile: str,
    keyfile: str | None = None,
    ca_certs: str | None = None,
    client_cert: str | None = None,
    limits: ConnectionLimits | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: TLS, client certificates, the extension.

    ``client_cert`` is ``"required"`` (the default when ``ca_certs`` is given),
    ``"optional"`` or ``"none"``. ``limits`` are the connection limits the protocol
    enforces (default :class:`~accord.server.limits.ConnectionLimits`).

    Raises:
        ValueError: client certificates asked for without a CA bundle to check them.
    """
    mode = client_cert or ("required" if ca_certs else "none")
    if mode not in CLIENT_CERT_MODES:
        raise ValueError(f"client_cert must be one of {', '.join(CLIENT_CERT_MODES)}")
    if mode != "none" and not ca_certs:
        raise ValueError(
            "client certificates need a CA bundle to verify them (--ssl-ca-certs)"
        )
    options: dict[str, Any] = {
        "ssl_certfile": certfile,
        "ssl_keyfile": keyfile,
        "ssl_cert_reqs": CLIENT_CERT_MODES[mode],
        "http": tls_http_protocol(limits),
    }
    if ca_certs:
        options["ssl_ca_certs"] = ca_certs
    return options
