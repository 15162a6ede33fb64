"""Request headers are read however the ASGI server hands them over: a list of pairs
(the norm), any iterable of pairs, or names as ``bytearray``; the first of a repeated
header is the one read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio
import pytest

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from tests.helpers.asgi import asgi_post, send_message_body

pytestmark = pytest.mark.anyio

Pairs = list[tuple[bytes, bytes]]


async def _echo(ctx: TaskContext) -> None:
    await ctx.reply(ctx.text)


async def _call(app: A2AApp, headers: Iterable[Any]) -> tuple[int, dict[str, Any]]:
    return await asgi_post(app, [send_message_body("hi", 7)], headers)


def _headers(version: bytes = b"1.0") -> Pairs:
    return [
        (b"host", b"agent.test"),
        (b"content-type", b"application/json"),
        (b"a2a-version", version),
    ]


SHAPES: dict[str, Callable[[Pairs], Iterable[Any]]] = {
    "list": list,
    "tuple": tuple,
    "iterator": iter,
    "bytearray names": lambda pairs: [(bytearray(k), v) for k, v in pairs],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_headers_in_any_shape_are_read(shape: str) -> None:
    app = A2AApp(
        Agent(_echo, name="Echo", description="for tests"), store=MemoryTaskStore()
    )
    async with app.running():
        with anyio.fail_after(10):
            status, answer = await _call(app, SHAPES[shape](_headers()))
    assert status == 200
    assert answer["id"] == 7
    assert answer["result"]["message"]["parts"] == [{"text": "hi"}]


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_the_first_of_a_repeated_header_counts(shape: str) -> None:
    # An unsupported version first: the request is refused even though a supported
    # one follows, so the first value is the one read.
    pairs = [*_headers(b"9.9"), (b"a2a-version", b"1.0")]
    app = A2AApp(
        Agent(_echo, name="Echo", description="for tests"), store=MemoryTaskStore()
    )
    async with app.running():
        with anyio.fail_after(10):
            status, answer = await _call(app, SHAPES[shape](pairs))
    assert answer["error"]["data"][0]["reason"] == "VERSION_NOT_SUPPORTED", (
        status,
        answer,
    )
