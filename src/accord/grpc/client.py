"""The gRPC client transport (spec §10): one channel to one ``GRPC`` interface.

:class:`GrpcTransport` implements the client's
:class:`~accord.client.transports.base.Transport`: unary operations are unary calls,
the two streaming ones server-streaming calls, each on ``/lf.a2a.v1.A2AService/<Rpc>``.
Service parameters and credentials travel as metadata (spec §10.2): ``a2a-version``
always, every extra header lower-cased (``a2a-extensions``, ``authorization``...), and
what the credentials chosen from the card add to a request (their httpx auth flow is
run against a stand-in request and its headers are sent).

Interface URLs: the spec's examples are ``https://host/path`` while the proto's
comment on ``AgentInterface.url`` once said ``host:port``; both are read.
``https://`` and ``grpcs://`` mean TLS (the default roots, or ``ca_bundle``; a client
certificate for mutual TLS), ``http://`` and ``grpc://`` plaintext; a bare
``host:port`` is plaintext on a loopback address and TLS anywhere else. A path is
ignored: gRPC routes by service and method.

Errors: a call that fails with a status is rebuilt as the
:class:`~accord.errors.ProtocolError` it names (:mod:`accord.grpc.status`). A peer
that cannot be reached (UNAVAILABLE without A2A details) is
:class:`~accord.errors.ConnectError`, so the client falls back to its next
interface; a deadline is :class:`~accord.errors.TimeoutError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx

import grpc
from accord import types as t
from accord.client.config import ClientTimeouts
from accord.client.hooks import call_headers
from accord.client.transports.base import ClosingTransport
from accord.errors import (
    ConnectError,
    InvalidAgentResponseError,
    ProtocolError,
    UnsupportedOperationError,
)
from accord.errors import TimeoutError as A2ATimeoutError
from accord.protocol.versioning import CURRENT_VERSION
from grpc import aio

from . import v03
from .messages import METHODS, from_proto, parse, to_proto
from .status import DETAILS_KEY, from_status

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Callable, Mapping

    from accord.client.credentials import ClientCertificate
    from accord.client.transports.base import TransportOptions
    from accord.protocol.operations import Operation
    from accord.types import StreamResponse

__all__ = ["GRPC_TRANSPORTS", "GrpcTransport", "grpc_target"]

#: The largest message accepted from a server, in bytes.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def grpc_target(url: str) -> tuple[str, bool]:
    """The channel target (``host:port``) of an interface URL, and whether it is TLS.

    Raises:
        ValueError: the URL names no host.
    """
    if "://" not in url:
        host_port = url.strip().rstrip("/")
        host = urlsplit("//" + host_port).hostname or ""
        if not host:
            raise ValueError(f"no host in gRPC interface URL {url!r}")
        return host_port, not _loopback(host)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "grpc", "grpcs") or not parts.hostname:
        raise ValueError(
            f"gRPC interface URL {url!r}: expected https://, grpcs://, http://,"
            " grpc:// or host:port"
        )
    secure = scheme in ("https", "grpcs")
    port = parts.port or (443 if secure else 80)
    host = parts.hostname
    return (f"[{host}]" if ":" in host else host) + f":{port}", secure


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class GrpcTransport(ClosingTransport):
    """Sends A2A operations over gRPC to one interface.

    Args:
        url: the interface URL (``AgentInterface.url``; see the module docstring).
        timeouts: ``read`` bounds a unary call (a blocking send waits for the task),
            ``stream_read`` a whole stream when set, ``connect`` the wait for the
            channel to be ready.
        headers: metadata for every call (keys lower-cased).
        auth: an httpx auth flow whose headers are sent as metadata on every call.
        http: the httpx client the auth flow may use (token endpoints).
        credentials: TLS settings of the channel; by default the system roots (or
            ``ca_bundle``) and, when given, ``certificate`` for mutual TLS.
        ca_bundle: a PEM file of CA certificates to trust.
        certificate: a client certificate (``accord.client.credentials``) for mTLS.
        version: the A2A version to speak: ``1.0`` (``lf.a2a.v1.A2AService``), or
            ``0.3`` for an agent that speaks only that (``a2a.v1.A2AService``,
            :mod:`accord.grpc.v03`).

    Example::

        async with GrpcTransport("grpc://127.0.0.1:50051") as transport:
            task = await transport.call(op("GetTask"), GetTaskRequest(id="t-1"))
    """

    binding = "GRPC"

    def __init__(
        self,
        url: str,
        *,
        timeouts: ClientTimeouts | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        http: httpx.AsyncClient | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        certificate: ClientCertificate | None = None,
        version: str = CURRENT_VERSION,
    ) -> None:
        if version not in (CURRENT_VERSION, v03.PACKAGE_VERSION):
            raise ValueError(f"cannot speak A2A {version!r} over gRPC")
        self.url = url
        self.version = version
        target, secure = grpc_target(url)
        self._timeouts = timeouts if timeouts is not None else ClientTimeouts()
        self._metadata = (
            *(
                (k.lower(), v)
                for k, v in (headers or {}).items()
                if k.lower() != "a2a-version"
            ),
            ("a2a-version", version),
        )
        self._auth = auth
        self._http = http
        options = (
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),
        )
        if secure or credentials is not None:
            self._channel = aio.secure_channel(
                target,
                credentials or _tls(ca_bundle, certificate),
                options=options,
            )
        else:
            self._channel = aio.insecure_channel(target, options=options)

    def __repr__(self) -> str:
        return f"GrpcTransport({self.url!r})"

    @classmethod
    def for_interface(cls, url: str, options: TransportOptions) -> GrpcTransport:
        """The factory :data:`GRPC_TRANSPORTS` registers for the ``GRPC`` binding."""
        return cls(
            url,
            timeouts=options.timeouts,
            headers=options.headers,
            auth=options.auth,
            http=options.http,
            ca_bundle=options.ca_bundle,
            certificate=options.certificate,
            version=options.version,
        )

    async def aclose(self) -> None:
        """Close the channel."""
        with anyio.CancelScope(shield=True):
            await self._channel.close()

    async def _call_metadata(self) -> tuple[tuple[str, str], ...]:
        added = call_headers()  # the call hooks' (trace context): client/hooks.py
        if added:
            return (*await self._auth_metadata(), *_lowered(added))
        return await self._auth_metadata()

    async def _auth_metadata(self) -> tuple[tuple[str, str], ...]:
        if self._auth is None:
            return self._metadata
        request = httpx.Request("POST", "https://grpc.invalid/")
        flow = self._auth.async_auth_flow(request)
        try:
            sent = await anext(flow)
        finally:
            await flow.aclose()
        added = tuple(
            (k.lower(), v)
            for k, v in sent.headers.items()
            if k.lower() not in ("host", "content-length")
        )
        return (*self._metadata, *added)

    def _codec(self, operation: Operation) -> _Codec:
        if self.version == CURRENT_VERSION:
            method = METHODS[operation.name]
            return _Codec(
                method.path,
                lambda params: to_proto(params).SerializeToString(),
                lambda data: _decoded(
                    parse(data, method.response), operation.response_type, self.url
                ),
                lambda data: _decoded(
                    parse(data, method.response), t.StreamResponse, self.url
                ),
            )
        legacy = v03.BY_OPERATION.get(operation.name)
        if legacy is None:
            raise UnsupportedOperationError(
                f"{operation.name} does not exist in A2A {v03.PACKAGE_VERSION}, the "
                f"only version the agent at {self.url} speaks"
            )
        return _Codec(
            legacy.path,
            legacy.encode_request,
            legacy.decode_response,
            legacy.decode_event,
        )

    async def call(self, operation: Operation, params: Any) -> Any:
        """Run a unary operation; see :meth:`Transport.call
        <accord.client.transports.base.Transport.call>`."""
        codec = self._codec(operation)
        rpc: aio.UnaryUnaryMultiCallable[bytes, bytes] = self._channel.unary_unary(
            codec.path
        )
        try:
            data = await rpc(
                codec.encode(params),
                metadata=await self._call_metadata(),
                timeout=self._timeouts.read,
            )
        except aio.AioRpcError as exc:
            raise self._error(exc) from None
        return codec.decode(data)

    async def stream(
        self, operation: Operation, params: Any, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[StreamResponse, str | None]]:
        """Run a streaming operation; see :meth:`Transport.stream
        <accord.client.transports.base.Transport.stream>`.

        gRPC streams carry no event ids, so ``last_event_id`` is not sent and the
        ids yielded are ``None``.
        """
        codec = self._codec(operation)
        rpc: aio.UnaryStreamMultiCallable[bytes, bytes] = self._channel.unary_stream(
            codec.path
        )
        call = rpc(
            codec.encode(params),
            metadata=await self._call_metadata(),
            timeout=self._timeouts.stream_read,
        )
        try:
            while True:
                try:
                    data = await call.read()
                except aio.AioRpcError as exc:
                    raise self._error(exc) from None
                if not isinstance(data, bytes):  # aio.EOF: the stream is over
                    return
                yield codec.decode_event(data), None
        finally:
            call.cancel()

    def _error(self, exc: aio.AioRpcError) -> Exception:
        code = exc.code()
        trailers = exc.trailing_metadata() or ()
        rich = any(key == DETAILS_KEY for key, _ in trailers)
        if code == grpc.StatusCode.UNAVAILABLE and not rich:
            return ConnectError(f"Cannot connect to {self.url}: {exc.details()}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and not rich:
            return A2ATimeoutError(f"{self.url} did not answer in time")
        return from_status(
            code,
            exc.details() or "",
            tuple(trailers),
            peer=self.url,
            v03=self.version == v03.PACKAGE_VERSION,
        )


@dataclass(frozen=True, slots=True)
class _Codec:
    """How one operation is called on the version the transport speaks."""

    path: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    decode_event: Callable[[bytes], StreamResponse]


def _lowered(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Headers as gRPC metadata (its keys are lower-case)."""
    return tuple((k.lower(), v) for k, v in headers.items())


def _decoded(message: Any, type_: type[Any], url: str) -> Any:
    try:
        return from_proto(message, type_)
    except ProtocolError as exc:
        raise InvalidAgentResponseError(
            f"{url} sent an invalid {type_.__name__}: {exc.message}"
        ) from None


def _tls(
    ca_bundle: str | os.PathLike[str] | None, certificate: ClientCertificate | None
) -> grpc.ChannelCredentials:
    roots = Path(ca_bundle).read_bytes() if ca_bundle is not None else None
    if certificate is None:
        return grpc.ssl_channel_credentials(root_certificates=roots)
    if certificate.encrypted:
        raise ValueError(
            f"{certificate!r}: gRPC cannot use a password-protected key; "
            "give it an unencrypted key file"
        )
    return grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=Path(certificate.key_file).read_bytes(),
        certificate_chain=Path(certificate.cert_file).read_bytes(),
    )


#: ``ClientConfig(transports=GRPC_TRANSPORTS)``: the client uses an agent's ``GRPC``
#: interfaces too.
GRPC_TRANSPORTS = {"GRPC": GrpcTransport.for_interface}
