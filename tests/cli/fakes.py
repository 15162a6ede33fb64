"""Tiny ASGI apps that misbehave on purpose (bad cards, auth walls)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def static(
    status: int, body: bytes, content_type: bytes = b"application/json"
) -> ASGIApp:
    """Answer every request with the same response."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await _respond(send, status, body, content_type)

    return app


def bearer_wall(inner: ASGIApp, token: str, *, protect_card: bool = False) -> ASGIApp:
    """Answer 401 (no token) or 403 (wrong token) unless ``Bearer <token>`` is sent."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            not protect_card and scope["path"].startswith("/.well-known/")
        ):
            await inner(scope, receive, send)
            return
        headers = dict(scope["headers"])
        sent = headers.get(b"authorization", b"").decode()
        if sent == f"Bearer {token}":
            await inner(scope, receive, send)
        elif sent:
            await _respond(send, 403, b"forbidden", b"text/plain")
        else:
            await _respond(send, 401, b"who are you?", b"text/plain")

    return app
