"""Deciding what a newly seen card means for an entry: same card, or a new version.

Both stores call :func:`next_version` inside their write transaction with the
latest recorded card, so the rule lives once: a card whose pin equals the latest is
no new version (a re-signed card keeps its pin, see :mod:`accord.security.pins`);
any other card is the next version, with its diff from the latest and its flags
(changed without a version bump; breaking).

This module does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.security import Impact, card_pin, diff_cards

from .entries import CardVersion

if TYPE_CHECKING:
    from accord.types import AgentCard

__all__ = ["Latest", "next_version"]


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest recorded version of an entry: its number, pin and card."""

    number: int
    pin: str
    card: AgentCard


def next_version(
    latest: Latest | None, card: AgentCard, card_json: str, now: float
) -> CardVersion | None:
    """The version to record for ``card``, or ``None`` when it is the latest one."""
    pin = card_pin(card)
    if latest is None:
        return CardVersion(
            number=1,
            pin=pin,
            card_json=card_json,
            diff=None,
            version_unchanged=False,
            breaking=False,
            recorded_at=now,
        )
    if latest.pin == pin:
        return None
    diff = diff_cards(latest.card, card)
    return CardVersion(
        number=latest.number + 1,
        pin=pin,
        card_json=card_json,
        diff=diff.to_json(),
        version_unchanged=diff.version_unchanged,
        breaking=diff.impact is Impact.BREAKING,
        recorded_at=now,
    )
