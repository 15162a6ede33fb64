"""Guarantees: the declared shape, the bounded histogram, and breaches."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accord.protocol.handshake import (
    BUCKET_BOUNDS_MS,
    Guarantees,
    LatencyHistogram,
    Observed,
    Price,
    SkillGuarantee,
    breaches,
)

DECLARED = Guarantees(
    skills=(
        SkillGuarantee(
            "book", p50_ms=200, p99_ms=1000, price=Price(Decimal("0.05"), "USD")
        ),
        SkillGuarantee("quote", p99_ms=50),
    ),
    residency=("EU",),
    compliance=("GDPR", "SOC2"),
)


def test_params_round_trip_with_observations() -> None:
    observed = {"book": Observed(40, 180.0, 900.0, 3600.0)}
    params = DECLARED.to_params(observed, [{"per": "principal"}])
    assert params["skills"]["book"] == {
        "latencyMs": {"p50": 200, "p99": 1000},
        "price": {"amount": "0.05", "currency": "USD", "per": "call"},
        "observed": {
            "count": 40,
            "latencyMs": {"p50": 180.0, "p99": 900.0},
            "windowSeconds": 3600.0,
        },
    }
    assert params["residency"] == ["EU"]
    assert params["rateLimits"] == [{"per": "principal"}]
    assert Guarantees.from_params(params) == (DECLARED, observed)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ({"book": Observed(40, 180.0, 900.0)}, []),
        ({"book": Observed(40, 250.0, 900.0)}, [("book", "p50", 200, 250.0)]),
        ({"book": Observed(40, 180.0, 1500.0)}, [("book", "p99", 1000, 1500.0)]),
        ({"book": Observed(5, 999.0, 9999.0)}, []),  # too few to judge
        ({"quote": Observed(20, 10.0, 60.0)}, [("quote", "p99", 50, 60.0)]),
    ],
)
def test_breaches(
    observed: dict[str, Observed], expected: list[tuple[str, str, float, float]]
) -> None:
    found = breaches(DECLARED, observed)
    assert [
        (b.skill, b.metric, b.declared_ms, b.observed_ms) for b in found
    ] == expected
    for breach in found:
        assert f"exceeds the declared {breach.declared_ms:g} ms" in str(breach)


def test_the_histogram_is_bounded_and_errs_high_by_at_most_a_bucket() -> None:
    histogram = LatencyHistogram()
    for _ in range(98):
        histogram.record(0.150)
    histogram.record(2.0)
    histogram.record(2.0)
    assert len(histogram.counts) == len(BUCKET_BOUNDS_MS) + 1
    observed = histogram.observed()
    assert observed.count == 100
    assert 150 <= observed.p50_ms <= 150 * 2**0.25
    assert 2000 <= observed.p99_ms <= 2000 * 2**0.25
    histogram.record(1e9)  # beyond the last bound: the overflow bucket
    assert histogram.count == 101
    assert LatencyHistogram().quantile(0.5) == 0.0
    merged = histogram.merged(histogram)
    assert merged.count == 202


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SkillGuarantee("x", p50_ms=0), "must be > 0"),
        (lambda: SkillGuarantee("x", p50_ms=10, p99_ms=5), "p99 is below p50"),
        (lambda: Price(Decimal("-1"), "USD"), "finite decimal >= 0"),
        (lambda: Price(Decimal("1"), "dollars"), "ISO 4217"),
        (
            lambda: Guarantees((SkillGuarantee("x"), SkillGuarantee("x"))),
            "two guarantees for skill",
        ),
        (
            lambda: Guarantees.from_params(
                {"skills": {"x": {"latencyMs": {"p50": "1s"}}}}
            ),
            "milliseconds",
        ),
        (lambda: Guarantees.from_params({"residency": "EU"}), "list of strings"),
        (lambda: Guarantees.from_params(["skills"]), "the guarantees params are"),
        (lambda: Guarantees.from_params({"skills": {"x": 5}}), "are an object"),
        (
            lambda: Guarantees.from_params({"skills": {"x": {"latencyMs": 5}}}),
            "latencyMs is",
        ),
        (lambda: Observed.from_json({"count": 1}), "observed is"),
        (
            lambda: Observed.from_json({"count": -1, "latencyMs": {}}),
            "integer >= 0",
        ),
        (
            lambda: Observed.from_json({"count": 1, "latencyMs": {"p50": 5}}),
            "has p50 and p99",
        ),
        (lambda: Price(Decimal("1"), "USD", per=""), "says what it is per"),
    ],
)
def test_bad_declarations_are_refused(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_a_declared_skill_is_found_by_name_and_overflow_is_doubled() -> None:
    assert DECLARED.skill("quote") == SkillGuarantee("quote", p99_ms=50)
    assert DECLARED.skill("nothing") is None
    histogram = LatencyHistogram()
    histogram.record(BUCKET_BOUNDS_MS[-1] * 10 / 1000)  # seconds, past the last bound
    assert histogram.quantile(0.5) == BUCKET_BOUNDS_MS[-1] * 2
