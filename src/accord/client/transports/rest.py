"""The HTTP+JSON (REST) transport (spec §11, §11.4).

Each operation maps to a verb and a path below the interface's base URL (the route
table lives in :mod:`accord.protocol.operations`;
:func:`accord.bindings.rest.build_request` fills it in, including the leading
``/{tenant}`` segment of spec §10). GET and DELETE
carry their parameters in the query string; the other verbs send the request message
as ProtoJSON with ``Content-Type: application/a2a+json`` (spec §11.2 SHOULD).

Errors arrive as a ``google.rpc.Status`` in the AIP-193 wrapper
(``{"error": {"code", "status", "message", "details"}}``) with a matching HTTP status;
:func:`accord.bindings.rest.parse_response` rebuilds the
:class:`~accord.errors.ProtocolError` by the ErrorInfo reason. An error status without
such a body (a proxy, an auth middleware) is :class:`~accord.errors.HTTPStatusError`.

An agent that speaks only v0.3 (``version="0.3"``) is called on v0.3's ``/v1/...``
routes with the v0.3 proto's bodies (:mod:`accord.bindings.v03_rest`), and its
answers are handed back as v1.0 values.

SubscribeToTask: the spec's table says ``POST /tasks/{id}:subscribe`` while the proto's
HTTP annotation says ``GET`` (spec §11.3.2). This transport sends what the binding
builds and, on ``405 Method Not Allowed``, retries once with the operation's other
verb.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NoReturn

from accord.bindings import rest, v03_rest
from accord.errors import InvalidAgentResponseError

from .._http import is_event_stream, request_headers, status_error
from .base import HttpTransport, is_status_body

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from accord.protocol.operations import Operation
    from accord.types import StreamResponse


__all__ = ["RestTransport"]

#: Media type of HTTP+JSON bodies (spec §11.2: SHOULD be ``application/a2a+json``).
A2A_JSON_MEDIA_TYPE = "application/a2a+json"
#: v0.3's (and v1.0.0's) media type.
JSON_MEDIA_TYPE = "application/json"


class RestTransport(HttpTransport):
    """Sends A2A operations as HTTP+JSON requests below one base URL.

    Args:
        url: the interface (base) URL, ``AgentInterface.url``; routes such as
            ``/tasks/{id}`` are appended to it.
        http: the httpx client to send with (borrowed); ``None`` creates and owns one.
        timeouts: per-phase timeouts (:class:`~accord.client.ClientTimeouts`).
        headers: extra headers for every request.
        max_event_size: the largest SSE event accepted, in bytes.
        auth: an httpx auth flow for every request (e.g. chosen credentials).
        version: the A2A version to speak: ``1.0``, or ``0.3`` for an agent that
            speaks only that.

    Example::

        async with RestTransport("https://agent.example/a2a/rest") as transport:
            task = await transport.call(op("GetTask"), GetTaskRequest(id="t-1"))
    """

    binding = "HTTP+JSON"

    def _request(
        self,
        operation: Operation,
        params: Any,
        *,
        stream: bool,
        verb: str | None = None,
    ) -> httpx.Request:
        build = v03_rest.build_request if self._v03 else rest.build_request
        built_verb, path, query, body = build(operation, params)
        if verb is not None and verb != built_verb:
            body = None  # the alternative route of SubscribeToTask: GET, no body
        media = JSON_MEDIA_TYPE if self._v03 else A2A_JSON_MEDIA_TYPE
        content_type = media if body is not None else None
        headers = request_headers(
            self._headers,
            content_type=content_type,
            stream=stream,
            version=self.version,
        )
        if not stream and not self._v03:
            # The v1.0.1 media type (spec §11.1); unasked, a server may answer the
            # v1.0.0 application/json (the decoder takes both).
            headers["Accept"] = A2A_JSON_MEDIA_TYPE
        timeout = self._timeouts.for_stream() if stream else self._timeouts.for_call()
        return self._http.build_request(
            verb or built_verb,
            self.url.rstrip("/") + path,
            params=tuple(query) if query else None,
            content=body,
            headers=headers,
            timeout=timeout,
        )

    async def call(self, operation: Operation, params: Any) -> Any:
        """Run a unary operation; see :meth:`Transport.call`."""
        response = await self._send(self._request(operation, params, stream=False))
        if (
            not response.is_success
            and not self._v03  # v0.3 bodies differ: v03_rest reads them
            and not is_status_body(response.content)
        ):
            # Not from an A2A server (a proxy, an unstarted app): show status and text.
            raise status_error(response, self.url)
        parse = v03_rest.parse_response if self._v03 else rest.parse_response
        return parse(response.status_code, response.content, operation)

    async def stream(
        self, operation: Operation, params: Any, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[StreamResponse, str | None]]:
        """Run a streaming operation; see :meth:`Transport.stream`."""
        response = await self._open(operation, params, last_event_id, verb=None)
        if response.status_code == 405:
            # spec §11.3.2: the peer routes SubscribeToTask with the other verb.
            alternative = self._other_verb(operation, response.request.method)
            if alternative is not None:
                await self._close(response)
                response = await self._open(
                    operation, params, last_event_id, verb=alternative
                )
        try:
            if not (response.is_success and is_event_stream(response)):
                await self._read(response)
                self._refuse(response, operation)
            parse = (
                v03_rest.parse_stream_event if self._v03 else rest.parse_stream_event
            )
            async with aclosing(self._sse(response)) as events:
                async for event in events:
                    yield parse(event.data), event.id
        finally:
            await self._close(response)

    async def _open(
        self,
        operation: Operation,
        params: Any,
        last_event_id: str | None,
        *,
        verb: str | None,
    ) -> httpx.Response:
        request = self._request(operation, params, stream=True, verb=verb)
        if last_event_id is not None:
            request.headers["Last-Event-ID"] = last_event_id
        return await self._send(request, stream=True)

    @staticmethod
    def _other_verb(operation: Operation, used: str) -> str | None:
        for route in operation.rest:
            if route.verb != used:
                return route.verb
        return None

    def _refuse(self, response: httpx.Response, operation: Operation) -> NoReturn:
        # A non-SSE answer to a stream request: an error sent before the stream began.
        body = response.content
        if not response.is_success:
            if not self._v03 and not is_status_body(body):
                raise status_error(response, self.url)
            parse = v03_rest.parse_response if self._v03 else rest.parse_response
            parse(response.status_code, body, operation)  # raises
        content_type = response.headers.get("content-type", "no content type")
        raise InvalidAgentResponseError(
            f"{self.url} answered {operation.name} with {content_type},"
            " not an event stream (text/event-stream)"
        )
