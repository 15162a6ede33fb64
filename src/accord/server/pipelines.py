"""The HTTP bindings' request pipelines: JSON-RPC (spec §9) and HTTP+JSON (spec §11).

Each request: read the body up to :attr:`ServerLimits.max_body_bytes` (else 413),
authenticate it against the card's security requirements (401 with
``WWW-Authenticate``, or 403; see :mod:`accord.server.auth`), decode with the binding,
negotiate ``A2A-Version`` (spec §3.6.2), hand the operation to the
:class:`~accord.server.engine.Engine` (interceptors, authorization, the handler),
encode the answer. Streaming answers are SSE (:mod:`accord.server.sse_response`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from accord.bindings import jsonrpc, rest, v03, v03_rest
from accord.bindings.media import check_content_type, response_media_type
from accord.errors import (
    InternalError,
    MethodNotFoundError,
    PayloadTooLargeError,
    ProtocolError,
)
from accord.protocol import Operation, versioning
from accord.protocol.errors import spec_for

from .auth.verifier import RequestInfo
from .card import BINDING_HTTP_JSON, BINDING_JSONRPC
from .context import CallContext
from .sse_response import send_event_stream
from .streams import HandlerStream

if TYPE_CHECKING:
    from .asgi import A2AApp
    from .auth.principal import Principal

__all__ = ["RETRY_AFTER", "HttpBindings"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: HTTP statuses a JSON-RPC error keeps (the rest travel in a 200 response).
_TRANSPORT_STATUSES = frozenset({401, 403, 413, 503})
#: Versions the JSON-RPC endpoint speaks: v1.0, and v0.3 (its own methods and shapes,
#: :mod:`accord.bindings.v03`).
JSONRPC_VERSIONS = (versioning.CURRENT_VERSION, v03.VERSION)
#: Versions HTTP+JSON speaks: v1.0, and v0.3 on its own ``/v1/...`` routes
#: (:mod:`accord.bindings.v03_rest`).
REST_VERSIONS = (versioning.CURRENT_VERSION, v03.VERSION)
#: Seconds a client should wait before retrying after a 503 (at capacity).
RETRY_AFTER = b"1"


class _TooLarge(Exception):
    pass


class ClientGone(BaseException):
    """The client went away before its body was read: nothing to answer, no error.

    A BaseException so the handlers' ``except Exception`` does not log it as a bug.
    """


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class HttpBindings:
    """The two HTTP bindings of one :class:`~accord.server.A2AApp`."""

    def __init__(self, app: A2AApp) -> None:
        self._app = app

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self._app.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                raise _TooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body exceeds the server's limit of {self._app.limits.max_body_bytes} bytes"
        )

    async def _authenticate(self, scope: Scope) -> Principal | None:
        """The caller, per the card's requirements (401/403 raised before parsing)."""
        engine = self._app.engine
        if not engine.auth.required:
            return None
        return await engine.authenticate(RequestInfo.from_scope(scope))

    def _binding_query(self, query: str) -> str:
        """The query string without API-key parameters (they are not request fields)."""
        names = self._app.engine.auth.credential_query_params
        if not names or not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, v) for k, v in pairs if k not in names])

    def _version(
        self,
        scope: Scope,
        query: str,
        supported: tuple[str, ...] = versioning.SUPPORTED_VERSIONS,
    ) -> str:
        """The request's A2A version (header, else query parameter; spec §3.6).

        Raises:
            VersionNotSupportedError: not one of ``supported``.
        """
        requested = _header(scope, b"a2a-version")
        if requested is None and query:
            for key, value in parse_qsl(query):
                if key.lower() == "a2a-version":
                    requested = value
        return versioning.negotiate(requested, supported)

    def _context(
        self,
        scope: Scope,
        query: str,
        principal: Principal | None = None,
        *,
        version: str | None = None,
    ) -> CallContext:
        if version is None:
            version = self._version(scope, query)
        extensions = _header(scope, b"a2a-extensions")
        if extensions is None and version == v03.VERSION:
            extensions = _header(scope, b"x-a2a-extensions")  # v0.3's name
        return CallContext(
            owner="" if principal is None else principal.id,
            version=version,
            extensions=tuple(e.strip() for e in extensions.split(",") if e.strip())
            if extensions
            else (),
            principal=principal,
            base_url_of=partial(self._app.base_url, scope),
        )

    async def jsonrpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one JSON-RPC request (spec §9)."""
        request_id: jsonrpc.RequestId = None
        v03_stream = False
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
            query = scope.get("query_string", b"").decode("latin-1")
            try:
                # The version first: it decides which methods and shapes the body has.
                version = self._version(scope, query, JSONRPC_VERSIONS)
            except ProtocolError:
                request_id = _request_id(body)
                raise
            try:
                call = jsonrpc.parse_request(body, version=version)
            except jsonrpc.JsonRpcRejection as rejection:
                request_id = rejection.request_id
                raise rejection.error from None
            request_id = call.id
            v03_stream = bool(call.v03_method) and call.operation.streaming
            ctx = self._context(scope, query, principal, version=version)
            result = await self._dispatch(
                scope, call.operation, call.params, ctx, BINDING_JSONRPC
            )
        except ProtocolError as error:
            status = spec_for(error).http_status
            if v03_stream and status not in _TRANSPORT_STATUSES:
                # v0.3 clients of a stream read its error as the stream's one event.
                await _respond(
                    send,
                    200,
                    b"data: " + jsonrpc.encode_error(request_id, error) + b"\n\n",
                    content_type=b"text/event-stream",
                )
                return
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
        rid = request_id
        if isinstance(result, HandlerStream):
            await send_event_stream(
                receive,
                send,
                result,
                (
                    partial(jsonrpc.encode_stream_event_v03, rid, call)
                    if call.v03_method
                    else partial(jsonrpc.encode_stream_event, rid)
                ),
                lambda error: jsonrpc.encode_error(rid, error),
                keepalive_interval=self._app.limits.keepalive_interval,
            )
        elif call.v03_method:
            await _respond(send, 200, jsonrpc.encode_result_v03(rid, call, result))
        else:
            await _respond(send, 200, jsonrpc.encode_result(rid, result))

    async def rest(
        self, scope: Scope, receive: Receive, send: Send, method: str, path: str
    ) -> None:
        """Answer one HTTP+JSON request (spec §11): v0.3's for its ``/v1/...`` routes
        when the request speaks v0.3 (:mod:`accord.bindings.v03_rest`), else v1.0's."""
        query = scope.get("query_string", b"").decode("latin-1")
        if v03_rest.is_v03_path(path):
            try:
                version = self._version(scope, query, REST_VERSIONS)
            except ProtocolError:
                version = None  # refused below, by the v1.0 pipeline, with its hint
            if version == v03.VERSION:
                await self._rest_v03(scope, receive, send, method, path, query)
                return
        await self._rest_v1(scope, receive, send, method, path, query)

    async def _rest_v03(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        path: str,
        query: str,
    ) -> None:
        try:
            if method in ("POST", "PUT", "PATCH"):
                check_content_type(_header(scope, b"content-type"), "application/json")
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                raise self._too_large() from None
            principal = await self._authenticate(scope)
            call = v03_rest.parse_request(
                method, path, self._binding_query(query), body
            )
            ctx = self._context(scope, query, principal, version=v03.VERSION)
            result = await self._dispatch(
                scope, call.operation, call.params, ctx, BINDING_HTTP_JSON
            )
        except ProtocolError as error:
            status, payload = v03_rest.encode_error(error)
            await _respond(send, status, payload, extra=_challenge_headers(error))
            return
        except Exception:
            logger.exception("unexpected error in v0.3 HTTP+JSON request")
            status, payload = v03_rest.encode_error(InternalError())
            await _respond(send, status, payload)
            return
        if isinstance(result, HandlerStream):
            await send_event_stream(
                receive,
                send,
                result,
                partial(v03_rest.encode_stream_event, call),
                lambda e: v03_rest.encode_error(e)[1],
                keepalive_interval=self._app.limits.keepalive_interval,
            )
            return
        body = v03_rest.encode_result(call, result, card_url=self._app.base_url(scope))
        await _respond(send, 200, body)

    async def _rest_v1(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        path: str,
        query: str,
    ) -> None:
        content_type = _header(scope, b"content-type")
        media = response_media_type(content_type, _header(scope, b"accept"))
        try:
            if method in ("POST", "PUT", "PATCH"):
                check_content_type(
                    content_type, "application/a2a+json or application/json"
                )
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                raise self._too_large() from None
            principal = await self._authenticate(scope)
            # The version before the body (it decides the shapes), on A2A's paths;
            # any other path is not found whatever the version.
            version: str | None = None
            if rest.allowed_methods(path):
                version = self._version(scope, query)
            call = rest.parse_request(method, path, self._binding_query(query), body)
            ctx = self._context(scope, query, principal, version=version)
            result = await self._dispatch(
                scope, call.operation, call.params, ctx, BINDING_HTTP_JSON
            )
        except ProtocolError as error:
            extra = _challenge_headers(error)
            override: int | None = None
            if isinstance(error, MethodNotFoundError):
                allowed = rest.allowed_methods(path)
                if allowed:
                    override = 405  # RFC 9110 §15.5.6, with Allow
                    extra.append((b"allow", ", ".join(allowed).encode()))
            status, payload = rest.encode_error(error, status=override)
            await _respond(send, status, payload, content_type=media, extra=extra)
            return
        except Exception:
            logger.exception("unexpected error in HTTP+JSON request")
            status, payload = rest.encode_error(InternalError())
            await _respond(send, status, payload, content_type=media)
            return
        if isinstance(result, HandlerStream):
            await send_event_stream(
                receive,
                send,
                result,
                rest.encode_stream_event,
                lambda e: rest.encode_error(e)[1],
                keepalive_interval=self._app.limits.keepalive_interval,
            )
        else:
            await _respond(
                send,
                200,
                rest.encode_response(result),
                content_type=media,
            )

    async def _dispatch(
        self,
        scope: Scope,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        binding: str,
    ) -> Any:
        return await self._app.engine.dispatch(
            operation,
            params,
            ctx,
            binding=binding,
            credentials=lambda: RequestInfo.from_scope(scope),
            last_event_id=_header(scope, b"last-event-id"),
        )


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
