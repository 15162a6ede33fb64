"""The Engine: everything that serves one agent, behind any number of front ends.

An :class:`Engine` owns the task store, the task events
(:class:`~accord.server.events.TaskEvents`), the executions (the
:class:`~accord.server.runtime.Runtime` and its task group), the request handler, the
authenticator and the interceptors, with one async lifetime::

    engine = Engine(agent, store=SQLiteTaskStore("tasks.db"))
    async with engine.running():
        ...  # serve requests: A2AApp.from_engine(engine), and later a gRPC server

Front ends are thin: they read a request off their transport, authenticate it with
:meth:`Engine.authenticate`, decode it with their binding, call :meth:`Engine.dispatch`
and encode the answer. :class:`~accord.server.A2AApp` (ASGI) builds its own engine when
given an agent, and then starts it in its lifespan as before.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    nullcontext,
)
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import UnavailableError
from accord.stores import AuditStore, MemoryTaskStore, TaskStore

from .audit import AuditInterceptor
from .auth.config import AuthConfig, Authenticator
from .events import LocalTaskEvents, TaskEvents
from .handler import ExtendedCardSource, RequestHandler
from .interceptors import CallInfo, Interceptor, PushOutcome, intercept, overrides
from .leases import LEASE_SECONDS
from .limits import ServerLimits
from .push import PushSettings, push_configs
from .push.delivery import PushDeliverer
from .runtime import NOT_STARTED, SHUTDOWN_GRACE, STOPPED, Runtime

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

    from accord.protocol import Operation
    from accord.security import JWK
    from accord.types import AgentExtension, AgentInterface

    from .agent import Agent
    from .auth.principal import Principal
    from .auth.verifier import RequestInfo, Verifier
    from .context import CallContext
    from .running import RunningCounts

__all__ = ["Engine", "default_events"]

logger = logging.getLogger(__name__)


class Engine:
    """One agent's store, events, executions, handler and authentication.

    Args:
        agent: the agent served.
        store: where tasks are kept (default: a new :class:`~accord.stores.MemoryTaskStore`).
        events: how subscribers learn about new task events. By default
            :class:`~accord.server.pg_events.PostgresTaskEvents` on the store's
            database when the store is a
            :class:`~accord.stores.postgres.PostgresTaskStore` (shared by instances),
            else the in-process :class:`~accord.server.events.LocalTaskEvents`. An
            implementation that is an async context manager runs for the engine's
            lifetime (entered after the store opens, left before it closes).
        auth: how to check the security schemes the agent declares: an
            :class:`~accord.server.auth.AuthConfig`, or ``{scheme name: verifier}``.
        limits: :attr:`ServerLimits.max_running_tasks` and
            :attr:`ServerLimits.max_queued_tasks` apply here (front ends use the
            rest).
        shutdown_grace: seconds running tasks may finish once shutdown begins.
        expose_errors: show partners the text of an agent's exception (development).
        interceptors: see :mod:`accord.server.interceptors`; run in this order,
            after an :class:`~accord.server.audit.AuditInterceptor` when the store
            audits (made with ``audit=True``), so that refusals are audited too.
        lease_seconds: how long a running task's lease lasts without a heartbeat, so
            how soon another instance sharing the store takes over the tasks of one
            that stopped (:mod:`accord.server.leases`).
        push: how push notifications are kept and delivered when the agent declares
            them (``Agent(push_notifications=True)``): the keys that seal configs at
            rest (required with a durable store) and the webhook egress policy.

    Raises:
        AuthConfigError: ``auth`` does not fit the agent's declared security.
        ValueError: ``shutdown_grace`` is negative or ``lease_seconds`` not positive;
            the agent declares push notifications and a durable store has no key.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        store: TaskStore | None = None,
        events: TaskEvents | None = None,
        auth: AuthConfig | Mapping[str, Verifier] | None = None,
        limits: ServerLimits = ServerLimits(),
        shutdown_grace: float = SHUTDOWN_GRACE,
        expose_errors: bool = False,
        interceptors: Iterable[Interceptor] = (),
        lease_seconds: float = LEASE_SECONDS,
        push: PushSettings | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be > 0 (got {lease_seconds})")
        self.agent = agent
        self.lease_seconds = lease_seconds
        self.store: TaskStore = store if store is not None else MemoryTaskStore()
        self.events: TaskEvents = (
            events if events is not None else default_events(self.store)
        )
        self.limits = limits
        self.shutdown_grace = shutdown_grace
        self.expose_errors = expose_errors
        self._extensions: tuple[tuple[Interceptor, ...], tuple[AgentExtension, ...]]
        self._extensions = ((), ())
        #: Records every operation first (the store audits): see :attr:`interceptors`.
        self._audit = (
            AuditInterceptor(self.store)
            if isinstance(self.store, AuditStore) and self.store.audit_states
            else None
        )
        self.interceptors = tuple(interceptors)
        self.push = (
            push_configs(self.store, push or PushSettings())
            if agent.push_notifications
            else None
        )
        #: The private key push notifications are signed with (a JWS in each
        #: request, :mod:`accord.security.push`), read on start; the ASGI app sets
        #: its card signer here, whose JWK Set it publishes.
        self.push_signer: JWK | None = None
        config = (
            auth
            if isinstance(auth, AuthConfig)
            else AuthConfig(verifiers=dict(auth or {}))
        )
        self.auth = Authenticator(
            agent.security_schemes,
            agent.security_requirements,
            config,
            realm=agent.name,
            skill_requirements=[
                r for s in agent.skills for r in s.security_requirements
            ],
        )
        if agent.declare_extended_card and not any(
            name in self.auth.verifiers for name in agent.security_schemes
        ):
            logger.warning(
                "agent %r declares an extended card but no security scheme with a "
                "verifier: GetExtendedAgentCard will always answer 401 (spec §13.3 "
                "requires authentication)",
                agent.name,
            )
        self._handler: RequestHandler | None = None
        self._advertised: tuple[AgentInterface, ...] = ()
        self._entered = False
        self._stopped = False

    @property
    def interceptors(self) -> tuple[Interceptor, ...]:
        """The interceptors, in order (read on each call).

        When the store audits, the engine's
        :class:`~accord.server.audit.AuditInterceptor` is always first, also after
        this is set (``accord serve --rate-limit`` puts its limiter in front of the
        others): it records the calls the others refuse.
        """
        return self._interceptors

    @interceptors.setter
    def interceptors(self, interceptors: Iterable[Interceptor]) -> None:
        audit = self._audit
        rest = tuple(i for i in interceptors if i is not audit)
        self._interceptors = rest if audit is None else (audit, *rest)

    @property
    def shutdown_grace(self) -> float:
        """Seconds running tasks may finish once shutdown begins (read on start).

        Raises:
            ValueError: (on setting) a negative value.
        """
        return self._shutdown_grace

    @shutdown_grace.setter
    def shutdown_grace(self, grace: float) -> None:
        if grace < 0:
            raise ValueError(f"shutdown_grace must be >= 0 (got {grace})")
        self._shutdown_grace = grace

    @property
    def advertised(self) -> tuple[AgentInterface, ...]:
        """Interfaces other front ends serve, listed in the card after the HTTP ones.

        A front end that is not the ASGI app (the gRPC server) adds its interface
        while it listens (:meth:`advertise`), so the card names every binding that
        answers right now (spec §8.3.1).
        """
        return self._advertised

    def advertise(self, interface: AgentInterface) -> None:
        """List ``interface`` in the card (see :attr:`advertised`)."""
        self._advertised = (*self._advertised, interface)

    def withdraw(self, interface: AgentInterface) -> None:
        """Stop listing ``interface`` in the card."""
        listed = list(self._advertised)
        if interface in listed:
            listed.remove(interface)
        self._advertised = tuple(listed)

    @property
    def audit(self) -> AuditInterceptor | None:
        """The interceptor recording every operation, when the store audits (set
        its ``keep_days`` for retention)."""
        return self._audit

    @property
    def card_extensions(self) -> tuple[AgentExtension, ...]:
        """Extensions the interceptors declare, added to the public card's own."""
        interceptors = self.interceptors
        of, extensions = self._extensions
        if of is not interceptors:
            extensions = tuple(
                extension
                for interceptor in interceptors
                for extension in interceptor.card_extensions()
            )
            self._extensions = (interceptors, extensions)
        return extensions

    def activated(self, requested: str) -> str:
        """Of the extensions a call lists (its ``A2A-Extensions`` value), those this
        agent's card declares, comma-joined in the caller's order: what the answer
        echoes as active (spec §4.6; unknown ones are ignored)."""
        declared = {e.uri for e in self.agent.extensions}
        declared.update(e.uri for e in self.card_extensions)
        listed = dict.fromkeys(u.strip() for u in requested.split(","))
        return ", ".join(u for u in listed if u in declared)

    def redeclare(self) -> None:
        """Read the interceptors' card extensions again: what one declares changed
        (observed figures it publishes), so the card is rebuilt on its next fetch."""
        self._extensions = ((), ())

    @property
    def running_tasks(self) -> RunningCounts:
        """Executions running in this process, per caller and tenant.

        Raises:
            RuntimeError: when the engine is not running.
        """
        return self.handler.runtime.running_counts

    @property
    def is_running(self) -> bool:
        """True while inside :meth:`running` (requests are served)."""
        return self._handler is not None

    @property
    def handler(self) -> RequestHandler:
        """The running request handler.

        Raises:
            RuntimeError: when the engine is not running.
        """
        if self._handler is None:
            raise RuntimeError(
                "the A2A engine is not running: start its lifespan or use running()"
            )
        return self._handler

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Engine]:
        """Open the store and the runtime; requests are served while inside.

        Raises:
            RuntimeError: the engine is already running (its front ends share one
                lifetime: start it once, around all of them).
        """
        if self._entered:
            raise RuntimeError(
                "this engine is already running: enter running() once, around every "
                "front end that shares it"
            )
        self._entered = True
        try:
            runtime = Runtime(
                self.agent,
                self.store,
                events=self.events,
                max_running=self.limits.max_running_tasks,
                max_queued=self.limits.max_queued_tasks,
                shutdown_grace=self.shutdown_grace,
                expose_errors=self.expose_errors,
                lease_seconds=self.lease_seconds,
                push=self.push,
                execution_hooks=[
                    i.executing for i in self.interceptors if overrides(i, "executing")
                ],
            )
            events: AbstractAsyncContextManager[object] = (
                self.events
                if isinstance(self.events, AbstractAsyncContextManager)
                else nullcontext()
            )
            async with (
                self.store,
                events,
                self._delivering(runtime),
                runtime,
                AsyncExitStack() as serving,
            ):
                self._handler = RequestHandler(
                    runtime,
                    extended_card=self._extended_card_source(),
                    access=self.auth.policy,
                    advertised=lambda: self._advertised,
                )
                try:
                    for interceptor in self.interceptors:
                        await serving.enter_async_context(interceptor.serving(self))
                    yield self
                finally:
                    self._handler = None
                    self._stopped = True
                    with anyio.CancelScope(shield=True):
                        await self.auth.aclose()
        finally:
            self._entered = False

    @asynccontextmanager
    async def _delivering(self, runtime: Runtime) -> AsyncIterator[None]:
        """Deliver push notifications while inside (when the agent declares them)."""
        if self.push is None:
            yield
            return
        deliverer = PushDeliverer(
            self.push,
            runtime.store,
            holder=runtime.leases.holder,
            signer=self.push_signer,
            observe=self._push_observer(),
        )
        runtime.task_event_written = deliverer.nudge
        async with anyio.create_task_group() as tg:
            tg.start_soon(deliverer.run)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    def _push_observer(self) -> Callable[[str, PushOutcome], None] | None:
        """What tells the interceptors that watch push deliveries of each attempt
        (None when none does)."""
        watching = [i for i in self.interceptors if overrides(i, "push_delivery")]
        if not watching:
            return None

        def observe(task_id: str, outcome: PushOutcome) -> None:
            for interceptor in watching:
                try:
                    interceptor.push_delivery(task_id, outcome)
                except Exception:
                    logger.exception("interceptor %r failed on a push", interceptor)

        return observe

    def _extended_card_source(self) -> ExtendedCardSource | None:
        extended = self.agent.extended_card
        if extended is None or callable(extended):
            return extended
        card = extended
        return lambda principal: card

    def begin_shutdown(self) -> None:
        """Refuse new work (503), let tasks finish, then interrupt them (FAILED).

        See :meth:`Runtime.begin_shutdown <accord.server.runtime.Runtime.begin_shutdown>`.
        """
        handler = self._handler
        if handler is not None:
            handler.runtime.begin_shutdown()

    def close_streams(self) -> int:
        """End every open stream now (running tasks are not affected); how many."""
        handler = self._handler
        return 0 if handler is None else handler.runtime.events.close_all()

    async def authenticate(self, request: RequestInfo) -> Principal | None:
        """The caller, per the card's requirements (401/403 raised before parsing)."""
        if not self.auth.required:
            return None
        return await self.auth.authenticate(request)

    def dispatch(
        self,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        *,
        binding: str,
        credentials: Callable[[], RequestInfo],
        last_event_id: str | None = None,
    ) -> Awaitable[Any]:
        """Run one decoded operation through the interceptors and the handler: await
        what this returns (the handler's own coroutine when there is nothing to do
        around it, one frame fewer per request).

        ``credentials`` gives the request's credentials when an operation needs an
        authentication the front end did not do (GetExtendedAgentCard, spec §13.3);
        ``last_event_id`` (SSE ``Last-Event-ID``) applies to SubscribeToTask.

        Raises:
            UnavailableError: the engine is not running (not started, or stopped).
        """
        handler = self._handler
        if handler is None:  # no lazy start: the runtime needs an owner (the lifespan)
            raise UnavailableError(STOPPED if self._stopped else NOT_STARTED)
        if self._interceptors or (
            operation.name == "GetExtendedAgentCard" and ctx.principal is None
        ):
            return self._dispatch(
                handler, operation, params, ctx, binding, credentials, last_event_id
            )
        return handler.dispatch(operation, params, ctx, last_event_id=last_event_id)

    async def _dispatch(
        self,
        handler: RequestHandler,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        binding: str,
        credentials: Callable[[], RequestInfo],
        last_event_id: str | None,
    ) -> Any:
        """:meth:`dispatch` with an authentication to do or interceptors to run."""
        started = time.monotonic()
        if operation.name == "GetExtendedAgentCard" and ctx.principal is None:
            # spec §13.3: always authenticated, with a scheme the public card declares
            # (also when ordinary operations are anonymous).
            handler.check_capability(operation)
            principal = await self.auth.authenticate_any(credentials())
            ctx = replace(ctx, owner=principal.id, principal=principal)
        interceptors = self._interceptors  # not the property: this runs per request
        if not interceptors:
            return await handler.dispatch(
                operation, params, ctx, last_event_id=last_event_id
            )
        return await intercept(
            interceptors,
            CallInfo(operation, params, ctx, binding, started),
            lambda request: handler.dispatch(
                operation, request, ctx, last_event_id=last_event_id
            ),
        )


def default_events(store: TaskStore) -> TaskEvents:
    """The task events an :class:`Engine` uses with ``store`` when given none.

    A :class:`~accord.stores.postgres.PostgresTaskStore` is shared by instances, so
    its subscribers must hear of the other instances' events:
    :class:`~accord.server.pg_events.PostgresTaskEvents` on the store's database. Any
    other store serves one process: :class:`~accord.server.events.LocalTaskEvents`.
    """
    # A PostgresTaskStore means its module is loaded; psycopg is imported only then.
    postgres = sys.modules.get("accord.stores.postgres")
    if postgres is not None and isinstance(store, postgres.PostgresTaskStore):
        from .pg_events import PostgresTaskEvents

        return PostgresTaskEvents(store.url)
    return LocalTaskEvents()
