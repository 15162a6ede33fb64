"""Outbound HTTP that a remote partner cannot turn against the server (SSRF guard).

Theory of operation. Partners hand Accord URLs (push-notification webhooks; later,
agent cards for the registry) that the server then requests. Unguarded,
``http://169.254.169.254/`` reads the cloud's credentials and ``http://10.0.0.5/``
reaches the private network. So every outbound request passes three steps:

1. :meth:`EgressPolicy.check_url` (sans-IO) parses the URL with httpx's parser, the one
   the request will use (two parsers that disagree are a classic bypass), and refuses
   credentials in the URL, odd schemes and ports, hosts only legacy IPv4 parsers read
   (``2130706433``, ``127.1``, ``0x7f.1``), IPv6 zone ids, literal addresses in a
   refused class, and plain ``http://`` to hosts off the allow list. Config creation
   calls it, so a partner learns at once.
2. :meth:`EgressPolicy.resolve` asks the resolver **once** and refuses when *any*
   answer is in a refused class of :data:`ADDRESS_RULES` (which answer a connection
   would use is not ours to choose).
3. :class:`EgressTransport` connects to that checked address and no other: the URL's
   host becomes the address, the ``Host`` header keeps the name, and for https the
   ``sni_hostname`` request extension (httpcore passes it to TLS as
   ``server_hostname``) has the certificate verified against the name. Nothing
   resolves the name again, so an answer that changes between check and connect (DNS
   rebinding) cannot slip in. At most ``max_response_bytes`` of a body are read.

The allow list (``--push-allow HOST_OR_CIDR``) is the one way around the rules, for
tests and internal deployments: an allow-listed host or address may be in any address
class and use plain ``http://``. Redirects are not followed (:func:`egress_client`);
a client that follows them anyway still sends every hop through the transport.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any, Final, TypeAlias

import anyio
import httpx

from accord._net import (
    ADDRESS_RULES,
    AddressRule,
    IPAddress,
    IPNetwork,
    address_class,
    judge_address,
    literal_address,
)

__all__ = [
    "ADDRESS_RULES",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "AddressRule",
    "EgressPolicy",
    "EgressRefused",
    "EgressTransport",
    "Resolver",
    "Target",
    "address_class",
    "egress_client",
    "system_resolver",
]

#: ``(host, port) -> addresses``: the outer edge that tests replace.
Resolver: TypeAlias = Callable[[str, int], Awaitable[Sequence[str]]]

#: Seconds to resolve, and again to connect: a webhook receiver that cannot accept a
#: connection in 5 s is down, and waiting longer only ties up the sender.
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
#: Seconds to send the request, and between bytes of the answer.
DEFAULT_READ_TIMEOUT: Final = 10.0
#: Bytes read of an answer. Deliveries only need the status; 64 KiB keeps an error page
#: readable for the log while an endless hostile body costs nothing.
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: WHATWG URL "ends in a number": such hosts are IPv4 in legacy forms (``127.1``,
#: ``0x7f.1``, ``2130706433``) that inet_aton reads and ``ipaddress`` does not.
_NUMERIC_LABEL: Final = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_HOST_LABEL: Final = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


class EgressRefused(Exception):
    """Raised when a URL, or an address it resolves to, may not be requested.

    The message starts with ``refused:`` and says what to do; ``reason`` is a code:

    ==============  ===========================================================
    ``url``         the URL does not parse
    ``scheme``      not http(s), or plain http to a host off the allow list
    ``userinfo``    credentials in the URL (``user:pass@``)
    ``host``        empty host, legacy numeric IPv4 form, IPv6 zone id
    ``port``        outside 1..65535
    ``address``     a literal or resolved address in a refused class
    ``resolution``  the name did not resolve (error, timeout, no or bad answer)
    ==============  ===========================================================
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"refused: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL (:meth:`EgressPolicy.check_url`).

    ``host`` is ASCII (IDNA-encoded name, or IPv6 address without brackets) and
    ``port`` explicit (80 or 443 when the URL names none).
    """

    scheme: str
    host: str
    port: int
    path_and_query: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path_and_query}"


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``): addresses in its order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    inet = (socket.AF_INET, socket.AF_INET6)
    return list(dict.fromkeys(str(info[4][0]) for info in infos if info[0] in inet))


#: Allow-list entries refused by what they contain, and why.
_ENTRY_MARKS: Final = (
    ("://", "give a host name, address or CIDR, not a URL"),
    ("%", "IPv6 zone ids are not supported"),
    ("*", "wildcards are not supported; list each host"),
)


def _allow_entry(entry: str) -> str | IPNetwork:
    """A validated allow-list entry: a lower-case host name or a network."""
    if not isinstance(entry, str):
        raise TypeError(f"allow entries are strings, not {type(entry).__name__}")

    def bad(problem: str) -> ValueError:
        return ValueError(f"invalid egress allow entry {entry!r}: {problem}")

    text = entry.strip()
    if not text:
        raise bad("it is empty")
    for mark, problem in _ENTRY_MARKS:
        if mark in text:
            raise bad(problem)
    try:
        return ipaddress.ip_network(text.removeprefix("[").removesuffix("]"))
    except ValueError as exc:
        if "/" in text or text.count(":") > 1:
            raise bad(str(exc)) from None  # e.g. "10.0.0.1/8 has host bits set"
    name = text.lower().removesuffix(".")
    if ":" in name:
        raise bad("ports are not part of an entry; give the bare host")
    if not name.isascii():
        raise bad("give an internationalised name in its IDNA (xn--) form")
    labels = name.split(".")
    if (
        len(name) > 253
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or _NUMERIC_LABEL.fullmatch(labels[-1])
    ):
        raise bad("it is neither a host name nor an IP address or CIDR")
    return name


def _allow_hint(what: str) -> str:
    return (
        f"If {what} is meant to be reached (tests, an internal deployment), put it on"
        f" the allow list: --push-allow {what}"
    )


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """What outbound requests may reach, and how much of an answer is read.

    Attributes:
        allow: host names (exact, case-insensitive), IP addresses and CIDRs that may
            be reached whatever their address class, over plain http too.
        require_https: refuse plain ``http://`` to targets off the allow list.
        connect_timeout: seconds to resolve, and again to connect.
        read_timeout: seconds to send the request, and between bytes of the answer.
        max_response_bytes: bytes read of an answer's body; the rest is dropped.
        resolver: ``(host, port) -> addresses``; :func:`system_resolver` by default.

    Raises:
        ValueError: an allow entry, timeout or size is invalid (the message says which).
    """

    allow: tuple[str, ...] = ()
    require_https: bool = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    resolver: Resolver = field(default=system_resolver, repr=False)
    _hosts: frozenset[str] = field(init=False, repr=False, compare=False)
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.allow, str):
            raise TypeError("allow is a tuple of entries, not one string")
        entries = [_allow_entry(entry) for entry in self.allow]
        networks = tuple(e for e in entries if not isinstance(e, str))
        hosts = frozenset(e for e in entries if isinstance(e, str))
        object.__setattr__(self, "_hosts", hosts)
        object.__setattr__(self, "_networks", networks)
        for name in ("connect_timeout", "read_timeout"):
            if not (math.isfinite(seconds := getattr(self, name)) and seconds > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")

    @classmethod
    def from_strings(cls, allow: Iterable[str], **options: Any) -> EgressPolicy:
        """A policy from command-line strings (``--push-allow HOST_OR_CIDR``, repeated).

        Entries are trimmed, names lower-cased, networks written in their canonical
        form, duplicates dropped; ``options`` are the other fields.

        Raises:
            ValueError: an entry is neither a host name nor an IP address or CIDR.
        """
        normalised = (str(_allow_entry(entry)) for entry in allow)
        return cls(allow=tuple(dict.fromkeys(normalised)), **options)

    @property
    def timeout(self) -> httpx.Timeout:
        """The policy's timeouts, as httpx takes them."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def _allows_host(self, host: str) -> bool:
        return host.lower().removesuffix(".") in self._hosts

    def _allows_address(self, address: IPAddress) -> bool:
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # on the wire, ::ffff:10.0.0.5 is 10.0.0.5
        return any(address in network for network in self._networks)

    def _check_address(self, address: IPAddress, host: str | None) -> None:
        """Raise :class:`EgressRefused` unless ``address`` may be connected to."""
        origin = "" if host is None else f" (resolved from {host})"
        if isinstance(address, IPv6Address) and address.scope_id is not None:
            raise EgressRefused(
                "address", f"{address}{origin} has a zone id, naming a local interface"
            )
        verdict = None if self._allows_address(address) else judge_address(address)
        if verdict is not None:
            hint = _allow_hint(host or str(address))
            raise EgressRefused("address", f"{address}{origin} is {verdict[1]}. {hint}")

    def check_url(self, url: str | httpx.URL) -> Target:
        """Check ``url`` without resolving it; return what to request.

        Raises:
            EgressRefused: the URL may not be requested (``.reason`` says why).
        """
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise EgressRefused("url", f"{url!r} is not a URL: {exc}") from exc
        scheme, host = parsed.scheme, parsed.raw_host.decode("ascii")
        port = _DEFAULT_PORTS.get(scheme, 0) if parsed.port is None else parsed.port
        address = literal_address(host)
        last_label = host.removesuffix(".").rsplit(".", 1)[-1]
        # fmt: off
        refusals = (  # (refused?, reason, message), in order
            (scheme not in _DEFAULT_PORTS, "scheme", f"{str(url)!r}: use an https:// URL"),
            (bool(parsed.userinfo), "userinfo", "credentials in the URL (user:pass@); send them in a header"),
            (not host, "host", f"{str(url)!r} names no host"),
            ("%" in host, "host", f"{host} has a zone id, naming a local interface"),
            (not 1 <= port <= 65535, "port", f"port {port} is not in 1..65535"),
            (address is None and bool(_NUMERIC_LABEL.fullmatch(last_label)), "host",
             f"{host} is a legacy numeric IPv4 form; write it as a.b.c.d"),
        )
        # fmt: on
        for refused, reason, message in refusals:
            if refused:
                raise EgressRefused(reason, message)
        listed = self._allows_host(host)
        if address is not None:
            self._check_address(address, None)
            listed = self._allows_address(address)
        if scheme == "http" and self.require_https and not listed:
            message = f"plain http:// to {host}; use https://. {_allow_hint(host)}"
            raise EgressRefused("scheme", message)
        return Target(scheme, host, port, parsed.raw_path.decode("ascii"))

    async def resolve(self, target: Target) -> str:
        """Resolve ``target`` once; return the address to connect to (the first).

        Every answer must be allowed, unless ``target.host`` is allow-listed. The
        resolver gets ``connect_timeout`` seconds; a literal address is not resolved.

        Raises:
            EgressRefused: ``"resolution"`` when the name does not resolve,
                ``"address"`` when an answer is refused.
        """
        return (await self.resolve_all(target))[0]

    async def resolve_all(self, target: Target) -> list[str]:
        """Resolve ``target`` once; return every address to try, in the resolver's
        order without repeats (``localhost`` is ``::1`` and ``127.0.0.1``, and a
        receiver may listen on one of them only). Checked as for :meth:`resolve`.

        Raises:
            EgressRefused: as :meth:`resolve`.
        """
        host = target.host
        if (literal := literal_address(host)) is not None:
            self._check_address(literal, None)
            return [str(literal)]
        try:
            with anyio.fail_after(self.connect_timeout):
                answers = list(await self.resolver(host, target.port))
        except TimeoutError as exc:
            message = f"{host} did not resolve in {self.connect_timeout} s"
            raise EgressRefused("resolution", message) from exc
        except Exception as exc:  # the resolver's own failure, whatever its type
            raise EgressRefused("resolution", f"{host} did not resolve: {exc}") from exc
        if not answers:
            raise EgressRefused("resolution", f"{host} has no addresses")
        host_allowed = self._allows_host(host)
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer)
            except ValueError as exc:
                raise EgressRefused(
                    "resolution", f"the resolver answered {answer!r} for {host}"
                ) from exc
            if not host_allowed or (address.version == 6 and "%" in answer):
                self._check_address(address, host)  # zone ids never pass
        return list(dict.fromkeys(str(ipaddress.ip_address(a)) for a in answers))


class _BoundedStream(httpx.AsyncByteStream):
    """A response body that ends after ``limit`` bytes, whatever the peer sends.

    At most one network read (64 KiB) past ``limit`` is made; closing the response
    then closes the connection instead of draining the rest.
    """

    def __init__(self, stream: httpx.AsyncByteStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self._limit
        chunks = aiter(self._stream)
        try:
            while remaining > 0:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                yield chunk[:remaining]
                remaining -= len(chunk)
        finally:  # close what we iterate now, not when it is garbage collected
            if (close := getattr(chunks, "aclose", None)) is not None:
                await close()

    async def aclose(self) -> None:
        await self._stream.aclose()


class EgressTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each request only to an address its policy allows.

    Each request is checked (:meth:`EgressPolicy.check_url`), resolved once
    (:meth:`EgressPolicy.resolve`) and sent to the checked address, its ``Host``
    header and TLS server name staying the URL's host; its body is bounded. Like any
    transport it does not follow redirects; clients must not either
    (``follow_redirects=False``, as :func:`egress_client` sets).

    Plain http connections are pooled; https ones are not kept alive, because a pool
    keyed by address would let a request for one name reuse a connection whose
    certificate was verified for another name at that address.

    Args:
        policy: what may be reached.
        verify: TLS verification as httpx takes it (an ``ssl.SSLContext`` trusting a
            private CA, say).
        inner: where pinned requests go instead of the pools built here (it must
            honour the ``sni_hostname`` extension); closed with this transport.
        limits: the connection pools' bounds (httpx's default: 100 connections, 20
            kept alive); set them to the requests this transport has in flight at
            once, or connections are opened and closed over and over.

    Raises:
        EgressRefused: from :meth:`handle_async_request`, before any connection.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        inner: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.policy = policy
        self._plain: httpx.AsyncBaseTransport
        self._tls: httpx.AsyncBaseTransport
        if inner is not None:
            if verify is not True:
                raise ValueError("configure verify on the inner transport")
            self._plain = self._tls = inner
            return
        if not isinstance(verify, ssl.SSLContext):  # one context for both pools
            verify = httpx.create_ssl_context(verify=verify, trust_env=False)
        limits = limits or httpx.Limits()
        self._plain = httpx.AsyncHTTPTransport(
            verify=verify, trust_env=False, limits=limits
        )
        self._tls = httpx.AsyncHTTPTransport(
            verify=verify,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=limits.max_connections, max_keepalive_connections=0
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check ``request``, resolve its host once, send it to a checked address:
        the next one when a connection to one cannot be made."""
        target = self.policy.check_url(request.url)
        addresses = await self.policy.resolve_all(target)
        for address in addresses[:-1]:
            try:
                return await self._send(request, target, address)
            except httpx.ConnectError:
                continue  # nothing was sent: the next address
        return await self._send(request, target, addresses[-1])

    async def _send(
        self, request: httpx.Request, target: Target, address: str
    ) -> httpx.Response:
        extensions = dict(request.extensions)
        inner = self._plain
        if target.scheme == "https":
            inner = self._tls
            if target.host != address:  # a name: verify the certificate against it
                extensions["sni_hostname"] = target.host
        headers = request.headers.copy()
        headers.setdefault("Host", request.url.netloc.decode("ascii"))
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=headers,
            stream=request.stream,
            extensions=extensions,
        )
        response = await inner.handle_async_request(pinned)
        if not isinstance(body := response.stream, httpx.AsyncByteStream):
            raise TypeError("the inner transport answered a synchronous stream")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_BoundedStream(body, self.policy.max_response_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the inner transports and their connection pools."""
        try:
            await self._plain.aclose()
        finally:
            if self._tls is not self._plain:
                await self._tls.aclose()


#: Client options :func:`egress_client` decides itself.
_FIXED_OPTIONS: Final = frozenset(
    {"transport", "mounts", "proxy", "follow_redirects", "trust_env", "timeout"}
)


def egress_client(
    policy: EgressPolicy,
    *,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` sending every request through :class:`EgressTransport`.

    It does not follow redirects, ignores proxy and ``.netrc`` settings from the
    environment (``trust_env=False``), takes its timeouts from ``policy``, and asks
    for uncompressed answers: ``max_response_bytes`` bounds the bytes on the wire, and
    a compressed body would inflate past it. ``kwargs`` go to the client
    (``headers``, ``event_hooks``, ...).

    Raises:
        TypeError: ``kwargs`` sets an option this function decides.
    """
    if fixed := sorted(_FIXED_OPTIONS & kwargs.keys()):
        raise TypeError(f"egress_client sets {', '.join(fixed)} itself")
    headers = httpx.Headers(kwargs.pop("headers", None))
    headers.setdefault("Accept-Encoding", "identity")
    return httpx.AsyncClient(
        transport=EgressTransport(policy, verify=verify, limits=limits),
        follow_redirects=False,
        trust_env=False,
        timeout=policy.timeout,
        headers=headers,
        **kwargs,
    )
