"""The one place httpx exceptions become :mod:`accord.errors` (style guide §7, §11).

Theory of operation. Every httpx call the client makes runs inside
:func:`map_httpx_exceptions`, modelled on httpx's own ``map_httpcore_exceptions``: a
connection failure becomes :class:`~accord.errors.ConnectError`, a timeout
:class:`~accord.errors.TimeoutError`, anything else below HTTP
:class:`~accord.errors.TransportError`. Messages are one line, name the URL and say
what to do next. An HTTP status that carries no A2A error body becomes
:class:`~accord.errors.HTTPStatusError` through :func:`status_error`.

The helpers for request headers live here too, so that ``A2A-Version`` is added in one
place (spec §3.6.1: clients MUST send it on every request).

:class:`DeferredTrustContext` is the TLS context of a client with default settings:
loading the trusted roots (certifi's bundle, ~0.2 s) is put off until the first TLS
handshake, so a client that only ever talks ``http://`` (a local agent, the CLI
against loopback) never pays for it.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from accord.errors import ConnectError, HTTPStatusError, TimeoutError, TransportError
from accord.protocol.versioning import CURRENT_VERSION, VERSION_HEADER

from .hooks import call_headers

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "SSE_MEDIA_TYPE",
    "DeferredTrustContext",
    "is_event_stream",
    "map_httpx_exceptions",
    "request_headers",
    "status_error",
]

#: Media type of an SSE response (spec §9.4.2, §11.7).
SSE_MEDIA_TYPE = "text/event-stream"
#: How much of an unexpected response body an error message quotes.
_BODY_EXCERPT = 200


class DeferredTrustContext(ssl.SSLContext):
    """A client TLS context that loads its trusted roots on the first handshake.

    The same trust as ``httpx.create_ssl_context()`` (``$SSL_CERT_FILE``, else
    ``$SSL_CERT_DIR``, else certifi's bundle; hostname checked, certificate
    required), loaded when :meth:`wrap_bio` or :meth:`wrap_socket` is first called.
    Give it to httpx as ``verify=``.
    """

    def __new__(cls) -> DeferredTrustContext:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self) -> None:
        # What ssl.create_default_context() sets besides the roots.
        if sys.version_info >= (3, 13):
            self.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            self.keylog_filename = keylog
        self._trust_loaded = False
        self._trust_lock = threading.Lock()

    @property
    def trust_loaded(self) -> bool:
        """True once the trusted roots are loaded (after the first handshake)."""
        return self._trust_loaded

    def load_trust(self) -> None:
        """Load the trusted roots now, if not done yet (thread-safe, idempotent)."""
        with self._trust_lock:
            if self._trust_loaded:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._trust_loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        """Load the trusted roots, then wrap as :class:`ssl.SSLContext` does."""
        self.load_trust()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """Load the trusted roots, then wrap as :class:`ssl.SSLContext` does."""
        self.load_trust()
        return super().wrap_socket(*args, **kwargs)


def request_headers(
    extra: Mapping[str, str],
    *,
    content_type: str | None = None,
    stream: bool = False,
    version: str = CURRENT_VERSION,
) -> dict[str, str]:
    """Headers of one A2A request: the caller's extras, then the protocol's own.

    ``A2A-Version`` (``version``) always wins over an extra header of the same name: a
    v1.0 request without it would be served as v0.3 (spec §3.6.2).
    """
    headers = {k: v for k, v in extra.items() if k.lower() != VERSION_HEADER.lower()}
    added = call_headers()
    if added:  # the call hooks' (trace context): hooks.py
        headers.update(added)
    headers[VERSION_HEADER] = version
    if content_type is not None:
        headers["Content-Type"] = content_type
    if stream:
        headers["Accept"] = SSE_MEDIA_TYPE
        # SSE responses must not be cached or transformed by intermediaries.
        headers["Cache-Control"] = "no-cache"
    return headers


def is_event_stream(response: httpx.Response) -> bool:
    """True when the response is an SSE stream."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == SSE_MEDIA_TYPE


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes, and the members of exception groups among them."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(
            linked
            for linked in (current.__cause__, current.__context__)
            if linked is not None
        )


def _connect_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused — is the agent running?"
        if isinstance(cause, socket.gaierror):
            return "the host name could not be resolved — check the URL"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({getattr(cause, 'reason', None) or cause})"
    text = str(exc) or type(exc).__name__
    return f"{text} — is the agent running and reachable?"


@contextmanager
def map_httpx_exceptions(url: str) -> Iterator[None]:
    """Translate httpx exceptions raised inside the block.

    Raises:
        ConnectError: the agent could not be reached.
        TimeoutError: a connect, read, write or pool timeout expired.
        TransportError: any other failure below HTTP (e.g. the connection dropped).
        ValueError: the URL itself is malformed.
    """
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise TimeoutError(
            f"Timed out connecting to {url} — is the agent reachable?"
        ) from exc
    except httpx.ReadTimeout as exc:
        raise TimeoutError(
            f"No response from {url} within the read timeout"
            " — raise ClientTimeouts.read for long-running tasks"
        ) from exc
    except httpx.PoolTimeout as exc:
        raise TimeoutError(
            f"Timed out waiting for a free connection to {url}"
            " — too many concurrent requests for the connection pool"
        ) from exc
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"Timed out sending the request to {url}") from exc
    except httpx.ConnectError as exc:
        raise ConnectError(f"Cannot connect to {url}: {_connect_reason(exc)}") from exc
    except httpx.UnsupportedProtocol as exc:
        raise ConnectError(
            f"Cannot connect to {url}: unsupported URL scheme (use http:// or https://)"
        ) from exc
    except httpx.TransportError as exc:
        detail = str(exc) or type(exc).__name__
        raise TransportError(f"Connection to {url} failed: {detail}") from exc
    except httpx.InvalidURL as exc:
        # A malformed URL is the caller's mistake, not a transport failure.
        raise ValueError(f"Invalid URL {url!r}: {exc}") from exc


def _excerpt(body: bytes) -> str:
    text = " ".join(body[: _BODY_EXCERPT * 2].decode("utf-8", "replace").split())
    if not text:
        return ""
    if len(text) > _BODY_EXCERPT:
        text = text[:_BODY_EXCERPT] + "…"
    return f" — body: {text!r}"


def status_error(response: httpx.Response, url: str) -> HTTPStatusError:
    """An :class:`HTTPStatusError` for a response that carries no A2A error.

    The response body must have been read.
    """
    status = response.status_code
    phrase = response.reason_phrase or ""
    label = f"{status} {phrase}".strip()
    body = response.content
    if status == 401:
        challenge = response.headers.get("WWW-Authenticate")
        asks = f"; it asks for: {challenge}" if challenge else ""
        message = (
            f"{url} requires authentication ({label}){asks}"
            " — pass credentials, e.g. Client.connect(url, credentials=[...]),"
            " or check the ones sent"
        )
    elif status == 403:
        message = (
            f"{url} refused access ({label})"
            " — the credentials sent do not allow this operation"
        )
    elif status == 404:
        message = f"{url} was not found ({label}) — check the agent's interface URL"
    else:
        message = f"{url} answered HTTP {label}{_excerpt(body)}"
    return HTTPStatusError(message, status_code=status, body=body)
