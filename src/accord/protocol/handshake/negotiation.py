"""Negotiation (sans-IO): a proposal, the agent's decision, and their JSON shapes.

Before any work, a caller proposes a task (:class:`Proposal`: the skill, its
parameters, and :class:`Constraints`: deadline, budget, the data categories it will
share, residency) and the agent answers with a :class:`Decision`: ``accept`` (with an
agreement id), ``reject`` (with a reason) or ``counter`` (refined terms, with a counter
id the caller may accept). A task then started under the agreement id is checked
against the agreed terms.

Everything travels in ordinary SendMessage calls, so every binding carries it and
ordinary A2A clients are unaffected (spec §11: extension data keyed by its URI, in
message metadata):

* the caller's message has ``metadata[NEGOTIATION_EXTENSION]`` set to
  ``{"proposal": PROPOSAL}``, ``{"acceptCounter": "ctr-..."}`` or, to start a task
  under an agreement, ``{"agreementId": "agr-..."}``;
* the agent answers a proposal or an acceptance with a Message (no task: nothing is
  executed) whose data part is the decision::

    {"decision": "accept", "agreementId": "agr-...", "terms": PROPOSAL,
     "expires": "2026-12-01T12:00:00Z"}
    {"decision": "reject", "reason": "..."}
    {"decision": "counter", "counterId": "ctr-...", "terms": PROPOSAL, "reason": "..."}

where ``PROPOSAL`` is ``{"skill": ..., "parameters": {...}, "constraints":
{"deadline": RFC 3339, "budget": {"amount": "5.00", "currency": "USD"},
"dataCategories": [...], "residency": "EU"}}`` (every constraint optional).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from .money import amount_of, check_money

if TYPE_CHECKING:
    from decimal import Decimal

    from accord.types import Message

__all__ = [
    "NEGOTIATION_EXTENSION",
    "Budget",
    "Constraints",
    "Decision",
    "DecisionKind",
    "Proposal",
    "negotiation_payload",
    "parse_time",
]

#: The negotiation extension (its data keyed by this URI in message metadata).
NEGOTIATION_EXTENSION = "urn:accord:a2a:negotiation:v1"

#: What the agent answers.
DecisionKind = Literal["accept", "reject", "counter"]
_OUTCOMES = ("accept", "reject", "counter")


def parse_time(text: Any, what: str) -> datetime:
    """An RFC 3339 time (with an offset, or ``Z``) as an aware datetime.

    Raises:
        ValueError: naming ``what``, when it is not one.
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} is an RFC 3339 time string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Budget:
    """What the caller will pay at most: an exact decimal amount and its currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        check_money(self.amount, self.currency, "budget")

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency.upper()}

    @classmethod
    def from_json(cls, data: Any) -> Budget:
        return cls(*amount_of(data, "budget"))


@dataclass(frozen=True, slots=True)
class Constraints:
    """The caller's constraints on a proposed task (each optional).

    Attributes:
        deadline: the work must be done by then (and the agreement expires then).
        budget: the most the caller pays.
        data: the data categories the caller will share.
        residency: where the data must stay (e.g. ``"EU"``).
    """

    deadline: datetime | None = None
    budget: Budget | None = None
    data: tuple[str, ...] = ()
    residency: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.deadline is not None:
            out["deadline"] = _format_time(self.deadline)
        if self.budget is not None:
            out["budget"] = self.budget.to_json()
        if self.data:
            out["dataCategories"] = list(self.data)
        if self.residency is not None:
            out["residency"] = self.residency
        return out

    @classmethod
    def from_json(cls, data: Any) -> Constraints:
        if not isinstance(data, Mapping):
            raise ValueError("constraints is an object")
        deadline = data.get("deadline")
        budget = data.get("budget")
        categories = data.get("dataCategories", [])
        if not isinstance(categories, list) or not all(
            isinstance(c, str) for c in categories
        ):
            raise ValueError("dataCategories is a list of category names")
        residency = data.get("residency")
        if residency is not None and not isinstance(residency, str):
            raise ValueError("residency is a string (e.g. 'EU')")
        return cls(
            deadline=None if deadline is None else parse_time(deadline, "deadline"),
            budget=None if budget is None else Budget.from_json(budget),
            data=tuple(categories),
            residency=residency,
        )


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed task: which skill, with what, under which constraints."""

    skill: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    constraints: Constraints = field(default_factory=Constraints)

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("a proposal names a skill")
        object.__setattr__(self, "parameters", dict(self.parameters))

    def to_json(self) -> dict[str, Any]:
        return {
            "skill": self.skill,
            "parameters": dict(self.parameters),
            "constraints": self.constraints.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Proposal:
        """Read a proposal.

        Raises:
            ValueError: naming what is wrong.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a proposal is an object")
        skill = data.get("skill")
        if not isinstance(skill, str) or not skill:
            raise ValueError("a proposal names its skill")
        parameters = data.get("parameters", {})
        if not isinstance(parameters, Mapping):
            raise ValueError("parameters is an object")
        return cls(
            skill, parameters, Constraints.from_json(data.get("constraints", {}))
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The agent's answer to a proposal.

    Build one with :meth:`accept`, :meth:`reject` or :meth:`counter`; the server
    fills in the ids (``agreement_id`` on an accept, ``counter_id`` on a counter) and
    when the agreement expires.
    """

    outcome: DecisionKind
    reason: str = ""
    terms: Proposal | None = None
    agreement_id: str = ""
    counter_id: str = ""
    expires: datetime | None = None

    def __post_init__(self) -> None:
        if self.outcome not in _OUTCOMES:
            raise ValueError(f"a decision is one of {', '.join(_OUTCOMES)}")
        if self.outcome == "reject" and not self.reason:
            raise ValueError("a rejection says why")
        if self.outcome == "counter" and self.terms is None:
            raise ValueError("a counter carries the refined terms")

    @classmethod
    def accept(cls, reason: str = "") -> Decision:
        """Accept the proposal as it is."""
        return cls("accept", reason)

    @classmethod
    def reject(cls, reason: str) -> Decision:
        """Refuse it; ``reason`` tells the caller why (it is sent)."""
        return cls("reject", reason)

    @classmethod
    def counter(cls, terms: Proposal, reason: str) -> Decision:
        """Offer ``terms`` instead; the caller may accept them."""
        return cls("counter", reason, terms)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"decision": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        if self.agreement_id:
            out["agreementId"] = self.agreement_id
        if self.counter_id:
            out["counterId"] = self.counter_id
        if self.terms is not None:
            out["terms"] = self.terms.to_json()
        if self.expires is not None:
            out["expires"] = _format_time(self.expires)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Decision:
        """Read a decision.

        Raises:
            ValueError: naming what is wrong.
        """
        if not isinstance(data, Mapping) or data.get("decision") not in _OUTCOMES:
            raise ValueError(
                f"a decision is {{'decision': one of {', '.join(_OUTCOMES)}}}"
            )
        terms = data.get("terms")
        expires = data.get("expires")
        return cls(
            outcome=data["decision"],
            reason=str(data.get("reason", "")),
            terms=None if terms is None else Proposal.from_json(terms),
            agreement_id=str(data.get("agreementId", "")),
            counter_id=str(data.get("counterId", "")),
            expires=None if expires is None else parse_time(expires, "expires"),
        )


def negotiation_payload(message: Message) -> Mapping[str, Any] | None:
    """The negotiation data a message carries (``metadata[NEGOTIATION_EXTENSION]``),
    or None."""
    metadata = message.metadata
    if not metadata:
        return None
    payload = metadata.get(NEGOTIATION_EXTENSION)
    return payload if isinstance(payload, Mapping) else None
