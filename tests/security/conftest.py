"""Keys for the security tests, generated once per session (RSA generation is slow)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from accord.security.jose import JWK


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key shared by the RS*/PS* tests (3072 bits is slow to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def keys(rsa_key: rsa.RSAPrivateKey) -> dict[str, JWK]:
    """A private key for every signature algorithm, by algorithm name."""
    out = {
        alg: JWK.generate(alg, kid=f"{alg.lower()}-key")
        for alg in ("ES256", "ES384", "ES512", "EdDSA")
    }
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        out[alg] = JWK(kid=f"{alg.lower()}-key", alg=alg, key=rsa_key)
    out["HS256"] = JWK(kid="hs256-key", alg="HS256", key=b"s" * 32)
    return out


@pytest.fixture(scope="session")
def es256(keys: dict[str, JWK]) -> JWK:
    """The ES256 signing key."""
    return keys["ES256"]
