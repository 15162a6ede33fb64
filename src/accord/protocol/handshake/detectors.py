"""Detectors of personal data in free text: phone numbers, emails, card numbers, IBANs.

Free text cannot be minimised by path, so it is scanned: each detector is a pattern
plus a check that removes look-alikes (a card number passes the Luhn check, an IBAN
its ISO 7064 mod-97 check, a phone number has 8 to 15 digits and is not a date). The
table :data:`DETECTORS` is the one place they are listed, in priority order: where two
would claim overlapping text, the earlier wins (a Luhn-valid card number is not also
reported as a phone number).

They find what a careless caller pastes into a message, not everything an adversary
could encode: a policy that must be strict sends structured data only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DETECTORS", "Detector", "Finding", "find", "luhn_valid"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected piece of personal data: where it is and its category."""

    start: int
    end: int
    category: str


@dataclass(frozen=True, slots=True)
class Detector:
    """A data category found by a pattern and confirmed by a check."""

    category: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool]


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a payment card number holds (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _card(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}:\d{2}")


def _phone(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15 and _DATE.search(text) is None


def _anything(text: str) -> bool:
    return True


#: The detectors, earlier ones winning overlaps (see the module docstring).
DETECTORS: tuple[Detector, ...] = (
    Detector("card_number", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)"), _card),
    Detector("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), _iban),
    Detector(
        "email",
        re.compile(
            r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
        ),
        _anything,
    ),
    Detector(
        "phone_number",
        re.compile(r"(?<![\w+-])\+?\(?\d[\d ().-]{6,20}\d(?![\w:])"),
        _phone,
    ),
)


def find(text: str, detectors: tuple[Detector, ...] = DETECTORS) -> list[Finding]:
    """The personal data in ``text``, in order, non-overlapping."""
    taken: list[Finding] = []
    for detector in detectors:
        for match in detector.pattern.finditer(text):
            start, end = match.span()
            if any(start < f.end and f.start < end for f in taken):
                continue
            if detector.check(match.group()):
                taken.append(Finding(start, end, detector.category))
    return sorted(taken, key=lambda f: f.start)
