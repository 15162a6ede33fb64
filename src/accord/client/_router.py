"""Routes to one agent, and the fallback between them (spec §5.2, §8.3.2, §10).

A :class:`Router` holds the usable interfaces of an agent, best first, each with its
transport. Every request starts at the current route; when that route cannot be
*connected to* (:class:`~accord.errors.ConnectError`) the same request goes to the next
one, and the first route that works becomes the current one. Other failures never fall
back: the request may have reached the agent, and resending a ``SendMessage`` could run
it twice. A stream falls back only before its first event, for the same reason.

Each route copies its interface's ``tenant`` into the request message (spec §10 MUST:
verbatim, and omitted when the interface has none).

Call hooks (:mod:`accord.client.hooks`) see each attempt on a route: its headers are
current while the request is sent, and it is told how the attempt ended.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord.errors import ConnectError
from accord.types import StreamResponse, replace

from .card import speaks
from .config import JSONRPC
from .credentials import http_client
from .hooks import sending
from .transports.base import TransportOptions
from .transports.jsonrpc import JsonRpcTransport
from .transports.rest import RestTransport

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Mapping

    import httpx

    from accord.protocol.operations import Operation
    from accord.types import AgentInterface

    from .config import ClientConfig
    from .credentials import SelectedCredentials
    from .hooks import CallHook, CallObservation
    from .transports.base import Transport

__all__ = ["Route", "Router"]

logger = logging.getLogger(__name__)

Event = tuple[StreamResponse, str | None]


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach the agent: an interface (if known) and its transport."""

    interface: AgentInterface | None
    transport: Transport

    def prepare(self, params: Any) -> Any:
        """``params`` with this interface's tenant (spec §10)."""
        tenant = self.interface.tenant if self.interface is not None else ""
        return replace(params, tenant=tenant) if tenant else params

    def observe(
        self, hooks: tuple[CallHook, ...], operation: Operation
    ) -> tuple[list[CallObservation], dict[str, str]]:
        """Start ``hooks`` on a call of ``operation`` here: their observations and
        the headers they add."""
        interface = self.interface  # hooks come with a config, so with an interface
        binding, url = (
            (interface.protocol_binding, interface.url) if interface else ("", "")
        )
        observations = [hook.start(operation, binding, url) for hook in hooks]
        headers: dict[str, str] = {}
        for observation in observations:
            headers.update(observation.headers)
        return observations, headers


def _ended(observations: list[CallObservation], error: BaseException | None) -> None:
    for observation in observations:
        observation.end(error)


@asynccontextmanager
async def _closing(events: AsyncIterator[Event]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


class Router:
    """The routes of one agent, with connection fallback between them."""

    def __init__(
        self,
        routes: list[Route],
        *,
        owned_http: httpx.AsyncClient | None = None,
        hooks: tuple[CallHook, ...] = (),
    ) -> None:
        if not routes:
            raise ValueError("a Router needs at least one route")
        self.routes = routes
        self.hooks = hooks
        self.owned_http = owned_http
        self.current = 0
        self.closed = False
        #: The extra headers every request carries (the audit trail reads
        #: ``traceparent`` there).
        self.headers: Mapping[str, str] = {}

    @classmethod
    def for_interfaces(
        cls,
        interfaces: tuple[AgentInterface, ...],
        config: ClientConfig,
        http: httpx.AsyncClient | None,
        headers: Mapping[str, str] | None,
        credentials: SelectedCredentials | None = None,
    ) -> Router:
        """Routes over JSON-RPC / HTTP+JSON transports sharing one httpx client,
        and over the bindings of ``config.transports``.

        ``credentials`` go on every request of every transport; the httpx client
        created when ``http`` is ``None`` carries their client certificate, if any.
        """
        certificate = credentials.certificate if credentials is not None else None
        owned = http_client(config, certificate) if http is None else None
        client = http if http is not None else owned
        assert client is not None
        auth = credentials.auth(client) if credentials is not None else None
        merged = {**config.headers, **(headers or {})}
        routes: list[Route] = []
        for interface in interfaces:
            binding = interface.protocol_binding.upper()
            transport: Transport
            factory = config.transports.get(binding)
            if factory is not None:
                transport = factory(
                    interface.url,
                    TransportOptions(
                        timeouts=config.timeouts,
                        headers=merged,
                        auth=auth,
                        http=client,
                        certificate=certificate,
                        ca_bundle=config.ca_bundle,
                        version=speaks(interface),
                    ),
                )
            elif binding == JSONRPC:
                transport = JsonRpcTransport(
                    interface.url,
                    client,
                    timeouts=config.timeouts,
                    headers=merged,
                    auth=auth,
                    version=speaks(interface),
                )
            else:
                transport = RestTransport(
                    interface.url,
                    client,
                    timeouts=config.timeouts,
                    headers=merged,
                    auth=auth,
                    version=speaks(interface),
                )
            routes.append(Route(interface, transport))
        router = cls(routes, owned_http=owned, hooks=config.hooks)
        router.headers = merged
        return router

    @property
    def interface(self) -> AgentInterface | None:
        """The interface of the current route."""
        return self.routes[self.current].interface

    async def aclose(self) -> None:
        """Close every transport, then the httpx client the router created."""
        if self.closed:
            return
        self.closed = True
        try:
            for route in self.routes:
                await route.transport.aclose()
        finally:
            if self.owned_http is not None:
                await self.owned_http.aclose()

    def _order(self) -> list[int]:
        if self.closed:
            raise RuntimeError("the client is closed")
        n = len(self.routes)
        return [(self.current + k) % n for k in range(n)]

    @staticmethod
    def _unreachable(failures: list[ConnectError]) -> ConnectError:
        if len(failures) == 1:
            return failures[0]
        reasons = "; ".join(str(f) for f in failures)
        error = ConnectError(
            f"Cannot connect to any of {len(failures)} interfaces: {reasons}"
        )
        error.__cause__ = failures[-1]
        return error

    async def call(
        self, operation: Operation, params: Any, *, sent: dict[str, str] | None = None
    ) -> Any:
        """Run a unary operation on the first route that can be connected to;
        ``sent`` receives the headers the call hooks added (the audit trail's
        ``traceparent``)."""
        failures: list[ConnectError] = []
        for index in self._order():
            route = self.routes[index]
            try:
                if self.hooks:
                    result = await self._observed(route, operation, params, sent)
                else:
                    result = await route.transport.call(
                        operation, route.prepare(params)
                    )
            except ConnectError as exc:
                failures.append(exc)
                logger.warning("%s; trying the next interface", exc)
                continue
            self.current = index
            return result
        raise self._unreachable(failures)

    async def _observed(
        self,
        route: Route,
        operation: Operation,
        params: Any,
        sent: dict[str, str] | None,
    ) -> Any:
        observations, headers = route.observe(self.hooks, operation)
        if sent is not None:
            sent.update(headers)
        try:
            with sending(headers):
                result = await route.transport.call(operation, route.prepare(params))
        except BaseException as exc:
            _ended(observations, exc)
            raise
        _ended(observations, None)
        return result

    async def stream(
        self,
        operation: Operation,
        params: Any,
        last_event_id: str | None,
        *,
        sent: dict[str, str] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Run a streaming operation on the first route that can be connected to
        (``sent``: as for :meth:`call`)."""
        failures: list[ConnectError] = []
        for index in self._order():
            route = self.routes[index]
            observations, headers = (
                route.observe(self.hooks, operation) if self.hooks else ([], {})
            )
            if sent is not None:
                sent.update(headers)
            error: BaseException | None = None
            events = route.transport.stream(
                operation, route.prepare(params), last_event_id=last_event_id
            )
            try:
                async with _closing(events):
                    try:
                        with sending(headers):  # the request goes out here
                            first = await anext(events)
                    except ConnectError as exc:
                        error = exc
                        failures.append(exc)
                        logger.warning("%s; trying the next interface", exc)
                        continue
                    except StopAsyncIteration:
                        self.current = index
                        return
                    self.current = index
                    yield first
                    async for event in events:
                        yield event
                    return
            except BaseException as exc:
                # GeneratorExit: the consumer stopped reading, not a failure.
                error = None if isinstance(exc, GeneratorExit) else exc
                raise
            finally:
                _ended(observations, error)
        raise self._unreachable(failures)
