"""Negotiation on the caller's side: propose, accept a counter, start under the deal.

::

    decision = await propose(
        client, "schedule_callback",
        {"phone": "+14155550123", "time_window": "2026-12-05 10-12"},
        residency="US", data=("phone_number", "time_window"),
    )
    if decision.outcome == "counter":
        decision = await accept_counter(client, decision)
    if decision.outcome == "accept":
        task = await client.send_message(under_agreement(decision))

Each step is one SendMessage (the shapes are in
:mod:`accord.protocol.handshake.negotiation`), so it works over every binding the
client can use; the agent answers with a Message holding the decision, and runs
nothing until a task is started under the agreement.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from accord.errors import A2AError, InvalidAgentResponseError
from accord.protocol.handshake import (
    NEGOTIATION_EXTENSION,
    Budget,
    Constraints,
    Decision,
    Proposal,
)
from accord.types import Message, Part, Role

from .minimisation import CallerPolicy, extension_params

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from ..client import Client

__all__ = [
    "NegotiationUnsupported",
    "accept_counter",
    "propose",
    "send_negotiation",
    "under_agreement",
]


class NegotiationUnsupported(A2AError):
    """The agent's card does not declare the negotiation extension."""


def _negotiation_message(payload: dict[str, Any], text: str) -> Message:
    return Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=(Part(text=text),),
        metadata={NEGOTIATION_EXTENSION: payload},
        extensions=(NEGOTIATION_EXTENSION,),  # so the call activates it (spec §4.6)
    )


async def send_negotiation(
    client: Client, payload: dict[str, Any], text: str
) -> Decision:
    """Send one negotiation message (``payload`` under the extension's URI) and read
    the agent's decision.

    Raises:
        NegotiationUnsupported: the card does not declare the extension (nothing is
            sent: an agent that does not negotiate would take it as work).
        InvalidAgentResponseError: the answer holds no decision.
    """
    if extension_params(client.card, NEGOTIATION_EXTENSION) is None:
        raise NegotiationUnsupported(
            "the agent's card does not declare the negotiation extension "
            f"({NEGOTIATION_EXTENSION}); send the task without negotiating"
        )
    reply = await client.send_message(_negotiation_message(payload, text))
    if isinstance(reply, Message):
        for part in reply.parts:
            if isinstance(part.data, dict) and "decision" in part.data:
                try:
                    return Decision.from_json(part.data)
                except ValueError as exc:
                    raise InvalidAgentResponseError(
                        f"the agent's decision is not valid: {exc}"
                    ) from None
    raise InvalidAgentResponseError(
        "the agent answered the proposal without a decision (a Message with a "
        "data part {'decision': ...} was expected)"
    )


async def propose(
    client: Client,
    skill: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    deadline: datetime | None = None,
    budget: Budget | None = None,
    data: Iterable[str] = (),
    residency: str | None = None,
    policy: CallerPolicy | None = None,
) -> Decision:
    """Propose a task to the agent; return its decision (accept, reject, counter).

    With ``policy``, the parameters are cut down to the fields the skill declares
    (data minimisation) before the proposal leaves, as a message to the skill would be.

    Raises:
        NegotiationUnsupported: the agent does not negotiate.
        InvalidAgentResponseError: it answered without a decision.
        MinimisationRefused: ``policy`` refuses (the skill declares no data needs).
    """
    values = dict(parameters or {})
    if policy is not None:
        values = _minimised(client, policy, skill, values)
    proposal = Proposal(
        skill,
        values,
        Constraints(
            deadline=deadline, budget=budget, data=tuple(data), residency=residency
        ),
    )
    return await send_negotiation(
        client, {"proposal": proposal.to_json()}, f"Proposal: {skill}"
    )


def _minimised(
    client: Client, policy: CallerPolicy, skill: str, values: dict[str, Any]
) -> dict[str, Any]:
    """``values`` as the data part of a message to ``skill``, after ``policy``."""
    message = Message(
        message_id="proposal",
        role=Role.USER,
        parts=(Part(data=values),),
        metadata={"skill": skill},
    )
    cut = policy.apply(client.card, message)
    assert cut.message is not None  # the data part stays, maybe empty
    data = cut.message.parts[0].data
    return dict(data) if isinstance(data, dict) else {}


async def accept_counter(client: Client, decision: Decision) -> Decision:
    """Accept the agent's counter-proposal; return the agreement (or a rejection
    when the counter expired).

    Raises:
        ValueError: ``decision`` is not a counter.
    """
    if decision.outcome != "counter" or not decision.counter_id:
        raise ValueError("only a counter-proposal can be accepted")
    return await send_negotiation(
        client,
        {"acceptCounter": decision.counter_id},
        f"Accepting counter-proposal {decision.counter_id}",
    )


def under_agreement(
    decision: Decision, extra: Mapping[str, Any] | None = None
) -> Message:
    """The message that starts the agreed task: the agreed parameters as a data part
    (plus ``extra`` fields), the skill and the agreement id in the metadata.

    Raises:
        ValueError: ``decision`` is not an accepted agreement.
    """
    if (
        decision.outcome != "accept"
        or not decision.agreement_id
        or decision.terms is None
    ):
        raise ValueError("a task starts under an accepted agreement only")
    terms = decision.terms
    return Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=(
            Part(
                data={**terms.parameters, **(extra or {})},
                media_type="application/json",
            ),
        ),
        metadata={
            "skill": terms.skill,
            NEGOTIATION_EXTENSION: {"agreementId": decision.agreement_id},
        },
        extensions=(NEGOTIATION_EXTENSION,),
    )
