"""Agent discovery objects: AgentCard and its parts (spec §4.4 "Agent discovery")."""

from __future__ import annotations

from typing import Any

import msgspec

from ._base import A2AStruct
from ._security import SecurityRequirement, SecurityScheme

__all__ = [
    "AgentCapabilities",
    "AgentCard",
    "AgentCardSignature",
    "AgentExtension",
    "AgentInterface",
    "AgentProvider",
    "AgentSkill",
]


class AgentInterface(A2AStruct, frozen=True, kw_only=True):
    """One endpoint of the agent: URL, binding (``JSONRPC``, ``HTTP+JSON``, ``GRPC``), version."""

    url: str
    protocol_binding: str
    #: Opaque routing value; clients copy it into every request (spec §10).
    tenant: str = ""
    #: ``Major.Minor`` of the A2A protocol served there, e.g. ``"1.0"``.
    protocol_version: str = ""


class AgentProvider(A2AStruct, frozen=True, kw_only=True):
    """The organisation that runs the agent."""

    url: str = ""
    organization: str = ""


class AgentExtension(A2AStruct, frozen=True, kw_only=True):
    """A protocol extension the agent supports."""

    uri: str = ""
    description: str = ""
    required: bool = False
    params: dict[str, Any] | None = None


class AgentCapabilities(A2AStruct, frozen=True, kw_only=True):
    """Optional capabilities; absent means false."""

    streaming: bool | None = None
    push_notifications: bool | None = None
    extensions: tuple[AgentExtension, ...] = ()
    extended_agent_card: bool | None = None


class AgentSkill(A2AStruct, frozen=True, kw_only=True):
    """A distinct capability the agent offers."""

    id: str
    name: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    input_modes: tuple[str, ...] = ()
    output_modes: tuple[str, ...] = ()
    security_requirements: tuple[SecurityRequirement, ...] = ()


class AgentCardSignature(A2AStruct, frozen=True, kw_only=True):
    """A detached JWS over the canonical card (spec §8.4)."""

    protected: str
    signature: str
    header: dict[str, Any] | None = None


class AgentCard(A2AStruct, frozen=True, kw_only=True):
    """Self-description of an agent, served at ``/.well-known/agent-card.json``."""

    name: str
    description: str = ""
    #: Ordered by preference; the first is the preferred interface.
    supported_interfaces: tuple[AgentInterface, ...] = ()
    provider: AgentProvider | None = None
    #: The agent's own version, not the protocol version.
    version: str = ""
    documentation_url: str | None = None
    capabilities: AgentCapabilities
    security_schemes: dict[str, SecurityScheme] = msgspec.field(default_factory=dict)
    security_requirements: tuple[SecurityRequirement, ...] = ()
    default_input_modes: tuple[str, ...] = ()
    default_output_modes: tuple[str, ...] = ()
    skills: tuple[AgentSkill, ...] = ()
    signatures: tuple[AgentCardSignature, ...] = ()
    icon_url: str | None = None
