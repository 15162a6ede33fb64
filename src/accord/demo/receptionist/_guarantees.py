"""What the Receptionist guarantees: latency and price per skill, residency, compliance.

Declared in the card (the guarantees extension); the server publishes the latency
it observes beside them. A skill streams three progress steps at the demo's pace
(0.5 s each by default), so 2 s at the median and 5 s at the 99th percentile leave
room for the work around them.
"""

from __future__ import annotations

from decimal import Decimal

from accord.protocol.handshake import Guarantees, Price, SkillGuarantee

from ._card import SKILL_IDS

__all__ = ["COMPLIANCE", "GUARANTEES", "PRICES", "RESIDENCY"]

#: Where call data is kept.
RESIDENCY = "US"
#: Compliance tags the desk claims (the US rules on calling people back).
COMPLIANCE = ("TCPA",)
#: Price per call of each skill, in US dollars.
PRICES = {skill: Decimal("0.05") for skill in SKILL_IDS}

GUARANTEES = Guarantees(
    skills=tuple(
        SkillGuarantee(
            skill, p50_ms=2000, p99_ms=5000, price=Price(PRICES[skill], "USD", "call")
        )
        for skill in SKILL_IDS
    ),
    residency=(RESIDENCY,),
    compliance=COMPLIANCE,
)
