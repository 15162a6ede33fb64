"""Signed cards end to end: A2AApp(card_signer=...) serves them and its JWKS;
CardResolver / Client.connect(trust=...) refuse cards that do not verify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from accord.client import CardResolver, Client
from accord.client.card import fetch_jwks
from accord.errors import CardError, SignatureError, UnknownKeyError
from accord.security import JWK, TrustStore, verify_card
from accord.security.jose import decode_header
from accord.server import A2AApp, Agent, TaskContext

pytestmark = pytest.mark.anyio

BASE = "https://agent.test"
JWKS_URL = f"{BASE}/.well-known/jwks.json"


async def _echo(ctx: TaskContext) -> None:
    await ctx.complete(ctx.text)


def make_app(signer: JWK | None) -> A2AApp:
    agent = Agent(_echo, name="Signed", description="", version="1")
    return A2AApp(agent, card_signer=signer)


@asynccontextmanager
async def http_for(app: A2AApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with app.running(), httpx.AsyncClient(transport=transport) as http:
        yield http


async def test_served_card_is_signed_and_verifies_with_the_served_jwks(
    es256: JWK,
) -> None:
    async with http_for(make_app(es256)) as http:
        card = (await http.get(f"{BASE}/.well-known/agent-card.json")).json()
        again = await http.get(f"{BASE}/.well-known/agent-card.json")
        jwks_response = await http.get(JWKS_URL)
        other_host = (
            await http.get("https://other.test/.well-known/agent-card.json")
        ).json()
    assert card["description"] == ""  # REQUIRED fields are served, as signed
    assert len(card["signatures"]) == 1
    assert again.json() == card  # signed once per base URL, then cached
    assert jwks_response.headers["cache-control"].startswith("public, max-age=")
    jwks = jwks_response.json()
    assert [k["kid"] for k in jwks["keys"]] == [es256.kid]
    assert "d" not in jwks["keys"][0]
    trust = TrustStore(jwks_urls=[JWKS_URL]).with_jwks(JWKS_URL, jwks)
    assert verify_card(card, trust).form == "json"
    assert other_host["supportedInterfaces"][0]["url"].startswith("https://other.test")
    assert verify_card(other_host, trust).kid == es256.kid


async def test_no_signer_no_signature_no_jwks() -> None:
    async with http_for(make_app(None)) as http:
        card = (await http.get(f"{BASE}/.well-known/agent-card.json")).json()
        jwks = await http.get(JWKS_URL)
    assert "signatures" not in card
    assert jwks.status_code == 404


def test_card_signer_must_be_private(es256: JWK) -> None:
    with pytest.raises(ValueError, match="private"):
        make_app(es256.public())
    app = make_app(None)
    app.card_signer = es256
    assert app.card_signer is es256


async def test_resolver_with_trust_returns_verified_cards(es256: JWK) -> None:
    async with http_for(make_app(es256)) as http:
        pinned = CardResolver(http, trust=TrustStore(keys=[es256]))
        assert (await pinned.get(BASE)).name == "Signed"
        fetched = CardResolver(http, trust=TrustStore(jwks_urls=[JWKS_URL]))
        card = await fetched.get(BASE)
    assert card.signatures[0].protected


async def test_resolver_refuses_untrusted_and_unsigned_cards(
    keys: dict[str, JWK],
) -> None:
    trust = TrustStore(keys=[keys["EdDSA"]])
    async with http_for(make_app(keys["ES256"])) as http:
        with pytest.raises(UnknownKeyError) as info:
            await CardResolver(http, trust=trust).get(BASE)
    assert any("agent card: " in note for note in info.value.__notes__)
    async with http_for(make_app(None)) as http:
        with pytest.raises(SignatureError, match="card is not signed"):
            await CardResolver(http, trust=trust).get(BASE)


async def test_resolver_refetches_the_jwks_after_a_key_rotation(
    keys: dict[str, JWK],
) -> None:
    app = make_app(keys["ES256"])
    async with http_for(app) as http:
        resolver = CardResolver(http, trust=TrustStore(jwks_urls=[JWKS_URL]))
        await resolver.get(BASE)
        app.card_signer = keys["EdDSA"]  # the agent rotates its key
        card = await resolver.get(BASE, refresh=True)
    assert decode_header(card.signatures[0].protected)["kid"] == keys["EdDSA"].kid


async def test_a_jwks_that_cannot_be_loaded_is_named(es256: JWK) -> None:
    missing = f"{BASE}/nowhere/jwks.json"
    async with http_for(make_app(es256)) as http:
        resolver = CardResolver(http, trust=TrustStore(jwks_urls=[missing]))
        with pytest.raises(UnknownKeyError, match="JWKS not loaded: " + missing):
            await resolver.get(BASE)


async def test_fetch_jwks(es256: JWK) -> None:
    async with http_for(make_app(es256)) as http:
        assert [k.kid for k in await fetch_jwks(http, JWKS_URL)] == [es256.kid]
        with pytest.raises(CardError, match="HTTP 404"):
            await fetch_jwks(http, f"{BASE}/nope.json")
        with pytest.raises(CardError, match="not a JWK Set"):
            await fetch_jwks(http, f"{BASE}/.well-known/agent-card.json")
        with pytest.raises(ValueError, match="plain HTTP"):
            await fetch_jwks(http, "http://agent.test/.well-known/jwks.json")
        # Plain HTTP is fine to this machine: the request is made (and 404s here).
        with pytest.raises(CardError, match="HTTP 404"):
            await fetch_jwks(http, "http://127.0.0.1/nope")


def test_resolver_refuses_insecure_jwks_urls() -> None:
    http = httpx.AsyncClient()
    for url in ("http://agent.example/jwks.json", "ftp://x/jwks.json"):
        with pytest.raises(ValueError, match="HTTPS"):
            CardResolver(http, trust=TrustStore(jwks_urls=[url]))
    for url in (
        "http://127.0.0.1:8000/jwks.json",
        "http://localhost/j",
        "http://[::1]/j",
    ):
        CardResolver(http, trust=TrustStore(jwks_urls=[url]))


async def test_client_connect_checks_the_signature_first(
    keys: dict[str, JWK],
) -> None:
    app = make_app(keys["ES256"])
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    transport = httpx.ASGITransport(app=app)
    async with (
        app.running(),
        httpx.AsyncClient(
            transport=transport, event_hooks={"request": [record]}
        ) as http,
    ):
        with pytest.raises(UnknownKeyError):
            await Client.connect(
                BASE, http=http, trust=TrustStore(keys=[keys["EdDSA"]])
            )
        assert seen == ["/.well-known/agent-card.json"]  # nothing else was sent
        async with await Client.connect(
            BASE, http=http, trust=TrustStore(jwks_urls=[JWKS_URL])
        ) as client:
            assert client.card is not None
            assert client.card.name == "Signed"
        with pytest.raises(ValueError, match="CardResolver"):
            await Client.connect(
                BASE,
                http=http,
                trust=TrustStore(keys=[keys["ES256"]]),
                resolver=CardResolver(http),
            )
