"""The Agent Card: built from the agent's declaration, served with HTTP caching.

The card lists one interface per binding this server speaks (spec §8.3.1: every
supported binding declared, first = preferred), each with protocol version ``1.0`` and
an absolute URL. That URL is the configured public URL when there is one; otherwise it
is derived from the request by the rules of :mod:`accord.server.proxy` (``Host``, and
``X-Forwarded-Host`` / ``X-Forwarded-Proto`` from trusted proxies only, each validated),
and the response then says so with ``Vary``. A signed card (spec §8.4) is never built
from request headers: it is made for the public URL, or for the address the server is
bound to, so a caller cannot obtain the publisher's signature over a host it chose.

With ``Agent(v03_card=True)`` an unsigned card also carries the top-level members a
v0.3 client discovers an agent by (``protocolVersion``, ``url``, ``preferredTransport``,
``security`` and each scheme's ``type``; :func:`accord.bindings.v03_card.hybrid_card`);
the JSON-RPC interface serves v0.3 whatever the card says. A signed card is served
exactly as signed, without them.

The card is served at ``/.well-known/agent-card.json`` (spec §8.2), at
``/.well-known/agent-card`` and at the pre-0.3 ``/.well-known/agent.json``, with
``ETag`` (a content hash), ``Last-Modified``, ``Cache-Control: public, max-age`` and
``Access-Control-Allow-Origin: *`` (it is public; see :mod:`accord.server.cors`);
conditional requests get ``304`` (spec §8.6) carrying the same ``Vary`` and CORS
headers. Each distinct base URL's card is encoded (and signed) once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING

from accord.bindings import v03_card
from accord.protocol.push import SIGNED_PUSH_EXTENSION
from accord.protocol.versioning import CURRENT_VERSION
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    encode,
    to_builtins,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from accord.security import JWK

    from .agent import Agent

__all__ = [
    "BINDING_HTTP_JSON",
    "BINDING_JSONRPC",
    "JWKS_PATH",
    "CardCache",
    "CardResponse",
    "build_card",
    "signed_push_extension",
]

BINDING_JSONRPC = "JSONRPC"
BINDING_HTTP_JSON = "HTTP+JSON"
#: The public JWK Set of the card signing key, when the app signs its card.
JWKS_PATH = "/.well-known/jwks.json"

#: Distinct base URLs whose encoded card is kept. Unsigned cards may follow the Host
#: header, which clients choose, so the cache is bounded rather than keyed without limit.
MAX_CACHED_CARDS = 64


def interfaces(base_url: str) -> tuple[AgentInterface, ...]:
    """The interfaces this server offers at ``base_url`` (no trailing slash)."""
    return (
        AgentInterface(
            url=base_url + "/",
            protocol_binding=BINDING_JSONRPC,
            protocol_version=CURRENT_VERSION,
        ),
        AgentInterface(
            url=base_url,
            protocol_binding=BINDING_HTTP_JSON,
            protocol_version=CURRENT_VERSION,
        ),
    )


def build_card(
    agent: Agent,
    base_url: str,
    extra: tuple[AgentInterface, ...] = (),
    *,
    signed_push: bool = False,
    extensions: tuple[AgentExtension, ...] = (),
) -> AgentCard:
    """The public card of ``agent`` served from ``base_url`` (no trailing slash).

    ``extra``: interfaces other front ends serve (gRPC), listed after the HTTP ones.
    ``extensions``: declared after the agent's own (the engine's interceptors').
    ``signed_push``: the agent signs its push notifications with the key whose JWK Set
    is at :data:`JWKS_PATH`; the card declares that extension, naming the set.
    """
    extensions = (*agent.extensions, *extensions)
    if signed_push and agent.push_notifications:
        extensions = (*extensions, signed_push_extension(base_url + JWKS_PATH))
    return AgentCard(
        name=agent.name,
        description=agent.description,
        supported_interfaces=interfaces(base_url) + extra,
        provider=agent.provider,
        version=agent.version,
        documentation_url=agent.documentation_url,
        capabilities=AgentCapabilities(
            streaming=agent.streaming,
            push_notifications=agent.push_notifications,
            extensions=extensions,
            extended_agent_card=agent.declare_extended_card,
        ),
        security_schemes=agent.security_schemes,
        security_requirements=agent.security_requirements,
        default_input_modes=agent.default_input_modes,
        default_output_modes=agent.default_output_modes,
        skills=agent.skills,
        icon_url=agent.icon_url,
    )


def signed_push_extension(jwks_url: str) -> AgentExtension:
    """The card's declaration that push notifications are signed (an Accord extension
    to spec §4.3.3, :mod:`accord.security.push`), naming the JWK Set of the keys."""
    return AgentExtension(
        uri=SIGNED_PUSH_EXTENSION,
        description=(
            "Push notifications carry a JWS over the body in the Accord-Signature "
            "header, made with a key of the JWK Set at params.jwksUrl."
        ),
        params={"jwksUrl": jwks_url},
    )


@dataclass(frozen=True, slots=True)
class CardResponse:
    """What to answer a card request with."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class CardCache:
    """Encodes the card once per base URL and answers conditional requests.

    With ``signer`` (a private key) each card is signed before it is encoded.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        max_age: int,
        last_modified: float,
        signer: JWK | None = None,
        extra: Callable[[], tuple[AgentInterface, ...]] = tuple,
        extensions: Callable[[], tuple[AgentExtension, ...]] = tuple,
    ) -> None:
        from datetime import UTC, datetime

        self._agent = agent
        self._extra = extra
        self._extensions = extensions
        self.signer = signer
        self._max_age = max_age
        moment = datetime.fromtimestamp(int(last_modified), UTC)
        self._last_modified = moment
        self._last_modified_text = format_datetime(moment, usegmt=True)
        #: (base URL, extra interfaces) -> (body, etag, the extensions it declares:
        #: a tuple the engine keeps while its interceptors are the same).
        self._cards: OrderedDict[
            tuple[str, tuple[AgentInterface, ...]],
            tuple[bytes, str, tuple[AgentExtension, ...]],
        ] = OrderedDict()

    def _encoded(self, base_url: str) -> tuple[bytes, str]:
        extra = self._extra()
        extensions = self._extensions()
        key = (base_url, extra)
        hit = self._cards.get(key)
        if hit is not None and hit[2] is extensions:
            self._cards.move_to_end(key)
            return hit[0], hit[1]
        card = build_card(
            self._agent,
            base_url,
            extra,
            signed_push=self.signer is not None,
            extensions=extensions,
        )
        if self.signer is None:
            data = to_builtins(card)
            if self._agent.v03_card:
                # The members v0.3 clients read: the JSON-RPC interface speaks v0.3
                # too (bindings/v03.py); v1.0 clients ignore them.
                data = v03_card.hybrid_card(data, base_url + "/")
            body = encode(data)
        else:
            # Signed per base URL (the interfaces' URLs are part of the card). Served
            # presence-exact, REQUIRED fields included, so that the JSON a client
            # receives is exactly what was signed (spec §8.4.1): without v0.3
            # members, which no v1.0 verifier could check.
            from accord.security import card_json, sign_card

            body = encode(card_json(sign_card(card, self.signer)))
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        self._cards[key] = (body, etag, extensions)
        if len(self._cards) > MAX_CACHED_CARDS:
            self._cards.popitem(last=False)
        return body, etag

    def respond(
        self,
        base_url: str,
        *,
        if_none_match: str | None,
        if_modified_since: str | None,
        vary: tuple[str, ...] = (),
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> CardResponse:
        """Answer a GET of the card, honouring ``If-None-Match`` / ``If-Modified-Since``.

        ``vary`` names the request headers ``base_url`` was derived from (RFC 9110
        §12.5.5); it and ``extra`` (e.g. CORS headers) go on ``200`` and ``304`` alike.
        """
        body, etag = self._encoded(base_url)
        headers = (
            (b"content-type", b"application/json"),
            (b"cache-control", f"public, max-age={self._max_age}".encode()),
            (b"etag", etag.encode()),
            (b"last-modified", self._last_modified_text.encode()),
            *(((b"vary", ", ".join(vary).encode()),) if vary else ()),
            *extra,
        )
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            if etag in tags or "*" in tags:
                return CardResponse(304, headers[1:], b"")
        elif if_modified_since is not None:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                since = None
            if (
                since is not None
                and since.tzinfo is not None
                and since >= self._last_modified
            ):
                return CardResponse(304, headers[1:], b"")
        return CardResponse(200, headers, body)
