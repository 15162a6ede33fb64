"""``accord card URL``: fetch an agent card, validate it, show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Fetch and print the card; exit 0 when it is valid and usable."""
    import anyio

    return anyio.run(_card, args)


async def _card(args: argparse.Namespace) -> int:
    import httpx

    from accord.client import CardResolver
    from accord.client.card import suitable_interfaces
    from accord.errors import CardError

    from .._output import Printer, card_lines, to_json
    from ._remote import client_config, request_headers

    config = client_config(args)
    async with httpx.AsyncClient() as http:
        resolver = CardResolver(
            http, timeouts=config.timeouts, headers=request_headers(args)
        )
        card = await resolver.get(args.url)
    out = Printer()
    if args.json:
        out.line(to_json(card))
    else:
        out.lines(card_lines(card))
    # A card that decodes but offers nothing this client can talk to is not usable.
    try:
        suitable_interfaces(card, config.preferred_bindings)
    except CardError as exc:
        raise CardError(
            f"the card at {args.url} is valid but unusable: {exc}"
        ) from None
    return 0
