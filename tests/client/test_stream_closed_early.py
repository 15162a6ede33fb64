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
import pytest

from accord.client import Client
from accord.server import Agent, Engine, TaskContext
from tests.helpers.in_memory import engine_client

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def _client(binding: str, release: anyio.Event) -> AsyncIterator[Client]:
    async def run(ctx: TaskContext) -> None:
        await ctx.working("one")
        await release.wait()
        await ctx.complete("done")

    engine = Engine(Agent(run, name="Held", description="waits"))
    async with engine_client(engine, binding) as client:
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
