"""Skill contracts on the server: declared in the card, inputs checked before execution.

:class:`SkillContracts` is an :class:`~accord.server.Interceptor`: it declares the
contracts in the card (:data:`~accord.protocol.handshake.SKILLS_EXTENSION`, params
``{"skills": [{"id", "inputSchema", "outputSchema"}]}``) and, before a
SendMessage or SendStreamingMessage runs (in its ``rewrite`` hook), validates every data part sent to a skill
(:func:`~accord.protocol.handshake.skill_inputs`) against the skill's input schema. A
part that breaks it is refused with an invalid-params error (spec §3.3.2) naming the
field, in the message and as a ``google.rpc.BadRequest`` field violation
(``message.parts[0].data.phone``); the agent never sees it.

The extension is declared ``required: false`` (spec §11: data-only extensions are not
required), so ordinary A2A clients keep working: they simply send data that is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.errors import InvalidParamsError
from accord.protocol.handshake import (
    SKILLS_EXTENSION,
    SkillContract,
    by_skill,
    skill_inputs,
    skill_named,
)
from accord.types import AgentExtension

from ..interceptors import CallInfo, Interceptor

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["MESSAGE_OPERATIONS", "SkillContracts"]

#: The operations that carry a message to the agent.
MESSAGE_OPERATIONS = frozenset({"SendMessage", "SendStreamingMessage"})


class SkillContracts(Interceptor):
    """Declares skill contracts and refuses data parts that break their input schema.

    Example::

        contracts = SkillContracts([
            SkillContract("schedule_callback", input_schema={
                "type": "object", "required": ["phone"],
                "properties": {"phone": {"type": "string"}},
            }),
        ])
        app = A2AApp(agent, interceptors=[contracts])

    Raises:
        ValueError: two contracts for one skill.
    """

    def __init__(self, contracts: Iterable[SkillContract]) -> None:
        self.contracts: Mapping[str, SkillContract] = by_skill(contracts, "contracts")

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        return (
            AgentExtension(
                uri=SKILLS_EXTENSION,
                description=(
                    "Input and output JSON Schemas per skill; data parts sent to a "
                    "skill are validated (invalid-params naming the field)."
                ),
                params={"skills": [c.declared() for c in self.contracts.values()]},
            ),
        )

    def rewrite(self, call: CallInfo, request: Any) -> Any:
        """Refuse a data part that breaks its skill's input schema; checked on the
        request as the interceptors before this one rewrote it (data minimisation
        first: a field it strips is not validated)."""
        if call.operation.name not in MESSAGE_OPERATIONS:
            return request
        message = request.message
        skill = skill_named(message)
        contract = None if skill is None else self.contracts.get(skill)
        if contract is None or contract.input is None:
            return request
        for sent in skill_inputs(message, contract.skill):
            violation = contract.input.violation(sent.data)
            if violation is not None:
                field = f"message.parts[{sent.index}].data"
                if violation.path:
                    field = f"{field}.{violation.path}"
                raise InvalidParamsError(
                    f"{contract.skill}: {violation}",
                    field_violations=[(field, violation.reason)],
                )
        return request
