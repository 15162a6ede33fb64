"""Request headers are read however the ASGI server hands them over: a list of pairs
(the norm), any iterable of pairs, or names as ``bytearray``; the first of a repeated
header is the one read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio
import pytest

from accord.server import A2AApp, Agent, ServerLimits, TaskContext
from accord.server.context import CallContext
from accord.server.interceptors import CallInfo, Interceptor
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


class _Seen(Interceptor):
    """Keeps the call context of every call."""

    def __init__(self) -> None:
        self.contexts: list[CallContext] = []

    async def before(self, call: CallInfo) -> None:
        self.contexts.append(call.context)


async def test_the_context_reads_headers_by_any_name() -> None:
    # Some names are looked up by their bytes at hand, the others encoded: the
    # context's header reads both, and perform fills extensions and traceparent.
    seen = _Seen()
    app = A2AApp(
        Agent(_echo, name="Echo", description="for tests"),
        store=MemoryTaskStore(),
        interceptors=[seen],
    )
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    pairs = [
        *_headers(),
        (b"traceparent", parent.encode()),
        (b"a2a-extensions", b"urn:x:one, urn:x:two"),
        (b"x-custom", b"caf\xe9"),
        (b"last-event-id", b"3"),
    ]
    async with app.running():
        with anyio.fail_after(10):
            status, _ = await _call(app, pairs)
    assert status == 200
    (ctx,) = seen.contexts
    assert ctx.traceparent == parent
    assert ctx.extensions == ("urn:x:one", "urn:x:two")
    assert ctx.header("a2a-extensions") == "urn:x:one, urn:x:two"
    assert ctx.header("x-custom") == "café"  # latin-1, as ASGI hands it over
    assert ctx.header("authorization") is None
    assert ctx.header("x-absent") is None


async def test_a_declared_length_over_the_limit_is_refused_before_the_body() -> None:
    app = A2AApp(
        Agent(_echo, name="Echo", description="for tests"),
        store=MemoryTaskStore(),
        limits=ServerLimits(max_body_bytes=64),
    )
    async with app.running():
        with anyio.fail_after(10):
            # The body itself is small: only the declared length is over the limit.
            status, answer = await asgi_post(
                app, [b"{}"], [*_headers(), (b"content-length", b"65")]
            )
            assert status == 413, answer
            # A length that is not an unsigned decimal is not believed: the body
            # is read, and judged as it is.
            body = send_message_body("hi", 7)[:64]
            status, _ = await asgi_post(
                app, [body], [*_headers(), (b"content-length", b"+65")]
            )
            assert status != 413


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        (b"application/json", True),  # the usual one, not read as text
        (b"application/json; charset=utf-8", True),
        (b"Application/JSON", True),
        (b"application/a2a+json", True),
        (None, True),
        (b"text/plain", False),
        (b"application/jsonx", False),
    ],
)
async def test_the_content_type_of_a_json_rpc_call(
    content_type: bytes | None, accepted: bool
) -> None:
    pairs = [(b"host", b"agent.test"), (b"a2a-version", b"1.0")]
    if content_type is not None:
        pairs.append((b"content-type", content_type))
    app = A2AApp(
        Agent(_echo, name="Echo", description="for tests"), store=MemoryTaskStore()
    )
    async with app.running():
        with anyio.fail_after(10):
            _, answer = await _call(app, pairs)
    assert ("result" in answer) is accepted, answer
