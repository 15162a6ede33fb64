"""The Agent Card: content from the declaration, caching headers, proxies, aliases.

The card's URLs must never follow what a caller chooses: ``Host`` must be valid,
``X-Forwarded-*`` count only from trusted proxies, a signed card names only the public
URL or the server's own address, and ``Vary`` says what the answer depends on.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from accord.security import JWK, JWKSet, TrustStore, verify_card
from accord.server import A2AApp
from accord.types import AgentCard, decode

from .conftest import serve
from .scripted import make_agent


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


# --- where the card's URLs come from (security: Host / X-Forwarded-* are the caller's) ---

HOSTILE = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
}


@pytest.fixture(scope="module")
def es256() -> JWK:
    return JWK.generate("ES256", kid="card-key")


def _app(**options: Any) -> A2AApp:
    return A2AApp(make_agent(), **options)


async def _get_card(
    app: A2AApp,
    *,
    client: tuple[str, int] = ("203.0.113.7", 40000),
    url: str = "http://10.1.2.3:8000/.well-known/agent-card.json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET the card over ASGI from peer ``client``; ``url`` sets scope["server"]."""
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport) as http:
        return await http.get(url, headers=headers)


def _urls(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    card = decode(response.content, AgentCard)
    return [i.url for i in card.supported_interfaces]


@pytest.mark.anyio
async def test_untrusted_peer_forwarded_headers_are_ignored() -> None:
    response = await _get_card(
        _app(),
        headers={
            "Host": "agent.example:8443",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        },
    )
    assert _urls(response) == [
        "http://agent.example:8443/",
        "http://agent.example:8443",
    ]
    assert response.headers["vary"] == "Host"
    assert response.headers["cache-control"].startswith("public, max-age=")


@pytest.mark.anyio
async def test_trusted_proxy_forwarded_headers_are_honoured() -> None:
    app = _app(forwarded_allow_ips="192.0.2.1, 10.0.0.0/8")
    response = await _get_card(
        app,
        client=("10.9.8.7", 5000),
        headers={
            "Host": "backend:8000",
            # A proxy that appends: the last value is the trusted proxy's own.
            "X-Forwarded-Host": "evil.example, agents.example.com",
            "X-Forwarded-Proto": "https",
        },
    )
    assert _urls(response) == [
        "https://agents.example.com/",
        "https://agents.example.com",
    ]
    assert response.headers["vary"] == "Host, X-Forwarded-Host, X-Forwarded-Proto"
    # The default trusts loopback only: the same proxy headers from 10.9.8.7 are not.
    untrusted = await _get_card(
        _app(),
        client=("10.9.8.7", 5000),
        headers={
            "Host": "backend:8000",
            **{k: v for k, v in HOSTILE.items() if k != "Host"},
        },
    )
    assert _urls(untrusted)[1] == "http://backend:8000"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "javascript"},
        {"X-Forwarded-Proto": "javascript://", "X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Host": "javascript://evil.example"},
        {"X-Forwarded-Host": "evil.example/path"},
        {"X-Forwarded-Host": "user@evil.example"},
        {"X-Forwarded-Host": "evil.example:99999"},
        {"X-Forwarded-Host": "[not-ipv6]"},
        {"X-Forwarded-Host": 'evil.example"><script>'},
        {"Host": "javascript://evil.example"},
        {"Host": "evil.example, other.example"},
        {"Host": "evil.example:80/x?y"},
    ],
)
async def test_invalid_scheme_or_host_is_never_echoed(headers: dict[str, str]) -> None:
    response = await _get_card(
        _app(forwarded_allow_ips="*"), headers={"Host": "ok.example", **headers}
    )
    # Falls back to the address the server is bound to (scope["server"]).
    assert _urls(response) == ["http://10.1.2.3:8000/", "http://10.1.2.3:8000"]
    assert "evil" not in response.text
    assert "javascript" not in response.text


@pytest.mark.anyio
async def test_public_url_fixes_the_card() -> None:
    app = _app(public_url="HTTPS://Agents.Example.com/echo/", forwarded_allow_ips="*")
    assert app.public_url == "https://agents.example.com/echo"
    response = await _get_card(app, client=("127.0.0.1", 1), headers=HOSTILE)
    assert _urls(response) == [
        "https://agents.example.com/echo/",
        "https://agents.example.com/echo",
    ]
    assert "vary" not in response.headers  # nothing the request said matters
    assert response.headers["cache-control"].startswith("public, max-age=")


@pytest.mark.parametrize(
    "url",
    [
        "javascript://agents.example.com",
        "ftp://agents.example.com",
        "https://user:pw@agents.example.com",
        "https://agents.example.com/?q=1",
        "https://agents example.com",
        "agents.example.com",
    ],
)
def test_public_url_is_validated(url: str) -> None:
    with pytest.raises(ValueError, match="public URL"):
        _app(public_url=url)


def test_forwarded_allow_ips_are_validated() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        _app(forwarded_allow_ips="10.0.0.0/8,proxy.example")
    app = _app(forwarded_allow_ips=["10.0.0.0/8", " ::1 "])
    assert app.forwarded_allow_ips == ("10.0.0.0/8", "::1")
    assert _app().forwarded_allow_ips == ("127.0.0.1", "::1")


@pytest.mark.anyio
async def test_signed_card_is_only_signed_for_the_server_own_address(
    es256: JWK,
) -> None:
    app = _app(card_signer=es256, forwarded_allow_ips="*")
    response = await _get_card(app, client=("127.0.0.1", 1), headers=HOSTILE)
    assert _urls(response) == ["http://10.1.2.3:8000/", "http://10.1.2.3:8000"]
    assert "evil" not in response.text
    assert "vary" not in response.headers
    card = response.json()
    assert len(card["signatures"]) == 1
    jwks = (
        await _get_card(app, url="http://10.1.2.3:8000/.well-known/jwks.json")
    ).json()
    assert verify_card(card, TrustStore(keys=JWKSet.from_dict(jwks))).form == "json"
    # With a public URL the signature is for that URL.
    app.public_url = "https://agents.example.com"
    public = await _get_card(app, headers=HOSTILE)
    assert _urls(public)[1] == "https://agents.example.com"
    assert verify_card(public.json(), TrustStore(keys=JWKSet.from_dict(jwks)))


def test_signed_card_on_a_real_server_names_the_bound_socket(es256: JWK) -> None:
    # uvicorn's scope["server"] is the socket's address; a loopback "proxy" (trusted by
    # default) sending hostile headers still gets the card signed for that address.
    # proxy_headers=False as `accord serve` runs it (else uvicorn itself would take
    # X-Forwarded-Proto from a loopback peer into scope["scheme"]).
    app = _app(card_signer=es256)
    with serve(app, proxy_headers=False) as url, httpx.Client(timeout=10) as http:
        response = http.get(url + "/.well-known/agent-card.json", headers=HOSTILE)
    assert _urls(response) == [url + "/", url]
    assert response.json()["signatures"]


@pytest.mark.anyio
async def test_vary_and_cors_headers_on_304() -> None:
    app = _app()
    first = await _get_card(app, headers={"Host": "agent.example"})
    again = await _get_card(
        app, headers={"Host": "agent.example", "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["vary"] == "Host"
    assert again.headers["access-control-allow-origin"] == "*"
    other = await _get_card(
        app, headers={"Host": "other.example", "If-None-Match": first.headers["etag"]}
    )
    assert other.status_code == 200  # another host, another card, another ETag


def test_card_served_without_the_json_extension(
    server_url: str, http: httpx.Client
) -> None:
    plain = http.get(server_url + "/.well-known/agent-card")
    assert plain.status_code == 200
    assert (
        plain.content == http.get(server_url + "/.well-known/agent-card.json").content
    )
