"""The ASGI application: routes, body limits, version negotiation, SSE, lifespan.

Routes (relative to where the app is mounted):

* ``GET /.well-known/agent-card.json`` (and ``/.well-known/agent.json``): the card;
* ``POST /``: JSON-RPC 2.0 (spec §9);
* everything else: HTTP+JSON, routed from the operations table (spec §11).

Each request: read the body up to :attr:`ServerLimits.max_body_bytes` (else 413), decode
with the binding, negotiate ``A2A-Version`` (spec §3.6.2), run the handler, encode the
answer. Streaming answers are SSE: each event carries ``id:`` = its per-task sequence
number; a comment is sent as a keep-alive when the stream is idle; one task sends frames
while another watches for ``http.disconnect`` and stops the stream (never the task).

The runtime (task group, store) lives in the ASGI lifespan, or in :meth:`A2AApp.running`
when the app is mounted inside a framework whose lifespan you control.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio

from accord.bindings import jsonrpc, rest
from accord.errors import (
    InternalError,
    InvalidRequestError,
    MethodNotFoundError,
    PayloadTooLargeError,
    ProtocolError,
)
from accord.protocol import Operation, sse, versioning
from accord.protocol.errors import spec_for
from accord.stores import MemoryTaskStore, TaskStore

from .card import CardCache
from .handler import CallContext, EventStream, RequestHandler
from .runtime import Runtime

if TYPE_CHECKING:
    from accord.types import StreamResponse

    from .agent import Agent

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
    """

    def __init__(
        self,
        agent: Agent,
        *,
        store: TaskStore | None = None,
        limits: ServerLimits = ServerLimits(),
        trust_forwarded_headers: bool = True,
    ) -> None:
        self.agent = agent
        self.store: TaskStore = store if store is not None else MemoryTaskStore()
        self.limits = limits
        self.trust_forwarded_headers = trust_forwarded_headers
        self._cards = CardCache(
            agent, max_age=limits.card_max_age, last_modified=time.time()
        )
        self._handler: RequestHandler | None = None

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
            extended = self.agent.extended_card
            self._handler = RequestHandler(
                runtime, extended_card=None if extended is None else (lambda: extended)
            )
            try:
                yield self
            finally:
                self._handler = None

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

    def _context(self, scope: Scope, query: str) -> CallContext:
        requested = _header(scope, b"a2a-version")
        if requested is None and query:
            for key, value in parse_qsl(query):
                if key.lower() == "a2a-version":
                    requested = value
        version = versioning.negotiate(requested)
        extensions = _header(scope, b"a2a-extensions") or ""
        return CallContext(
            owner="",
            version=version,
            extensions=tuple(e.strip() for e in extensions.split(",") if e.strip()),
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
                call = jsonrpc.parse_request(body)
            except jsonrpc.JsonRpcRejection as rejection:
                request_id = rejection.request_id
                raise rejection.error from None
            request_id = call.id
            ctx = self._context(scope, scope.get("query_string", b"").decode("latin-1"))
            result = await self._dispatch(scope, call.operation, call.params, ctx)
        except ProtocolError as error:
            status = spec_for(error).http_status
            # JSON-RPC errors travel in a 200 response; only transport-level refusals
            # (size, authentication, capacity) use their HTTP status.
            await _respond(
                send,
                status if status in _TRANSPORT_STATUSES else 200,
                jsonrpc.encode_error(request_id, error),
            )
            return
        except Exception:
            logger.exception("unexpected error in JSON-RPC request")
            await _respond(send, 200, jsonrpc.encode_error(request_id, InternalError()))
            return
        if isinstance(result, EventStream):
            rid = request_id
            await self._stream(
                receive,
                send,
                result,
                lambda event: jsonrpc.encode_stream_event(rid, event),
                lambda error: jsonrpc.encode_error(rid, error),
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
            call = rest.parse_request(method, path, query, body)
            ctx = self._context(scope, query)
            result = await self._dispatch(scope, call.operation, call.params, ctx)
        except ProtocolError as error:
            status, payload = rest.encode_error(error)
            extra: list[tuple[bytes, bytes]] = []
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
        if isinstance(result, EventStream):
            await self._stream(
                receive,
                send,
                result,
                rest.encode_stream_event,
                lambda e: rest.encode_error(e)[1],
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
        if operation.name == "SubscribeToTask":
            handler.check_capability(operation)
            return await handler.subscribe_to_task(
                params, ctx, last_event_id=_header(scope, b"last-event-id")
            )
        return await handler.dispatch(operation, params, ctx)

    # --- SSE ------------------------------------------------------------------------

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        stream: EventStream,
        encode: Callable[[StreamResponse], bytes],
        encode_error: Callable[[ProtocolError], bytes],
    ) -> None:
        lock = anyio.Lock()
        last_sent = time.monotonic()
        interval = self.limits.keepalive_interval

        async def emit(chunk: bytes) -> None:
            nonlocal last_sent
            async with lock:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
                last_sent = time.monotonic()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        async def keepalive() -> None:
            while True:
                await anyio.sleep(max(0.01, interval - (time.monotonic() - last_sent)))
                if time.monotonic() - last_sent >= interval:
                    await emit(sse.encode_comment("keep-alive"))

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(watch_disconnect)
            tg.start_soon(keepalive)
            try:
                async for seq, event in stream:
                    await emit(
                        sse.encode_event(
                            encode(event), id=None if seq is None else str(seq)
                        )
                    )
            except ProtocolError as error:
                # spec §4 / digest §4.4: an error after the stream began is sent as an event.
                await emit(sse.encode_event(encode_error(error), event="error"))
            except Exception:
                logger.exception("stream failed")
                await emit(
                    sse.encode_event(encode_error(InternalError()), event="error")
                )
            async with lock:
                await send(
                    {"type": "http.response.body", "body": b"", "more_body": False}
                )
            tg.cancel_scope.cancel()


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
