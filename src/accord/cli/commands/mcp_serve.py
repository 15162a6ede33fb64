"""``accord mcp serve URL``: an A2A agent's skills as MCP tools (the mcp extra).

Theory of operation. The command fetches the agent's card and opens a client for it
with the credentials the options (or ``ACCORD_*`` variables) give, exactly as
``accord send`` does (commands/_remote.py): the credentials stay in the bridge,
MCP clients never see or pass them. Then it serves
:class:`~accord.mcp.AgentBridge` until stopped:

* by default over stdin/stdout (what an MCP client that launches the command
  expects); stdout then carries the protocol only, the command's own lines go to
  stderr;
* with ``--http``, over streamable HTTP on loopback (``--port``, 0: a free one); the
  endpoint's URL is printed on stderr once it listens. Only loopback hosts are
  accepted: whoever reaches the bridge uses its credentials. Ctrl-C or SIGTERM
  stops it gracefully (exit 0), as ``accord serve``.

This module imports nothing of the mcp extra until the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._argtypes import count
from .._errors import UsageError, report

__all__ = ["add_mcp_parser", "run"]

EXAMPLES = """\
examples:
  accord mcp serve http://127.0.0.1:8000 --api-key KEY          # stdio
  accord mcp serve http://127.0.0.1:8000 --http --port 8765     # streamable HTTP
"""


def add_mcp_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``accord mcp serve``; return its parser (the caller adds the URL and the
    connection options every remote command shares)."""
    mcp = commands.add_parser(
        "mcp", help="serve an A2A agent's skills as MCP tools (the mcp extra)"
    )
    actions = mcp.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    serve: argparse.ArgumentParser = actions.add_parser(
        "serve",
        help="serve an A2A agent as an MCP server (stdio, or streamable HTTP)",
        description=(
            "Serve the agent at URL as an MCP server: each skill of its card is a "
            "tool, and send_message, get_task and cancel_task follow long tasks. "
            "The credentials for the agent are the options below; MCP clients never "
            "pass them."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--http",
        action="store_true",
        help="serve streamable HTTP on loopback instead of stdio",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback interface for --http (default: 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=count(0, 65535),
        default=0,
        help="port for --http (default: 0, a free one; the URL is printed)",
    )
    serve.set_defaults(module="mcp_serve")
    return serve


def run(args: argparse.Namespace) -> int:
    """Serve until stdin closes (stdio) or SIGINT / SIGTERM (HTTP)."""
    import anyio

    from accord._net import is_loopback_host

    if args.http and not is_loopback_host(args.host):
        raise UsageError(
            f"--host {args.host} is not a loopback address: the bridge holds the "
            "agent's credentials, so it serves on loopback only (e.g. 127.0.0.1)"
        )
    anyio.run(_serve, args)
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from accord.errors import UnauthenticatedError
    from accord.mcp import MCP_PATH, AgentBridge, serve_http, serve_stdio

    from ._remote import connect, credentials, request_headers
    from .push import _bind
    from .serve import _swallow_signal_replay, card_url

    async with await connect(args) as client:
        bridge = AgentBridge(client)
        if (
            bridge.card.security_requirements
            and credentials(args) is None
            and not request_headers(args)
        ):
            # Fail now, not at the first tool call: the MCP client cannot fix it.
            raise UnauthenticatedError(
                "the bridge has no credentials for the agent, which requires them"
            )
        if not args.http:
            report(f"Serving {bridge.card.name} as MCP tools on stdio")
            await serve_stdio(bridge)
            return
        sock = _bind(args.host, args.port)
        port = int(sock.getsockname()[1])
        endpoint = card_url(args.host, port).removesuffix(
            "/.well-known/agent-card.json"
        )
        endpoint += MCP_PATH

        def started() -> None:
            report(f"MCP endpoint: {endpoint}")

        # Ctrl-C / SIGTERM: uvicorn shuts down gracefully, then re-raises the
        # signal, which must not turn the clean exit into an interrupted one.
        with sock, _swallow_signal_replay():
            await serve_http(bridge, sock, started=started)
