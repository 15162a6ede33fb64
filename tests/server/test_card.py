"""The Agent Card: content from the declaration, caching headers, proxies, aliases."""

from __future__ import annotations

import httpx

from accord.types import AgentCard, decode


def test_card_describes_the_agent_and_its_interfaces(
    server_url: str, http: httpx.Client
) -> None:
    r = http.get(server_url + "/.well-known/agent-card.json")
    assert r.status_code == 200
    card = decode(r.content, AgentCard)
    assert card.name == "Scripted"
    assert card.version == "9.9.9"
    assert card.skills[0].id == "echo"
    assert card.capabilities.streaming is True
    assert card.capabilities.push_notifications is False
    bindings = [
        (i.protocol_binding, i.url, i.protocol_version)
        for i in card.supported_interfaces
    ]
    assert bindings == [
        ("JSONRPC", server_url + "/", "1.0"),
        ("HTTP+JSON", server_url, "1.0"),
    ]


def test_card_caching_headers_and_conditional_get(
    server_url: str, http: httpx.Client
) -> None:
    r = http.get(server_url + "/.well-known/agent-card.json")
    assert "max-age=" in r.headers["cache-control"]
    etag = r.headers["etag"]
    modified = r.headers["last-modified"]
    again = http.get(
        server_url + "/.well-known/agent-card.json", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    since = http.get(
        server_url + "/.well-known/agent-card.json",
        headers={"If-Modified-Since": modified},
    )
    assert since.status_code == 304
    stale = http.get(
        server_url + "/.well-known/agent-card.json",
        headers={"If-None-Match": '"other"'},
    )
    assert stale.status_code == 200


def test_card_honours_forwarded_headers(server_url: str, http: httpx.Client) -> None:
    r = http.get(
        server_url + "/.well-known/agent-card.json",
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "agents.example.com",
        },
    )
    card = decode(r.content, AgentCard)
    assert [i.url for i in card.supported_interfaces] == [
        "https://agents.example.com/",
        "https://agents.example.com",
    ]


def test_legacy_card_path_and_head(server_url: str, http: httpx.Client) -> None:
    assert http.get(server_url + "/.well-known/agent.json").status_code == 200
    head = http.head(server_url + "/.well-known/agent-card.json")
    assert head.status_code == 200
    assert head.content == b""
