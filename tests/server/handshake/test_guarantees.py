"""Guarantees on the wire: declared in the card with the quotas' rate limits, latency
observed per skill and published beside the declared figures; the caller flags a
breach (a skill slower than declared) and none for one within its promise.

Timing-safe: the slow skill sleeps 20 ms against a declared 1 ms (a load can only
make it slower), the fast one is declared a minute."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from accord.client.handshake import check_guarantees
from accord.demo.receptionist import GUARANTEES
from accord.protocol.handshake import (
    GUARANTEES_EXTENSION,
    Guarantees,
    SkillGuarantee,
)
from accord.server import A2AApp, Agent, RateLimit, RateLimiter, TaskContext
from accord.server.handshake import GuaranteeMonitor
from accord.types import AgentCapabilities, AgentCard, convert
from tests.helpers.uvicorn_thread import serve_in_thread

V1 = {"A2A-Version": "1.0"}
#: Seconds to wait for the observed figures to reach the card (published every
#: REFRESH seconds by the server's own task).
DEADLINE = 20.0
DECLARED = Guarantees(
    skills=(
        SkillGuarantee("fast", p50_ms=60_000, p99_ms=60_000),
        SkillGuarantee("slow", p50_ms=1, p99_ms=2),
    ),
    residency=("EU",),
    compliance=("GDPR",),
)


async def run(ctx: TaskContext) -> None:
    if (ctx.message.metadata or {}).get("skill") == "slow":
        await anyio.sleep(0.02)  # a floor on the duration, not an ordering
    await ctx.complete("done")


@pytest.fixture(scope="module")
def agent() -> Iterator[str]:
    monitor = GuaranteeMonitor(DECLARED, min_count=3, refresh=0.05)
    limiter = RateLimiter(RateLimit(per_second=1000, burst=1000))
    app = A2AApp(
        Agent(run, name="Timed", description="Two skills"),
        interceptors=[limiter, monitor],
    )
    with serve_in_thread(app) as url:
        yield url


def send(url: str, skill: str, **configuration: Any) -> None:
    message = {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": "go"}],
        "metadata": {"skill": skill},
    }
    body: dict[str, Any] = {"message": message}
    if configuration:
        body["configuration"] = configuration
    reply = httpx.post(f"{url}/message:send", json=body, headers=V1)
    assert reply.status_code == 200, reply.text


def card(url: str) -> AgentCard:
    data = httpx.get(f"{url}/.well-known/agent-card.json").json()
    return convert(data, AgentCard)


def test_the_card_declares_guarantees_and_rate_limits(agent: str) -> None:
    report = check_guarantees(card(agent))
    assert not report.best_effort
    assert report.declared == DECLARED
    assert report.rate_limits  # repeated from the quotas extension
    assert report.rate_limits[0]["requestsPerSecond"] == 1000


def test_observed_latency_is_published_and_a_breach_flagged(agent: str) -> None:
    for _ in range(3):
        send(agent, "fast")
        send(agent, "slow")
    send(agent, "slow", returnImmediately=True)  # measures nothing: not counted
    until = time.monotonic() + DEADLINE
    report = check_guarantees(card(agent), min_count=3)
    while set(report.observed) != {"fast", "slow"}:  # polled until published
        assert time.monotonic() < until, report
        time.sleep(0.05)
        report = check_guarantees(card(agent), min_count=3)
    assert report.observed["slow"].count == 3
    assert report.observed["slow"].p50_ms >= 20
    assert report.observed["fast"].p99_ms < 60_000
    assert not report.ok
    assert {(b.skill, b.metric) for b in report.breaches} == {
        ("slow", "p50"),
        ("slow", "p99"),
    }
    # Judged with a higher minimum, three observations are too few: no breach.
    assert check_guarantees(card(agent), min_count=10).ok


def test_a_card_without_guarantees_is_best_effort() -> None:
    plain = AgentCard(
        name="x", description="y", version="1", capabilities=AgentCapabilities()
    )
    report = check_guarantees(plain)
    assert report.best_effort
    assert report.ok


def test_the_receptionist_declares_its_guarantees() -> None:
    params = GUARANTEES.to_params()
    assert params["residency"] == ["US"]
    assert params["skills"]["schedule_callback"]["price"] == {
        "amount": "0.05",
        "currency": "USD",
        "per": "call",
    }
    assert GUARANTEES_EXTENSION.startswith("urn:accord:a2a:")


def test_observations_cover_one_to_two_windows() -> None:
    now = [0.0]
    monitor = GuaranteeMonitor(DECLARED, window=60, min_count=1, clock=lambda: now[0])
    monitor.record("fast", 0.1)
    monitor.record("unknown", 0.1)  # not a declared skill: not kept
    assert set(monitor.observed()) == {"fast"}
    now[0] = 61  # a new window: the last one still counts
    monitor.record("fast", 0.1)
    assert monitor.observed()["fast"].count == 2
    now[0] = 200  # two windows later: all forgotten
    assert monitor.observed() == {}
    with pytest.raises(ValueError, match="min_count"):
        GuaranteeMonitor(DECLARED, min_count=0)
