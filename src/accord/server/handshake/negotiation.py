"""Negotiation on the server: the agent's policy answers proposals before any work.

The agent author writes the policy as one function, from a
:class:`~accord.protocol.handshake.Proposal` to a
:class:`~accord.protocol.handshake.Decision` (``Decision.accept()``,
``Decision.reject(reason)``, ``Decision.counter(terms, reason)``); it may be a
coroutine function. :class:`Negotiation` serves it::

    def policy(proposal: Proposal) -> Decision:
        if proposal.constraints.residency not in (None, "EU"):
            return Decision.reject("data is processed in the EU only")
        return Decision.accept()

    negotiation = Negotiation(policy)
    agent = Agent(negotiation.wrap(run), name=..., description=...)
    app = A2AApp(agent, interceptors=[negotiation])

As an interceptor it declares :data:`~accord.protocol.handshake.NEGOTIATION_EXTENSION`
in the card, checks a task started under an agreement against it, and records each
decision and each start in the audit trail (kind ``"agreement"``: the decision, the
ids, the skill and the constraints; never the parameters, which may be personal
data). :meth:`Negotiation.wrap` wraps the agent's function: a message carrying a
proposal or a counter's acceptance is answered with a Message holding the decision
(no task, the agent's own function does not run); any other message runs the
function.

Agreements and pending counters are held in the engine's task store when it
keeps them (a :class:`~accord.stores.HeldStore`: the memory, SQLite and PostgreSQL
stores all do), so every instance sharing the store honours them: a caller may
propose on one instance, accept the counter on another and start the task on a
third. Each is scoped to the caller (tenant and owner) that negotiated it, expires at
its deadline, or after ``ttl`` seconds, and is taken once: an agreement admits one
task, used up when a task starts under it, even when two instances race for it.
With a store that keeps no held terms, they live in this process instead (bounded:
the oldest are dropped beyond :data:`MAX_AGREEMENTS` per caller).
"""

from __future__ import annotations

import inspect
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from accord._clock import new_id
from accord.errors import InvalidParamsError
from accord.protocol.handshake import (
    NEGOTIATION_EXTENSION,
    Decision,
    Proposal,
    negotiation_payload,
    skill_inputs,
    skill_named,
)
from accord.stores import HeldStore, MemoryHeld, Scope
from accord.types import AgentExtension

from ._audit import AuditingInterceptor
from .skills import MESSAGE_OPERATIONS

if TYPE_CHECKING:
    from ..agent import AgentFunction, TaskContext
    from ..engine import Engine
    from ..interceptors import CallInfo, Outcome


__all__ = ["DEFAULT_TTL", "MAX_AGREEMENTS", "Negotiation", "Policy"]

#: Kinds of held terms (:class:`~accord.stores.HeldStore`).
_AGREEMENT = "agreement"
_COUNTER = "counter"

#: The agent's policy: a proposal in, a decision out (or awaitable).
Policy = Callable[[Proposal], Decision | Awaitable[Decision]]
#: Seconds an agreement without a deadline, or a counter, stays valid.
DEFAULT_TTL = 3600.0
#: Agreements (and counters) one caller keeps at most in this process, when the
#: store keeps none; the oldest go first beyond it.
MAX_AGREEMENTS = 10_000


class Negotiation(AuditingInterceptor):
    """Serves the agent's negotiation policy (see the module docstring).

    Args:
        policy: the agent's policy.
        ttl: seconds an agreement without a deadline, or a counter, stays valid.
        clock: the current time (seconds since the epoch); injectable for tests.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 (got {ttl})")
        self.policy = policy
        self.ttl = ttl
        self._clock = clock
        #: Where agreements and counters are held: the engine's store while it
        #: serves one that keeps them, else this process's own bounded table.
        self._local = MemoryHeld(
            max_held=2 * MAX_AGREEMENTS, max_per_owner=MAX_AGREEMENTS
        )
        self._held: HeldStore = self._local
        #: Decisions given, by (owner, message id), until ``after`` audits them.
        self._decided: OrderedDict[tuple[str, str], str] = OrderedDict()
        #: Calls that started a task under an agreement, until ``after`` audits them.
        self._started: dict[CallInfo, str] = {}

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        store: object = engine.store
        self._held = store if isinstance(store, HeldStore) else self._local
        try:
            async with super().serving(engine):
                yield
        finally:
            self._held = self._local

    # --- the card and the audit trail ----------------------------------------------

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        return (
            AgentExtension(
                uri=NEGOTIATION_EXTENSION,
                description=(
                    "Propose a task (skill, parameters, constraints) in a message's "
                    "metadata under this URI; the answer (accept with an agreement "
                    "id, reject with a reason, or counter) comes before any work."
                ),
                params={"decisions": ["accept", "reject", "counter"], "ttl": self.ttl},
            ),
        )

    async def before(self, call: CallInfo) -> None:
        if call.operation.name not in MESSAGE_OPERATIONS:
            return
        message = call.request.message
        payload = negotiation_payload(message)
        if payload is None or "agreementId" not in payload:
            return
        agreement_id = str(payload["agreementId"])
        scope = Scope(call.tenant, call.context.owner or "")
        terms = await self._take(_AGREEMENT, agreement_id, scope)
        if terms is None:
            raise InvalidParamsError(
                f"agreement {agreement_id!r} is unknown, used or expired: propose again",
                field_violations=[
                    (f"message.metadata.{NEGOTIATION_EXTENSION}.agreementId", "unknown")
                ],
            )
        _check_against(message, terms, agreement_id)
        self._started[call] = f"started agreement={agreement_id} skill={terms.skill}"

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        detail = self._started.pop(call, None)
        if detail is None and call.operation.name in MESSAGE_OPERATIONS:
            key = (call.context.owner or "", call.request.message.message_id)
            detail = self._decided.pop(key, None)
        if detail is not None:
            await self.record(call, outcome, "agreement", detail)

    # --- answering proposals -------------------------------------------------------

    def wrap(self, function: AgentFunction) -> AgentFunction:
        """The agent's function, answering negotiation messages before it runs."""

        async def negotiating(ctx: TaskContext) -> None:
            payload = negotiation_payload(ctx.message)
            if payload is None or not ({"proposal", "acceptCounter"} & set(payload)):
                await function(ctx)
                return
            decision = await self._decide(Scope(ctx.tenant, ctx.owner), payload)
            key = (ctx.owner, ctx.message.message_id)
            self._decided[key] = _describe(decision)
            _bound(self._decided)
            await ctx.reply(_summary(decision), data=decision.to_json())

        return negotiating

    async def _decide(self, scope: Scope, payload: Any) -> Decision:
        if "acceptCounter" in payload:
            counter_id = str(payload["acceptCounter"])
            terms = await self._take(_COUNTER, counter_id, scope)
            if terms is None:
                return Decision.reject(
                    f"counter {counter_id!r} is unknown or expired: propose again"
                )
            return await self._agree(scope, terms, "counter accepted")
        try:
            proposal = Proposal.from_json(payload["proposal"])
        except ValueError as exc:
            return Decision.reject(f"the proposal is not valid: {exc}")
        answer = self.policy(proposal)
        decision = await answer if inspect.isawaitable(answer) else answer
        if not isinstance(decision, Decision):
            raise TypeError(
                f"the negotiation policy returned {decision!r}, not a Decision"
            )
        if decision.outcome == "accept":
            return await self._agree(scope, decision.terms or proposal, decision.reason)
        if decision.outcome == "counter":
            assert decision.terms is not None  # a counter carries terms (Decision)
            counter_id = f"ctr-{new_id()}"
            expires = await self._hold(_COUNTER, counter_id, scope, decision.terms)
            return replace(decision, counter_id=counter_id, expires=_moment(expires))
        return decision

    async def _agree(self, scope: Scope, terms: Proposal, reason: str) -> Decision:
        agreement_id = f"agr-{new_id()}"
        expires = await self._hold(_AGREEMENT, agreement_id, scope, terms)
        return Decision(
            "accept",
            reason,
            terms,
            agreement_id=agreement_id,
            expires=_moment(expires),
        )

    def _expiry(self, terms: Proposal) -> float:
        deadline = terms.constraints.deadline
        if deadline is not None:
            return deadline.timestamp()
        return self._clock() + self.ttl

    async def _hold(
        self, kind: str, held_id: str, scope: Scope, terms: Proposal
    ) -> float:
        """Hold ``terms`` as ``kind`` ``held_id`` for ``scope``; their expiry."""
        expires = self._expiry(terms)
        text = json.dumps(terms.to_json(), separators=(",", ":"))
        await self._held.hold_terms(
            kind, held_id, scope, text, expires_at=expires, now=self._clock()
        )
        return expires

    async def _take(self, kind: str, held_id: str, scope: Scope) -> Proposal | None:
        """The terms held as ``kind`` ``held_id`` for ``scope``, used up; None when
        unknown, another caller's, used or expired."""
        text = await self._held.take_terms(kind, held_id, scope, now=self._clock())
        return None if text is None else Proposal.from_json(json.loads(text))


def _bound(table: OrderedDict[Any, Any]) -> None:
    while len(table) > MAX_AGREEMENTS:
        table.popitem(last=False)


def _moment(seconds: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _check_against(message: Any, terms: Proposal, agreement_id: str) -> None:
    """Refuse a message that asks for something else than the agreed terms."""
    skill = skill_named(message)
    if skill != terms.skill:
        named = repr(skill) if skill else "a message naming no skill"
        raise InvalidParamsError(
            f"agreement {agreement_id!r} is for {terms.skill!r}, not {named}: name "
            "the agreed skill in the message's metadata",
            field_violations=[("message.metadata.skill", f"agreed: {terms.skill}")],
        )
    for sent in skill_inputs(message, terms.skill):
        for name, agreed in terms.parameters.items():
            if name in sent.data and sent.data[name] != agreed:
                raise InvalidParamsError(
                    f"{name} differs from what agreement {agreement_id!r} says",
                    field_violations=[
                        (f"message.parts[{sent.index}].data.{name}", "not as agreed")
                    ],
                )


def _describe(decision: Decision) -> str:
    """The audit ``detail`` of a decision: no parameter values."""
    parts = [f"decision={decision.outcome}"]
    if decision.agreement_id:
        parts.append(f"agreement={decision.agreement_id}")
    if decision.counter_id:
        parts.append(f"counter={decision.counter_id}")
    terms = decision.terms
    if terms is not None:
        parts.append(f"skill={terms.skill}")
        constraints = terms.constraints.to_json()
        if "dataCategories" in constraints:
            constraints["dataCategories"] = ",".join(constraints["dataCategories"])
        if "budget" in constraints:
            budget = constraints["budget"]
            constraints["budget"] = f"{budget['amount']} {budget['currency']}"
        parts.extend(f"{k}={v}" for k, v in sorted(constraints.items()))
    return " ".join(parts)


def _summary(decision: Decision) -> str:
    """The decision in words (the reply's text part)."""
    if decision.outcome == "accept":
        return f"Accepted: agreement {decision.agreement_id}."
    if decision.outcome == "reject":
        return f"Rejected: {decision.reason}"
    return f"Counter-proposal {decision.counter_id}: {decision.reason}"
