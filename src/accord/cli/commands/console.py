"""``accord console``: the web console (:mod:`accord.console`) on a port of its own.

``--agent URL`` fills the page's agent field and lets the console reach that host;
``--allow HOST_OR_CIDR`` lets it reach others that are private or plain http (the
egress rules of :mod:`accord.egress`; loopback is allowed by default, since the
console listens on loopback by default). ``--api-key`` / ``--token`` (or
``$ACCORD_API_KEY`` / ``$ACCORD_TOKEN``) are the credentials used when the page types
none; they stay in this process. ``--trust`` names files of keys (a JWK Set, a JWK or
a PEM public key, as for ``accord card verify``) that make a card signature
"verified".

Also :func:`add_console_options` and :func:`console_for` for ``accord serve
--console``, which mounts the console at ``/console`` beside the agent.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._argtypes import count as _count
from .._argtypes import url as _url
from .._errors import EXIT_FAILED, UsageError

if TYPE_CHECKING:
    import argparse

    from accord.console import ConsoleApp
    from accord.server import A2AApp

__all__ = [
    "add_console_options",
    "add_console_parser",
    "console_for",
    "run",
]


def add_console_parser(commands: Any) -> None:
    """Register ``accord console``."""
    import argparse

    console = commands.add_parser(
        "console",
        help="a web page to look at and talk to agents",
        description=(
            "Serve the Accord console: connect to an agent by URL, see its card "
            "(checks, signature), chat with it live, list its tasks (timeline, push "
            "configs, audit) and read the raw exchanges. Credentials stay in this "
            "process."
        ),
        epilog=(
            "examples:\n"
            "  accord console                                  # http://127.0.0.1:8080/\n"
            "  accord console --agent http://127.0.0.1:8000 --port 9000\n"
            "  accord console --registry http://127.0.0.1:8001  # find agents there\n\n"
            "exit codes and environment variables: accord --help\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    console.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    console.add_argument(
        "--port",
        type=_count(0, 65535),
        default=8080,
        help="port (default: 8080; 0 picks a free one)",
    )
    console.add_argument(
        "--agent", type=_url, metavar="URL", help="the agent the page offers first"
    )
    console.add_argument(
        "--registry",
        type=_url,
        metavar="URL",
        help="an agent registry (accord registry serve) the page can find agents in",
    )
    console.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="HOST_OR_CIDR",
        help=(
            "a host or network the console may reach although it is private or plain "
            "http:// (repeatable; loopback and --agent's host are always allowed)"
        ),
    )
    console.add_argument(
        "--api-key", metavar="KEY", help="API key (default: from $ACCORD_API_KEY)"
    )
    console.add_argument(
        "--token", metavar="TOKEN", help="bearer token (default: from $ACCORD_TOKEN)"
    )
    console.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="JWKS",
        help="keys that verify card signatures: a JWK Set, JWK or PEM file (repeatable)",
    )
    console.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="server log level (default: warning)",
    )
    console.set_defaults(module="console")


def add_console_options(serve: argparse.ArgumentParser) -> None:
    """``accord serve --console``."""
    serve.add_argument(
        "--console",
        action="store_true",
        help=(
            "also serve the web console at /console, set to talk to this agent "
            "(type the API key in the page once)"
        ),
    )


def _trust(paths: list[str]) -> Any:
    if not paths:
        return None
    from accord.security import TrustStore

    from .card import _pinned_keys

    return TrustStore(keys=[key for path in paths for key in _pinned_keys(path)])


def build_console(args: argparse.Namespace) -> ConsoleApp:
    """The console the options describe.

    Raises:
        UsageError: an ``--allow`` entry or a ``--trust`` file is not usable.
    """
    from accord.console import LOOPBACK, ConsoleApp
    from accord.egress import EgressPolicy

    from ._remote import credentials

    allow = [*LOOPBACK, *args.allow]
    if args.agent:
        allow.append(urlsplit(args.agent).hostname or "")
    try:
        policy = EgressPolicy.from_strings(allow)
    except ValueError as exc:
        raise UsageError(f"--allow: {exc}") from None
    return ConsoleApp(
        agent_url=args.agent,
        registry=args.registry,
        credentials=credentials(args) or (),
        egress=policy,
        trust=_trust(args.trust),
    )


def console_for(app: A2AApp, served: Any, host: str) -> tuple[Any, ConsoleApp]:
    """``served`` with the console mounted at ``/console`` (``accord serve --console``),
    and the console (``accord serve`` sets its ``agent_url`` once the port is known).

    The console may reach loopback and ``host``; a task's page also shows the agent's
    own audit trail when its store keeps one.
    """
    from accord.console import LOOPBACK, ConsoleApp, with_console
    from accord.egress import EgressPolicy
    from accord.stores.audit import AuditStore

    allow = [*LOOPBACK]
    if host not in ("0.0.0.0", "::", ""):
        allow.append(host)
    store = app.store
    audit = store if isinstance(store, AuditStore) and _audits(store) else None
    console = ConsoleApp(egress=EgressPolicy.from_strings(allow), agent_audit=audit)
    return with_console(served, console), console


def _audits(store: Any) -> bool:
    return bool(getattr(store, "audit_states", False))


def run(args: argparse.Namespace) -> int:
    """Serve the console until Ctrl-C / SIGTERM."""
    try:
        import uvicorn
    except ImportError:
        print(
            "accord: `accord console` needs uvicorn: pip install 'accord[serve]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    from .serve import _swallow_signal_replay, card_url

    console = build_console(args)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and self.servers and self.servers[0].sockets:
                port = int(self.servers[0].sockets[0].getsockname()[1])
                base = card_url(args.host, port).split("/.well-known/")[0]
                print(f"Accord console: {base}/", flush=True)

    config = uvicorn.Config(
        console,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    with _swallow_signal_replay():
        try:
            Server(config).run()
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                print(
                    "accord: the console could not start (see above)", file=sys.stderr
                )
                return EXIT_FAILED
    return 0
