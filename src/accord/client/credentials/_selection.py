"""Choosing credentials from the card's requirements, and sending them (spec §7).

Theory of operation.

*Choice.* ``AgentCard.securityRequirements`` lists alternatives; every scheme within
one alternative is required together, with the scopes it lists (spec §4.5). The
client takes the first alternative it can fully satisfy with what the caller supplied:

* a list of providers: each scheme of the alternative gets a distinct provider that
  :meth:`~CredentialProvider.accepts` it, earlier providers first;
* a mapping: each scheme gets the provider supplied under its name, which must accept
  it.

An empty alternative (``{}``) means anonymous access is allowed; it is chosen only when
no alternative that uses the supplied credentials can be satisfied. When nothing fits,
:class:`~accord.errors.UnauthenticatedError` lists what the card asks for, before any
request is sent to the agent. Providers outside the chosen alternative are never sent.

A card that requires nothing (no requirement, or anonymous access chosen) still gets
what the caller supplied: each provider is bound to the first declared scheme it
accepts (a card may declare schemes only for ``GetExtendedAgentCard``, which spec
§3.1.11 authenticates with a scheme the public card declares), or else sent as it is
when it can be (a bearer token, HTTP Basic, client credentials with a ``token_url``),
for agents that enforce more than they declare; an API key with no declared place is
left out.

*Sending.* :class:`CredentialAuth` is an ``httpx.Auth`` flow given to every request of
every transport (unary calls, streams, the extended card): it applies each credential,
and after an HTTP 401 asks each one to :meth:`~Credential.refresh`; if one can (an
OAuth 2.0 token), the request is sent again ONCE with fresh credentials. The second
answer, whatever it is, goes to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from accord.errors import UnauthenticatedError

from ._base import SchemeUse, describe_scheme
from ._tls import ClientCertificate

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator, Sequence

    from accord.types import AgentCard, SecurityRequirement, SecurityScheme

    from ._base import Credential, CredentialProvider, Credentials

__all__ = [
    "CredentialAuth",
    "SelectedCredentials",
    "certificate_of",
    "describe_requirement",
    "select_credentials",
]

logger = logging.getLogger(__name__)


class CredentialAuth(httpx.Auth):
    """An httpx auth flow: apply credentials; after a 401, refresh and retry once."""

    def __init__(
        self, credentials: Sequence[Credential], http: httpx.AsyncClient
    ) -> None:
        self._credentials = tuple(credentials)
        self._http = http

    def __repr__(self) -> str:
        return f"<CredentialAuth {list(self._credentials)}>"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Not supported: the A2A client is async only."""
        raise RuntimeError("accord credentials work with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send ``request`` with credentials; retry once after a 401 if one renews."""
        for credential in self._credentials:
            await credential.apply(request, self._http)
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()  # free the connection before fetching a token
        renewed = False
        for credential in self._credentials:
            renewed = await credential.refresh(request, self._http) or renewed
        if not renewed:
            return
        logger.debug(
            "HTTP 401 from %s; retrying once with fresh credentials", request.url.host
        )
        for credential in self._credentials:
            await credential.apply(request, self._http)
        yield request


@dataclass(frozen=True, slots=True)
class SelectedCredentials:
    """The credentials a client sends, chosen from what the caller supplied.

    Attributes:
        credentials: bound credentials applied to every request.
        certificate: the client certificate presented in TLS, if one was supplied.
        requirement: the card's alternative that was chosen; ``None`` when the card
            declares none (or is unknown).
    """

    credentials: tuple[Credential, ...] = ()
    certificate: ClientCertificate | None = None
    requirement: SecurityRequirement | None = None

    def auth(self, http: httpx.AsyncClient) -> httpx.Auth | None:
        """The httpx auth flow sending these credentials (token requests via ``http``)."""
        return CredentialAuth(self.credentials, http) if self.credentials else None


def _providers(
    supplied: Credentials,
) -> list[CredentialProvider]:
    if isinstance(supplied, str | bytes):
        raise TypeError("credentials is a list of providers or a mapping, not a str")
    if isinstance(supplied, Mapping):
        return list(supplied.values())
    return list(supplied)


def certificate_of(
    supplied: Credentials | None,
) -> ClientCertificate | None:
    """The one :class:`ClientCertificate` among ``supplied``, if any.

    Raises:
        ValueError: more than one was supplied (TLS presents one).
    """
    if supplied is None:
        return None
    certificates = [p for p in _providers(supplied) if isinstance(p, ClientCertificate)]
    if len(certificates) > 1:
        raise ValueError("only one ClientCertificate can be presented")
    return certificates[0] if certificates else None


def _assign(
    names: list[str],
    schemes: Mapping[str, SecurityScheme],
    providers: list[CredentialProvider],
) -> list[CredentialProvider] | None:
    """Distinct providers for ``names``, earliest first (a tiny backtracking search)."""

    def search(i: int, used: frozenset[int]) -> list[CredentialProvider] | None:
        if i == len(names):
            return []
        for k, provider in enumerate(providers):
            if k not in used and provider.accepts(schemes[names[i]]):
                rest = search(i + 1, used | {k})
                if rest is not None:
                    return [provider, *rest]
        return None

    return search(0, frozenset())


def _satisfy(
    requirement: SecurityRequirement,
    schemes: Mapping[str, SecurityScheme],
    supplied: Credentials,
) -> tuple[Credential, ...] | None:
    names = list(requirement.schemes)
    if any(name not in schemes for name in names):
        return None  # the card requires a scheme it does not declare
    if isinstance(supplied, Mapping):
        chosen = [supplied.get(name) for name in names]
        if any(
            p is None or not p.accepts(schemes[n])
            for n, p in zip(names, chosen, strict=True)
        ):
            return None
        assigned = [p for p in chosen if p is not None]
    else:
        found = _assign(names, schemes, _providers(supplied))
        if found is None:
            return None
        assigned = found
    bound: list[Credential] = []
    for name, provider in zip(names, assigned, strict=True):
        use = SchemeUse(name, schemes[name], requirement.schemes[name].list)
        credential = provider.bind(use)
        if credential is None:
            return None
        bound.append(credential)
    return tuple(bound)


def describe_requirement(
    requirement: SecurityRequirement, schemes: Mapping[str, SecurityScheme]
) -> str:
    """One alternative for people: ``an API key (header X-API-Key) [key]``."""
    parts = []
    for name, scopes in requirement.schemes.items():
        scheme = schemes.get(name)
        what = describe_scheme(scheme) if scheme is not None else "an undeclared scheme"
        scoped = f", scopes: {' '.join(scopes.list)}" if scopes.list else ""
        parts.append(f"{what} [{name}{scoped}]")
    return " together with ".join(parts) or "no credentials"


def _unsatisfied(
    card: AgentCard,
    supplied: Credentials,
) -> UnauthenticatedError:
    wanted = "; or ".join(
        describe_requirement(r, card.security_schemes)
        for r in card.security_requirements
    )
    if isinstance(supplied, Mapping):
        given = ", ".join(f"{n}: {type(p).__name__}" for n, p in supplied.items())
    else:
        given = ", ".join(type(p).__name__ for p in supplied)
    return UnauthenticatedError(
        f"Agent {card.name!r} requires {wanted}; the credentials supplied"
        f" ({given or 'none'}) satisfy none of these — nothing was sent"
    )


def select_credentials(
    card: AgentCard | None,
    supplied: Credentials,
) -> SelectedCredentials:
    """Choose what to send to the agent of ``card`` from ``supplied`` (see module doc).

    Args:
        card: the agent's card; ``None`` when unknown: every provider is then sent
            as it is, and one that needs a declared scheme is an error.
        supplied: providers, in order of preference, or providers by scheme name.

    Raises:
        UnauthenticatedError: the card has requirements and none can be satisfied.
        ValueError: more than one :class:`ClientCertificate` was supplied, or
            ``card`` is ``None`` and a provider needs a declared scheme.
    """
    certificate = certificate_of(supplied)
    if card is None:
        return SelectedCredentials(_unrequired(None, supplied), certificate)
    anonymous = None
    for requirement in card.security_requirements:
        if not requirement.schemes:
            anonymous = anonymous or requirement
            continue
        bound = _satisfy(requirement, card.security_schemes, supplied)
        if bound is not None:
            return SelectedCredentials(bound, certificate, requirement)
    if card.security_requirements and anonymous is None:
        raise _unsatisfied(card, supplied)
    return SelectedCredentials(_unrequired(card, supplied), certificate, anonymous)


def _unrequired(
    card: AgentCard | None, supplied: Credentials
) -> tuple[Credential, ...]:
    """Credentials for an agent that requires none (see the module doc)."""
    pairs = (
        list(supplied.items())
        if isinstance(supplied, Mapping)
        else [(None, p) for p in _providers(supplied)]
    )
    declared = card.security_schemes if card is not None else {}
    bound: list[Credential] = []
    for wanted, provider in pairs:
        use = next(
            (
                SchemeUse(name, scheme)
                for name, scheme in declared.items()
                if wanted in (None, name) and provider.accepts(scheme)
            ),
            SchemeUse(),
        )
        credential = provider.bind(use)
        if credential is not None:
            bound.append(credential)
        elif card is None:
            raise ValueError(
                f"{type(provider).__name__} can only be sent where an agent card"
                " declares it; connect with the card (Client.connect), or send"
                " the value in headers="
            )
    return tuple(bound)
