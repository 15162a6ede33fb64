"""The ASGI application: routes, body limits, version negotiation, SSE, lifespan.

Routes (relative to where the app is mounted):

* ``GET /.well-known/agent-card.json`` (and ``/.well-known/agent.json``): the card;
* ``GET /.well-known/jwks.json``: the public key of ``card_signer``, when given;
* ``POST /``: JSON-RPC 2.0 (spec §9);
* everything else: HTTP+JSON, routed from the operations table (spec §11).

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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import anyio

from accord.bindings import jsonrpc, rest
from accord.errors import (
    InternalError,
    InvalidRequestError,
    MethodNotFoundError,
    PayloadTooLargeError,
    ProtocolError,
)
from accord.protocol import Operation, versioning
from accord.protocol.errors import spec_for
from accord.stores import MemoryTaskStore, TaskStore

from .auth.config import AuthConfig, Authenticator
from .auth.verifier import RequestInfo
from .card import CardCache
from .context import CallContext
from .handler import ExtendedCardSource, RequestHandler
from .runtime import Runtime
from .sse_response import send_event_stream
from .streams import HandlerStream

if TYPE_CHECKING:
    from accord.security import JWK

    from .agent import Agent
    from .auth.principal import Principal
    from .auth.verifier import Verifier

__all__ = ["A2AApp", "ServerLimits"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: HTTP statuses a JSON-RPC error keeps (the rest travel in a 200 response).
_TRANSPORT_STATUSES = frozenset({401, 403, 413, 503})
#: Seconds a client should wait before retrying after a 503 (at capacity).
RETRY_AFTER = b"1"

CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
#: The public JWK Set of the card signing key, when the app signs its card.
JWKS_PATH = "/.well-known/jwks.json"
_JSON_TYPES = ("application/json", "application/a2a+json")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds and timings of the server; every one has a reason.

    Attributes:
        max_body_bytes: largest request body accepted (413 beyond). 10 MiB leaves room
            for inline file parts while refusing bodies meant to exhaust memory.
        keepalive_interval: seconds of stream silence before an SSE comment is sent, so
            proxies with idle timeouts (commonly 30-60 s) keep the connection open.
        card_max_age: ``Cache-Control: max-age`` of the card, in seconds (spec §8.6).
        max_running_tasks: agent executions running at once; beyond it SendMessage
            answers UnavailableError (503) instead of queueing without bound.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    keepalive_interval: float = 15.0
    card_max_age: int = 300
    max_running_tasks: int = 10_000


class _TooLarge(Exception):
    pass


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
    signs the served card (spec §8.4; once per base URL) and publishes its public
    key at ``/.well-known/jwks.json``.

    Raises:
        AuthConfigError: ``auth`` does not fit the agent's declared security.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        store: TaskStore | None = None,
        limits: ServerLimits = ServerLimits(),
        trust_forwarded_headers: bool = True,
        auth: AuthConfig | Mapping[str, Verifier] | None = None,
        card_signer: JWK | None = None,
    ) -> None:
        self.agent = agent
        self.store: TaskStore = store if store is not None else MemoryTaskStore()
        self.limits = limits
        self.trust_forwarded_headers = trust_forwarded_headers
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
        self._jwks: bytes | None = None
        self.card_signer = card_signer  # builds the card cache
        self._handler: RequestHandler | None = None

    @property
    def card_signer(self) -> JWK | None:
        """The private key the served card is signed with (spec §8.4), if any.

        Set it before serving (``accord serve --sign-key`` does); setting it drops
        the cards encoded so far.

        Raises:
            ValueError: (on setting) the key is not a private key.
        """
        return self._cards.signer

    @card_signer.setter
    def card_signer(self, signer: JWK | None) -> None:
        if signer is not None and not signer.is_private:
            raise ValueError("card_signer must be a private key")
        self._cards = CardCache(
            self.agent,
            max_age=self.limits.card_max_age,
            last_modified=time.time(),
            signer=signer,
        )
        # The public half of the signing key, for verifiers (spec §8.4.3).
        self._jwks = None
        if signer is not None:
            from accord.security import JWKSet
            from accord.types import encode

            self._jwks = encode(JWKSet((signer.public(),)).to_dict())

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
            self.agent, self.store, max_running=self.limits.max_running_tasks
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
                with anyio.CancelScope(shield=True):
                    await self.auth.aclose()

    def _extended_card_source(self) -> ExtendedCardSource | None:
        extended = self.agent.extended_card
        if extended is None or callable(extended):
            return extended
        card = extended
        return lambda principal: card

    def close_streams(self) -> int:
        """End every open SSE stream (subscriptions and streaming sends) now.

        Call it when the server starts shutting down: servers such as uvicorn wait for
        open connections to finish before running the lifespan shutdown, and a
        subscription to a task waiting for input would otherwise hold them up. The
        tasks themselves are not affected. Safe to call from the event loop's thread.
        """
        handler = self._handler
        return 0 if handler is None else handler.runtime.broker.close_all()

    # --- ASGI entry -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
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
        if path in CARD_PATHS and method in ("GET", "HEAD"):
            await self._card(scope, send, head=method == "HEAD")
            return
        if path == JWKS_PATH and method == "GET" and self._jwks is not None:
            cache = f"public, max-age={self.limits.card_max_age}".encode()
            await _respond(send, 200, self._jwks, extra=[(b"cache-control", cache)])
            return
        if self._handler is None:
            await _respond(
                send,
                503,
                b'{"error":"the A2A app is not running (lifespan not started)"}',
            )
            return
        if method == "POST" and path in ("", "/"):
            await self._jsonrpc(scope, receive, send)
        else:
            await self._rest(scope, receive, send, method, path or "/")

    # --- card -----------------------------------------------------------------------

    def base_url(self, scope: Scope) -> str:
        """Absolute URL of this app, as the client sees it."""
        scheme = scope.get("scheme", "http")
        host = _header(scope, b"host")
        if self.trust_forwarded_headers:
            scheme = (
                (_header(scope, b"x-forwarded-proto") or scheme).split(",")[0].strip()
            )
            host = (_header(scope, b"x-forwarded-host") or host or "").split(",")[
                0
            ].strip() or None
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{scheme}://{host}{scope.get('root_path', '')}".rstrip("/")

    async def _card(self, scope: Scope, send: Send, *, head: bool) -> None:
        answer = self._cards.respond(
            self.base_url(scope),
            if_none_match=_header(scope, b"if-none-match"),
            if_modified_since=_header(scope, b"if-modified-since"),
        )
        headers = list(answer.headers)
        if answer.body:
            headers.append((b"content-length", str(len(answer.body)).encode()))
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"" if head else answer.body})

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
                raise anyio.get_cancelled_exc_class()()
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

    @staticmethod
    def _content_type_ok(scope: Scope) -> bool:
        ctype = _header(scope, b"content-type")
        if ctype is None:
            return True
        base = ctype.split(";")[0].strip().lower()
        return base in _JSON_TYPES or base.endswith("+json")

    async def _jsonrpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id: jsonrpc.RequestId = None
        try:
            if not self._content_type_ok(scope):
                raise InvalidRequestError(
                    f"Unsupported Content-Type {_header(scope, b'content-type')!r}: send application/json"
                )
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
            if method in ("POST", "PUT", "PATCH") and not self._content_type_ok(scope):
                raise InvalidRequestError(
                    f"Unsupported Content-Type {_header(scope, b'content-type')!r}: "
                    "send application/a2a+json or application/json"
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
            status, payload = rest.encode_error(error)
            extra = _challenge_headers(error)
            if isinstance(error, MethodNotFoundError):
                allowed = rest.allowed_methods(path)
                if allowed:
                    status = 405
                    extra.append((b"allow", ", ".join(allowed).encode()))
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
        handler = self.handler
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
