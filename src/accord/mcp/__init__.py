"""MCP and A2A composed (the ``mcp`` extra): agents as tools, tools inside agents.

A2A is the agent-to-agent layer, MCP (the Model Context Protocol) the agent-to-tool
layer. This package joins them with the official ``mcp`` SDK; nothing else in Accord
imports it.

* Any A2A agent as MCP tools: :class:`AgentBridge` serves an agent's skills as tools
  (plus ``send_message``, ``get_task``, ``cancel_task`` for long tasks) over stdio
  (:func:`serve_stdio`) or streamable HTTP (:func:`serve_http`); ``accord mcp serve
  URL`` runs it. :class:`AgentGroup` serves several agents' tools as one server,
  each agent's under its own prefix (``accord mcp serve --registry R "text"``).

* MCP inside an agent: :class:`McpTools` (an interceptor) pools sessions to the
  MCP servers the agent declares (:class:`StdioServer`, :class:`HttpServer`) while
  the engine serves; in the agent, :func:`mcp_tools` gives the execution's
  :class:`ToolBox` to call their tools, traced and audited.

Install with ``pip install 'accord[mcp]'``; see docs/how-to/mcp.md.
"""

from __future__ import annotations

from ._results import STATES, StateRule
from ._servers import HttpServer, McpServer, StdioServer
from ._tools import ToolArgumentError, tool_name
from .bridge import MCP_PATH, AgentBridge, Bridge, http_app, serve_http, serve_stdio
from .group import AgentGroup
from .tools import McpTools, ToolBox, ToolCallError, mcp_tools, result_parts

__all__ = [
    "MCP_PATH",
    "STATES",
    "AgentBridge",
    "AgentGroup",
    "Bridge",
    "HttpServer",
    "McpServer",
    "McpTools",
    "StateRule",
    "StdioServer",
    "ToolArgumentError",
    "ToolBox",
    "ToolCallError",
    "http_app",
    "mcp_tools",
    "result_parts",
    "serve_http",
    "serve_stdio",
    "tool_name",
]
