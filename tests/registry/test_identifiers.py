"""Registry identifiers: distinct agent URLs never share one, and an agent recorded
under an identifier without its path keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accord.egress import egress_client
from accord.registry import RegistryStore, SearchQuery, agent_identifier
from accord.registry.entries import agent_path, host_identifier
from accord.registry.registration import Registrar
from tests.helpers.uvicorn_thread import serve_in_thread

from ._cards import make_card, skill, wire
from ._hosts import LOOPBACK

pytestmark = pytest.mark.anyio

WELL_KNOWN = "/.well-known/agent-card.json"


class PathCards:
    """ASGI app serving a card per path prefix: ``cards["/a"]`` at
    ``/a/.well-known/agent-card.json``."""

    def __init__(self) -> None:
        self.cards: dict[str, bytes] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        prefix = scope["path"].removesuffix(WELL_KNOWN)
        body = self.cards.get(prefix) if scope["path"].endswith(WELL_KNOWN) else None
        await send(
            {
                "type": "http.response.start",
                "status": 200 if body is not None else 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body or b"{}"})


@pytest.fixture
def two_desks() -> Iterator[tuple[PathCards, str]]:
    """One host and port serving two agents named "Desk", at /a and /b."""
    app = PathCards()
    with serve_in_thread(app) as url:
        for path in ("/a", "/b"):
            card = make_card(
                "Desk",
                description=f"the desk at {path}",
                skills=(skill("book", "Book", "Book a room"),),
                url=f"{url}{path}/a2a",
            )
            app.cards[path] = wire(card).encode()
        yield app, url


def test_identifiers_tell_paths_apart() -> None:
    card = make_card("Desk", url="https://h.example/a2a")
    root = agent_identifier(card, f"https://h.example{WELL_KNOWN}")
    assert root == "urn:air:h.example:a2a:desk"  # as before paths counted
    assert root == host_identifier(card, f"https://h.example{WELL_KNOWN}")
    ids = {
        agent_identifier(card, f"https://h.example{path}{WELL_KNOWN}")
        for path in ("/a", "/b", "/a-b", "/a/b", "/A/b", "/a?x=1", "/a?x=2", "")
    }
    assert len(ids) == 8
    billing = agent_identifier(
        card, f"https://h.example:8443/agents/billing{WELL_KNOWN}"
    )
    assert billing.startswith("urn:air:h.example:port-8443.agents-billing-")
    assert billing.endswith(":desk")
    assert len(billing.split(":")) == 5
    # A trailing slash, or the card URL instead of the agent's, is the same agent.
    assert agent_path("https://h.example/a/") == "/a"
    assert agent_path(f"https://h.example/a{WELL_KNOWN}") == "/a"
    # A published card is its interface's host and port and its name: an interface
    # that moved is a new version of the same agent.
    moved = make_card("Desk", url="https://h.example/v2/a2a")
    assert agent_identifier(card) == agent_identifier(moved)
    assert agent_identifier(card) == "urn:air:h.example:a2a:desk"


async def test_two_agents_on_one_host_and_port_get_two_entries(
    registry_store: RegistryStore, two_desks: tuple[PathCards, str]
) -> None:
    _, url = two_desks
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(registry_store, http)
        a = await registrar.register_url("", f"{url}/a")
        b = await registrar.register_url("", f"{url}/b")
        again = await registrar.register_url("", f"{url}/a")
    assert a.created
    assert b.created
    assert a.entry.identifier != b.entry.identifier
    assert again.entry.identifier == a.entry.identifier
    assert not again.created
    page = await registry_store.search("", SearchQuery(text="desk"))
    assert {h.entry.source_url for h in page.hits} == {
        f"{url}/a{WELL_KNOWN}",
        f"{url}/b{WELL_KNOWN}",
    }
    assert all(h.entry.version == 1 for h in page.hits)  # neither overwrote the other


async def test_an_agent_recorded_without_its_path_keeps_its_identifier(
    registry_store: RegistryStore, two_desks: tuple[PathCards, str]
) -> None:
    app, url = two_desks
    source = f"{url}/a{WELL_KNOWN}"
    card = make_card("Desk", url=f"{url}/a/a2a")
    legacy = host_identifier(card, source)
    # As a registry recorded it before paths were part of identifiers.
    await registry_store.record(
        "",
        legacy,
        card,
        app.cards["/a"].decode(),
        source_url=source,
        signed_by=None,
        now=1.0,
    )
    async with egress_client(LOOPBACK) as http:
        registrar = Registrar(registry_store, http)
        same = await registrar.register_url("", f"{url}/a")
        other = await registrar.register_url("", f"{url}/b")
    assert same.entry.identifier == legacy
    assert not same.created
    assert other.created
    assert other.entry.identifier == agent_identifier(card, f"{url}/b{WELL_KNOWN}")
    assert other.entry.identifier != legacy
    kept = await registry_store.get("", legacy)
    assert kept is not None
    assert kept.source_url == source
