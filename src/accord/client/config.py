"""Explicit, frozen client configuration (style guide §13).

Nothing here reads the environment: the CLI (or a caller) builds these values and passes
them to :class:`~accord.client.Client`, the transports and the card resolver.

Theory of operation. Unary calls and streams need different read timeouts. A blocking
``SendMessage`` (the spec's default, spec §3.2.2) only answers once the task is terminal
or interrupted, so its read timeout must be long. An open SSE stream may stay silent for
as long as the agent works, so a stream has no read timeout at all by default; the
caller bounds it with a cancel scope (``anyio.fail_after``) if it wants one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping

    from .audit import AuditSink
    from .hooks import CallHook
    from .transports.base import Transport, TransportOptions

    #: Builds the transport of one interface (see :attr:`ClientConfig.transports`).
    TransportFactory = Callable[[str, TransportOptions], Transport]

__all__ = ["BINDINGS", "JSONRPC", "REST", "ClientConfig", "ClientTimeouts"]

#: ``AgentInterface.protocolBinding`` of the JSON-RPC binding (spec §9).
JSONRPC = "JSONRPC"
#: ``AgentInterface.protocolBinding`` of the HTTP+JSON (REST) binding (spec §11).
REST = "HTTP+JSON"
#: The bindings this client speaks, in its own default order.
BINDINGS: tuple[str, ...] = (JSONRPC, REST)


@dataclass(frozen=True, slots=True)
class ClientTimeouts:
    """Timeouts in seconds; ``None`` disables one.

    Attributes:
        connect: establishing a TCP/TLS connection.
        read: waiting for the response of a unary call. Long by default because a
            blocking ``SendMessage`` waits for the task to finish (spec §3.2.2).
        stream_read: silence allowed between bytes of an open SSE stream; ``None``
            (default) because an agent may legitimately work for a long time
            between events.
        write: sending the request body.
        pool: waiting for a free connection in the HTTP connection pool.
        card: reading an agent card response.
    """

    connect: float | None = 10.0
    read: float | None = 300.0
    stream_read: float | None = None
    write: float | None = 60.0
    pool: float | None = 10.0
    card: float | None = 30.0

    def for_call(self) -> httpx.Timeout:
        """The httpx timeout of a unary call."""
        return httpx.Timeout(
            connect=self.connect, read=self.read, write=self.write, pool=self.pool
        )

    def for_stream(self) -> httpx.Timeout:
        """The httpx timeout of a streaming call."""
        return httpx.Timeout(
            connect=self.connect,
            read=self.stream_read,
            write=self.write,
            pool=self.pool,
        )

    def for_card(self) -> httpx.Timeout:
        """The httpx timeout of an agent-card fetch."""
        return httpx.Timeout(
            connect=self.connect, read=self.card, write=self.write, pool=self.pool
        )


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """How a :class:`~accord.client.Client` picks an interface and talks to it.

    Attributes:
        preferred_bindings: the bindings the client may use, most preferred first,
            e.g. ``("HTTP+JSON",)`` to pin REST. Empty (default): every binding the
            client supports, in the card's order (spec §8.3.2).
        timeouts: per-phase timeouts.
        headers: extra headers sent with every request, e.g. ``Authorization``
            (spec §7.4: credentials travel in HTTP headers).
        card_max_age: seconds a fetched agent card is reused when its response
            carries no caching headers (spec §8.6 allows a local default TTL).
        ca_bundle: a PEM file of the CA certificates to trust instead of the
            default roots, for agents (and token endpoints) behind a private CA.
            Applies to the httpx client the :class:`~accord.client.Client` creates.
        transports: bindings beyond the built-in two, by ``protocolBinding`` name:
            a factory ``(interface URL, TransportOptions) -> Transport`` each. An
            interface of such a binding becomes usable, in the card's order;
            ``accord.grpc.GRPC_TRANSPORTS`` adds gRPC.
        rate_limit_retries: how many times a call the agent refused for the
            caller's rate limit (RateLimitedError, HTTP 429) is sent again after the
            wait it asked for (``Retry-After``); 0 raises at once. Streams are not
            retried.
        rate_limit_max_wait: the longest such wait (seconds) the client sits out;
            a longer one raises the RateLimitedError at once.
        hooks: told of every call and adding headers to it
            (:mod:`accord.client.hooks`), e.g. ``accord.otel.ClientTracing()`` for
            a client span per call and W3C trace context on the wire.
        audit: where to record every call in the caller's audit trail
            (:mod:`accord.client.audit`): a task store, or a
            :class:`~accord.client.audit.JsonLinesAudit` file; None records nothing.
    """

    preferred_bindings: tuple[str, ...] = ()
    timeouts: ClientTimeouts = field(default_factory=ClientTimeouts)
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    card_max_age: float = 300.0
    ca_bundle: str | os.PathLike[str] | None = None
    transports: Mapping[str, TransportFactory] = field(default_factory=dict, hash=False)
    rate_limit_retries: int = 2
    rate_limit_max_wait: float = 30.0
    hooks: tuple[CallHook, ...] = field(default=(), hash=False)
    audit: AuditSink | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "transports",
            MappingProxyType({k.upper(): v for k, v in self.transports.items()}),
        )
        # A private read-only copy, so a caller mutating its dict later changes nothing.
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        if isinstance(self.preferred_bindings, str):
            raise TypeError("preferred_bindings is a tuple of binding names, not a str")
        object.__setattr__(self, "preferred_bindings", tuple(self.preferred_bindings))
        object.__setattr__(self, "hooks", tuple(self.hooks))
        if self.card_max_age < 0:
            raise ValueError("card_max_age cannot be negative")
        if self.rate_limit_retries < 0 or self.rate_limit_max_wait < 0:
            raise ValueError("rate_limit_retries and rate_limit_max_wait are >= 0")

    @property
    def bindings(self) -> tuple[str, ...]:
        """Every binding this configuration can speak: the built-in two, then
        those of :attr:`transports`."""
        return BINDINGS + tuple(b for b in self.transports if b not in BINDINGS)
