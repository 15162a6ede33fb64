"""The gRPC client side: interface URLs, the Client's GRPC routes, credentials as
metadata, isolation, and the card listing the interface while it is served."""

from __future__ import annotations

import socket
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from accord import types as t
from accord.client import ApiKey, Client, ClientConfig
from accord.errors import (
    CardError,
    ConnectError,
    TaskNotFoundError,
    UnauthenticatedError,
)
from accord.grpc import GRPC_TRANSPORTS, GrpcServer, GrpcTransport
from accord.grpc.client import grpc_target
from accord.protocol import op
from accord.server import A2AApp, Agent, Engine
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.server.card import build_card
from tests.server.auth.helpers import api_key_scheme, requirement

from .helpers import scripted_agent, send_request, serve_grpc

pytestmark = pytest.mark.anyio

CONFIG = ClientConfig(transports=GRPC_TRANSPORTS, preferred_bindings=("GRPC",))


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


def _interface(url: str) -> t.AgentInterface:
    return t.AgentInterface(url=url, protocol_binding="GRPC", protocol_version="1.0")


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "target", "tls"),
    [
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("localhost:50051", "localhost:50051", False),
        ("[::1]:50051", "[::1]:50051", False),
        ("agent.example:443", "agent.example:443", True),
        ("https://grpc.example.com/a2a", "grpc.example.com:443", True),
        ("grpcs://grpc.example.com:8443", "grpc.example.com:8443", True),
        ("http://127.0.0.1:9000/ignored/path", "127.0.0.1:9000", False),
        ("grpc://agent.example", "agent.example:80", False),
    ],
)
def test_interface_urls(url: str, target: str, tls: bool) -> None:
    assert grpc_target(url) == (target, tls)


@pytest.mark.parametrize("url", ["ftp://x.example", "https://", ":50051"])
def test_bad_interface_urls(url: str) -> None:
    with pytest.raises(ValueError, match="gRPC interface URL"):
        grpc_target(url)


async def test_client_uses_the_grpc_interface() -> None:
    async with (
        serve_grpc() as s,
        Client.from_interface(_interface(s.server.url), config=CONFIG) as client,
    ):
        task = await client.send_message("echo over grpc")
        assert isinstance(task, t.Task)
        assert task.artifacts[0].parts[0].text == "over grpc"
        assert (await client.get_task(task.id)).id == task.id
        with pytest.raises(TaskNotFoundError):
            await client.get_task("missing")


async def test_without_the_grpc_transports_the_client_refuses() -> None:
    card = t.AgentCard(
        name="g",
        supported_interfaces=(_interface("127.0.0.1:1"),),
        capabilities=t.AgentCapabilities(),
    )
    with pytest.raises(CardError, match="GRPC"):
        Client(card)
    with pytest.raises(ValueError, match="GRPC_TRANSPORTS"):
        Client(card, config=ClientConfig(preferred_bindings=("GRPC",)))


async def test_unreachable_is_connect_error_and_the_client_falls_back() -> None:
    dead = f"127.0.0.1:{_dead_port()}"
    async with GrpcTransport(dead) as transport:
        with pytest.raises(ConnectError):
            await transport.call(op("GetTask"), t.GetTaskRequest(id="x"))
    async with serve_grpc() as s:
        card = t.AgentCard(
            name="two",
            supported_interfaces=(_interface(dead), _interface(s.server.url)),
            capabilities=t.AgentCapabilities(),
        )
        async with Client(card, config=CONFIG) as client:
            task = await client.send_message("echo fell back")
            assert isinstance(task, t.Task)
            assert task.artifacts[0].parts[0].text == "fell back"


KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdefgh"}


def _secured_agent(**card: Any) -> tuple[Agent, dict[str, ApiKeyVerifier]]:
    agent = scripted_agent(
        security_schemes={"key": api_key_scheme("header", "X-API-Key")},
        security_requirements=(requirement(key=[]),),
        **card,
    )
    ring = ApiKeyRing()
    for who, key in KEYS.items():
        ring.add(key, principal=who)
    return agent, {"key": ApiKeyVerifier(ring)}


async def test_credentials_travel_as_metadata_and_tasks_stay_private() -> None:
    agent, auth = _secured_agent()
    async with serve_grpc(agent, auth=auth) as s:
        card = t.replace(
            build_card(agent, "http://unused.invalid"),
            supported_interfaces=(_interface(s.server.url),),
        )
        with pytest.raises(UnauthenticatedError):
            await s.transport.call(op("SendMessage"), send_request("echo anon"))
        async with Client(
            card, config=CONFIG, credentials=[ApiKey(KEYS["alice"])]
        ) as alice:
            task = await alice.send_message("echo mine")
            assert isinstance(task, t.Task)
        async with Client(
            card, config=CONFIG, credentials=[ApiKey(KEYS["bob"])]
        ) as bob:
            with pytest.raises(TaskNotFoundError):
                await bob.get_task(task.id)
            listed = await bob.list_tasks()
            assert task.id not in [x.id for x in listed.tasks]
        async with GrpcTransport(
            s.server.url, headers={"X-API-Key": "wrong-key-0123456789abcdef"}
        ) as wrong:
            with pytest.raises(UnauthenticatedError):
                await wrong.call(op("GetTask"), t.GetTaskRequest(id=task.id))


async def test_the_card_lists_grpc_while_it_is_served() -> None:
    app = A2AApp(scripted_agent())
    servers: list[GrpcServer] = []

    def front_end(engine: Engine) -> AbstractAsyncContextManager[GrpcServer]:
        server = GrpcServer(engine)
        servers.append(server)
        return server.serving()

    app.add_front_end(front_end)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://agent.test"
    ) as http:
        async with app.running():
            card = (await http.get("/.well-known/agent-card.json")).json()
            (server,) = servers
            assert card["supportedInterfaces"][-1] == {
                "url": server.url,
                "protocolBinding": "GRPC",
                "protocolVersion": "1.0",
            }
            assert [i["protocolBinding"] for i in card["supportedInterfaces"]] == [
                "JSONRPC",
                "HTTP+JSON",
                "GRPC",
            ]
        assert app.engine.advertised == ()


async def test_an_extended_card_listing_no_interfaces_lists_every_served_one() -> None:
    # An extended card without interfaces is served where the public card is: the
    # HTTP interfaces as the caller sees them, and gRPC while it listens; a gRPC
    # caller has no HTTP base URL, so it is told the gRPC one.
    agent, auth = _secured_agent(
        extended_card=t.AgentCard(
            name="Scripted for partners",
            description="more skills",
            version="1.0.0",
            capabilities=t.AgentCapabilities(extended_agent_card=True),
        )
    )
    app = A2AApp(agent, auth=auth)
    servers: list[GrpcServer] = []

    def front_end(engine: Engine) -> AbstractAsyncContextManager[GrpcServer]:
        server = GrpcServer(engine)
        servers.append(server)
        return server.serving()

    app.add_front_end(front_end)
    key = {"X-API-Key": KEYS["alice"]}
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://agent.test") as http,
        app.running(),
    ):
        (server,) = servers
        over_http = await http.get(
            "/extendedAgentCard", headers={**key, "A2A-Version": "1.0"}
        )
        async with GrpcTransport(server.url, headers=key) as grpc_client:
            over_grpc = await grpc_client.call(
                op("GetExtendedAgentCard"), t.GetExtendedAgentCardRequest()
            )
    assert over_http.status_code == 200, over_http.text
    assert over_http.json()["name"] == "Scripted for partners"
    assert over_http.json()["supportedInterfaces"] == [
        {
            "url": "http://agent.test/",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        },
        {
            "url": "http://agent.test",
            "protocolBinding": "HTTP+JSON",
            "protocolVersion": "1.0",
        },
        {"url": server.url, "protocolBinding": "GRPC", "protocolVersion": "1.0"},
    ]
    assert over_grpc.name == "Scripted for partners"
    assert over_grpc.supported_interfaces == (server.interface,)
