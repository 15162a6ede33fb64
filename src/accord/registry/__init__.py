"""An agent registry: index agent cards, search them, watch them (issue 12).

* :mod:`.entries`: what is kept (:class:`Entry`, :class:`CardVersion`,
  :class:`Health`) and how it is asked (:class:`SearchQuery`, :data:`FILTER_FIELDS`);
* :mod:`.store`: the :class:`RegistryStore` contract, on SQLite (:mod:`.sqlite`,
  FTS5) or PostgreSQL (:mod:`.postgres`), chosen by :func:`open_registry_store`.

See ``docs/how-to/registry.md``.
"""

from __future__ import annotations

from .entries import (
    FILTER_FIELDS,
    CardVersion,
    Entry,
    Health,
    Hit,
    SearchPage,
    SearchQuery,
    Status,
    agent_identifier,
)
from .store import Recorded, RegistryStore, open_registry_store

__all__ = [
    "FILTER_FIELDS",
    "CardVersion",
    "Entry",
    "Health",
    "Hit",
    "Recorded",
    "RegistryStore",
    "SearchPage",
    "SearchQuery",
    "Status",
    "agent_identifier",
    "open_registry_store",
]
