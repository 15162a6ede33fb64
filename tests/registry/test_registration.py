"""Registering agents by URL and by publishing: validation, signatures, drift."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from accord.egress import EgressPolicy, egress_client
from accord.registry import SearchQuery
from accord.registry.registration import Registrar, RegistrationError
from accord.registry.sqlite import SQLiteRegistryStore
from accord.security import JWK, TrustStore, card_json, sign_card
from accord.types import AgentCard, decode_json, encode
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill
from ._hosts import LOOPBACK, CardHost

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def agent_key() -> JWK:
    return JWK.generate("ES256", kid="agent-key")


@pytest.fixture(scope="module")
def stranger_key() -> JWK:
    return JWK.generate("ES256", kid="agent-key")  # same kid, another key


def signed(card: AgentCard, key: JWK) -> bytes:
    return encode(card_json(sign_card(card, key)))


@pytest.fixture
def hosts() -> Iterator[list[tuple[CardHost, str]]]:
    """Three agent hosts on loopback (their cards set by the test)."""
    with ExitStack() as stack:
        out = []
        for _ in range(3):
            host = CardHost(b"{}")
            out.append((host, stack.enter_context(serve_in_thread(host))))
        yield out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteRegistryStore]:
    async with SQLiteRegistryStore(tmp_path / "registry.db") as opened:
        yield opened


def card_for(url: str, name: str, *skills: tuple[str, str, str]) -> AgentCard:
    return make_card(
        name,
        description=f"{name} agent",
        skills=tuple(skill(i, n, d) for i, n, d in skills),
        url=f"{url}/a2a",
    )


async def test_several_agents_register_and_are_found(
    hosts: list[tuple[CardHost, str]], store: SQLiteRegistryStore, agent_key: JWK
) -> None:
    names = [
        ("Callbacks", ("callback", "Schedule a callback", "phone a customer back")),
        ("Weather", ("forecast", "Forecast", "tomorrow's weather")),
        ("Invoices", ("invoice", "Invoice", "bill a customer")),
    ]
    for (host, url), (name, sk) in zip(hosts, names, strict=True):
        host.card = signed(card_for(url, name, sk), agent_key)
    trust = TrustStore(keys=[agent_key.public()])
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http, trust=trust)
        for _, url in hosts:
            recorded = await registrar.register_url("", url)
            assert recorded.created
            assert recorded.entry.signed_by == "agent-key"
            assert recorded.entry.source_url == f"{url}/.well-known/agent-card.json"
    page = await store.search("", SearchQuery(text="customer callback"))
    assert [h.entry.card.name for h in page.hits] == ["Callbacks", "Invoices"]
    port = hosts[1][1].rsplit(":", 1)[1]
    weather = await store.get("", f"urn:air:127.0.0.1:port-{port}:weather")
    assert weather is not None


async def test_a_tampered_card_is_refused(
    hosts: list[tuple[CardHost, str]], store: SQLiteRegistryStore, agent_key: JWK
) -> None:
    host, url = hosts[0]
    data = decode_json(signed(card_for(url, "Callbacks"), agent_key))
    data["description"] = "Now also wires money"
    host.card = encode(data)
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http, trust=TrustStore(keys=[agent_key.public()]))
        with pytest.raises(RegistrationError) as refused:
            await registrar.register_url("", url)
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "SignatureError" in refused.value.message
    assert (await store.search("", SearchQuery())).hits == ()


async def test_a_card_signed_by_another_key_is_refused(
    hosts: list[tuple[CardHost, str]],
    store: SQLiteRegistryStore,
    agent_key: JWK,
    stranger_key: JWK,
) -> None:
    host, url = hosts[0]
    host.card = signed(card_for(url, "Callbacks"), stranger_key)
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http, trust=TrustStore(keys=[agent_key.public()]))
        with pytest.raises(RegistrationError, match="SignatureError"):
            await registrar.register_url("", url)
        other = JWK.generate("ES256", kid="unknown-key")
        host.card = signed(card_for(url, "Callbacks"), other)
        with pytest.raises(RegistrationError, match="UnknownKeyError"):
            await registrar.register_url("", url)
        host.card = encode(card_json(card_for(url, "Callbacks")))
        with pytest.raises(RegistrationError, match="card is not signed"):
            await registrar.register_url("", url)


async def test_keys_from_a_trusted_jwks_url(
    store: SQLiteRegistryStore, agent_key: JWK
) -> None:
    host = CardHost(b"{}", jwks={"keys": [agent_key.public().to_dict()]})
    with serve_in_thread(host) as url:
        host.card = signed(card_for(url, "Weather"), agent_key)
        trust = TrustStore(jwks_urls=[f"{url}/.well-known/jwks.json"])
        async with egress_client(LOOPBACK) as http:
            recorded = await Registrar(store, http, trust=trust).register_url("", url)
    assert recorded.entry.signed_by == "agent-key"


async def test_a_card_changed_in_place_is_drift(
    hosts: list[tuple[CardHost, str]], store: SQLiteRegistryStore
) -> None:
    host, url = hosts[0]
    host.card = encode(
        card_for(url, "Callbacks", ("callback", "Callback", ""), ("quote", "Quote", ""))
    )
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http)
        first = await registrar.register_url("", url)
        assert first.entry.signed_by is None  # no trust store: recorded unverified
        host.card = encode(card_for(url, "Callbacks", ("callback", "Callback", "")))
        second = await registrar.register_url("", url)
    assert second.version is not None
    assert second.version.number == 2
    assert second.entry.drift
    assert second.entry.breaking
    diff = second.version.diff
    assert diff is not None
    assert diff["versionUnchanged"] is True
    assert diff["impact"] == "breaking"
    assert [(c["rule"], c["path"]) for c in diff["changes"]] == [
        ("skill.removed", "skills[quote]")
    ]


async def test_publish_a_signed_card(
    store: SQLiteRegistryStore, agent_key: JWK
) -> None:
    card = make_card("Published", url="https://agents.example/a2a")
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http, trust=TrustStore(keys=[agent_key.public()]))
        recorded = await registrar.publish("acme", signed(card, agent_key))
        with pytest.raises(RegistrationError, match="not a valid agent card") as bad:
            await registrar.publish("acme", b'{"name": 5}')
        assert bad.value.code == "INVALID_ARGUMENT"
        with pytest.raises(RegistrationError, match="not JSON"):
            await registrar.publish("acme", b"<html>")
    assert recorded.entry.identifier == "urn:air:agents.example:a2a:published"
    assert recorded.entry.source_url is None
    assert recorded.entry.tenant == "acme"


async def test_the_ssrf_guard_applies(
    hosts: list[tuple[CardHost, str]], store: SQLiteRegistryStore
) -> None:
    _, url = hosts[0]
    async with egress_client(EgressPolicy(require_https=False)) as http:
        with pytest.raises(RegistrationError, match="refused") as refused:
            await Registrar(store, http).register_url("", url)
    assert refused.value.code == "INVALID_ARGUMENT"


async def test_unreachable_and_wrong_urls(store: SQLiteRegistryStore) -> None:
    host = CardHost(b"{}")
    with serve_in_thread(host) as url:
        pass  # stopped: nothing listens there any more
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(store, http)
        with pytest.raises(RegistrationError, match="is the agent running") as down:
            await registrar.register_url("", url)
        assert down.value.code == "UNAVAILABLE"
        with (
            serve_in_thread(host) as live,
            pytest.raises(RegistrationError, match="HTTP 404"),
        ):
            await registrar.register_url("", f"{live}/nowhere/card.json")
