"""Negotiation values: their JSON shapes, and clear errors for bad ones."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from accord.protocol.handshake import (
    NEGOTIATION_EXTENSION,
    Budget,
    Constraints,
    Decision,
    Proposal,
    negotiation_payload,
    parse_time,
)
from accord.types import Message, Part, Role

PROPOSAL = Proposal(
    "schedule_callback",
    {"phone": "+14155550123"},
    Constraints(
        deadline=datetime(2026, 12, 1, 12, tzinfo=UTC),
        budget=Budget(Decimal("1.50"), "USD"),
        data=("phone_number",),
        residency="EU",
    ),
)


def test_the_shapes_round_trip() -> None:
    assert PROPOSAL.to_json() == {
        "skill": "schedule_callback",
        "parameters": {"phone": "+14155550123"},
        "constraints": {
            "deadline": "2026-12-01T12:00:00Z",
            "budget": {"amount": "1.50", "currency": "USD"},
            "dataCategories": ["phone_number"],
            "residency": "EU",
        },
    }
    assert Proposal.from_json(PROPOSAL.to_json()) == PROPOSAL
    counter = Decision.counter(PROPOSAL, "later")
    assert Decision.from_json(counter.to_json()) == counter
    accepted = Decision(
        "accept",
        terms=PROPOSAL,
        agreement_id="agr-1",
        expires=PROPOSAL.constraints.deadline,
    )
    assert Decision.from_json(accepted.to_json()) == accepted
    assert Decision.reject("no").to_json() == {"decision": "reject", "reason": "no"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a proposal is an object"),
        ({"parameters": {}}, "names its skill"),
        ({"skill": "x", "parameters": []}, "parameters is an object"),
        ({"skill": "x", "constraints": []}, "constraints is an object"),
        ({"skill": "x", "constraints": {"deadline": "soon"}}, "not an RFC 3339 time"),
        (
            {"skill": "x", "constraints": {"deadline": "2026-12-01T12:00:00"}},
            "no UTC offset",
        ),
        ({"skill": "x", "constraints": {"deadline": 5}}, "RFC 3339 time string"),
        ({"skill": "x", "constraints": {"budget": "5"}}, "budget is"),
        ({"skill": "x", "constraints": {"budget": {"amount": "lots"}}}, "not a number"),
        (
            {
                "skill": "x",
                "constraints": {"budget": {"amount": "-1", "currency": "USD"}},
            },
            ">= 0",
        ),
        (
            {
                "skill": "x",
                "constraints": {"budget": {"amount": "1", "currency": "dollar"}},
            },
            "ISO 4217",
        ),
        (
            {"skill": "x", "constraints": {"dataCategories": "phone"}},
            "list of category names",
        ),
        ({"skill": "x", "constraints": {"residency": 3}}, "residency is a string"),
    ],
)
def test_bad_proposals_say_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Proposal.from_json(data)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Decision("maybe"), "one of accept, reject, counter"),  # type: ignore[arg-type]
        (lambda: Decision("reject"), "says why"),
        (lambda: Decision("counter", "x"), "refined terms"),
        (lambda: Decision.from_json({"decision": "perhaps"}), "one of accept"),
        (lambda: Proposal(""), "names a skill"),
    ],
)
def test_bad_decisions_are_refused(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_the_payload_is_read_from_the_metadata_under_the_uri() -> None:
    def message(metadata: dict[str, Any] | None) -> Message:
        return Message(
            message_id="m", role=Role.USER, parts=(Part(text="x"),), metadata=metadata
        )

    assert negotiation_payload(
        message({NEGOTIATION_EXTENSION: {"agreementId": "a"}})
    ) == {"agreementId": "a"}
    assert negotiation_payload(message({NEGOTIATION_EXTENSION: "a"})) is None
    assert negotiation_payload(message(None)) is None
    assert parse_time("2026-12-01T13:00:00+01:00", "t") == datetime(
        2026, 12, 1, 12, tzinfo=UTC
    )
