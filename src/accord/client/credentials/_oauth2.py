"""OAuth 2.0 client credentials (RFC 6749 §4.4): tokens fetched, cached, renewed.

Theory of operation.

*Where.* The token endpoint is ``token_url`` if given, else the ``tokenUrl`` of the
card's ``clientCredentials`` flow, else the ``token_endpoint`` of the metadata the
scheme points to: ``oauth2MetadataUrl`` (RFC 8414) or ``openIdConnectUrl`` (OpenID
Connect discovery), fetched once per provider.

*How.* ``POST`` a form ``grant_type=client_credentials`` (plus ``scope``, the
requirement's scopes unless ``scopes`` is given, and ``audience`` if given),
authenticating the client with HTTP Basic (``client_secret_basic``, RFC 6749 §2.3.1:
id and secret are form-urlencoded first). Secrets never travel over plain HTTP,
except to a loopback host (RFC 6749 §3.2 requires TLS).

*Cache.* A token is reused until ``expires_in`` minus a margin
(:data:`REFRESH_MARGIN`, at most half the lifetime), measured from when it was
requested; one without ``expires_in`` is kept until the agent answers 401. Tokens are
cached per (token endpoint, scopes) on the provider, so clients sharing a provider
share its tokens.

*Single flight.* Fetching happens under one ``anyio.Lock`` and re-checks the cache
after acquiring it, so callers that find the token expired at the same moment cause
ONE token request and all use its answer; works on asyncio and trio. A provider
belongs to one event loop.

*401.* :meth:`OAuth2Token.refresh` drops the cached token if it is the one the agent
refused (another caller may already have replaced it) and asks for one retry; the
retry fetches a fresh token. The client retries at most once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlsplit

import anyio
import httpx

from accord._net import is_loopback_host
from accord.errors import HTTPStatusError, ParseError, UnauthenticatedError
from accord.types import decode_json

from .._http import map_httpx_exceptions
from ._base import check_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from accord.types import SecurityScheme

    from ._base import SchemeUse

__all__ = ["REFRESH_MARGIN", "OAuth2ClientCredentials", "OAuth2Token"]

#: Seconds before ``expires_in`` runs out at which a token is renewed: covers the
#: request's own latency and clock skew between client and authorization server.
REFRESH_MARGIN = 30.0
#: Seconds allowed for each phase of a token or discovery request. Far shorter than
#: an A2A call's read timeout: an authorization server answers at once.
TOKEN_TIMEOUT = 30.0
#: How much of an OAuth error description an error message quotes.
_DESCRIPTION = 200


@dataclass(frozen=True, slots=True, repr=False)
class _Token:
    value: str = ""
    #: Clock reading after which the token is renewed; ``None``: until refused.
    renew_at: float | None = None

    def __repr__(self) -> str:
        return f"<token renew_at={self.renew_at}>"


def _require_tls(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname or ""):
        return
    raise ValueError(
        f"Refusing to send client credentials to {url}: the token endpoint must use"
        " https (RFC 6749 §3.2); plain http is allowed for loopback hosts only"
    )


def _field(document: Any, name: str) -> Any:
    return document.get(name) if isinstance(document, dict) else None


def _expires_in(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    if isinstance(value, str):  # some servers send it as a string
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def _oauth_error(response: httpx.Response) -> str:
    """``code: description`` of an RFC 6749 §5.2 error response, or the HTTP status."""
    try:
        document = decode_json(response.content)
    except ParseError:
        document = None
    code = _field(document, "error")
    if not isinstance(code, str) or not code:
        return f"HTTP {response.status_code}"
    description = _field(document, "error_description")
    if isinstance(description, str) and description:
        text = " ".join(description.split())[:_DESCRIPTION]
        return f"{code}: {text}"
    return code


class OAuth2ClientCredentials:
    """OAuth 2.0 client-credentials grant: a bearer token from the token endpoint.

    Args:
        client_id: the client identifier issued by the authorization server.
        client_secret: its secret (sent with HTTP Basic, never in a URL).
        token_url: the token endpoint; default: the card's ``clientCredentials``
            flow ``tokenUrl``, or the ``token_endpoint`` found through the scheme's
            ``oauth2MetadataUrl`` / ``openIdConnectUrl``.
        scopes: the scopes to ask for; default: those the card's requirement lists.
        audience: sent as ``audience`` when given (some servers need it).
        refresh_margin: seconds before expiry at which a token is renewed.
        timeout: seconds for each phase of a token or discovery request.
        clock: monotonic seconds; tests pass a fake one.

    Example::

        creds = OAuth2ClientCredentials("my-client", secret)
        client = await Client.connect(url, credentials=[creds])
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_url: str | None = None,
        scopes: Sequence[str] | None = None,
        audience: str | None = None,
        refresh_margin: float = REFRESH_MARGIN,
        timeout: float = TOKEN_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id:
            raise ValueError("the OAuth 2.0 client id is empty")
        if not client_secret:
            raise ValueError("the OAuth 2.0 client secret is empty")
        if isinstance(scopes, str):
            raise TypeError("scopes is a sequence of scope names, not a str")
        if refresh_margin < 0:
            raise ValueError("refresh_margin cannot be negative")
        self._client_id = client_id
        self._basic = httpx.BasicAuth(
            quote_plus(client_id, safe=""), quote_plus(client_secret, safe="")
        )
        self._token_url = token_url
        self._scopes = tuple(scopes) if scopes is not None else None
        self._audience = audience
        self._margin = refresh_margin
        self._timeout = timeout
        self._clock = clock
        self._lock = anyio.Lock()
        self._tokens: dict[tuple[str, tuple[str, ...]], _Token] = {}
        #: Token endpoints found by discovery, per metadata URL.
        self._discovered: dict[str, str] = {}

    def __repr__(self) -> str:
        where = f", token_url={self._token_url!r}" if self._token_url else ""
        return f"OAuth2ClientCredentials({self._client_id!r}, <redacted>{where})"

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True for an OAuth 2.0 scheme with a ``clientCredentials`` flow, and OIDC.

        With an explicit ``token_url``, any OAuth 2.0 scheme is accepted: the caller
        knows the authorization server grants client credentials.
        """
        oauth = scheme.oauth2_security_scheme
        if oauth is not None:
            return oauth.flows.client_credentials is not None or bool(self._token_url)
        return scheme.open_id_connect_security_scheme is not None

    def bind(self, use: SchemeUse) -> OAuth2Token | None:
        """A token credential for ``use``; ``None`` without a scheme or ``token_url``."""
        if use.scheme is None and not self._token_url:
            return None
        scopes = self._scopes if self._scopes is not None else use.scopes
        return OAuth2Token(self, use.scheme, scopes)

    # --- token endpoint ---------------------------------------------------------

    def _metadata_url(self, scheme: SecurityScheme | None) -> str:
        if scheme is None:
            return ""
        if (oauth := scheme.oauth2_security_scheme) is not None:
            return oauth.oauth2_metadata_url
        oidc = scheme.open_id_connect_security_scheme
        return oidc.open_id_connect_url if oidc is not None else ""

    def _known_endpoint(self, scheme: SecurityScheme | None) -> str | None:
        """The token endpoint if known without I/O."""
        if self._token_url:
            return self._token_url
        oauth = scheme.oauth2_security_scheme if scheme is not None else None
        flow = oauth.flows.client_credentials if oauth is not None else None
        if flow is not None and flow.token_url:
            return flow.token_url
        return self._discovered.get(self._metadata_url(scheme))

    async def _endpoint(
        self, scheme: SecurityScheme | None, http: httpx.AsyncClient
    ) -> str:
        known = self._known_endpoint(scheme)
        if known is not None:
            return known
        url = self._metadata_url(scheme)
        if not url:
            raise UnauthenticatedError(
                "The OAuth 2.0 scheme declares no token URL and no metadata URL"
                " — pass token_url= to OAuth2ClientCredentials"
            )
        with map_httpx_exceptions(url):
            response = await http.get(
                url,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                follow_redirects=True,
            )
        try:
            endpoint = _field(decode_json(response.content), "token_endpoint")
        except ParseError:
            endpoint = None
        if response.status_code != 200 or not isinstance(endpoint, str) or not endpoint:
            raise UnauthenticatedError(
                f"Cannot find the token endpoint: {url} answered HTTP"
                f" {response.status_code} without a token_endpoint"
                " — pass token_url= to OAuth2ClientCredentials"
            )
        self._discovered[url] = endpoint
        return endpoint

    # --- tokens -----------------------------------------------------------------

    def _fresh(self, key: tuple[str, tuple[str, ...]]) -> str | None:
        token = self._tokens.get(key)
        if token is None:
            return None
        if token.renew_at is not None and self._clock() >= token.renew_at:
            return None
        return token.value

    async def access_token(
        self,
        scheme: SecurityScheme | None,
        scopes: tuple[str, ...],
        http: httpx.AsyncClient,
    ) -> str:
        """A valid access token for ``scopes``: cached, or fetched (single flight).

        Raises:
            UnauthenticatedError: the token endpoint refused the client or answered
                no usable token; discovery found no token endpoint.
            HTTPStatusError: the token endpoint failed (e.g. HTTP 500).
            TransportError: the token endpoint could not be reached.
        """
        endpoint = self._known_endpoint(scheme)
        if endpoint is not None and (value := self._fresh((endpoint, scopes))):
            return value
        async with self._lock:
            endpoint = await self._endpoint(scheme, http)
            key = (endpoint, scopes)
            value = self._fresh(key)
            if value is None:
                token = await self._request_token(endpoint, scopes, http)
                self._tokens[key] = token
                value = token.value
            return value

    async def forget(
        self, scheme: SecurityScheme | None, scopes: tuple[str, ...], refused: str
    ) -> None:
        """Drop the cached token for ``scopes`` if it is ``refused``."""
        endpoint = self._known_endpoint(scheme)
        if endpoint is None:
            return
        async with self._lock:
            key = (endpoint, scopes)
            token = self._tokens.get(key)
            if token is not None and token.value == refused:
                del self._tokens[key]

    async def _request_token(
        self, endpoint: str, scopes: tuple[str, ...], http: httpx.AsyncClient
    ) -> _Token:
        _require_tls(endpoint)
        form = {"grant_type": "client_credentials"}
        if scopes:
            form["scope"] = " ".join(scopes)
        if self._audience:
            form["audience"] = self._audience
        started = self._clock()
        with map_httpx_exceptions(endpoint):
            response = await http.post(
                endpoint,
                data=form,
                auth=self._basic,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        if response.status_code in (400, 401):
            raise UnauthenticatedError(
                f"The token endpoint {endpoint} refused the client credentials"
                f" ({_oauth_error(response)}) — check the client id, secret and scopes"
            )
        if not response.is_success:
            raise HTTPStatusError(
                f"The token endpoint {endpoint} answered HTTP {response.status_code}",
                status_code=response.status_code,
            )
        return self._token(endpoint, response, started)

    def _token(self, endpoint: str, response: httpx.Response, started: float) -> _Token:
        # The body holds the token: no error below may quote it.
        try:
            document = decode_json(response.content)
        except ParseError:
            document = None
        value = _field(document, "access_token")
        token_type = _field(document, "token_type") or "Bearer"
        problem = None
        if not isinstance(value, str) or not value:
            problem = "no access_token"
        elif not isinstance(token_type, str) or token_type.lower() != "bearer":
            problem = "a token that is not a bearer token"
        else:
            try:
                check_secret(value, "the access token")
            except ValueError:
                problem = "an access_token that cannot be sent in a header"
        if problem is not None:
            raise UnauthenticatedError(
                f"The token endpoint {endpoint} answered {problem}"
            )
        assert isinstance(value, str)
        lifetime = _expires_in(_field(document, "expires_in"))
        if lifetime is None:
            return _Token(value)
        margin = min(self._margin, lifetime / 2)
        return _Token(value, started + lifetime - margin)


class OAuth2Token:
    """The credential of an :class:`OAuth2ClientCredentials` bound to one scheme."""

    __slots__ = ("_provider", "_scheme", "_scopes")

    def __init__(
        self,
        provider: OAuth2ClientCredentials,
        scheme: SecurityScheme | None,
        scopes: tuple[str, ...],
    ) -> None:
        self._provider = provider
        self._scheme = scheme
        self._scopes = scopes

    def __repr__(self) -> str:
        return f"<OAuth 2.0 token credential, scopes {list(self._scopes)}>"

    async def apply(self, request: httpx.Request, http: httpx.AsyncClient) -> None:
        """Set ``Authorization: Bearer`` with a valid token."""
        token = await self._provider.access_token(self._scheme, self._scopes, http)
        request.headers["Authorization"] = f"Bearer {token}"

    async def refresh(self, rejected: httpx.Request, http: httpx.AsyncClient) -> bool:
        """Forget the refused token; a retry will fetch a fresh one."""
        sent = rejected.headers.get("authorization", "")
        await self._provider.forget(
            self._scheme, self._scopes, sent.removeprefix("Bearer ")
        )
        return True
