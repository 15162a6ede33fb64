"""The handshake before the work (sans-IO): skill contracts, data minimisation,
negotiation, guarantees; each an A2A extension (spec §11) identified by its URI.

* :mod:`.schema`: the bounded JSON Schema subset skills declare their data in;
* :mod:`.skills`: :class:`SkillContract` (input and output schemas per skill,
  :data:`SKILLS_EXTENSION`).
"""

from __future__ import annotations

from .schema import MAX_DEPTH, MAX_PATTERN, JsonSchema, SchemaViolation, check_schema
from .skills import (
    SKILLS_EXTENSION,
    SkillContract,
    SkillInput,
    contracts_by_skill,
    skill_inputs,
    skill_named,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_PATTERN",
    "SKILLS_EXTENSION",
    "JsonSchema",
    "SchemaViolation",
    "SkillContract",
    "SkillInput",
    "check_schema",
    "contracts_by_skill",
    "skill_inputs",
    "skill_named",
]
