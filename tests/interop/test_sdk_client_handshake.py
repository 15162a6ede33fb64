"""The official SDK's client against the Receptionist with every handshake extension
declared (skill contracts, data minimisation, negotiation, guarantees): none is
required, so an ordinary A2A client reads the card and gets its work done."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format, struct_pb2

from accord.protocol.handshake import (
    GUARANTEES_EXTENSION,
    MINIMISATION_EXTENSION,
    NEGOTIATION_EXTENSION,
    SKILLS_EXTENSION,
)
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.server.handshake.helpers import keyed_receptionist

from .conftest import BINDINGS, SdkClients, sdk_clients

pytestmark = pytest.mark.anyio

KEY = "sdk-handshake-key-0123456789"


@pytest.fixture(scope="module")
def receptionist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("sdk-handshake") / "accord.db"
    with serve_in_thread(keyed_receptionist(db, sdk_partner=KEY)) as url:
        yield url


@pytest.fixture(params=BINDINGS)
async def sdk(
    request: pytest.FixtureRequest, receptionist: str
) -> AsyncIterator[SdkClients]:
    async with sdk_clients(
        receptionist, str(request.param), {"X-API-Key": KEY}
    ) as clients:
        yield clients


def _send(
    part: pb.Part, metadata: dict[str, str] | None = None
) -> pb.SendMessageRequest:
    message = pb.Message(message_id=str(uuid.uuid4()), role=pb.ROLE_USER, parts=[part])
    if metadata:
        json_format.ParseDict(metadata, message.metadata)
    return pb.SendMessageRequest(message=message)


async def _task(sdk: SdkClients, request: pb.SendMessageRequest) -> pb.Task:
    events = [event async for event in sdk.blocking.send_message(request)]
    assert len(events) == 1, events
    assert events[0].HasField("task"), events[0]
    return events[0].task


async def test_the_sdk_reads_the_card_with_every_extension(sdk: SdkClients) -> None:
    extensions = {e.uri: e for e in sdk.card.capabilities.extensions}
    for uri in (
        SKILLS_EXTENSION,
        MINIMISATION_EXTENSION,
        NEGOTIATION_EXTENSION,
        GUARANTEES_EXTENSION,
    ):
        assert uri in extensions
        assert not extensions[uri].required


async def test_the_sdk_books_a_callback_with_a_data_part(sdk: SdkClients) -> None:
    data = struct_pb2.Value()
    json_format.ParseDict(
        {"phone": "+14155550123", "time_window": "tomorrow 9-12", "note": "extra"}, data
    )
    task = await _task(
        sdk,
        _send(
            pb.Part(data=data, media_type="application/json"),
            {"skill": "schedule_callback"},
        ),
    )
    assert task.status.state == pb.TASK_STATE_COMPLETED, task.status
    booking = json_format.MessageToDict(task.artifacts[0].parts[-1].data)
    assert booking["window"] == {
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T12:00:00Z",
    }


async def test_the_sdk_sends_plain_text(sdk: SdkClients) -> None:
    task = await _task(sdk, _send(pb.Part(text="Summary of call-1001")))
    assert task.status.state == pb.TASK_STATE_COMPLETED, task.status
