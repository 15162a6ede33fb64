"""Data minimisation on the server: declared needs, inbound data cut to them, audited.

:class:`DataMinimisation` declares what each skill needs in the card
(:data:`~accord.protocol.handshake.MINIMISATION_EXTENSION`, params ``{"skills":
{skill: {"fields": {path: category}, "text": [category]}}, "inbound": "strip"}``)
and holds every message that names a skill to it
(:func:`~accord.protocol.handshake.minimise`), before the agent or the store sees it:

* ``inbound="strip"`` (default): what is outside the declaration is removed (fields,
  parts) or redacted (personal data in text), and the rest runs; a message with
  nothing left is refused;
* ``inbound="refuse"``: a message carrying anything outside the declaration is
  refused with invalid-params (spec §3.3.2), one field violation per place and
  category (never the value).

When the engine's store keeps an audit trail, each such call adds a record of kind
``"data"`` whose ``detail`` names the skill, the categories that crossed and those
withheld (``skill=schedule_callback shared=phone_number,time_window
withheld=email:removed``): categories only, never a value. Messages that name no
skill pass untouched (the agent decides what they are; spec §3.1.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from accord.errors import InvalidParamsError
from accord.protocol.handshake import (
    MINIMISATION_EXTENSION,
    DataNeeds,
    Minimised,
    by_skill,
    minimise,
    skill_named,
)
from accord.types import AgentExtension, replace

from ._audit import AuditingInterceptor
from .skills import MESSAGE_OPERATIONS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ..interceptors import CallInfo, Outcome


__all__ = ["DataMinimisation", "Inbound", "data_detail"]

#: What the server does with inbound data outside a skill's declaration.
Inbound = Literal["strip", "refuse"]


def data_detail(skill: str, shared: Iterable[str], withheld: Minimised | None) -> str:
    """The audit ``detail`` of one minimised message: categories, never values."""
    gone = sorted(
        {f"{w.category}:{w.action}" for w in (withheld.withheld if withheld else ())}
    )
    return (
        f"skill={skill} shared={','.join(sorted(shared)) or '-'} "
        f"withheld={','.join(gone) or '-'}"
    )


class DataMinimisation(AuditingInterceptor):
    """Declares per-skill data needs and holds inbound messages to them (see module).

    Raises:
        ValueError: two declarations for one skill, or an unknown ``inbound``.
    """

    def __init__(
        self, needs: Iterable[DataNeeds], *, inbound: Inbound = "strip"
    ) -> None:
        if inbound not in ("strip", "refuse"):
            raise ValueError(f"inbound is 'strip' or 'refuse' (got {inbound!r})")
        self.needs: Mapping[str, DataNeeds] = by_skill(needs, "data declarations")
        self.inbound = inbound
        #: What each call in flight shared (popped by ``after``: bounded by calls).
        self._crossed: dict[CallInfo, str] = {}

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        return (
            AgentExtension(
                uri=MINIMISATION_EXTENSION,
                description=(
                    "The data each skill needs (fields by path, categories in text); "
                    f"inbound data outside it is {'stripped' if self.inbound == 'strip' else 'refused'}."
                ),
                params={
                    "skills": {s: n.declared() for s, n in self.needs.items()},
                    "inbound": self.inbound,
                },
            ),
        )

    def rewrite(self, call: CallInfo, request: Any) -> Any:
        if call.operation.name not in MESSAGE_OPERATIONS:
            return request
        message = request.message
        skill = skill_named(message)
        needs = None if skill is None else self.needs.get(skill)
        if needs is None:
            return request
        result = minimise(message, needs)
        refused = result.changed and (
            self.inbound == "refuse" or result.message is None
        )
        shared = () if refused else result.shared
        self._crossed[call] = data_detail(needs.skill, shared, result)
        if refused:
            places = ", ".join(f"{w.where} ({w.category})" for w in result.withheld)
            raise InvalidParamsError(
                f"{needs.skill}: data outside what the skill declares: {places}",
                field_violations=[
                    (w.where, f"{w.category} is not declared by {needs.skill}")
                    for w in result.withheld
                ],
            )
        if not result.changed:
            return request
        return replace(request, message=result.message)

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        detail = self._crossed.pop(call, None)
        if detail is not None:
            await self.record(call, outcome, "data", detail)
