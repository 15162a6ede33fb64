"""JOSE core: keys, JWS for every algorithm, algorithm policy, JWT claims, base64url."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

from accord.errors import (
    AlgorithmError,
    KeyExpiredError,
    SignatureError,
    TokenError,
    UnknownKeyError,
)
from accord.security.jose import (
    ASYMMETRIC_ALGORITHMS,
    JWK,
    JWKSet,
    b64url_decode,
    b64url_encode,
    decode_compact,
    decode_header,
    sign,
    sign_compact,
    verify,
    verify_jwt,
)

ALL_ALGORITHMS = sorted(ASYMMETRIC_ALGORITHMS | {"HS256"})
NOW = 1_750_000_000.0


def _forge(header: dict[str, Any], payload: bytes, signature: bytes = b"x") -> str:
    """A compact JWS with any header, signed by nobody."""
    return ".".join(
        (
            b64url_encode(json.dumps(header).encode()),
            b64url_encode(payload),
            b64url_encode(signature),
        )
    )


def _jwt(key: JWK, claims: dict[str, Any], **header: Any) -> str:
    return sign_compact(json.dumps(claims).encode(), key, header=header or None)


# --- JWS: every algorithm ----------------------------------------------------------------


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_sign_and_verify_every_algorithm(keys: dict[str, JWK], alg: str) -> None:
    key = keys[alg]
    protected, signature = sign(b"payload \xe2\x82\xac", key, header={"typ": "JOSE"})
    trusted = [key] if alg == "HS256" else [key.public()]
    header, used = verify(
        protected, b"payload \xe2\x82\xac", signature, trusted, algorithms={alg}
    )
    assert header == {"alg": alg, "kid": key.kid, "typ": "JOSE"}
    assert used.kid == key.kid
    with pytest.raises(SignatureError, match="does not verify"):
        verify(protected, b"payload", signature, trusted, algorithms={alg})


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_signatures_are_raw_r_s(keys: dict[str, JWK], alg: str) -> None:
    # RFC 7518 §3.4: fixed-size r || s, not DER.
    _, signature = sign(b"x", keys[alg])
    assert (
        len(b64url_decode(signature)) == {"ES256": 64, "ES384": 96, "ES512": 132}[alg]
    )


def test_compact_round_trip(es256: JWK) -> None:
    token = sign_compact(b'{"a":1}', es256)
    protected, payload, signature = decode_compact(token)
    assert payload == b'{"a":1}'
    assert verify(protected, payload, signature, [es256.public()])[1].kid == es256.kid


def test_wrong_key_with_the_same_kid_does_not_verify(es256: JWK) -> None:
    impostor = JWK(kid=es256.kid, alg="ES256", key=JWK.generate("ES256").key)
    protected, signature = sign(b"x", impostor)
    with pytest.raises(SignatureError):
        verify(protected, b"x", signature, [es256.public()])


def test_unknown_kid(es256: JWK, keys: dict[str, JWK]) -> None:
    protected, signature = sign(b"x", es256)
    with pytest.raises(UnknownKeyError, match=es256.kid):
        verify(protected, b"x", signature, JWKSet((keys["EdDSA"].public(),)))


def test_without_kid_every_key_of_the_algorithm_is_tried(keys: dict[str, JWK]) -> None:
    es = keys["ES256"]
    token = _forge({"alg": "ES256"}, b"{}")
    protected, payload, _ = decode_compact(token)
    signing_input = f"{protected}.{b64url_encode(payload)}".encode()
    from accord.security._jws import _raw_sign  # the bare primitive, no header

    signature = b64url_encode(_raw_sign(es, "ES256", signing_input))
    # An EdDSA key listed first must not stop the search (it is for another alg).
    pool = [keys["EdDSA"].public(), JWK.generate("ES256").public(), es.public()]
    assert verify(protected, payload, signature, pool)[1].kid == es.kid
    with pytest.raises(AlgorithmError, match="no trusted key is for ES256"):
        verify(protected, payload, signature, [keys["EdDSA"].public()])
    with pytest.raises(UnknownKeyError):
        verify(protected, payload, signature, [])


def test_sign_needs_a_private_key(es256: JWK) -> None:
    with pytest.raises(ValueError, match="private key"):
        sign(b"x", es256.public())


def test_sign_refuses_a_header_that_claims_another_algorithm(es256: JWK) -> None:
    with pytest.raises(ValueError, match="differs"):
        sign(b"x", es256, header={"alg": "HS256"})
    assert (
        decode_header(sign(b"x", es256, header={"alg": "ES256"})[0])["alg"] == "ES256"
    )


# --- algorithm policy (RFC 8725) -----------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "", None, 5])
def test_none_and_junk_algorithms_are_refused(es256: JWK, alg: Any) -> None:
    token = _forge({"alg": alg, "kid": es256.kid}, b"{}", b"")
    protected, payload, signature = decode_compact(token)
    allowed = {"none", "None", "ES256"}  # even a caller who allows "none" gets nothing
    with pytest.raises(AlgorithmError):
        verify(protected, payload, signature, [es256.public()], algorithms=allowed)


def test_hs256_with_a_public_key_as_secret_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # The classic confusion: HMAC-sign with the verifier's *public* key bytes as secret.
    public = JWK(kid="rsa", alg="RS256", key=rsa_key.public_key())
    secret = public.to_pem()
    forged_key = JWK(kid="rsa", alg="HS256", key=secret)
    token = sign_compact(b'{"exp": 9999999999}', forged_key)
    # Not on the default allow-list ...
    with pytest.raises(AlgorithmError):
        verify_jwt(token, [public], algorithms=ASYMMETRIC_ALGORITHMS)
    # ... and refused even when a careless caller allows HS256 too.
    with pytest.raises(AlgorithmError):
        verify_jwt(token, [public], algorithms={"RS256", "HS256"})
    # A JWK that pairs an RSA key with HS256 is refused at use.
    confused = JWK(kid="rsa", alg="HS256", key=rsa_key.public_key())
    with pytest.raises(AlgorithmError, match="cannot be used with a RSA key"):
        verify_jwt(token, [confused], algorithms={"HS256"})


def test_algorithm_must_match_the_key(keys: dict[str, JWK]) -> None:
    protected, signature = sign(b"x", keys["RS256"])
    ps = JWK(kid=keys["RS256"].kid, alg="PS256", key=keys["RS256"].key.public_key())
    with pytest.raises(AlgorithmError, match="is for PS256, not RS256"):
        verify(protected, b"x", signature, [ps])
    with pytest.raises(AlgorithmError, match="not allowed"):
        verify(
            protected, b"x", signature, [keys["RS256"].public()], algorithms={"ES256"}
        )


def test_ec_curve_must_match_the_algorithm(keys: dict[str, JWK]) -> None:
    p256 = keys["ES256"].key
    with pytest.raises(AlgorithmError, match="curve"):
        sign(b"x", JWK(kid="k", alg="ES384", key=p256))


def test_crit_is_refused(es256: JWK) -> None:
    protected, signature = sign(b"x", es256, header={"crit": ["exp"], "exp": 1})
    with pytest.raises(SignatureError, match="crit"):
        verify(protected, b"x", signature, [es256.public()])


# --- expiry ---------------------------------------------------------------------------------


def test_expired_key_is_not_used(es256: JWK) -> None:
    protected, signature = sign(b"x", es256)
    expired = JWK(es256.kid, "ES256", es256.key.public_key(), not_after=NOW - 1)
    assert expired.expired(NOW)
    assert not expired.expired(NOW - 10)
    with pytest.raises(KeyExpiredError, match=es256.kid):
        verify(protected, b"x", signature, [expired], now=NOW)
    assert verify(protected, b"x", signature, [expired], now=NOW - 10)[1] is expired


def test_key_expiry_from_a_jwk_exp_member(es256: JWK) -> None:
    data = {**es256.public().to_dict(), "exp": int(NOW)}
    key = JWK.from_dict(data)
    assert key.not_after == NOW
    assert key.to_dict()["exp"] == int(NOW)
    protected, signature = sign(b"x", es256)
    with pytest.raises(KeyExpiredError):
        verify(protected, b"x", signature, [key], now=NOW + 1)


# --- JWK round trips --------------------------------------------------------------------

RFC7638_KEY = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
        "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
        "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91Cb"
        "OpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
        "Cur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_rfc7638_thumbprint_vector() -> None:
    key = JWK.from_dict(RFC7638_KEY)
    assert key.kid == "2011-04-29"
    assert key.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    # Without a kid, the thumbprint becomes the kid.
    anonymous = JWK.from_dict({k: v for k, v in RFC7638_KEY.items() if k != "kid"})
    assert anonymous.kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_dict_round_trip(keys: dict[str, JWK], alg: str) -> None:
    key = keys[alg]
    private = JWK.from_dict(key.to_dict(private=True))
    assert (private.kid, private.alg, private.is_private) == (key.kid, alg, True)
    assert private.thumbprint() == key.thumbprint()
    protected, signature = sign(b"m", private)
    if alg == "HS256":
        with pytest.raises(ValueError, match="no public form"):
            key.to_dict()
        assert verify(protected, b"m", signature, [key], algorithms={alg})
        return
    public_dict = key.to_dict()
    assert "d" not in public_dict
    assert public_dict["kty"] == key.kty
    public = JWK.from_dict(public_dict)
    assert not public.is_private
    assert public.thumbprint() == key.thumbprint()
    assert verify(protected, b"m", signature, [public], algorithms={alg})


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "RS256", "PS384"])
def test_pem_round_trip(keys: dict[str, JWK], alg: str) -> None:
    key = keys[alg]
    private = JWK.from_pem(key.to_pem(), alg=alg, kid="k1")
    assert private.is_private
    assert key.to_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
    public = JWK.from_pem(key.public().to_pem(), alg=alg, kid="k1")
    assert not public.is_private
    # The default kid is the RFC 7638 thumbprint.
    assert JWK.from_pem(key.public().to_pem(), alg=alg).kid == key.thumbprint()
    protected, signature = sign(b"m", private)
    assert verify(protected, b"m", signature, [public], algorithms={alg})


def test_pem_default_algorithms(
    keys: dict[str, JWK], rsa_key: rsa.RSAPrivateKey
) -> None:
    assert JWK.from_pem(keys["ES384"].to_pem()).alg == "ES384"
    assert JWK.from_pem(keys["EdDSA"].to_pem()).alg == "EdDSA"
    assert JWK.from_pem(keys["RS256"].to_pem()).alg == "RS256"
    with pytest.raises(ValueError, match="no PEM form"):
        keys["HS256"].to_pem()
    with pytest.raises(AlgorithmError):
        JWK.from_pem(keys["ES256"].to_pem(), alg="RS256")


def test_unsupported_key_types_and_algorithms() -> None:
    x = x25519.X25519PrivateKey.generate()
    pem = x.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(AlgorithmError):
        JWK.from_pem(pem)
    with pytest.raises(AlgorithmError):
        JWK.generate("HS256")
    with pytest.raises(ValueError, match="malformed JWK"):
        JWK.from_dict({"kty": "EC", "crv": "P-256", "x": "AA"})
    with pytest.raises(ValueError, match="unsupported key type"):
        JWK.from_dict({"kty": "OKP", "crv": "X25519", "x": "AA"})
    secp256k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    with pytest.raises(AlgorithmError):
        JWK.from_pem(
            secp256k1.public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )


def test_generated_kid_is_the_thumbprint() -> None:
    key = JWK.generate("EdDSA")
    assert key.kid == key.thumbprint() == key.public().thumbprint()
    assert JWK.generate("ES256", kid="mine").kid == "mine"


# --- JWKS ---------------------------------------------------------------------------------


def test_jwks_parsing_skips_unusable_keys(keys: dict[str, JWK]) -> None:
    good = [keys["ES256"].public().to_dict(), keys["EdDSA"].public().to_dict()]
    document = {
        "keys": [
            good[0],
            {"kty": "OKP", "crv": "X25519", "x": "AAAA"},  # not a signature key type
            {"kty": "EC", "crv": "P-256"},  # malformed
            {"kty": "RSA", "n": "!!", "e": "AQAB"},  # not base64url
            {**keys["ES384"].public().to_dict(), "use": "enc"},  # for encryption
            {**keys["ES512"].public().to_dict(), "key_ops": ["encrypt"]},
            {**keys["ES256"].public().to_dict(), "alg": "RS256", "kid": "bad-alg"},
            "not an object",
            good[1],
        ]
    }
    jwks = JWKSet.from_dict(document)
    assert [k.kid for k in jwks] == [keys["ES256"].kid, keys["EdDSA"].kid]
    assert len(jwks) == 2
    assert jwks.get(keys["EdDSA"].kid) is jwks.keys[1]
    assert jwks.get("nope") is None
    assert len(JWKSet.from_dict({"keys": "junk"})) == 0
    assert len(JWKSet.from_dict({})) == 0


def test_jwks_document_is_public_only(keys: dict[str, JWK]) -> None:
    jwks = JWKSet((keys["ES256"], keys["HS256"], keys["RS256"]))
    document = jwks.to_dict()
    assert [k["kid"] for k in document["keys"]] == [
        keys["ES256"].kid,
        keys["RS256"].kid,
    ]
    assert all("d" not in k and "k" not in k for k in document["keys"])
    assert len(JWKSet.from_dict(json.loads(json.dumps(document)))) == 2


# --- JWT claims ---------------------------------------------------------------------------


def _check(token: str, key: JWK, **options: Any) -> dict[str, Any]:
    return verify_jwt(token, [key.public()], algorithms={"ES256"}, now=NOW, **options)


def test_valid_jwt(es256: JWK) -> None:
    claims = {"iss": "https://issuer", "aud": "me", "exp": NOW + 60, "iat": NOW}
    token = _jwt(es256, claims)
    assert _check(token, es256, issuer="https://issuer", audience="me") == claims


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": NOW - 61}, "expired"),
        ({"exp": NOW}, None),  # within the default 60 s leeway
        ({"exp": NOW + 1, "nbf": NOW + 61}, "not_yet_valid"),
        ({"exp": NOW + 1, "nbf": NOW + 59}, None),
        ({"exp": NOW + 1, "iat": NOW + 61}, "issued_in_future"),
        ({"exp": NOW + 1, "iat": NOW + 59}, None),
        ({}, "missing_claim"),
        ({"exp": "tomorrow"}, "malformed"),
        ({"exp": True}, "malformed"),
        ({"exp": NOW + 1, "nbf": [1]}, "malformed"),
    ],
)
def test_time_claims(es256: JWK, claims: dict[str, Any], reason: str | None) -> None:
    token = _jwt(es256, claims)
    if reason is None:
        assert _check(token, es256) == claims
    else:
        with pytest.raises(TokenError) as info:
            _check(token, es256)
        assert info.value.reason == reason


def test_leeway_is_configurable(es256: JWK) -> None:
    token = _jwt(es256, {"exp": NOW - 5})
    with pytest.raises(TokenError, match="expired"):
        _check(token, es256, leeway=0)
    assert _check(token, es256, leeway=10)


def test_exp_can_be_optional(es256: JWK) -> None:
    assert _check(_jwt(es256, {"sub": "x"}), es256, require=()) == {"sub": "x"}


def test_non_finite_exp_is_malformed(es256: JWK) -> None:
    # json.loads accepts NaN, and "exp": NaN would compare false with any time.
    for text in (b'{"exp": NaN}', b'{"exp": Infinity}', b'{"exp": 1e999}'):
        token = sign_compact(text, es256)
        with pytest.raises(TokenError) as info:
            _check(token, es256)
        assert info.value.reason == "malformed"


@pytest.mark.parametrize(
    ("aud", "audience", "ok"),
    [
        ("me", "me", True),
        (["x", "me"], "me", True),
        ("me", ["you", "me"], True),
        ("you", "me", False),
        (["x", {"y": 1}, ["me"]], "me", False),  # junk members do not crash
        (None, "me", False),
        (5, "me", False),
        # RFC 7519 §4.1.3: a verifier that names no audience refuses tokens with one
        ("me", None, False),
        (None, None, True),
    ],
)
def test_audience(es256: JWK, aud: Any, audience: Any, ok: bool) -> None:
    claims: dict[str, Any] = {"exp": NOW + 10}
    if aud is not None:
        claims["aud"] = aud
    token = _jwt(es256, claims)
    if ok:
        assert _check(token, es256, audience=audience).get("aud") == aud
    else:
        with pytest.raises(TokenError) as info:
            _check(token, es256, audience=audience)
        assert info.value.reason == "audience"


def test_issuer(es256: JWK) -> None:
    token = _jwt(es256, {"exp": NOW + 10, "iss": "a"})
    with pytest.raises(TokenError) as info:
        _check(token, es256, issuer="b")
    assert info.value.reason == "issuer"
    with pytest.raises(TokenError):
        _check(_jwt(es256, {"exp": NOW + 10}), es256, issuer="a")


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "a.!!.c", "a.b=.c", 5, "eyJhbGciOiJFUzI1NiJ9..sig"]
)
def test_malformed_tokens(es256: JWK, token: Any) -> None:
    with pytest.raises((TokenError, SignatureError, AlgorithmError)):
        _check(token, es256)


def test_payload_that_is_not_a_json_object(es256: JWK) -> None:
    for payload in (b"[1, 2]", b"not json", b"\xff\xfe"):
        token = sign_compact(payload, es256)
        with pytest.raises(TokenError) as info:
            _check(token, es256)
        assert info.value.reason == "malformed"


def test_jwt_signed_by_another_key(es256: JWK) -> None:
    other = JWK(es256.kid, "ES256", JWK.generate("ES256").key)
    with pytest.raises(SignatureError):
        _check(_jwt(other, {"exp": NOW + 10}), es256)


# --- base64url and malformed JWS parts ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ab!cd",  # outside the alphabet (the stdlib decoder would skip it)
        "Zm9v\x00",
        "a.b",
        "Zm9v+/",  # standard, not URL-safe, alphabet
        "Zm9vYg==",  # padding
        "Zm9vY",  # 4n+1 characters cannot be base64
        "QR",  # non-zero unused bits: a second spelling of "A" ("QQ")
        "é",
        " Zm9v",
    ],
)
def test_b64url_decode_is_strict(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


def test_b64url_round_trip() -> None:
    for size in range(20):
        data = bytes(range(250, 250 - size, -1)) if size else b""
        assert b64url_decode(b64url_encode(data)) == data
    assert b64url_decode("QQ") == b"A"
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(b"QQ")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "protected",
    ["!!", b64url_encode(b"not json"), b64url_encode(b"[1]"), b64url_encode(b"\xff")],
)
def test_malformed_protected_header(es256: JWK, protected: str) -> None:
    with pytest.raises(SignatureError, match="malformed JWS protected header"):
        verify(protected, b"x", "AAAA", [es256.public()])


def test_malformed_signature(es256: JWK) -> None:
    protected, signature = sign(b"x", es256)
    with pytest.raises(SignatureError, match="malformed JWS signature"):
        verify(protected, b"x", signature + "!", [es256.public()])
    with pytest.raises(SignatureError, match="does not verify"):
        verify(protected, b"x", b64url_encode(bytes(64)), [es256.public()])


def test_verify_uses_the_caller_clock_by_default(es256: JWK) -> None:
    token = _jwt(es256, {"exp": time.time() + 30})
    assert verify_jwt(token, [es256.public()], algorithms={"ES256"})
