"""The registry is an A2A agent: discover over A2A with its ``search`` skill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.client import Client
from accord.security import card_json
from accord.types import Message, data_of, encode, text_of
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill
from ._hosts import CardHost
from ._serving import PUBLISHER_KEY, serve_registry

pytestmark = pytest.mark.anyio


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A registry with one agent registered; (registry URL, agent URL)."""
    host = CardHost(b"{}")
    with serve_in_thread(host) as agent, serve_registry(tmp_path) as url:
        card = make_card(
            "Callbacks",
            skills=(skill("callback", "Schedule a callback", "", "phone"),),
            url=f"{agent}/a2a",
        )
        host.card = encode(card_json(card))
        answer = httpx.post(
            f"{url}/api/agents/register",
            json={"wellKnownURI": agent},
            headers={"X-API-Key": PUBLISHER_KEY},
        )
        assert answer.status_code == 201
        yield url, agent


async def test_the_registry_card_declares_the_search_skill(
    registry: tuple[str, str],
) -> None:
    url, _ = registry
    async with await Client.connect(url) as client:
        card = client.card
    assert card is not None
    assert [s.id for s in card.skills] == ["search"]
    assert card.supported_interfaces[0].url.startswith(f"{url}/a2a")


async def test_search_over_a2a_with_text_and_with_an_ard_query(
    registry: tuple[str, str],
) -> None:
    url, agent = registry
    async with await Client.connect(url) as client:
        by_text = await client.send_message("who can schedule a callback?")
        by_query = await client.send_message(
            {"text": "", "filter": {"tag": ["phone"]}, "pageSize": 5}
        )
        nothing = await client.send_message({"text": "x", "filter": {"tag": ["none"]}})
        bad = await client.send_message({"text": "x", "filter": {"colour": "red"}})
    assert isinstance(by_text, Message)
    assert text_of(by_text).startswith("Callbacks (")
    [answer] = data_of(by_text)
    assert [r["displayName"] for r in answer["results"]] == ["Callbacks"]
    assert answer["results"][0]["url"] == f"{agent}/.well-known/agent-card.json"
    assert isinstance(by_query, Message)
    assert [r["capabilities"] for r in data_of(by_query)[0]["results"]] == [
        ["callback"]
    ]
    assert isinstance(nothing, Message)
    assert text_of(nothing) == "No agent matches."
    assert isinstance(bad, Message)
    assert "unknown field 'colour'" in text_of(bad)
