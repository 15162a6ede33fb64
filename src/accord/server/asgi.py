"""The ASGI application: routes, body limits, version negotiation, SSE, lifespan.

Routes (relative to where the app is mounted):

* ``GET /.well-known/agent-card.json`` (and ``/.well-known/agent-card``,
  ``/.well-known/agent.json``): the card, public, with permissive CORS;
* ``GET /.well-known/jwks.json``: the public key of ``card_signer``, when given;
* ``POST /``: JSON-RPC 2.0 (spec §9);
* everything else: HTTP+JSON, routed from the operations table (spec §11).

The public routes, the card's base URL (``public_url``, trusted proxies) and CORS are
:class:`~accord.server.front.PublicFront`'s; endpoint answers carry ``Cache-Control:
no-store`` and CORS headers only under a configured :class:`~accord.server.cors.CorsPolicy`.

Each request goes through its binding's pipeline (:mod:`accord.server.pipelines`): body
limit, authentication, decoding, version negotiation, then the
:class:`~accord.server.engine.Engine`, which owns everything behind the front end
(store, task events, executions, handler, authenticator, interceptors). The card
itself stays public; every operation of both bindings, streams included, is
authenticated before anything is read from the store or a stream starts.

Streaming answers are SSE: each event carries ``id:`` = its per-task sequence number; a
comment is sent as a keep-alive when the stream is idle; one task sends frames while
another watches for ``http.disconnect`` and stops the stream (never the task).

An app built from an agent builds its own engine and runs it in the ASGI lifespan, or
in :meth:`A2AApp.running` when the app is mounted inside a framework whose lifespan you
control. An app built on a shared engine (:meth:`A2AApp.from_engine`) leaves the
engine's lifetime to its owner (``async with engine.running(): ...``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from .engine import Engine
from .front import PublicFront
from .leases import LEASE_SECONDS
from .limits import ServerLimits
from .pipelines import ClientGone, HttpBindings
from .proxy import DEFAULT_FORWARDED_ALLOW_IPS
from .runtime import SHUTDOWN_GRACE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accord.security import JWK
    from accord.stores import TaskStore

    from .agent import Agent
    from .auth.config import AuthConfig, Authenticator
    from .auth.verifier import Verifier
    from .cors import CorsPolicy
    from .handler import RequestHandler
    from .interceptors import Interceptor
    from .push import PushSettings

__all__ = ["A2AApp"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class A2AApp:
    """An ASGI application serving one agent over JSON-RPC and HTTP+JSON.

    Example::

        app = A2AApp(agent, store=SQLiteTaskStore("tasks.db"))
        # uvicorn module:app   — or mount it: Mount("/agents/echo", app)

    The app is a front end over an :class:`~accord.server.engine.Engine`. Given an
    agent it builds its own from ``store``, ``auth``, ``limits``, ``shutdown_grace``,
    ``expose_errors`` and ``interceptors`` (see the Engine for each), and starts it in
    its lifespan. Given ``engine=`` (or through :meth:`from_engine`) it shares that
    engine with other front ends, and the engine's owner starts it.

    ``auth`` says how to check the security schemes the agent declares: an
    :class:`~accord.server.auth.AuthConfig`, or just ``{scheme name: verifier}``.
    The agent's ``security_requirements`` (the card's) are enforced on every
    operation; the app refuses to be built when a required scheme has no verifier.

    ``card_signer`` (a private :class:`~accord.security.JWK`, ``security`` extra)
    signs the served card (spec §8.4) and publishes its public key at
    ``/.well-known/jwks.json``. A signed card is made only for ``public_url`` or, when
    none is set, the address the server is bound to, never for a host a caller names.
    An agent that declares push notifications signs them with the same key, and its
    card says so (:mod:`accord.server.push`).

    ``public_url`` (``https://agents.example.com/echo``) fixes the base URL the card
    advertises; without it the URL follows the request's ``Host`` and, from a peer in
    ``forwarded_allow_ips`` (IPs / CIDRs, a comma list, or ``*``; loopback by
    default), ``X-Forwarded-Host`` / ``X-Forwarded-Proto``, each only when valid
    (:mod:`accord.server.proxy`). ``cors`` (a :class:`~accord.server.cors.CorsPolicy`)
    lets pages of other origins call the endpoints; without it only the card and JWK
    Set carry CORS headers.

    ``shutdown_grace``: seconds running tasks may finish once shutdown begins
    (:meth:`begin_shutdown`; default 5); ``expose_errors``: show partners the text of
    an agent's exception (development only; by default they get an error id, the log
    the traceback). See :class:`~accord.server.runtime.Runtime`. ``interceptors`` see
    every operation (:mod:`accord.server.interceptors`). ``lease_seconds``: how soon
    another instance sharing the store takes over the tasks of one that stopped
    (default 10; :mod:`accord.server.leases`). ``push``: keys and egress policy of push
    notifications, for an agent that declares them (:mod:`accord.server.push`).

    Raises:
        AuthConfigError: ``auth`` does not fit the agent's declared security.
        TypeError: neither an agent nor an engine, or engine settings given with an
            engine (configure them on the engine).
    """

    def __init__(
        self,
        agent: Agent | None = None,
        *,
        engine: Engine | None = None,
        store: TaskStore | None = None,
        limits: ServerLimits | None = None,
        auth: AuthConfig | Mapping[str, Verifier] | None = None,
        card_signer: JWK | None = None,
        public_url: str | None = None,
        forwarded_allow_ips: str | Iterable[str] = DEFAULT_FORWARDED_ALLOW_IPS,
        cors: CorsPolicy | None = None,
        shutdown_grace: float | None = None,
        expose_errors: bool | None = None,
        interceptors: Iterable[Interceptor] | None = None,
        lease_seconds: float | None = None,
        push: PushSettings | None = None,
    ) -> None:
        if engine is None:
            if agent is None:
                raise TypeError("A2AApp needs an agent, or engine=Engine(agent, ...)")
            engine = Engine(
                agent,
                store=store,
                auth=auth,
                limits=limits if limits is not None else ServerLimits(),
                shutdown_grace=SHUTDOWN_GRACE
                if shutdown_grace is None
                else shutdown_grace,
                expose_errors=bool(expose_errors),
                interceptors=interceptors or (),
                lease_seconds=LEASE_SECONDS if lease_seconds is None else lease_seconds,
                push=push,
            )
            self._owns_engine = True
        else:
            given = {
                "agent": agent is not None and agent is not engine.agent,
                "store": store is not None,
                "auth": auth is not None,
                "shutdown_grace": shutdown_grace is not None,
                "expose_errors": expose_errors is not None,
                "interceptors": interceptors is not None,
                "lease_seconds": lease_seconds is not None,
                "push": push is not None,
            }
            if any(given.values()):
                names = ", ".join(name for name, set_ in given.items() if set_)
                raise TypeError(
                    f"A2AApp(engine=...) takes its {names} from the engine: pass them "
                    "to Engine(...) instead"
                )
            self._owns_engine = False
        self.engine = engine
        self.limits = limits if limits is not None else engine.limits
        self._front = PublicFront(
            engine.agent,
            card_max_age=self.limits.card_max_age,
            signer=card_signer,
            public_url=public_url,
            forwarded_allow_ips=forwarded_allow_ips,
            cors=cors,
            extra_interfaces=lambda: engine.advertised,
            extensions=lambda: engine.card_extensions,
        )
        if card_signer is not None:
            engine.push_signer = card_signer
        self._bindings = HttpBindings(self)
        self._front_ends: list[
            Callable[[Engine], AbstractAsyncContextManager[object]]
        ] = []
        self._failure: Exception | None = None

    @property
    def failure(self) -> Exception | None:
        """What stopped the engine while the lifespan was serving, or None.

        A background task of the engine (push delivery, the work queue, an
        interceptor's own work) that fails stops the engine: from then on every
        request is refused (503) while the server runs on. ``accord serve`` watches
        this and exits with an error, so that a supervisor restarts the instance.
        """
        return self._failure

    @classmethod
    def from_engine(cls, engine: Engine, **front: Any) -> A2AApp:
        """An ASGI front end over a shared ``engine`` (started by its owner).

        ``front`` takes the front end's own settings: ``limits`` (body size,
        keep-alive, card max-age), ``card_signer``, ``public_url``,
        ``forwarded_allow_ips``, ``cors``.
        """
        return cls(engine=engine, **front)

    @property
    def agent(self) -> Agent:
        """The agent served."""
        return self.engine.agent

    @property
    def store(self) -> TaskStore:
        """The engine's task store."""
        return self.engine.store

    @property
    def auth(self) -> Authenticator:
        """The engine's authenticator."""
        return self.engine.auth

    @property
    def shutdown_grace(self) -> float:
        """Seconds running tasks may finish once shutdown begins (the engine's).

        Raises:
            ValueError: (on setting) a negative value.
        """
        return self.engine.shutdown_grace

    @shutdown_grace.setter
    def shutdown_grace(self, grace: float) -> None:
        self.engine.shutdown_grace = grace

    @property
    def expose_errors(self) -> bool:
        """Whether partners see the text of an agent's exception (the engine's)."""
        return self.engine.expose_errors

    @property
    def card_signer(self) -> JWK | None:
        """The private key the served card is signed with (spec §8.4), if any.

        Set it before serving (``accord serve --sign-key`` does); setting it drops
        the cards encoded so far.

        Raises:
            ValueError: (on setting) the key is not a private key.
        """
        return self._front.signer

    @card_signer.setter
    def card_signer(self, signer: JWK | None) -> None:
        self._front.signer = signer
        self.engine.push_signer = signer

    @property
    def public_url(self) -> str | None:
        """The base URL the card advertises (None: derived from requests).

        Raises:
            ValueError: (on setting) not an ``http(s)://host[:port][/path]`` URL.
        """
        return self._front.public_url

    @public_url.setter
    def public_url(self, url: str | None) -> None:
        self._front.public_url = url

    @property
    def forwarded_allow_ips(self) -> tuple[str, ...]:
        """Peers whose ``X-Forwarded-*`` headers are believed (set: str or iterable).

        Raises:
            ValueError: (on setting) an entry is not an address, a network or ``*``.
        """
        return self._front.forwarded_allow_ips

    @forwarded_allow_ips.setter
    def forwarded_allow_ips(self, entries: str | Iterable[str]) -> None:
        self._front.forwarded_allow_ips = entries

    @property
    def cors(self) -> CorsPolicy | None:
        """Which other origins may call the endpoints from a browser (None: none)."""
        return self._front.cors

    @cors.setter
    def cors(self, policy: CorsPolicy | None) -> None:
        self._front.cors = policy

    @property
    def handler(self) -> RequestHandler:
        """The running request handler (the engine's).

        Raises:
            RuntimeError: when the engine is not running (lifespan not started).
        """
        return self.engine.handler

    @asynccontextmanager
    async def running(self) -> AsyncIterator[A2AApp]:
        """Run the app's engine; requests are served while inside.

        An app over a shared engine (:meth:`from_engine`) does not start it: the
        engine's owner does, around every front end.
        """
        async with AsyncExitStack() as stack:
            if self._owns_engine:
                await stack.enter_async_context(self.engine.running())
            for front_end in self._front_ends:
                await stack.enter_async_context(front_end(self.engine))
            yield self

    def add_front_end(
        self, front_end: Callable[[Engine], AbstractAsyncContextManager[object]]
    ) -> None:
        """Run another front end over this app's engine for the app's lifetime.

        ``front_end(engine)`` is entered once the engine runs (in the lifespan, or
        :meth:`running`) and left before it stops, e.g. the gRPC server::

            app.add_front_end(lambda engine: GrpcServer(engine, port=50051).serving())
        """
        self._front_ends.append(front_end)

    def begin_shutdown(self) -> None:
        """Refuse new work (503), let tasks finish, then interrupt them (FAILED).

        Call it from the event loop when the server starts shutting down, before it
        waits for open connections (uvicorn does so before the lifespan ends; ``accord
        serve`` calls this first), so streams and blocking calls get the final state.
        See :meth:`Runtime.begin_shutdown <accord.server.runtime.Runtime.begin_shutdown>`.
        """
        self.engine.begin_shutdown()

    def close_streams(self) -> int:
        """End every open SSE stream (subscriptions and streaming sends) now.

        Running tasks are not affected, so their final state never reaches these
        streams: prefer :meth:`begin_shutdown`. Safe to call from the event loop.
        """
        return self.engine.close_streams()

    # --- ASGI entry -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._http(scope, receive, send)
            except ClientGone:
                logger.debug("client disconnected before sending its whole body")
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        started = False
        try:
            async with self.running():
                started = True
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
        except Exception as error:
            exc = _root(error)
            if not started:
                logger.exception("A2A app failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if message["type"] != "lifespan.shutdown":
                # The engine stopped on its own while serving. The ASGI lifespan has
                # no message for that: remember it, answer 503, wait for shutdown.
                logger.exception(
                    "the A2A engine stopped while serving: every request is refused "
                    "(503) until the server is restarted"
                )
                self._failure = exc
                message = await receive()
            else:
                logger.exception("A2A app failed to stop")
            await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    def _http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: it only routes, and returns the coroutine that serves the
        # request for __call__ to await (one frame fewer per request).
        # Route on the raw (still percent-encoded) path: an id or tenant may contain an
        # encoded "/" that must not split a segment (the REST binding decodes per segment).
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if "?" in path:
            path = path.split("?", 1)[0]
        method = scope["method"]
        endpoint = self._front.endpoint(scope, path, method)
        if endpoint is None:  # the card, the JWK Set or a CORS preflight
            return self._front.serve(scope, path, method, send)
        bindings = self._bindings
        return bindings.serve(
            bindings.exchange(scope, method, path), scope, receive, send, endpoint
        )

    def base_url(self, scope: Scope) -> str:
        """Absolute URL of this app for this request (see :mod:`.proxy`)."""
        return self._front.base_url(scope)


def _root(exc: Exception) -> Exception:
    """``exc`` without the task groups it went through (each wraps what failed in an
    exception group of one), so that a message names the failure itself."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
