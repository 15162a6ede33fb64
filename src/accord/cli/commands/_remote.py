"""What the commands that talk to an agent share: building and opening the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from accord.client import Client, ClientConfig

__all__ = ["client_config", "connect", "request_headers"]

#: Connect and card timeouts never exceed these (seconds), whatever ``--timeout`` says:
#: a refused or unreachable agent should fail fast even when answers may take long.
CONNECT_TIMEOUT = 10.0
CARD_TIMEOUT = 30.0


def request_headers(args: argparse.Namespace) -> dict[str, str]:
    """Headers from ``-H`` and ``--token`` (the token wins for ``Authorization``)."""
    headers = dict(args.headers)
    if args.token:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {args.token}"
    return headers


def client_config(args: argparse.Namespace) -> ClientConfig:
    """The :class:`~accord.client.ClientConfig` the options ask for."""
    from accord.client import ClientConfig, ClientTimeouts

    timeout = float(args.timeout)
    return ClientConfig(
        preferred_bindings=(args.binding,) if args.binding else (),
        timeouts=ClientTimeouts(
            connect=min(CONNECT_TIMEOUT, timeout),
            read=timeout,
            card=min(CARD_TIMEOUT, timeout),
        ),
    )


async def connect(args: argparse.Namespace) -> Client:
    """Fetch the card at ``args.url`` and open a client for it."""
    from accord.client import Client

    return await Client.connect(
        args.url, config=client_config(args), headers=request_headers(args)
    )
