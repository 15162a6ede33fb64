"""Agent-card discovery, HTTP caching, and interface selection.

Theory of operation.

*Where.* :meth:`CardResolver.get` takes either a card URL (ending in ``.json`` or
containing ``/.well-known/``) or an agent's base URL, to which it appends
``/.well-known/agent-card.json`` (spec §8.2). A base URL with a path keeps its path
(``https://host/agents/a`` → ``https://host/agents/a/.well-known/agent-card.json``):
that is where path-hosted agents publish their cards (spec §8.2).

*Caching* (spec §8.6, RFC 9111, per card URL). A fetched card is reused without a
request while it is fresh: ``Cache-Control: max-age`` (minus ``Age``), else
``Expires``, else the resolver's default TTL (spec §8.6 allows a local default when the
response says nothing). ``no-store`` keeps nothing; ``no-cache`` stores the card but
revalidates before every use. A stale card is revalidated with ``If-None-Match``
(``ETag``) and ``If-Modified-Since`` (``Last-Modified``); a ``304 Not Modified`` keeps
the cached card and refreshes its lifetime from the 304's headers.

*Signatures* (spec §8.4.3). A resolver built with ``trust=`` (an
:class:`accord.security.TrustStore`) accepts only cards with a signature that verifies
with a trusted key: the received JSON is checked before the card is decoded, cached or
returned, and a failure raises the specific
:class:`~accord.errors.SecurityError` (``SignatureError``, ``UnknownKeyError``,
``KeyExpiredError``, ``AlgorithmError``), so a client never talks to an agent whose
card did not verify. The trust store's ``jwks_urls`` are fetched here
(:func:`fetch_jwks`, HTTPS only except to loopback) and fetched again once when a
signature names a ``kid`` none of them has (the agent rotated its key). A ``jku`` in a
signature is never fetched unless it is one of those URLs.

*Selection* (spec §8.3.2, MUST). A client takes the earliest
``supportedInterfaces`` entry whose ``protocolBinding`` and ``protocolVersion`` it
supports; :func:`suitable_interfaces` lists every such entry (the later ones are
fallbacks, spec §5.2 SHOULD) and :func:`select_interface` returns the first.

*An entry without* ``protocolVersion`` (REQUIRED by spec §8.3.1, yet missing from
cards built with the official SDK's ``AgentInterface(url=…, protocol_binding=…)``, its
hello-world sample among them) is taken as ``1.0``, with a logged warning: the
``supportedInterfaces`` list exists only from A2A 1.0 on (a v0.3 card has none, spec
§3.6.2 and Appendix A), so an entry in it was written for 1.0. Such entries rank
after every entry that does state a supported version, so a conforming entry always
wins (spec §8.3.2: the client must support the version it picks; an assumed version
is the weaker claim). ``ClientConfig.preferred_bindings`` (the CLI's ``--binding``)
still picks the binding first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from accord._net import is_loopback_host
from accord.bindings import v03, v03_card
from accord.errors import (
    CardError,
    ParseError,
    ProtocolError,
    TransportError,
    UnknownKeyError,
)
from accord.protocol.versioning import (
    CURRENT_VERSION,
    SUPPORTED_VERSIONS,
    normalize_version,
)
from accord.types import AgentCard, AgentInterface, convert, decode, decode_json

from ._http import map_httpx_exceptions, request_headers
from .config import BINDINGS, ClientTimeouts

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from accord.security import JWKSet, TrustStore

__all__ = [
    "ASSUMED_VERSION",
    "WELL_KNOWN_PATH",
    "CardResolver",
    "card_url",
    "decode_card",
    "fetch_json_document",
    "fetch_jwks",
    "select_interface",
    "speaks",
    "suitable_interfaces",
    "unversioned",
]

#: Registered well-known location of a v1.0 agent card (spec §8.2, RFC 8615).
WELL_KNOWN_PATH = "/.well-known/agent-card.json"

logger = logging.getLogger(__name__)


def _secure_location(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine (spec §8.4.3: keys over secure channels)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname or "")


async def fetch_json_document(
    http: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    timeouts: ClientTimeouts | None = None,
    headers: Mapping[str, str] | None = None,
    follow_redirects: bool,
) -> Any:
    """GET a JSON document (a card, a JWKS) and return it decoded.

    Raises:
        CardError: the answer is not 200 (``status_code`` set) or not JSON; the
            message starts with ``what`` ("Agent card", "JWKS").
        TransportError: the document could not be fetched (e.g. ``ConnectError``).
    """
    with map_httpx_exceptions(url):
        response = await http.get(
            url,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=(timeouts or ClientTimeouts()).for_card(),
            follow_redirects=follow_redirects,
        )
    if response.status_code != 200:
        raise CardError(
            f"{what} at {url}: HTTP {response.status_code}",
            status_code=response.status_code,
        )
    try:
        return decode_json(response.content)
    except ParseError:
        raise CardError(f"{what} at {url} is not JSON") from None


async def fetch_jwks(
    http: httpx.AsyncClient,
    url: str,
    *,
    timeouts: ClientTimeouts | None = None,
    headers: Mapping[str, str] | None = None,
) -> JWKSet:
    """Fetch the JWK Set at ``url`` (keys this library cannot use are skipped).

    Redirects are not followed (they could lead away from the trusted location);
    the ``card`` timeout of ``timeouts`` applies.

    Raises:
        ValueError: ``url`` is neither HTTPS nor HTTP to a loopback address.
        CardError: the response is not 200 or not a JWK Set.
        TransportError: the JWKS could not be fetched (e.g. ``ConnectError``).
    """
    from accord.security import JWKSet

    if not _secure_location(url):
        raise ValueError(f"refusing to fetch keys over plain HTTP: {url}")
    document = await fetch_json_document(
        http,
        url,
        what="JWKS",
        timeouts=timeouts,
        headers=headers,
        follow_redirects=False,  # a redirect could leave the trusted location
    )
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise CardError(f"JWKS at {url} is not a JWK Set (no 'keys' list)")
    return JWKSet.from_dict(document)


def card_url(url: str) -> str:
    """The card URL for ``url``: itself if it names a card, else its well-known card."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    if path.endswith(".json") or "/.well-known/" in path:
        return url
    return url.rstrip("/") + WELL_KNOWN_PATH


@dataclass(slots=True)
class _Entry:
    card: AgentCard
    expires: float
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class _Policy:
    store: bool
    #: Seconds the response is fresh for; 0 means "revalidate before every use".
    ttl: float
    #: False when the response said nothing about freshness.
    explicit: bool


def _policy(headers: httpx.Headers, default_ttl: float) -> _Policy:
    directives: dict[str, str] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    if "no-store" in directives:
        return _Policy(store=False, ttl=0.0, explicit=True)
    if "no-cache" in directives:
        return _Policy(store=True, ttl=0.0, explicit=True)
    max_age = directives.get("max-age", "")
    if max_age.isdigit():
        age = headers.get("age", "0")
        used = int(age) if age.isdigit() else 0
        return _Policy(
            store=True, ttl=max(0.0, float(int(max_age) - used)), explicit=True
        )
    expires = headers.get("expires")
    if expires is not None:
        try:
            until = parsedate_to_datetime(expires)
            date = headers.get("date")
            now = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):  # unparsable Expires means "already expired"
            return _Policy(store=True, ttl=0.0, explicit=True)
        if now is None or until.tzinfo is None or now.tzinfo is None:
            return _Policy(store=True, ttl=0.0, explicit=True)
        return _Policy(
            store=True, ttl=max(0.0, (until - now).total_seconds()), explicit=True
        )
    return _Policy(store=True, ttl=default_ttl, explicit=False)


class CardResolver:
    """Fetches agent cards over HTTP and caches them per URL (spec §8.6).

    Args:
        http: the httpx client to fetch with (borrowed, never closed).
        default_max_age: seconds a card is reused when its response carries no
            caching headers.
        timeouts: the connect and ``card`` timeouts apply.
        headers: extra request headers (e.g. ``Authorization`` for a protected card).
        clock: monotonic seconds; tests may pass a fake.
        trust: require every card to carry a signature that verifies with these
            keys (spec §8.4); see the module doc.

    Raises:
        ValueError: a JWKS URL of ``trust`` is not HTTPS (or loopback HTTP).

    Example::

        resolver = CardResolver(http)
        card = await resolver.get("https://agent.example")
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        default_max_age: float = 300.0,
        timeouts: ClientTimeouts | None = None,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        trust: TrustStore | None = None,
    ) -> None:
        insecure = [
            u for u in (trust.jwks_urls if trust else ()) if not _secure_location(u)
        ]
        if insecure:
            raise ValueError(f"JWKS URLs must be HTTPS: {', '.join(insecure)}")
        self._trust = trust
        self._http = http
        self._default_ttl = default_max_age
        self._timeouts = timeouts if timeouts is not None else ClientTimeouts()
        self._headers = dict(headers or {})
        self._clock = clock
        self._cache: dict[str, _Entry] = {}

    def invalidate(self, url: str | None = None) -> None:
        """Forget the cached card of ``url`` (an agent or card URL), or all cards."""
        if url is None:
            self._cache.clear()
        else:
            self._cache.pop(card_url(url), None)

    async def get(self, url: str, *, refresh: bool = False) -> AgentCard:
        """Return the agent card at ``url``, from the cache while it is fresh.

        Args:
            url: an agent base URL or a card URL.
            refresh: revalidate even if the cached card is still fresh.

        Raises:
            CardError: the response is not 200/304, not JSON, or not a valid card.
            TransportError: the card could not be fetched (e.g. ``ConnectError``).
            SecurityError: with ``trust``, no signature verifies (the subclass says
                why: ``SignatureError``, ``UnknownKeyError``, ``KeyExpiredError``,
                ``AlgorithmError``).
        """
        target = card_url(url)
        entry = self._cache.get(target)
        if entry is not None and not refresh and self._clock() < entry.expires:
            return entry.card
        headers = request_headers(self._headers)
        headers["Accept"] = "application/json"
        if entry is not None:
            if entry.etag is not None:
                headers["If-None-Match"] = entry.etag
            if entry.last_modified is not None:
                headers["If-Modified-Since"] = entry.last_modified
        with map_httpx_exceptions(target):
            response = await self._http.get(
                target,
                headers=headers,
                timeout=self._timeouts.for_card(),
                follow_redirects=True,
            )
        if response.status_code == 304 and entry is not None:
            return self._revalidated(target, entry, response)
        card = self._decode(target, response)
        if self._trust is not None:
            await self._verify(target, response.content)
        policy = _policy(response.headers, self._default_ttl)
        if policy.store:
            self._cache[target] = _Entry(
                card,
                expires=self._clock() + policy.ttl,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        else:
            self._cache.pop(target, None)
        return card

    def _revalidated(
        self, target: str, entry: _Entry, response: httpx.Response
    ) -> AgentCard:
        # RFC 9111 §4.3.4: a 304 updates the stored response's metadata.
        policy = _policy(response.headers, self._default_ttl)
        if not policy.store:
            self._cache.pop(target, None)
            return entry.card
        entry.expires = self._clock() + policy.ttl
        entry.etag = response.headers.get("etag", entry.etag)
        entry.last_modified = response.headers.get("last-modified", entry.last_modified)
        return entry.card

    async def _load_keys(self, *, refresh: bool) -> TrustStore:
        """The trust store with its JWKS URLs fetched (all of them when ``refresh``)."""
        trust = self._trust
        assert trust is not None
        for url in trust.jwks_urls if refresh else trust.missing_jwks:
            try:
                jwks = await fetch_jwks(
                    self._http,
                    url,
                    timeouts=self._timeouts,
                )
            except (CardError, TransportError) as exc:
                # Other trusted keys may still verify the card; if none does, the
                # UnknownKeyError names the JWKS that could not be loaded.
                logger.warning("could not load trusted keys: %s", exc)
                continue
            trust = trust.with_jwks(url, jwks)
        self._trust = trust
        return trust

    async def _verify(self, target: str, content: bytes) -> None:
        from accord.security import verify_card

        data: Any = decode_json(content)  # already known to be a valid card
        try:
            try:
                verify_card(data, await self._load_keys(refresh=False))
            except UnknownKeyError:
                assert self._trust is not None
                if not self._trust.jwks_urls:
                    raise
                # The agent may have rotated its key since the JWKS was fetched.
                verify_card(data, await self._load_keys(refresh=True))
        except Exception as exc:
            exc.add_note(f"agent card: {target}")
            raise

    @staticmethod
    def _decode(target: str, response: httpx.Response) -> AgentCard:
        status = response.status_code
        if status != 200:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            hint = (
                " — is this an A2A agent, and is the URL right?"
                if status == 404
                else ""
            )
            raise CardError(
                f"Agent card at {target}: HTTP {status}{phrase}{hint}",
                status_code=status,
            )
        try:
            return _card_of(response.content)
        except ProtocolError as exc:
            if isinstance(exc, ParseError):
                content_type = response.headers.get("content-type", "no content type")
                raise CardError(
                    f"Agent card at {target} is not JSON ({content_type})"
                ) from None
            raise CardError(
                f"Agent card at {target} is invalid: {exc.message}"
            ) from None


def _card_of(content: bytes) -> AgentCard:
    """The card in ``content``: a 1.0 card, or a v0.3 one converted (ProtocolError)."""
    data = decode_json(content)
    if isinstance(data, dict) and not data.get("supportedInterfaces"):
        # A v0.3 card: its interfaces are top-level members (v03_card).
        return convert(v03_card.card_to_v1(data), AgentCard)
    return decode(content, AgentCard)


def decode_card(content: bytes, where: str) -> AgentCard:
    """The agent card in ``content`` (JSON read from ``where``, e.g. a file).

    Read as :meth:`CardResolver.get` reads a fetched card: a v0.3 card is converted.

    Raises:
        CardError: ``content`` is not JSON, or not a valid agent card.
    """
    try:
        return _card_of(content)
    except ParseError:
        raise CardError(f"{where} is not JSON") from None
    except ProtocolError as exc:
        raise CardError(f"{where} is not a valid agent card: {exc.message}") from None


#: The version assumed for an interface that states none (see the module doc).
ASSUMED_VERSION = "1.0"


def _version(interface: AgentInterface) -> str | None:
    """The interface's ``Major.Minor`` (None: none stated, or malformed)."""
    if not interface.protocol_version:
        return None
    try:
        return normalize_version(interface.protocol_version)
    except ProtocolError:  # malformed version text
        return None


def _supports(interface: AgentInterface) -> bool:
    """True when the interface states v1.0, which this client speaks."""
    return _version(interface) in SUPPORTED_VERSIONS


def _legacy(interface: AgentInterface) -> bool:
    """True for a v0.3 interface, which this client speaks too (JSON-RPC and
    HTTP+JSON; gRPC with ``accord.grpc``'s transport)."""
    return _version(interface) == v03.VERSION


def speaks(interface: AgentInterface) -> str:
    """The A2A version to speak to ``interface``: ``0.3`` for a v0.3 interface,
    else ``1.0`` (also when it states none: see :data:`ASSUMED_VERSION`)."""
    return v03.VERSION if _legacy(interface) else CURRENT_VERSION


def unversioned(interface: AgentInterface) -> bool:
    """True when the interface has no ``protocolVersion`` (assumed ``1.0``)."""
    return not interface.protocol_version


def _describe(card: AgentCard) -> str:
    offered = [
        f"{i.protocol_binding or '?'} {i.protocol_version or '(no version)'} at {i.url}"
        for i in card.supported_interfaces
    ]
    return "; ".join(offered) if offered else "no supportedInterfaces"


def suitable_interfaces(
    card: AgentCard,
    preferred: tuple[str, ...] = (),
    bindings: tuple[str, ...] = BINDINGS,
) -> tuple[AgentInterface, ...]:
    """Every interface the client can use, best first (spec §8.3.2).

    With ``preferred`` empty: the card's entries whose binding this client speaks
    (``bindings``: by default ``JSONRPC`` and ``HTTP+JSON``) and whose ``protocolVersion`` is 1.0, in card order,
    then those that state no version (assumed 1.0, with a logged warning).
    With ``preferred`` given: only those bindings, ordered by ``preferred`` first and
    as above second.

    Raises:
        ValueError: ``preferred`` names a binding this client does not speak.
        CardError: no entry fits; the message lists what the card offers.
    """
    wanted = tuple(b.upper() for b in preferred) or bindings
    unknown = [b for b in wanted if b not in bindings]
    if unknown:
        hint = (
            " (import accord.grpc and pass ClientConfig(transports=GRPC_TRANSPORTS))"
            if "GRPC" in unknown
            else ""
        )
        raise ValueError(
            f"unsupported binding(s) {', '.join(unknown)}; "
            f"this client speaks {', '.join(bindings)}{hint}"
        )
    candidates = [
        i for i in card.supported_interfaces if i.protocol_binding.upper() in wanted
    ]
    declared = [i for i in candidates if _supports(i)]
    assumed = [i for i in candidates if unversioned(i)]
    # v0.3 last: an agent that also speaks v1.0 is called in v1.0.
    legacy = [i for i in candidates if _legacy(i)]
    if assumed:
        logger.warning(
            "agent %r gives no protocolVersion (required by A2A spec §8.3.1) for "
            "%s; assuming %s",
            card.name,
            ", ".join(f"{i.protocol_binding} at {i.url}" for i in assumed),
            ASSUMED_VERSION,
        )
    usable = [*declared, *assumed, *legacy]
    if preferred:
        # Stable: within a binding, declared versions stay ahead of assumed ones.
        usable.sort(key=lambda i: wanted.index(i.protocol_binding.upper()))
    if not usable:
        raise CardError(
            f"Agent {card.name!r} offers no interface this client can use "
            f"({'/'.join(wanted)} with A2A "
            f"{'/'.join((*SUPPORTED_VERSIONS, v03.VERSION))}); it offers: "
            f"{_describe(card)}"
        )
    return tuple(usable)


def select_interface(
    card: AgentCard, preferred: tuple[str, ...] = ()
) -> AgentInterface:
    """The interface to use: the first of :func:`suitable_interfaces`.

    Raises:
        ValueError: ``preferred`` names a binding this client does not speak.
        CardError: no entry fits; the message lists what the card offers.
    """
    return suitable_interfaces(card, preferred)[0]
