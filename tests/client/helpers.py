"""A fake agent that speaks both HTTP bindings exactly, for ``httpx.MockTransport``.

It parses requests with the bindings' server-side functions and answers with their
encoders, so the client is tested against the real wire format. Each test registers
what an operation returns (a value, a ``ProtocolError`` to raise, or the events of a
stream) and can inspect every request the client sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from accord.bindings import jsonrpc, rest
from accord.client import Client
from accord.errors import ProtocolError
from accord.protocol.sse import encode_event
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    encode,
)

BASE = "http://agent.test"
RPC_URL = f"{BASE}/rpc"
REST_URL = f"{BASE}/rest"
CARD_URL = f"{BASE}/.well-known/agent-card.json"

#: What a handler returns for a streaming operation: events, optionally with SSE ids.
Events = Iterable[StreamResponse | tuple[StreamResponse, str | None]]
Handler = Callable[[Any], Any]


def interface(
    binding: str, *, tenant: str = "", version: str = "1.0"
) -> AgentInterface:
    url = RPC_URL if binding == "JSONRPC" else REST_URL
    return AgentInterface(
        url=url, protocol_binding=binding, tenant=tenant, protocol_version=version
    )


def make_card(*interfaces: AgentInterface, name: str = "Test Agent") -> AgentCard:
    return AgentCard(
        name=name,
        description="an agent for tests",
        supported_interfaces=interfaces,
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True, push_notifications=True),
        default_input_modes=("text/plain",),
        default_output_modes=("text/plain",),
    )


def task(task_id: str = "t-1", state: TaskState = TaskState.WORKING) -> Task:
    return Task(id=task_id, context_id="c-1", status=TaskStatus(state=state))


def status_event(state: TaskState, task_id: str = "t-1") -> StreamResponse:
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(
            task_id=task_id, context_id="c-1", status=TaskStatus(state=state)
        )
    )


def agent_message(text: str = "hi") -> Message:
    return Message(message_id="m-agent", role=Role.AGENT, parts=(Part(text=text),))


#: httpx's byte streams are async generators that trio reports when a response is
#: closed before its end (encode/httpx#3686, fix pending in encode/httpx#3777). The
#: client closes what it owns (the body iterator it reads, see transports/base.py:
#: over MemoryTransport nothing is left), but the generators httpx nests inside its
#: own streams (MockTransport ``content=``, the network via httpcore) stay out of its
#: reach; these warnings name httpx/httpcore internals only.
HTTPX_TRIO_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:Async generator 'http(x|core)\.[^']*' was garbage collected:ResourceWarning"
)


class ClosableStream(httpx.AsyncByteStream):
    """A response body from a chunk function, recording whether it was closed.

    ``chunk(n)`` returns the n-th chunk (from 0), or None at the end.
    """

    def __init__(self, chunk: Callable[[int], bytes | None]) -> None:
        self._chunk = chunk
        self._n = 0
        self.closed = False

    def __aiter__(self) -> ClosableStream:
        return self

    async def __anext__(self) -> bytes:
        data = None if self.closed else self._chunk(self._n)
        if data is None:
            raise StopAsyncIteration
        self._n += 1
        return data

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Seen:
    """One request as the fake agent understood it."""

    request: httpx.Request
    body: bytes
    operation: str
    params: Any


@dataclass
class FakeAgent:
    """An A2A agent at ``BASE``: JSON-RPC under ``/rpc``, HTTP+JSON under ``/rest``."""

    card: AgentCard | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    #: Split every SSE body into chunks of this many bytes (exercises the decoder).
    chunk_size: int = 0

    def on(self, operation: str, result: Any) -> None:
        """Answer ``operation`` with ``result`` (or call it, if it is callable)."""
        self.handlers[operation] = result if callable(result) else (lambda _p: result)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    @property
    def last(self) -> Seen:
        return self.seen[-1]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = await request.aread()
        path = request.url.raw_path.split(b"?")[0].decode()
        if path == "/.well-known/agent-card.json" and self.card is not None:
            return httpx.Response(
                200,
                content=encode(self.card),
                headers={"content-type": "application/json"},
            )
        if path.startswith("/rpc"):
            return self._jsonrpc(request, body)
        if path.startswith("/rest"):
            return self._rest(request, path.removeprefix("/rest"), body)
        return httpx.Response(404, text="no such route")

    def _run(self, request: httpx.Request, body: bytes, name: str, params: Any) -> Any:
        self.seen.append(Seen(request, body, name, params))
        return self.handlers[name](params)

    def _sse(self, chunks: list[bytes]) -> httpx.Response:
        data = b"".join(chunks)
        if self.chunk_size:
            parts = [
                data[i : i + self.chunk_size]
                for i in range(0, len(data), self.chunk_size)
            ]
        else:
            parts = chunks

        body = ClosableStream(lambda n: parts[n] if n < len(parts) else None)
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=body
        )

    def _jsonrpc(self, request: httpx.Request, body: bytes) -> httpx.Response:
        json = {"content-type": "application/json"}
        try:
            call = jsonrpc.parse_request(body)
        except jsonrpc.JsonRpcRejection as rejection:
            return httpx.Response(
                200, content=jsonrpc.encode_error(rejection.request_id, rejection.error)
            )
        try:
            result = self._run(request, body, call.operation.name, call.params)
        except ProtocolError as error:
            return httpx.Response(
                200, content=jsonrpc.encode_error(call.id, error), headers=json
            )
        if call.operation.streaming:
            return self._sse(
                [
                    encode_event(jsonrpc.encode_stream_event(call.id, ev), id=ev_id)
                    for ev, ev_id in _pairs(result)
                ]
            )
        return httpx.Response(
            200, content=jsonrpc.encode_result(call.id, result), headers=json
        )

    def _rest(self, request: httpx.Request, path: str, body: bytes) -> httpx.Response:
        json = {"content-type": "application/a2a+json"}
        try:
            call = rest.parse_request(
                request.method, path, request.url.query.decode(), body
            )
            result = self._run(request, body, call.operation.name, call.params)
        except ProtocolError as error:
            status, content = rest.encode_error(error)
            return httpx.Response(status, content=content, headers=json)
        if call.operation.streaming:
            return self._sse(
                [
                    encode_event(rest.encode_stream_event(ev), id=ev_id)
                    for ev, ev_id in _pairs(result)
                ]
            )
        return httpx.Response(200, content=rest.encode_response(result), headers=json)


def _pairs(events: Events) -> list[tuple[StreamResponse, str | None]]:
    return [e if isinstance(e, tuple) else (e, None) for e in events]


@asynccontextmanager
async def client_for(
    answer: httpx.Response | Callable[[httpx.Request], Any],
    binding: str,
    *,
    tenant: str = "",
) -> AsyncIterator[Client]:
    """A client whose every request is answered by ``answer`` (a response or handler)."""

    def fixed(_request: httpx.Request) -> httpx.Response:
        assert isinstance(answer, httpx.Response)
        return answer

    handler = fixed if isinstance(answer, httpx.Response) else answer
    card = make_card(interface(binding, tenant=tenant))
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        Client(card, http=http) as client,
    ):
        yield client
