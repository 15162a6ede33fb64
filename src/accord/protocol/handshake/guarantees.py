"""Guarantees and pricing (sans-IO): what an agent promises, what it is seen to do.

A card "without guarantees gets treated as best-effort". With the guarantees
extension (:data:`GUARANTEES_EXTENSION`) an agent declares, in the card's
``capabilities.extensions`` params::

    {"residency": ["US"], "compliance": ["TCPA"],
     "skills": {"schedule_callback": {
         "latencyMs": {"p50": 2000, "p99": 5000},
         "price": {"amount": "0.05", "currency": "USD", "per": "call"},
         "observed": {"count": 240, "latencyMs": {"p50": 1510, "p99": 1796},
                      "windowSeconds": 3600}}},
     "rateLimits": [...]}

``observed`` is what the server measured (:class:`LatencyHistogram`, published beside
the declared figures); ``rateLimits`` repeats the quotas extension's default limits.
A caller compares the two with :func:`breaches`: a declared percentile the observed
one exceeds is a :class:`Breach`. Too few observations (below ``min_count``) judge
nothing.

Latency is kept in a fixed histogram (bounded memory whatever the traffic): bucket
bounds grow by a factor of 2^(1/4) (about 19 %) from 1 ms to about 4 hours, and
a percentile is reported as the upper bound of its bucket, so an observed figure
overstates the true one by at most that factor (it errs towards flagging).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from accord.types import replace

from .money import amount_of, check_money
from .skills import by_skill

if TYPE_CHECKING:
    from decimal import Decimal

    from accord.types import AgentCard

__all__ = [
    "BUCKET_BOUNDS_MS",
    "GUARANTEES_EXTENSION",
    "Breach",
    "Guarantees",
    "LatencyHistogram",
    "Observed",
    "Price",
    "SkillGuarantee",
    "breaches",
    "promised",
]

#: The guarantees and pricing extension.
GUARANTEES_EXTENSION = "urn:accord:a2a:guarantees:v1"
#: Upper bounds (milliseconds) of the latency buckets; the last catches the rest.
BUCKET_BOUNDS_MS: tuple[float, ...] = tuple(
    round(2 ** (i / 4), 3) for i in range(4 * 24)
)


@dataclass(frozen=True, slots=True)
class Price:
    """A price: an exact decimal amount, its currency, and what it is per."""

    amount: Decimal
    currency: str
    per: str = "call"

    def __post_init__(self) -> None:
        check_money(self.amount, self.currency, "price")
        if not self.per:
            raise ValueError("a price says what it is per (call, minute, ...)")

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency, "per": self.per}

    @classmethod
    def from_json(cls, data: Any) -> Price:
        amount, currency = amount_of(data, "price")
        return cls(amount, currency, str(data.get("per", "call")))


@dataclass(frozen=True, slots=True)
class SkillGuarantee:
    """What one skill promises: latency percentiles (milliseconds) and its price."""

    skill: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    price: Price | None = None

    def __post_init__(self) -> None:
        for name in ("p50_ms", "p99_ms"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{self.skill}: {name} must be > 0")
        if (
            self.p50_ms is not None
            and self.p99_ms is not None
            and self.p99_ms < self.p50_ms
        ):
            raise ValueError(f"{self.skill}: p99 is below p50")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        latency = {
            k: v
            for k, v in (("p50", self.p50_ms), ("p99", self.p99_ms))
            if v is not None
        }
        if latency:
            out["latencyMs"] = latency
        if self.price is not None:
            out["price"] = self.price.to_json()
        return out

    @classmethod
    def from_json(cls, skill: str, data: Any) -> SkillGuarantee:
        if not isinstance(data, Mapping):
            raise ValueError(f"{skill}: a skill's guarantees are an object")
        latency = data.get("latencyMs", {})
        if not isinstance(latency, Mapping):
            raise ValueError(f"{skill}: latencyMs is {{'p50': ms, 'p99': ms}}")
        price = data.get("price")
        return cls(
            skill,
            _ms(latency.get("p50"), skill),
            _ms(latency.get("p99"), skill),
            None if price is None else Price.from_json(price),
        )


def _ms(value: Any, skill: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{skill}: a latency is a number of milliseconds")
    return float(value)


@dataclass(frozen=True, slots=True)
class Observed:
    """What the server measured for one skill: how many calls, and percentiles."""

    count: int
    p50_ms: float
    p99_ms: float
    window_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "count": self.count,
            "latencyMs": {"p50": self.p50_ms, "p99": self.p99_ms},
        }
        if self.window_seconds:
            out["windowSeconds"] = self.window_seconds
        return out

    @classmethod
    def from_json(cls, data: Any) -> Observed:
        if not isinstance(data, Mapping) or not isinstance(
            data.get("latencyMs"), Mapping
        ):
            raise ValueError("observed is {'count', 'latencyMs': {'p50', 'p99'}}")
        count = data.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("observed count is an integer >= 0")
        latency = data["latencyMs"]
        p50, p99 = (
            _ms(latency.get("p50"), "observed"),
            _ms(latency.get("p99"), "observed"),
        )
        if p50 is None or p99 is None:
            raise ValueError("observed latencyMs has p50 and p99")
        window = data.get("windowSeconds", 0.0)
        return cls(
            count, p50, p99, float(window) if isinstance(window, int | float) else 0.0
        )


@dataclass(frozen=True, slots=True)
class Guarantees:
    """The agent's guarantees: per skill, data residency and compliance tags."""

    skills: tuple[SkillGuarantee, ...] = ()
    residency: tuple[str, ...] = ()
    compliance: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        by_skill(self.skills, "guarantees")
        object.__setattr__(self, "skills", tuple(self.skills))
        object.__setattr__(self, "residency", tuple(self.residency))
        object.__setattr__(self, "compliance", tuple(self.compliance))

    def skill(self, name: str) -> SkillGuarantee | None:
        """The guarantee of skill ``name``, if declared."""
        return next((s for s in self.skills if s.skill == name), None)

    def to_params(
        self,
        observed: Mapping[str, Observed] | None = None,
        rate_limits: list[Any] | None = None,
    ) -> dict[str, Any]:
        """The extension's params (see the module docstring)."""
        skills: dict[str, Any] = {}
        for item in self.skills:
            entry = item.to_json()
            seen = (observed or {}).get(item.skill)
            if seen is not None:
                entry["observed"] = seen.to_json()
            skills[item.skill] = entry
        params: dict[str, Any] = {"skills": skills}
        if self.residency:
            params["residency"] = list(self.residency)
        if self.compliance:
            params["compliance"] = list(self.compliance)
        if rate_limits:
            params["rateLimits"] = rate_limits
        return params

    @classmethod
    def from_params(cls, params: Any) -> tuple[Guarantees, dict[str, Observed]]:
        """The declared guarantees and the published observations in ``params``.

        Raises:
            ValueError: naming what is not of the extension's shape.
        """
        if not isinstance(params, Mapping) or not isinstance(
            params.get("skills", {}), Mapping
        ):
            raise ValueError(
                "the guarantees params are {'skills': {skill: {...}}, ...}"
            )
        skills, observed = [], {}
        for name, entry in params.get("skills", {}).items():
            skills.append(SkillGuarantee.from_json(name, entry))
            if "observed" in entry:
                observed[name] = Observed.from_json(entry["observed"])
        residency, compliance = (
            params.get("residency", []),
            params.get("compliance", []),
        )
        for label, value in (("residency", residency), ("compliance", compliance)):
            if not isinstance(value, list) or not all(
                isinstance(v, str) for v in value
            ):
                raise ValueError(f"{label} is a list of strings")
        return cls(tuple(skills), tuple(residency), tuple(compliance)), observed


@dataclass(frozen=True, slots=True)
class Breach:
    """A declared latency percentile the observed one exceeds."""

    skill: str
    metric: str
    declared_ms: float
    observed_ms: float

    def __str__(self) -> str:
        return (
            f"{self.skill}: observed {self.metric} {self.observed_ms:g} ms exceeds the "
            f"declared {self.declared_ms:g} ms"
        )


def breaches(
    declared: Guarantees, observed: Mapping[str, Observed], *, min_count: int = 20
) -> list[Breach]:
    """Every declared percentile the observations exceed (skills observed fewer than
    ``min_count`` times are not judged)."""
    found: list[Breach] = []
    for item in declared.skills:
        seen = observed.get(item.skill)
        if seen is None or seen.count < min_count:
            continue
        for metric, promised, actual in (
            ("p50", item.p50_ms, seen.p50_ms),
            ("p99", item.p99_ms, seen.p99_ms),
        ):
            if promised is not None and actual > promised:
                found.append(Breach(item.skill, metric, promised, actual))
    return found


@dataclass(slots=True)
class LatencyHistogram:
    """Latencies in fixed buckets (:data:`BUCKET_BOUNDS_MS`): bounded memory.

    A mutable accumulator (one per skill, owned by the server's recorder).
    """

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKET_BOUNDS_MS) + 1))
    count: int = 0

    def record(self, seconds: float) -> None:
        """Count one latency."""
        ms = max(seconds, 0.0) * 1000.0
        low, high = 0, len(BUCKET_BOUNDS_MS)
        while low < high:  # the first bound >= ms
            middle = (low + high) // 2
            if BUCKET_BOUNDS_MS[middle] < ms:
                low = middle + 1
            else:
                high = middle
        self.counts[low] += 1
        self.count += 1

    def merged(self, other: LatencyHistogram) -> LatencyHistogram:
        """A new histogram holding both."""
        return LatencyHistogram(
            [a + b for a, b in zip(self.counts, other.counts, strict=True)],
            self.count + other.count,
        )

    def quantile(self, q: float) -> float:
        """The upper bound (ms) of the bucket holding the ``q`` quantile (0 when
        empty; the last bound doubled for the overflow bucket)."""
        if not self.count:
            return 0.0
        rank = max(1, -(-int(q * self.count * 1000) // 1000))  # ceil, no float drift
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                if index < len(BUCKET_BOUNDS_MS):
                    return BUCKET_BOUNDS_MS[index]
                break
        return BUCKET_BOUNDS_MS[-1] * 2

    def observed(self, window_seconds: float = 0.0) -> Observed:
        """The p50 and p99 of what was recorded."""
        return Observed(
            self.count, self.quantile(0.5), self.quantile(0.99), window_seconds
        )


def promised(card: AgentCard) -> AgentCard:
    """``card`` without the figures its guarantees extension measured (each skill's
    ``observed``): what the agent promises.

    A card pin and a card diff compare this, so an agent publishing fresh latency
    figures does not look like a changed card (a pinned client would refuse it, a
    registry would record a version without a version bump every refresh).
    """
    extensions = card.capabilities.extensions
    if not any(e.uri == GUARANTEES_EXTENSION and e.params for e in extensions):
        return card
    kept = tuple(
        replace(e, params=_without_observed(e.params))
        if e.uri == GUARANTEES_EXTENSION and e.params
        else e
        for e in extensions
    )
    return replace(card, capabilities=replace(card.capabilities, extensions=kept))


def _without_observed(params: Mapping[str, Any]) -> dict[str, Any]:
    skills = params.get("skills")
    if not isinstance(skills, Mapping):
        return dict(params)
    return {
        **params,
        "skills": {
            name: {k: v for k, v in entry.items() if k != "observed"}
            if isinstance(entry, Mapping)
            else entry
            for name, entry in skills.items()
        },
    }
