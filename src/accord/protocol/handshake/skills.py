"""Skill contracts: what a skill takes and returns, as JSON Schemas (sans-IO).

A2A skills (spec §4.4.5 ``AgentSkill``) describe themselves in prose and media types;
they carry no schema. :class:`SkillContract` adds one per skill: the JSON Schema of the
data part the skill takes (``input_schema``) and of the data it returns
(``output_schema``). The server declares the contracts in its card under
:data:`SKILLS_EXTENSION` (``params.skills``: one object per skill, camelCase keys) and
checks each data part sent to a skill against its input schema.

Which data parts are "sent to a skill" is one rule, :func:`skill_inputs`: the data
parts (JSON objects) of a message whose metadata names the skill (``"skill"``), and the
data parts that name it themselves (a ``"skill"`` member, which is the routing key and
not part of the input, so it is left out of what is validated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .schema import JsonSchema

if TYPE_CHECKING:
    from accord.types import Message

__all__ = [
    "SKILLS_EXTENSION",
    "SkillContract",
    "SkillInput",
    "by_skill",
    "skill_inputs",
    "skill_named",
]

S = TypeVar("S", bound="_PerSkill")

#: The extension declaring skill contracts in the card (``capabilities.extensions``).
SKILLS_EXTENSION = "urn:accord:a2a:skill-contracts:v1"


@dataclass(frozen=True, slots=True)
class SkillContract:
    """The contract of one skill.

    Attributes:
        skill: the skill's id (an ``AgentSkill.id`` of the card).
        input_schema: JSON Schema of the data part the skill takes (None: any).
        output_schema: JSON Schema of the data the skill returns (None: not
            declared).

    Raises:
        ValueError: a schema outside the supported subset
            (:mod:`accord.protocol.handshake.schema`).
    """

    skill: str
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    _input: JsonSchema | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("a skill contract names its skill")
        checked = None
        if self.input_schema is not None:
            checked = JsonSchema(self.input_schema, f"{self.skill}.input_schema")
        if self.output_schema is not None:
            JsonSchema(self.output_schema, f"{self.skill}.output_schema")
        object.__setattr__(self, "_input", checked)

    @property
    def input(self) -> JsonSchema | None:
        """The checked input schema (None when not declared)."""
        return self._input

    def declared(self) -> dict[str, Any]:
        """The contract as the card declares it (one entry of ``params.skills``)."""
        entry: dict[str, Any] = {"id": self.skill}
        if self.input_schema is not None:
            entry["inputSchema"] = dict(self.input_schema)
        if self.output_schema is not None:
            entry["outputSchema"] = dict(self.output_schema)
        return entry


class _PerSkill(Protocol):
    @property
    def skill(self) -> str: ...


def by_skill(items: Iterable[S], what: str = "declarations") -> dict[str, S]:
    """``items`` (contracts, data needs, guarantees: anything with a ``skill``) keyed
    by skill id.

    Raises:
        ValueError: two of them for one skill.
    """
    table: dict[str, S] = {}
    for item in items:
        if item.skill in table:
            raise ValueError(f"two {what} for skill {item.skill!r}")
        table[item.skill] = item
    return table


@dataclass(frozen=True, slots=True)
class SkillInput:
    """One data part sent to a skill.

    Attributes:
        index: the part's index in the message (``message.parts[index]``).
        data: the part's JSON object, without its ``skill`` routing member.
    """

    index: int
    data: Mapping[str, Any]


def skill_named(message: Message) -> str | None:
    """The skill a message names: its metadata's ``skill``, else the ``skill`` of its
    first data part that has one; None when it names none."""
    metadata = message.metadata
    if metadata and isinstance(metadata.get("skill"), str):
        return str(metadata["skill"])
    for part in message.parts:
        data = part.data
        if isinstance(data, Mapping) and isinstance(data.get("skill"), str):
            return str(data["skill"])
    return None


def skill_inputs(message: Message, skill: str) -> list[SkillInput]:
    """The data parts of ``message`` sent to ``skill`` (see the module docstring)."""
    metadata = message.metadata
    whole = metadata is not None and metadata.get("skill") == skill
    found: list[SkillInput] = []
    for index, part in enumerate(message.parts):
        data = part.data
        if not isinstance(data, Mapping):
            continue
        named = data.get("skill")
        if named == skill or (whole and named is None):
            found.append(
                SkillInput(index, {k: v for k, v in data.items() if k != "skill"})
            )
    return found
