"""Agent cards for the registry tests, built from a few plain values."""

from __future__ import annotations

from accord.security import card_json
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    encode,
)


def make_card(
    name: str,
    *,
    description: str = "",
    skills: tuple[AgentSkill, ...] = (),
    url: str = "http://127.0.0.1:9/a2a",
    binding: str = "JSONRPC",
    version: str = "1.0.0",
    provider: str | None = None,
    input_modes: tuple[str, ...] = ("text/plain",),
) -> AgentCard:
    """A card with one interface at ``url``."""
    return AgentCard(
        name=name,
        description=description,
        version=version,
        supported_interfaces=(
            AgentInterface(url=url, protocol_binding=binding, protocol_version="1.0"),
        ),
        provider=AgentProvider(organization=provider, url="https://example.org")
        if provider
        else None,
        capabilities=AgentCapabilities(),
        default_input_modes=input_modes,
        default_output_modes=("text/plain",),
        skills=skills,
    )


def skill(id_: str, name: str, description: str = "", *tags: str) -> AgentSkill:
    """A skill with tags."""
    return AgentSkill(id=id_, name=name, description=description, tags=tags)


def wire(card: AgentCard) -> str:
    """The card's JSON as an agent serves it."""
    return encode(card_json(card)).decode()
