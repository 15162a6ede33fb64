"""JSON Web Keys (RFC 7517): :class:`JWK`, :class:`JWKSet`, base64url; see
:mod:`accord.security.jose` for the policy and the public API."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from accord.errors import AlgorithmError

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "accord.security needs the 'cryptography' package: pip install 'accord[security]'"
    ) from exc

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "JWK",
    "JWKSet",
    "PrivateKey",
    "PublicKey",
    "b64url_decode",
    "b64url_encode",
]


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, tuple[type[ec.EllipticCurve], str, int]] = {
    "P-256": (ec.SECP256R1, "ES256", 32),
    "P-384": (ec.SECP384R1, "ES384", 48),
    "P-521": (ec.SECP521R1, "ES512", 66),
}
_EC_ALGS = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
#: Algorithms verified with public keys.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {
        "ES256",
        "ES384",
        "ES512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "EdDSA",
    }
)
_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: Unpadded base64url (RFC 7515 §2). Checked up front: the stdlib decoder silently
#: skips characters outside the alphabet, so "ab!cd" would otherwise decode.
_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 §2), strictly.

    Raises:
        ValueError: for padding, characters outside the base64url alphabet, an
            impossible length, or non-zero unused trailing bits (a second spelling
            of the same bytes, RFC 4648 §3.5).
    """
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url (non-zero trailing bits)")
    return data


def _int_b64(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class JWK:
    """One JSON Web Key: a public or private key (or an HMAC secret) with metadata.

    Attributes:
        kid: key id, matched against a signature's ``kid`` header.
        alg: the one algorithm this key is used with (e.g. ``ES256``).
        key: a ``cryptography`` key object, or ``bytes`` for an ``oct`` secret.
        not_after: optional expiry (Unix time); an expired key never verifies.
    """

    kid: str
    alg: str
    key: Any
    not_after: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kty(self) -> str:
        """``EC``, ``RSA``, ``OKP`` or ``oct``."""
        if isinstance(self.key, bytes):
            return "oct"
        if isinstance(self.key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            return "EC"
        if isinstance(self.key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            return "RSA"
        return "OKP"

    @property
    def is_private(self) -> bool:
        """True when the key can sign."""
        return isinstance(self.key, bytes | PrivateKey)

    @classmethod
    def generate(cls, alg: str = "ES256", *, kid: str | None = None) -> JWK:
        """A fresh private key for ``alg`` (ES256/384/512, RS256/PS256…, EdDSA)."""
        key: PrivateKey
        if alg in _EC_ALGS:
            key = ec.generate_private_key(_CURVES[_EC_ALGS[alg]][0]())
        elif alg[:2] in ("RS", "PS") and alg[2:] in _HASHES:
            key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        elif alg == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise AlgorithmError(f"cannot generate a key for algorithm {alg!r}")
        jwk = cls(kid="", alg=alg, key=key)
        return cls(kid=kid or jwk.thumbprint(), alg=alg, key=key)

    @classmethod
    def from_pem(
        cls, pem: bytes, *, alg: str | None = None, kid: str | None = None
    ) -> JWK:
        """Load a PEM private or public key; ``alg`` defaults from the key type."""
        key: Any
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            key = serialization.load_pem_public_key(pem)
        chosen = alg or _default_alg(key)
        jwk = cls(kid="", alg=chosen, key=key)
        jwk._check_alg(chosen)
        return cls(kid=kid or jwk.thumbprint(), alg=chosen, key=key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JWK:
        """Parse a JWK JSON object (RFC 7517 §4).

        Raises:
            ValueError: for unsupported or malformed keys.
        """
        kty = data.get("kty")
        try:
            key: Any
            if kty == "EC":
                curve, alg, _ = _CURVES[str(data["crv"])]
                x, y = _b64_int(data["x"]), _b64_int(data["y"])
                public = ec.EllipticCurvePublicNumbers(x, y, curve())
                key = (
                    ec.EllipticCurvePrivateNumbers(
                        _b64_int(data["d"]), public
                    ).private_key()
                    if "d" in data
                    else public.public_key()
                )
            elif kty == "RSA":
                pub = rsa.RSAPublicNumbers(_b64_int(data["e"]), _b64_int(data["n"]))
                if "d" in data:
                    key = rsa.RSAPrivateNumbers(
                        p=_b64_int(data["p"]),
                        q=_b64_int(data["q"]),
                        d=_b64_int(data["d"]),
                        dmp1=_b64_int(data["dp"]),
                        dmq1=_b64_int(data["dq"]),
                        iqmp=_b64_int(data["qi"]),
                        public_numbers=pub,
                    ).private_key()
                else:
                    key = pub.public_key()
                alg = "RS256"
            elif kty == "OKP" and data.get("crv") == "Ed25519":
                key = (
                    ed25519.Ed25519PrivateKey.from_private_bytes(
                        b64url_decode(data["d"])
                    )
                    if "d" in data
                    else ed25519.Ed25519PublicKey.from_public_bytes(
                        b64url_decode(data["x"])
                    )
                )
                alg = "EdDSA"
            elif kty == "oct":
                key = b64url_decode(data["k"])
                alg = "HS256"
            else:
                raise ValueError(f"unsupported key type {kty!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed JWK: {exc}") from exc
        chosen = str(data.get("alg") or alg)
        jwk = cls(kid=str(data.get("kid", "")), alg=chosen, key=key)
        jwk._check_alg(chosen)
        exp = data.get("exp")
        not_after = float(exp) if isinstance(exp, int | float) else None
        return cls(
            kid=jwk.kid or jwk.thumbprint(), alg=chosen, key=key, not_after=not_after
        )

    def public(self) -> JWK:
        """The public half (an ``oct`` secret has none and is returned as is)."""
        if isinstance(self.key, PrivateKey):
            return JWK(
                self.kid, self.alg, self.key.public_key(), self.not_after, self.extra
            )
        return self

    def to_dict(self, *, private: bool = False) -> dict[str, Any]:
        """The JWK JSON object; private members only when asked for."""
        out: dict[str, Any] = {"kty": self.kty, "kid": self.kid, "alg": self.alg}
        key = self.key
        if isinstance(key, bytes):
            if not private:
                raise ValueError("an oct (HMAC) key has no public form")
            out["k"] = b64url_encode(key)
            return out
        if self.not_after is not None:
            out["exp"] = int(self.not_after)
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            pub = (
                key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
            )
            crv = _EC_ALGS.get(self.alg) or _curve_name(pub.curve)
            size = _CURVES[crv][2]
            numbers = pub.public_numbers()
            out.update(
                crv=crv, x=_int_b64(numbers.x, size), y=_int_b64(numbers.y, size)
            )
            if private and isinstance(key, ec.EllipticCurvePrivateKey):
                out["d"] = _int_b64(key.private_numbers().private_value, size)
        elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            pub_r = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
            nums = pub_r.public_numbers()
            out.update(n=_int_b64(nums.n), e=_int_b64(nums.e))
            if private and isinstance(key, rsa.RSAPrivateKey):
                p = key.private_numbers()
                out.update(
                    d=_int_b64(p.d), p=_int_b64(p.p), q=_int_b64(p.q),
                    dp=_int_b64(p.dmp1), dq=_int_b64(p.dmq1), qi=_int_b64(p.iqmp),
                )  # fmt: skip
        else:
            pub_o = (
                key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
            )
            raw = pub_o.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            out.update(crv="Ed25519", x=b64url_encode(raw))
            if private and isinstance(key, ed25519.Ed25519PrivateKey):
                out["d"] = b64url_encode(
                    key.private_bytes(
                        serialization.Encoding.Raw,
                        serialization.PrivateFormat.Raw,
                        serialization.NoEncryption(),
                    )
                )
        return out

    def to_pem(self) -> bytes:
        """PEM (PKCS#8 for private keys, SubjectPublicKeyInfo for public ones)."""
        if isinstance(self.key, PrivateKey):
            return self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        if isinstance(self.key, bytes):
            raise ValueError("an oct (HMAC) key has no PEM form")
        return bytes(
            self.key.public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )

    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint (a stable default ``kid``)."""
        full = self.to_dict(private=isinstance(self.key, bytes))
        members = {
            "EC": ("crv", "kty", "x", "y"),
            "RSA": ("e", "kty", "n"),
            "OKP": ("crv", "kty", "x"),
            "oct": ("k", "kty"),
        }
        required = {k: full[k] for k in members[self.kty]}
        canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
        return b64url_encode(hashlib.sha256(canonical).digest())

    def _check_alg(self, alg: str) -> None:
        if alg == "none" or not alg:
            raise AlgorithmError("the 'none' algorithm is never accepted")
        kty = self.kty
        ok = (
            (kty == "EC" and alg in _EC_ALGS)
            or (kty == "RSA" and alg[:2] in ("RS", "PS") and alg[2:] in _HASHES)
            or (kty == "OKP" and alg == "EdDSA")
            or (kty == "oct" and alg in _HMAC_ALGS)
        )
        if not ok:
            raise AlgorithmError(f"algorithm {alg!r} cannot be used with a {kty} key")
        if kty == "EC" and _curve_name(self._ec_public().curve) != _EC_ALGS[alg]:
            raise AlgorithmError(f"algorithm {alg!r} does not match the key's curve")

    def _ec_public(self) -> ec.EllipticCurvePublicKey:
        key = self.key
        return key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key

    def expired(self, now: float | None = None) -> bool:
        """True when the key's ``exp`` has passed."""
        return (
            self.not_after is not None
            and (now if now is not None else time.time()) >= self.not_after
        )


def _curve_name(curve: ec.EllipticCurve) -> str:
    for name, (cls, _, _) in _CURVES.items():
        if isinstance(curve, cls):
            return name
    raise AlgorithmError(f"unsupported curve {curve.name}")


def _default_alg(key: Any) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _CURVES[_curve_name(key.curve)][1]
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise AlgorithmError(f"unsupported key type {type(key).__name__}")


def _for_signatures(item: Mapping[str, Any]) -> bool:
    """False for keys a JWKS declares for something else (RFC 7517 §4.2, §4.3)."""
    use = item.get("use")
    ops = item.get("key_ops")
    if use is not None and use != "sig":
        return False
    return not (isinstance(ops, list) and "verify" not in ops and "sign" not in ops)


@dataclass(frozen=True)
class JWKSet:
    """A set of keys looked up by ``kid`` (RFC 7517 §5)."""

    keys: tuple[JWK, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JWKSet:
        """Parse ``{"keys": [...]}``; keys this library cannot use are skipped."""
        parsed: list[JWK] = []
        items = data.get("keys", ())
        for item in items if isinstance(items, list | tuple) else ():
            if not isinstance(item, Mapping) or not _for_signatures(item):
                continue
            try:
                parsed.append(JWK.from_dict(item))
            except (ValueError, AlgorithmError):
                continue  # RFC 7517 §5: ignore keys you do not understand
        return cls(tuple(parsed))

    def to_dict(self) -> dict[str, Any]:
        """The public JWKS document."""
        return {"keys": [k.public().to_dict() for k in self.keys if k.kty != "oct"]}

    def get(self, kid: str) -> JWK | None:
        """The key with ``kid``, or None."""
        for key in self.keys:
            if key.kid == kid:
                return key
        return None

    def __iter__(self) -> Any:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)
