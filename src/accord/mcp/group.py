"""Several A2A agents as one MCP server: each agent's tools under its own prefix.

Theory of operation. :class:`AgentGroup` joins :class:`~accord.mcp.AgentBridge`
values (one open client per agent, each with its own credentials or none) into one
tool list. Every tool of an agent is renamed ``PREFIX__TOOL``, the prefix made of
the agent's name (:func:`~accord.mcp.tool_name`, lower case, at most
:data:`PREFIX_LENGTH` characters) and numbered when two agents share a name
(``receptionist__get_task``, ``receptionist_2__get_task``); a name still taken
after MCP's 128-character cut is numbered too, so two tools never share a name. A
call is routed by name to its agent's bridge, with the tool's own name; nothing of
one agent (its credentials included) ever reaches another.

The group is bounded (:data:`MAX_AGENTS`): an MCP client lists every tool at once,
and a model chooses worse among too many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._results import error_result
from ._tools import tool_name
from .bridge import tool_server

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mcp.server.lowlevel import Server
    from mcp_types import CallToolResult, Tool

    from .bridge import AgentBridge

__all__ = ["MAX_AGENTS", "PREFIX_LENGTH", "SEPARATOR", "AgentGroup"]

#: The most agents one group serves.
MAX_AGENTS = 20
#: The longest agent prefix of a tool name.
PREFIX_LENGTH = 40
#: Between an agent's prefix and its tool's name.
SEPARATOR = "__"
#: The longest MCP tool name.
_NAME_LENGTH = 128


def _numbered(base: str, taken: set[str] | dict[str, Any], limit: int) -> str:
    """``base`` cut to ``limit``, numbered (``_2``, ``_3``...) until not ``taken``."""
    name, n = base[:limit], 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: limit - len(suffix)] + suffix
    return name


class AgentGroup:
    """The tools of several agents as one MCP server.

    Args:
        bridges: one bridge per agent (their clients' lifetimes are the caller's).
        name: the MCP server's name.

    Raises:
        ValueError: no bridge, or more than :data:`MAX_AGENTS`.
    """

    def __init__(
        self, bridges: Sequence[AgentBridge], *, name: str = "accord-agents"
    ) -> None:
        if not bridges:
            raise ValueError("an agent group needs at least one agent")
        if len(bridges) > MAX_AGENTS:
            raise ValueError(
                f"an agent group serves at most {MAX_AGENTS} agents, not {len(bridges)}"
            )
        self.name = name
        self.prefixes: dict[str, AgentBridge] = {}
        self._routes: dict[str, tuple[AgentBridge, str]] = {}
        self._tools: list[Tool] = []
        for bridge in bridges:
            base = tool_name(bridge.card.name).lower()
            prefix = _numbered(base, self.prefixes, PREFIX_LENGTH)
            self.prefixes[prefix] = bridge
            for tool in bridge.tools:
                full = _numbered(
                    f"{prefix}{SEPARATOR}{tool.name}", self._routes, _NAME_LENGTH
                )
                self._routes[full] = (bridge, tool.name)
                about = f"[agent {bridge.card.name}] {tool.description or ''}".strip()
                self._tools.append(
                    tool.model_copy(update={"name": full, "description": about})
                )

    @property
    def tools(self) -> list[Tool]:
        """Every agent's tools, prefixed, agent by agent."""
        return list(self._tools)

    def prefix_of(self, bridge: AgentBridge) -> str:
        """The prefix of ``bridge``'s tools."""
        return next(p for p, b in self.prefixes.items() if b is bridge)

    async def call(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Run the tool ``name`` on its agent; an unknown name is a tool error."""
        route = self._routes.get(name)
        if route is None:
            return error_result(
                f"unknown tool {name!r}; tool names are an agent's prefix "
                f"({', '.join(self.prefixes)}), {SEPARATOR}, and its tool"
            )
        bridge, tool = route
        return await bridge.call(tool, arguments)

    def server(self) -> Server[Any]:
        """An MCP low-level server answering with this group."""
        names = ", ".join(b.card.name for b in self.prefixes.values())
        return tool_server(self.name, "", f"A2A agents: {names}", self)
