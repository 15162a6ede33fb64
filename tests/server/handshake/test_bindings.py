"""Skill contracts and data minimisation over every binding (JSON-RPC, HTTP+JSON,
gRPC) with the Receptionist's example configuration: an undeclared field is stripped
before the agent sees it, and a schema violation is invalid-params naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from accord.client import Client
from accord.errors import InvalidParamsError
from accord.types import Message, Part, Role, Task, TaskState, data_of

from .helpers import connect, keyed_receptionist, with_grpc

pytestmark = pytest.mark.anyio

KEY = "bindings-key-0123456789"


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["JSONRPC", "HTTP+JSON", "GRPC"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Client]:
    app = with_grpc(keyed_receptionist(tmp_path / "accord.db", partner=KEY))
    async for connected in connect(app, str(request.param), **{"X-API-Key": KEY}):
        yield connected


def callback(data: dict[str, object]) -> Message:
    return Message(
        message_id=f"m-{sorted(data)}",
        role=Role.USER,
        parts=(Part(data=data),),
        metadata={"skill": "schedule_callback"},
    )


async def test_undeclared_data_is_stripped(client: Client) -> None:
    task = await client.send_message(
        callback(
            {
                "phone": "+14155550123",
                "time_window": "tomorrow 9-12",
                "email": "ann@example.com",
            }
        )
    )
    assert isinstance(task, Task)
    assert task.status.state is TaskState.COMPLETED
    assert data_of(task)[0]["phone"] == "+14155550123"
    history = await client.get_task(task.id, history_length=10)
    assert "ann@example.com" not in repr(history)  # never stored


async def test_a_schema_violation_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidParamsError, match="phone is not string") as caught:
        await client.send_message(callback({"phone": 14155550123}))
    assert caught.value.field_violations == (
        ("message.parts[0].data.phone", "is not string"),
    )
