"""Relay an agent's stream to the page as SSE, bounded in time.

One task relays the agent's events (each ``event: a2a``, then ``event: end`` with why
it ended, or ``event: error``); another watches for the page leaving, which closes the
agent stream, never the task (spec §4.2); a third sends a keep-alive comment when the
stream has been quiet, so proxies keep the connection open. After ``stream_seconds``
the relay ends with the reason "time limit": the page can follow the task again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio

from accord.protocol import sse
from accord.types import to_builtins

from ._asgi import Receive, Send, security_headers

if TYPE_CHECKING:
    from accord.client import EventStream

    from ._session import Session
    from .limits import ConsoleLimits

__all__ = ["TIME_LIMIT", "relay"]

#: The ``end`` reason of a stream cut at ``stream_seconds``.
TIME_LIMIT = "time limit: follow the task again from its page"

#: Describes a failure for the page: (HTTP status, message, kind).
Explain = Callable[[Exception], tuple[int, str, str]]


def _event(name: str, value: Any) -> bytes:
    return sse.encode_event(json.dumps(value).encode(), event=name)


async def relay(
    receive: Receive,
    send: Send,
    session: Session,
    open_stream: Callable[[], EventStream | AsyncIterator[Any]],
    limits: ConsoleLimits,
    explain: Explain,
) -> None:
    """Answer with the events of ``open_stream()`` as SSE (see the module docstring);
    each event also goes into the session's timeline of its task."""
    lock = anyio.Lock()
    last = anyio.current_time()

    async def emit(chunk: bytes) -> None:
        nonlocal last
        async with lock:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last = anyio.current_time()

    async def events() -> None:
        stream = open_stream()
        try:
            with anyio.move_on_after(limits.stream_seconds) as limit:
                async for event in stream:
                    session.record(event)
                    await emit(_event("a2a", to_builtins(event)))
            reason = TIME_LIMIT if limit.cancelled_caught else "done"
            await emit(_event("end", {"reason": reason}))
        except Exception as exc:
            _, message, kind = explain(exc)
            await emit(_event("error", {"error": message, "kind": kind}))
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
        tg.cancel_scope.cancel()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        tg.cancel_scope.cancel()

    async def keepalive() -> None:
        while True:
            await anyio.sleep(
                max(0.01, limits.keepalive - (anyio.current_time() - last))
            )
            if anyio.current_time() - last >= limits.keepalive:
                await emit(sse.encode_comment("keep-alive"))

    headers = [
        (b"content-type", b"text/event-stream"),
        (b"x-accel-buffering", b"no"),
        *security_headers(),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    async with anyio.create_task_group() as tg:
        tg.start_soon(events)
        tg.start_soon(watch)
        tg.start_soon(keepalive)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
