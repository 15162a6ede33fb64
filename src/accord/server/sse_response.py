"""The SSE response: frames an :class:`~accord.server.streams.HandlerStream` on ASGI.

One task sends frames while another watches for ``http.disconnect`` (whichever ends
first cancels the other, as Starlette's StreamingResponse does) and a third sends a
keep-alive comment when the stream has been quiet, so proxies with idle timeouts keep
the connection open. Sends are serialised by a lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import InternalError, ProtocolError
from accord.protocol import sse

if TYPE_CHECKING:
    from accord.types import StreamResponse

    from .streams import HandlerStream

__all__ = ["send_event_stream"]

logger = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def send_event_stream(
    receive: Receive,
    send: Send,
    stream: HandlerStream,
    encode: Callable[[StreamResponse], bytes],
    encode_error: Callable[[ProtocolError], bytes],
    *,
    keepalive_interval: float,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Answer with ``stream`` as SSE: one event per item (``id:`` = its sequence
    number), a comment after ``keepalive_interval`` seconds of silence, and an
    ``event: error`` if the stream fails after it began; a client disconnect stops
    the stream (never the task). ``headers``: more response headers.
    """
    lock = anyio.Lock(fast_acquire=True)
    last_sent = time.monotonic()
    interval = keepalive_interval

    async def emit(chunk: bytes) -> None:
        nonlocal last_sent
        async with lock:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            last_sent = time.monotonic()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        tg.cancel_scope.cancel()

    async def keepalive() -> None:
        while True:
            await anyio.sleep(max(0.01, interval - (time.monotonic() - last_sent)))
            if time.monotonic() - last_sent >= interval:
                await emit(sse.encode_comment("keep-alive"))

    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                    *headers,
                ],
            }
        )
    except BaseException:
        # The stream's subscription is already open: release it when the response
        # cannot even start (the client went away, the request was cancelled).
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise
    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(watch_disconnect)
        tg.start_soon(keepalive)
        try:
            async for seq, event in stream:
                await emit(
                    sse.encode_event(
                        encode(event), id=None if seq is None else str(seq)
                    )
                )
        except ProtocolError as error:
            # spec §9.4.2, §11.7: an error after the stream began is sent as an event.
            await emit(sse.encode_event(encode_error(error), event="error"))
        except Exception:
            logger.exception("stream failed")
            await emit(sse.encode_event(encode_error(InternalError()), event="error"))
        async with lock:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        tg.cancel_scope.cancel()
