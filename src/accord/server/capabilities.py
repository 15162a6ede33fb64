"""Capability validation: what the card declares decides which calls are served.

Spec §3.3.4: an operation that needs a capability the card does not declare is
refused (streaming, push notifications, the extended card), and a message from a
client that did not activate an extension the card marks ``required`` is refused with
ExtensionSupportRequiredError. Which operation needs what is the operations table's
(:mod:`accord.protocol.operations`: ``requires``, ``delivers_message``); this module
only holds the answers.

Required extensions apply to the operations that deliver a message to the agent
(SendMessage, SendStreamingMessage): an extension shapes how the agent and the
client talk; reading, listing, cancelling or following a task the client already has
does not depend on it. A URI matches exactly: an extension's version is part of its
URI (spec §4.6), so activating another version does not satisfy a required one, and
nothing falls back to an older one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import (
    ExtensionSupportRequiredError,
    PushNotificationNotSupportedError,
    UnsupportedOperationError,
)
from accord.protocol import Capability

if TYPE_CHECKING:
    from accord.protocol import Operation

    from .agent import Agent

__all__ = ["Capabilities"]


class Capabilities:
    """Checks calls against one agent's card (spec §3.3.4)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        #: URIs of the extensions the card marks required.
        self.required_extensions = tuple(e.uri for e in agent.extensions if e.required)

    def check(self, operation: Operation, activated: tuple[str, ...] = ()) -> None:
        """Refuse ``operation`` if the card does not allow it; ``activated`` are the
        extension URIs the client listed (``A2A-Extensions``).

        Raises:
            UnsupportedOperationError: streaming or the extended card, undeclared.
            PushNotificationNotSupportedError: push configs, undeclared.
            ExtensionSupportRequiredError: a message without a required extension.
        """
        need = operation.requires
        if need is not None:
            self._check_capability(operation.name, need)
        if operation.delivers_message and self.required_extensions:
            self._check_extensions(activated)

    def _check_capability(self, name: str, need: Capability) -> None:
        agent = self.agent
        if need is Capability.STREAMING and not agent.streaming:
            raise UnsupportedOperationError(
                f"{name} needs streaming, which this agent does not support "
                "(capabilities.streaming is false); use SendMessage and GetTask instead"
            )
        if need is Capability.PUSH_NOTIFICATIONS and not agent.push_notifications:
            raise PushNotificationNotSupportedError(
                "This agent does not support push notifications "
                "(capabilities.pushNotifications is false); poll GetTask or use streaming"
            )
        if need is Capability.EXTENDED_AGENT_CARD and not agent.declare_extended_card:
            raise UnsupportedOperationError(
                "This agent has no extended agent card (capabilities.extendedAgentCard is false)"
            )

    def _check_extensions(self, activated: tuple[str, ...]) -> None:
        missing = [u for u in self.required_extensions if u not in activated]
        if missing:
            raise ExtensionSupportRequiredError(
                "This agent requires the extension(s) "
                + ", ".join(missing)
                + ": activate them by listing their URIs in the A2A-Extensions header "
                "(gRPC metadata a2a-extensions) and follow their rules; see "
                "capabilities.extensions in the agent card",
                metadata={"extensions": ",".join(missing)},
            )
