"""A running engine and an A2A client that talks to its ASGI app in memory."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from accord.client import Client, MemoryTransport
from accord.server import A2AApp
from accord.types import AgentInterface

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from accord.server import Engine

__all__ = ["BASE", "engine_client"]

#: The base URL the client uses (nothing listens: requests go to the app in memory).
BASE = "http://agent.test"


@asynccontextmanager
async def engine_client(
    engine: Engine, binding: str = "JSONRPC"
) -> AsyncIterator[Client]:
    """Run ``engine`` and yield a :class:`Client` over ``binding`` to its app, with no
    sockets (``MemoryTransport``); both are closed on exit."""
    face = AgentInterface(url=BASE, protocol_binding=binding, protocol_version="1.0")
    async with (
        engine.running(),
        httpx.AsyncClient(
            transport=MemoryTransport(A2AApp.from_engine(engine)), base_url=BASE
        ) as http,
        Client.from_interface(face, http=http) as client,
    ):
        yield client
