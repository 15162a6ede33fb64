"""Interop fixtures: both servers under uvicorn, both clients, the wire recorders.

* ``accord_server``: Accord's :class:`~accord.server.A2AApp` with the test agent;
* ``sdk_server``: the official SDK's Starlette app (JSON-RPC at ``/jsonrpc``, REST at
  the root) with the same agent written as an ``AgentExecutor``;
* ``webhook``: a tiny receiver that records push notifications.

Each runs under a real uvicorn on 127.0.0.1, port 0, behind a :class:`Recorder`, once
per session; tests clear the recorder first and check what it holds last (see
``assert_lossless``). The official SDK is asyncio-only, so async tests here run on
asyncio only (the suite-wide ``anyio_backend`` fixture would add trio).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientFactory
from a2a.client import Client as SdkClient
from a2a.client import ClientConfig as SdkClientConfig
from a2a.types import a2a_pb2 as pb

from accord.client import Client, ClientConfig, EventStream
from tests.helpers.uvicorn_thread import serve_in_thread

from .agents import SDK_JSONRPC_PATH, SdkServer, accord_app
from .wire import ASGIMessage, Outcome, Receive, Recorder, Scope, Send, Side, check

BINDINGS = ("JSONRPC", "HTTP+JSON")
T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    """The official SDK runs on asyncio only."""
    return "asyncio"


@dataclass
class Served:
    """A server under test: where it listens and what crossed its wire."""

    url: str
    side: Side
    jsonrpc_path: str
    recorder: Recorder

    def check(self) -> Outcome:
        """Decode everything recorded since the last clear with the receivers' decoders."""
        return check(
            self.recorder.exchanges, server=self.side, jsonrpc_path=self.jsonrpc_path
        )


@pytest.fixture(scope="session")
def accord_server() -> Iterator[Served]:
    """Accord's server with the test agent, recorded."""
    recorder = Recorder(accord_app())
    with serve_in_thread(recorder) as url:
        yield Served(url, "accord", "/", recorder)


#: The key the SDK client presents to the secured Accord server.
API_KEY = "interop-test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def accord_secured() -> Iterator[Served]:
    """Accord's server with an API key required on every operation, recorded."""
    recorder = Recorder(accord_app(api_key=API_KEY))
    with serve_in_thread(recorder) as url:
        yield Served(url, "accord", "/", recorder)


@pytest.fixture(scope="session")
def sdk_server() -> Iterator[Served]:
    """The official SDK's server with the equivalent agent, recorded."""
    server = SdkServer()
    recorder = Recorder(server.app)
    with serve_in_thread(recorder) as url:
        server.set_base_url(url)
        yield Served(url, "sdk", SDK_JSONRPC_PATH, recorder)


@dataclass
class Delivery:
    """One push notification as the webhook received it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Webhook:
    """A push-notification receiver: answers 200 and records each POST."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message: ASGIMessage = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.arrived:
            self.deliveries.append(Delivery(headers, body))
            self.arrived.notify_all()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wait_for(
        self, predicate: Callable[[list[Delivery]], bool], timeout: float = 5.0
    ) -> list[Delivery]:
        """Block until ``predicate(deliveries)`` holds; return the deliveries.

        Blocking: call it from a worker thread (``anyio.to_thread.run_sync``).
        """
        with self.arrived:
            ok = self.arrived.wait_for(lambda: predicate(self.deliveries), timeout)
        assert ok, (
            f"webhook deliveries: {[json.loads(d.body) for d in self.deliveries]}"
        )
        return list(self.deliveries)


@pytest.fixture(scope="session")
def webhook() -> Iterator[Webhook]:
    """A push-notification receiver on 127.0.0.1."""
    receiver = Webhook()
    with serve_in_thread(receiver) as url:
        receiver.url = url + "/hook"
        yield receiver


def assert_lossless(*servers: Served) -> Iterator[None]:
    """Clear the recorders, run the test, then check every payload it caused."""
    for served in servers:
        served.recorder.clear()
    yield
    for served in servers:
        outcome = served.check()
        assert outcome.problems == [], "\n".join(outcome.problems)


# --- clients ----------------------------------------------------------------------------


@dataclass
class SdkClients:
    """Two SDK clients on one card: one blocking (streaming off), one streaming."""

    card: pb.AgentCard
    blocking: SdkClient
    streaming: SdkClient
    binding: str


@asynccontextmanager
async def sdk_clients(
    url: str,
    binding: str,
    headers: dict[str, str] | None = None,
    tenant: str = "",
) -> AsyncIterator[SdkClients]:
    """The SDK's own client factory, pinned to ``binding`` (it picks the transport).

    ``tenant``: pretend the card's interfaces name this tenant (spec §8.3.2 step 4).
    """
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:

        def factory(streaming: bool) -> ClientFactory:
            config = SdkClientConfig(
                httpx_client=http,
                supported_protocol_bindings=[binding],
                streaming=streaming,
            )
            return ClientFactory(config)

        card = await A2ACardResolver(http, url).get_agent_card()
        for interface in card.supported_interfaces:
            interface.tenant = tenant
        blocking = factory(False).create(card)
        streaming = factory(True).create(card)
        try:
            yield SdkClients(card, blocking, streaming, binding)
        finally:
            await streaming.close()
            await blocking.close()


async def drain(events: AsyncIterator[T]) -> list[T]:
    """Every event of a stream (an SDK iterator or an Accord ``EventStream``)."""
    if isinstance(events, EventStream):
        async with events:
            return [event async for event in events]
    return [event async for event in events]


@asynccontextmanager
async def accord_client(url: str, binding: str) -> AsyncIterator[Client]:
    """Accord's client, pinned to ``binding``."""
    config = ClientConfig(preferred_bindings=(binding,))
    async with await Client.connect(url, config=config) as client:
        yield client
