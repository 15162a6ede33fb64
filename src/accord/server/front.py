"""The app's public face: the card, the JWK Set, the base URL and CORS.

:class:`PublicFront` answers what needs no authentication, before any operation is
routed: ``GET``/``HEAD`` of the card (:mod:`.card`) at every path in
:data:`CARD_PATHS`, ``GET`` of the signing key's JWK Set, their ``OPTIONS`` (permissive
CORS, :mod:`.cors`), and the CORS preflights of the endpoints when a policy is set.
For every other request it gives the headers the endpoint's answer carries
(:class:`EndpointHeaders`): the policy's CORS headers and ``Cache-Control: no-store``,
as answers are per caller, so a shared cache must never keep them. The one exception
is a successful ``GET .../extendedAgentCard``, which spec §8.6 wants cached per
authenticated session: ``Cache-Control: private, max-age`` (the card's max-age) with
``Vary`` naming the credential headers, so only the caller's own cache keeps it, per
credential. The base URL rules (public URL, trusted proxies) are in :mod:`.proxy`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .card import JWKS_PATH, CardCache
from .cors import PUBLIC_HEADERS, CorsPolicy, EndpointCors, public_preflight_headers
from .proxy import (
    DEFAULT_FORWARDED_ALLOW_IPS,
    BaseUrl,
    ForwardedAllowList,
    bound_base_url,
    check_public_url,
    request_base_url,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accord.security import JWK
    from accord.types import AgentExtension, AgentInterface

    from .agent import Agent

__all__ = ["CARD_PATHS", "JWKS_PATH", "EndpointHeaders", "PublicFront"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Headers = tuple[tuple[bytes, bytes], ...]

#: Where the card is served: the spec's path (§8.2), the extension-less form publishers
#: are also told to serve, and the pre-0.3 name.
CARD_PATHS = (
    "/.well-known/agent-card.json",
    "/.well-known/agent-card",
    "/.well-known/agent.json",
)
_NO_STORE = b"no-store"
_JWKS_METHODS = ("GET", "OPTIONS")
#: The HTTP+JSON route of GetExtendedAgentCard (spec §11.3), with or without a tenant.
_EXTENDED_CARD_ROUTE = "/extendedAgentCard"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class EndpointHeaders:
    """The headers the front adds to an endpoint's answer: ``Cache-Control`` (by the
    answer's status) and ``extra`` (``Vary``, the CORS policy's headers)."""

    __slots__ = ("_failure", "_success", "extra")

    def __init__(self, extra: Headers = (), success_cache: bytes = _NO_STORE) -> None:
        #: Added to every answer, also to one that sets its own ``Cache-Control``
        #: (an SSE stream's ``no-cache``).
        self.extra = extra
        self._success = ((b"cache-control", success_cache), *extra)
        self._failure = ((b"cache-control", _NO_STORE), *extra)

    def answer(self, status: int) -> Headers:
        """The headers of an answer with ``status`` that sets no ``Cache-Control``:
        ``success_cache`` on a 2xx, else ``no-store``, then :attr:`extra`."""
        return self._success if 200 <= status < 300 else self._failure


#: What most endpoint answers carry (no CORS policy, not the extended card).
_NO_STORE_ONLY = EndpointHeaders()


async def _answer(send: Send, status: int, headers: Headers, body: bytes) -> None:
    if status != 204:  # a 204 has no content headers (RFC 9110 §8.6)
        headers = (
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        )
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PublicFront:
    """Card, JWK Set, base URL and CORS of one agent (the A2AApp's settings)."""

    def __init__(
        self,
        agent: Agent,
        *,
        card_max_age: int,
        signer: JWK | None = None,
        public_url: str | None = None,
        forwarded_allow_ips: str | Iterable[str] = DEFAULT_FORWARDED_ALLOW_IPS,
        cors: CorsPolicy | None = None,
        extra_interfaces: Callable[[], tuple[AgentInterface, ...]] = tuple,
        extensions: Callable[[], tuple[AgentExtension, ...]] = tuple,
    ) -> None:
        self._agent = agent
        self._extra_interfaces = extra_interfaces
        self._extensions = extensions
        self._max_age = card_max_age
        self.signer = signer
        self.public_url = public_url
        self.forwarded_allow_ips = forwarded_allow_ips
        self.cors = cors

    @property
    def signer(self) -> JWK | None:
        """The private key the card is signed with; setting it drops encoded cards.

        Raises:
            ValueError: (on setting) the key is not a private key.
        """
        return self._cards.signer

    @signer.setter
    def signer(self, signer: JWK | None) -> None:
        if signer is not None and not signer.is_private:
            raise ValueError("card_signer must be a private key")
        self._cards = CardCache(
            self._agent,
            max_age=self._max_age,
            last_modified=time.time(),
            signer=signer,
            extra=self._extra_interfaces,
            extensions=self._extensions,
        )
        # The public half of the signing key, for verifiers (spec §8.4.3).
        self._jwks: bytes | None = None
        if signer is not None:
            from accord.security import JWKSet
            from accord.types import encode

            self._jwks = encode(JWKSet((signer.public(),)).to_dict())

    @property
    def public_url(self) -> str | None:
        """The base URL the card advertises, or None to derive it from requests.

        Raises:
            ValueError: (on setting) not an ``http(s)://host[:port][/path]`` URL.
        """
        return self._public_url

    @public_url.setter
    def public_url(self, url: str | None) -> None:
        self._public_url = None if url is None else check_public_url(url)

    @property
    def forwarded_allow_ips(self) -> tuple[str, ...]:
        """Peers whose ``X-Forwarded-*`` headers are believed (set: str or iterable).

        Raises:
            ValueError: (on setting) an entry is not an address, a network or ``*``.
        """
        return self._forwarded.entries

    @forwarded_allow_ips.setter
    def forwarded_allow_ips(self, entries: str | Iterable[str]) -> None:
        self._forwarded = ForwardedAllowList(entries)

    @property
    def cors(self) -> CorsPolicy | None:
        """Which other origins may call the endpoints from a browser (None: none)."""
        return None if self._cors is None else self._cors.policy

    @cors.setter
    def cors(self, policy: CorsPolicy | None) -> None:
        self._cors: EndpointCors | None = None
        if policy is not None:
            from accord.protocol import OPERATIONS

            methods = {route.verb for o in OPERATIONS for route in o.rest}
            self._cors = EndpointCors(policy, methods, self._api_key_headers())

    def _api_key_headers(self) -> list[str]:
        """The headers the card's API-key schemes are sent in."""
        return [
            s.api_key_security_scheme.name
            for s in self._agent.security_schemes.values()
            if s.api_key_security_scheme is not None
            and s.api_key_security_scheme.location == "header"
        ]

    def _endpoint_headers(
        self, path: str, method: str, cors: Headers
    ) -> EndpointHeaders:
        """What an endpoint answer carries (``cors``: the policy's headers)."""
        # "/extendedAgentCard" or "/{tenant}/extendedAgentCard" (spec §11.3).
        if (
            method == "GET"
            and path.endswith(_EXTENDED_CARD_ROUTE)
            and path.count("/") <= 2
        ):
            # spec §8.6: cached per authenticated session, never by a shared cache.
            vary = ", ".join(["Authorization", "Cookie", *self._api_key_headers()])
            cache = f"private, max-age={self._max_age}".encode()
            return EndpointHeaders(((b"vary", vary.encode()), *cors), cache)
        return EndpointHeaders(cors) if cors else _NO_STORE_ONLY

    def base_url(self, scope: Scope) -> str:
        """Absolute URL of the app for this request (rules: :mod:`.proxy`)."""
        if self._public_url is not None:
            return self._public_url
        return request_base_url(scope, self._forwarded).url

    def card_base(self, scope: Scope) -> BaseUrl:
        """The base URL of the card served for ``scope``, and what it varies with."""
        if self._public_url is not None:
            return BaseUrl(self._public_url)
        if self._cards.signer is not None:
            # Signed only for the server's own address, never a caller-chosen host.
            return BaseUrl(bound_base_url(scope))
        return request_base_url(scope, self._forwarded)

    def _public_route(self, path: str, method: str) -> bool:
        """Whether the request is the card's or the JWK Set's (:meth:`serve`)."""
        if path in CARD_PATHS:
            return method in ("GET", "HEAD", "OPTIONS")
        return path == JWKS_PATH and self._jwks is not None and method in _JWKS_METHODS

    def endpoint(self, scope: Scope, path: str, method: str) -> EndpointHeaders | None:
        """The headers an endpoint's answer to this request carries (``no-store``, the
        CORS policy's); None for a request the front answers itself (:meth:`serve`):
        the card, the JWK Set, their ``OPTIONS``, an endpoint's CORS preflight."""
        if method == "POST" and self._cors is None:
            # Every call of an operation but one GET: no public route is a POST and
            # only the extended card's GET is cached, so the answer is no-store.
            return _NO_STORE_ONLY
        if self._public_route(path, method):
            return None
        if self._cors is None:
            return self._endpoint_headers(path, method, ())
        origin = _header(scope, b"origin")
        if (
            method == "OPTIONS"
            and origin is not None
            and _header(scope, b"access-control-request-method")
        ):
            return None  # a preflight
        return self._endpoint_headers(path, method, self._cors.response_headers(origin))

    async def serve(self, scope: Scope, path: str, method: str, send: Send) -> None:
        """Answer a request :meth:`endpoint` left to the front: the public routes
        and the endpoints' CORS preflights."""
        if self._public_route(path, method):
            if method == "OPTIONS":  # public: the preflight is answered for everyone
                await _answer(send, 204, public_preflight_headers(), b"")
            elif path in CARD_PATHS:
                await self._card(scope, send, head=method == "HEAD")
            else:
                assert self._jwks is not None
                cache = f"public, max-age={self._max_age}".encode()
                headers = ((b"cache-control", cache), *PUBLIC_HEADERS)
                await _answer(send, 200, headers, self._jwks)
            return
        # A preflight never carries credentials (Fetch standard, CORS protocol).
        assert self._cors is not None
        origin = _header(scope, b"origin")
        request_method = _header(scope, b"access-control-request-method")
        assert origin is not None
        assert request_method
        status, headers, body = self._cors.preflight(
            origin, request_method, _header(scope, b"access-control-request-headers")
        )
        await _answer(send, status, headers, body)

    async def _card(self, scope: Scope, send: Send, *, head: bool) -> None:
        base = self.card_base(scope)
        answer = self._cards.respond(
            base.url,
            if_none_match=_header(scope, b"if-none-match"),
            if_modified_since=_header(scope, b"if-modified-since"),
            vary=base.vary,
            extra=PUBLIC_HEADERS,
        )
        headers = list(answer.headers)
        if answer.body:
            headers.append((b"content-length", str(len(answer.body)).encode()))
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"" if head else answer.body})
