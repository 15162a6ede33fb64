"""Health: re-fetching cards (cache headers, ETag), liveness, latency, drift found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from accord.egress import egress_client
from accord.registry import Status
from accord.registry.health import HealthChecker, HealthSettings, next_interval
from accord.registry.registration import Registrar
from accord.registry.sqlite import SQLiteRegistryStore
from accord.security import card_json
from accord.types import encode
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill
from ._hosts import LOOPBACK, CardHost
from ._serving import PUBLISHER_KEY, serve_registry

pytestmark = pytest.mark.anyio


class Clock:
    """A Unix clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteRegistryStore]:
    async with SQLiteRegistryStore(tmp_path / "registry.db") as opened:
        yield opened


def served(url: str, *skills: str) -> bytes:
    card = make_card(
        "Callbacks", skills=tuple(skill(s, s) for s in skills), url=f"{url}/a2a"
    )
    return encode(card_json(card))


async def test_health_follows_the_agent(store: SQLiteRegistryStore) -> None:
    clock = Clock()
    settings = HealthSettings(clock=clock, interval=600, min_interval=60)
    host = CardHost(b"{}")
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http, clock=clock)
        checker = HealthChecker(store, registrar, settings)
        with serve_in_thread(host) as url:
            host.card = served(url, "callback", "quote")
            host.cache_control = "max-age=120"
            host.etag = '"v1"'
            recorded = await registrar.register_url("", url)
            identifier = recorded.entry.identifier
            assert await checker.check_due() == 1
            entry = await store.get("", identifier)
            assert entry is not None
            assert entry.health.status is Status.UP
            assert entry.health.latency_ms is not None
            assert entry.health.latency_ms > 0
            assert entry.health.next_check_at == clock.now + 120
            assert entry.health.etag == '"v1"'
            assert await checker.check_due() == 0  # not due yet

            clock.now += 121
            assert await checker.check_due() == 1
            assert host.not_modified == 1  # the ETag was sent back: 304

            # The card changes in place (same version): found, stored, flagged.
            host.card = served(url, "callback")
            host.etag = '"v2"'
            clock.now += 121
            await checker.check_due()
            entry = await store.get("", identifier)
            assert entry is not None
            assert entry.version == 2
            assert entry.drift
            versions = await store.versions("", identifier)
            assert versions[1].diff is not None
            assert [c["rule"] for c in versions[1].diff["changes"]] == ["skill.removed"]
            assert entry.health.etag == '"v2"'
        # The agent stopped: the next check marks it down, and retries sooner.
        clock.now += 121
        assert await checker.check_due() == 1
        entry = await store.get("", identifier)
        assert entry is not None
        assert entry.health.status is Status.DOWN
        assert entry.health.failures == 1
        assert "is the agent running" in entry.health.error
        assert entry.health.next_check_at == clock.now + settings.retry_interval
        assert entry.health.latency_ms is None


async def test_a_card_that_no_longer_verifies_marks_the_agent_down(
    store: SQLiteRegistryStore,
) -> None:
    from accord.security import JWK, TrustStore, sign_card

    key = JWK.generate("ES256", kid="k")
    clock = Clock()
    host = CardHost(b"{}")
    with serve_in_thread(host) as url:
        card = make_card("Signed", url=f"{url}/a2a")
        host.card = encode(card_json(sign_card(card, key)))
        async with egress_client(LOOPBACK) as http:
            registrar = Registrar(
                store, http, trust=TrustStore(keys=[key.public()]), clock=clock
            )
            recorded = await registrar.register_url("", url)
            host.card = encode(
                card_json(make_card("Signed", url=f"{url}/a2a", version="2"))
            )
            checker = HealthChecker(store, registrar, HealthSettings(clock=clock))
            await checker.check_due()
    entry = await store.get("", recorded.entry.identifier)
    assert entry is not None
    assert entry.health.status is Status.DOWN
    assert "card is not signed" in entry.health.error
    assert entry.version == 1  # the unverified card was not recorded


def test_next_interval_honours_cache_control() -> None:
    settings = HealthSettings(interval=300, min_interval=30, max_interval=3600)
    for header, expected in [
        (None, 300),
        ("max-age=120", 120),
        ("public, max-age=5", 30),
        ("max-age=999999", 3600),
        ("no-cache", 30),
        ("no-store", 30),
        ("max-age=soon", 300),
    ]:
        headers = httpx.Headers({"cache-control": header} if header else {})
        assert next_interval(headers, settings) == expected, header


#: 2026-12-06 10:00:00 UTC, and HTTP-dates around it.
NOW = 1_796_551_200.0
AT_NOW = "Sun, 06 Dec 2026 10:00:00 GMT"
IN_10_MIN = "Sun, 06 Dec 2026 10:10:00 GMT"


def test_next_interval_reads_expires_date_and_age_as_a_shared_cache() -> None:
    settings = HealthSettings(
        interval=300, min_interval=30, max_interval=3600, clock=lambda: NOW
    )
    for headers, expected in [
        # Expires against our clock, or against the response's Date.
        ({"expires": IN_10_MIN}, 600),
        ({"expires": "Sun, 06 Dec 2026 10:10:00 -0000"}, 600),  # no zone: GMT
        ({"expires": IN_10_MIN, "date": "Sun, 06 Dec 2026 10:05:00 GMT"}, 300),
        # Age counts against the lifetime, whichever gave it.
        ({"expires": IN_10_MIN, "age": "100"}, 500),
        ({"cache-control": "max-age=900", "age": "100"}, 800),
        # max-age wins over Expires; s-maxage (for shared caches) over both.
        ({"cache-control": "max-age=120", "expires": IN_10_MIN}, 120),
        ({"cache-control": "max-age=120, s-maxage=240"}, 240),
        # In the past, or not a date at all ("0"): stale, checked soon.
        ({"expires": AT_NOW, "date": IN_10_MIN}, 30),
        ({"expires": "0"}, 30),
        ({"cache-control": "no-cache", "expires": IN_10_MIN}, 30),
        # Far future: clamped.
        ({"expires": "Fri, 01 Jan 2038 00:00:00 GMT"}, 3600),
    ]:
        assert next_interval(httpx.Headers(headers), settings) == expected, headers


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        HealthSettings(timeout=0)
    with pytest.raises(ValueError, match="concurrency"):
        HealthSettings(concurrency=0)


async def test_the_server_checks_in_the_background(tmp_path: Path) -> None:
    host = CardHost(b"{}")
    settings = HealthSettings(poll=0.05, interval=3600)
    with (
        serve_in_thread(host) as agent,
        serve_registry(tmp_path, health=settings) as registry,
    ):
        host.card = served(agent, "callback")
        async with httpx.AsyncClient(base_url=registry) as http:
            answer = await http.post(
                "/api/agents/register",
                json={"wellKnownURI": agent},
                headers={"X-API-Key": PUBLISHER_KEY},
            )
            identifier = answer.json()["identifier"]
            # Poll until the checker has run (bounded by the deadline).
            with anyio.fail_after(20):
                while True:
                    entry = (await http.get(f"/agents/{identifier}")).json()
                    if entry["health"]["status"] != "unknown":
                        break
                    await anyio.sleep(0.05)
    assert entry["health"]["status"] == "up"
    assert entry["metadata"]["status"] == "up"
    assert entry["metadata"]["latencyMs"] > 0
