"""``accord card URL``: fetch an agent card, validate it, show it.

Also ``accord card sign CARD.json --key KEY.pem`` (add a signature, spec §8.4.2) and
``accord card verify URL_OR_FILE --trust JWKS`` (check one, spec §8.4.3; exit 0 when a
signature verifies with a trusted key, 1 with the reason otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from accord.security import JWK

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Fetch and print the card; exit 0 when it is valid and usable."""
    import anyio

    action = getattr(args, "action", None)
    if action == "sign":
        return _sign(args)
    if action == "verify":
        return anyio.run(_verify, args)
    return anyio.run(_card, args)


async def _card(args: argparse.Namespace) -> int:
    from accord.client.card import suitable_interfaces
    from accord.errors import CardError

    from .._output import Printer, card_lines, to_json
    from ._remote import client_config, fetch_card, http_client

    config = client_config(args)
    async with http_client(args) as http:
        card = await fetch_card(args, http, config)
    out = Printer()
    if args.json:
        out.line(to_json(card))
    else:
        out.lines(card_lines(card))
    # A card that decodes but offers nothing this client can talk to is not usable.
    try:
        suitable_interfaces(card, config.preferred_bindings, config.bindings)
    except CardError as exc:
        raise CardError(
            f"the card at {args.url} is valid but unusable: {exc}"
        ) from None
    return 0


# --- accord card sign / verify ------------------------------------------------------


def _sign(args: argparse.Namespace) -> int:
    """Sign the card file; write the signed card (presence-exact ProtoJSON)."""
    import json
    import sys
    from pathlib import Path

    from accord.errors import CardError, ProtocolError
    from accord.security import card_json, sign_card
    from accord.types import AgentCard, decode

    from .._errors import UsageError
    from .keys import load_signing_key

    key = load_signing_key(args.key, kid=args.kid)
    try:
        text = Path(args.card).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.card}: {exc.strerror}") from None
    try:
        card = decode(text, AgentCard)
    except ProtocolError as exc:
        raise CardError(
            f"{args.card} is not a valid agent card: {exc.message}"
        ) from None
    signed = card_json(sign_card(card, key, jku=args.jku))
    document = json.dumps(signed, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(document, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    else:
        sys.stdout.write(document)
    count = len(signed["signatures"])
    print(
        f"signed with kid {key.kid} ({key.alg}); the card has {count} signature(s)",
        file=sys.stderr,
    )
    return 0


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _read_json(path: str, what: str) -> object:
    import json
    from pathlib import Path

    from .._errors import UsageError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{what} {path} is not JSON: {exc}") from None


def _pinned_keys(path: str) -> list[JWK]:
    """The keys of a trust file: a JWK Set, one JWK, or a PEM public key."""
    from accord.errors import AlgorithmError
    from accord.security import JWK, JWKSet

    from .._errors import UsageError

    if path.endswith(".pem"):
        try:
            with open(path, "rb") as pem:
                return [JWK.from_pem(pem.read()).public()]
        except OSError as exc:
            raise UsageError(f"cannot read the key {path}: {exc.strerror}") from None
        except (ValueError, AlgorithmError) as exc:
            raise UsageError(f"{path} is not a usable PEM key: {exc}") from None
    document = _read_json(path, "trusted keys")
    if isinstance(document, dict) and "keys" in document:
        keys = list(JWKSet.from_dict(document))
    elif isinstance(document, dict):
        try:
            keys = [JWK.from_dict(document).public()]
        except (ValueError, AlgorithmError) as exc:
            raise UsageError(f"{path} is not a usable JWK: {exc}") from None
    else:
        keys = []
    if not keys:
        raise UsageError(f"{path} holds no usable signature key")
    return keys


async def _verify(args: argparse.Namespace) -> int:
    """Verify the card's signatures with the trusted keys; print which one verified."""
    import json
    import sys

    from accord.client.card import card_url, fetch_json_document, fetch_jwks
    from accord.errors import CardError, SecurityError
    from accord.security import TrustStore, verify_card

    from .._errors import UsageError
    from ._remote import client_config, http_client, request_headers

    pinned = [k for t in args.trust if not _is_url(t) for k in _pinned_keys(t)]
    urls = [t for t in args.trust if _is_url(t)]
    config = client_config(args)
    async with http_client(args) as http:
        if _is_url(args.card):
            target = card_url(args.card)
            data = await fetch_json_document(
                http,
                target,
                what="Agent card",
                timeouts=config.timeouts,
                headers=request_headers(args),
                follow_redirects=True,
            )
        else:
            data = _read_json(args.card, "the card")
        trust = TrustStore(keys=pinned, jwks_urls=urls)
        for url in urls:
            try:
                jwks = await fetch_jwks(http, url, timeouts=config.timeouts)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            trust = trust.with_jwks(url, jwks)
    if not isinstance(data, dict):
        raise CardError(f"{args.card} is not an agent card (not a JSON object)")
    try:
        verified = verify_card(data, trust)
    except SecurityError as exc:
        if args.json:
            failure = {
                "verified": False,
                "error": type(exc).__name__,
                "message": str(exc),
            }
            print(json.dumps(failure, indent=2))
        print(
            f"accord: the card's signature is not valid: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    if args.json:
        result = {
            "verified": True,
            "kid": verified.kid,
            "alg": verified.alg,
            "index": verified.index,
            "form": verified.form,
        }
        print(json.dumps(result, indent=2))
        return 0
    count = len(data.get("signatures") or ())
    print(
        f"verified: signature {verified.index + 1} of {count}, "
        f"kid {verified.kid} ({verified.alg})"
    )
    if verified.form == "model":
        print(
            "note: it covers the card as A2A 1.0 defines it; members beyond that "
            "(e.g. v0.3 compatibility fields) are not signed"
        )
    return 0
