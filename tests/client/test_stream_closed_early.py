"""A stream closed before its end, over MemoryTransport, leaves nothing to the GC.

On trio, an async generator that is dropped before it finished is reported as a
ResourceWarning (an error in this suite). httpx's ``aiter_bytes()`` iterates nested
generators of its own that closing it does not close; the client reads a plain
response body from the response stream's iterator instead, and closes it. Over
MemoryTransport, whose body is not a generator, nothing is left behind: this test runs
without the HTTPX_TRIO_WARNINGS filter, on both back ends.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.server import A2AApp, Agent, Engine, TaskContext
from accord.types import AgentInterface

pytestmark = pytest.mark.anyio

BASE = "http://agent.test"


@asynccontextmanager
async def _client(binding: str, release: anyio.Event) -> AsyncIterator[Client]:
    async def run(ctx: TaskContext) -> None:
        await ctx.working("one")
        await release.wait()
        await ctx.complete("done")

    engine = Engine(Agent(run, name="Held", description="waits"))
    face = AgentInterface(url=BASE, protocol_binding=binding, protocol_version="1.0")
    async with (
        engine.running(),
        httpx.AsyncClient(
            transport=MemoryTransport(A2AApp.from_engine(engine)), base_url=BASE
        ) as http,
        Client.from_interface(face, http=http) as client,
    ):
        try:
            yield client
        finally:
            release.set()


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_closing_streams_early_leaves_no_generator(binding: str) -> None:
    release = anyio.Event()
    async with _client(binding, release) as client:
        with anyio.fail_after(10):
            async with client.send_streaming_message("hi") as sent:
                first = await anext(sent)
                assert first.task is not None
            async with client.subscribe(first.task.id) as followed:
                assert (await anext(followed)).task is not None
    gc.collect()  # a dropped generator would be reported here, failing the test
