"""Extensions activated by the client (spec §4.6: the URIs it lists in
``A2A-Extensions``, gRPC metadata ``a2a-extensions``), over every binding: a message's
own ``extensions``, an :func:`~accord.client.activating` block, a stream whose first
event is read outside the block it was made in, and the handshake's messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from accord.client import Client, MemoryTransport, activating
from accord.client.handshake import propose
from accord.demo.receptionist import create_app
from accord.protocol.handshake import NEGOTIATION_EXTENSION
from accord.server import Interceptor
from accord.server.auth import ApiKeyRing
from accord.server.interceptors import CallInfo
from accord.types import Message, Part, Role

from .helpers import NOW, connect, with_grpc

pytestmark = pytest.mark.anyio

KEY = "activation-key-0123456789"
BINDINGS = ("JSONRPC", "HTTP+JSON", "GRPC")
EXT_A = "urn:example:a2a:first:v1"
EXT_B = "urn:example:a2a:second:v1"


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


class Activated(Interceptor):
    """Records the extensions each call activated, as the server read them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[str, ...]]] = []

    async def before(self, call: CallInfo) -> None:
        self.seen.append((call.operation.name, call.context.extensions))


@pytest.fixture
def activated() -> Activated:
    return Activated()


@pytest.fixture(params=BINDINGS)
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, activated: Activated
) -> AsyncIterator[Client]:
    ring = ApiKeyRing()
    ring.add(KEY, principal="partner")
    app = create_app(
        str(tmp_path / "accord.db"),
        keys=ring,
        clock=lambda: NOW,
        pace=0.0,
        interceptors=[activated],
    )
    async for connected in connect(
        with_grpc(app), str(request.param), **{"X-API-Key": KEY}
    ):
        yield connected


def _message(*extensions: str) -> Message:
    return Message(
        message_id=f"m-{len(extensions)}",
        role=Role.USER,
        parts=(Part(text="Summary of call-1001"),),
        extensions=extensions,
    )


async def test_a_message_activates_its_own_extensions(
    client: Client, activated: Activated
) -> None:
    await client.send_message(_message(EXT_A, EXT_B))
    await client.send_message(_message())
    assert activated.seen == [("SendMessage", (EXT_A, EXT_B)), ("SendMessage", ())]


async def test_an_activating_block_merges_with_the_message(
    client: Client, activated: Activated
) -> None:
    with activating(EXT_A):
        await client.send_message(_message(EXT_B, EXT_A))
    assert activated.seen == [("SendMessage", (EXT_A, EXT_B))]


async def test_a_stream_activates_when_read_outside_its_block(
    client: Client, activated: Activated
) -> None:
    with activating(EXT_A):
        stream = client.send_streaming_message(_message(EXT_B))
    async with stream:
        async for _ in stream:
            pass
    assert activated.seen == [("SendStreamingMessage", (EXT_A, EXT_B))]


async def test_a_proposal_activates_the_negotiation_extension(
    client: Client, activated: Activated
) -> None:
    await propose(
        client,
        "schedule_callback",
        {"phone": "+14155550123", "time_window": "2026-11-30 10-12"},
    )
    assert activated.seen == [("SendMessage", (NEGOTIATION_EXTENSION,))]


@pytest.mark.parametrize("stream", [False, True])
async def test_the_answer_echoes_the_declared_extensions_it_activated(
    tmp_path: Path, stream: bool
) -> None:
    """HTTP+JSON; the echo is the same code for JSON-RPC (server/pipelines.py)."""
    ring = ApiKeyRing()
    ring.add(KEY, principal="partner")
    app = create_app(
        str(tmp_path / "accord.db"), keys=ring, clock=lambda: NOW, pace=0.0
    )
    body = {
        "message": {
            "messageId": "m-echo",
            "role": "ROLE_USER",
            "parts": [{"text": "Summary of call-1001"}],
        }
    }
    path = "/message:stream" if stream else "/message:send"
    headers = {"X-API-Key": KEY, "A2A-Version": "1.0"}
    async with httpx.AsyncClient(
        transport=MemoryTransport(app), base_url="http://agent"
    ) as http:
        listed = {**headers, "A2A-Extensions": f"{EXT_A}, {NEGOTIATION_EXTENSION}"}
        answer = await http.post(path, json=body, headers=listed)
        assert answer.status_code == 200, answer.text
        # The unknown URI is ignored (spec §4.6); the declared one is active.
        assert answer.headers["a2a-extensions"] == NEGOTIATION_EXTENSION
        plain = await http.post(path, json=body, headers=headers)
        assert plain.status_code == 200
        assert "a2a-extensions" not in plain.headers
        unknown = await http.post(
            path, json=body, headers={**headers, "A2A-Extensions": EXT_A}
        )
        assert "a2a-extensions" not in unknown.headers
