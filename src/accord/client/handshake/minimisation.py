"""Data minimisation on the caller's side: nothing leaves that the skill did not ask for.

An agent declaring the data minimisation extension says, per skill, which fields and
which categories of personal data it needs (:class:`~accord.protocol.handshake.DataNeeds`).
:class:`CallerPolicy` applies that declaration to a message before it is sent
(:func:`~accord.protocol.handshake.minimise`): undeclared fields and parts are
removed, undeclared personal data in text is redacted, and categories the caller
never shares (``never``) are withheld even when declared. The result carries the
message to send and the report of what was withheld (places and categories, never
values)::

    policy = CallerPolicy(never={"card_number"})
    cut = policy.apply(client.card, message)
    for item in cut.withheld:
        print(item.where, item.category, item.action)
    await client.send_message(cut.message)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from accord.errors import A2AError
from accord.protocol.handshake import (
    MINIMISATION_EXTENSION,
    DataNeeds,
    Minimised,
    minimise,
    skill_named,
)

if TYPE_CHECKING:
    from accord.types import AgentCard, Message

__all__ = ["CallerPolicy", "MinimisationRefused", "declared_needs", "extension_params"]


class MinimisationRefused(A2AError):
    """The caller's policy refuses to send this message (the reason says why)."""


def extension_params(card: AgentCard | None, uri: str) -> dict[str, Any] | None:
    """The ``params`` of extension ``uri`` in ``card`` (``{}`` when it has none), or
    None when the card does not declare it."""
    if card is None or card.capabilities is None:
        return None
    for extension in card.capabilities.extensions:
        if extension.uri == uri:
            return dict(extension.params or {})
    return None


def declared_needs(card: AgentCard | None) -> dict[str, DataNeeds] | None:
    """The data needs per skill ``card`` declares, or None when it does not declare
    the data minimisation extension.

    Raises:
        ValueError: the declaration is not of the extension's shape.
    """
    params = extension_params(card, MINIMISATION_EXTENSION)
    if params is None:
        return None
    skills = params.get("skills", {})
    if not isinstance(skills, dict):
        raise ValueError("the data minimisation extension's skills is not an object")
    return {
        name: DataNeeds.from_declared(name, entry) for name, entry in skills.items()
    }


@dataclass(frozen=True, slots=True)
class CallerPolicy:
    """What the caller lets leave (see the module docstring).

    Attributes:
        never: categories never sent, even to a skill that declares them.
        require_declaration: refuse to send to a skill whose data needs the agent
            does not declare (True, the default); False: send such messages as
            they are (the agent is treated as best-effort).
    """

    never: frozenset[str] = field(default_factory=frozenset)
    require_declaration: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "never", frozenset(self.never))

    def apply(
        self, card: AgentCard | None, message: Message, *, skill: str | None = None
    ) -> Minimised:
        """``message`` cut down to what ``skill`` (default: the skill the message
        names) declares in ``card``.

        Raises:
            MinimisationRefused: the message names no skill, the skill declares no
                data needs (with ``require_declaration``), or nothing is left.
        """
        skill = skill or skill_named(message)
        if skill is None:
            raise MinimisationRefused(
                "the message names no skill: name it in the metadata ({'skill': ...}) "
                "so its declared data needs apply"
            )
        needs = (declared_needs(card) or {}).get(skill)
        if needs is None:
            if self.require_declaration:
                raise MinimisationRefused(
                    f"the agent declares no data needs for {skill!r}: nothing is sent "
                    "(use require_declaration=False to send to best-effort agents)"
                )
            return Minimised(message, (), frozenset())
        result = minimise(message, needs, never=self.never)
        if result.message is None:
            raise MinimisationRefused(
                f"nothing of this message is data {skill!r} declares: "
                + ", ".join(f"{w.where} ({w.category})" for w in result.withheld)
            )
        return result
