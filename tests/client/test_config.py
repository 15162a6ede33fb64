"""Configuration values, documented exports, and bring-your-own transports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import pytest

import accord.client
from accord.client import Client, ClientConfig, ClientTimeouts, Transport
from accord.protocol.operations import Operation
from accord.types import AgentInterface, StreamResponse, TaskState

from .helpers import status_event, task


def test_every_export_is_documented() -> None:
    # The list itself is snapshotted in tests/test_public_api.py.
    for name in accord.client.__all__:
        assert getattr(accord.client, name).__doc__, name


def test_default_timeouts() -> None:
    timeouts = ClientTimeouts()

    assert (timeouts.connect, timeouts.read, timeouts.stream_read) == (
        10.0,
        300.0,
        None,
    )
    assert timeouts.for_call().read == 300.0
    assert timeouts.for_stream().read is None
    assert timeouts.for_stream().connect == 10.0
    assert timeouts.for_card().read == 30.0


def test_config_is_frozen_and_copies_headers() -> None:
    headers = {"Authorization": "Bearer x"}
    config = ClientConfig(preferred_bindings=("JSONRPC",), headers=headers)
    headers["Authorization"] = "changed"

    assert config.headers["Authorization"] == "Bearer x"
    with pytest.raises(AttributeError):
        config.card_max_age = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.headers["X"] = "y"  # type: ignore[index]
    assert hash(config) == hash(ClientConfig(preferred_bindings=("JSONRPC",)))


def test_config_validation() -> None:
    with pytest.raises(TypeError, match="tuple of binding names"):
        ClientConfig(preferred_bindings="JSONRPC")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        ClientConfig(card_max_age=-1)


class RecordingTransport:
    """A Transport implemented in a few lines, as a custom binding would be."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closed = False

    async def call(self, operation: Operation, params: Any) -> Any:
        self.calls.append((operation.name, params))
        return task()

    async def stream(
        self, operation: Operation, params: Any, *, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[StreamResponse, str | None]]:
        self.calls.append((operation.name, params))
        yield status_event(TaskState.WORKING), "a"
        yield status_event(TaskState.COMPLETED), None

    async def aclose(self) -> None:
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@pytest.mark.anyio
async def test_a_client_over_a_custom_transport() -> None:
    transport = RecordingTransport()
    checked: Transport = transport  # satisfies the protocol (mypy checks this line)
    iface = AgentInterface(
        url="custom://x", protocol_binding="CUSTOM", protocol_version="1.0", tenant="t"
    )
    async with Client.from_transport(checked, interface=iface) as client:
        assert await client.get_task("t-1") == task()
        async with client.subscribe("t-1") as stream:
            ids = [stream.last_event_id async for _ in stream]

    assert ids == ["a", "a"]  # an event without an id keeps the last one (SSE)
    assert [params.tenant for _, params in transport.calls] == ["t", "t"]
    assert transport.closed
    assert client.card is None
    assert repr(client) == "<Client custom://x>"
