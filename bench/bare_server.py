"""The ceiling: a bare ASGI app that parses the JSON body and answers a fixed result.

No framework, no task, no store: it reads the body, ``json.loads`` it, and answers a
fixed JSON-RPC result echoing the request id. Whatever req/s it reaches under the same
uvicorn settings is what uvicorn + h11 + the asyncio loop allow on this core; a real
A2A server can only be a fraction of it.

Run: ``python bench/bare_server.py --port 8100``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import serve, server_args

Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json")]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer every POST with ``{"jsonrpc":"2.0","id":<id>,"result":{"ok":true}}``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    request = json.loads(b"".join(chunks))
    body = json.dumps(
        {"jsonrpc": "2.0", "id": request.get("id"), "result": {"ok": True}},
        separators=(",", ":"),
    ).encode()
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    args = server_args(__doc__ or "")
    serve(app, args)


if __name__ == "__main__":
    main()
