"""Serve the console beside an agent: ``accord serve --console`` mounts it at ``/console``."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._asgi import Receive, Scope, Send
    from .app import ConsoleApp

__all__ = ["AGENT_ROOT", "CONSOLE_PATH", "with_console"]

#: Where ``accord serve --console`` mounts the console.
CONSOLE_PATH = "/console"
#: The scope key telling the console where the agent beside it is mounted: the page
#: then offers that agent (at the address the browser used) as the one to connect to.
AGENT_ROOT = "accord.console.agent_root"


def with_console(app: Any, console: ConsoleApp, path: str = CONSOLE_PATH) -> Any:
    """An ASGI app serving ``console`` under ``path`` and ``app`` everywhere else.

    The lifespan is ``app``'s, with the console running inside it (so the console's
    sessions close before the agent stops).
    """
    prefix = path.rstrip("/")

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(console.running())
                await app(scope, receive, send)
            return
        where = scope.get("path", "")
        if scope["type"] == "http" and (
            where == prefix or where.startswith(prefix + "/")
        ):
            root = scope.get("root_path", "") + prefix
            inner = {
                **scope,
                "root_path": root,
                "path": root + where[len(prefix) :],
                AGENT_ROOT: scope.get("root_path", ""),
            }
            await console(inner, receive, send)
            return
        await app(scope, receive, send)

    return serve
