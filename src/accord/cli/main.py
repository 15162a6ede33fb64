"""The ``accord`` command: argument parsing, dispatch, and exit codes.

Theory of operation. :func:`main` builds the argparse tree (this module imports
nothing heavier than argparse, so ``accord --help`` stays fast), imports the chosen
command module from :mod:`accord.cli.commands` only then, and runs its ``run(args)``.
Expected failures (``A2AError`` and friends) never print a traceback: :mod:`._errors`
turns them into one actionable line on stderr and an exit code (see ``EPILOG``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from ._errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for, explain

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["EPILOG", "build_parser", "entry", "main"]

EPILOG = """\
exit codes:
  0  success (for send / task subscribe: the task did not end badly)
  1  the task ended FAILED, REJECTED or CANCELED, or the agent answered an error
  2  usage error (bad arguments, TARGET not found)
  3  cannot connect to the agent (refused, DNS, TLS, timeout)
  4  authentication or authorization refused (HTTP 401/403)
  5  not found (unknown task, no agent card at the URL)
  130 interrupted (Ctrl-C)

environment:
  ACCORD_TOKEN  bearer token sent as 'Authorization: Bearer …' (same as --token)

examples:
  accord serve                                  # the demo Receptionist on :8000
  accord card http://127.0.0.1:8000
  accord send http://127.0.0.1:8000 "Summary of call-1001"
  accord send http://127.0.0.1:8000 "Escalate call-1003" --stream
  accord task list http://127.0.0.1:8000 --status input-required
"""

BINDING_CHOICES = {"JSONRPC": "JSONRPC", "HTTP+JSON": "HTTP+JSON", "REST": "HTTP+JSON"}
STATE_NAMES = (
    "submitted",
    "working",
    "completed",
    "failed",
    "canceled",
    "input-required",
    "rejected",
    "auth-required",
)


def _binding(value: str) -> str:
    binding = BINDING_CHOICES.get(value.upper())
    if binding is None:
        raise argparse.ArgumentTypeError(
            f"unknown binding {value!r}; choose JSONRPC or HTTP+JSON"
        )
    return binding


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None


def _state(value: str) -> str:
    name = value.strip().upper().removeprefix("TASK_STATE_").replace("-", "_")
    if name.lower().replace("_", "-") not in STATE_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown state {value!r}; choose one of: {', '.join(STATE_NAMES)}"
        )
    return name


def _count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within ``[minimum, maximum]``."""
    allowed = f">= {minimum}" if maximum is None else f"{minimum}-{maximum}"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a whole number"
            ) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"{number} is out of range ({allowed})")
        return number

    return parse


def _seconds(value: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a positive number of seconds"
        )
    return seconds


def _header(value: str) -> tuple[str, str]:
    name, sep, content = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    return name.strip(), content.strip()


def _url(value: str) -> str:
    """An argparse type: an absolute http(s) URL (checked here, so a typo is a usage error)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        valid = False
    if not valid:
        hint = f"; did you mean http://{value}?" if "://" not in value else ""
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000{hint}"
        )
    return value


def _remote(
    parser: argparse.ArgumentParser,
    *,
    url_help: str = "the agent's base URL or card URL",
) -> None:
    parser.add_argument("url", metavar="URL", type=_url, help=url_help)


def _client_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--binding",
        type=_binding,
        metavar="JSONRPC|HTTP+JSON",
        help="use this protocol binding (default: the card's preferred one)",
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
        "--token",
        default=os.environ.get("ACCORD_TOKEN") or None,
        help="bearer token (default: $ACCORD_TOKEN)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for an answer (default: 300)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print machine-readable ProtoJSON instead of text",
    )


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
            "create_agent). An Agent gets a SQLite task store in --db; an A2AApp "
            "keeps its own store. Without TARGET: the Receptionist from examples/ "
            "(source checkout). Stop with Ctrl-C or SIGTERM (graceful)."
        ),
        epilog=EPILOG,
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
        metavar="PATH",
        help="SQLite file for tasks (default: accord.db)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        help="server log level (default: info)",
    )
    serve.set_defaults(module="serve")

    card = commands.add_parser(
        "card",
        help="fetch, validate and show an agent card",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(card)
    _client_options(card)
    card.set_defaults(module="card")

    send = commands.add_parser(
        "send",
        help="send a message and show the task it produces",
        description="Send a message (blocking by default; --stream shows events live).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(send)
    send.add_argument("text", metavar="TEXT", nargs="?", help="the message text")
    send.add_argument(
        "--data",
        type=_json,
        metavar="JSON",
        help="add a data part with this JSON value",
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
        epilog=EPILOG,
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
        epilog=EPILOG,
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
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(cancel)
    cancel.add_argument("task_id", metavar="ID")
    _client_options(cancel)
    cancel.set_defaults(module="task", action="cancel")

    subscribe = task_commands.add_parser(
        "subscribe",
        help="stream a task's events until it ends",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _remote(subscribe)
    subscribe.add_argument("task_id", metavar="ID")
    subscribe.add_argument(
        "--last-event-id", metavar="N", help="resume after this SSE event id"
    )
    _client_options(subscribe)
    subscribe.set_defaults(module="task", action="subscribe")

    db = commands.add_parser("db", help="manage the SQLite task database")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_commands.add_parser(
        "migrate", help="create or upgrade the database schema"
    )
    migrate.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH",
        help="SQLite file (default: accord.db)",
    )
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")
    migrate.set_defaults(module="db", action="migrate")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``accord`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    module = importlib.import_module(f"accord.cli.commands.{args.module}")
    try:
        code: int = module.run(args)
    except KeyboardInterrupt:
        print("accord: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        expected = exit_code_for(exc)
        if expected is None:
            raise
        print(f"accord: {explain(exc, args)}", file=sys.stderr, flush=True)
        return expected
    return code


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
