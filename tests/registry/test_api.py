"""The registry's HTTP API: ARD, registration, MCP v0.1 shapes, access and bad input."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.registry.client import RegistryClient, RegistryError, discover
from accord.security import JWK, TrustStore, card_json, sign_card
from accord.types import AgentCard, decode_json, encode
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill
from ._hosts import CardHost
from ._serving import ACME_KEY, PUBLISHER_KEY, serve_registry

pytestmark = pytest.mark.anyio

PUBLISHER = {"X-API-Key": PUBLISHER_KEY}
ACME = {"X-API-Key": ACME_KEY}


def agent_card(url: str, name: str, skill_id: str, text: str, tag: str) -> AgentCard:
    return make_card(
        name,
        description=text,
        skills=(skill(skill_id, skill_id.title(), text, tag),),
        url=f"{url}/a2a",
        provider="Acme" if tag == "phone" else None,
    )


AGENTS = [
    ("Callbacks", "callback", "Schedule a callback from a human", "phone"),
    ("Weather", "forecast", "Weather forecast for a city", "weather"),
    ("Meetings", "meeting", "Schedule a meeting in a calendar", "calendar"),
]


@pytest.fixture
def agents() -> Iterator[list[tuple[CardHost, str]]]:
    with ExitStack() as stack:
        out = []
        for name, skill_id, text, tag in AGENTS:
            host = CardHost(b"{}")
            url = stack.enter_context(serve_in_thread(host))
            host.card = encode(card_json(agent_card(url, name, skill_id, text, tag)))
            out.append((host, url))
        yield out


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    with serve_registry(tmp_path) as url:
        yield url


async def register_all(
    http: httpx.AsyncClient, agents: list[tuple[CardHost, str]], prefix: str = ""
) -> list[str]:
    ids = []
    for _, url in agents:
        answer = await http.post(
            f"{prefix}/api/agents/register",
            json={"wellKnownURI": f"{url}/.well-known/agent-card.json"},
            headers=PUBLISHER if not prefix else ACME,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == "registered"
        assert body["cardVersion"] == 1
        assert body["pin"].startswith("sha256:")
        ids.append(body["identifier"])
    return ids


async def test_register_and_search_in_ard_shapes(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        ids = await register_all(http, agents)
        again = await http.post(
            "/api/agents/register",
            json={"wellKnownURI": agents[0][1]},
            headers=PUBLISHER,
        )
        assert again.status_code == 200
        assert again.json()["status"] == "unchanged"
        # The draft's own example request (federation, pageSize, a text query).
        answer = await http.post(
            "/search",
            json={
                "query": {"text": "schedule a callback"},
                "federation": "referrals",
                "pageSize": 3,
            },
        )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"results"}
    results = body["results"]
    assert [r["displayName"] for r in results] == ["Callbacks", "Meetings"]
    first = results[0]
    assert first["identifier"] == ids[0]
    assert first["identifier"].startswith("urn:air:127.0.0.1:port-")
    assert first["type"] == "application/a2a-agent-card+json"
    assert first["url"] == f"{agents[0][1]}/.well-known/agent-card.json"
    assert first["source"] == f"{registry}/"
    assert 0 <= results[1]["score"] <= first["score"] <= 100
    assert first["capabilities"] == ["callback"]
    assert first["tags"] == ["phone"]
    assert first["metadata"]["drift"] is False
    assert first["metadata"]["status"] == "unknown"


async def test_search_filters_pages_and_type(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        await register_all(http, agents)
        filtered = await http.post(
            "/search",
            json={"query": {"text": "schedule", "filter": {"tag": "calendar"}}},
        )
        assert [r["displayName"] for r in filtered.json()["results"]] == ["Meetings"]
        other_type = await http.post(
            "/search",
            json={
                "query": {
                    "text": "find me a weather lookup tool",
                    "filter": {"type": ["application/mcp-server-card+json"]},
                }
            },
        )
        assert other_type.json() == {"results": []}
        seen: list[str] = []
        token = None
        while True:
            request: dict[str, Any] = {"query": {"text": ""}, "pageSize": 2}
            if token:
                request["pageToken"] = token
            page = (await http.post("/search", json=request)).json()
            seen += [r["identifier"] for r in page["results"]]
            token = page.get("pageToken")
            if token is None:
                break
    assert len(seen) == len(set(seen)) == 3


async def test_explore_facets(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        await register_all(http, agents)
        answer = await http.post(
            "/explore",
            json={
                "query": {"text": "schedule"},
                "resultType": {
                    "facets": [
                        {"field": "type"},
                        {"field": "tag", "limit": 1},
                        {"field": "provider", "minCount": 2},
                    ]
                },
            },
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "resultType": "facets",
        "facets": {
            "type": {
                "buckets": [{"value": "application/a2a-agent-card+json", "count": 2}]
            },
            "tag": {"buckets": [{"value": "calendar", "count": 1}]},
            "provider": {"buckets": []},
        },
    }


async def test_agent_resources_and_removal(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        ids = await register_all(http, agents)
        entry = (await http.get(f"/agents/{ids[1]}")).json()
        assert entry["displayName"] == "Weather"
        assert entry["health"]["status"] == "unknown"
        card = await http.get(f"/agents/{ids[1]}/card")
        assert decode_json(card.content) == decode_json(agents[1][0].card)
        versions = (await http.get(f"/agents/{ids[1]}/versions")).json()
        assert [v["number"] for v in versions["versions"]] == [1]
        refused = await http.delete(f"/agents/{ids[1]}")
        assert refused.status_code == 401
        removed = await http.delete(f"/agents/{ids[1]}", headers=PUBLISHER)
        assert removed.json() == {"identifier": ids[1], "removed": True}
        gone = await http.get(f"/agents/{ids[1]}")
    assert gone.status_code == 404
    assert gone.json()["errorCode"] == "NOT_FOUND"


async def test_drift_through_the_api(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    host, url = agents[0]
    async with httpx.AsyncClient(base_url=registry) as http:
        ids = await register_all(http, agents[:1])
        changed = make_card("Callbacks", url=f"{url}/a2a", binding="HTTP+JSON")
        host.card = encode(card_json(changed))
        answer = await http.post(
            "/api/agents/register", json={"wellKnownURI": url}, headers=PUBLISHER
        )
        entry = (await http.get(f"/agents/{ids[0]}")).json()
    body = answer.json()
    assert body["status"] == "updated"
    assert body["drift"] is True
    assert body["breaking"] is True
    rules = {c["rule"] for c in body["diff"]["changes"]}
    assert {"skill.removed", "interface.removed", "interface.added"} <= rules
    assert entry["metadata"]["drift"] is True
    assert entry["metadata"]["cardVersion"] == 2


async def test_mcp_v01_servers(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        ids = await register_all(http, agents)
        first = (await http.get("/v0.1/servers", params={"limit": 2})).json()
        rest = (
            await http.get(
                "/v0.1/servers", params={"cursor": first["metadata"]["nextCursor"]}
            )
        ).json()
        searched = (
            await http.get("/v0.1/servers", params={"search": "weather"})
        ).json()
        bad = await http.get("/v0.1/servers", params={"limit": "many"})
    assert first["metadata"]["count"] == 2
    assert "nextCursor" not in rest["metadata"]
    names = [s["server"]["name"] for s in first["servers"] + rest["servers"]]
    assert sorted(names) == sorted(ids)
    server = searched["servers"][0]
    assert server["server"]["title"] == "Weather"
    assert server["server"]["remotes"] == [
        {"type": "a2a+jsonrpc", "url": f"{agents[1][1]}/a2a"}
    ]
    official = server["_meta"]["io.modelcontextprotocol.registry/official"]
    assert official["isLatest"] is True
    assert official["status"] == "active"
    assert bad.status_code == 400


async def test_signed_registries_refuse_tampered_cards(
    tmp_path: Path, agents: list[tuple[CardHost, str]]
) -> None:
    key = JWK.generate("ES256", kid="k1")
    host, url = agents[0]
    data = decode_json(encode(card_json(sign_card(agent_card(url, *AGENTS[0]), key))))
    data["skills"][0]["description"] = "tampered"
    host.card = encode(data)
    with serve_registry(tmp_path, trust=TrustStore(keys=[key.public()])) as registry:
        async with httpx.AsyncClient(base_url=registry) as http:
            answer = await http.post(
                "/api/agents/register", json={"wellKnownURI": url}, headers=PUBLISHER
            )
            card = sign_card(make_card("Pub", url="https://x.example/a2a"), key)
            published = await http.post(
                "/agents", content=encode(card_json(card)), headers=PUBLISHER
            )
    assert answer.status_code == 422
    assert answer.json()["errorCode"] == "FAILED_PRECONDITION"
    assert "SignatureError" in answer.json()["message"]
    assert published.status_code == 201
    assert published.json()["identifier"] == "urn:air:x.example:a2a:pub"


async def test_private_tenants(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        await register_all(http, agents[:1], prefix="/tenants/acme")
        query = {"query": {"text": "callback"}}
        public = await http.post("/search", json=query)
        anonymous = await http.post("/tenants/acme/search", json=query)
        other = await http.post("/tenants/acme/search", json=query, headers=PUBLISHER)
        own = await http.post("/tenants/acme/search", json=query, headers=ACME)
        wrong = await http.post(
            "/api/agents/register", json={"wellKnownURI": agents[0][1]}, headers=ACME
        )
    assert public.json() == {"results": []}
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("ApiKey")
    assert anonymous.json()["errorCode"] == "UNAUTHENTICATED"
    assert other.status_code == 403
    assert [r["displayName"] for r in own.json()["results"]] == ["Callbacks"]
    assert own.json()["results"][0]["source"] == f"{registry}/tenants/acme/"
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "says"),
    [
        ("POST", "/search", b"{not json", 400, "INVALID_ARGUMENT", "not JSON"),
        ("POST", "/search", b"[]", 400, "INVALID_ARGUMENT", "JSON object"),
        ("POST", "/search", b"{}", 400, "INVALID_ARGUMENT", "needs a query"),
        ("POST", "/search", b'{"query": {}}', 400, "INVALID_ARGUMENT", "query.text"),
        (
            "POST",
            "/search",
            b'{"query": {"text": "a"}, "x": 1}',
            400,
            "INVALID_ARGUMENT",
            "unknown member",
        ),
        (
            "POST",
            "/search",
            b'{"query": {"text": "a", "filter": {"colour": "red"}}}',
            400,
            "INVALID_ARGUMENT",
            "unknown field 'colour'",
        ),
        (
            "POST",
            "/search",
            b'{"query": {"text": "a"}, "pageToken": "zz"}',
            400,
            "INVALID_ARGUMENT",
            "pageToken",
        ),
        (
            "POST",
            "/search",
            b'{"query": {"text": "a"}, "pageSize": "3"}',
            400,
            "INVALID_ARGUMENT",
            "pageSize",
        ),
        (
            "POST",
            "/explore",
            b'{"resultType": {"facets": [{"field": "name"}]}}',
            400,
            "INVALID_ARGUMENT",
            "cannot facet on 'name'",
        ),
        ("POST", "/explore", b'{"resultType": {}}', 400, "INVALID_ARGUMENT", "facets"),
        (
            "POST",
            "/search",
            b'{"query": {"text": "' + b"a" * 2_000_000 + b'"}}',
            413,
            "RESOURCE_EXHAUSTED",
            "exceeds",
        ),
        ("GET", "/search", b"", 405, "METHOD_NOT_ALLOWED", "use POST"),
        ("GET", "/nowhere", b"", 404, "NOT_FOUND", "no such resource"),
        ("POST", "/api/agents/register", b"{}", 401, "UNAUTHENTICATED", "credentials"),
        (
            "GET",
            "/tenants/acme/v0.1/servers",
            b"",
            401,
            "UNAUTHENTICATED",
            "credentials",
        ),
    ],
)
async def test_bad_input_gets_ard_errors(
    registry: str,
    method: str,
    path: str,
    body: bytes,
    status: int,
    code: str,
    says: str,
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        answer = await http.request(method, path, content=body)
    assert answer.status_code == status
    assert answer.json()["errorCode"] == code
    assert says in answer.json()["message"]


async def test_registration_errors_are_ard_errors(registry: str) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        missing = await http.post(
            "/api/agents/register", json={"url": "x"}, headers=PUBLISHER
        )
        refused = await http.post(
            "/api/agents/register",
            json={"wellKnownURI": "http://10.0.0.1/.well-known/agent-card.json"},
            headers=PUBLISHER,
        )
    assert missing.status_code == 400
    assert "wellKnownURI" in missing.json()["message"]
    assert refused.status_code == 400
    assert "refused" in refused.json()["message"]


async def test_discover_from_python(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        await register_all(http, agents)
    found = await discover(registry, "weather forecast", skill="forecast")
    assert [f.name for f in found] == ["Weather"]
    assert found[0].agent_url == agents[1][1]
    assert (found[0].pin or "").startswith("sha256:")
    assert found[0].skills == ("forecast",)
    async with RegistryClient(registry, tenant="acme") as client:
        with pytest.raises(RegistryError) as refused:
            await client.discover("weather")
    assert refused.value.code == "UNAUTHENTICATED"
    assert refused.value.status_code == 401


async def test_an_open_registry_takes_anyone_and_has_no_tenants(
    tmp_path: Path, agents: list[tuple[CardHost, str]]
) -> None:
    with serve_registry(tmp_path, auth=None) as registry:
        async with httpx.AsyncClient(base_url=registry) as http:
            registered = await http.post(
                "/api/agents/register", json={"wellKnownURI": agents[0][1]}
            )
            private = await http.post(
                "/tenants/acme/search", json={"query": {"text": ""}}
            )
    assert registered.status_code == 201
    assert private.status_code == 404
    assert "no private tenants" in private.json()["message"]


#: The ARD catalog entry's identifier pattern (ai-catalog.schema.json).
URN = re.compile(r"^urn:air:[a-zA-Z0-9.-]+(:[a-zA-Z0-9._-]+)+$")
ENTRY_MEMBERS = {
    "identifier",
    "displayName",
    "type",
    "url",
    "data",
    "description",
    "tags",
    "capabilities",
    "representativeQueries",
    "version",
    "updatedAt",
    "metadata",
    "trustManifest",
}


def check_catalog_entry(entry: dict[str, Any]) -> None:
    """The constraints of ARD's catalogEntry (required members, url xor data, types)."""
    assert {"identifier", "displayName", "type"} <= set(entry)
    assert set(entry) <= ENTRY_MEMBERS, set(entry) - ENTRY_MEMBERS
    assert URN.match(entry["identifier"]), entry["identifier"]
    assert ("url" in entry) != ("data" in entry)
    assert all(isinstance(t, str) for t in entry["tags"])
    assert all(isinstance(c, str) for c in entry["capabilities"])
    assert datetime.fromisoformat(entry["updatedAt"].replace("Z", "+00:00"))
    for value in entry["metadata"].values():
        assert value is None or isinstance(value, str | int | float | bool)


async def test_answers_fit_the_ard_schemas(
    registry: str, agents: list[tuple[CardHost, str]]
) -> None:
    async with httpx.AsyncClient(base_url=registry) as http:
        ids = await register_all(http, agents)
        search = (
            await http.post(
                "/search", json={"query": {"text": "schedule"}, "pageSize": 1}
            )
        ).json()
        entry = (await http.get(f"/agents/{ids[0]}")).json()
        explore = (
            await http.post(
                "/explore", json={"resultType": {"facets": [{"field": "binding"}]}}
            )
        ).json()
        error = (await http.post("/search", json={})).json()
    # SearchResponse: results (required), pageToken; nothing else.
    assert set(search) <= {"results", "referrals", "pageToken"}
    assert isinstance(search["pageToken"], str)
    for result in search["results"]:
        score, source = result.pop("score"), result.pop("source")
        assert isinstance(score, int)
        assert 0 <= score <= 100
        assert source.startswith("http")
        check_catalog_entry(result)
    entry.pop("health")  # the registry's own addition to GET /agents/{id}
    check_catalog_entry(entry)
    # ExploreResponse: resultType "facets" and facets, buckets of value and count.
    assert set(explore) == {"resultType", "facets"}
    assert explore["resultType"] == "facets"
    for facet in explore["facets"].values():
        assert set(facet) <= {"buckets", "otherCount"}
        for bucket in facet["buckets"]:
            assert set(bucket) == {"value", "count"}
            assert isinstance(bucket["value"], str)
            assert isinstance(bucket["count"], int)
    # Error: errorCode and message, nothing else.
    assert set(error) == {"errorCode", "message"}
    assert error["errorCode"].isupper()


async def test_a_store_failure_is_unavailable_without_details(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_registry(tmp_path) as registry:
        with sqlite3.connect(tmp_path / "registry.db") as conn:
            conn.execute("DROP TABLE registry_terms")  # the store breaks under it
        async with httpx.AsyncClient(base_url=registry) as http:
            answer = await http.post(
                "/search", json={"query": {"text": "x", "filter": {"tag": "y"}}}
            )
    assert answer.status_code == 503
    assert answer.json() == {
        "errorCode": "UNAVAILABLE",
        "message": "the registry's store is unavailable; retry later",
    }
    assert "registry_terms" not in answer.text
    assert "registry store failure" in caplog.text
