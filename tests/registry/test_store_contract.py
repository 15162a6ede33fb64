"""The registry store contract, run on SQLite and on PostgreSQL (``registry_store``)."""

from __future__ import annotations

import pytest

from accord.registry import (
    Health,
    Recorded,
    RegistryStore,
    SearchQuery,
    Status,
    agent_identifier,
)
from accord.types import AgentCard

from ._cards import make_card, skill, wire

pytestmark = pytest.mark.anyio

CALLBACK = make_card(
    "Callback scheduler",
    description="Books a callback from a human agent.",
    skills=(skill("schedule-callback", "Schedule a callback", "Pick a slot", "phone"),),
    provider="Acme",
    url="http://127.0.0.1:8001/a2a",
)
CALENDAR = make_card(
    "Calendar",
    description="Reads calendars; can schedule meetings.",
    skills=(skill("meetings", "Meetings", "Schedule a meeting", "calendar"),),
    binding="HTTP+JSON",
    url="http://127.0.0.1:8002/a2a",
)
WEATHER = make_card(
    "Weather",
    description="Forecasts.",
    skills=(skill("forecast", "Forecast", "", "weather"),),
    provider="Acme",
    input_modes=("text/plain", "application/json"),
    url="http://127.0.0.1:8003/a2a",
)


async def put(
    store: RegistryStore, card: AgentCard, tenant: str = "", now: float = 1.0
) -> Recorded:
    identifier = agent_identifier(card)
    return await store.record(
        tenant, identifier, card, wire(card), source_url=None, signed_by=None, now=now
    )


async def test_first_card_is_version_one_and_the_same_card_adds_none(
    registry_store: RegistryStore,
) -> None:
    first = await put(registry_store, CALLBACK)
    assert first.created
    assert first.entry.version == 1
    assert first.entry.identifier == "urn:air:127.0.0.1:port-8001:callback-scheduler"
    again = await put(registry_store, CALLBACK, now=2.0)
    assert again.version is None
    assert again.entry.version == 1
    versions = await registry_store.versions("", first.entry.identifier)
    assert [v.number for v in versions] == [1]
    assert versions[0].pin == first.entry.pin
    got = await registry_store.get("", first.entry.identifier)
    assert got is not None
    assert got.card == CALLBACK
    assert got.health.status is Status.UNKNOWN


async def test_a_card_changed_in_place_is_flagged_with_its_diff(
    registry_store: RegistryStore,
) -> None:
    await put(registry_store, CALLBACK)
    changed = make_card(
        "Callback scheduler",
        description="Books a callback from a human agent.",
        skills=(),  # the skill is gone, the version stays 1.0.0
        provider="Acme",
        url="http://127.0.0.1:8001/a2a",
    )
    recorded = await put(registry_store, changed, now=5.0)
    assert recorded.version is not None
    assert recorded.version.number == 2
    assert recorded.version.version_unchanged
    assert recorded.version.breaking
    assert recorded.entry.drift
    assert recorded.entry.breaking
    assert recorded.entry.updated_at == 5.0
    versions = await registry_store.versions("", recorded.entry.identifier)
    assert [v.number for v in versions] == [1, 2]
    diff = versions[1].diff
    assert diff is not None
    assert [c["rule"] for c in diff["changes"]] == ["skill.removed"]
    assert diff["changes"][0]["path"] == "skills[schedule-callback]"
    # The search index follows the latest card: the removed skill no longer matches.
    page = await registry_store.search(
        "", SearchQuery(filters={"skill": ("schedule-callback",)})
    )
    assert page.hits == ()


async def test_a_version_bump_is_no_drift(registry_store: RegistryStore) -> None:
    await put(registry_store, WEATHER)
    bumped = make_card(
        "Weather",
        description="Forecasts, now for a week.",
        skills=WEATHER.skills,
        provider="Acme",
        input_modes=("text/plain", "application/json"),
        url="http://127.0.0.1:8003/a2a",
        version="1.1.0",
    )
    recorded = await put(registry_store, bumped)
    assert recorded.version is not None
    assert not recorded.version.version_unchanged
    assert not recorded.version.breaking
    assert not recorded.entry.drift


async def test_free_text_is_ranked_best_first(registry_store: RegistryStore) -> None:
    for card in (WEATHER, CALENDAR, CALLBACK):
        await put(registry_store, card)
    page = await registry_store.search("", SearchQuery(text="schedule a callback"))
    names = [h.entry.card.name for h in page.hits]
    assert names == ["Callback scheduler", "Calendar"]
    assert page.hits[0].score >= page.hits[1].score >= 1
    assert page.next_cursor is None
    # Stemming: "scheduling" finds "schedule".
    stemmed = await registry_store.search("", SearchQuery(text="scheduling"))
    assert {h.entry.card.name for h in stemmed.hits} == {
        "Callback scheduler",
        "Calendar",
    }
    none = await registry_store.search("", SearchQuery(text="submarine"))
    assert none.hits == ()


async def test_query_syntax_is_not_passed_to_the_engine(
    registry_store: RegistryStore,
) -> None:
    await put(registry_store, WEATHER)
    for text in ('weather" OR "x', "weather & !(", "NEAR(weather", "weather:*"):
        page = await registry_store.search("", SearchQuery(text=text))
        assert [h.entry.card.name for h in page.hits] == ["Weather"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"skill": ("forecast",)}, {"Weather"}),
        ({"tag": ("calendar",)}, {"Calendar"}),
        ({"provider": ("Acme",)}, {"Weather", "Callback scheduler"}),
        ({"binding": ("HTTP+JSON",)}, {"Calendar"}),
        ({"inputMode": ("application/json",)}, {"Weather"}),
        (
            {"outputMode": ("text/plain",)},
            {"Weather", "Calendar", "Callback scheduler"},
        ),
        ({"protocolVersion": ("1.0",)}, {"Weather", "Calendar", "Callback scheduler"}),
        ({"provider": ("Acme",), "tag": ("phone",)}, {"Callback scheduler"}),
        ({"inputMode": ("text/plain", "application/json")}, {"Weather"}),
        ({"skill": ("nope",)}, set()),
    ],
)
async def test_filters(
    registry_store: RegistryStore,
    filters: dict[str, tuple[str, ...]],
    expected: set[str],
) -> None:
    for card in (WEATHER, CALENDAR, CALLBACK):
        await put(registry_store, card)
    page = await registry_store.search("", SearchQuery(filters=filters))
    assert {h.entry.card.name for h in page.hits} == expected


async def test_text_and_filters_together(registry_store: RegistryStore) -> None:
    for card in (WEATHER, CALENDAR, CALLBACK):
        await put(registry_store, card)
    page = await registry_store.search(
        "", SearchQuery(text="schedule", filters={"binding": ("HTTP+JSON",)})
    )
    assert [h.entry.card.name for h in page.hits] == ["Calendar"]


async def test_tenants_see_only_their_own_agents(registry_store: RegistryStore) -> None:
    await put(registry_store, WEATHER, tenant="acme")
    await put(registry_store, CALENDAR)
    acme = await registry_store.search("acme", SearchQuery())
    public = await registry_store.search("", SearchQuery(text="weather forecast"))
    assert [h.entry.card.name for h in acme.hits] == ["Weather"]
    assert public.hits == ()
    assert await registry_store.get("", agent_identifier(WEATHER)) is None
    facets = await registry_store.facets("", SearchQuery(), ["provider"], 10)
    assert facets == {"provider": []}


@pytest.mark.parametrize("text", ["", "agent"])
async def test_cursor_pages_see_every_agent_once(
    registry_store: RegistryStore, text: str
) -> None:
    for i in range(7):
        card = make_card(
            f"Agent {i}",
            description="agent " * (i % 3 + 1),
            url=f"http://127.0.0.1:{9100 + i}/a2a",
        )
        await put(registry_store, card)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await registry_store.search(
            "", SearchQuery(text=text, limit=2, cursor=cursor)
        )
        seen += [h.entry.identifier for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 7
    assert len(set(seen)) == 7
    whole = await registry_store.search("", SearchQuery(text=text, limit=100))
    assert [h.entry.identifier for h in whole.hits] == seen


async def test_facets_count_the_matches(registry_store: RegistryStore) -> None:
    for card in (WEATHER, CALENDAR, CALLBACK):
        await put(registry_store, card)
    facets = await registry_store.facets("", SearchQuery(), ["provider", "binding"], 10)
    assert facets["provider"] == [("Acme", 2)]
    assert facets["binding"] == [("JSONRPC", 2), ("HTTP+JSON", 1)]
    narrowed = await registry_store.facets(
        "", SearchQuery(text="schedule"), ["binding"], 1
    )
    assert narrowed["binding"] == [("HTTP+JSON", 1)]
    assert await registry_store.count("", SearchQuery()) == 3
    assert await registry_store.count("", SearchQuery(text="schedule")) == 2
    assert await registry_store.count("", SearchQuery(filters={"tag": ("x",)})) == 0


async def test_remove(registry_store: RegistryStore) -> None:
    recorded = await put(registry_store, WEATHER)
    identifier = recorded.entry.identifier
    assert await registry_store.remove("", identifier)
    assert not await registry_store.remove("", identifier)
    assert await registry_store.get("", identifier) is None
    assert await registry_store.versions("", identifier) == ()
    assert (await registry_store.search("", SearchQuery(text="weather"))).hits == ()


async def test_health_of_fetched_agents(registry_store: RegistryStore) -> None:
    identifier = agent_identifier(WEATHER)
    await registry_store.record(
        "t",
        identifier,
        WEATHER,
        wire(WEATHER),
        source_url="http://127.0.0.1:8003/",
        signed_by=None,
        now=1.0,
    )
    await put(registry_store, CALENDAR)  # published: never re-fetched
    due = await registry_store.due(now=10.0, limit=10)
    assert [(e.tenant, e.identifier) for e in due] == [("t", identifier)]
    down = Health(
        status=Status.DOWN,
        checked_at=10.0,
        next_check_at=70.0,
        failures=1,
        error="connection refused",
        etag='"v1"',
    )
    await registry_store.record_health("t", identifier, down)
    assert await registry_store.due(now=69.0, limit=10) == ()
    entry = await registry_store.get("t", identifier)
    assert entry is not None
    assert entry.health == down


def test_bad_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown filter colour"):
        SearchQuery(filters={"colour": ("red",)})
    with pytest.raises(ValueError, match="page size"):
        SearchQuery(limit=0)
    with pytest.raises(ValueError, match="not a cursor"):
        SearchQuery(cursor="!!")
