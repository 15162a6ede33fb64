"""Any A2A agent as an MCP server: its skills as tools, its tasks followed by tools.

Theory of operation. :class:`AgentBridge` holds an open Accord
:class:`~accord.client.Client` for one agent (its card fetched, its credentials
chosen: the bridge's configuration, never a tool argument) and answers the MCP
requests ``tools/list`` and ``tools/call`` of an MCP low-level ``Server``
(:meth:`AgentBridge.server`):

* ``tools/list``: the tools :func:`~accord.mcp._tools.declare` makes of the card;
* ``tools/call``: the arguments are checked against the tool's schema, the A2A call
  is made (SendMessage, GetTask or CancelTask, spec §3.1), and its answer becomes a
  tool result (:mod:`accord.mcp._results`). An A2A error (a task not found, a
  cancel refused, the agent unreachable) is a tool result with ``isError`` and the
  error's message, which the model can act on; nothing else of the bridge leaks.

:func:`serve_stdio` and :func:`serve_http` run that server on stdin/stdout or on
streamable HTTP (the SDK's Starlette app under uvicorn, on loopback only: whoever
reaches the bridge uses its credentials).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from mcp.server.lowlevel import Server
from mcp_types import CallToolResult, ListToolsResult

from accord.errors import A2AError, ProtocolError
from accord.types import Part, SendMessageConfiguration, Task, user_message

from ._results import error_result, message_result, task_result
from ._tools import (
    CANCEL_TASK,
    GET_TASK,
    Arguments,
    ToolArgumentError,
    declare,
    parse,
)

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from mcp.server.context import ServerRequestContext
    from mcp_types import CallToolRequestParams, PaginatedRequestParams, Tool
    from starlette.applications import Starlette

    from accord.client import Client
    from accord.types import AgentCard, MessageContent

__all__ = [
    "MCP_PATH",
    "AgentBridge",
    "Bridge",
    "http_app",
    "serve_http",
    "serve_stdio",
    "tool_server",
]

logger = logging.getLogger(__name__)

#: The path of the streamable HTTP endpoint.
MCP_PATH = "/mcp"


class Bridge(Protocol):
    """What an MCP server of agents' tools answers with: its tools, and a call."""

    @property
    def tools(self) -> list[Tool]:
        """The tools to list."""
        ...

    async def call(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Run a tool; errors are tool results with ``isError``."""
        ...

    def server(self) -> Server[Any]:
        """An MCP low-level server answering with this bridge."""
        ...


def tool_server(
    name: str, version: str, description: str | None, bridge: Bridge
) -> Server[Any]:
    """An MCP low-level server listing ``bridge``'s tools and calling them."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=bridge.tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult:
        return await bridge.call(params.name, params.arguments)

    return Server(
        name,
        version=version,
        description=description,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class AgentBridge:
    """The MCP face of one A2A agent.

    Args:
        client: an open client for the agent (its lifetime is the caller's).
        card: the agent's card (default: the client's).

    Example::

        async with await Client.connect(url, credentials=[ApiKey(key)]) as client:
            await serve_stdio(AgentBridge(client))
    """

    def __init__(self, client: Client, card: AgentCard | None = None) -> None:
        card = card if card is not None else client.card
        if card is None:
            raise ValueError("the bridge needs the agent's card: pass card=")
        self.client = client
        self.card = card
        self._tools = declare(card.name, card.skills)

    @property
    def tools(self) -> list[Tool]:
        """The tools, in declaration order (the task tools first)."""
        return [tool for tool, _ in self._tools.values()]

    def server(self) -> Server[Any]:
        """An MCP low-level server answering with this bridge."""
        return tool_server(
            self.card.name, self.card.version, self.card.description, self
        )

    async def call(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Run the tool ``name`` with ``arguments``; errors become tool errors."""
        entry = self._tools.get(name)
        if entry is None:
            return error_result(
                f"unknown tool {name!r}; the tools are: {', '.join(self._tools)}"
            )
        _, skill = entry
        try:
            args = parse(name if not skill else "skill", arguments)
            if name == GET_TASK:
                history = args.values.get("history_length")
                return task_result(
                    await self.client.get_task(
                        args.values["task_id"], history_length=history
                    )
                )
            if name == CANCEL_TASK:
                return task_result(
                    await self.client.cancel_task(args.values["task_id"])
                )
            return await self._send(args, skill or args.text("skill") or "")
        except ToolArgumentError as exc:
            return error_result(f"{name}: {exc}")
        except ProtocolError as exc:
            return error_result(f"{name}: the agent answered: {exc}")
        except A2AError as exc:  # a transport error: no answer
            return error_result(f"{name}: the agent could not be reached: {exc}")

    async def _send(self, args: Arguments, skill: str) -> CallToolResult:
        content: list[MessageContent] = [args.values["message"]]
        if "data" in args.values:
            content.append(
                Part(data=args.values["data"], media_type="application/json")
            )
        message = user_message(
            *content,
            task_id=args.text("task_id") or "",
            context_id=args.text("context_id") or "",
            metadata={"skill": skill} if skill else None,
        )
        wait = args.values.get("wait", True)
        reply = await self.client.send_message(
            message,
            configuration=SendMessageConfiguration(return_immediately=not wait),
        )
        if isinstance(reply, Task):
            return task_result(reply)
        return message_result(reply)


def http_app(bridge: Bridge, *, host: str = "127.0.0.1") -> Starlette:
    """The streamable HTTP app of ``bridge`` (endpoint :data:`MCP_PATH`), with the
    SDK's DNS-rebinding protection for a loopback ``host``."""
    return bridge.server().streamable_http_app(streamable_http_path=MCP_PATH, host=host)


async def serve_stdio(bridge: Bridge) -> None:
    """Serve ``bridge`` over stdin/stdout until stdin closes."""
    from mcp.server.stdio import stdio_server

    server = bridge.server()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(
    bridge: Bridge,
    sock: socket.socket,
    *,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve ``bridge`` over streamable HTTP on the bound socket ``sock`` (loopback)
    until cancelled; ``started()`` is called once it listens."""
    import uvicorn

    from accord.server.serving import uvicorn_options

    host = str(sock.getsockname()[0])

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and started is not None:
                started()

    config = uvicorn.Config(
        http_app(bridge, host=host),
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        **uvicorn_options(),
    )
    await _Server(config).serve(sockets=[sock])
