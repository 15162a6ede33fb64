"""The handshake on the server: skill contracts, data minimisation, negotiation and
guarantees, each an interceptor declaring its A2A extension (spec §11) in the card.

* :class:`SkillContracts`: input/output JSON Schemas per skill, inputs validated;
* :class:`DataMinimisation`: per-skill data needs declared, inbound data stripped or
  refused outside them, categories (never values) audited;
* :class:`Negotiation`: the agent's policy answers proposals (accept, reject,
  counter) before any work; tasks started under an agreement are checked against it;
* :class:`GuaranteeMonitor`: latency, price, residency and compliance declared,
  latency observed per skill and published beside them;
* :class:`FoundingSurface`: the founding documents' manifest and skill-named
  JSON-RPC methods, mapped onto SendMessage (opt-in).

The value types and rules are sans-IO, in :mod:`accord.protocol.handshake`.
"""

from __future__ import annotations

from .founding import MANIFEST_PATH, FoundingSurface, manifest_auth
from .guarantees import DEFAULT_WINDOW, MIN_COUNT, REFRESH, GuaranteeMonitor
from .minimisation import DataMinimisation, Inbound, data_detail
from .negotiation import DEFAULT_TTL, MAX_AGREEMENTS, Negotiation, Policy
from .skills import MESSAGE_OPERATIONS, SkillContracts

__all__ = [
    "DEFAULT_TTL",
    "DEFAULT_WINDOW",
    "MANIFEST_PATH",
    "MAX_AGREEMENTS",
    "MESSAGE_OPERATIONS",
    "MIN_COUNT",
    "REFRESH",
    "DataMinimisation",
    "FoundingSurface",
    "GuaranteeMonitor",
    "Inbound",
    "Negotiation",
    "Policy",
    "SkillContracts",
    "data_detail",
    "manifest_auth",
]
