"""Gates that order a test's events without sleeps.

:class:`FirstEventGate` holds an agent's work until the server has sent the first event
of an SSE response (for SubscribeToTask, the task snapshot, spec §3.1.6): from then
on the subscriber is attached and sees every later event, however loaded the machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

__all__ = ["GATE_TIMEOUT", "FirstEventGate"]

#: Seconds an agent waits at a gate before failing (a test that never opens it).
GATE_TIMEOUT = 20.0

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class FirstEventGate:
    """Opens once the wrapped app has sent an SSE event.

    Serve ``gate.wrap(app)`` and let the agent ``await gate.wait()`` between its steps
    (e.g. as the Receptionist's ``pause``). Both run on the server's event loop, so
    the gate is a plain :class:`anyio.Event`, created there on first use.
    """

    def __init__(self) -> None:
        self._opened: anyio.Event | None = None

    def _event(self) -> anyio.Event:
        if self._opened is None:
            self._opened = anyio.Event()
        return self._opened

    async def wait(self) -> None:
        """Return once an SSE event has been sent (fail after :data:`GATE_TIMEOUT`)."""
        with anyio.fail_after(GATE_TIMEOUT):
            await self._event().wait()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app``, opening this gate when a response body carries an SSE event."""

        async def gated(
            scope: MutableMapping[str, Any], receive: Receive, send: Send
        ) -> None:
            streaming = False

            async def watch(message: Message) -> None:
                nonlocal streaming
                await send(message)
                if message["type"] == "http.response.start":
                    headers = dict(message.get("headers", ()))
                    content_type = headers.get(b"content-type", b"")
                    streaming = content_type.startswith(b"text/event-stream")
                elif (
                    streaming
                    and message["type"] == "http.response.body"
                    and b"data:" in message.get("body", b"")
                ):
                    self._event().set()

            await app(scope, receive, watch if scope["type"] == "http" else send)

        return gated
