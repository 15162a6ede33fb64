"""A POST straight into an ASGI app, no HTTP: for tests of how the app reads what an
ASGI server hands it (header shapes, a body in chunks)."""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from typing import Any

import anyio

from accord.server import A2AApp


def send_message_body(text: str, request_id: int = 1) -> bytes:
    """A JSON-RPC SendMessage with one text part."""
    message = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": text}]}
    request = {"jsonrpc": "2.0", "id": request_id, "method": "SendMessage"}
    return json.dumps({**request, "params": {"message": message}}).encode()


async def asgi_post(
    app: A2AApp, chunks: list[bytes], headers: Iterable[Any]
) -> tuple[int, dict[str, Any]]:
    """POST ``chunks`` (one ``http.request`` message each) to ``/`` of a running
    ``app`` with ``headers`` as given; the status and the decoded JSON answer."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    pending.reverse()
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


async def complete_lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI lifespan's startup and shutdown (for plain test apps)."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return
