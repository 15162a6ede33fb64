"""Authentication and authorization for A2A servers, enforced from the Agent Card.

The agent declares its ``security_schemes`` and ``security_requirements`` once (they
are the card's); :class:`AuthConfig` (or a plain ``{scheme name: verifier}`` mapping)
tells :class:`~accord.server.A2AApp` how to check each scheme::

    keys = ApiKeyRing()
    keys.add(os.environ["PARTNER_KEY"], principal="partner-a")
    app = A2AApp(agent, auth={"apiKey": ApiKeyVerifier(keys)})

Verifiers: :class:`ApiKeyVerifier` (API keys, stored hashed), :class:`JWTVerifier`
(HTTP bearer JWTs from a JWKS), :class:`OAuthVerifier` (OAuth 2.0 / OpenID Connect:
discovery, JWT or introspected opaque tokens), :class:`MutualTLSVerifier` (client
certificates; see :mod:`accord.server.auth.tls` for serving with uvicorn), or any
:class:`Verifier`. The JWT, OAuth and mutual-TLS verifiers need the ``security``
extra (``cryptography``) and are imported on first use.

Every authenticated call carries a :class:`Principal`; its id owns the tasks it
creates, and each caller sees only its own tasks in the request's tenant unless a
``task_access`` hook says otherwise (see :mod:`accord.server.auth.access`).
See ``docs/security.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .access import AccessPolicy, AccessRequest, TaskAccessHook
from .apikey import (
    MIN_KEY_LENGTH,
    ApiKey,
    ApiKeyRing,
    ApiKeyVerifier,
    generate_api_key,
    hash_api_key,
)
from .config import AuthConfig, Authenticator
from .errors import AuthConfigError, AuthenticationRequired, InsufficientScope
from .principal import Principal
from .verifier import Credential, CredentialRejected, RequestInfo, Verifier

if TYPE_CHECKING:
    from .bearer import JWKSCache, JWTVerifier
    from .mtls import MutualTLSVerifier
    from .oauth import OAuthVerifier

__all__ = [
    "MIN_KEY_LENGTH",
    "AccessPolicy",
    "AccessRequest",
    "ApiKey",
    "ApiKeyRing",
    "ApiKeyVerifier",
    "AuthConfig",
    "AuthConfigError",
    "AuthenticationRequired",
    "Authenticator",
    "Credential",
    "CredentialRejected",
    "InsufficientScope",
    "JWKSCache",
    "JWTVerifier",
    "MutualTLSVerifier",
    "OAuthVerifier",
    "Principal",
    "RequestInfo",
    "TaskAccessHook",
    "Verifier",
    "generate_api_key",
    "hash_api_key",
]

#: Names that need ``cryptography``: imported when first used.
_LAZY = {
    "JWKSCache": ".bearer",
    "JWTVerifier": ".bearer",
    "OAuthVerifier": ".oauth",
    "MutualTLSVerifier": ".mtls",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
