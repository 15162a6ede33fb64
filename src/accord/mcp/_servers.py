"""The MCP servers an agent uses: a command it starts (stdio) or a URL (streamable HTTP).

Credentials come from configuration, never from the model or a partner: a stdio
server gets them in its environment (``env``), an HTTP server in request headers
(``headers``, e.g. ``Authorization``). Neither is ever written to a log, a ``repr``,
an audit record or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HttpServer", "McpServer", "StdioServer"]


def _check_name(name: str) -> None:
    if not name or "/" in name:
        raise ValueError(f"an MCP server needs a name without '/' (got {name!r})")


@dataclass(frozen=True, slots=True)
class StdioServer:
    """An MCP server the agent starts as a process and talks to on its stdin/stdout.

    Attributes:
        name: how the agent names it in :meth:`ToolBox.call <accord.mcp.ToolBox.call>`.
        command: the program, e.g. ``sys.executable``.
        args: its arguments.
        env: variables added to the process's environment (credentials go here);
            the process also gets the SDK's safe defaults (``PATH``, ``HOME``...),
            not the agent's whole environment.
        cwd: its working directory (default: the agent's).
    """

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.command:
            raise ValueError(f"the MCP server {self.name!r} needs a command")
        object.__setattr__(self, "args", tuple(self.args))

    @property
    def where(self) -> str:
        """What audit records and errors name the server by (no arguments, no env)."""
        return f"stdio:{self.command}"


@dataclass(frozen=True, slots=True)
class HttpServer:
    """An MCP server reached over streamable HTTP.

    Attributes:
        name: how the agent names it in :meth:`ToolBox.call <accord.mcp.ToolBox.call>`.
        url: its endpoint, e.g. ``https://tools.internal/mcp``.
        headers: sent with every request (credentials go here).
    """

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"the MCP server {self.name!r} needs an http:// or https:// URL"
            )

    @property
    def where(self) -> str:
        """What audit records and errors name the server by (its URL, no query)."""
        return self.url.split("?", 1)[0]


#: Either kind of server.
McpServer = StdioServer | HttpServer
