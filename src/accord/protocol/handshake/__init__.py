"""The handshake before the work (sans-IO): skill contracts, data minimisation,
negotiation, guarantees; each an A2A extension (spec §11) identified by its URI.

* :mod:`.schema`: the bounded JSON Schema subset skills declare their data in;
* :mod:`.skills`: :class:`SkillContract` (input and output schemas per skill,
  :data:`SKILLS_EXTENSION`);
* :mod:`.detectors` and :mod:`.minimise`: :class:`DataNeeds` per skill and
  :func:`minimise` (:data:`MINIMISATION_EXTENSION`);
* :mod:`.negotiation`: :class:`Proposal`, :class:`Decision` and their JSON shapes
  (:data:`NEGOTIATION_EXTENSION`);
* :mod:`.guarantees`: :class:`Guarantees` declared, :class:`LatencyHistogram`
  observed, :func:`breaches` between them (:data:`GUARANTEES_EXTENSION`).
"""

from __future__ import annotations

from .detectors import DETECTORS, Detector, Finding, find, luhn_valid
from .guarantees import (
    BUCKET_BOUNDS_MS,
    GUARANTEES_EXTENSION,
    Breach,
    Guarantees,
    LatencyHistogram,
    Observed,
    Price,
    SkillGuarantee,
    breaches,
    promised,
)
from .minimise import (
    FILE,
    MINIMISATION_EXTENSION,
    UNDECLARED,
    DataNeeds,
    Minimised,
    Withheld,
    minimise,
)
from .negotiation import (
    NEGOTIATION_EXTENSION,
    Budget,
    Constraints,
    Decision,
    DecisionKind,
    Proposal,
    negotiation_payload,
    parse_time,
)
from .schema import MAX_DEPTH, MAX_PATTERN, JsonSchema, SchemaViolation, check_schema
from .skills import (
    SKILLS_EXTENSION,
    SkillContract,
    SkillInput,
    by_skill,
    skill_inputs,
    skill_named,
)

__all__ = [
    "BUCKET_BOUNDS_MS",
    "DETECTORS",
    "FILE",
    "GUARANTEES_EXTENSION",
    "MAX_DEPTH",
    "MAX_PATTERN",
    "MINIMISATION_EXTENSION",
    "NEGOTIATION_EXTENSION",
    "SKILLS_EXTENSION",
    "UNDECLARED",
    "Breach",
    "Budget",
    "Constraints",
    "DataNeeds",
    "Decision",
    "DecisionKind",
    "Detector",
    "Finding",
    "Guarantees",
    "JsonSchema",
    "LatencyHistogram",
    "Minimised",
    "Observed",
    "Price",
    "Proposal",
    "SchemaViolation",
    "SkillContract",
    "SkillGuarantee",
    "SkillInput",
    "Withheld",
    "breaches",
    "by_skill",
    "check_schema",
    "find",
    "luhn_valid",
    "minimise",
    "negotiation_payload",
    "parse_time",
    "promised",
    "skill_inputs",
    "skill_named",
]
