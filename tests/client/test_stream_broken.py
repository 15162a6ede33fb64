"""Event streams as a proxy may pass them on: cut short, or compressed.

Behind a proxy, an instance that dies mid-stream does not close the connection cleanly:
the proxy cuts the chunked body short, and httpx reports a protocol error. Once the
stream has named its task, the client raises IncompleteStreamError (a TransportError)
with the task id and the last SSE id, as for a stream that ended early; before that,
the TransportError stays as it is. And a body a proxy compressed is still decoded.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from accord import errors
from accord.client import Client
from accord.types import StreamResponse, TaskState, encode

from .helpers import interface, make_card, status_event, task

pytestmark = pytest.mark.anyio


class _CutBody(httpx.AsyncByteStream):
    """An SSE body: ``frames``, then the connection breaks."""

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


def _frame(event: StreamResponse, event_id: str) -> bytes:
    return b"id: " + event_id.encode() + b"\ndata: " + encode(event) + b"\n\n"


@asynccontextmanager
async def _client(frames: list[bytes]) -> AsyncIterator[Client]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_CutBody(frames)
        )

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
        Client(make_card(interface("HTTP+JSON")), http=http) as client,
    ):
        yield client


async def test_a_broken_connection_after_the_task_is_an_incomplete_stream() -> None:
    frames = [
        _frame(StreamResponse(task=task()), "1"),
        _frame(status_event(TaskState.WORKING), "2"),
    ]
    async with _client(frames) as client, client.subscribe("t-1") as stream:
        assert len([await anext(stream), await anext(stream)]) == 2
        with pytest.raises(errors.IncompleteStreamError) as caught:
            await anext(stream)
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    assert caught.value.task_id == "t-1"
    assert caught.value.state is TaskState.WORKING
    assert caught.value.last_event_id == "2"
    assert isinstance(caught.value.__cause__, errors.TransportError)


async def test_a_broken_connection_before_any_event_stays_a_transport_error() -> None:
    async with _client([]) as client, client.subscribe("t-1") as stream:
        with pytest.raises(errors.TransportError) as caught:
            await anext(stream)
    assert not isinstance(caught.value, errors.IncompleteStreamError)
    assert "complete message body" in str(caught.value)


async def test_a_compressed_event_stream_is_decoded() -> None:
    """An encoded body (a proxy may gzip it) goes through httpx's decoders."""
    frames = _frame(StreamResponse(task=task()), "1") + _frame(
        status_event(TaskState.COMPLETED), "2"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=gzip.compress(frames))

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
        Client(make_card(interface("HTTP+JSON")), http=http) as client,
        client.subscribe("t-1") as stream,
    ):
        events = [event async for event in stream]
    assert len(events) == 2
    assert stream.state is TaskState.COMPLETED
    assert stream.last_event_id == "2"
