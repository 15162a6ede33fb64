"""The ``accord`` command: argument parsing, dispatch, and exit codes.

Theory of operation. :func:`main` builds the argparse tree (this module imports
nothing heavier than argparse, so ``accord --help`` stays fast), imports the chosen
command module from :mod:`accord.cli.commands` only then, and runs its ``run(args)``.
Expected failures (``A2AError`` and friends) never print a traceback: :mod:`._errors`
turns them into one actionable line on stderr and an exit code (see ``EPILOG``); an
unexpected one is one line too (exit 70) unless ``$ACCORD_DEBUG`` is set, and a
closed stdout (``| head``) ends the run quietly (141). Help texts: :mod:`._help`;
option types: :mod:`._argtypes`; process set-up of the console script:
:mod:`._process`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from ._argtypes import binding as _binding
from ._argtypes import count as _count
from ._argtypes import grace as _grace
from ._argtypes import header as _header
from ._argtypes import json_value as _json
from ._argtypes import lease as _lease
from ._argtypes import seconds as _seconds
from ._argtypes import state as _state
from ._argtypes import url as _url
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    broken_pipe,
    exit_code_for,
    explain,
    report,
    silence_stdout,
    unexpected,
)
from ._help import EPILOG, EXAMPLES
from ._process import show_warnings, skip_unused_imports
from ._serve_options import connection_limits, operations_options, public_options
from .commands._otel_options import add_otel_options
from .commands._push_options import add_push_options
from .commands.audit import add_audit_parsers
from .commands.card_drift import add_drift_parsers
from .commands.console import add_console_options, add_console_parser
from .commands.mcp_serve import add_mcp_parser
from .commands.negotiate import add_negotiate_parser
from .commands.push import add_push_parser
from .commands.registry import add_registry_parsers

__all__ = ["EPILOG", "build_parser", "entry", "main", "skip_unused_imports"]


def _remote(
    parser: argparse.ArgumentParser,
    *,
    url_help: str = "the agent's base URL or card URL",
) -> None:
    parser.add_argument("url", metavar="URL", type=_url, help=url_help)


def _client_options(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--binding",
        type=_binding,
        metavar="JSONRPC|HTTP+JSON|GRPC",
        help=(
            "use this protocol binding (default: the card's preferred one; GRPC "
            "needs the grpc extra)"
        ),
    )
    group.add_argument(
        "-H",
        "--header",
        dest="headers",
        type=_header,
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header for every request (repeatable)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for an answer (default: 300)",
    )
    # No secret becomes an argparse default: the environment is read at use time
    # (commands/_remote.py), so --help and usage errors never show a value.
    auth = parser.add_argument_group(
        "authentication",
        "Sent as the agent card's security requirements ask; values never printed.",
    )
    auth.add_argument(
        "--token",
        metavar="TOKEN",
        help="bearer token (default: from $ACCORD_TOKEN)",
    )
    auth.add_argument(
        "--api-key",
        metavar="KEY",
        help="API key, sent where the card says (default: from $ACCORD_API_KEY)",
    )
    auth.add_argument(
        "--client-id",
        metavar="ID",
        help="OAuth 2.0 client id (default: from $ACCORD_CLIENT_ID)",
    )
    auth.add_argument(
        "--client-secret",
        metavar="SECRET",
        help="OAuth 2.0 client secret (default: from $ACCORD_CLIENT_SECRET)",
    )
    auth.add_argument(
        "--cert",
        metavar="PEM",
        help="client certificate for mutual TLS (may include the key)",
    )
    auth.add_argument("--key", metavar="PEM", help="private key of --cert")
    auth.add_argument(
        "--cacert",
        metavar="PEM",
        help="CA certificates to trust instead of the default ones (private CA)",
    )
    if json:
        parser.add_argument(
            "--json",
            action="store_true",
            help="print machine-readable ProtoJSON instead of text",
        )


#: Two-word commands: ``accord card sign …`` is parsed as the command "card sign", so
#: that ``accord card URL`` keeps its positional URL.
COMPOUND_COMMANDS = frozenset(
    {
        ("card", "sign"),
        ("card", "verify"),
        ("card", "diff"),
        ("card", "pin"),
        ("audit", "verify"),
        ("audit", "purge"),
    }
)


def _signing_commands(commands: Any, serve: argparse.ArgumentParser) -> None:
    """``keys generate``, ``card sign``, ``card verify`` and ``serve --sign-key``."""
    from .commands.keys import ALGORITHMS

    serve.add_argument(
        "--sign-key",
        metavar="PEM",
        help="sign the agent card with this private key (from `accord keys "
        "generate`) and publish its public key at /.well-known/jwks.json",
    )

    keys = commands.add_parser("keys", help="make keys for signing agent cards")
    key_commands = keys.add_subparsers(
        dest="keys_command", metavar="ACTION", required=True
    )
    generate = key_commands.add_parser(
        "generate",
        help="generate a signing key pair",
        description=(
            "Write PREFIX.pem (the private key, mode 0600, never printed) and "
            "PREFIX.jwks.json (the public JWK Set to give to verifiers)."
        ),
    )
    generate.add_argument("--alg", choices=ALGORITHMS, default="ES256")
    generate.add_argument(
        "--kid", help="key id (default: the key's RFC 7638 thumbprint)"
    )
    generate.add_argument("--out", required=True, metavar="PREFIX")
    generate.add_argument("--force", action="store_true", help="replace existing files")
    generate.add_argument("--json", action="store_true", help="print JSON")
    generate.set_defaults(module="keys")

    sign = commands.add_parser(
        "card sign",
        help="add a signature to an agent card file (spec §8.4)",
        description=(
            "Sign CARD.json; the signed card is written to --out or stdout. "
            "Signatures already on the card are kept (key rotation)."
        ),
        epilog=EXAMPLES["SIGN"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sign.add_argument("card", metavar="CARD.json")
    sign.add_argument("--key", required=True, metavar="PEM", help="private key")
    sign.add_argument(
        "--kid",
        help="key id (default: from the .jwks.json next to the key, else its "
        "thumbprint)",
    )
    sign.add_argument(
        "--jku", metavar="URL", help="JWKS URL to name in the signature header"
    )
    sign.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    sign.set_defaults(module="card", action="sign")

    verify = commands.add_parser(
        "card verify",
        help="verify an agent card's signature with keys you trust",
        description=(
            "Fetch (URL) or read (file) an agent card and check that one of its "
            "signatures verifies with a trusted key. Exit 0 when one does, 1 with "
            "the reason when none does."
        ),
        epilog=EXAMPLES["VERIFY"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("card", metavar="URL_OR_FILE")
    verify.add_argument(
        "--trust",
        action="append",
        required=True,
        metavar="JWKS_FILE_OR_URL",
        help="trusted keys: a JWKS (or JWK, or PEM public key) file, or a JWKS "
        "URL fetched over HTTPS (repeatable)",
    )
    _client_options(verify)
    verify.set_defaults(module="card", action="verify")


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``accord``."""
    from accord import __version__

    parser = argparse.ArgumentParser(
        prog="accord",
        description="Serve and talk to A2A (Agent2Agent) v1.0 agents.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"accord {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run an agent over HTTP (default: the demo Receptionist)",
        description=(
            "Run an agent with uvicorn. TARGET is path/to/file.py[:OBJ] or "
            "package.module[:OBJ]; OBJ is an Agent, an A2AApp, or a factory called as "
            "OBJ(db=PATH) that returns one (default names tried: app, agent, "
            "create_app, create_agent). An Agent gets the task store --db names "
            "(a SQLite file, or a postgresql:// URL); "
            "an A2AApp keeps its own store. Without TARGET: the Receptionist from "
            "examples/ (source checkout; API key required: it is written to "
            "receptionist.key next to --db unless $ACCORD_API_KEYS lists the keys). "
            "Stop with Ctrl-C or SIGTERM (graceful)."
        ),
        epilog=EXAMPLES["SERVE"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("target", metavar="TARGET", nargs="?", help="the agent to serve")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=_count(0, 65535),
        default=8000,
        help="port (default: 8000; 0 picks a free one)",
    )
    serve.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL for tasks (default: accord.db)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        help="server log level (default: info)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help=(
            "do not log a line per request (the access log: a small request takes "
            "about 8%% more CPU with it; leave it to the proxy in front, if that "
            "logs)"
        ),
    )
    serve.add_argument(
        "--shutdown-grace",
        type=_grace,
        default=None,
        metavar="SECONDS",
        help=(
            "on Ctrl-C/SIGTERM, how long running tasks may go on before they end "
            "FAILED (interrupted); new messages get 503 meanwhile (default: the "
            "app's shutdown_grace, 5)"
        ),
    )
    serve.add_argument(
        "--lease-seconds",
        type=_lease,
        default=None,
        metavar="SECONDS",
        help=(
            "how long a running task's lease lasts without a heartbeat: when this "
            "instance stops, another one sharing --db takes its tasks over after at "
            "most this long (default: the app's lease_seconds, 10)"
        ),
    )
    serve.add_argument(
        "--max-running",
        type=_count(1),
        default=None,
        metavar="N",
        help=(
            "tasks this instance runs at once; beyond, new work is queued in --db and "
            "run by whichever instance sharing it has room (default: the app's "
            "limits, 10000)"
        ),
    )
    serve.add_argument(
        "--max-queued",
        type=_count(0),
        default=None,
        metavar="N",
        help=(
            "queued tasks --db holds at most; beyond, messages get 503 (the agent is "
            "saturated; retry later) (default: the app's limits, 10000)"
        ),
    )
    tls = serve.add_argument_group("TLS (https and mutual TLS)")
    tls.add_argument(
        "--ssl-certfile", metavar="PEM", help="server certificate: serve https"
    )
    tls.add_argument(
        "--ssl-keyfile", metavar="PEM", help="private key of --ssl-certfile"
    )
    tls.add_argument(
        "--ssl-ca-certs",
        metavar="PEM",
        help="CA bundle client certificates are verified against (mutual TLS)",
    )
    tls.add_argument(
        "--ssl-client-cert",
        choices=("required", "optional", "none"),
        help="client certificates (default: required with --ssl-ca-certs)",
    )
    grpc = serve.add_argument_group("gRPC (the grpc extra: pip install 'accord[grpc]')")
    grpc.add_argument(
        "--grpc-port",
        type=_count(0, 65535),
        metavar="PORT",
        help=(
            "also serve gRPC (lf.a2a.v1.A2AService) on --host at PORT (0 picks a "
            "free one), listed in the card; TLS with the --ssl-* files"
        ),
    )
    grpc.add_argument(
        "--grpc-public-url",
        metavar="URL",
        help="the gRPC address the card advertises (default: HOST:PORT as bound)",
    )
    public_options(serve)
    add_push_options(serve)
    operations_options(serve)
    connection_limits(serve)
    add_otel_options(serve)
    add_console_options(serve)
    serve.set_defaults(module="serve")

    card = commands.add_parser(
        "card",
        help="fetch, validate and show an agent card",
        epilog=EXAMPLES["CARD"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(card)
    _client_options(card)
    card.set_defaults(module="card")
    _signing_commands(commands, serve)
    add_drift_parsers(commands, _client_options)

    send = commands.add_parser(
        "send",
        help="send a message and show the task it produces",
        description="Send a message (blocking by default; --stream shows events live).",
        epilog=EXAMPLES["SEND"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(send)
    send.add_argument(
        "text",
        metavar="TEXT",
        nargs="?",
        help="the message text; - reads it from stdin, @FILE from a file (UTF-8, "
        "one trailing newline dropped)",
    )
    send.add_argument(
        "--data",
        type=_json,
        metavar="JSON",
        help="add a data part with this JSON value; - reads it from stdin, @FILE "
        "from a file",
    )
    send.add_argument(
        "--task-id", metavar="ID", help="continue this task (e.g. after INPUT_REQUIRED)"
    )
    send.add_argument(
        "--context-id", metavar="ID", help="send within this conversation context"
    )
    send.add_argument(
        "--stream",
        action="store_true",
        help="stream status and artifacts as they happen",
    )
    _client_options(send)
    send.set_defaults(module="send")

    task = commands.add_parser("task", help="get, list, cancel or follow tasks")
    task_commands = task.add_subparsers(
        dest="task_command", metavar="ACTION", required=True
    )

    get = task_commands.add_parser(
        "get",
        help="show a task",
        epilog=EXAMPLES["TASK_GET"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(get)
    get.add_argument("task_id", metavar="ID")
    get.add_argument(
        "--history",
        type=_count(0),
        metavar="N",
        help="include up to N history messages",
    )
    _client_options(get)
    get.set_defaults(module="task", action="get")

    listing = task_commands.add_parser(
        "list",
        help="list tasks, newest first",
        description=(
            "List tasks, newest first: task id, state, last update (UTC) and context "
            "id, shortened to fit a terminal (in full when piped; --json prints the "
            "ListTasksResponse)."
        ),
        epilog=EXAMPLES["TASK_LIST"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(listing)
    listing.add_argument(
        "--context-id", metavar="ID", help="only tasks of this context"
    )
    listing.add_argument(
        "--status",
        type=_state,
        metavar="STATE",
        help="only tasks in this state (e.g. completed)",
    )
    listing.add_argument(
        "--page-size", type=_count(1, 100), metavar="N", help="tasks per page (1-100)"
    )
    listing.add_argument(
        "--page-token", metavar="TOKEN", help="continue from this page token"
    )
    listing.add_argument(
        "--include-artifacts", action="store_true", help="include the tasks' artifacts"
    )
    _client_options(listing)
    listing.set_defaults(module="task", action="list")

    cancel = task_commands.add_parser(
        "cancel",
        help="cancel a task",
        epilog=EXAMPLES["TASK_CANCEL"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(cancel)
    cancel.add_argument("task_id", metavar="ID")
    _client_options(cancel)
    cancel.set_defaults(module="task", action="cancel")

    subscribe = task_commands.add_parser(
        "subscribe",
        help="stream a task's events until it ends or waits for you",
        description=(
            "Show the task's current state at once, then its events as they happen, "
            "until it ends. When it waits for the client (INPUT_REQUIRED, "
            "AUTH_REQUIRED), say how to answer and exit (0), unless --keep-open."
        ),
        epilog=EXAMPLES["TASK_SUBSCRIBE"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(subscribe)
    subscribe.add_argument("task_id", metavar="ID")
    subscribe.add_argument(
        "--last-event-id", metavar="N", help="resume after this SSE event id"
    )
    subscribe.add_argument(
        "--keep-open",
        action="store_true",
        help="keep following while the task waits for input or authorization "
        "(default: show how to answer and exit)",
    )
    _client_options(subscribe)
    subscribe.set_defaults(module="task", action="subscribe")

    db = commands.add_parser(
        "db", help="manage the task database (SQLite or PostgreSQL)"
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_commands.add_parser(
        "migrate", help="create or upgrade the database schema"
    )
    migrate.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: accord.db)",
    )
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")
    migrate.set_defaults(module="db", action="migrate")
    add_push_parser(commands)
    add_audit_parsers(commands)
    _client_options(add_mcp_parser(commands), json=False)
    add_registry_parsers(commands)
    add_console_parser(commands)
    add_negotiate_parser(commands, _client_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``accord`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Never raises (except ``SystemExit`` from nowhere): an unexpected exception becomes
    a one-line message and exit code 70 unless ``$ACCORD_DEBUG`` asks for the
    traceback; a closed stdout (``accord … | head``) ends the run quietly.
    """
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, while a closed pipe can still be caught
    except BrokenPipeError:
        return silence_stdout()
    except KeyboardInterrupt:  # e.g. while the parser or a command imports
        report("accord: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # outside a command, e.g. building the parser
        return unexpected(exc)
    return code


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if tuple(argv[:2]) in COMPOUND_COMMANDS:
        argv = [" ".join(argv[:2]), *argv[2:]]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        module = importlib.import_module(f"accord.cli.commands.{args.module}")
        code: int = module.run(args)
    except KeyboardInterrupt:
        print("accord: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # A reader that went away (`accord … | head`) ends the run quietly.
        if broken_pipe(exc):
            return silence_stdout()
        expected = exit_code_for(exc)
        if expected is None:
            return unexpected(exc, f"accord {args.command}")
        report(f"accord: {explain(exc, args)}")
        return expected
    return code


def entry() -> None:
    """Console-script entry point (also ``python -m accord.cli``)."""
    argv = sys.argv[1:]
    if argv[:1] != ["serve"]:
        skip_unused_imports(argv)
        show_warnings()
    sys.exit(main())
