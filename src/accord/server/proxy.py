"""Where callers reach the app: the public URL, trusted proxies, valid hosts.

The Agent Card lists absolute URLs (spec §8.3.1: each interface's ``url``), so the
server must say which URL its callers use. Request headers are the caller's words, not
facts: a ``Host`` or ``X-Forwarded-Host`` may name anything, and a card built from it
would point partners elsewhere (and, cached by a shared cache, poison it for everyone).
The base URL therefore comes from, in this order:

1. the configured public URL (``A2AApp(public_url=...)``, ``accord serve
   --public-url``): fixed, request headers play no part;
2. behind a trusted proxy (the peer address, ASGI ``scope["client"]``, is in
   ``forwarded_allow_ips``; loopback only by default, as uvicorn does):
   ``X-Forwarded-Proto`` and ``X-Forwarded-Host``, each used only when valid;
3. otherwise the ``Host`` header, when it is a valid ``host[:port]``;
4. else the address the server is bound to (ASGI ``scope["server"]``).

A forwarded value is the last one of its header (the one the nearest proxy, the
trusted one, wrote); a scheme other than ``http``/``https`` or a host that is not a
plain ``host[:port]`` is never echoed: the bound address is used instead. ``Forwarded``
(RFC 7239) is not read.

A signed card is never built from request headers (see :mod:`accord.server.card`): it
uses the public URL, or :func:`bound_base_url`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_FORWARDED_ALLOW_IPS",
    "BaseUrl",
    "ForwardedAllowList",
    "bound_base_url",
    "check_public_url",
    "parse_host",
    "request_base_url",
]

#: Peers whose forwarded headers are believed unless configured otherwise: loopback
#: only (uvicorn's default for its own ``--forwarded-allow-ips``).
DEFAULT_FORWARDED_ALLOW_IPS = ("127.0.0.1", "::1")

#: ``Vary`` of a card derived from the ``Host`` header alone / also from a trusted
#: proxy's forwarded headers (RFC 9110 §12.5.5).
VARY_HOST: tuple[str, ...] = ("Host",)
VARY_FORWARDED = ("Host", "X-Forwarded-Host", "X-Forwarded-Proto")

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(
    rf"(?P<name>{_LABEL}(?:\.{_LABEL})*|\[(?P<v6>[0-9A-Fa-f:.]+)\])(?::(?P<port>[0-9]{{1,5}}))?"
)
_SCHEMES = ("http", "https")


def parse_host(value: str) -> str | None:
    """``value`` as a lower-case ``host[:port]`` if it is exactly one, else None.

    A host is a DNS name (letters, digits, ``-``, ``_``, dots), an IPv4 address or a
    bracketed IPv6 address; the port is 1-65535. Anything else (``user@host``, paths,
    spaces, several hosts) is refused, so it can never reach a URL.
    """
    if len(value) > 260:
        return None
    match = _HOST.fullmatch(value)
    if match is None:
        return None
    if match["v6"] is not None:
        try:
            ipaddress.IPv6Address(match["v6"])
        except ValueError:
            return None
    port = match["port"]
    if port is not None and not 0 < int(port) <= 65535:
        return None
    return value.lower()


def check_public_url(url: str) -> str:
    """``url`` as the app's public base URL (no trailing slash).

    Raises:
        ValueError: not an ``http(s)://host[:port][/path]`` URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(
            f"public URL {url!r} must start with https:// (or http://), e.g. "
            "https://agents.example.com/echo"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"public URL {url!r} must not carry credentials, a query or a fragment"
        )
    host = parse_host(parts.netloc)
    if host is None:
        raise ValueError(f"public URL {url!r}: {parts.netloc!r} is not a valid host")
    return f"{parts.scheme.lower()}://{host}{parts.path}".rstrip("/")


class ForwardedAllowList:
    """The peers whose ``X-Forwarded-Host`` / ``X-Forwarded-Proto`` are believed.

    ``entries``: IP addresses and networks (``10.0.0.0/8``), as an iterable or one
    comma-separated string; ``*`` trusts every peer (only when no client can reach the
    app except through the proxy).

    Raises:
        ValueError: an entry is neither an address, a network nor ``*``.
    """

    __slots__ = ("_all", "_known", "_networks", "entries")

    #: Peer addresses whose verdict is remembered (parsing an address per request
    #: costs more than the rest of the check); the memory is cleared when full.
    MEMORY = 1024

    def __init__(self, entries: str | Iterable[str] = DEFAULT_FORWARDED_ALLOW_IPS):
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        cleaned = tuple(e.strip() for e in items if e.strip())
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in cleaned:
            if entry == "*":
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                raise ValueError(
                    f"forwarded-allow-ips: {entry!r} is not an IP address or network "
                    "(give e.g. 127.0.0.1,10.0.0.0/8, or * to trust every peer)"
                ) from None
        #: The entries as given (cleaned), for display.
        self.entries = cleaned
        self._all = "*" in cleaned
        self._networks = tuple(networks)
        self._known: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"ForwardedAllowList({','.join(self.entries)!r})"

    def trusts(self, client: Any) -> bool:
        """True when ``client`` (the ASGI ``scope["client"]``) is a trusted proxy."""
        if self._all:
            return True
        if not client:
            return False
        host = str(client[0])
        verdict = self._known.get(host)
        if verdict is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                verdict = False
            else:
                verdict = any(address in network for network in self._networks)
            if len(self._known) >= self.MEMORY:
                self._known.clear()
            self._known[host] = verdict
        return verdict


@dataclass(frozen=True, slots=True)
class BaseUrl:
    """A base URL (no trailing slash) and the request headers it was derived from."""

    url: str
    vary: tuple[str, ...] = ()


def _header(scope: Mapping[str, Any], name: bytes, *, last: bool = False) -> str | None:
    """Header ``name``, or None; with ``last``, the last item of its comma list."""
    found: str | None = None
    for key, value in scope.get("headers", ()):
        if key == name:
            found = bytes(value).decode("latin-1")
            if not last:
                break
    if found is None:
        return None
    return found.rsplit(",", 1)[-1].strip() if last else found.strip()


def _scheme(scope: Mapping[str, Any]) -> str:
    scheme = str(scope.get("scheme") or "http").lower()
    return scheme if scheme in _SCHEMES else "http"


def bound_base_url(scope: Mapping[str, Any]) -> str:
    """The base URL of the address this connection reached (ASGI ``server``).

    Only the server's own facts: its socket address, the scheme it speaks and the
    ``root_path`` it was mounted at; nothing the caller sent.
    """
    server = scope.get("server")
    if server and server[1] is not None:
        host = str(server[0])
        if ":" in host:
            host = f"[{host}]"
        host = f"{host}:{server[1]}"
    elif server:
        host = str(server[0])
    else:
        host = "localhost"
    return f"{_scheme(scope)}://{host}{scope.get('root_path', '')}".rstrip("/")


def request_base_url(scope: Mapping[str, Any], allow: ForwardedAllowList) -> BaseUrl:
    """The base URL as this caller addressed the app (rules in the module docstring)."""
    scheme = _scheme(scope)
    raw_host = _header(scope, b"host")
    vary = VARY_HOST
    if allow.trusts(scope.get("client")):
        vary = VARY_FORWARDED
        proto = _header(scope, b"x-forwarded-proto", last=True)
        if proto is not None:
            if proto.lower() not in _SCHEMES:
                return BaseUrl(bound_base_url(scope), vary)
            scheme = proto.lower()
        forwarded_host = _header(scope, b"x-forwarded-host", last=True)
        if forwarded_host is not None:
            raw_host = forwarded_host
    if raw_host is None:
        return BaseUrl(bound_base_url(scope), vary)
    host = parse_host(raw_host)
    if host is None:
        return BaseUrl(bound_base_url(scope), vary)
    return BaseUrl(f"{scheme}://{host}{scope.get('root_path', '')}".rstrip("/"), vary)
