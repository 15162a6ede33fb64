"""The HTTP request pipeline: JSON-RPC (spec §9) and HTTP+JSON (spec §11), v1.0 and v0.3.

One pipeline serves every HTTP binding through an
:class:`~accord.server.exchanges.HttpExchange` chosen by the route (and, for
``/v1/...``, the request's version): check the request's media type, read the body up
to :attr:`ServerLimits.max_body_bytes` (else 413), then the steps every binding shares
(:func:`accord.server.binding.perform`: authenticate against the card's security
requirements, 401 with ``WWW-Authenticate`` or 403, see :mod:`accord.server.auth`;
negotiate ``A2A-Version``, spec §3.6.2, before the body is interpreted; decode with
the binding; hand the operation to the :class:`~accord.server.engine.Engine`), then
encode the answer. Streaming answers are SSE (:mod:`accord.server.sse_response`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from accord.bindings import v03, v03_rest
from accord.bindings.media import check_content_type, response_media_type
from accord.errors import InternalError, PayloadTooLargeError, ProtocolError
from accord.protocol import versioning

from .auth.verifier import RequestInfo
from .binding import Request, perform
from .exchanges import (
    REST_VERSIONS,
    HttpExchange,
    JsonRpcExchange,
    RestExchange,
    V03RestExchange,
)
from .sse_response import send_event_stream
from .streams import HandlerStream

if TYPE_CHECKING:
    from .asgi import A2AApp
    from .front import EndpointHeaders

__all__ = ["RETRY_AFTER", "HttpBindings"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Seconds a client should wait before retrying after a 503 (at capacity).
RETRY_AFTER = b"1"
_RETRY_AFTER = ((b"retry-after", RETRY_AFTER),)


class _TooLarge(Exception):
    pass


class ClientGone(BaseException):
    """The client went away before its body was read: nothing to answer, no error.

    A BaseException so the handlers' ``except Exception`` does not log it as a bug.
    """


#: The bytes of the header names read by ``str`` name (:meth:`_Headers.__call__`).
_NAMES = {
    name: name.encode()
    for name in ("a2a-extensions", "x-a2a-extensions", "traceparent", "authorization")
}


class _Headers:
    """A request's headers by (lower-case) name, read once; the first of a repeated
    header is the one read. Also gives the request's :class:`RequestInfo`."""

    __slots__ = ("_scope", "raw")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        raw = scope["headers"]
        if type(raw) is not list and type(raw) is not tuple:
            raw = list(raw)
        #: The values as sent, by name: the pipeline reads the headers that are
        #: mostly absent or need no text (a miss, then nothing to decode) here.
        self.raw: dict[bytes, bytes]
        try:
            self.raw = dict(raw)
            if len(self.raw) < len(raw):  # a repeated header: the first one counts
                self.raw = dict(reversed(raw))
        except TypeError:  # names as bytearray (ASGI says bytes; tolerated as before)
            self.raw = {bytes(k): bytes(v) for k, v in reversed(raw)}

    def get(self, name: bytes) -> str | None:
        value = self.raw.get(name)
        return None if value is None else value.decode("latin-1")

    def __call__(self, name: str) -> str | None:
        """The header ``name`` (a ``str``), as :attr:`Request.header` reads it."""
        # get()'s body, not a call of it: every request reads two headers this way,
        # by names whose bytes are at hand.
        key = _NAMES.get(name)
        value = self.raw.get(name.encode("latin-1") if key is None else key)
        return None if value is None else value.decode("latin-1")

    def info(self) -> RequestInfo:
        """The request's credentials-bearing parts (:attr:`Request.info`)."""
        return RequestInfo.from_scope(self._scope)


def _requested_version(headers: _Headers, query: str) -> str | None:
    """The version a request states: its ``A2A-Version`` header, else the query
    parameter of that name (spec §3.6.1), else None."""
    requested = headers.get(b"a2a-version")
    if requested is None and query:
        for key, value in parse_qsl(query):
            if key.lower() == "a2a-version":
                return value
    return requested


class HttpBindings:
    """The HTTP bindings of one :class:`~accord.server.A2AApp`, on one pipeline."""

    def __init__(self, app: A2AApp) -> None:
        self._app = app

    async def _read_body(self, declared: bytes | None, receive: Receive) -> bytes:
        """The body, refused as too large by the ``declared`` Content-Length (an
        unsigned decimal, else not believed) or as it arrives."""
        limit = self._app.limits.max_body_bytes
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
            if not message.get("more_body", False):
                # Most bodies come in one message: nothing to join then.
                return b"".join((*chunks, body)) if chunks else body
            chunks.append(body)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"Request body exceeds the server's limit of {self._app.limits.max_body_bytes} bytes"
        )

    def _binding_query(self, query: str) -> str:
        """The query string without API-key parameters (they are not request fields)."""
        names = self._app.engine.auth.credential_query_params
        if not names or not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, v) for k, v in pairs if k not in names])

    def exchange(self, scope: Scope, method: str, path: str) -> HttpExchange:
        """The exchange serving a request to ``path``: JSON-RPC (spec §9; v0.3's
        methods too) for ``POST /``, else HTTP+JSON (spec §11): v0.3's for its
        ``/v1/...`` routes when the request speaks v0.3
        (:mod:`accord.bindings.v03_rest`), else v1.0's."""
        if method == "POST" and path in ("", "/"):
            return JsonRpcExchange()
        path = path or "/"
        query = scope.get("query_string", b"").decode("latin-1")
        if v03_rest.is_v03_path(path) and self._speaks_v03(scope, query):
            return V03RestExchange(
                method,
                path,
                self._binding_query(query),
                partial(self._app.base_url, scope),
            )
        headers = _Headers(scope)
        media = response_media_type(
            headers.get(b"content-type"), headers.get(b"accept")
        )
        return RestExchange(method, path, self._binding_query(query), media)

    def _speaks_v03(self, scope: Scope, query: str) -> bool:
        try:
            requested = _requested_version(_Headers(scope), query)
            return versioning.negotiate(requested, REST_VERSIONS) == v03.VERSION
        except ProtocolError:
            return False  # refused by the v1.0 exchange, with its hint

    async def serve(
        self,
        exchange: HttpExchange,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: EndpointHeaders,
    ) -> None:
        """Serve one request through ``exchange``: content type, body (bounded),
        authentication, version, parse, the engine, then the answer or the stream,
        with the front's ``endpoint`` headers."""
        raw_query = scope.get("query_string", b"")
        query = raw_query.decode("latin-1") if raw_query else ""
        headers = _Headers(scope)
        try:
            content_type = headers.raw.get(b"content-type")
            if (
                content_type != b"application/json"
                and exchange.content_types is not None
            ):
                # Any other type (or none) is read and judged; that one needs neither.
                check_content_type(
                    None if content_type is None else content_type.decode("latin-1"),
                    exchange.content_types,
                )
            try:
                body = await self._read_body(
                    headers.raw.get(b"content-length"), receive
                )
            except _TooLarge:
                raise self._too_large() from None
            last_event_id = headers.raw.get(b"last-event-id")
            result = await perform(
                self._app.engine,
                exchange,
                Request(
                    body,
                    headers,
                    _requested_version(headers, query),
                    headers.info,
                    query,
                    partial(self._app.base_url, scope),
                    None if last_event_id is None else last_event_id.decode("latin-1"),
                ),
            )
        except ProtocolError as error:
            answer = exchange.error(error)
        except Exception:
            logger.exception("unexpected error in a %s request", exchange.binding)
            answer = exchange.error(InternalError())
        else:
            requested = headers.raw.get(b"a2a-extensions")
            echo = self._activated(requested.decode("latin-1")) if requested else ()
            if isinstance(result, HandlerStream):
                await send_event_stream(
                    receive,
                    send,
                    result,
                    exchange.event,
                    exchange.stream_error,
                    keepalive_interval=self._app.limits.keepalive_interval,
                    headers=(*echo, *endpoint.extra),
                )
                return
            answer = exchange.result(result)
            if echo:
                answer = replace(answer, headers=(*answer.headers, *echo))
        # The answer, result or error, with its length and the endpoint's headers.
        status = answer.status
        body = answer.body
        response_headers = [
            (b"content-type", answer.content_type),
            (b"content-length", str(len(body)).encode()),
            *(_RETRY_AFTER if status == 503 else ()),
            *answer.headers,
            *endpoint.answer(status),
        ]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": response_headers,
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _activated(self, requested: str) -> tuple[tuple[bytes, bytes], ...]:
        """The ``A2A-Extensions`` response header echoing the extensions the call
        activated (the ``requested`` ones) that the card declares (spec §4.6)."""
        active = self._app.engine.activated(requested)
        return ((b"a2a-extensions", active.encode("latin-1")),) if active else ()
