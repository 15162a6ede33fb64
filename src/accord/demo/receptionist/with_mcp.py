"""The Receptionist keeping its desk behind an MCP server (the mcp extra).

The same agent as :func:`accord.demo.receptionist.create_app`, except that its
bookings, call records and tickets are the tools of the demo's MCP server
(:mod:`~accord.demo.receptionist._mcp_server`), which the agent starts as a
subprocess and calls through :func:`accord.mcp.mcp_tools`: a partner's A2A request
triggers MCP tool calls inside the agent, traced and audited. Serve it with::

    accord serve accord.demo.receptionist.with_mcp:create_app

``accord serve`` without a target keeps serving the desk in-process, without MCP.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from accord.mcp import McpTools, StdioServer, mcp_tools

from . import create_app as base_app

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from accord.server import A2AApp, TaskContext
    from accord.server.auth import ApiKeyRing

    from ._skills import Pace

__all__ = ["DESK", "McpDesk", "create_app", "desk_server"]

#: The name the agent gives its desk's MCP server.
DESK = "desk"


class McpDesk:
    """The desk (:class:`~accord.demo.receptionist._desk.Desk`) as MCP tool calls
    of one execution."""

    def __init__(self, ctx: TaskContext) -> None:
        self.tools = mcp_tools(ctx)

    async def _structured(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = await self.tools.call(DESK, tool, arguments)
        return result.structured_content

    async def book(
        self, phone: str, start: str, end: str, *, task_id: str, now: str
    ) -> int:
        answer = await self._structured(
            "book_callback",
            {
                "phone": phone,
                "window_start": start,
                "window_end": end,
                "task_id": task_id,
                "now": now,
            },
        )
        return int(answer["seq"])

    async def call_record(self, call_id: str) -> dict[str, Any] | None:
        answer = dict(await self._structured("call_record", {"call_id": call_id}))
        if not answer.pop("found", False):
            return None
        return answer

    async def open_ticket(
        self, call_id: str, reason: str, priority: str, *, task_id: str, now: str
    ) -> int | None:
        answer = await self._structured(
            "open_ticket",
            {
                "call_id": call_id,
                "reason": reason,
                "priority": priority,
                "task_id": task_id,
                "now": now,
            },
        )
        seq = answer["seq"]
        return None if seq is None else int(seq)


def desk_server(db: str) -> StdioServer:
    """The desk's MCP server, started with this Python on the SQLite file ``db``."""
    return StdioServer(
        DESK,
        sys.executable,
        ("-m", "accord.demo.receptionist._mcp_server", "--db", db),
    )


def create_app(
    db: str,
    *,
    keys: ApiKeyRing | None = None,
    clock: Callable[[], datetime] | None = None,
    pace: Pace | None = None,
    **tool_options: Any,
) -> A2AApp:
    """The Receptionist with its desk behind MCP, API keys required, tasks in ``db``.

    Args:
        db, keys, clock, pace: as for :func:`accord.demo.receptionist.create_app`.
        tool_options: keyword arguments of :class:`~accord.mcp.McpTools` (e.g.
            ``tracer_provider``, ``timeout``).
    """
    db = str(db)
    return base_app(
        db,
        keys=keys,
        clock=clock,
        pace=pace,
        desk=McpDesk,
        interceptors=[McpTools([desk_server(db)], **tool_options)],
    )
