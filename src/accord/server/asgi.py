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

Each request: read the body up to :attr:`ServerLimits.max_body_bytes` (else 413),
authenticate it against the card's security requirements (401 with
``WWW-Authenticate``, or 403; see :mod:`accord.server.auth`), decode with the binding,
negotiate ``A2A-Version`` (spec §3.6.2), authorize and run the handler, encode the
answer. The card itself stays public; every operation of both bindings, streams
included, is authenticated before anything is read from the store or a stream starts.

Streaming answers are SSE: each event carries ``id:`` = its per-task sequence number; a
comment is sent as a keep-alive when the stream is idle; one task sends frames while
another watches for ``http.disconnect`` and stops the stream (never the task).

The runtime (task group, store) lives in the ASGI lifespan, or in :meth:`A2AApp.running`
when the app is mounted inside a framework whose lifespan you control.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import anyio

from accord.bindings import jsonrpc, rest
from accord.bindings.media import check_content_type
from accord.errors import (
    InternalError,
    MethodNotFoundError,
    PayloadTooLargeError,
    ProtocolError,
    UnavailableError,
)
from accord.protocol import Operation, versioning
from accord.protocol.errors import spec_for
from accord.stores import MemoryTaskStore, TaskStore

from .auth.config import AuthConfig, Authenticator
from .auth.verifier import RequestInfo
from .context import CallContext
from .front import PublicFront
from .handler import ExtendedCardSource, RequestHandler
from .limits import ServerLimits
from .proxy import DEFAULT_FORWARDED_ALLOW_IPS
from .runtime import NOT_STARTED, SHUTDOWN_GRACE, STOPPED, Runtime
from .sse_response import send_event_stream
from .streams import HandlerStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accord.security import JWK

    from .agent import Agent
    from .auth.principal import Principal
    from .auth.verifier import Verifier
    from .cors import CorsPolicy

__all__ = ["A2AApp"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: HTTP statuses a JSON-RPC error keeps (the rest travel in a 200 response).
_TRANSPORT_STATUSES = frozenset({401, 403, 413, 503})
#: Seconds a client should wait before retrying after a 503 (at capacity).
RETRY_AFTER = b"1"


class _TooLarge(Exception):
    pass


class _ClientGone(BaseException):
    """The client went away before its body was read: nothing to answer, no error.

    A BaseException so the handlers' ``except Exception`` does not log it as a bug.
    """


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class A2AApp:
    """An ASGI application serving one agent over JSON-RPC and HTTP+JSON.

    Example::

        app = A2AApp(agent, store=SQLiteTaskStore("tasks.db"))
        # uvicorn module:app   — or mount it: Mount("/agents/echo", app)

    ``auth`` says how to check the security schemes the agent declares: an
    :class:`~accord.server.auth.AuthConfig`, or just ``{scheme name: verifier}``.
    The agent's ``security_requirements`` (the card's) are enforced on every
    operation; the app refuses to be built when a required scheme has no verifier.

    ``card_signer`` (a private :class:`~accord.security.JWK`, ``security`` extra)
    signs the served card (spec §8.4) and publishes its public key at
    ``/.well-known/jwks.json``. A signed card is made only for ``public_url`` or, when
    none is set, the address the server is bound to, never for a host a caller names.

    ``public_url`` (``https://agents.example.com/echo``) fixes the base URL the card
    advertises; without it the URL follows the request's ``Host`` and, from a peer in
    ``forwarded_allow_ips`` (IPs / CIDRs, a comma list, or ``*``; loopback by
    default), ``X-Forwarded-Host`` / ``X-Forwarded-Proto``, each only when valid
    (:mod:`accord.server.proxy`). ``cors`` (a :class:`~accord.server.cors.CorsPolicy`)
    lets pages of other origins call the endpoints; without it only the card and JWK
    Set carry CORS headers.

    ``shutdown_grace``: seconds running tasks may finish once shutdown begins
    (:meth:`begin_shutdown`); ``expose_errors``: show partners the text of an agent's
    exception (development only; by default they get an error id, the log the
    traceback). See :class:`~accord.server.runtime.Runtime`.

    Raises:
        AuthConfigError: ``auth`` does not fit the agent's declared security.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        store: TaskStore | None = None,
        limits: ServerLimits = ServerLimits(),
        auth: AuthConfig | Mapping[str, Verifier] | None = None,
        card_signer: JWK | None = None,
        public_url: str | None = None,
        forwarded_allow_ips: str | Iterable[str] = DEFAULT_FORWARDED_ALLOW_IPS,
        cors: CorsPolicy | None = None,
        shutdown_grace: float = SHUTDOWN_GRACE,
        expose_errors: bool = False,
    ) -> None:
        if shutdown_grace < 0:
            raise ValueError(f"shutdown_grace must be >= 0 (got {shutdown_grace})")
        self.agent = agent
        self.shutdown_grace, self.expose_errors = shutdown_grace, expose_errors
        self.store: TaskStore = store if store is not None else MemoryTaskStore()
        self.limits = limits
        self._front = PublicFront(
            agent,
            card_max_age=limits.card_max_age,
            signer=card_signer,
            public_url=public_url,
            forwarded_allow_ips=forwarded_allow_ips,
            cors=cors,
        )
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
        self._stopped = False

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
        """The running request handler.

        Raises:
            RuntimeError: when the app is not running (lifespan not started).
        """
        if self._handler is None:
            raise RuntimeError(
                "the A2A app is not running: start its lifespan or use running()"
            )
        return self._handler

    @asynccontextmanager
    async def running(self) -> AsyncIterator[A2AApp]:
        """Open the store and the runtime; requests are served while inside."""
        runtime = Runtime(
            self.agent,
            self.store,
            max_running=self.limits.max_running_tasks,
            shutdown_grace=self.shutdown_grace,
            expose_errors=self.expose_errors,
        )
        async with self.store, runtime:
            self._handler = RequestHandler(
                runtime,
                extended_card=self._extended_card_source(),
                access=self.auth.policy,
            )
            try:
                yield self
            finally:
                self._handler = None
                self._stopped = True
                with anyio.CancelScope(shield=True):
                    await self.auth.aclose()

    def _extended_card_source(self) -> ExtendedCardSource | None:
        extended = self.agent.extended_card
        if extended is None or callable(extended):
            return extended
        card = extended
        return lambda principal: card

    def begin_shutdown(self) -> None:
        """Refuse new work (503), let tasks finish, then interrupt them (FAILED).

        Call it from the event loop when the server starts shutting down, before it
        waits for open connections (uvicorn does so before the lifespan ends; ``accord
        serve`` calls this first), so streams and blocking calls get the final state.
        See :meth:`Runtime.begin_shutdown <accord.server.runtime.Runtime.begin_shutdown>`.
        """
        handler = self._handler
        if handler is not None:
            handler.runtime.begin_shutdown()

    def close_streams(self) -> int:
        """End every open SSE stream (subscriptions and streaming sends) now.

        Running tasks are not affected, so their final state never reaches these
        streams: prefer :meth:`begin_shutdown`. Safe to call from the event loop.
        """
        handler = self._handler
        return 0 if handler is None else handler.runtime.broker.close_all()

    # --- ASGI entry -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._http(scope, receive, send)
            except _ClientGone:
                logger.debug("client disconnected before sending its whole body")
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with self.running():
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
        except Exception as exc:
            logger.exception("A2A app failed to start or stop")
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Route on the raw (still percent-encoded) path: an id or tenant may contain an
        # encoded "/" that must not split a segment (the REST binding decodes per segment).
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        path = path.split("?", 1)[0]
        method = scope["method"]
        endpoint_send = await self._front.serve(scope, path, method, send)
        if endpoint_send is None:  # the card, the JWK Set or a CORS preflight
            return
        send = endpoint_send
        if method == "POST" and path in ("", "/"):
            await self._jsonrpc(scope, receive, send)
        else:
            await self._rest(scope, receive, send, method, path or "/")

    def base_url(self, scope: Scope) -> str:
        """Absolute URL of this app for this request (see :mod:`.proxy`)."""
        return self._front.base_url(scope)

    # --- bindings -------------------------------------------------------------------

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                raise _TooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body exceeds the server's limit of {self.limits.max_body_bytes} bytes"
        )

    async def _authenticate(self, scope: Scope) -> Principal | None:
        """The caller, per the card's requirements (401/403 raised before parsing)."""
        if not self.auth.required:
            return None
        return await self.auth.authenticate(RequestInfo.from_scope(scope))

    def _binding_query(self, query: str) -> str:
        """The query string without API-key parameters (they are not request fields)."""
        names = self.auth.credential_query_params
        if not names or not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, v) for k, v in pairs if k not in names])

    def _context(
        self, scope: Scope, query: str, principal: Principal | None = None
    ) -> CallContext:
        requested = _header(scope, b"a2a-version")
        if requested is None and query:
            for key, value in parse_qsl(query):
                if key.lower() == "a2a-version":
                    requested = value
        version = versioning.negotiate(requested)
        extensions = _header(scope, b"a2a-extensions") or ""
        return CallContext(
            owner="" if principal is None else principal.id,
            version=version,
            extensions=tuple(e.strip() for e in extensions.split(",") if e.strip()),
            principal=principal,
            base_url=self.base_url(scope),
        )

    async def _jsonrpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id: jsonrpc.RequestId = None
        try:
            check_content_type(_header(scope, b"content-type"), "application/json")
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                raise self._too_large() from None
            try:
                principal = await self._authenticate(scope)
            except ProtocolError:
                request_id = _request_id(body)
                raise
            try:
                call = jsonrpc.parse_request(body)
            except jsonrpc.JsonRpcRejection as rejection:
                request_id = rejection.request_id
                raise rejection.error from None
            request_id = call.id
            ctx = self._context(
                scope, scope.get("query_string", b"").decode("latin-1"), principal
            )
            result = await self._dispatch(scope, call.operation, call.params, ctx)
        except ProtocolError as error:
            status = spec_for(error).http_status
            # JSON-RPC errors travel in a 200 response; only transport-level refusals
            # (size, authentication, capacity) use their HTTP status.
            await _respond(
                send,
                status if status in _TRANSPORT_STATUSES else 200,
                jsonrpc.encode_error(request_id, error),
                extra=_challenge_headers(error),
            )
            return
        except Exception:
            logger.exception("unexpected error in JSON-RPC request")
            await _respond(send, 200, jsonrpc.encode_error(request_id, InternalError()))
            return
        if isinstance(result, HandlerStream):
            rid = request_id
            await send_event_stream(
                receive,
                send,
                result,
                lambda event: jsonrpc.encode_stream_event(rid, event),
                lambda error: jsonrpc.encode_error(rid, error),
                keepalive_interval=self.limits.keepalive_interval,
            )
        else:
            await _respond(send, 200, jsonrpc.encode_result(request_id, result))

    async def _rest(
        self, scope: Scope, receive: Receive, send: Send, method: str, path: str
    ) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            if method in ("POST", "PUT", "PATCH"):
                check_content_type(
                    _header(scope, b"content-type"),
                    "application/a2a+json or application/json",
                )
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                raise self._too_large() from None
            principal = await self._authenticate(scope)
            call = rest.parse_request(method, path, self._binding_query(query), body)
            ctx = self._context(scope, query, principal)
            result = await self._dispatch(scope, call.operation, call.params, ctx)
        except ProtocolError as error:
            extra = _challenge_headers(error)
            override: int | None = None
            if isinstance(error, MethodNotFoundError):
                allowed = rest.allowed_methods(path)
                if allowed:
                    override = 405  # RFC 9110 §15.5.6, with Allow
                    extra.append((b"allow", ", ".join(allowed).encode()))
            status, payload = rest.encode_error(error, status=override)
            await _respond(
                send, status, payload, content_type=b"application/a2a+json", extra=extra
            )
            return
        except Exception:
            logger.exception("unexpected error in HTTP+JSON request")
            status, payload = rest.encode_error(InternalError())
            await _respond(send, status, payload, content_type=b"application/a2a+json")
            return
        if isinstance(result, HandlerStream):
            await send_event_stream(
                receive,
                send,
                result,
                rest.encode_stream_event,
                lambda e: rest.encode_error(e)[1],
                keepalive_interval=self.limits.keepalive_interval,
            )
        else:
            await _respond(
                send,
                200,
                rest.encode_response(result),
                content_type=b"application/a2a+json",
            )

    async def _dispatch(
        self, scope: Scope, operation: Operation, params: Any, ctx: CallContext
    ) -> Any:
        handler = self._handler
        if handler is None:  # no lazy start: the runtime needs an owner (the lifespan)
            raise UnavailableError(STOPPED if self._stopped else NOT_STARTED)
        if operation.name == "GetExtendedAgentCard" and ctx.principal is None:
            # spec §13.3: always authenticated, with a scheme the public card declares
            # (also when ordinary operations are anonymous).
            handler.check_capability(operation)
            principal = await self.auth.authenticate_any(RequestInfo.from_scope(scope))
            ctx = replace(ctx, owner=principal.id, principal=principal)
        return await handler.dispatch(
            operation, params, ctx, last_event_id=_header(scope, b"last-event-id")
        )

    # --- SSE ------------------------------------------------------------------------


#: Largest body whose JSON-RPC id is read for an early refusal (an unauthenticated
#: caller should not make the server parse megabytes just to echo an id).
_ID_PARSE_LIMIT = 64 * 1024


def _request_id(body: bytes) -> jsonrpc.RequestId:
    """The JSON-RPC id of ``body`` if it can be read, else None (for early refusals)."""
    if len(body) > _ID_PARSE_LIMIT:
        return None
    try:
        return jsonrpc.parse_request(body).id
    except jsonrpc.JsonRpcRejection as rejection:
        return rejection.request_id
    except ProtocolError:
        return None


def _challenge_headers(error: ProtocolError) -> list[tuple[bytes, bytes]]:
    """``WWW-Authenticate`` headers for a 401/403 that carries challenges."""
    challenges = getattr(error, "challenges", ())
    return [(b"www-authenticate", c.encode("latin-1")) for c in challenges]


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 503:
        headers.append((b"retry-after", RETRY_AFTER))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
