"""``accord keys generate``: make a card signing key pair; load one for signing.

Theory of operation. ``generate`` writes two files next to each other:

* ``PREFIX.pem``: the private key (PKCS#8, unencrypted), created with mode 0600 and
  never printed; an existing file is not overwritten without ``--force``;
* ``PREFIX.jwks.json``: the public JWK Set (``kid``, ``alg``), what verifiers pin or
  fetch (``accord serve --sign-key`` publishes it at ``/.well-known/jwks.json``).

A PEM file holds no ``kid``, so :func:`load_signing_key` takes it (and the algorithm)
from the ``.jwks.json`` beside the PEM when that file lists the same public key, else
from ``--kid``, else uses the RFC 7638 thumbprint, which is also what ``generate``
picks without ``--kid``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import UsageError

if TYPE_CHECKING:
    import argparse

    from accord.security import JWK

__all__ = ["ALGORITHMS", "load_signing_key", "run"]

#: Algorithms ``generate`` offers (RSA keys are 3072 bits).
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")
_PRIVATE_MODE = 0o600


def run(args: argparse.Namespace) -> int:
    """Generate a key pair; print where it went (never the private key)."""
    from accord.security import JWK, JWKSet

    prefix = Path(args.out)
    private_path = prefix.with_name(prefix.name + ".pem")
    public_path = prefix.with_name(prefix.name + ".jwks.json")
    if not args.force:
        existing = [p for p in (private_path, public_path) if p.exists()]
        if existing:
            raise UsageError(
                f"{existing[0]} exists; pass --force to replace it or pick another --out"
            )
    key = JWK.generate(args.alg, kid=args.kid)
    _write_private(private_path, key.to_pem())
    jwks = JWKSet((key.public(),)).to_dict()
    public_path.write_text(json.dumps(jwks, indent=2) + "\n", encoding="utf-8")
    if args.json:
        summary = {
            "kid": key.kid,
            "alg": key.alg,
            "privateKey": str(private_path),
            "jwks": str(public_path),
        }
        print(json.dumps(summary, indent=2))
    else:
        print(f"kid:          {key.kid}")
        print(f"algorithm:    {key.alg}")
        print(f"private key:  {private_path}  (mode 0600: keep it secret)")
        print(f"public JWKS:  {public_path}  (give it to verifiers)")
    return 0


def _write_private(path: Path, pem: bytes) -> None:
    """Write ``pem`` readable by the owner only, from the first byte on."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_MODE)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as out:
        # O_CREAT's mode only applies to a new file; --force may replace an old one.
        os.fchmod(out.fileno(), _PRIVATE_MODE)
        out.write(pem)


def load_signing_key(path: str, *, kid: str | None = None) -> JWK:
    """The private key in the PEM file ``path``, with its ``kid`` and algorithm.

    Raises:
        UsageError: the file is missing, not a private key, or of an unusable type.
    """
    from accord.errors import AlgorithmError
    from accord.security import JWK, JWKSet

    pem_path = Path(path)
    try:
        pem = pem_path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the key {path}: {exc.strerror}") from None
    try:
        key = JWK.from_pem(pem)
    except (ValueError, TypeError, AlgorithmError) as exc:
        raise UsageError(f"{path} is not a usable PEM key: {exc}") from None
    if not key.is_private:
        raise UsageError(f"{path} holds a public key; signing needs the private key")
    sibling = pem_path.with_name(pem_path.name.removesuffix(".pem") + ".jwks.json")
    if kid is None and sibling.is_file():
        try:
            jwks = JWKSet.from_dict(json.loads(sibling.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            jwks = JWKSet()
        thumbprint = key.thumbprint()
        for listed in jwks:
            if listed.thumbprint() == thumbprint:
                return JWK(kid=listed.kid, alg=listed.alg, key=key.key)
    if kid is not None:
        return JWK(kid=kid, alg=key.alg, key=key.key)
    return key
