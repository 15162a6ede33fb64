"""``accord card diff OLD NEW`` and ``accord card pin URL``: card drift and pins.

Theory of operation. Each card is a URL (fetched as ``accord card`` fetches one: the
base URL or the card URL, the connection and authentication options apply) or a
file (JSON, a v1.0 card or a v0.3 one, read as the client reads a fetched card).

``diff`` compares them with :func:`accord.security.diff_cards` and prints the changes
grouped by impact (breaking, compatible, cosmetic), or the diff as JSON with
``--json``. Its exit code says the worst impact, so a CI job can gate on it:

* 0: no change (the pins are equal; a re-signed card is unchanged);
* 1: changes, none breaking;
* 6: at least one breaking change (:data:`EXIT_BREAKING`).

Errors keep the usual codes (2 usage, 3 connect, 4 auth, 5 no card). ``pin`` prints
the card's :func:`accord.security.card_pin`, the value ``Client.connect(pin=...)``
takes.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from accord.client import ClientConfig
    from accord.security import CardDiff
    from accord.types import AgentCard

__all__ = ["EXIT_BREAKING", "EXIT_CHANGED", "add_drift_parsers", "run"]

#: ``card diff``: the cards differ, nothing breaking.
EXIT_CHANGED = 1
#: ``card diff``: at least one breaking change.
EXIT_BREAKING = 6

_DIFF_HELP = """\
Compare two agent cards (each a URL or a file) and print what changed, grouped by
impact: breaking (something a partner may rely on is gone or stricter), compatible
(additions) and cosmetic (names, descriptions, links). A card that changed while
its version did not is flagged, and so is a breaking change without a major bump
of a semantic version. Signatures are left out: a re-signed card is unchanged.

exit status: 0 no change, 1 changes none of them breaking, 6 a breaking change
(errors: 2 usage, 3 connect, 4 auth, 5 no card; see accord --help)."""

_PIN_HELP = """\
Print the pin of an agent card (a URL or a file): sha256 of its RFC 8785 canonical
JSON without signatures, the value Client.connect(url, pin=...) checks. A card
re-signed with another key keeps its pin; any change to its content does not."""


def add_drift_parsers(
    commands: Any, client_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``card diff`` and ``card pin`` (``client_options`` adds --timeout etc.)."""
    from .._help import EXAMPLES

    diff = commands.add_parser(
        "card diff",
        help="what changed between two agent cards, and is it breaking",
        description=_DIFF_HELP,
        epilog=EXAMPLES["DIFF"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("old", metavar="OLD", help="the old card: a URL or a file")
    diff.add_argument("new", metavar="NEW", help="the new card: a URL or a file")
    client_options(diff)
    diff.set_defaults(module="card_drift", action="diff")

    pin = commands.add_parser(
        "card pin",
        help="print an agent card's pin (for Client.connect(pin=...))",
        description=_PIN_HELP,
        epilog=EXAMPLES["PIN"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pin.add_argument("card", metavar="URL_OR_FILE")
    client_options(pin)
    pin.set_defaults(module="card_drift", action="pin")


def run(args: argparse.Namespace) -> int:
    """``card diff`` or ``card pin``."""
    import anyio

    if args.action == "pin":
        return anyio.run(_pin, args)
    return anyio.run(_diff, args)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


async def _load(
    args: argparse.Namespace,
    http: httpx.AsyncClient,
    config: ClientConfig,
    source: str,
) -> AgentCard:
    """The card at ``source``: fetched when it is a URL, else read from the file."""
    import anyio

    from accord.client.card import decode_card

    from .._errors import UsageError
    from ._remote import fetch_card

    if _is_url(source):
        # fetch_card reports errors in terms of args.url: name this source there.
        args.url = source
        return await fetch_card(args, http, config)
    try:
        content = await anyio.Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {source}: {exc.strerror} (give a file or an http(s) URL)"
        ) from None
    return decode_card(content, source)


async def _diff(args: argparse.Namespace) -> int:
    import json

    from accord.security import Impact, diff_cards

    from .._output import Printer
    from ._remote import client_config, http_client

    config = client_config(args)
    async with http_client(args) as http:
        old = await _load(args, http, config, args.old)
        new = await _load(args, http, config, args.new)
    diff = diff_cards(old, new)
    out = Printer()
    if args.json:
        document = {"old": args.old, "new": args.new, **diff.to_json()}
        out.line(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        out.lines(diff_lines(diff, args.old, args.new))
    if diff.identical:
        return 0
    return EXIT_BREAKING if diff.of(Impact.BREAKING) else EXIT_CHANGED


def _value(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def diff_lines(diff: CardDiff, old: str, new: str) -> list[str]:
    """The human form of ``diff``: a header, then the changes grouped by impact."""
    from accord.security import Impact

    if diff.identical:
        return [f"no change: both cards have pin {diff.new_pin}"]
    lines = [f"{old} -> {new}"]
    version = f"version: {diff.old_version or '(none)'}"
    if diff.version_unchanged:
        lines.append(f"{version} -- WARNING: the card changed without a version bump")
    else:
        lines.append(f"{version} -> {diff.new_version or '(none)'}")
        if diff.unannounced_break:
            lines.append(
                "WARNING: breaking changes without a major version bump "
                "(semantic versioning)"
            )
    lines.append(f"pin: {diff.old_pin} -> {diff.new_pin}")
    for impact in Impact:
        changes = diff.of(impact)
        if not changes:
            continue
        lines.append("")
        lines.append(f"{impact.value} ({len(changes)}):")
        for change in changes:
            where = f"{change.path}: " if change.path else ""
            line = f"  {where}{change.meaning}"
            if change.old is not None and change.new is not None:
                line += f" ({_value(change.old)} -> {_value(change.new)})"
            elif change.old is not None:
                line += f" ({_value(change.old)})"
            elif change.new is not None:
                line += f" ({_value(change.new)})"
            lines.append(line)
    return lines


async def _pin(args: argparse.Namespace) -> int:
    import json

    from accord.security import card_pin

    from .._output import Printer
    from ._remote import client_config, http_client

    config = client_config(args)
    async with http_client(args) as http:
        card = await _load(args, http, config, args.card)
    pin = card_pin(card)
    out = Printer()
    if args.json:
        document = {
            "card": args.card,
            "pin": pin,
            "name": card.name,
            "version": card.version,
        }
        out.line(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        out.line(pin)
    return 0
