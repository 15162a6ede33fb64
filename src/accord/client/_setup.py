"""What :class:`~accord.client.Client` makes from its arguments: the message to send,
the router over the card's interfaces, and the checks made before anything is sent
(a borrowed httpx client with a certificate, a pinned card)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from accord.errors import CardDriftError
from accord.types import Message, Part, replace, user_message

from ._router import Router
from .card import suitable_interfaces
from .credentials import select_credentials
from .credentials._selection import certificate_of

if TYPE_CHECKING:
    import httpx

    from accord.types import AgentCard, MessageContent

    from .config import ClientConfig
    from .credentials import Credentials

__all__: list[str] = []


def _message(
    message: Message | MessageContent | Sequence[MessageContent],
    context_id: str | None,
    task_id: str | None,
) -> Message:
    if not isinstance(message, Message):
        if isinstance(message, str | Part | Mapping):
            contents: Sequence[MessageContent] = (message,)
        elif isinstance(message, Sequence) and not isinstance(message, bytes):
            contents = message
        else:
            raise TypeError(
                f"cannot send a {type(message).__name__}: give a str, a dict (data), "
                "a Part, a list of those, or a Message (see accord.types.user_message)"
            )
        return user_message(
            *contents, context_id=context_id or "", task_id=task_id or ""
        )
    changes = {k: v for k, v in (("context_id", context_id), ("task_id", task_id)) if v}
    return replace(message, **changes) if changes else message


def _borrowed(http: httpx.AsyncClient | None, credentials: Credentials | None) -> None:
    if http is not None and certificate_of(credentials) is not None:
        raise ValueError(
            "a ClientCertificate is configured on the httpx client the Client"
            " creates; with your own httpx client, load it there instead:"
            " httpx.AsyncClient(verify=ssl_context(certificate=...))"
        )


def _check_pin(url: str, card: AgentCard, pin: str) -> None:
    """Raise :class:`CardDriftError` when ``card`` is not the pinned content."""
    from accord.security.pins import card_pin

    actual = card_pin(card)
    if actual != pin:
        raise CardDriftError(url, expected=pin, actual=actual)


def _router(
    card: AgentCard,
    config: ClientConfig,
    http: httpx.AsyncClient | None,
    headers: Mapping[str, str] | None,
    credentials: Credentials | None,
) -> Router:
    interfaces = suitable_interfaces(card, config.preferred_bindings, config.bindings)
    selected = (
        select_credentials(card, credentials) if credentials is not None else None
    )
    return Router.for_interfaces(interfaces, config, http, headers, selected)
