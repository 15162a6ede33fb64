"""An agent registry: index agent cards, search them, watch them.

* :mod:`.entries`: what is kept (:class:`Entry`, :class:`CardVersion`,
  :class:`Health`) and how it is asked (:class:`SearchQuery`, :data:`FILTER_FIELDS`);
* :mod:`.store`: the :class:`RegistryStore` contract, on SQLite (:mod:`.sqlite`,
  FTS5) or PostgreSQL (:mod:`.postgres`), chosen by :func:`open_registry_store`;
* :mod:`.registration`: fetching, validating and verifying cards;
  :mod:`.health`: re-fetching them;
* :mod:`.api`: :class:`RegistryApp`, the HTTP API (ARD, registration, MCP v0.1)
  and, :mod:`.agent`, the registry's own A2A agent;
* :mod:`.client`: :func:`discover` and :class:`RegistryClient`, to use a registry.

See ``docs/how-to/registry.md``.
"""

from __future__ import annotations

from .api import RegistryApp, RegistryAuth
from .client import Discovered, RegistryClient, RegistryError, discover
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
    "Discovered",
    "Entry",
    "Health",
    "Hit",
    "Recorded",
    "RegistryApp",
    "RegistryAuth",
    "RegistryClient",
    "RegistryError",
    "RegistryStore",
    "SearchPage",
    "SearchQuery",
    "Status",
    "agent_identifier",
    "discover",
    "open_registry_store",
]
