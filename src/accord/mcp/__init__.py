"""MCP and A2A composed (the ``mcp`` extra): agents as tools, tools inside agents.

A2A is the agent-to-agent layer, MCP (the Model Context Protocol) the agent-to-tool
layer. This package joins them with the official ``mcp`` SDK; nothing else in Accord
imports it.

* Any A2A agent as MCP tools: :class:`AgentBridge` serves an agent's skills as tools
  (plus ``send_message``, ``get_task``, ``cancel_task`` for long tasks) over stdio
  (:func:`serve_stdio`) or streamable HTTP (:func:`serve_http`); ``accord mcp serve
  URL`` runs it.

Install with ``pip install 'accord[mcp]'``; see docs/how-to/mcp.md.
"""

from __future__ import annotations

from ._results import STATES, StateRule
from ._tools import ToolArgumentError, tool_name
from .bridge import MCP_PATH, AgentBridge, http_app, serve_http, serve_stdio

__all__ = [
    "MCP_PATH",
    "STATES",
    "AgentBridge",
    "StateRule",
    "ToolArgumentError",
    "http_app",
    "serve_http",
    "serve_stdio",
    "tool_name",
]
