"""accord.egress: the address table, URL checks, resolution, and the pinned transport.

The transport runs against real uvicorn servers on 127.0.0.1, plain and TLS; names
like ``hooks.test`` reach them only through the injected resolver (the system
resolver does not know them), which proves the connection goes to the checked
address. The resolver is the one outer edge the tests replace.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.egress import (
    ADDRESS_RULES,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_READ_TIMEOUT,
    EgressPolicy,
    EgressRefused,
    EgressTransport,
    Target,
    address_class,
    egress_client,
    system_resolver,
)
from tests.helpers.uvicorn_thread import serve_in_thread

pytestmark = pytest.mark.anyio

Resolver = Callable[[str, int], Awaitable[list[str]]]


def resolver_of(answers: dict[str, list[str]]) -> Resolver:
    """A resolver answering from ``answers`` (a name it does not know fails)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown test name {host}")
        return answers[host]

    return resolve


@dataclass
class CountingResolver:
    """Answers each call with the next answer of ``answers``; counts the calls."""

    answers: list[list[str]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


# ---------------------------------------------------------------- the address table

#: (address, the class it is refused as): every row, v4 and v6 where both exist.
REFUSED = [
    ("169.254.169.254", "cloud metadata"),
    ("169.254.170.2", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified ('this network')"),
    ("0.1.2.3", "unspecified ('this network')"),
    ("::", "unspecified ('this network')"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.254", "shared (CGNAT)"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("192.0.0.8", "IETF protocol"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("2001:2::1", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    # IPv6 forms that carry an IPv4 address are judged by that address.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.5", "private"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a00:5::", "private"),  # 6to4 of 10.0.0.5
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::c0a8:101", "private"),  # local-use NAT64 /96 of 192.168.1.1
    ("64:ff9b:1:a00::1", "local-use NAT64"),  # another layout: unreadable
    ("::7f00:1", "IPv4-compatible"),
    ("::808:808", "IPv4-compatible"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("100::1", "reserved"),  # discard-only
    ("fec0::1", "reserved"),  # site-local (deprecated)
    ("4000::1", "reserved"),  # unassigned
    ("2001:10::1", "non-global"),  # ORCHID (deprecated)
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "64:ff9b:1::101:101",  # local-use NAT64 /96 of 1.1.1.1
]


def url_for(address: str, scheme: str = "https") -> str:
    return f"{scheme}://[{address}]/" if ":" in address else f"{scheme}://{address}/"


@pytest.mark.parametrize(("address", "name"), REFUSED)
def test_refused_addresses_are_named_by_class(address: str, name: str) -> None:
    assert address_class(address) == name
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy().check_url(url_for(address))
    assert refused.value.reason == "address"
    shown = ipaddress.ip_address(address)  # as httpx normalises it
    assert f"refused: {shown} is a" in str(refused.value)
    assert f" {name} address" in str(refused.value)
    assert "--push-allow" in str(refused.value)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_class(address) is None
    target = EgressPolicy().check_url(url_for(address))
    assert target == Target("https", address, 443, "/")


def test_every_row_of_the_table_is_exercised() -> None:
    embedding = {rule.name for rule in ADDRESS_RULES if rule.embedded is not None}
    assert {name for _, name in REFUSED} == {r.name for r in ADDRESS_RULES} - embedding
    assert ADDRESS_RULES[-1].networks == ()  # the catch-all comes last


def test_an_embedded_address_names_its_wrapper() -> None:
    with pytest.raises(EgressRefused, match="loopback") as refused:
        EgressPolicy().check_url("https://[2002:7f00:1::1]/")
    assert "127.0.0.1, embedded in a 6to4 address" in str(refused.value)


def test_address_class_takes_address_objects_and_refuses_junk() -> None:
    assert address_class(ipaddress.ip_address("10.1.1.1")) == "private"
    assert address_class("fe80::1%eth0") == "link-local"  # judged without its zone
    with pytest.raises(ValueError, match="does not appear to be"):
        address_class("hooks.test")


# ----------------------------------------------------------------------- check_url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/hook", "scheme"),
        ("ftp://hooks.example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://hooks.example.com:70/", "scheme"),
        ("//hooks.example.com/hook", "scheme"),
        ("hooks.example.com/hook", "scheme"),
        ("https://user:pass@hooks.example.com/", "userinfo"),
        ("https://user@hooks.example.com/", "userinfo"),
        ("https://10.0.0.1\\@hooks.example.com/", "userinfo"),
        ("https:///hook", "host"),
        ("https://[fe80::1%25eth0]/", "host"),
        ("http://2130706433/", "host"),
        ("https://2130706433/", "host"),
        ("https://127.1/", "host"),
        ("https://0x7f.0.0.1/", "host"),
        ("https://017700000001/", "host"),
        ("https://010.0.0.1/", "url"),  # httpx refuses leading zeros
        ("https://hooks.example.com:0/", "port"),
        ("https://hooks.example.com:65536/", "port"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com:-1/", "port"),
        ("https://hooks.example.com:https/", "url"),
        ("https://[::1/", "url"),
        ("https://10.0.0.5/hook", "address"),
        ("http://10.0.0.5/hook", "address"),
    ],
)
def test_check_url_refusals(url: str, reason: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy().check_url(url)
    assert refused.value.reason == reason
    assert str(refused.value).startswith("refused: ")


def test_refusal_messages_say_what_to_do() -> None:
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy().check_url("http://hooks.example.com/hook")
    assert "use https://" in str(refused.value)
    assert "--push-allow hooks.example.com" in str(refused.value)
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy().check_url("https://10.0.0.5/hook")
    assert str(refused.value).startswith("refused: 10.0.0.5 is a private address.")
    assert "--push-allow 10.0.0.5" in str(refused.value)


def test_check_url_refuses_what_is_not_a_url() -> None:
    with pytest.raises(EgressRefused, match="is not a URL") as refused:
        EgressPolicy().check_url(443)  # type: ignore[arg-type]
    assert refused.value.reason == "url"


def test_check_url_returns_the_target() -> None:
    policy = EgressPolicy()
    assert policy.check_url("https://Hooks.Example.com/a/b?c=1&d=%20#frag") == Target(
        "https", "hooks.example.com", 443, "/a/b?c=1&d=%20"
    )
    target = policy.check_url(httpx.URL("https://bücher.example:8443"))
    assert target == Target("https", "xn--bcher-kva.example", 8443, "/")
    assert str(target) == "https://xn--bcher-kva.example:8443/"
    assert str(policy.check_url("https://[2606:4700::1]/x")) == (
        "https://[2606:4700::1]:443/x"
    )


def test_plain_http_needs_the_allow_list_or_a_relaxed_policy() -> None:
    relaxed = EgressPolicy(require_https=False)
    assert relaxed.check_url("http://hooks.example.com/").port == 80
    with pytest.raises(EgressRefused, match="private"):
        relaxed.check_url("http://10.0.0.5/")


def test_allow_listed_hosts_and_networks() -> None:
    policy = EgressPolicy.from_strings(
        [" Hooks.Test ", "hooks.test", "10.0.0.0/8", "[::1]", "fd00::/8"]
    )
    assert policy.allow == ("hooks.test", "10.0.0.0/8", "::1/128", "fd00::/8")
    assert policy.check_url("http://HOOKS.test:8080/x") == Target(
        "http", "hooks.test", 8080, "/x"
    )
    assert policy.check_url("http://hooks.test./").host == "hooks.test."
    assert policy.check_url("http://10.1.2.3:8080/x?y=1") == Target(
        "http", "10.1.2.3", 8080, "/x?y=1"
    )
    assert policy.check_url("http://[::1]:8080/").host == "::1"
    assert policy.check_url("http://[::ffff:10.0.0.5]/").host == "::ffff:10.0.0.5"
    # fd00::/8 is allowed, so the metadata address inside it is too: the operator said so.
    assert policy.check_url("http://[fd00:ec2::254]/").port == 80
    # Exact names only: neither sub-domains nor look-alikes.
    for url in ("http://a.hooks.test/", "http://hooks.test.evil/", "http://11.0.0.1/"):
        with pytest.raises(EgressRefused, match="plain http://") as refused:
            policy.check_url(url)
        assert refused.value.reason == "scheme"
    with pytest.raises(EgressRefused, match="private"):
        policy.check_url("https://192.168.0.1/")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://hooks.test/", "not a URL"),
        ("10.0.0.1/8", "host bits set"),
        ("10.0.0.0/33", "10.0.0.0/33"),
        ("fe80::1%eth0", "zone ids"),
        ("fe80::zz", "fe80::zz"),
        ("hooks.test:8080", "ports"),
        ("*.example.com", "wildcards"),
        ("bücher.example", "IDNA"),
        ("bad host", "neither"),
        ("-bad.example", "neither"),
        ("a..b", "neither"),
        ("2130706433", "neither"),
        ("127.1", "neither"),
        ("x" * 64 + ".example", "neither"),
    ],
)
def test_bad_allow_entries(entry: str, problem: str) -> None:
    with pytest.raises(ValueError, match="invalid egress allow entry") as bad:
        EgressPolicy.from_strings([entry])
    assert problem in str(bad.value)
    with pytest.raises(ValueError, match="invalid egress allow entry"):
        EgressPolicy(allow=(entry,))


def test_policy_values_are_checked() -> None:
    with pytest.raises(TypeError, match="tuple"):
        EgressPolicy(allow="hooks.test")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strings"):
        EgressPolicy(allow=(10,))  # type: ignore[arg-type]
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="connect_timeout"):
            EgressPolicy(connect_timeout=bad)
        with pytest.raises(ValueError, match="read_timeout"):
            EgressPolicy(read_timeout=bad)
    with pytest.raises(ValueError, match="max_response_bytes"):
        EgressPolicy(max_response_bytes=-1)
    policy = EgressPolicy()
    assert (policy.connect_timeout, policy.read_timeout) == (
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_READ_TIMEOUT,
    )
    assert policy.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 65536
    assert policy.timeout == httpx.Timeout(10.0, connect=5.0)
    assert EgressPolicy.from_strings(["a.test"], read_timeout=3.0).read_timeout == 3.0


# ------------------------------------------------------------------------- resolve


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    policy = EgressPolicy(resolver=resolver_of({"hooks.example.com": ["10.0.0.5"]}))
    target = policy.check_url("https://hooks.example.com/hook")
    with pytest.raises(EgressRefused) as refused:
        await policy.resolve(target)
    assert refused.value.reason == "address"
    message = str(refused.value)
    assert message.startswith(
        "refused: 10.0.0.5 (resolved from hooks.example.com) is a private address."
    )
    assert "--push-allow hooks.example.com" in message


@pytest.mark.parametrize(
    "answers", [["8.8.8.8", "127.0.0.1"], ["127.0.0.1", "8.8.8.8"]]
)
async def test_one_bad_answer_refuses_the_name(answers: list[str]) -> None:
    policy = EgressPolicy(resolver=resolver_of({"mixed.example": answers}))
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1 .* loopback") as refused:
        await policy.resolve(Target("https", "mixed.example", 443, "/"))
    assert refused.value.reason == "address"


async def test_the_first_good_answer_is_the_one_to_connect_to() -> None:
    resolver = CountingResolver([["2606:4700:4700::1111", "8.8.8.8"]])
    policy = EgressPolicy(resolver=resolver)
    address = await policy.resolve(policy.check_url("https://one.example:8443/"))
    assert address == "2606:4700:4700::1111"
    assert resolver.calls == [("one.example", 8443)]


async def test_allow_listed_names_and_addresses_pass() -> None:
    answers = {"hooks.internal": ["10.0.0.5", "::1"], "other.example": ["10.9.9.9"]}
    policy = EgressPolicy(
        allow=("hooks.internal", "10.0.0.0/8"), resolver=resolver_of(answers)
    )
    assert await policy.resolve(Target("https", "hooks.internal", 443, "/")) == (
        "10.0.0.5"
    )
    assert await policy.resolve(Target("https", "other.example", 443, "/")) == (
        "10.9.9.9"
    )
    mixed = EgressPolicy(
        allow=("10.0.0.0/8",),
        resolver=resolver_of({"m.example": ["10.0.0.5", "192.168.0.1"]}),
    )
    with pytest.raises(EgressRefused, match=r"192\.168\.0\.1 \(resolved from m"):
        await mixed.resolve(Target("https", "m.example", 443, "/"))


async def test_zone_ids_are_refused_even_for_allow_listed_names() -> None:
    policy = EgressPolicy(
        allow=("hooks.internal", "fe80::/10"),
        resolver=resolver_of({"hooks.internal": ["fe80::1%eth0"]}),
    )
    with pytest.raises(EgressRefused, match="has a zone id") as refused:
        await policy.resolve(Target("https", "hooks.internal", 443, "/"))
    assert refused.value.reason == "address"


async def test_literal_targets_are_judged_without_resolving() -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError("a literal address is not resolved")

    policy = EgressPolicy(resolver=never)
    assert await policy.resolve(Target("https", "8.8.8.8", 443, "/")) == "8.8.8.8"
    with pytest.raises(EgressRefused, match="link-local"):
        await policy.resolve(Target("https", "169.254.1.1", 443, "/"))


async def _unanswered(host: str, port: int) -> list[str]:
    await anyio.Event().wait()  # never set: only the deadline ends this
    raise AssertionError("unreachable")


async def _failing(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


async def _empty(host: str, port: int) -> list[str]:
    return []


async def _junk(host: str, port: int) -> list[str]:
    return ["8.8.8.8", "not-an-address"]


@pytest.mark.parametrize(
    ("resolver", "says"),
    [
        (_failing, "did not resolve: .*Name or service not known"),
        (_empty, "has no addresses"),
        (_junk, "answered 'not-an-address' for nowhere.example"),
        (_unanswered, "did not resolve in 0.05 s"),
    ],
)
async def test_resolution_failures(resolver: Resolver, says: str) -> None:
    policy = EgressPolicy(resolver=resolver, connect_timeout=0.05)
    with pytest.raises(EgressRefused, match=says) as refused:
        await policy.resolve(Target("https", "nowhere.example", 443, "/"))
    assert refused.value.reason == "resolution"


async def test_the_system_resolver() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    assert await system_resolver("::1", 80) == ["::1"]


# ------------------------------------------------- the transport, in-memory inner side


class Recording(httpx.AsyncBaseTransport):
    """An inner transport that records what it is asked to send, and its closing."""

    def __init__(self, body: bytes = b"ok") -> None:
        self.requests: list[httpx.Request] = []
        self.closed = False
        self._body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, content=self._body)

    async def aclose(self) -> None:
        self.closed = True


async def test_dns_rebinding_gets_one_answer_per_request() -> None:
    """A name answering public, then loopback: each request resolves once, and the
    request that got the loopback answer never reaches the connection layer."""
    resolver = CountingResolver([["8.8.8.8"], ["127.0.0.1"]])
    inner = Recording()
    policy = EgressPolicy(resolver=resolver)
    transport = EgressTransport(policy, inner=inner)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post("https://rebind.example/hook", json={"a": 1})
        assert response.status_code == 200
        assert response.request.url == "https://rebind.example/hook"
        assert len(resolver.calls) == 1
        with pytest.raises(EgressRefused, match=r"rebind\.example") as refused:
            await client.post("https://rebind.example/hook", json={"a": 2})
        assert "127.0.0.1" in str(refused.value)
        assert "loopback" in str(refused.value)
        assert len(resolver.calls) == 2
    [sent] = inner.requests
    assert sent.url == "https://8.8.8.8/hook"
    assert sent.headers["Host"] == "rebind.example"
    assert sent.extensions["sni_hostname"] == "rebind.example"
    assert sent.headers["Content-Type"] == "application/json"
    assert await sent.aread() == b'{"a":1}'
    assert inner.closed


async def test_ipv6_and_literal_targets_are_pinned_too() -> None:
    inner = Recording()
    policy = EgressPolicy(
        resolver=resolver_of({"six.example": ["2606:4700:4700::1111"]})
    )
    async with httpx.AsyncClient(transport=EgressTransport(policy, inner=inner)) as c:
        await c.get("https://six.example:8443/x?y=1")
        await c.get("https://1.1.1.1/")
    six, literal = inner.requests
    assert six.url == "https://[2606:4700:4700::1111]:8443/x?y=1"
    assert six.headers["Host"] == "six.example:8443"
    assert six.extensions["sni_hostname"] == "six.example"
    assert literal.url == "https://1.1.1.1/"
    assert "sni_hostname" not in literal.extensions


async def test_a_request_without_host_header_gets_one() -> None:
    inner = Recording()
    transport = EgressTransport(EgressPolicy(), inner=inner)
    request = httpx.Request("GET", "https://1.1.1.1:8443/")
    del request.headers["Host"]
    await transport.handle_async_request(request)
    assert inner.requests[0].headers["Host"] == "1.1.1.1:8443"


async def test_the_body_is_bounded() -> None:
    policy = EgressPolicy(max_response_bytes=100)
    inner = Recording(body=b"x" * 10_000)
    async with httpx.AsyncClient(transport=EgressTransport(policy, inner=inner)) as c:
        assert (await c.get("https://1.1.1.1/")).content == b"x" * 100
    nothing = EgressPolicy(max_response_bytes=0)
    async with httpx.AsyncClient(transport=EgressTransport(nothing, inner=inner)) as c:
        assert (await c.get("https://1.1.1.1/")).content == b""


class _Chunks:
    """A plain async iterator (no ``aclose``) over fixed chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None


class _IteratorStream(httpx.AsyncByteStream):
    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Chunks([b"abc", b"def"])


class _SyncStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b"sync"


async def test_inner_streams_of_other_shapes() -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        stream = _IteratorStream() if request.url.path == "/iter" else _SyncStream()
        return httpx.Response(200, stream=stream)

    inner = httpx.MockTransport(answer)
    policy = EgressPolicy(max_response_bytes=4)
    async with httpx.AsyncClient(transport=EgressTransport(policy, inner=inner)) as c:
        assert (await c.get("https://1.1.1.1/iter")).content == b"abcd"
        with pytest.raises(TypeError, match="synchronous stream"):
            await c.get("https://1.1.1.1/sync")


async def test_the_transport_closes_what_it_built() -> None:
    inner = Recording()
    async with EgressTransport(EgressPolicy(), inner=inner):
        pass
    assert inner.closed
    async with EgressTransport(EgressPolicy()) as built:  # its own pools
        assert built.policy == EgressPolicy()
    with pytest.raises(ValueError, match="verify"):
        EgressTransport(EgressPolicy(), inner=inner, verify=False)


async def test_egress_client_settings() -> None:
    policy = EgressPolicy(connect_timeout=2.0, read_timeout=4.0)
    async with egress_client(policy, headers={"User-Agent": "accord"}) as client:
        assert client.follow_redirects is False
        assert client.trust_env is False
        assert client.timeout == httpx.Timeout(4.0, connect=2.0)
        assert client.headers["Accept-Encoding"] == "identity"
        assert client.headers["User-Agent"] == "accord"
    fixed = ("transport", "mounts", "proxy", "follow_redirects", "trust_env", "timeout")
    for option in fixed:
        options: dict[str, Any] = {option: None}
        with pytest.raises(TypeError, match=option):
            egress_client(policy, **options)


# ------------------------------------------------------------- real loopback servers

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: What /huge sends: far more than any bound the tests set.
HUGE_CHUNK, HUGE_CHUNKS = 64 * 1024, 64


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    #: The client's port: one per connection.
    port: int = 0


@dataclass
class Recorder:
    """An ASGI app that records each request: ``/redirect`` answers a 302 to a
    private address, ``/huge`` an endless-looking body, anything else ``ok``."""

    seen: list[Seen] = field(default_factory=list)

    def at(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append(Seen(scope["path"], headers, body, scope["client"][1]))
        if scope["path"] == "/redirect":
            location = [(b"location", b"http://10.0.0.1/")]
            await send(
                {"type": "http.response.start", "status": 302, "headers": location}
            )
            await send({"type": "http.response.body", "body": b""})
        elif scope["path"] == "/huge":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(HUGE_CHUNKS):
                chunk = {"body": b"x" * HUGE_CHUNK, "more_body": True}
                await send({"type": "http.response.body", **chunk})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


@dataclass(frozen=True)
class Server:
    recorder: Recorder
    port: int


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    recorder = Recorder()
    with serve_in_thread(recorder) as url:
        yield Server(recorder, httpx.URL(url).port or 0)


def unique(prefix: str) -> str:
    return f"/{prefix}/{uuid.uuid4().hex}"


def to_loopback(*names: str, allow: tuple[str, ...] = ("hooks.test",)) -> EgressPolicy:
    return EgressPolicy(
        allow=allow, resolver=resolver_of({name: ["127.0.0.1"] for name in names})
    )


async def test_a_post_reaches_the_pinned_address_with_the_original_host(
    server: Server,
) -> None:
    path = unique("pin")
    async with egress_client(to_loopback("hooks.test")) as client:
        response = await client.post(
            f"http://hooks.test:{server.port}{path}?q=1", json={"event": "done"}
        )
    assert (response.status_code, response.text) == (200, "ok")
    [seen] = server.recorder.at(path)
    assert seen.headers["host"] == f"hooks.test:{server.port}"
    assert seen.body == b'{"event":"done"}'


async def test_the_next_address_is_tried_when_one_refuses_connections(
    server: Server,
) -> None:
    # localhost is ::1 and 127.0.0.1; a receiver may listen on one of them only (the
    # server here: 127.0.0.1). 127.0.0.2 is loopback too, and nothing listens there.
    path = unique("fallback")
    answers = ["127.0.0.2", "127.0.0.2", "127.0.0.1"]
    policy = EgressPolicy(
        allow=("hooks.test",), resolver=resolver_of({"hooks.test": answers})
    )
    assert await policy.resolve_all(policy.check_url("http://hooks.test/")) == [
        "127.0.0.2",
        "127.0.0.1",
    ]
    async with egress_client(policy) as client:
        response = await client.post(f"http://hooks.test:{server.port}{path}", json={})
    assert response.status_code == 200
    [seen] = server.recorder.at(path)
    assert seen.headers["host"] == f"hooks.test:{server.port}"
    # When no address answers, the last failure is the caller's.
    dead = EgressPolicy(
        allow=("hooks.test",), resolver=resolver_of({"hooks.test": ["127.0.0.2"]})
    )
    async with egress_client(dead) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://hooks.test:{server.port}{path}", json={})


async def test_the_pools_take_the_limits_given(server: Server) -> None:
    # Two connections at most: eight requests at once share them (by default each
    # would open its own).
    path = unique("pool")
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with (
        egress_client(to_loopback("hooks.test"), limits=limits) as client,
        anyio.create_task_group() as tg,
    ):
        for _ in range(8):
            tg.start_soon(client.post, f"http://hooks.test:{server.port}{path}")
    seen = server.recorder.at(path)
    assert len(seen) == 8
    assert len({s.port for s in seen}) <= 2


async def test_a_refused_answer_stops_the_request_before_any_connection(
    server: Server,
) -> None:
    """``rebind.test`` (not allow-listed) answers the server's own address: nothing
    is sent. A request to an allow-listed name afterwards shows the server is up."""
    policy = EgressPolicy(
        allow=("hooks.test",),
        require_https=False,
        resolver=resolver_of(
            {"hooks.test": ["127.0.0.1"], "rebind.test": ["127.0.0.1"]}
        ),
    )
    refused_path, control_path = unique("refused"), unique("control")
    async with egress_client(policy) as client:
        with pytest.raises(EgressRefused, match=r"resolved from rebind\.test"):
            await client.post(f"http://rebind.test:{server.port}{refused_path}")
        response = await client.post(f"http://hooks.test:{server.port}{control_path}")
    assert response.status_code == 200
    assert server.recorder.at(control_path) != []
    assert server.recorder.at(refused_path) == []


async def test_redirects_are_returned_not_followed(server: Server) -> None:
    policy = to_loopback("hooks.test")
    async with egress_client(policy) as client:
        response = await client.get(f"http://hooks.test:{server.port}/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://10.0.0.1/"
    assert response.next_request is not None  # what a follower would send next
    # A client that follows redirects anyway still has every hop checked.
    transport = EgressTransport(policy)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(EgressRefused, match=r"10\.0\.0\.1 is a private") as refused:
            await client.get(f"http://hooks.test:{server.port}/redirect")
    assert refused.value.reason == "address"


class _CountingStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, counter: list[int]) -> None:
        self._stream, self._counter = stream, counter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._stream.__aiter__()
        try:
            async for chunk in chunks:
                self._counter.append(len(chunk))
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await self._stream.aclose()


class Counting(httpx.AsyncHTTPTransport):
    """A real transport that counts the body bytes it reads from the network."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self.read: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountingStream(response.stream, self.read)
        return response


#: Closing a response before its end leaves httpx's and httpcore's nested body
#: generators to the garbage collector, which trio reports (encode/httpx#3686; the
#: same filter as tests/client/helpers.py). EgressTransport closes the iterator it
#: reads; the ones nested inside httpx are out of its reach.
HTTPX_TRIO_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:Async generator 'http(x|core)\.[^']*' was garbage collected:ResourceWarning"
)


@HTTPX_TRIO_WARNINGS
async def test_a_huge_body_is_read_only_up_to_the_bound(server: Server) -> None:
    limit = 1000
    policy = EgressPolicy(
        allow=("hooks.test",),
        max_response_bytes=limit,
        resolver=resolver_of({"hooks.test": ["127.0.0.1"]}),
    )
    inner = Counting()
    async with httpx.AsyncClient(transport=EgressTransport(policy, inner=inner)) as c:
        response = await c.get(f"http://hooks.test:{server.port}/huge")
    assert response.content == b"x" * limit
    assert limit <= sum(inner.read) <= limit + 64 * 1024  # httpcore reads 64 KiB
    assert sum(inner.read) < HUGE_CHUNK * HUGE_CHUNKS
    async with egress_client(policy) as client:
        streamed = await client.get(f"http://hooks.test:{server.port}/huge")
    assert len(streamed.content) == limit


# --------------------------------------------------------------------- TLS with SNI


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    ca: tuple[x509.Certificate, Any] | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = (ca[0].subject, ca[1]) if ca else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
    )
    if ca is None:
        usage = x509.KeyUsage(
            True, False, False, False, False, True, True, False, False
        )
        builder = builder.add_extension(usage, critical=True)
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key())
        builder = (
            builder.add_extension(aki, critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class TLSFiles:
    ca: Path
    certs: dict[str, tuple[Path, Path]]  # name -> (certificate, key)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA and two server certificates it signed: hooks.test, other.test."""
    folder = tmp_path_factory.mktemp("egress-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("egress test CA", ca_key, None)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs = {}
    for name in ("hooks.test", "other.test"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, key, (ca, ca_key))
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        certs[name] = (cert_path, key_path)
    return TLSFiles(folder / "ca.pem", certs)


@pytest.fixture(scope="module")
def tls_servers(tls_files: TLSFiles) -> Iterator[dict[str, Server]]:
    """One https server per certificate, all on 127.0.0.1."""
    servers: dict[str, Server] = {}
    with (
        serve_in_thread(
            (good := Recorder()),
            ssl_certfile=str(tls_files.certs["hooks.test"][0]),
            ssl_keyfile=str(tls_files.certs["hooks.test"][1]),
        ) as good_url,
        serve_in_thread(
            (other := Recorder()),
            ssl_certfile=str(tls_files.certs["other.test"][0]),
            ssl_keyfile=str(tls_files.certs["other.test"][1]),
        ) as other_url,
    ):
        servers["hooks.test"] = Server(good, httpx.URL(good_url).port or 0)
        servers["other.test"] = Server(other, httpx.URL(other_url).port or 0)
        yield servers


def verification_error(exc: BaseException) -> str:
    """The certificate check's message, from wherever the backend put the error (on
    trio the ``ConnectError`` wraps a ``BrokenResourceError`` caused by it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message)
        seen = seen.__cause__ or seen.__context__
    raise AssertionError(f"no certificate verification error in {exc!r}")


async def test_https_verifies_the_certificate_against_the_name(
    tls_files: TLSFiles, tls_servers: dict[str, Server]
) -> None:
    """The certificate names hooks.test only (no IP address), so the handshake
    succeeds only if TLS checked the name while connecting to 127.0.0.1."""
    trust = ssl.create_default_context(cafile=str(tls_files.ca))
    server = tls_servers["hooks.test"]
    path = unique("tls")
    async with egress_client(to_loopback("hooks.test"), verify=trust) as client:
        response = await client.post(f"https://hooks.test:{server.port}{path}")
    assert (response.status_code, response.text) == (200, "ok")
    [seen] = server.recorder.at(path)
    assert seen.headers["host"] == f"hooks.test:{server.port}"


async def test_https_refuses_a_certificate_for_another_name(
    tls_files: TLSFiles, tls_servers: dict[str, Server]
) -> None:
    trust = ssl.create_default_context(cafile=str(tls_files.ca))
    server = tls_servers["other.test"]
    async with egress_client(to_loopback("hooks.test"), verify=trust) as client:
        with pytest.raises(httpx.ConnectError) as failed:
            await client.get(f"https://hooks.test:{server.port}/")
    assert "not valid for 'hooks.test'" in verification_error(failed.value)
    assert server.recorder.seen == []


async def test_https_without_trusting_the_ca_fails(
    tls_servers: dict[str, Server],
) -> None:
    server = tls_servers["hooks.test"]
    async with egress_client(to_loopback("hooks.test")) as client:
        with pytest.raises(httpx.ConnectError) as failed:
            await client.get(f"https://hooks.test:{server.port}/untrusted")
    assert "local issuer" in verification_error(failed.value)
    assert server.recorder.at("/untrusted") == []
