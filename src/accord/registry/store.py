"""The registry store contract, and :func:`open_registry_store` to pick one by URL.

Two implementations keep the same rows and pass the same contract suite
(``tests/registry/test_store_contract.py``):

* :class:`~accord.registry.sqlite.SQLiteRegistryStore` (the default): one file,
  FTS5 full-text search ranked with ``bm25``;
* :class:`~accord.registry.postgres.PostgresRegistryStore` (the ``postgres``
  extra): PostgreSQL full-text search (``tsvector``) ranked with ``ts_rank``, for
  registries served by several processes.

Every row carries its tenant; nothing of one tenant is ever read for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from accord.types import AgentCard

    from .entries import CardVersion, Entry, Health, SearchPage, SearchQuery

__all__ = ["Recorded", "RegistryStore", "open_registry_store"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a card did: the entry now, and the new version if any.

    ``version`` is ``None`` when the card equals the latest one (same pin).
    """

    entry: Entry
    version: CardVersion | None

    @property
    def created(self) -> bool:
        """True when this was the agent's first card."""
        return self.version is not None and self.version.number == 1


@runtime_checkable
class RegistryStore(Protocol):
    """Where a registry keeps its agents, their card versions and their health."""

    async def __aenter__(self) -> RegistryStore: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def record(
        self,
        tenant: str,
        identifier: str,
        card: AgentCard,
        card_json: str,
        *,
        source_url: str | None,
        signed_by: str | None,
        now: float,
    ) -> Recorded:
        """Record ``card`` as the agent's latest card (a new version if it changed).

        ``card_json`` is the card as received; ``card`` is it decoded.
        """
        ...

    async def get(self, tenant: str, identifier: str) -> Entry | None:
        """The entry, or ``None``."""
        ...

    async def versions(self, tenant: str, identifier: str) -> tuple[CardVersion, ...]:
        """Every version of the agent's card, oldest first (empty: no such agent)."""
        ...

    async def remove(self, tenant: str, identifier: str) -> bool:
        """Forget the agent and its versions; False when there was none."""
        ...

    async def search(self, tenant: str, query: SearchQuery) -> SearchPage:
        """A page of the tenant's agents matching ``query``, best first."""
        ...

    async def facets(
        self, tenant: str, query: SearchQuery, fields: Sequence[str], limit: int
    ) -> dict[str, list[tuple[str, int]]]:
        """For each field, its ``limit`` most frequent values among the matches.

        ``query.limit`` and ``query.cursor`` are ignored: every match counts.
        """
        ...

    async def count(self, tenant: str, query: SearchQuery) -> int:
        """How many of the tenant's agents match ``query`` (its page ignored)."""
        ...

    async def due(self, now: float, limit: int) -> tuple[Entry, ...]:
        """Fetched agents (every tenant) whose next health check is due, soonest first."""
        ...

    async def record_health(self, tenant: str, identifier: str, health: Health) -> None:
        """Store the outcome of a health check (no-op if the agent is gone)."""
        ...


def open_registry_store(target: str) -> RegistryStore:
    """The store for ``target``: a ``postgresql://`` URL, else a SQLite file path."""
    from accord.stores import is_postgres_url

    if is_postgres_url(target):
        from .postgres import PostgresRegistryStore

        return PostgresRegistryStore(target)
    from .sqlite import SQLiteRegistryStore

    return SQLiteRegistryStore(target)
