"""Static credentials land where the card says, on every request of every transport.

The agent is the binding-exact fake of ``tests/client/helpers.py`` behind
``httpx.MockTransport``: it answers every operation and records every request.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from accord.client import ApiKey, BasicAuth, BearerToken, Client, ClientConfig
from accord.client.credentials import Credentials
from accord.errors import HTTPStatusError, UnauthenticatedError
from accord.types import (
    AgentCard,
    ListTasksResponse,
    SecurityRequirement,
    SecurityScheme,
    TaskState,
    replace,
)

from ..helpers import (
    BASE,
    HTTPX_TRIO_WARNINGS,
    FakeAgent,
    interface,
    make_card,
    status_event,
    task,
)
from .lab import (
    API_KEY,
    PASSWORD,
    STATIC_TOKEN,
    USER,
    api_key,
    http_auth,
    oauth2,
    requirement,
)

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

BINDINGS = ["JSONRPC", "HTTP+JSON"]


def secured(
    schemes: dict[str, SecurityScheme], *requirements: SecurityRequirement
) -> AgentCard:
    card = make_card(interface("JSONRPC"), interface("HTTP+JSON"))
    return replace(card, security_schemes=schemes, security_requirements=requirements)


def fake(card: AgentCard) -> FakeAgent:
    agent = FakeAgent(card=card)
    agent.on("GetTask", task())
    agent.on("ListTasks", ListTasksResponse(tasks=(task(),)))
    agent.on("SendStreamingMessage", [status_event(TaskState.COMPLETED)])
    agent.on("SubscribeToTask", [status_event(TaskState.COMPLETED)])
    agent.on("GetExtendedAgentCard", replace(card, name="Extended"))
    return agent


@asynccontextmanager
async def connected(
    agent: FakeAgent, credentials: Credentials | None, binding: str = "JSONRPC"
) -> AsyncIterator[Client]:
    config = ClientConfig(preferred_bindings=(binding,))
    async with (
        agent.client() as http,
        await Client.connect(
            BASE, http=http, config=config, credentials=credentials
        ) as client,
    ):
        yield client


async def exercise(client: Client) -> None:
    """One request of each shape: unary, stream, resubscribe, extended card."""
    await client.get_task("t-1")
    await client.list_tasks()
    async with client.send_streaming_message("hi") as stream:
        assert [e async for e in stream]
    async with client.subscribe("t-1") as stream:
        assert [e async for e in stream]
    assert (await client.get_extended_agent_card()).name == "Extended"


def agent_requests(agent: FakeAgent) -> list[httpx.Request]:
    return [r for r in agent.requests if "/.well-known/" not in r.url.path]


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize(
    ("location", "name"),
    [("header", "X-API-Key"), ("query", "api_key"), ("cookie", "session")],
)
async def test_api_key_lands_where_the_card_says(
    binding: str, location: str, name: str
) -> None:
    agent = fake(secured({"key": api_key(location, name)}, requirement(key=())))

    async with connected(agent, [ApiKey(API_KEY)], binding) as client:
        await exercise(client)

    sent = agent_requests(agent)
    assert len(sent) == 5
    for request in sent:
        if location == "header":
            assert request.headers[name] == API_KEY
        elif location == "query":
            assert request.url.params[name] == API_KEY
        else:
            assert request.headers["cookie"] == f"session={API_KEY}"
        others = {"header", "query", "cookie"} - {location}
        if "header" in others:
            assert name not in request.headers
        if "query" in others:
            assert name not in request.url.params
    # The public card is fetched without credentials.
    card_request = agent.requests[0]
    assert card_request.url.path.endswith("agent-card.json")
    assert API_KEY not in str(card_request.url) + str(card_request.headers)


async def test_cookie_keeps_other_cookies() -> None:
    agent = fake(secured({"key": api_key("cookie", "session")}, requirement(key=())))
    async with (
        agent.client() as http,
        await Client.connect(
            BASE,
            http=http,
            headers={"Cookie": "theme=dark; session=old"},
            credentials=[ApiKey(API_KEY)],
        ) as client,
    ):
        await client.get_task("t-1")

    assert agent.last.request.headers["cookie"] == f"theme=dark; session={API_KEY}"


async def test_query_key_keeps_the_rest_query() -> None:
    agent = fake(secured({"key": api_key("query", "key")}, requirement(key=())))

    async with connected(agent, [ApiKey(API_KEY)], "HTTP+JSON") as client:
        await client.get_task("t-1", history_length=3)

    params = agent.last.request.url.params
    assert params["key"] == API_KEY
    assert params["historyLength"] == "3"


@pytest.mark.parametrize("binding", BINDINGS)
async def test_bearer_token(binding: str) -> None:
    agent = fake(secured({"bearer": http_auth("Bearer")}, requirement(bearer=())))

    async with connected(agent, [BearerToken(STATIC_TOKEN)], binding) as client:
        await exercise(client)

    for request in agent_requests(agent):
        assert request.headers["authorization"] == f"Bearer {STATIC_TOKEN}"


@pytest.mark.parametrize("binding", BINDINGS)
async def test_basic_auth(binding: str) -> None:
    agent = fake(secured({"basic": http_auth("Basic")}, requirement(basic=())))

    async with connected(agent, [BasicAuth(USER, PASSWORD)], binding) as client:
        await exercise(client)

    expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for request in agent_requests(agent):
        assert request.headers["authorization"] == f"Basic {expected}"


async def test_and_requirement_sends_every_credential() -> None:
    card = secured(
        {"key": api_key(), "bearer": http_auth("Bearer")},
        requirement(key=(), bearer=()),
    )
    agent = fake(card)

    async with connected(agent, [BearerToken(STATIC_TOKEN), ApiKey(API_KEY)]) as c:
        await c.get_task("t-1")

    headers = agent.last.request.headers
    assert headers["x-api-key"] == API_KEY
    assert headers["authorization"] == f"Bearer {STATIC_TOKEN}"


async def test_only_the_chosen_alternative_is_sent() -> None:
    card = secured(
        {"key": api_key(), "bearer": http_auth("Bearer")},
        requirement(key=()),
        requirement(bearer=()),
    )
    agent = fake(card)

    async with connected(agent, [BearerToken(STATIC_TOKEN), ApiKey(API_KEY)]) as c:
        await c.get_task("t-1")

    headers = agent.last.request.headers
    assert headers["x-api-key"] == API_KEY
    assert "authorization" not in headers


async def test_unsatisfiable_raises_before_sending_anything() -> None:
    card = secured(
        {"oauth": oauth2("https://auth.example/token"), "key": api_key()},
        requirement(oauth=("read",)),
        requirement(key=()),
    )
    agent = fake(card)

    with pytest.raises(UnauthenticatedError) as caught:
        async with connected(agent, [BasicAuth(USER, PASSWORD)]):
            pass  # pragma: no cover - connect raises

    assert [r.url.path for r in agent.requests] == ["/.well-known/agent-card.json"]
    message = str(caught.value)
    assert "OAuth 2.0 token (client-credentials flow) [oauth, scopes: read]" in message
    assert "an API key (header X-API-Key) [key]" in message
    assert PASSWORD not in message
    assert USER not in message


async def test_no_credentials_means_no_check() -> None:
    # Without ``credentials`` the caller manages authentication (e.g. headers=).
    agent = fake(secured({"key": api_key()}, requirement(key=())))

    async with connected(agent, None) as client:
        await client.get_task("t-1")

    assert "x-api-key" not in agent.last.request.headers


async def test_card_without_requirements_gets_standalone_credentials() -> None:
    agent = fake(secured({}))

    async with connected(agent, [ApiKey(API_KEY), BearerToken(STATIC_TOKEN)]) as c:
        await c.get_task("t-1")

    headers = agent.last.request.headers
    assert headers["authorization"] == f"Bearer {STATIC_TOKEN}"
    assert API_KEY not in str(agent.last.request.url) + str(headers)


async def test_credentials_override_a_header_of_the_same_name() -> None:
    agent = fake(secured({"bearer": http_auth("Bearer")}, requirement(bearer=())))
    async with (
        agent.client() as http,
        await Client.connect(
            BASE,
            http=http,
            headers={"Authorization": "Bearer stale"},
            credentials=[BearerToken(STATIC_TOKEN)],
        ) as client,
    ):
        await client.get_task("t-1")

    assert agent.last.request.headers["authorization"] == f"Bearer {STATIC_TOKEN}"


async def test_static_credentials_are_not_retried_on_401() -> None:
    calls: list[httpx.Request] = []

    def wall(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, text="no")

    card = secured({"bearer": http_auth("Bearer")}, requirement(bearer=()))
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(wall)) as http,
        Client(card, http=http, credentials=[BearerToken(STATIC_TOKEN)]) as client,
    ):
        with pytest.raises(HTTPStatusError, match="401") as caught:
            await client.get_task("t-1")

    assert len(calls) == 1
    assert STATIC_TOKEN not in str(caught.value)


async def test_from_interface_sends_standalone_credentials() -> None:
    agent = fake(secured({}))
    async with (
        agent.client() as http,
        Client.from_interface(
            interface("HTTP+JSON"), http=http, credentials=[BearerToken(STATIC_TOKEN)]
        ) as client,
    ):
        await client.get_task("t-1")

    assert agent.last.request.headers["authorization"] == f"Bearer {STATIC_TOKEN}"
    with pytest.raises(ValueError, match="ApiKey"):
        Client.from_interface(interface("JSONRPC"), credentials=[ApiKey(API_KEY)])


async def test_extended_card_with_a_scheme_declared_but_not_required() -> None:
    # Public operations are anonymous; the extended card authenticates with a scheme
    # the public card declares (spec §3.1.11).
    agent = fake(secured({"key": api_key()}))

    async with connected(agent, [ApiKey(API_KEY)], "HTTP+JSON") as client:
        extended = await client.get_extended_agent_card()

    assert extended.name == "Extended"
    assert client.card == extended
    assert agent.last.operation == "GetExtendedAgentCard"
    assert agent.last.request.headers["x-api-key"] == API_KEY
