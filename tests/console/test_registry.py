"""The console's registry picker: agents found in a real registry on loopback, a
found agent connected to pinned to the card the registry recorded, and configured
credentials that stay with the agent they were given for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from accord.client import ApiKey
from accord.console import ConsoleApp
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.registry._serving import PUBLISHER_KEY, serve_registry


@contextmanager
def register_in_registry(tmp_path: Path, agent: str) -> Iterator[str]:
    """A registry on loopback where ``agent`` is registered; its base URL."""
    with serve_registry(tmp_path) as url:
        # Plain HTTP (the registration API), as Playwright's tests hold an event loop.
        answer = httpx.post(
            f"{url}/api/agents/register",
            json={"wellKnownURI": agent},
            headers={"X-API-Key": PUBLISHER_KEY},
            timeout=30,
        )
        assert answer.status_code in (200, 201), answer.text
        yield url


@pytest.fixture
def registry(tmp_path: Path, agent: str) -> Iterator[str]:
    """A registry where the Receptionist (``agent``) is registered."""
    with register_in_registry(tmp_path, agent) as url:
        yield url


def _session(console: str) -> httpx.Client:
    return httpx.Client(base_url=console, timeout=30)


def test_agents_are_found_in_the_registry_and_connected_to_pinned(
    agent: str, registry: str
) -> None:
    with (
        serve_in_thread(ConsoleApp(registry=registry)) as console,
        _session(console) as page,
    ):
        assert page.get("/api/state").json()["registry"] == registry
        found = page.get("/api/registry", params={"q": "callback"})
        assert found.status_code == 200, found.text
        agents = found.json()["agents"]
        assert [a["name"] for a in agents] == ["Receptionist"]
        (receptionist,) = agents
        assert receptionist["url"] == agent
        assert receptionist["pin"].startswith("sha256:")
        assert "schedule_callback" in receptionist["skills"]
        assert receptionist["status"] in ("up", "unknown")
        # Words nothing matches: no agent.
        assert page.get("/api/registry", params={"q": "zzzqqq"}).json()["agents"] == []

        # Pinned to what the registry recorded: the same card connects.
        body = {"url": agent, "pin": receptionist["pin"], "apiKey": RECEPTIONIST_KEY}
        answer = page.post("/api/connect", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["connected"] is True
        # Another pin (the card changed since the registry saw it): refused.
        wrong = "sha256:" + "0" * 64
        refused = page.post("/api/connect", json={**body, "pin": wrong})
        assert refused.status_code == 409
        assert refused.json()["kind"] == "CardDriftError"
        assert "not the one the registry recorded" in refused.json()["error"]


def test_without_a_registry_the_page_is_told_how_to_get_one(console: str) -> None:
    with _session(console) as page:
        assert page.get("/api/state").json()["registry"] is None
        answer = page.get("/api/registry", params={"q": "callback"})
        assert answer.status_code == 404
        assert "--registry URL" in answer.json()["error"]


def test_an_unreachable_registry_is_a_502_naming_it() -> None:
    with serve_in_thread(ConsoleApp()) as closed:
        pass  # the port is free again: nothing listens there
    with (
        serve_in_thread(ConsoleApp(registry=closed)) as console,
        _session(console) as page,
    ):
        answer = page.get("/api/registry", params={"q": "callback"})
        assert answer.status_code == 502
        assert closed in answer.json()["error"]


def test_configured_credentials_go_to_their_own_agent_only(
    tmp_path: Path, agent: str
) -> None:
    """A key given for ``--agent`` is never sent to another agent the user connects
    to (typed, or found in a registry): that agent asks for its own."""
    other = receptionist_app(tmp_path / "other.db", api_key=RECEPTIONIST_KEY)
    app = ConsoleApp(agent_url=agent, credentials=[ApiKey(RECEPTIONIST_KEY)])
    with (
        serve_in_thread(other) as elsewhere,
        serve_in_thread(app) as console,
        _session(console) as page,
    ):
        own = page.post("/api/connect", json={"url": agent}).json()
        assert own["connected"] is True
        foreign = page.post("/api/connect", json={"url": elsewhere}).json()
        assert foreign["connected"] is False
        assert "requires an API key" in foreign["problem"]
        assert "supplied (none)" in foreign["problem"]
        # Typed for it, the other agent's key is used.
        typed = {"url": elsewhere, "apiKey": RECEPTIONIST_KEY}
        assert page.post("/api/connect", json=typed).json()["connected"] is True
