"""``accord push listen``: a webhook that prints the push notifications it receives.

Theory of operation. For people building against an agent that sends push
notifications (spec §4.3.3): a :class:`~accord.client.webhooks.WebhookApp` served with
uvicorn on ``--host``/``--port`` (port 0: a free one), which checks each request
(``--token``, ``--authorization``, and with ``--agent`` the agent's signatures) and
prints one line per new notification on stdout: the time, the task, the event's kind
and its state or artifact (``--json``: one JSON object per line). Duplicates are
acknowledged and not printed again.

stdout carries the notifications only; what the command says about itself goes to
stderr: the webhook URL to give the agent (once the socket is bound), what is checked,
and each refused request with its reason (a wrong token, a bad signature...), so the
output can be piped or redirected as is. A reader that goes away (``| head``) stops
the listener quietly (exit 141); the notification it could not print is answered 500,
so the agent sends it again to the next listener.

``--agent URL`` fetches the agent's card; when it declares the signed-push extension
(:data:`~accord.protocol.push.SIGNED_PUSH_EXTENSION`) its JWK Set is fetched and every
notification must carry a valid signature, made for ``--audience`` (default: the URL
printed, which is then the URL to give the agent).

Ctrl-C or SIGTERM stops it gracefully (exit 0), as ``accord serve``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._argtypes import count, url
from .._errors import (
    DEBUG_ENV,
    EXIT_FAILED,
    EXIT_PIPE,
    UsageError,
    report,
    silence_stdout,
)
from .push_dead import add_dead_letter_parsers

if TYPE_CHECKING:
    import logging
    import socket
    from collections.abc import Iterator

    from accord.client.webhooks import Notification, NotificationCheck
    from accord.security import JWKSet
    from accord.types import AgentCard, Message

__all__ = [
    "EXAMPLES",
    "add_push_parser",
    "human_line",
    "json_line",
    "run",
]

EXAMPLES = """\
examples:
  accord push listen --port 9000 --token s3cr3t
      then give the agent the printed URL and the token in a push config
  accord push listen --agent http://127.0.0.1:8000 --json > notifications.jsonl
      also require the agent's signatures (when its card declares them)

`accord --help` lists the exit codes.
"""

#: Seconds a card or JWK Set fetch for ``--agent`` may take.
FETCH_TIMEOUT = 30.0
#: Characters of a status or message text shown on a human line.
TEXT_WIDTH = 60
#: Characters of a task id shown on a terminal (in full when piped).
SHORT_ID = 8
#: Headers that carry credentials: never printed, even those no option checks.
_SECRET_HEADERS = frozenset({"authorization", "x-a2a-notification-token"})


def add_push_parser(commands: Any) -> None:
    """Add ``push listen``, ``push dead`` and ``push revive`` to the ``accord`` subcommands (``commands`` is the
    ``add_subparsers()`` object)."""
    push = commands.add_parser(
        "push", help="receive push notifications; see and revive dead letters"
    )
    actions = push.add_subparsers(dest="push_command", metavar="ACTION", required=True)
    listen = actions.add_parser(
        "listen",
        help="serve a webhook that prints each push notification it receives",
        description=(
            "Serve a webhook on HOST:PORT and print each push notification an agent\n"
            "sends to it on stdout, one line each (--json: one JSON object per line).\n"
            "The URL to give the agent, what is checked and every refused request go\n"
            "to stderr. Duplicates are acknowledged, not printed again. Stop with\n"
            "Ctrl-C or SIGTERM."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listen.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    listen.add_argument(
        "--port",
        type=count(0, 65535),
        default=0,
        help="port (default: 0, a free one; the URL is printed)",
    )
    checks = listen.add_argument_group(
        "checks", "A request failing one is refused and not printed."
    )
    checks.add_argument(
        "--token",
        metavar="TOKEN",
        help="the token of the push config: require it in X-A2A-Notification-Token",
    )
    checks.add_argument(
        "--authorization",
        metavar="VALUE",
        help="the exact Authorization header to require (the config's "
        "authentication, e.g. 'Bearer s3cr3t')",
    )
    checks.add_argument(
        "--agent",
        type=url,
        metavar="URL",
        help="the agent's base or card URL: when its card declares signed push "
        "notifications, fetch its keys and require a valid signature",
    )
    checks.add_argument(
        "--audience",
        type=url,
        metavar="URL",
        help="with --agent: the webhook URL the agent was given, which signatures "
        "must name (default: the URL printed)",
    )
    checks.add_argument(
        "--task",
        dest="tasks",
        action="append",
        metavar="ID",
        help="accept only this task's notifications; others get 404 (repeatable)",
    )
    listen.add_argument(
        "--json",
        action="store_true",
        help="print each notification as one JSON object per line",
    )
    listen.set_defaults(module="push", action="listen")
    add_dead_letter_parsers(actions)


def _shorten(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _quoted(text: str) -> str:
    """A text on one line, quoted (JSON escapes keep newlines out)."""
    return json.dumps(_shorten(text, TEXT_WIDTH), ensure_ascii=False)


def _said(message: Message | None) -> str:
    from accord.types import text_of

    if message is None:
        return ""
    text = text_of(message)
    return f" {_quoted(text)}" if text else ""


def human_line(
    notification: Notification, *, when: float | None = None, short: bool = False
) -> str:
    """One notification for people: ``12:00:01 task 3f2a… status WORKING "…"``.

    ``short`` shortens the task id (for a terminal; a pipe gets it in full).
    """
    clock = time.strftime("%H:%M:%S", time.localtime(when))
    task_id = notification.task_id
    head = f"{clock} task {_shorten(task_id, SHORT_ID + 1) if short else task_id}"
    event = notification.event
    if event.task is not None:
        status = event.task.status
        return f"{head} snapshot {status.state.name}{_said(status.message)}"
    if event.status_update is not None:
        status = event.status_update.status
        return f"{head} status {status.state.name}{_said(status.message)}"
    if event.artifact_update is not None:
        update = event.artifact_update
        artifact = update.artifact
        flags = [
            flag
            for flag, on in (
                ("append", update.append),
                ("last chunk", update.last_chunk),
            )
            if on
        ]
        extra = f" ({', '.join(flags)})" if flags else ""
        return (
            f"{head} artifact {_quoted(artifact.name or artifact.artifact_id)}{extra}"
        )
    return f"{head} message{_said(event.message)}"


def json_line(notification: Notification, *, when: float | None = None) -> str:
    """One notification as a JSON object: ``id``, ``taskId``, ``receivedAt`` (UTC),
    ``signedBy`` (the key id, or null), ``headers`` (without credentials) and
    ``event`` (the ``StreamResponse`` ProtoJSON)."""
    from datetime import UTC, datetime

    from accord.types import to_builtins

    moment = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    document = {
        "id": notification.id,
        "taskId": notification.task_id,
        "receivedAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "signedBy": notification.signed_by,
        "headers": {
            name: value
            for name, value in notification.headers.items()
            if name not in _SECRET_HEADERS
        },
        "event": to_builtins(notification.event),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class _StdoutClosed(Exception):
    """stdout's reader went away: the notification was not printed."""


async def _agent_keys(agent: str) -> tuple[AgentCard, str | None, JWKSet | None]:
    """The agent's card, and the URL and keys it signs notifications with (or Nones).

    Raises:
        UsageError: the card's declaration or the keys cannot be used.
        CardError, TransportError: the card or keys could not be fetched.
    """
    from accord.client.card import fetch_jwks
    from accord.client.webhooks import signing_keys_url

    from ._remote import client_config, fetch_card, http_client

    options = argparse.Namespace(
        url=agent, timeout=FETCH_TIMEOUT, binding=None, headers=[]
    )
    config = client_config(options)
    async with http_client(options) as http:
        card = await fetch_card(options, http, config)
        try:
            jwks_url = signing_keys_url(card)
        except ValueError as exc:
            raise UsageError(
                f"{agent}: {exc}; listen without --agent to check tokens only"
            ) from None
        if jwks_url is None:
            return card, None, None
        try:
            keys = await fetch_jwks(http, jwks_url, timeouts=config.timeouts)
        except ValueError as exc:  # plain http:// to another machine
            raise UsageError(
                f"{exc}: the agent's keys must be served over HTTPS; listen without "
                "--agent to check tokens only"
            ) from None
    if not len(keys):
        raise UsageError(
            f"the JWK Set at {jwks_url} holds no key accord can verify with"
        )
    return card, jwks_url, keys


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), so that the URL and
    the signatures' audience are known before any request is served."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}: {exc} — check --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} — pick another "
            "--port (0 picks a free one)"
        ) from None
    return sock


def _describe(
    check: NotificationCheck, card: AgentCard | None, jwks_url: str | None
) -> list[str]:
    """What the listener checks, for people (stderr)."""
    checked = []
    if check.token is not None:
        checked.append("the token (X-A2A-Notification-Token)")
    if check.authorization is not None:
        checked.append("the Authorization header")
    lines = []
    if card is not None and check.keys is not None:
        checked.append(f"signatures by {card.name}")
        lines.append(f"Keys: {jwks_url}")
        lines.append(
            f"Signatures must name {check.audience}: give the agent exactly this URL "
            "(or pass --audience)"
        )
    elif card is not None:
        lines.append(
            f"{card.name} does not sign its notifications (its card declares no "
            "signed-push extension): signatures are not checked"
        )
    if card is not None and not card.capabilities.push_notifications:
        lines.append(f"Note: {card.name}'s card does not declare push notifications")
    if checked:
        lines.insert(0, "Checking: " + ", ".join(checked))
    else:
        lines.insert(
            0,
            "Checking nothing: anyone who can reach this port may post (pass --token, "
            "--authorization or --agent)",
        )
    return lines


class _Concise:
    """A log filter: a failed handler's record without its traceback (unless
    ``$ACCORD_DEBUG``), and nothing for an unprinted notification (stdout closed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or record.exc_info[1] is None:
            return True
        error = record.exc_info[1]
        if isinstance(error, _StdoutClosed):
            return False
        if os.environ.get(DEBUG_ENV, "") in ("", "0"):
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


@contextmanager
def _webhook_log() -> Iterator[None]:
    """Refusals and handler failures on stderr, one timestamped line each."""
    import logging

    logger = logging.getLogger("accord.client.webhooks")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handler.addFilter(_Concise())
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def run(args: argparse.Namespace) -> int:
    """Listen until SIGINT / SIGTERM (0), or until stdout's reader leaves (141)."""
    import anyio
    import uvicorn

    from accord.client.webhooks import NotificationCheck, WebhookApp
    from accord.server.serving import uvicorn_options

    from .._output import Printer
    from .serve import _swallow_signal_replay, card_url

    if args.audience is not None and args.agent is None:
        raise UsageError(
            "--audience is what signatures are checked against: it needs --agent"
        )
    card = jwks_url = keys = None
    if args.agent is not None:
        args.url = args.agent  # for the messages of a failed fetch
        card, jwks_url, keys = anyio.run(_agent_keys, args.agent)
    sock = _bind(args.host, args.port)
    port = int(sock.getsockname()[1])
    webhook = card_url(args.host, port).removesuffix("/.well-known/agent-card.json")
    webhook += "/"
    tasks = frozenset(args.tasks or ())
    try:
        check = NotificationCheck(
            token=args.token,
            authorization=args.authorization,
            keys=keys,
            audience=(args.audience or webhook) if keys is not None else None,
            expected_task=tasks.__contains__ if tasks else None,
        )
    except ValueError as exc:
        sock.close()
        raise UsageError(f"{exc} (--token, --authorization)") from None

    printer = Printer()
    short = not args.json and sys.stdout.isatty()
    closed = False

    async def handle(notification: Notification) -> None:
        nonlocal closed
        if closed:  # stdout is /dev/null now: refuse, so that the agent retries
            raise _StdoutClosed
        line = (
            json_line(notification)
            if args.json
            else human_line(notification, short=short)
        )
        try:
            printer.line(line)
        except BrokenPipeError:
            closed = True
            silence_stdout()
            server.should_exit = True
            raise _StdoutClosed from None

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                report(f"Webhook URL: {webhook}")
                for line in _describe(check, card, jwks_url):
                    report(line)

    config = uvicorn.Config(
        WebhookApp(handle, check),
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        **uvicorn_options(),
    )
    server = Server(config)
    with sock, _webhook_log(), _swallow_signal_replay():
        try:
            server.run(sockets=[sock])
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                report("accord: the listener could not start (see the log above)")
                return EXIT_FAILED
    return EXIT_PIPE if closed else 0
