"""Card discovery and HTTP caching (spec §8.2, §8.6), and interface selection (§8.3.2)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from accord.client import CardResolver, Client, ClientConfig, select_interface
from accord.client.card import card_url, speaks, suitable_interfaces
from accord.errors import CardError
from accord.types import AgentInterface, encode

from .helpers import BASE, CARD_URL, RPC_URL, FakeAgent, interface, make_card

pytestmark = pytest.mark.anyio

CARD = make_card(interface("JSONRPC"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CardServer:
    """Serves ``CARD`` with the given headers and records every request."""

    def __init__(self, headers: dict[str, str], body: bytes = encode(CARD)) -> None:
        self.headers = headers
        self.body = body
        self.requests: list[httpx.Request] = []
        self.not_modified = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.not_modified and (
            "If-None-Match" in request.headers or "If-Modified-Since" in request.headers
        ):
            return httpx.Response(304, headers=self.headers)
        return httpx.Response(
            200,
            content=self.body,
            headers={"content-type": "application/json", **self.headers},
        )


async def resolve(
    server: Callable[[httpx.Request], httpx.Response], clock: Clock, times: int = 1
) -> list[object]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        resolver = CardResolver(http, default_max_age=60, clock=clock)
        cards: list[object] = []
        for _ in range(times):
            cards.append(await resolver.get(BASE))
            clock.now += 10
        return cards


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.test", "https://a.test/.well-known/agent-card.json"),
        ("https://a.test/", "https://a.test/.well-known/agent-card.json"),
        (
            "https://a.test/agents/x",
            "https://a.test/agents/x/.well-known/agent-card.json",
        ),
        ("https://a.test/card.json", "https://a.test/card.json"),
        (
            "https://a.test/.well-known/agent.json",
            "https://a.test/.well-known/agent.json",
        ),
        ("https://a.test/c.json?v=2", "https://a.test/c.json?v=2"),
    ],
)
def test_card_url(url: str, expected: str) -> None:
    assert card_url(url) == expected


async def test_a_fresh_card_is_reused_without_a_request() -> None:
    server = CardServer({"Cache-Control": "public, max-age=25"})
    clock = Clock()

    cards = await resolve(server, clock, times=3)  # at t=0, 10, 20

    assert cards == [CARD] * 3
    assert len(server.requests) == 1
    assert server.requests[0].url == CARD_URL
    assert server.requests[0].headers["A2A-Version"] == "1.0"


async def test_age_shortens_max_age() -> None:
    server = CardServer({"Cache-Control": "max-age=25", "Age": "20"})

    await resolve(server, Clock(), times=2)  # fresh for 5 s only

    assert len(server.requests) == 2


async def test_a_stale_card_is_revalidated_and_a_304_keeps_it() -> None:
    server = CardServer({"Cache-Control": "max-age=5", "ETag": '"v1"'})
    server.not_modified = True

    cards = await resolve(server, Clock(), times=3)

    assert cards == [CARD] * 3
    first, second, third = server.requests
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == '"v1"'
    assert third.headers["If-None-Match"] == '"v1"'


async def test_last_modified_is_revalidated_with_if_modified_since() -> None:
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
    server = CardServer({"Cache-Control": "no-cache", "Last-Modified": stamp})
    server.not_modified = True

    await resolve(server, Clock(), times=2)

    assert server.requests[1].headers["If-Modified-Since"] == stamp


async def test_no_cache_revalidates_every_time() -> None:
    server = CardServer({"Cache-Control": "no-cache", "ETag": '"v1"'})
    server.not_modified = True
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        resolver = CardResolver(http, clock=clock)
        await resolver.get(BASE)
        await resolver.get(BASE)  # same instant, still revalidated

    assert len(server.requests) == 2
    assert server.requests[1].headers["If-None-Match"] == '"v1"'


async def test_no_store_fetches_every_time_without_validators() -> None:
    server = CardServer({"Cache-Control": "no-store", "ETag": '"v1"'})

    await resolve(server, Clock(), times=2)

    assert len(server.requests) == 2
    assert "If-None-Match" not in server.requests[1].headers


async def test_without_headers_the_default_ttl_applies() -> None:
    server = CardServer({})

    await resolve(server, Clock(), times=8)  # t = 0..70, default TTL 60

    assert len(server.requests) == 2


async def test_expires_relative_to_date() -> None:
    server = CardServer(
        {
            "Date": "Wed, 01 Jan 2025 00:00:00 GMT",
            "Expires": "Wed, 01 Jan 2025 00:00:15 GMT",
        }
    )

    await resolve(server, Clock(), times=3)  # t = 0, 10 fresh; 20 stale

    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Expires": "0"},  # unparsable: already expired (RFC 9111 §5.3)
        {"Expires": "Wed, 01 Jan 2025 00:00:15 GMT"},  # no Date to compare with
    ],
)
async def test_unusable_expires_means_stale(headers: dict[str, str]) -> None:
    server = CardServer(headers)

    await resolve(server, Clock(), times=2)

    assert len(server.requests) == 2


async def test_a_304_with_no_store_drops_the_entry() -> None:
    server = CardServer({"Cache-Control": "max-age=5", "ETag": '"v1"'})
    server.not_modified = True
    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        resolver = CardResolver(http, clock=clock)
        await resolver.get(BASE)
        clock.now += 10
        server.headers = {"Cache-Control": "no-store"}
        assert await resolver.get(BASE) == CARD  # the 304 still answers this call
        await resolver.get(BASE)

    assert "If-None-Match" not in server.requests[2].headers


async def test_refresh_and_invalidate() -> None:
    server = CardServer({"Cache-Control": "max-age=600"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        resolver = CardResolver(http)
        await resolver.get(BASE)
        await resolver.get(BASE, refresh=True)
        resolver.invalidate(BASE)
        await resolver.get(BASE)
        resolver.invalidate()
        await resolver.get(CARD_URL)

    assert len(server.requests) == 4


async def test_connect_fetches_the_card_and_uses_its_interface() -> None:
    agent = FakeAgent(card=CARD)
    agent.on("GetTask", make_card)  # any value: only the routing matters here
    async with agent.client() as http:
        client = await Client.connect(BASE, http=http)
        async with client:
            assert client.card == CARD
            assert client.interface == CARD.supported_interfaces[0]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(404, text="nope"),
            f"Agent card at {CARD_URL}: HTTP 404 Not Found — is this an A2A agent",
        ),
        (
            httpx.Response(200, text="<html>", headers={"content-type": "text/html"}),
            f"Agent card at {CARD_URL} is not JSON (text/html)",
        ),
        (
            httpx.Response(200, json={"description": "no name"}),
            f"Agent card at {CARD_URL} is invalid: ",
        ),
        (
            httpx.Response(200, json=[1, 2]),
            f"Agent card at {CARD_URL} is invalid: ",
        ),
    ],
)
async def test_bad_cards_raise_card_error(
    response: httpx.Response, message: str
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _r: response)
    ) as http:
        with pytest.raises(CardError) as caught:
            await CardResolver(http).get(BASE)

    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


async def test_missing_required_field_is_named() -> None:
    response = httpx.Response(200, json={"name": "x"})
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _r: response)
    ) as http:
        with pytest.raises(CardError, match="capabilities"):
            await CardResolver(http).get(BASE)


# --- interface selection (spec §8.3.2) -------------------------------------------


def iface(binding: str, version: str = "1.0", url: str = RPC_URL) -> AgentInterface:
    return AgentInterface(url=url, protocol_binding=binding, protocol_version=version)


def test_the_earliest_supported_entry_wins() -> None:
    card = make_card(
        iface("GRPC", url="grpc.test:443"),
        iface("JSONRPC", "0.3", url="http://old.test"),
        iface("HTTP+JSON", url="http://rest.test"),
        iface("JSONRPC", url="http://rpc.test"),
    )

    assert select_interface(card).url == "http://rest.test"
    assert [i.url for i in suitable_interfaces(card)] == [
        "http://rest.test",
        "http://rpc.test",
        "http://old.test",  # v0.3 JSON-RPC: usable, after every v1.0 entry
    ]


def test_preferred_bindings_order_and_restrict() -> None:
    card = make_card(
        iface("HTTP+JSON", url="http://rest.test"),
        iface("JSONRPC", url="http://rpc.test"),
    )

    assert select_interface(card, ("JSONRPC", "HTTP+JSON")).url == "http://rpc.test"
    assert [i.url for i in suitable_interfaces(card, ("jsonrpc",))] == [
        "http://rpc.test"
    ]


@pytest.mark.parametrize("version", ["0.2", "2.0", "1.1", "one"])
def test_other_protocol_versions_are_not_used(version: str) -> None:
    card = make_card(iface("JSONRPC", version))

    with pytest.raises(CardError) as caught:
        select_interface(card)

    assert "offers no interface this client can use" in str(caught.value)
    assert f"JSONRPC {version or '(no version)'} at {RPC_URL}" in str(caught.value)


def test_an_entry_without_a_version_is_taken_as_1_0_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The official SDK's hello-world card: AgentInterface(url=…, protocol_binding=…).
    card = make_card(iface("JSONRPC", "", url="http://rpc.test"))

    with caplog.at_level(logging.WARNING, logger="accord.client.card"):
        chosen = select_interface(card)

    assert chosen.url == "http://rpc.test"
    assert [r.getMessage() for r in caplog.records] == [
        f"agent {card.name!r} gives no protocolVersion (required by A2A spec "
        "§8.3.1) for JSONRPC at http://rpc.test; assuming 1.0"
    ]


def test_a_stated_version_ranks_before_an_assumed_one() -> None:
    card = make_card(
        iface("JSONRPC", "", url="http://assumed.test"),
        iface("JSONRPC", "0.3", url="http://old.test"),
        iface("HTTP+JSON", "1.0", url="http://rest.test"),
        iface("HTTP+JSON", "", url="http://rest-assumed.test"),
    )

    assert [i.url for i in suitable_interfaces(card)] == [
        "http://rest.test",
        "http://assumed.test",
        "http://rest-assumed.test",
        "http://old.test",
    ]


@pytest.mark.parametrize("version", ["0.3", "0.3.0"])
@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_a_v03_entry_is_spoken_in_v03(binding: str, version: str) -> None:
    chosen = select_interface(make_card(iface(binding, version)))
    assert speaks(chosen) == "0.3"
    assert speaks(iface(binding, "1.0")) == speaks(iface(binding, "")) == "1.0"
    # A version neither v1.0 nor v0.3 is not spoken.
    with pytest.raises(CardError, match=r"HTTP\+JSON 0\.2"):
        select_interface(make_card(iface("HTTP+JSON", "0.2")))


def test_a_preferred_binding_overrides_with_assumed_versions() -> None:
    card = make_card(
        iface("JSONRPC", "", url="http://rpc.test"),
        iface("HTTP+JSON", "", url="http://rest.test"),
    )

    assert select_interface(card).url == "http://rpc.test"
    assert select_interface(card, ("HTTP+JSON",)).url == "http://rest.test"
    assert [i.url for i in suitable_interfaces(card, ("HTTP+JSON", "JSONRPC"))] == [
        "http://rest.test",
        "http://rpc.test",
    ]


def test_a_patch_version_is_the_same_version() -> None:
    assert select_interface(make_card(iface("JSONRPC", "1.0.2"))).protocol_version


def test_a_card_without_interfaces() -> None:
    with pytest.raises(CardError, match=r"it offers: no supportedInterfaces"):
        select_interface(make_card())


def test_an_unknown_preferred_binding_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="GRPC"):
        select_interface(CARD, ("GRPC",))


def test_the_client_refuses_a_card_it_cannot_use() -> None:
    with pytest.raises(CardError, match=r"GRPC 1\.0"):
        Client(make_card(iface("GRPC")))


def test_the_client_refuses_a_hand_picked_interface_it_cannot_use() -> None:
    with pytest.raises(CardError):
        Client.from_interface(iface("HTTP+JSON", "0.2"))
    with pytest.raises(CardError):
        Client.from_interface(
            iface("JSONRPC"), config=ClientConfig(preferred_bindings=("HTTP+JSON",))
        )
