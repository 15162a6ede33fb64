"""The registry and the guarantees extension: search by declared residency and
compliance, breaches of declared latency flagged, fresh observed figures not a new
card version (issue 13's "the registry, when present, compares")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import discover
from accord.protocol.handshake import GUARANTEES_EXTENSION
from accord.types import AgentExtension, replace
from tests.helpers.cli import run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill, wire
from ._hosts import CardHost
from ._serving import PUBLISHER_KEY, serve_registry

PUBLISHER = {"X-API-Key": PUBLISHER_KEY}


def _params(residency: str, p99_seen: float | None) -> dict[str, Any]:
    book: dict[str, Any] = {"latencyMs": {"p50": 100, "p99": 500}}
    if p99_seen is not None:
        book["observed"] = {"count": 50, "latencyMs": {"p50": 90.0, "p99": p99_seen}}
    return {
        "skills": {"book": book},
        "residency": [residency],
        "compliance": ["HIPAA"] if residency == "US" else ["GDPR"],
    }


def _card(url: str, name: str, params: dict[str, Any]) -> bytes:
    card = make_card(
        name, description="Book a callback", skills=(skill("book", "Book"),), url=url
    )
    guarantees = AgentExtension(uri=GUARANTEES_EXTENSION, params=params)
    card = replace(
        card, capabilities=replace(card.capabilities, extensions=(guarantees,))
    )
    return wire(card).encode()


@pytest.fixture
def hosts() -> Iterator[list[tuple[CardHost, str]]]:
    us, eu = CardHost(b"{}"), CardHost(b"{}")
    with serve_in_thread(us) as us_url, serve_in_thread(eu) as eu_url:
        us.card = _card(f"{us_url}/a2a", "Desk US", _params("US", 2000.0))
        eu.card = _card(f"{eu_url}/a2a", "Desk EU", _params("EU", None))
        yield [(us, us_url), (eu, eu_url)]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    with serve_registry(tmp_path) as url:
        yield url


@pytest.mark.anyio
async def test_search_by_declared_residency_and_compliance_and_see_breaches(
    registry: str, hosts: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry, headers=PUBLISHER) as http:
        for _, url in hosts:
            answer = await http.post("/api/agents/register", json={"wellKnownURI": url})
            assert answer.status_code in (200, 201), answer.text
    in_us = await discover(registry, "callback", residency="US")
    assert [a.name for a in in_us] == ["Desk US"]
    assert [a.name for a in await discover(registry, "", compliance="GDPR")] == [
        "Desk EU"
    ]
    assert await discover(registry, "callback", residency="US", compliance="GDPR") == []
    # The US desk declared p99 500 ms and published an observed 2,000 ms: a breach.
    us_metadata = in_us[0].raw["metadata"]
    assert us_metadata["guarantees"] == "breached"
    assert "book" in us_metadata["guaranteeBreaches"]
    assert "p99" in us_metadata["guaranteeBreaches"]
    (eu,) = await discover(registry, "", residency="EU")
    assert eu.raw["metadata"]["guarantees"] == "kept"
    assert eu.raw["metadata"]["guaranteeBreaches"] == ""


@pytest.mark.anyio
async def test_fresh_observed_figures_are_not_a_new_version(
    registry: str, hosts: list[tuple[CardHost, str]]
) -> None:
    host, url = hosts[0]
    async with httpx.AsyncClient(base_url=registry, headers=PUBLISHER) as http:
        first = await http.post("/api/agents/register", json={"wellKnownURI": url})
        identifier = first.json()["identifier"]
        host.card = _card(f"{url}/a2a", "Desk US", _params("US", 300.0))
        again = await http.post("/api/agents/register", json={"wellKnownURI": url})
        assert again.status_code in (200, 201), again.text
        versions = (await http.get(f"/agents/{identifier}/versions")).json()
        assert len(versions["versions"]) == 1
        # The registry shows the figures the agent serves now: no breach any more.
        entry = (await http.get(f"/agents/{identifier}")).json()
        assert entry["metadata"]["guarantees"] == "kept"
        assert entry["metadata"]["drift"] is False


def test_accord_discover_flags_a_breach_and_filters_by_residency(
    registry: str,
    hosts: list[tuple[CardHost, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _, url in hosts:
        answer = httpx.post(
            f"{registry}/api/agents/register",
            json={"wellKnownURI": url},
            headers=PUBLISHER,
            timeout=30,
        )
        assert answer.status_code in (200, 201), answer.text
    found = run_cli(capsys, "discover", registry, "callback", "--residency", "US")
    assert found.code == 0, found.err
    assert "Desk US" in found.out
    assert "guarantees-breached" in found.out
    assert "Desk EU" not in found.out
    eu = run_cli(capsys, "discover", registry, "callback", "--compliance", "GDPR")
    assert "Desk EU" in eu.out
    assert "guarantees-breached" not in eu.out
