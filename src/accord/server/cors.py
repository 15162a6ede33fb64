"""Cross-origin requests (CORS, Fetch standard §3.2): public documents and endpoints.

The Agent Card (and the JWK Set of its signing key) is public and meant to be fetched
from anywhere (spec §8.2): it is served with ``Access-Control-Allow-Origin: *`` and its
preflight ``OPTIONS`` is answered ``204`` without authentication.

The endpoints (JSON-RPC and HTTP+JSON operations) get no CORS headers unless a
:class:`CorsPolicy` is configured (``A2AApp(cors=...)``, ``accord serve
--cors-allow-origins``): a browser page of another origin cannot call them. With a
policy, an allowed origin gets ``Access-Control-Allow-Origin`` (its own origin, or
``*``), the request headers A2A uses (``A2A-Version``, ``A2A-Extensions``,
``Authorization``, the API-key headers the card declares, ``Content-Type``,
``Last-Event-ID``), the response headers a client reads (``WWW-Authenticate``,
``Retry-After``, ``Allow``) and a preflight ``Access-Control-Max-Age``. Preflights are
answered before authentication (a browser never sends credentials with one).

Credentials (cookies, TLS client certificates, HTTP authentication the browser
manages) follow the Fetch standard: with ``allow_credentials`` the origin is echoed
(never ``*``, which a policy with credentials refuses) with
``Access-Control-Allow-Credentials: true``. Bearer tokens and API keys set by the page
need no credentials mode: they are ordinary request headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "A2A_EXPOSE_HEADERS",
    "A2A_REQUEST_HEADERS",
    "PUBLIC_HEADERS",
    "CorsPolicy",
    "EndpointCors",
    "public_preflight_headers",
]

Headers = tuple[tuple[bytes, bytes], ...]

#: Request headers an A2A client sends (spec §3.6.2 version, §3.7 extensions, §9.2
#: credentials, §3.5.5 ``Last-Event-ID`` resumption).
A2A_REQUEST_HEADERS = (
    "A2A-Version",
    "A2A-Extensions",
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "Last-Event-ID",
)
#: Response headers a browser client needs to read (challenges, back-off, 405's list).
A2A_EXPOSE_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow", "A2A-Extensions")

#: Request headers a browser sends without asking (Fetch §2.2.2, CORS-safelisted).
_SAFELISTED = frozenset({"accept", "accept-language", "content-language"})

#: CORS headers of every response of a public document (card, JWK Set). ``ETag`` is
#: exposed so that a page can revalidate (``Last-Modified`` is safelisted).
PUBLIC_HEADERS: Headers = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag"),
)
_PUBLIC_MAX_AGE = 86400
_PUBLIC_REQUEST_HEADERS = ("If-None-Match", "If-Modified-Since", *A2A_REQUEST_HEADERS)


def public_preflight_headers() -> Headers:
    """The ``204`` answer to a preflight (or any ``OPTIONS``) of a public document."""
    return (
        (b"allow", b"GET, HEAD, OPTIONS"),
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
        (b"access-control-allow-headers", ", ".join(_PUBLIC_REQUEST_HEADERS).encode()),
        (b"access-control-max-age", str(_PUBLIC_MAX_AGE).encode()),
    )


def _origin(value: str) -> str:
    """``value`` as a serialized origin (RFC 6454 §6.2): lower case, no default port.

    Raises:
        ValueError: not ``scheme://host[:port]``, or the opaque origin ``null``.
    """
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if text.lower() == "null" or not parts.scheme or not parts.hostname:
        raise ValueError(
            f"CORS origin {value!r} is not an origin: give scheme://host[:port] "
            "(e.g. https://app.example.com) or * (the opaque origin null is refused)"
        )
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"CORS origin {value!r} must be scheme://host[:port] only")
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc.removesuffix(default)
    return f"{scheme}://{netloc}"


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which other origins may call the endpoints from a browser.

    Attributes:
        allow_origins: origins (``https://app.example.com``) or ``("*",)`` for any.
        allow_credentials: let the browser send its credentials (cookies, client
            certificates); needs explicit origins.
        allow_headers: request headers a page may send (besides the API-key headers
            the card declares, added by the app).
        expose_headers: response headers a page may read.
        max_age: seconds a browser may cache a preflight answer.

    Raises:
        ValueError: an origin is malformed or ``null``; ``*`` with credentials, or
            mixed with origins; a negative ``max_age``.
    """

    allow_origins: tuple[str, ...]
    allow_credentials: bool = False
    allow_headers: tuple[str, ...] = A2A_REQUEST_HEADERS
    expose_headers: tuple[str, ...] = A2A_EXPOSE_HEADERS
    max_age: int = 600
    _origins: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        origins = tuple(o.strip() for o in self.allow_origins if o.strip())
        if not origins:
            raise ValueError("a CORS policy needs at least one origin (or *)")
        if "*" in origins:
            if len(origins) > 1:
                raise ValueError(
                    "CORS origins: * stands alone (it allows every origin)"
                )
            if self.allow_credentials:
                raise ValueError(
                    "CORS: allow_credentials needs explicit origins, not * (the Fetch "
                    "standard forbids credentials with a wildcard origin)"
                )
        else:
            origins = tuple(_origin(o) for o in origins)
        if self.max_age < 0:
            raise ValueError("CORS max_age must be >= 0 seconds")
        object.__setattr__(self, "allow_origins", origins)
        object.__setattr__(self, "allow_headers", tuple(self.allow_headers))
        object.__setattr__(self, "expose_headers", tuple(self.expose_headers))
        object.__setattr__(self, "_origins", frozenset(origins))

    @classmethod
    def from_list(cls, origins: str, *, allow_credentials: bool = False) -> CorsPolicy:
        """A policy from a comma-separated list of origins (the CLI's form)."""
        return cls(tuple(origins.split(",")), allow_credentials=allow_credentials)

    @property
    def any_origin(self) -> bool:
        """True when every origin is allowed (``*``)."""
        return "*" in self._origins

    def allows(self, origin: str) -> bool:
        """True when a request from ``origin`` (the ``Origin`` header) is allowed."""
        return self.any_origin or origin.lower() in self._origins


class EndpointCors:
    """The headers of one :class:`CorsPolicy` for the endpoints, encoded once.

    ``methods`` are the verbs of the routes; ``extra_headers`` the API-key header names
    of the card's security schemes.
    """

    __slots__ = (
        "_allow_headers",
        "_methods",
        "_preflight",
        "_response",
        "_vary",
        "policy",
    )

    def __init__(
        self, policy: CorsPolicy, methods: Iterable[str], extra_headers: Iterable[str]
    ) -> None:
        self.policy = policy
        self._methods = frozenset(m.upper() for m in methods)
        names: dict[str, str] = {}
        for name in (*policy.allow_headers, *extra_headers):
            names.setdefault(name.lower(), name)
        self._allow_headers = frozenset(names)
        common: list[tuple[bytes, bytes]] = []
        if policy.allow_credentials:
            common.append((b"access-control-allow-credentials", b"true"))
        # The answer depends on Origin unless every origin gets the same "*".
        self._vary: Headers = () if policy.any_origin else ((b"vary", b"Origin"),)
        self._preflight: Headers = (
            *common,
            (
                b"access-control-allow-methods",
                ", ".join(sorted(self._methods)).encode(),
            ),
            (b"access-control-allow-headers", ", ".join(names.values()).encode()),
            (b"access-control-max-age", str(policy.max_age).encode()),
        )
        expose = ", ".join(policy.expose_headers).encode()
        self._response: Headers = (
            *common,
            *(((b"access-control-expose-headers", expose),) if expose else ()),
        )

    def _allow_origin(self, origin: str) -> tuple[bytes, bytes]:
        value = (
            "*"
            if self.policy.any_origin and not self.policy.allow_credentials
            else origin
        )
        # An allowed origin equals a configured one (browsers send it lower case).
        return (b"access-control-allow-origin", value.lower().encode("latin-1"))

    def response_headers(self, origin: str | None) -> Headers:
        """CORS headers of an endpoint response to a request from ``origin``."""
        if origin is None or not self.policy.allows(origin):
            return self._vary
        return (*self._vary, self._allow_origin(origin), *self._response)

    def preflight(
        self, origin: str, method: str, headers: str | None
    ) -> tuple[int, Headers, bytes]:
        """The answer to a preflight: ``204`` with the policy, or ``403`` saying why."""
        vary = (
            (
                b"vary",
                b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        )
        if not self.policy.allows(origin):
            return 403, vary, _refusal("the origin is not allowed")
        if method.upper() not in self._methods:
            return 403, vary, _refusal(f"method {method} is not allowed")
        requested = [h.strip().lower() for h in (headers or "").split(",") if h.strip()]
        refused = [
            h
            for h in requested
            if h not in self._allow_headers and h not in _SAFELISTED
        ]
        if refused:
            return (
                403,
                vary,
                _refusal(f"request header(s) {', '.join(refused)} not allowed"),
            )
        return 204, (*vary, self._allow_origin(origin), *self._preflight), b""


def _refusal(reason: str) -> bytes:
    return json.dumps({"error": f"CORS preflight refused: {reason}"}).encode()
