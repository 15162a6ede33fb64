"""The Receptionist's desk as an MCP server: bookings, call records and tickets as tools.

The founding diagram: partner agent -> A2A -> the Receptionist -> MCP -> this server
-> the desk's tables. Run it as a module (stdio, the MCP client starts it)::

    python -m accord.demo.receptionist._mcp_server --db accord.db

An agent built by :mod:`accord.demo.receptionist.with_mcp` starts and calls it. The
tools keep the records in the same SQLite file as the agent's tasks
(:class:`~accord.demo.receptionist._desk.SqliteDesk`); each returns structured
content (and its JSON text, for text-only clients):

* ``book_callback(phone, window_start, window_end, task_id, now)`` -> ``{"seq"}``;
* ``call_record(call_id)`` -> the call (``{"found": false}`` when none);
* ``open_ticket(call_id, reason, priority, task_id, now)`` -> ``{"seq"}``
  (``{"seq": null}`` when the call does not exist).
"""

from __future__ import annotations

import argparse
from typing import Any

from mcp.server.mcpserver import MCPServer

from ._desk import SqliteDesk

__all__ = ["DESK_TOOLS", "build_server", "main"]

#: The tools the server offers.
DESK_TOOLS = ("book_callback", "call_record", "open_ticket")


def build_server(db: str) -> MCPServer:
    """The MCP server keeping the desk in the SQLite file ``db``."""
    desk = SqliteDesk(db)
    server = MCPServer(
        "receptionist-desk",
        instructions="The Receptionist's bookings, call records and tickets.",
    )

    @server.tool()
    async def book_callback(
        phone: str, window_start: str, window_end: str, task_id: str, now: str
    ) -> dict[str, Any]:
        """Book a callback to ``phone`` in the window (ISO 8601); the same phone and
        window again returns the same booking."""
        seq = await desk.book(phone, window_start, window_end, task_id=task_id, now=now)
        return {"seq": seq}

    @server.tool()
    async def call_record(call_id: str) -> dict[str, Any]:
        """The record of a recorded call (caller, phone, time, summary, topics)."""
        call = await desk.call_record(call_id)
        return {"found": False} if call is None else {"found": True, **call}

    @server.tool()
    async def open_ticket(
        call_id: str, reason: str, priority: str, task_id: str, now: str
    ) -> dict[str, Any]:
        """Open an escalation ticket for a call; ``seq`` is null when the call does
        not exist."""
        seq = await desk.open_ticket(
            call_id, reason, priority, task_id=task_id, now=now
        )
        return {"seq": seq}

    return server


def main(argv: list[str] | None = None) -> None:
    """Serve the desk over stdio (``--db``: the SQLite file, default accord.db)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="accord.db", help="the SQLite file")
    args = parser.parse_args(argv)
    build_server(args.db).run()


if __name__ == "__main__":
    main()
