"""The handshake before the work (sans-IO): skill contracts, data minimisation,
negotiation, guarantees; each an A2A extension (spec §11) identified by its URI.

* :mod:`.schema`: the bounded JSON Schema subset skills declare their data in;
* :mod:`.skills`: :class:`SkillContract` (input and output schemas per skill,
  :data:`SKILLS_EXTENSION`);
* :mod:`.detectors` and :mod:`.minimise`: :class:`DataNeeds` per skill and
  :func:`minimise` (:data:`MINIMISATION_EXTENSION`).
"""

from __future__ import annotations

from .detectors import DETECTORS, Detector, Finding, find, luhn_valid
from .minimise import (
    FILE,
    MINIMISATION_EXTENSION,
    UNDECLARED,
    DataNeeds,
    Minimised,
    Withheld,
    minimise,
    needs_by_skill,
)
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
    "DETECTORS",
    "FILE",
    "MAX_DEPTH",
    "MAX_PATTERN",
    "MINIMISATION_EXTENSION",
    "SKILLS_EXTENSION",
    "UNDECLARED",
    "DataNeeds",
    "Detector",
    "Finding",
    "JsonSchema",
    "Minimised",
    "SchemaViolation",
    "SkillContract",
    "SkillInput",
    "Withheld",
    "check_schema",
    "contracts_by_skill",
    "find",
    "luhn_valid",
    "minimise",
    "needs_by_skill",
    "skill_inputs",
    "skill_named",
]
