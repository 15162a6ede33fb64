"""Card pins: one short string that names the content of an agent card.

Theory of operation. A *pin* is ``sha256:`` followed by the lowercase hex SHA-256 of
the bytes a card signature covers (spec §8.4.1): the card as presence-exact ProtoJSON,
**without** ``signatures``, canonicalised by RFC 8785 (:func:`.cards.canonical_payload`).
So:

* any change a partner could notice (a skill, a mode, a security requirement, even a
  description) changes the pin;
* re-signing the same card, e.g. after a key rotation, does not: the signatures are
  not the content, and a pin that broke on every rotation would teach people to
  ignore it;
* figures an agent measured and publishes in its card (the guarantees extension's
  observed latency, :func:`accord.protocol.handshake.promised`) are left out: they
  change as the agent serves, its promises do not;
* the pin is computed from the card as this library reads it (:class:`~accord.types.
  AgentCard`), so members this version of Accord does not know are not covered (they
  cannot change what this client does), and a v0.3 card is pinned in its 1.0 form.

:class:`accord.client.Client` checks a pin with ``Client.connect(url, pin=...)``;
``accord card pin URL`` prints the one to use; ``accord card diff OLD NEW`` says what
changed when a pin no longer matches (:mod:`.card_diff`).

This module does no I/O.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from accord.protocol.handshake import promised

from .cards import canonical_payload

if TYPE_CHECKING:
    from accord.types import AgentCard

__all__ = ["PIN_ALGORITHM", "card_pin", "parse_pin"]

#: The hash algorithm of a pin, and its prefix (``sha256:``).
PIN_ALGORITHM = "sha256"
_PIN = re.compile(r"sha256:[0-9a-f]{64}")


def card_pin(card: AgentCard) -> str:
    """The pin of ``card``: ``sha256:<hex>`` of its canonical content (no signatures,
    no measured figures)."""
    digest = hashlib.sha256(canonical_payload(promised(card))).hexdigest()
    return f"{PIN_ALGORITHM}:{digest}"


def parse_pin(text: str) -> str:
    """``text`` as a pin in its normal form (lowercase hex), or :class:`ValueError`.

    Surrounding whitespace is dropped and the hex digits may be upper case (a pin
    copied from another tool); anything else is refused, so that a typo fails at
    once rather than as a drift on every connection.
    """
    candidate = text.strip()
    prefix, sep, digits = candidate.partition(":")
    normal = f"{prefix.lower()}{sep}{digits.lower()}"
    if not _PIN.fullmatch(normal):
        raise ValueError(
            f"not a card pin: {text!r} (expected sha256: and 64 hex digits, "
            "as `accord card pin URL` prints)"
        )
    return normal
