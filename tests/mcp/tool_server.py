"""A small MCP server for the tests, on the official SDK: ``python tool_server.py``
serves stdio; ``python tool_server.py http`` serves streamable HTTP on a free
loopback port and prints ``PORT n`` on stdout once listening.

Tools: ``echo`` (text), ``add`` (structured result), ``secret`` (says whether
``$TOOL_SECRET`` arrived: credentials from configuration), ``fail`` (a tool
error), ``hang`` (never answers), ``trace`` (the ``traceparent`` its request
carried in ``_meta``), ``image`` (a file result)."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.utilities.types import Image

server = MCPServer("test-tools")


@server.tool()
def echo(text: str) -> str:
    """Say ``text`` back."""
    return text


@server.tool()
def add(a: int, b: int) -> dict[str, int]:
    """Add two numbers (a structured result)."""
    return {"sum": a + b}


@server.tool()
def secret() -> str:
    """Whether the configured secret reached this process."""
    return "configured" if os.environ.get("TOOL_SECRET") == "s3cret" else "missing"


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep_forever()
    return ""


@server.tool()
def trace(ctx: Context[Any, Any]) -> str:
    """The traceparent the request carried in ``_meta``."""
    meta = ctx.request_context.meta or {}
    return str(dict(meta).get("traceparent", ""))


@server.tool()
def image() -> Image:
    """A tiny PNG (a file result)."""
    return Image(data=b"\x89PNG-test", format="png")


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        app = server.streamable_http_app()

        class _Server(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets=sockets)
                print(f"PORT {port}", flush=True)

        _Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    else:
        server.run()
