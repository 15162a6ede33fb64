"""Edges of the registry's pure parts and of its client: cursors, identifiers, shapes."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.egress import egress_client
from accord.errors import TimeoutError
from accord.registry import (
    SearchPage,
    SearchQuery,
    agent_identifier,
    open_registry_store,
)
from accord.registry.entries import decode_cursor, encode_cursor
from accord.registry.postgres import PostgresRegistryStore
from accord.registry.registration import Registrar, RegistrationError
from accord.registry.shapes import (
    BadRequest,
    mcp_server_list,
    parse_explore,
    parse_search,
)
from accord.registry.sqlite import SQLiteRegistryStore
from accord.security import JWK, TrustStore, card_json, sign_card
from accord.types import AgentCapabilities, AgentCard, encode, replace
from tests.helpers.cli import closed_port_url

from ._cards import make_card
from ._hosts import LOOPBACK

pytestmark = pytest.mark.anyio


def _raw_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor(-1.25, "urn:air:x:a2a:y")) == (
        -1.25,
        "urn:air:x:a2a:y",
    )
    for bad in ([True, "x"], [1.0, 2], ["1", "x"], {"a": 1}, [1.0]):
        with pytest.raises(ValueError, match="not a cursor"):
            decode_cursor(_raw_cursor(bad))


def test_identifiers() -> None:
    card = make_card("Ünïcode  Agent!", url="https://agents.example/a2a")
    assert agent_identifier(card) == "urn:air:agents.example:a2a:n-code-agent"
    bare = AgentCard(name="", capabilities=AgentCapabilities())
    assert agent_identifier(bare) == "urn:air:local:a2a:agent"
    assert (
        agent_identifier(card, "http://h.example:99999/")
        == "urn:air:h.example:a2a:n-code-agent"
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"query": {"text": "a"}, "federation": "everywhere"}, "federation"),
        ({"query": {"text": "a"}, "pageToken": 5}, "pageToken must be a string"),
        ({"query": {"text": "a", "filter": {"tag": [1]}}}, "string or strings"),
        ({"query": {"text": 5}}, "query.text"),
        ({"query": {"text": "a", "filter": []}}, "query.filter must be"),
    ],
)
def test_search_requests_refused(body: object, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        parse_search(body)


def test_explore_requests() -> None:
    with pytest.raises(BadRequest, match="non-negative integer"):
        parse_explore({"resultType": {"facets": [{"field": "tag", "limit": -1}]}})
    with pytest.raises(BadRequest, match="unknown member"):
        parse_explore({"resultType": {"facets": [{"field": "tag", "x": 1}]}})
    query, facets = parse_explore(
        {
            "query": {"filter": {"type": "other/type"}},
            "resultType": {"facets": [{"field": "type"}]},
        }
    )
    assert query is None
    assert facets[0].field == "type"


def test_mcp_shape_carries_the_documentation_url() -> None:
    from accord.registry import Entry, Hit

    card = replace(make_card("Docs"), documentation_url="https://docs.example")
    entry = Entry(
        tenant="",
        identifier="urn:air:x:a2a:docs",
        card=card,
        card_json="{}",
        pin="sha256:" + "0" * 64,
        version=1,
        source_url=None,
        signed_by=None,
        drift=False,
        breaking=False,
        registered_at=0.0,
        updated_at=0.0,
    )
    listed = mcp_server_list(SearchPage((Hit(entry, 0),), None))
    assert listed["servers"][0]["server"]["websiteUrl"] == "https://docs.example"
    assert listed["metadata"] == {"count": 1}


def test_open_registry_store_picks_by_url(tmp_path: Path) -> None:
    assert isinstance(
        open_registry_store("postgresql://postgres@127.0.0.1:1/none"),
        PostgresRegistryStore,
    )
    assert isinstance(open_registry_store(str(tmp_path / "r.db")), SQLiteRegistryStore)
    assert SearchQuery(text="x").terms == []


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_registry_that_never_answers_times_out(silent_server: str) -> None:
    from accord.registry import RegistryClient

    async with RegistryClient(silent_server, timeout=0.2) as client:
        with pytest.raises(TimeoutError, match="no answer from the registry"):
            await client.discover("x")


async def test_an_unreachable_jwks_leaves_the_key_unknown(tmp_path: Path) -> None:
    key = JWK.generate("ES256", kid="k")
    trust = TrustStore(jwks_urls=[f"{closed_port_url()}/.well-known/jwks.json"])
    card = sign_card(make_card("Signed"), key)
    async with (
        SQLiteRegistryStore(tmp_path / "r.db") as store,
        egress_client(LOOPBACK) as http,
    ):
        registrar = Registrar(store, http, trust=trust)
        with pytest.raises(RegistrationError) as refused:
            await registrar.publish("", encode(card_json(card)))
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "JWKS not loaded" in refused.value.message
