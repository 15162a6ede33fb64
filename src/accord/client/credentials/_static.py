"""Static credentials: an API key, a bearer token, HTTP Basic (spec §7.3).

Each provider binds to a :class:`Placed` credential: one value set in a header, a query
parameter or a cookie of every request. A static credential cannot be renewed, so a
401 is never retried for it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from ._base import API_KEY_LOCATIONS, SchemeUse, check_secret

if TYPE_CHECKING:
    import httpx

    from accord.types import SecurityScheme

__all__ = ["ApiKey", "BasicAuth", "BearerToken", "Placed"]

#: Characters a cookie value may not contain (RFC 6265 §4.1.1 ``cookie-octet``).
_COOKIE_FORBIDDEN = frozenset('",;\\')


class Placed:
    """A fixed value sent in one header, query parameter or cookie of every request."""

    __slots__ = ("_location", "_name", "_value")

    def __init__(self, location: str, name: str, value: str) -> None:
        if location not in API_KEY_LOCATIONS:
            raise ValueError(f"unsupported credential location {location!r}")
        self._location = location
        self._name = name
        self._value = value

    def __repr__(self) -> str:
        return f"<credential in {self._location} {self._name!r}>"

    async def apply(self, request: httpx.Request, http: httpx.AsyncClient) -> None:
        """Set the value where it belongs, replacing any earlier value of that name."""
        if self._location == "header":
            request.headers[self._name] = self._value
        elif self._location == "query":
            request.url = request.url.copy_set_param(self._name, self._value)
        else:
            others = [
                pair
                for pair in request.headers.get("cookie", "").split(";")
                if pair.strip() and pair.split("=", 1)[0].strip() != self._name
            ]
            others.append(f"{self._name}={self._value}")
            request.headers["Cookie"] = "; ".join(p.strip() for p in others)

    async def refresh(self, rejected: httpx.Request, http: httpx.AsyncClient) -> bool:
        """A static value cannot be renewed: never worth a retry."""
        return False


class ApiKey:
    """An API key, placed where the card's ``apiKeySecurityScheme`` says.

    The scheme names the header, query parameter or cookie (spec §4.5.2, §7.3),
    so an API key is only sent to agents that declare one.

    Example::

        client = await Client.connect(url, credentials=[ApiKey("k-123")])
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = check_secret(value, "the API key")

    def __repr__(self) -> str:
        return "ApiKey(<redacted>)"

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True for an ``apiKeySecurityScheme`` with a known location and a name."""
        key = scheme.api_key_security_scheme
        return key is not None and key.location in API_KEY_LOCATIONS and bool(key.name)

    def bind(self, use: SchemeUse) -> Placed | None:
        """The key at the scheme's location; ``None`` without a declared scheme."""
        key = use.scheme.api_key_security_scheme if use.scheme is not None else None
        if key is None:
            return None
        if key.location == "cookie" and _COOKIE_FORBIDDEN & set(self._value):
            raise ValueError(
                f"the API key cannot be sent as cookie {key.name!r}:"
                ' it contains one of " , ; \\'
            )
        return Placed(key.location, key.name, self._value)


class BearerToken:
    """A bearer token obtained out of band: ``Authorization: Bearer <token>``.

    Satisfies an HTTP ``Bearer`` scheme and, as an access token already issued, an
    OAuth 2.0 or OpenID Connect scheme. Sent as is when the card declares nothing.
    """

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = check_secret(token, "the bearer token")

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True for HTTP Bearer, OAuth 2.0 and OpenID Connect schemes."""
        http = scheme.http_auth_security_scheme
        if http is not None:
            return http.scheme.lower() == "bearer"
        return (
            scheme.oauth2_security_scheme is not None
            or scheme.open_id_connect_security_scheme is not None
        )

    def bind(self, use: SchemeUse) -> Placed:
        """The ``Authorization`` header."""
        return Placed("header", "Authorization", f"Bearer {self._token}")


class BasicAuth:
    """HTTP Basic authentication (RFC 7617), user name and password in UTF-8."""

    __slots__ = ("_header",)

    def __init__(self, user: str, password: str) -> None:
        if ":" in user:
            raise ValueError("an HTTP Basic user name cannot contain ':' (RFC 7617)")
        if any(c < " " or c == "\x7f" for c in user + password):
            raise ValueError("the user name or password contains a control character")
        raw = f"{user}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return "BasicAuth(<redacted>)"

    def accepts(self, scheme: SecurityScheme) -> bool:
        """True for an HTTP ``Basic`` scheme."""
        http = scheme.http_auth_security_scheme
        return http is not None and http.scheme.lower() == "basic"

    def bind(self, use: SchemeUse) -> Placed:
        """The ``Authorization`` header."""
        return Placed("header", "Authorization", self._header)
