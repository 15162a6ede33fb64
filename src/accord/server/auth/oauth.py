"""OAuth 2.0 and OpenID Connect bearer tokens, configured from the card's scheme.

Theory of operation. The scheme in the card names the provider's metadata document:
``openIdConnectUrl`` (OpenID Connect Discovery) or ``oauth2MetadataUrl`` (RFC 8414).
:class:`OAuthVerifier` fetches it (HTTPS, cached for ``metadata_max_age``) and takes
``issuer``, ``jwks_uri`` and ``introspection_endpoint`` from it. The ``issuer`` must
match the metadata URL it was published at (the discovery rules of both
specifications; this defeats mix-ups between providers).

A token that is a JWT is verified locally with the provider's JWKS (see
:mod:`.bearer`: algorithm allow-list, ``iss``, ``aud``, ``exp``/``nbf``). Any other
(opaque) token is sent to the introspection endpoint (RFC 7662) with the
verifier's client credentials; it must come back ``active`` and, when present,
with the right ``iss``, a matching ``aud`` (required when ``audience`` is set),
``exp``/``nbf`` in range and an access-token ``token_type``. Scopes come from
``scope`` / ``scp``. Introspection answers are not cached: a revoked token stops
working at once.

When the provider cannot be reached the request is answered 503 (UnavailableError):
the credential could not be judged, which is not the caller's fault.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from accord.errors import SecurityError, UnavailableError
from accord.security.jose import DEFAULT_LEEWAY, decode_header

from ._fetch import Fetcher, FetchError, check_url
from .bearer import (
    DEFAULT_ALGORITHMS,
    JWKSCache,
    _check_algorithms,
    principal_from_claims,
    verify_bearer_jwt,
)
from .verifier import Credential, CredentialRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    import httpx

    from accord.types import SecurityScheme

    from .principal import Principal

__all__ = ["OAuthVerifier", "ProviderMetadata", "expected_issuer"]

logger = logging.getLogger(__name__)

_OIDC_SUFFIX = "/.well-known/openid-configuration"
_RFC8414_PREFIX = "/.well-known/oauth-authorization-server"
_ACCESS_TOKEN_TYPES = frozenset({"access_token", "bearer"})


def expected_issuer(metadata_url: str) -> str | None:
    """The issuer a metadata URL belongs to, when the URL has a well-known form.

    OpenID Connect: ``{issuer}/.well-known/openid-configuration``; RFC 8414:
    ``{scheme}://{host}/.well-known/oauth-authorization-server{issuer path}``.
    """
    parts = urlsplit(metadata_url)
    path = parts.path
    if path.endswith(_OIDC_SUFFIX):
        base = path[: -len(_OIDC_SUFFIX)]
        return urlunsplit((parts.scheme, parts.netloc, base, "", ""))
    if path.startswith(_RFC8414_PREFIX):
        rest = path[len(_RFC8414_PREFIX) :]
        return urlunsplit((parts.scheme, parts.netloc, rest, "", ""))
    return None


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


@dataclass(frozen=True)
class ProviderMetadata:
    """What the verifier uses from a provider's metadata."""

    issuer: str
    jwks: JWKSCache | None
    introspection_endpoint: str | None
    fetched_at: float


def _looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        return "alg" in decode_header(parts[0])
    except SecurityError:
        return False


class OAuthVerifier:
    """Verifies OAuth 2.0 / OpenID Connect access tokens (JWT or opaque).

    Args:
        audience: the ``aud`` tokens must carry (this agent's identifier at the
            provider); ``None`` accepts only tokens without an ``aud`` claim
            (RFC 7519 §4.1.3).
        client_id: this server's client id at the provider, used for token
            introspection; without it (and ``client_secret``) opaque tokens are refused.
        client_secret: the secret that goes with ``client_id``.
        issuer: only for an ``oauth2`` scheme without ``oauth2MetadataUrl``: the
            provider's issuer identifier.
        jwks_url: likewise, where the provider's signing keys are.
        introspection_url: likewise, the provider's introspection endpoint (RFC 7662).
        allow_insecure_http_for_tests: accept ``http://`` metadata, JWKS and
            introspection URLs on loopback hosts (test identity providers).

    Example::

        verifier = OAuthVerifier(
            audience="https://agent.example.com",
            client_id="agent", client_secret=os.environ["INTROSPECTION_SECRET"],
        )
        app = A2AApp(agent, auth={"oidc": verifier})
    """

    def __init__(
        self,
        *,
        audience: str | Collection[str] | None,
        client_id: str | None = None,
        client_secret: str | None = None,
        issuer: str | None = None,
        jwks_url: str | None = None,
        introspection_url: str | None = None,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        leeway: float = DEFAULT_LEEWAY,
        id_claim: str = "sub",
        tenant_claim: str | None = None,
        scope_claims: Iterable[str] = ("scope", "scp"),
        metadata_max_age: float = 3600.0,
        min_refetch_interval: float = 60.0,
        allow_insecure_http_for_tests: bool = False,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if (client_id is None) != (client_secret is None):
            raise ValueError("give both client_id= and client_secret=, or neither")
        self.audience = audience
        self.client_id = client_id
        self.client_secret = client_secret
        self.algorithms = _check_algorithms(algorithms, hmac_keys=False)
        self.leeway = leeway
        self.id_claim = id_claim
        self.tenant_claim = tenant_claim
        self.scope_claims = tuple(scope_claims)
        self.metadata_max_age = metadata_max_age
        self.min_refetch_interval = min_refetch_interval
        self.insecure = allow_insecure_http_for_tests
        self._fetcher = Fetcher(http)
        self._clock = clock
        self._wall_clock = wall_clock
        self._metadata: dict[str, ProviderMetadata] = {}
        self._lock: anyio.Lock | None = None
        self._static: ProviderMetadata | None = None
        if issuer is not None:
            if jwks_url is None and introspection_url is None:
                raise ValueError(
                    "with issuer=, give jwks_url= and/or introspection_url="
                )
            self._static = ProviderMetadata(
                issuer=issuer,
                jwks=None if jwks_url is None else self._jwks(jwks_url),
                introspection_endpoint=None
                if introspection_url is None
                else self._url(introspection_url, "introspection_url"),
                fetched_at=float("inf"),
            )
        elif jwks_url is not None or introspection_url is not None:
            raise ValueError("jwks_url= and introspection_url= need issuer= too")

    def _url(self, url: str, what: str) -> str:
        return check_url(url, what=what, allow_insecure_http_for_tests=self.insecure)

    def _jwks(self, url: str) -> JWKSCache:
        return JWKSCache(
            url,
            max_age=self.metadata_max_age,
            min_refetch_interval=self.min_refetch_interval,
            allow_insecure_http_for_tests=self.insecure,
            fetcher=self._fetcher,
        )

    @staticmethod
    def metadata_url(scheme: SecurityScheme) -> str:
        """The metadata URL the card gives for ``scheme`` (``""`` when none)."""
        if scheme.open_id_connect_security_scheme is not None:
            return scheme.open_id_connect_security_scheme.open_id_connect_url
        if scheme.oauth2_security_scheme is not None:
            return scheme.oauth2_security_scheme.oauth2_metadata_url
        return ""

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        """Accept OAuth 2.0 and OpenID Connect schemes that say where the provider is."""
        if (
            scheme.open_id_connect_security_scheme is None
            and scheme.oauth2_security_scheme is None
        ):
            raise ValueError(
                "OAuthVerifier serves oauth2SecurityScheme and "
                "openIdConnectSecurityScheme schemes"
            )
        url = self.metadata_url(scheme)
        if url:
            self._url(url, "the scheme's metadata URL")
        elif self._static is None:
            field = (
                "openIdConnectUrl"
                if scheme.open_id_connect_security_scheme is not None
                else "oauth2MetadataUrl"
            )
            raise ValueError(
                f"the scheme has no {field}: declare it in the card, or give "
                "OAuthVerifier issuer= with jwks_url= and/or introspection_url="
            )

    def _lock_now(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def provider(self, scheme: SecurityScheme) -> ProviderMetadata:
        """The provider metadata for ``scheme`` (fetched and cached).

        Raises:
            UnavailableError: the metadata cannot be fetched or is unusable.
        """
        url = self.metadata_url(scheme)
        if not url:
            assert self._static is not None
            return self._static
        cached = self._metadata.get(url)
        now = self._clock()
        if cached is not None and now - cached.fetched_at < self.metadata_max_age:
            return cached
        async with self._lock_now():
            cached = self._metadata.get(url)
            if cached is not None and now - cached.fetched_at < self.metadata_max_age:
                return cached
            try:
                fresh = await self._discover(url)
            except (FetchError, ValueError) as exc:
                logger.warning("provider metadata at %s unusable: %s", url, exc)
                if cached is not None:
                    return cached  # keep the last good metadata
                raise UnavailableError(
                    "The server cannot verify credentials right now; retry later"
                ) from None
            self._metadata[url] = fresh
            return fresh

    async def _discover(self, url: str) -> ProviderMetadata:
        document = await self._fetcher.get_json(url)
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("the metadata has no issuer")
        expected = expected_issuer(url)
        if expected is not None and not _same_issuer(issuer, expected):
            raise ValueError(
                f"the metadata's issuer {issuer!r} does not match its URL {url!r}"
            )
        if self._static is not None and not _same_issuer(issuer, self._static.issuer):
            raise ValueError(
                f"the metadata's issuer {issuer!r} is not the configured issuer"
            )
        jwks_uri = document.get("jwks_uri")
        introspection = document.get("introspection_endpoint")
        return ProviderMetadata(
            issuer=issuer,
            jwks=self._jwks(jwks_uri)
            if isinstance(jwks_uri, str) and jwks_uri
            else None,
            introspection_endpoint=self._url(introspection, "introspection_endpoint")
            if isinstance(introspection, str) and introspection
            else None,
            fetched_at=self._clock(),
        )

    async def verify(self, credential: Credential) -> Principal:
        """The principal of a valid access token."""
        provider = await self.provider(credential.scheme)
        token = credential.value
        if _looks_like_jwt(token) and provider.jwks is not None:
            claims = await verify_bearer_jwt(
                token,
                keys=None,
                cache=provider.jwks,
                algorithms=self.algorithms,
                issuer=provider.issuer,
                audience=self.audience,
                leeway=self.leeway,
                required_claims=("exp",),
            )
        else:
            claims = await self._introspect(token, provider)
        return principal_from_claims(
            claims,
            scheme=credential.scheme_name,
            id_claim=self.id_claim,
            tenant_claim=self.tenant_claim,
            scope_claims=self.scope_claims,
            fallback_id_claims=("client_id",),
        )

    async def _introspect(
        self, token: str, provider: ProviderMetadata
    ) -> dict[str, Any]:
        endpoint = provider.introspection_endpoint
        if endpoint is None or self.client_id is None or self.client_secret is None:
            raise CredentialRejected(
                "opaque token, and no introspection endpoint or client credentials"
            )
        try:
            answer = await self._fetcher.post_form(
                endpoint,
                {"token": token, "token_type_hint": "access_token"},
                client_id=self.client_id,
                client_secret=self.client_secret,
            )
        except FetchError as exc:
            logger.warning("token introspection at %s failed: %s", endpoint, exc)
            raise UnavailableError(
                "The server cannot verify credentials right now; retry later"
            ) from None
        self._check_introspection(answer, provider)
        return answer

    def _check_introspection(
        self, answer: dict[str, Any], provider: ProviderMetadata
    ) -> None:
        if answer.get("active") is not True:
            raise CredentialRejected("introspection: token not active")
        now = self._wall_clock()
        for name in ("exp", "nbf"):
            value = answer.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise CredentialRejected(f"introspection: {name} is not a number")
        exp, nbf = answer.get("exp"), answer.get("nbf")
        if exp is not None and now >= exp + self.leeway:
            raise CredentialRejected("introspection: token expired")
        if nbf is not None and now < nbf - self.leeway:
            raise CredentialRejected("introspection: token not valid yet")
        iss = answer.get("iss")
        if iss is not None and (
            not isinstance(iss, str) or not _same_issuer(iss, provider.issuer)
        ):
            raise CredentialRejected("introspection: issuer does not match")
        token_type = answer.get("token_type")
        if (
            token_type is not None
            and str(token_type).lower() not in _ACCESS_TOKEN_TYPES
        ):
            raise CredentialRejected("introspection: not an access token")
        if self.audience is not None:
            wanted = (
                {self.audience}
                if isinstance(self.audience, str)
                else set(self.audience)
            )
            aud = answer.get("aud")
            listed = (
                [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            )
            if not wanted & {a for a in listed if isinstance(a, str)}:
                raise CredentialRejected("introspection: audience does not match")

    async def aclose(self) -> None:
        """Close the HTTP client used for metadata, JWKS and introspection."""
        await self._fetcher.aclose()
