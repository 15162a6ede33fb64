"""Guarantees on the caller's side: what the card promises against what was observed.

:func:`check_guarantees` reads the guarantees extension of a card (declared latency,
prices, residency, compliance, rate limits, and the latency the agent observed) and
flags each declared percentile the observed one exceeds. A card without the
extension is best-effort (:attr:`GuaranteeReport.best_effort`)::

    report = check_guarantees(client.card)
    if report.best_effort:
        print("no guarantees: best effort")
    for breach in report.breaches:
        print(breach)   # "schedule_callback: observed p99 5793 ms exceeds the declared 5000 ms"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from accord.protocol.handshake import (
    GUARANTEES_EXTENSION,
    Breach,
    Guarantees,
    Observed,
    breaches,
)

from .minimisation import extension_params

if TYPE_CHECKING:
    from collections.abc import Mapping

    from accord.types import AgentCard

__all__ = ["GuaranteeReport", "check_guarantees"]


@dataclass(frozen=True, slots=True)
class GuaranteeReport:
    """A card's guarantees compared with what its agent observed.

    Attributes:
        best_effort: the card declares no guarantees.
        declared: what it declares (empty when best effort).
        observed: the observed figures it publishes, per skill.
        breaches: each declared percentile the observed one exceeds.
        rate_limits: the default rate limits it repeats from the quotas extension.
    """

    best_effort: bool
    declared: Guarantees = field(default_factory=Guarantees)
    observed: Mapping[str, Observed] = field(default_factory=dict)
    breaches: tuple[Breach, ...] = ()
    rate_limits: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing declared is breached (a best-effort card promises
        nothing, so it cannot breach)."""
        return not self.breaches


def check_guarantees(card: AgentCard | None, *, min_count: int = 20) -> GuaranteeReport:
    """Compare ``card``'s declared guarantees with its observed figures (skills
    observed fewer than ``min_count`` times are not judged).

    Raises:
        ValueError: the extension's params are not of its shape.
    """
    params = extension_params(card, GUARANTEES_EXTENSION)
    if params is None:
        return GuaranteeReport(best_effort=True)
    declared, observed = Guarantees.from_params(params)
    limits = params.get("rateLimits", [])
    return GuaranteeReport(
        best_effort=False,
        declared=declared,
        observed=observed,
        breaches=tuple(breaches(declared, observed, min_count=min_count)),
        rate_limits=tuple(limits) if isinstance(limits, list) else (),
    )
