"""JWS signing and verification (RFC 7515) and JWT validation (RFC 7519); see
:mod:`accord.security.jose` for the policy and the public API."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from typing import TYPE_CHECKING, Any

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accord.security needs the 'cryptography' package: pip install 'accord[security]'"
    ) from exc

from accord.errors import (
    AlgorithmError,
    KeyExpiredError,
    SignatureError,
    TokenError,
    UnknownKeyError,
)

from ._jwk import (
    _CURVES,
    _EC_ALGS,
    _HASHES,
    _HMAC_ALGS,
    ASYMMETRIC_ALGORITHMS,
    JWK,
    JWKSet,
    PrivateKey,
    b64url_decode,
    b64url_encode,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_LEEWAY",
    "decode_compact",
    "decode_header",
    "sign",
    "sign_compact",
    "verify",
    "verify_jwt",
]

#: Clock skew tolerated on ``exp``/``nbf``/``iat`` (seconds). Small: a minute covers
#: unsynchronised clocks without making expired tokens useful for long.
DEFAULT_LEEWAY = 60.0


def _raw_sign(key: JWK, alg: str, data: bytes) -> bytes:
    k = key.key
    if alg in _HMAC_ALGS:
        return hmac.new(k, data, getattr(hashlib, "sha" + alg[2:])).digest()
    if alg in _EC_ALGS:
        r, s = decode_dss_signature(k.sign(data, ec.ECDSA(_HASHES[alg[2:]]())))
        size = _CURVES[_EC_ALGS[alg]][2]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg.startswith("RS"):
        return bytes(k.sign(data, padding.PKCS1v15(), _HASHES[alg[2:]]()))
    if alg.startswith("PS"):
        h = _HASHES[alg[2:]]()
        return bytes(k.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h))
    return bytes(k.sign(data))  # EdDSA


def _raw_verify(key: JWK, alg: str, data: bytes, signature: bytes) -> bool:
    k = key.key
    if isinstance(k, PrivateKey):
        k = k.public_key()
    try:
        if alg in _HMAC_ALGS:
            expected = hmac.new(k, data, getattr(hashlib, "sha" + alg[2:])).digest()
            return hmac.compare_digest(expected, signature)
        if alg in _EC_ALGS:
            size = _CURVES[_EC_ALGS[alg]][2]
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:size], "big"),
                int.from_bytes(signature[size:], "big"),
            )
            k.verify(der, data, ec.ECDSA(_HASHES[alg[2:]]()))
        elif alg.startswith("RS"):
            k.verify(signature, data, padding.PKCS1v15(), _HASHES[alg[2:]]())
        elif alg.startswith("PS"):
            h = _HASHES[alg[2:]]()
            k.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:
            k.verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _header_json(header: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(header), separators=(",", ":"), ensure_ascii=False).encode()


def sign(
    payload: bytes, key: JWK, *, header: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """JWS-sign ``payload``; returns ``(protected, signature)`` in base64url.

    The protected header carries ``alg`` and ``kid`` (spec §8.4.2 MUST) plus ``header``.
    Use it detached (Agent Card signatures) or see :func:`sign_compact`.
    """
    if not key.is_private:
        raise ValueError("signing needs a private key")
    if header and header.get("alg", key.alg) != key.alg:
        # The header would claim one algorithm while the key signs with another.
        raise ValueError(
            f"header alg {header['alg']!r} differs from the key's {key.alg}"
        )
    key._check_alg(key.alg)
    protected = b64url_encode(
        _header_json({"alg": key.alg, "kid": key.kid, **(header or {})})
    )
    signing_input = (protected + "." + b64url_encode(payload)).encode("ascii")
    return protected, b64url_encode(_raw_sign(key, key.alg, signing_input))


def sign_compact(
    payload: bytes, key: JWK, *, header: Mapping[str, Any] | None = None
) -> str:
    """A compact JWS ``header.payload.signature`` (e.g. a JWT)."""
    protected, signature = sign(payload, key, header=header)
    return f"{protected}.{b64url_encode(payload)}.{signature}"


def decode_header(protected: str) -> dict[str, Any]:
    """The JSON object of a base64url protected header.

    Raises:
        SignatureError: when it is not base64url JSON object.
    """
    try:
        header = json.loads(b64url_decode(protected))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError("malformed JWS protected header") from exc
    if not isinstance(header, dict):
        raise SignatureError("malformed JWS protected header")
    return header


def verify(
    protected: str,
    payload: bytes,
    signature: str,
    keys: JWKSet | Iterable[JWK],
    *,
    algorithms: Iterable[str] = ASYMMETRIC_ALGORITHMS,
    now: float | None = None,
) -> tuple[dict[str, Any], JWK]:
    """Verify a JWS (detached or not) with keys the caller trusts.

    Returns the protected header and the key that verified it.

    Raises:
        AlgorithmError: ``alg`` is ``none``, not allowed, or does not fit the key.
        UnknownKeyError: no trusted key has the header's ``kid``.
        KeyExpiredError: that key is expired.
        SignatureError: the signature does not verify, or the JWS is malformed.
    """
    header = decode_header(protected)
    alg = header.get("alg")
    allowed = frozenset(algorithms)
    if not isinstance(alg, str) or alg == "none" or alg not in allowed:
        raise AlgorithmError(f"JWS algorithm {alg!r} is not allowed")
    if "crit" in header:
        raise SignatureError("JWS 'crit' header parameters are not supported")
    kid = header.get("kid")
    pool = keys.keys if isinstance(keys, JWKSet) else tuple(keys)
    if kid is not None:
        candidates = [k for k in pool if k.kid == kid]
        if not candidates:
            raise UnknownKeyError(f"no trusted key with kid {kid!r}")
    else:
        # Without a kid every trusted key of this algorithm is tried; keys bound to
        # other algorithms are skipped (not an error: they were never candidates).
        candidates = [k for k in pool if k.alg == alg]
        if not candidates:
            raise (
                AlgorithmError(f"no trusted key is for {alg}")
                if pool
                else UnknownKeyError("no trusted keys")
            )
    try:
        sig = b64url_decode(signature)
    except ValueError as exc:
        raise SignatureError("malformed JWS signature") from exc
    signing_input = (protected + "." + b64url_encode(payload)).encode("ascii")
    expired: JWK | None = None
    for key in candidates:
        if key.alg != alg:
            raise AlgorithmError(f"key {key.kid!r} is for {key.alg}, not {alg}")
        key._check_alg(alg)
        if key.expired(now):
            expired = key
            continue
        if _raw_verify(key, alg, signing_input, sig):
            return header, key
    if expired is not None:
        raise KeyExpiredError(f"key {expired.kid!r} has expired")
    raise SignatureError("signature does not verify")


def decode_compact(token: str) -> tuple[str, bytes, str]:
    """Split a compact JWS into ``(protected, payload bytes, signature)``.

    Raises:
        TokenError: when it is not three base64url parts.
    """
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise TokenError("not a compact JWS/JWT", reason="malformed")
    try:
        payload = b64url_decode(parts[1])
    except ValueError as exc:
        raise TokenError("not a compact JWS/JWT", reason="malformed") from exc
    return parts[0], payload, parts[2]


def verify_jwt(
    token: str,
    keys: JWKSet | Iterable[JWK],
    *,
    algorithms: Iterable[str],
    issuer: str | None = None,
    audience: str | Iterable[str] | None = None,
    leeway: float = DEFAULT_LEEWAY,
    now: float | None = None,
    require: Iterable[str] = ("exp",),
) -> dict[str, Any]:
    """Verify a JWT's signature and registered claims; return its claims.

    ``exp``/``nbf``/``iat`` are checked with ``leeway``; ``iss`` must equal ``issuer``
    when given; ``aud`` must contain one of ``audience``, and with no ``audience`` a
    token that carries ``aud`` is refused (RFC 7519 §4.1.3).

    Raises:
        TokenError: malformed token or failed claim (``reason`` says which).
        AlgorithmError, UnknownKeyError, KeyExpiredError, SignatureError: as :func:`verify`.
    """
    protected, payload, signature = decode_compact(token)
    verify(protected, payload, signature, keys, algorithms=algorithms, now=now)
    try:
        # NaN/Infinity are not JSON; json.loads would accept them, and an
        # "exp": NaN compares false with every time, i.e. never expires.
        claims = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("JWT payload is not JSON", reason="malformed") from exc
    if not isinstance(claims, dict):
        raise TokenError("JWT payload is not a JSON object", reason="malformed")
    moment = time.time() if now is None else now
    for name in require:
        if name not in claims:
            raise TokenError(f"JWT lacks the {name!r} claim", reason="missing_claim")
    for name in ("exp", "nbf", "iat"):
        if name in claims and (
            isinstance(claims[name], bool)
            or not isinstance(claims[name], int | float)
            or not math.isfinite(claims[name])
        ):
            raise TokenError(f"JWT claim {name!r} is not a number", reason="malformed")
    if "exp" in claims and moment >= claims["exp"] + leeway:
        raise TokenError("JWT has expired", reason="expired")
    if "nbf" in claims and moment < claims["nbf"] - leeway:
        raise TokenError("JWT is not valid yet", reason="not_yet_valid")
    if "iat" in claims and claims["iat"] > moment + leeway:
        raise TokenError("JWT was issued in the future", reason="issued_in_future")
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenError("JWT issuer does not match", reason="issuer")
    if audience is None:
        # RFC 7519 §4.1.3: a verifier that does not identify itself in a present
        # ``aud`` claim MUST reject the token.
        if "aud" in claims:
            raise TokenError("JWT audience does not match", reason="audience")
    else:
        wanted = {audience} if isinstance(audience, str) else set(audience)
        aud = claims.get("aud")
        listed = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not wanted & {a for a in listed if isinstance(a, str)}:
            raise TokenError("JWT audience does not match", reason="audience")
    return claims


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
