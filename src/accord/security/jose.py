"""JOSE: JSON Web Keys (RFC 7517), JWS (RFC 7515) and JWT validation (RFC 7519).

Theory of operation. A :class:`JWK` wraps a ``cryptography`` key with its ``kid`` and
algorithm. :func:`sign` / :func:`verify` implement JWS over any payload, attached
(compact ``header.payload.signature``) or detached (Agent Card signatures, spec §8.4).
:func:`verify_jwt` validates a compact JWT against keys the *verifier* chose (a
:class:`JWKSet`), never against a key location named by the token.

Algorithm policy (RFC 8725, "JWT Best Current Practices"):

* ``none`` is never accepted;
* the algorithm must be on the caller's allow-list AND match the key's type:
  HS* only with ``oct`` keys, so a public RSA/EC key can never be used as an HMAC
  secret (the classic algorithm-confusion attack);
* ECDSA signatures are the raw ``r || s`` form of RFC 7518 §3.4, not DER.

This module does no I/O: fetching a JWKS over HTTPS is the caller's business.
``cryptography`` is an optional dependency (``pip install 'accord[security]'``).
"""

from __future__ import annotations

from ._jwk import ASYMMETRIC_ALGORITHMS, JWK, JWKSet, b64url_decode, b64url_encode
from ._jws import (
    DEFAULT_LEEWAY,
    decode_compact,
    decode_header,
    sign,
    sign_compact,
    verify,
    verify_jwt,
)

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_LEEWAY",
    "JWK",
    "JWKSet",
    "b64url_decode",
    "b64url_encode",
    "decode_compact",
    "decode_header",
    "sign",
    "sign_compact",
    "verify",
    "verify_jwt",
]
