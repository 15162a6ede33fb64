"""Handshake test helpers: the Receptionist behind a static bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from accord.client import Client, ClientConfig, MemoryTransport
from accord.demo.receptionist import create_agent, create_app
from accord.server import A2AApp, Agent
from accord.server.auth import ApiKeyRing, Principal
from accord.server.auth.verifier import Credential, CredentialRejected
from accord.types import (
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

#: The bearer token the test agents accept (principal ``partner``).
TOKEN = "founding-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
#: The Receptionist's clock in these tests: a Monday morning.
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class StaticBearer:
    """Accepts one bearer token (what a partner's gateway might hand out)."""

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        if scheme.http_auth_security_scheme is None:
            raise ValueError("StaticBearer serves an HTTP bearer scheme")

    async def verify(self, credential: Credential) -> Principal:
        if credential.value != TOKEN:
            raise CredentialRejected("unknown token")
        return Principal(id="partner", scheme=credential.scheme_name)


def bearer_receptionist(db: Path) -> Agent:
    """The Receptionist, with a bearer scheme instead of its API key."""
    agent = create_agent(str(db), clock=lambda: NOW, pace=0.0, secured=False)
    agent.security_schemes = {
        "bearer": SecurityScheme(
            http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer")
        )
    }
    agent.security_requirements = (
        SecurityRequirement(schemes={"bearer": StringList()}),
    )
    return agent


def keyed_receptionist(db: Path, **keys: str) -> A2AApp:
    """The Receptionist's example configuration (every handshake extension), on
    :data:`NOW`, accepting ``principal=KEY`` API keys, with no pace."""
    ring = ApiKeyRing()
    for principal, key in keys.items():
        ring.add(key, principal=principal)
    return create_app(str(db), keys=ring, clock=lambda: NOW, pace=0.0)


def auth() -> dict[str, Any]:
    """The ``auth`` argument of A2AApp for :func:`bearer_receptionist`."""
    return {"bearer": StaticBearer()}


def with_grpc(app: A2AApp) -> A2AApp:
    """``app`` with a gRPC front end on loopback (listed in its card)."""
    from accord.grpc import GrpcServer

    app.add_front_end(lambda engine: GrpcServer(engine).serving())
    return app


async def connect(app: A2AApp, binding: str, **headers: str) -> AsyncIterator[Client]:
    """An Accord client of ``app`` (in process; gRPC over loopback) on ``binding``."""
    from accord.grpc import GRPC_TRANSPORTS

    config = ClientConfig(
        transports=GRPC_TRANSPORTS, preferred_bindings=(binding,), headers=headers
    )
    transport = MemoryTransport(app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://agent") as http,
        await Client.connect("http://agent", http=http, config=config) as client,
    ):
        assert client.interface is not None
        assert client.interface.protocol_binding == binding
        yield client
