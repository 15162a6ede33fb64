"""The gRPC front end: ``lf.a2a.v1.A2AService`` over an :class:`~accord.server.Engine`.

Like the ASGI app it is thin: each call is read off gRPC, authenticated from its
metadata (spec §10.2: ``authorization``, an API key's header name...) with the
engine's authenticator, decoded (:mod:`accord.grpc.messages`), run by
:meth:`Engine.dispatch <accord.server.Engine.dispatch>` and encoded back, so
isolation, interceptors, capability checks and errors are the same as over HTTP.
Errors end the call with the table's status code and a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer (:mod:`accord.grpc.status`, spec §10.6).

Service parameters come from metadata (spec §10.2): ``a2a-version`` (this service is
the v1.0 one, so a call without it is served as v1.0; another version is refused
with VERSION_NOT_SUPPORTED) and ``a2a-extensions`` (comma-separated URIs).

Bounds: a request larger than :attr:`ServerLimits.max_body_bytes
<accord.server.ServerLimits.max_body_bytes>` is refused by gRPC itself
(RESOURCE_EXHAUSTED); concurrent calls are capped (``max_concurrent_calls``; beyond
it gRPC answers RESOURCE_EXHAUSTED); idle connections are pinged every
:attr:`ServerLimits.keepalive_interval` seconds, and a stream whose client stops
reading for ``write_timeout`` seconds is ended (its task runs on).

gRPC's asyncio server runs on the asyncio event loop only (``anyio`` with the
``asyncio`` backend); the engine it serves must run on the same loop.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

import grpc
from accord.errors import InternalError, ProtocolError, RateLimitedError
from accord.protocol import versioning
from accord.server.auth.verifier import RequestInfo
from accord.server.binding import Request, perform
from accord.server.streams import HandlerStream
from accord.types import AgentInterface
from grpc import aio

from . import v03
from .messages import METHODS, SERVICE, decode_request, to_proto
from .status import to_status

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from accord.protocol.operations import Operation
    from accord.server import Engine
    from accord.server.limits import ServerLimits
    from accord.types import StreamResponse

__all__ = [
    "BINDING_GRPC",
    "GrpcAnswer",
    "GrpcServer",
    "RpcExchange",
    "server_credentials",
]

logger = logging.getLogger(__name__)

#: ``AgentInterface.protocolBinding`` of the gRPC binding (spec §10).
BINDING_GRPC = "GRPC"


class GrpcServer:
    """Serves an engine's agent over gRPC on one address.

    Args:
        engine: the engine to serve; its owner runs it (``async with
            engine.running()``) around this server.
        host: the interface to listen on.
        port: the port; ``0`` picks a free one (read :attr:`port` once started).
        credentials: TLS for the server (``grpc.ssl_server_credentials``); ``None``
            listens in plaintext, which is for loopback and for running behind a
            TLS-terminating proxy (spec §7.1 requires TLS in production).
        limits: the message size and keep-alive interval (default: the engine's).
        max_concurrent_calls: calls served at once; more are refused.
        write_timeout: seconds a stream waits for a client that reads nothing.
        public_url: the URL the card advertises for this interface; by default
            ``host:port``, the form gRPC clients dial as given (the reference SDK
            and the conformance suite among them).
        grace: seconds open calls may finish when the server stops.

    Example::

        engine = Engine(agent, store=SQLiteTaskStore("tasks.db"))
        async with engine.running(), GrpcServer(engine, port=50051).serving():
            ...  # serve until told to stop
    """

    def __init__(
        self,
        engine: Engine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: grpc.ServerCredentials | None = None,
        limits: ServerLimits | None = None,
        public_url: str | None = None,
        grace: float = 5.0,
        max_concurrent_calls: int = 1000,
        write_timeout: float = 60.0,
    ) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.limits = limits if limits is not None else engine.limits
        self._credentials = credentials
        self._public_url = public_url
        self._grace = grace
        self.max_concurrent_calls = max_concurrent_calls
        self.write_timeout = write_timeout
        self._server: aio.Server | None = None

    @property
    def url(self) -> str:
        """The URL of this interface in the card (spec §4.4.6 ``AgentInterface.url``)."""
        if self._public_url is not None:
            return self._public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def interface(self) -> AgentInterface:
        """The card entry of this interface."""
        return AgentInterface(
            url=self.url,
            protocol_binding=BINDING_GRPC,
            protocol_version=versioning.CURRENT_VERSION,
        )

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[GrpcServer]:
        """Listen while inside; the card lists this interface meanwhile.

        Raises:
            OSError: the address cannot be bound.
        """
        limit = self.limits.max_body_bytes
        keepalive_ms = max(1000, int(self.limits.keepalive_interval * 1000))
        server = aio.server(
            maximum_concurrent_rpcs=self.max_concurrent_calls,
            options=(
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
                ("grpc.keepalive_time_ms", keepalive_ms),
                ("grpc.keepalive_timeout_ms", keepalive_ms),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.so_reuseport", 0),
            ),
        )
        server.add_generic_rpc_handlers(self._handlers())
        address = f"{self.host}:{self.port}"
        try:
            if self._credentials is None:
                bound = server.add_insecure_port(address)
            else:
                bound = server.add_secure_port(address, self._credentials)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
        if bound == 0:
            raise OSError(f"cannot listen for gRPC on {address}: the port is in use")
        self.port = bound
        await server.start()
        self._server = server
        interface = self.interface
        self.engine.advertise(interface)
        try:
            yield self
        finally:
            self.engine.withdraw(interface)
            self._server = None
            with anyio.CancelScope(shield=True):
                await server.stop(self._grace)

    # --- calls ----------------------------------------------------------------------

    def _handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        v1 = [
            RpcExchange(
                name,
                method.operation,
                versioning.CURRENT_VERSION,
                partial(decode_request, method),
                _serialized,
                _serialized,
            )
            for name, method in METHODS.items()
        ]
        legacy = [
            RpcExchange(
                name,
                method.operation,
                v03.PACKAGE_VERSION,
                method.decode,
                partial(self._encode_v03, method),
                method.encode_event,
            )
            for name, method in v03.METHODS.items()
        ]
        return (
            grpc.method_handlers_generic_handler(SERVICE, self._service(v1)),
            grpc.method_handlers_generic_handler(v03.SERVICE, self._service(legacy)),
        )

    def _encode_v03(self, method: v03.Method, result: Any) -> bytes:
        # The v0.3 card names this server's address (read once it listens).
        return method.encode(result, url=self.url)

    def _service(
        self, rpcs: list[RpcExchange]
    ) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
        return {
            rpc.name: (
                grpc.unary_stream_rpc_method_handler(self._streaming(rpc))
                if rpc.operation.streaming
                else grpc.unary_unary_rpc_method_handler(self._unary(rpc))
            )
            for rpc in rpcs
        }

    def _unary(
        self, rpc: RpcExchange
    ) -> Callable[[bytes, aio.ServicerContext[Any, Any]], Awaitable[bytes]]:
        engine = self.engine

        async def handle(
            request: bytes, context: aio.ServicerContext[Any, Any]
        ) -> bytes:
            try:
                answer = rpc.result(
                    await perform(engine, rpc, _request(rpc, request, context))
                )
            except ProtocolError as error:
                answer = rpc.error(error)
            except Exception:
                logger.exception("unexpected error in gRPC %s", rpc.name)
                answer = rpc.error(InternalError())
            if answer.code is not grpc.StatusCode.OK:
                await _abort(context, answer)
            return answer.body

        return handle

    def _streaming(
        self, rpc: RpcExchange
    ) -> Callable[[bytes, aio.ServicerContext[Any, Any]], Awaitable[None]]:
        engine = self.engine
        write_timeout = self.write_timeout

        async def handle(
            request: bytes, context: aio.ServicerContext[Any, Any]
        ) -> None:
            try:
                stream = await perform(engine, rpc, _request(rpc, request, context))
                assert isinstance(stream, HandlerStream)
                async with stream:
                    async for _seq, event in stream:
                        data = rpc.event(event)
                        with anyio.move_on_after(write_timeout) as slow:
                            await context.write(data)
                        if slow.cancelled_caught:
                            logger.info(
                                "gRPC %s: the client read nothing for %s s; "
                                "ending its stream",
                                rpc.name,
                                write_timeout,
                            )
                            return
                return
            except ProtocolError as error:
                answer = rpc.error(error)
            except Exception:
                logger.exception("unexpected error in gRPC %s", rpc.name)
                answer = rpc.error(InternalError())
            # Before or after events were written, an error ends the call with its
            # status (spec §10.6).
            await _abort(context, answer)

        return handle


@dataclass(frozen=True, slots=True)
class GrpcAnswer:
    """A gRPC answer: the serialized response message, or the status ending the call
    (code, message and the ``grpc-status-details-bin`` trailer, spec §10.6)."""

    body: bytes = b""
    code: grpc.StatusCode = grpc.StatusCode.OK
    message: str = ""
    trailers: tuple[tuple[str, str | bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class RpcExchange:
    """One rpc of one of the two services, as an
    :class:`~accord.server.binding.Exchange` answering with a :class:`GrpcAnswer`: how
    to read its request and write its answers, and the protocol version the service
    speaks. It keeps nothing per call, so one serves every call of its rpc."""

    name: str
    operation: Operation
    version: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]
    encode_event: Callable[[StreamResponse], bytes]
    binding: str = BINDING_GRPC

    def negotiate(self, requested: str | None) -> str:
        # The service names its version (a call stating none is served as it); a
        # call stating another one is refused with VERSION_NOT_SUPPORTED.
        return versioning.negotiate(requested, (self.version,))

    def early_error(self, body: bytes) -> None:
        return None

    def parse(self, body: bytes, query: str) -> tuple[Operation, Any]:
        return self.operation, self.decode(body)

    def result(self, result: Any) -> GrpcAnswer:
        return GrpcAnswer(self.encode(result))

    def event(self, event: StreamResponse) -> bytes:
        return self.encode_event(event)

    def error(self, error: ProtocolError) -> GrpcAnswer:
        code, message, trailers = to_status(
            error, v03=self.version == v03.PACKAGE_VERSION
        )
        challenges = getattr(error, "challenges", ())
        extra: tuple[tuple[str, str | bytes], ...] = tuple(
            ("www-authenticate", c) for c in challenges
        )
        if isinstance(error, RateLimitedError):
            extra += (("retry-after", str(error.retry_after_header)),)
        return GrpcAnswer(b"", code, message, trailers + extra)


def _request(
    rpc: RpcExchange, body: bytes, context: aio.ServicerContext[Any, Any]
) -> Request:
    """What :func:`~accord.server.binding.perform` needs of one call: its metadata
    (spec §10.2: credentials, ``a2a-version``, ``a2a-extensions``) and its body."""
    metadata = {
        key.lower(): value
        for key, value in context.invocation_metadata() or ()
        if isinstance(value, str)
    }
    info = RequestInfo(
        headers=tuple(metadata.items()), client=_peer(context.peer()), tls=_tls(context)
    )
    return Request(
        body,
        metadata.get,
        metadata.get("a2a-version") or rpc.version,
        lambda: info,
    )


def _serialized(value: Any) -> bytes:
    data: bytes = to_proto(value).SerializeToString()
    return data


def server_credentials(
    certfile: str | Path,
    keyfile: str | Path | None = None,
    *,
    ca_certs: str | Path | None = None,
    require_client_cert: bool = True,
) -> grpc.ServerCredentials:
    """TLS for :class:`GrpcServer` from PEM files (the same ones ``accord serve``'s
    ``--ssl-*`` flags take): the certificate chain, its key (when not in
    ``certfile``) and, for mutual TLS, the CA bundle client certificates are checked
    against (required unless ``require_client_cert`` is False).

    Raises:
        OSError: a file cannot be read.
    """
    chain = Path(certfile).read_bytes()
    key = Path(keyfile).read_bytes() if keyfile is not None else chain
    roots = Path(ca_certs).read_bytes() if ca_certs is not None else None
    return grpc.ssl_server_credentials(
        [(key, chain)],
        root_certificates=roots,
        require_client_auth=roots is not None and require_client_cert,
    )


def _peer(peer: str) -> tuple[str, int] | None:
    """``ipv4:127.0.0.1:5000`` / ``ipv6:[::1]:5000`` as ``(host, port)``."""
    kind, _, address = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _tls(context: aio.ServicerContext[Any, Any]) -> dict[str, Any] | None:
    """The client certificate of an mTLS call, in the ASGI TLS extension's shape."""
    auth = context.auth_context()
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    certificates = auth.get("x509_pem_cert") or []
    return {
        "client_cert_chain": [c.decode("ascii") for c in certificates],
        "client_cert_name": None,
        "client_cert_error": None,
    }


async def _abort(context: aio.ServicerContext[Any, Any], answer: GrpcAnswer) -> None:
    await context.abort(answer.code, answer.message, trailing_metadata=answer.trailers)
