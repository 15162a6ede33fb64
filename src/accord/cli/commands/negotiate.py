"""``accord negotiate URL SKILL``: propose a task and show the agent's decision.

The agent answers before any work (the negotiation extension,
:mod:`accord.protocol.handshake.negotiation`): accept (with an agreement id),
reject (with the reason) or counter (refined terms). ``--accept-counter`` accepts a
counter straight away; ``--start`` then starts the task under the agreement and
shows it, as ``accord send`` does.

Exit status: 0 accepted (or started and not failed), 1 rejected, or countered and
not accepted (errors keep the usual codes; see ``accord --help``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from accord.protocol.handshake import Budget, Decision

__all__ = ["EXIT_NOT_AGREED", "add_negotiate_parser", "run"]

#: The proposal was rejected, or countered and the counter not accepted.
EXIT_NOT_AGREED = 1

_HELP = """\
Propose a task to an agent that declares the negotiation extension and print its
decision: accept (an agreement id), reject (why), or counter (refined terms). Nothing
runs until a task is started under an agreement (--start).

exit status: 0 agreed, 1 rejected or countered (errors: 2 usage, 3 connect, 4 auth;
see accord --help)."""

_EXAMPLES = """\
examples:
  accord negotiate http://127.0.0.1:8000 schedule_callback \\
      --param phone=+14155550123 --param 'time_window=2026-12-05 10-12' \\
      --residency US --budget '1.00 USD' --data phone_number,time_window \\
      --accept-counter --start"""


def _param(text: str) -> tuple[str, Any]:
    import json

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _budget(text: str) -> Budget:
    from decimal import Decimal, InvalidOperation

    from accord.protocol.handshake import Budget

    amount, _, currency = text.strip().partition(" ")
    try:
        return Budget(Decimal(amount), currency.strip().upper())
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount and a currency, e.g. '1.50 USD'"
        ) from None


def _deadline(text: str) -> Any:
    from accord.protocol.handshake import parse_time

    try:
        return parse_time(text, "deadline")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; e.g. 2026-12-01T12:00:00Z") from None


def _categories(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def add_negotiate_parser(
    commands: Any, client_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``negotiate`` (``client_options`` adds the connection options)."""
    parser = commands.add_parser(
        "negotiate",
        help="propose a task and show the agent's decision (before any work)",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .._argtypes import url

    parser.add_argument(
        "url", metavar="URL", type=url, help="the agent's base URL or card URL"
    )
    parser.add_argument("skill", metavar="SKILL", help="the skill's id (from the card)")
    parser.add_argument(
        "--param",
        dest="params",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the task (repeatable; VALUE is JSON, else a string)",
    )
    parser.add_argument("--deadline", type=_deadline, metavar="TIME", help="RFC 3339")
    parser.add_argument(
        "--budget", type=_budget, metavar="'AMOUNT CUR'", help="e.g. '1.50 USD'"
    )
    parser.add_argument(
        "--data",
        type=_categories,
        default=(),
        metavar="CATEGORIES",
        help="data categories you will share, comma-separated",
    )
    parser.add_argument("--residency", metavar="REGION", help="e.g. EU, US")
    parser.add_argument(
        "--accept-counter",
        action="store_true",
        help="accept a counter-proposal straight away",
    )
    parser.add_argument(
        "--start",
        action="store_true",
        help="start the task under the agreement and show it",
    )
    client_options(parser)
    parser.set_defaults(module="negotiate")


def run(args: argparse.Namespace) -> int:
    """Negotiate; the exit code says whether there is an agreement."""
    import anyio

    return anyio.run(_negotiate, args)


def _lines(decision: Decision) -> list[str]:
    import json

    lines = [f"{'decision:':<11}{decision.outcome}"]
    if decision.reason:
        lines.append(f"{'reason:':<11}{decision.reason}")
    if decision.agreement_id:
        lines.append(f"{'agreement:':<11}{decision.agreement_id}")
    if decision.counter_id:
        lines.append(f"{'counter:':<11}{decision.counter_id}")
    if decision.expires is not None:
        lines.append(f"{'expires:':<11}{decision.expires:%Y-%m-%dT%H:%M:%SZ}")
    if decision.terms is not None:
        lines.append("terms:")
        text = json.dumps(decision.terms.to_json(), indent=2, ensure_ascii=False)
        lines.extend(f"  {line}" for line in text.splitlines())
    return lines


async def _negotiate(args: argparse.Namespace) -> int:
    import json

    from accord.client.handshake import accept_counter, propose, under_agreement
    from accord.types import Task, to_builtins

    from .._output import Printer, task_lines
    from ._remote import connect
    from .send import exit_code

    out = Printer()
    decisions: list[Decision] = []
    task = None
    async with await connect(args) as client:
        decision = await propose(
            client,
            args.skill,
            dict(args.params),
            deadline=args.deadline,
            budget=args.budget,
            data=args.data,
            residency=args.residency,
        )
        decisions.append(decision)
        if decision.outcome == "counter" and args.accept_counter:
            decision = await accept_counter(client, decision)
            decisions.append(decision)
        if decision.outcome == "accept" and args.start:
            task = await client.send_message(under_agreement(decision))
    if args.json:
        body: dict[str, Any] = {"decisions": [d.to_json() for d in decisions]}
        if task is not None:
            body["task" if isinstance(task, Task) else "message"] = to_builtins(task)
        out.line(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        for index, given in enumerate(decisions):
            if index:
                out.line("")
            out.lines(_lines(given))
        if isinstance(task, Task):
            out.line("")
            out.lines(task_lines(task))
    if decision.outcome != "accept":
        return EXIT_NOT_AGREED
    return exit_code(task) if isinstance(task, Task) else 0
