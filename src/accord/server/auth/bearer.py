"""Bearer JWTs (HTTP ``bearer`` schemes): signature from a JWKS, then the claims.

Theory of operation. :class:`JWKSCache` fetches the identity provider's JWKS over
HTTPS, keeps it for ``max_age`` seconds, and refetches early when a token names a
``kid`` it does not know (key rotation) — at most once per ``min_refetch_interval``
seconds, so tokens with made-up ``kid`` values cannot make the server hammer the
provider. When a refetch fails, the keys already known stay in use.

:class:`JWTVerifier` validates with :func:`accord.security.jose.verify_jwt`: the
algorithm must be on the allow-list (``none`` never is; HS* only with configured
HMAC secrets, never with keys from a JWKS, so a public key cannot be used as an HMAC
secret), the signature must verify with a key *we* chose (``jku``/``x5u`` headers are
ignored), ``iss`` must be the configured issuer, ``aud`` must contain the configured
audience, ``exp``/``nbf`` hold with a small leeway. The principal is the ``sub`` claim
(or ``id_claim``); scopes come from ``scope`` (space-separated) or ``scp``; a
``tenant_claim`` binds the principal to tenants.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import SecurityError, UnavailableError, UnknownKeyError
from accord.security.jose import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_LEEWAY,
    JWK,
    JWKSet,
    verify_jwt,
)

from ._fetch import Fetcher, FetchError, check_url
from .principal import Principal
from .verifier import Credential, CredentialRejected, scheme_kind

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

    import httpx

    from accord.types import SecurityScheme

__all__ = [
    "DEFAULT_ALGORITHMS",
    "JWKSCache",
    "JWTVerifier",
    "principal_from_claims",
]

logger = logging.getLogger(__name__)

#: Algorithms accepted by default: asymmetric signatures only.
DEFAULT_ALGORITHMS: frozenset[str] = ASYMMETRIC_ALGORITHMS
_HMAC = frozenset({"HS256", "HS384", "HS512"})


class JWKSCache:
    """A JWKS fetched over HTTPS, cached, refetched on unknown ``kid`` (rate-limited)."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float = 3600.0,
        min_refetch_interval: float = 60.0,
        allow_insecure_http_for_tests: bool = False,
        fetcher: Fetcher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_url(
            url,
            what="the JWKS URL",
            allow_insecure_http_for_tests=allow_insecure_http_for_tests,
        )
        self.max_age = max_age
        self.min_refetch_interval = min_refetch_interval
        self._fetcher = fetcher if fetcher is not None else Fetcher()
        self._clock = clock
        self._keys: JWKSet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock: anyio.Lock | None = None
        #: How many times the JWKS was fetched (successfully or not).
        self.fetches = 0

    async def _fetch(self) -> JWKSet | None:
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            document = await self._fetcher.get_json(self.url)
        except FetchError as exc:
            logger.warning("could not fetch the JWKS at %s: %s", self.url, exc)
            return None
        keys = JWKSet.from_dict(document)
        self._keys = keys
        self._fetched_at = self._clock()
        return keys

    def _lock_now(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def get(self) -> JWKSet:
        """The current keys (fetched when missing or older than ``max_age``).

        Raises:
            UnavailableError: no keys could be fetched yet.
        """
        keys = self._keys
        if keys is not None and self._clock() - self._fetched_at < self.max_age:
            return keys
        async with self._lock_now():
            now = self._clock()
            if self._keys is not None and now - self._fetched_at < self.max_age:
                return self._keys
            if self._keys is None or now - self._attempted_at >= min(
                self.min_refetch_interval, self.max_age
            ):
                await self._fetch()
            if self._keys is None:
                raise UnavailableError(
                    "The server cannot verify credentials right now; retry later"
                )
            return self._keys

    async def refetch(self) -> JWKSet | None:
        """Fetch again for an unknown ``kid``; None when a fetch ran too recently."""
        async with self._lock_now():
            if self._clock() - self._attempted_at < self.min_refetch_interval:
                return None
            return await self._fetch()


def _scopes(claims: Mapping[str, Any], names: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            out.update(value.split())
        elif isinstance(value, list):
            out.update(v for v in value if isinstance(v, str) and v)
    return frozenset(out)


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    scheme: str,
    id_claim: str = "sub",
    tenant_claim: str | None = None,
    scope_claims: Iterable[str] = ("scope", "scp"),
    fallback_id_claims: Iterable[str] = (),
) -> Principal:
    """The principal a token's claims describe.

    Raises:
        CredentialRejected: no usable id claim.
    """
    subject: Any = claims.get(id_claim)
    for name in fallback_id_claims:
        if isinstance(subject, str) and subject:
            break
        subject = claims.get(name)
    if not isinstance(subject, str) or not subject:
        raise CredentialRejected(f"the token has no {id_claim!r} claim")
    tenants: frozenset[str] | None = None
    if tenant_claim is not None:
        value = claims.get(tenant_claim)
        if isinstance(value, str):
            tenants = frozenset({value})
        elif isinstance(value, list):
            tenants = frozenset(v for v in value if isinstance(v, str))
        else:
            tenants = frozenset()  # bound to no tenant: every tenant is refused
    return Principal(
        id=subject,
        scheme=scheme,
        tenants=tenants,
        scopes=_scopes(claims, scope_claims),
        claims=dict(claims),
    )


def _check_algorithms(
    algorithms: Collection[str], *, hmac_keys: bool
) -> frozenset[str]:
    allowed = frozenset(algorithms)
    if not allowed:
        raise ValueError("the algorithm allow-list is empty")
    if "none" in allowed or "" in allowed:
        raise ValueError("the 'none' algorithm can never be allowed")
    unknown = allowed - ASYMMETRIC_ALGORITHMS - _HMAC
    if unknown:
        raise ValueError(f"unknown JWS algorithms: {', '.join(sorted(unknown))}")
    if allowed & _HMAC and not hmac_keys:
        raise ValueError(
            "HS256/384/512 need shared secrets; with public keys (a JWKS) they would "
            "let anyone holding the public key forge tokens — allow only asymmetric "
            "algorithms"
        )
    return allowed


async def verify_bearer_jwt(
    token: str,
    *,
    keys: JWKSet | None,
    cache: JWKSCache | None,
    algorithms: Collection[str],
    issuer: str | None,
    audience: str | Collection[str] | None,
    leeway: float,
    required_claims: Iterable[str],
) -> dict[str, Any]:
    """Verify a JWT with static keys or a JWKS cache; the claims.

    Raises:
        CredentialRejected: not valid.
        UnavailableError: the JWKS cannot be fetched.
    """

    def check(with_keys: JWKSet) -> dict[str, Any]:
        return verify_jwt(
            token,
            with_keys,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            require=required_claims,
        )

    current = keys if keys is not None else await _cached(cache)
    try:
        try:
            return check(current)
        except UnknownKeyError:
            if cache is None:
                raise
            fresh = await cache.refetch()
            if fresh is None:
                raise
            return check(fresh)
    except SecurityError as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise CredentialRejected(f"JWT rejected ({reason})") from None


async def _cached(cache: JWKSCache | None) -> JWKSet:
    assert cache is not None
    return await cache.get()


class JWTVerifier:
    """Verifies bearer JWTs (``http`` bearer, or OAuth 2.0 / OIDC with a known JWKS).

    Give either ``jwks_url`` (the provider's JWKS, fetched over HTTPS) or ``keys``
    (a fixed :class:`~accord.security.jose.JWKSet`; HS* algorithms only with ``oct``
    secrets here).

    Example::

        verifier = JWTVerifier(
            issuer="https://login.example.com/",
            audience="https://agent.example.com",
            jwks_url="https://login.example.com/.well-known/jwks.json",
        )
        app = A2AApp(agent, auth={"bearer": verifier})
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Collection[str] | None,
        jwks_url: str | None = None,
        keys: JWKSet | Iterable[JWK] | None = None,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        leeway: float = DEFAULT_LEEWAY,
        id_claim: str = "sub",
        tenant_claim: str | None = None,
        scope_claims: Iterable[str] = ("scope", "scp"),
        required_claims: Iterable[str] = ("exp",),
        max_age: float = 3600.0,
        min_refetch_interval: float = 60.0,
        allow_insecure_http_for_tests: bool = False,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (jwks_url is None) == (keys is None):
            raise ValueError("give exactly one of jwks_url= and keys=")
        if not issuer:
            raise ValueError("issuer= is required (the 'iss' every token must carry)")
        self.issuer = issuer
        self.audience = audience
        self._fetcher = Fetcher(http)
        self.keys: JWKSet | None = None
        self.cache: JWKSCache | None = None
        if keys is not None:
            self.keys = keys if isinstance(keys, JWKSet) else JWKSet(tuple(keys))
            hmac_keys = any(k.kty == "oct" for k in self.keys)
        else:
            assert jwks_url is not None
            self.cache = JWKSCache(
                jwks_url,
                max_age=max_age,
                min_refetch_interval=min_refetch_interval,
                allow_insecure_http_for_tests=allow_insecure_http_for_tests,
                fetcher=self._fetcher,
                clock=clock,
            )
            hmac_keys = False
        self.algorithms = _check_algorithms(algorithms, hmac_keys=hmac_keys)
        self.leeway = leeway
        self.id_claim = id_claim
        self.tenant_claim = tenant_claim
        self.scope_claims = tuple(scope_claims)
        self.required_claims = tuple(required_claims)

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        """Accept schemes whose credential is a bearer token."""
        kind = scheme_kind(scheme)
        http = scheme.http_auth_security_scheme
        if kind == "http" and http is not None and http.scheme.lower() == "bearer":
            return
        if kind in ("oauth2", "openIdConnect"):
            return
        raise ValueError(
            "JWTVerifier serves bearer tokens: an httpAuthSecurityScheme with scheme "
            "'Bearer', or an OAuth 2.0 / OpenID Connect scheme"
        )

    async def verify(self, credential: Credential) -> Principal:
        """The principal of a valid token."""
        claims = await verify_bearer_jwt(
            credential.value,
            keys=self.keys,
            cache=self.cache,
            algorithms=self.algorithms,
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            required_claims=self.required_claims,
        )
        return principal_from_claims(
            claims,
            scheme=credential.scheme_name,
            id_claim=self.id_claim,
            tenant_claim=self.tenant_claim,
            scope_claims=self.scope_claims,
        )

    async def aclose(self) -> None:
        """Close the HTTP client used for the JWKS."""
        await self._fetcher.aclose()
