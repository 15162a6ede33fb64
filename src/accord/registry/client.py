"""Talking to a registry: :func:`discover` agents, and :class:`RegistryClient`.

A client of the registry's HTTP API (:mod:`.api`), in its ARD dialect. Searching is
the client layer's (:mod:`accord.client.discovery`: ``Client.discover``, re-exported
here as :func:`discover`); :class:`RegistryClient` adds registering, publishing and
removing agents::

    found = await discover("https://registry.example", "schedule a callback",
                           skill=["callback"])
    async with await Client.connect(found[0].agent_url, pin=found[0].pin) as client:
        ...

Each result is a :class:`Discovered`: what the registry knows of the agent (name,
score, skills, the card's pin, its health), enough to choose one and to connect to
it pinned to the card the registry saw. A refusal is a :class:`RegistryError` with
the registry's ARD ``errorCode`` and message; an unreachable registry is an
:class:`accord.errors.ConnectError` (or ``TimeoutError``).
"""

from __future__ import annotations

from typing import Any

from accord.client.discovery import (
    Discovered,
    RegistryError,
    RegistryReader,
    discover,
)

__all__ = ["Discovered", "RegistryClient", "RegistryError", "discover"]


class RegistryClient(RegistryReader):
    """A registry's API at ``url``: search it (:meth:`discover`, from
    :class:`~accord.client.discovery.RegistryReader`, with its arguments) and manage
    its entries.
    """

    async def register(self, agent_url: str) -> dict[str, Any]:
        """Register the agent whose card is at (or under) ``agent_url``."""
        result: dict[str, Any] = await self._call(
            "POST", "/api/agents/register", json={"wellKnownURI": agent_url}
        )
        return result

    async def publish(self, card: bytes) -> dict[str, Any]:
        """Publish a (signed) card, as JSON bytes."""
        result: dict[str, Any] = await self._call("POST", "/agents", content=card)
        return result

    async def get(self, identifier: str) -> dict[str, Any]:
        """The registry's entry for ``identifier`` (with its health)."""
        result: dict[str, Any] = await self._call("GET", f"/agents/{identifier}")
        return result

    async def versions(self, identifier: str) -> list[dict[str, Any]]:
        """Every recorded version of the agent's card, with its diff."""
        body = await self._call("GET", f"/agents/{identifier}/versions")
        versions: list[dict[str, Any]] = body["versions"]
        return versions

    async def remove(self, identifier: str) -> None:
        """Forget the agent."""
        await self._call("DELETE", f"/agents/{identifier}")
