"""Registering agents: fetch (or receive) a card, validate it, verify it, record it.

Theory of operation. An agent gets into the registry two ways:

* **by URL** (:meth:`Registrar.register_url`): the registry fetches the agent's card
  (its well-known URL, spec §8.2, when the URL is an agent's base URL) through the
  SSRF guard (:mod:`accord.egress`: no private or loopback address unless the
  operator allowed it, no redirects, a bounded answer, timeouts), so a registration
  request cannot make the registry reach into its own network;
* **by publishing** a card (:meth:`Registrar.publish`), as JSON. A published card
  is never re-fetched.

Either way the card must decode as an agent card (a v0.3 card is read in its 1.0
form, as the client reads it) and, when the registry has a trust store, carry a
signature that verifies with one of its keys (spec §8.4.3,
:func:`accord.security.verify_card`; the trust store's JWKS URLs are fetched through
the same guard, again once when a ``kid`` is unknown). A card refused is a
:class:`RegistrationError` that says why: not JSON, not a card, not signed, a
signature that does not match (a tampered card) or a key the registry does not
trust. Then the card is recorded (:meth:`.store.RegistryStore.record`): a new
version with its diff when it changed.

:meth:`Registrar.fetch` is the one fetch, shared with the health checks
(:mod:`.health`), which send the last ``ETag`` back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from accord.client.card import card_url, decode_card, fetch_jwks
from accord.egress import EgressRefused
from accord.errors import CardError, ParseError, SecurityError, TransportError
from accord.types import decode_json

from .entries import agent_identifier, host_identifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from accord.security import TrustStore, VerifiedSignature
    from accord.types import AgentCard

    from .store import Recorded, RegistryStore

__all__ = ["Fetched", "Registrar", "RegistrationError"]


class RegistrationError(Exception):
    """A card the registry refuses, or could not fetch.

    Attributes:
        code: an ARD error code: ``INVALID_ARGUMENT`` (bad URL, not a card),
            ``FAILED_PRECONDITION`` (the card does not verify), ``UNAVAILABLE``
            (the card could not be fetched).
        message: what went wrong and what to do, safe to show the caller.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch of a card URL.

    Attributes:
        url: the card URL fetched.
        status: the HTTP status (200, or 304 when the ETag still matched).
        content: the body (empty on 304).
        headers: the response headers.
        latency_ms: from sending the request to the whole body read.
    """

    url: str
    status: int
    content: bytes
    headers: httpx.Headers
    latency_ms: float


class Registrar:
    """Validates, verifies and records cards for a registry.

    Args:
        store: where entries are recorded (open; borrowed).
        http: the client to fetch with: an :func:`accord.egress.egress_client`
            (borrowed, never closed), so fetches obey the SSRF guard.
        trust: the keys cards must be signed with; ``None`` records cards unverified.
        clock: Unix time (tests may pass another).
    """

    def __init__(
        self,
        store: RegistryStore,
        http: httpx.AsyncClient,
        *,
        trust: TrustStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.http = http
        self._trust = trust
        self._clock = clock

    async def fetch(self, url: str, *, etag: str | None = None) -> Fetched:
        """GET the card for ``url`` (an agent's base URL or its card URL).

        Raises:
            RegistrationError: the URL is refused by the guard (``INVALID_ARGUMENT``)
                or cannot be fetched (``UNAVAILABLE``).
        """
        target = card_url(url)
        headers = {"Accept": "application/json"}
        if etag is not None:
            headers["If-None-Match"] = etag
        started = time.perf_counter()
        try:
            response = await self.http.get(target, headers=headers)
        except EgressRefused as refused:
            raise RegistrationError(
                "INVALID_ARGUMENT", f"cannot fetch {target}: {refused}"
            ) from None
        except httpx.HTTPError as exc:
            raise RegistrationError(
                "UNAVAILABLE",
                f"cannot fetch {target}: {type(exc).__name__}"
                + (f": {exc}" if str(exc) else "")
                + " (is the agent running, and is the URL right?)",
            ) from None
        latency = (time.perf_counter() - started) * 1000
        if response.status_code not in (200, 304):
            raise RegistrationError(
                "UNAVAILABLE",
                f"{target} answered HTTP {response.status_code}, not the agent card",
            )
        return Fetched(
            target, response.status_code, response.content, response.headers, latency
        )

    async def register_url(self, tenant: str, url: str) -> Recorded:
        """Fetch, validate, verify and record the card of the agent at ``url``.

        Raises:
            RegistrationError: the card was refused or could not be fetched.
        """
        fetched = await self.fetch(url)
        return await self.accept(tenant, fetched.content, source_url=fetched.url)

    async def publish(self, tenant: str, content: bytes) -> Recorded:
        """Validate, verify and record a card sent to the registry (JSON bytes).

        Raises:
            RegistrationError: the card was refused.
        """
        return await self.accept(tenant, content, source_url=None)

    async def accept(
        self, tenant: str, content: bytes, *, source_url: str | None
    ) -> Recorded:
        """Check ``content`` as a card and record it for ``tenant``.

        Raises:
            RegistrationError: the card was refused.
        """
        card, signed_by = await self.check(content, source_url or "the published card")
        identifier = await self._identifier(tenant, card, source_url)
        return await self.store.record(
            tenant,
            identifier,
            card,
            content.decode(),
            source_url=source_url,
            signed_by=signed_by,
            now=self._clock(),
        )

    async def _identifier(
        self, tenant: str, card: AgentCard, source_url: str | None
    ) -> str:
        """:func:`agent_identifier`, unless the agent is already recorded under the
        identifier agents had before their path was part of it
        (:func:`host_identifier`): registered again from the same URL, it keeps it.
        """
        identifier = agent_identifier(card, source_url)
        legacy = host_identifier(card, source_url)
        if legacy == identifier:
            return identifier
        old = await self.store.get(tenant, legacy)
        if old is not None and old.source_url == source_url:
            return legacy
        return identifier

    async def check(self, content: bytes, where: str) -> tuple[AgentCard, str | None]:
        """``content`` as a card, and the ``kid`` that verified it (``None``: no trust
        store).

        Raises:
            RegistrationError: not a card (``INVALID_ARGUMENT``), or no signature
                verifies (``FAILED_PRECONDITION``).
        """
        try:
            card = decode_card(content, where)
        except CardError as exc:
            raise RegistrationError("INVALID_ARGUMENT", str(exc)) from None
        if self._trust is None:
            return card, None
        try:
            verified = await self._verify(decode_json(content))
        except SecurityError as exc:
            raise RegistrationError(
                "FAILED_PRECONDITION",
                f"{where} is refused: {type(exc).__name__}: {exc} (the registry "
                "accepts only cards signed with a key it trusts; sign the card with "
                "`accord card sign`, or ask the operator to trust your key)",
            ) from None
        except ParseError:  # pragma: no cover - decode_card read it as JSON already
            raise RegistrationError(
                "INVALID_ARGUMENT", f"{where} is not JSON"
            ) from None
        return card, verified.kid

    async def _verify(self, data: Any) -> VerifiedSignature:
        from accord.errors import UnknownKeyError
        from accord.security import verify_card

        trust = await self._keys(refresh=False)
        try:
            return verify_card(data, trust)
        except UnknownKeyError:
            if not trust.jwks_urls:
                raise
            # The agent may have rotated its key since the JWKS was fetched.
            return verify_card(data, await self._keys(refresh=True))

    async def _keys(self, *, refresh: bool) -> TrustStore:
        trust = self._trust
        assert trust is not None
        for url in trust.jwks_urls if refresh else trust.missing_jwks:
            try:
                trust = trust.with_jwks(url, await fetch_jwks(self.http, url))
            except (CardError, TransportError, EgressRefused, ValueError):
                # Other keys may still verify; if none does, UnknownKeyError names
                # the JWKS that is missing.
                continue
        self._trust = trust
        return trust
