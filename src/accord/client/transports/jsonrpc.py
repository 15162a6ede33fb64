"""The JSON-RPC 2.0 transport (spec §9, §9.3).

Every request is an HTTP ``POST`` of a JSON-RPC envelope to the interface URL with
``Content-Type: application/json``. Unary answers are one JSON-RPC response; the two
streaming operations answer with ``text/event-stream`` whose every event's data is a
complete JSON-RPC response carrying one ``StreamResponse`` (spec §9.4.2).

An agent that speaks only A2A 0.3 (an interface whose ``protocolVersion`` is 0.3) is
called with v0.3's methods and shapes (``version="0.3"``, :mod:`accord.bindings.v03`):
the application sees v1.0 values either way.

Errors. A JSON-RPC error object (any HTTP status; the SDK sends 200) is turned back into
the :class:`~accord.errors.ProtocolError` subclass the server raised by
:func:`accord.bindings.jsonrpc.parse_response`. An HTTP error status whose body is not a
JSON-RPC response (a proxy's 502, an auth middleware's 401) becomes
:class:`~accord.errors.HTTPStatusError`. A successful answer that is not a valid
JSON-RPC response is :class:`~accord.errors.InvalidAgentResponseError`.
"""

from __future__ import annotations

import itertools
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NoReturn

from accord.bindings import jsonrpc
from accord.errors import InvalidAgentResponseError

from .._http import is_event_stream, request_headers, status_error
from .base import HttpTransport, is_jsonrpc_response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from accord.protocol.operations import Operation
    from accord.types import StreamResponse


__all__ = ["JsonRpcTransport"]

#: Media type of JSON-RPC requests and unary responses (spec §9.2).
JSON_MEDIA_TYPE = "application/json"


class JsonRpcTransport(HttpTransport):
    """Sends A2A operations as JSON-RPC 2.0 requests to one URL.

    Args:
        url: the interface URL (``AgentInterface.url``); every request is POSTed there.
        http: the httpx client to send with (borrowed); ``None`` creates and owns one.
        timeouts: per-phase timeouts (:class:`~accord.client.ClientTimeouts`).
        headers: extra headers for every request.
        max_event_size: the largest SSE event accepted, in bytes.
        auth: an httpx auth flow for every request (e.g. chosen credentials).
        version: the A2A version to speak: ``1.0``, or ``0.3`` for an agent that
            speaks only that.

    Example::

        async with JsonRpcTransport("https://agent.example/a2a") as transport:
            task = await transport.call(op("GetTask"), GetTaskRequest(id="t-1"))
    """

    binding = "JSONRPC"

    #: Request ids only need to be unique among our own in-flight requests.
    _ids: itertools.count[int] | None = None

    def _next_id(self) -> int:
        if self._ids is None:
            self._ids = itertools.count(1)
        return next(self._ids)

    def _request(
        self, operation: Operation, params: Any, *, stream: bool
    ) -> httpx.Request:
        build = jsonrpc.build_request_v03 if self._v03 else jsonrpc.build_request
        body = build(self._next_id(), operation, params)
        headers = request_headers(
            self._headers,
            content_type=JSON_MEDIA_TYPE,
            stream=stream,
            version=self.version,
        )
        timeout = self._timeouts.for_stream() if stream else self._timeouts.for_call()
        return self._http.build_request(
            "POST", self.url, content=body, headers=headers, timeout=timeout
        )

    async def call(self, operation: Operation, params: Any) -> Any:
        """Run a unary operation; see :meth:`Transport.call`."""
        response = await self._send(self._request(operation, params, stream=False))
        body = response.content
        if not response.is_success and not is_jsonrpc_response(body):
            # Not from an A2A server (a proxy, an unstarted app): show status and text.
            raise status_error(response, self.url)
        if self._v03:
            return jsonrpc.parse_response_v03(body, operation)
        return jsonrpc.parse_response(body, operation)

    async def stream(
        self, operation: Operation, params: Any, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[StreamResponse, str | None]]:
        """Run a streaming operation; see :meth:`Transport.stream`."""
        request = self._request(operation, params, stream=True)
        if last_event_id is not None:
            request.headers["Last-Event-ID"] = last_event_id
        response = await self._send(request, stream=True)
        try:
            if not (response.is_success and is_event_stream(response)):
                await self._read(response)
                self._refuse(response, operation)
            parse = (
                jsonrpc.parse_stream_event_v03
                if self._v03
                else jsonrpc.parse_stream_event
            )
            async with aclosing(self._sse(response)) as events:
                async for event in events:
                    yield parse(event.data, operation), event.id
        finally:
            await self._close(response)

    def _refuse(self, response: httpx.Response, operation: Operation) -> NoReturn:
        # A non-SSE answer to a stream request: an error sent before the stream began.
        body = response.content
        if is_jsonrpc_response(body):
            jsonrpc.parse_response(body, operation)  # raises the server's error
            # (an error object reads the same in v0.3 and v1.0)
        elif not response.is_success:
            raise status_error(response, self.url)
        content_type = response.headers.get("content-type", "no content type")
        raise InvalidAgentResponseError(
            f"{self.url} answered {operation.name} with {content_type},"
            " not an event stream (text/event-stream)"
        )
