"""``Client.discover``: search a real registry on loopback, connect to what it found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.client import Client, Discovered, RegistryError, data_of, discover
from accord.client.discovery import RegistryReader, search_request
from accord.errors import CardDriftError, ConnectError
from accord.registry import client as registry_client
from accord.types import AgentCard, Task, TaskState
from tests.helpers.cli import closed_port_url
from tests.helpers.examples import receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill, wire
from ._hosts import CardHost
from ._serving import register, serve_registry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def registry_with_agents(
    tmp_path: Path,
) -> Iterator[tuple[str, str, CardHost, str]]:
    """A registry with the Receptionist (a real A2A agent) and a card-only weather
    agent: (registry URL, Receptionist URL, weather agent's host, its URL)."""
    weather = CardHost(b"{}")
    with (
        serve_registry(tmp_path) as registry,
        serve_in_thread(receptionist_app(tmp_path / "agent.db")) as agent,
        serve_in_thread(weather) as weather_url,
    ):
        weather.card = wire(_weather_card(weather_url)).encode()
        register(registry, agent, weather_url)
        yield registry, agent, weather, weather_url


def _weather_card(url: str, description: str = "") -> AgentCard:
    return make_card(
        "Weather",
        description=description or "Weather forecast for a city",
        skills=(
            skill("forecast", "Forecast", "Weather forecast for a city", "weather"),
        ),
        url=f"{url}/a2a",
    )


async def test_discover_then_connect_pinned_and_call(
    registry_with_agents: tuple[str, str, CardHost, str],
) -> None:
    registry, agent, _, weather_url = registry_with_agents
    found = await Client.discover(registry, "schedule a callback")
    assert [f.name for f in found][:1] == ["Receptionist"]
    best = found[0]
    assert isinstance(best, Discovered)
    assert best.agent_url == agent
    assert best.pin is not None
    assert best.pin.startswith("sha256:")
    assert "schedule_callback" in best.skills

    async with await Client.connect(best.agent_url, pin=best.pin) as client:
        reply = await client.send_message(
            {"skill": "fetch_call_summary", "callId": "call-1003"}
        )
    assert isinstance(reply, Task)
    assert reply.status.state == TaskState.COMPLETED
    assert data_of(reply)[0]["callId"] == "call-1003"

    # A skill filter narrows; the module function is the same search.
    by_skill = await discover(registry, "", skill="forecast")
    assert [(f.name, f.agent_url) for f in by_skill] == [("Weather", weather_url)]
    both = ["schedule_callback", "fetch_call_summary"]  # every value must match
    assert [f.name for f in await Client.discover(registry, skill=both)] == [
        "Receptionist"
    ]
    assert await Client.discover(registry, skill=["forecast", both[0]]) == []
    assert await Client.discover(registry, "forecast", tag="no-such-tag") == []
    assert len(await Client.discover(registry, "", limit=1)) == 1


async def test_a_card_changed_since_registration_is_refused_by_its_pin(
    registry_with_agents: tuple[str, str, CardHost, str],
) -> None:
    registry, _, weather, weather_url = registry_with_agents
    [found] = await Client.discover(registry, "weather", skill="forecast")
    weather.card = wire(
        _weather_card(weather_url, description="Now also tides")
    ).encode()
    with pytest.raises(CardDriftError) as drift:
        await Client.connect(found.agent_url, pin=found.pin)
    assert drift.value.expected == found.pin


async def test_the_registry_client_searches_through_the_client_layer(
    registry_with_agents: tuple[str, str, CardHost, str],
) -> None:
    registry, *_ = registry_with_agents
    assert registry_client.discover is discover
    assert registry_client.Discovered is Discovered
    assert issubclass(registry_client.RegistryClient, RegistryReader)
    async with registry_client.RegistryClient(registry) as reader:
        first, token = await reader.discover("", limit=1)
        assert token is not None
        second, last = await reader.discover("", limit=1, page_token=token)
    assert last is None
    assert {first[0].name, second[0].name} == {"Weather", "Receptionist"}


async def test_refusals_and_an_unreachable_registry(
    registry_with_agents: tuple[str, str, CardHost, str],
) -> None:
    registry, *_ = registry_with_agents
    with pytest.raises(RegistryError) as refused:
        await Client.discover(registry, "x", tenant="nobody-here")
    assert refused.value.status_code in (401, 403, 404)
    with pytest.raises(ConnectError, match="cannot reach the registry"):
        await Client.discover(closed_port_url(), "x")
    with pytest.raises(TypeError, match="unknown search filter 'colour'"):
        await Client.discover(registry, "x", colour="red")  # type: ignore[call-arg]


def test_search_request_shapes() -> None:
    assert search_request("hi") == {"query": {"text": "hi"}, "pageSize": 20}
    assert search_request(
        "", limit=3, page_token="t", skill="a", input_mode=["x", "y"], tag=None
    ) == {
        "query": {"text": "", "filter": {"skill": ["a"], "inputMode": ["x", "y"]}},
        "pageSize": 3,
        "pageToken": "t",
    }


def test_a_result_without_a_pin_reads_as_none() -> None:
    found = Discovered.from_json({"identifier": "urn:x", "url": "https://a.example"})
    assert found.pin is None
    assert found.status == "unknown"
    assert found.agent_url == "https://a.example"


def _answering(body: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize(
    "body", [b"[]", b'{"results": 3}', b'{"results": [{"score": "high"}]}']
)
async def test_an_answer_that_is_not_ard_is_a_registry_error(body: bytes) -> None:
    with (
        serve_in_thread(_answering(body)) as url,
        pytest.raises(RegistryError, match=r"is it an ARD registry|not an ARD"),
    ):
        await Client.discover(url, "x")
