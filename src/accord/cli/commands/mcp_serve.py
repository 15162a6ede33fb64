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

With ``--registry REGISTRY "text"`` the positional argument is search text: the
command asks the registry (ARD search, :meth:`accord.client.Client.discover`;
``--skill`` narrows, ``--limit`` bounds the agents, at most
:data:`accord.mcp.group.MAX_AGENTS`), connects to each agent found pinned to the
card the registry recorded, and serves them all as one
:class:`~accord.mcp.AgentGroup`, each agent's tools under its own prefix. The
credential options (and ``-H`` headers) go only to the agents named by
``--credentials-for AGENT_URL``; the others get none. An agent that cannot be
used (unreachable, its card changed since it was registered, or it requires
credentials it is not given) is left out with a line on stderr saying why.

This module imports nothing of the mcp extra until the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .._argtypes import count
from .._argtypes import url as url_type
from .._errors import UsageError, report

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from accord.mcp import AgentBridge, AgentGroup, Bridge

__all__ = ["add_mcp_parser", "run"]

EXAMPLES = """\
examples:
  accord mcp serve http://127.0.0.1:8000 --api-key KEY          # stdio
  accord mcp serve http://127.0.0.1:8000 --http --port 8765     # streamable HTTP
  accord mcp serve --registry http://127.0.0.1:8700 "schedule a callback" \
      --limit 3 --api-key KEY --credentials-for http://127.0.0.1:8000
"""

#: How many agents ``--registry`` serves unless ``--limit`` says otherwise.
DEFAULT_AGENTS = 5
#: The most ``--limit`` allows: :data:`accord.mcp.group.MAX_AGENTS` (kept here so
#: that building the parser imports nothing of the mcp extra; a test holds them
#: equal).
MAX_AGENTS = 20


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
            "pass them. With --registry, serve the agents a registry finds for TEXT, "
            "each agent's tools prefixed with its name; the credentials then go only "
            "to the agents named by --credentials-for."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "url",
        metavar="URL|TEXT",
        help="the agent's base URL or card URL; with --registry, the search text",
    )
    found = serve.add_argument_group("agents from a registry")
    found.add_argument(
        "--registry",
        type=url_type,
        metavar="URL",
        help="serve the agents this registry finds for TEXT",
    )
    found.add_argument(
        "--skill",
        action="append",
        metavar="ID",
        help="only agents with this skill (repeatable: all of them)",
    )
    found.add_argument(
        "--limit",
        type=count(1, MAX_AGENTS),
        default=DEFAULT_AGENTS,
        help=f"at most this many agents (default: {DEFAULT_AGENTS}, "
        f"at most {MAX_AGENTS})",
    )
    found.add_argument(
        "--credentials-for",
        action="append",
        type=url_type,
        default=[],
        metavar="AGENT_URL",
        help="send the credential options and -H headers to this agent (its URL "
        "or card URL; repeatable); other agents get none",
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
    if args.registry is None:
        if args.skill or args.credentials_for:
            raise UsageError("--skill and --credentials-for go with --registry")
        try:
            url_type(args.url)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(
                f"{exc} (or search a registry: --registry URL TEXT)"
            ) from None
    anyio.run(_serve, args)
    return 0


async def _serve(args: argparse.Namespace) -> None:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        if args.registry is None:
            one = await _one_agent(args, stack)
            bridge: Bridge = one
            label = one.card.name
        else:
            group = await _registry_agents(args, stack)
            bridge, label = group, f"{len(group.prefixes)} agent(s)"
        await _run_server(args, bridge, label)


async def _one_agent(args: argparse.Namespace, stack: AsyncExitStack) -> AgentBridge:
    from accord.errors import UnauthenticatedError
    from accord.mcp import AgentBridge

    from ._remote import connect, credentials, request_headers

    client = await stack.enter_async_context(await connect(args))
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
    return bridge


def _same_agent(a: str, b: str) -> bool:
    """Whether two URLs name one agent (its base URL or its card URL)."""
    from accord.client.card import WELL_KNOWN_PATH

    def base(url: str) -> str:
        return url.removesuffix(WELL_KNOWN_PATH).rstrip("/")

    return base(a) == base(b)


async def _registry_agents(
    args: argparse.Namespace, stack: AsyncExitStack
) -> AgentGroup:
    """Discover agents, connect to each (pinned), and group the ones usable."""
    from accord.client import Client
    from accord.errors import A2AError, ConnectError
    from accord.mcp import AgentBridge, AgentGroup

    from ._remote import client_config, credentials, request_headers

    found = await Client.discover(
        args.registry, args.url, skill=args.skill, limit=args.limit
    )
    if not found:
        raise ConnectError(
            f"the registry at {args.registry} has no agent for {args.url!r}"
            + (f" with skill {', '.join(args.skill)}" if args.skill else "")
            + " — try other text, or `accord discover` to see what it has"
        )
    config = client_config(args)
    providers, headers = credentials(args), request_headers(args)
    bridges: dict[str, AgentBridge] = {}  # agent URL -> its bridge
    for agent in found[: args.limit]:
        trusted = any(_same_agent(agent.agent_url, u) for u in args.credentials_for)
        try:
            client = await Client.connect(
                agent.agent_url,
                pin=agent.pin,
                config=config,
                headers=headers if trusted else None,
                credentials=providers if trusted else None,
            )
        except (A2AError, ValueError) as exc:
            report(f"Left out {agent.name} ({agent.agent_url}): {exc}")
            continue
        await stack.enter_async_context(client)
        card = client.card
        assert card is not None
        if card.security_requirements and not (trusted and (providers or headers)):
            report(
                f"Left out {agent.name} ({agent.agent_url}): it requires credentials;"
                f" give them with --credentials-for {agent.agent_url}"
            )
            continue
        bridges[agent.agent_url] = AgentBridge(client, card)
    if not bridges:
        raise ConnectError(
            f"none of the {len(found)} agent(s) the registry found can be served"
            " (see the lines above)"
        )
    group = AgentGroup(list(bridges.values()))
    for url, bridge in bridges.items():
        prefix = group.prefix_of(bridge)
        report(f"Serving {bridge.card.name} ({url}) as MCP tools {prefix}__*")
    return group


async def _run_server(args: argparse.Namespace, bridge: Bridge, label: str) -> None:
    from accord.mcp import MCP_PATH, serve_http, serve_stdio

    from .push import _bind
    from .serve import _swallow_signal_replay, card_url

    if not args.http:
        report(f"Serving {label} as MCP tools on stdio")
        await serve_stdio(bridge)
        return
    sock = _bind(args.host, args.port)
    port = int(sock.getsockname()[1])
    endpoint = card_url(args.host, port).removesuffix("/.well-known/agent-card.json")
    endpoint += MCP_PATH

    def started() -> None:
        report(f"MCP endpoint: {endpoint}")

    # Ctrl-C / SIGTERM: uvicorn shuts down gracefully, then re-raises the
    # signal, which must not turn the clean exit into an interrupted one.
    with sock, _swallow_signal_replay():
        await serve_http(bridge, sock, started=started)
