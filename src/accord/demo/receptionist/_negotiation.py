"""The Receptionist's negotiation policy: business hours, residency, price, data.

Callbacks are made in business hours, Monday to Friday 09:00-17:00 UTC. A proposal
to book one outside them is countered with the nearest open window of the same
length (not in the past); the caller may accept the counter and book under the
agreement. A proposal is rejected, with the reason, when it asks for a skill the
Receptionist does not have, for data residency other than the US, with a budget
below the skill's price, or withholding data the skill needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from accord.protocol.handshake import Decision, Proposal

from ._card import SCHEDULE, SKILL_IDS
from ._contracts import DATA_NEEDS
from ._guarantees import PRICES, RESIDENCY
from ._parsing import Invalid, _window_from_data, iso

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CLOSES",
    "OPENS",
    "nearest_open_window",
    "receptionist_policy",
]

#: Business hours (UTC), Monday to Friday.
OPENS = time(9, 0)
CLOSES = time(17, 0)
_NEEDED = {needs.skill: frozenset(needs.fields.values()) for needs in DATA_NEEDS}
#: How far either side of the asked window an open one is looked for.
_SEARCH_DAYS = 14


def _is_open(start: datetime, end: datetime) -> bool:
    return (
        start.date() == end.date()
        and start.weekday() < 5
        and start.time() >= OPENS
        and end.time() <= CLOSES
    )


def nearest_open_window(
    start: datetime, end: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """The open window of the same length nearest to ``start`` (not before ``now``),
    or None when the length does not fit in a business day."""
    length = end - start
    day = timedelta(hours=CLOSES.hour - OPENS.hour)
    if length > day or length <= timedelta(0):
        return None
    best: datetime | None = None
    for offset in range(-_SEARCH_DAYS, _SEARCH_DAYS + 1):
        date = (start + timedelta(days=offset)).date()
        if date.weekday() >= 5:
            continue
        earliest = datetime.combine(date, OPENS, UTC)
        latest = datetime.combine(date, CLOSES, UTC) - length
        candidate = min(max(start, earliest), latest)
        if candidate < now:
            candidate = max(now, earliest)
            if candidate > latest:
                continue
        if best is None or abs(candidate - start) < abs(best - start):
            best = candidate
    return None if best is None else (best, best + length)


def receptionist_policy(
    clock: Callable[[], datetime] | None = None,
) -> Callable[[Proposal], Decision]:
    """The Receptionist's policy (see the module docstring); ``clock`` gives the
    current aware time."""
    now_of = clock or (lambda: datetime.now(UTC))

    def policy(proposal: Proposal) -> Decision:
        skill, constraints = proposal.skill, proposal.constraints
        if skill not in SKILL_IDS:
            return Decision.reject(
                f"no skill {skill!r}; I offer {', '.join(SKILL_IDS)}"
            )
        residency = constraints.residency
        if residency is not None and residency.upper() != RESIDENCY:
            return Decision.reject(
                f"call data is kept in the {RESIDENCY} only, not in {residency}"
            )
        budget, price = constraints.budget, PRICES[skill]
        if budget is not None and (budget.currency != "USD" or budget.amount < price):
            return Decision.reject(f"{skill} costs {price} USD per call")
        missing = sorted(_NEEDED[skill] - set(constraints.data))
        if constraints.data and missing:
            return Decision.reject(f"{skill} needs {', '.join(missing)}")
        if skill != SCHEDULE:
            return Decision.accept()
        return _schedule(proposal, now_of())

    return policy


def _schedule(proposal: Proposal, now: datetime) -> Decision:
    parameters = proposal.parameters
    key = next((k for k in ("time_window", "window") if k in parameters), None)
    if key is None:
        return Decision.accept()
    example = f"{(now + timedelta(days=1)).date().isoformat()} 09:00-10:00"
    try:
        start, end = _window_from_data(parameters[key], example, now.date())
    except Invalid as exc:
        return Decision.reject(str(exc))
    if _is_open(start, end):
        return Decision.accept()
    nearest = nearest_open_window(start, end, now)
    if nearest is None:
        return Decision.reject(
            "a callback window fits within business hours, Monday to Friday "
            f"{OPENS:%H:%M}-{CLOSES:%H:%M} UTC"
        )
    open_start, open_end = nearest
    window = {"start": iso(open_start), "end": iso(open_end)}
    terms = Proposal(proposal.skill, {**parameters, key: window}, proposal.constraints)
    return Decision.counter(
        terms,
        f"{iso(start)}/{iso(end)} is outside business hours (Monday to Friday "
        f"{OPENS:%H:%M}-{CLOSES:%H:%M} UTC); the nearest open window is "
        f"{window['start']}/{window['end']}",
    )
