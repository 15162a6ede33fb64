"""Signed Agent Cards: canonical payload, signing, and verification (spec §8.4).

Theory of operation.

*Payload* (spec §8.4.1). A signature covers the card as ProtoJSON with protobuf
presence semantics, without ``signatures``, canonicalised by RFC 8785 (:mod:`.jcs`):

* fields annotated ``REQUIRED`` in ``a2a.proto`` are always present, even when empty
  (``"description": ""``, ``"skills": []``, ``"capabilities": {}``);
* ``optional`` scalars are present iff set, even to their default
  (``"streaming": false``); sub-messages and ``Struct`` values iff set (``{}`` too);
* every other field is present only when it is not the default (``""``, ``false``,
  ``0``, ``[]``, ``{}``).

``_card_schema.CARD_SCHEMA`` encodes those rules for every message reachable from
``AgentCard`` (a test compares it with the proto descriptor). Two entry points apply
it:

* :func:`canonical_payload` starts from an :class:`~accord.types.AgentCard` value and
  *adds* absent REQUIRED fields: what a signer uses. :func:`card_json` is the same
  presence-exact ProtoJSON with ``signatures`` kept; serve that, so that what a
  verifier receives is what was signed.
* :func:`canonical_payload_from_json` starts from the JSON a verifier *received*
  (spec §8.4.3 steps 3-5): known members equal to their default are removed unless
  REQUIRED or ``optional``, ``null`` members are removed (ProtoJSON "not set"),
  snake_case proto names become camelCase, absent members stay absent (the spec's own
  example keeps no ``version``), and **members this verifier does not know are kept
  exactly as received**: a newer signer put them in its canonical form, and dropping
  them would fail every card from a newer schema. A card carrying unknown members
  that the signer did *not* sign (e.g. v0.3 "hybrid" fields added when serving,
  spec §8.4.1) therefore fails this reading; see the second one below.

*Keys*. :func:`verify_card` uses only keys the verifier configured in a
:class:`TrustStore`: pinned keys and JWK Sets from ``jwks_urls`` that the caller
fetched (this module does no I/O; :meth:`TrustStore.with_jwks` adds a fetched set).
A ``jku`` in a signature header only narrows the search to that set when it is one of
the configured ``jwks_urls``; a key location named by the signer alone is never
trusted (RFC 8725 §3.10).

*Two readings of a received card* (spec §8.4.1). :func:`verify_card` checks each
signature against the canonical form of the received JSON and, when that differs,
against the canonical form of the card as :class:`~accord.types.AgentCard` reads it
(unknown members dropped, absent REQUIRED fields added): the way a verifier built
on the proto model rebuilds the payload. The result says which form verified
(:attr:`VerifiedSignature.form`).

*Verdict* (spec §8.4.3): one valid signature suffices. When none verifies, the error
of the most telling failure is raised (a bad signature, expired key or refused
algorithm before an unknown ``kid``), with the others attached as notes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from accord.errors import (
    AlgorithmError,
    KeyExpiredError,
    ProtocolError,
    SecurityError,
    SignatureError,
    UnknownKeyError,
)
from accord.types import (
    AgentCard,
    AgentCardSignature,
    convert,
    decode_json,
    encode,
    replace,
)

from ._card_schema import normalize
from .jcs import canonicalize
from .jose import ASYMMETRIC_ALGORITHMS, JWK, JWKSet, decode_header, sign, verify

__all__ = [
    "PayloadForm",
    "TrustStore",
    "VerifiedSignature",
    "canonical_payload",
    "canonical_payload_from_json",
    "card_json",
    "sign_card",
    "verify_card",
]


def card_json(card: AgentCard) -> dict[str, Any]:
    """The card as presence-exact ProtoJSON: REQUIRED fields always present.

    Unlike :func:`accord.types.encode` (which omits every default), this keeps
    ``"description": ""``, ``"skills": []`` and the like, so a card served in this
    form (with its ``signatures``) verifies against :func:`canonical_payload`.
    """
    # Through the wire encoding, so the result holds exactly what would be sent
    # (lists, not tuples; numbers as JSON reads them back).
    return normalize(decode_json(encode(card)), "AgentCard", fill=True)


def canonical_payload(card: AgentCard) -> bytes:
    """The bytes a card signature covers (spec §8.4.1), from a card value.

    REQUIRED fields are included even when empty; ``signatures`` is left out.
    """
    data = card_json(card)
    data.pop("signatures", None)
    return canonicalize(data)


def canonical_payload_from_json(data: Mapping[str, Any]) -> bytes:
    """The bytes a card signature covers, rebuilt from the JSON a verifier received.

    Spec §8.4.3: default values removed (except REQUIRED and ``optional`` fields),
    ``signatures`` excluded, RFC 8785 applied. Absent fields stay absent; members
    unknown to this schema are kept as received (see the module doc for why).

    Raises:
        ValueError: the JSON has no canonical form (NaN, huge integers, a member
            given under both its JSON and proto name, nesting too deep).
        TypeError: ``data`` is not a JSON object.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"an agent card is a JSON object, not {type(data).__name__}")
    body = {k: v for k, v in data.items() if k != "signatures"}
    return canonicalize(normalize(body, "AgentCard", fill=False))


# --- signing ------------------------------------------------------------------------


def sign_card(
    card: AgentCard,
    key: JWK,
    *,
    jku: str | None = None,
    typ: str | None = "JOSE",
    header: Mapping[str, Any] | None = None,
) -> AgentCard:
    """Return ``card`` with one more signature by ``key`` (spec §8.4.2).

    The protected header carries ``alg`` and ``kid`` (MUST), ``typ`` (``"JOSE"``,
    SHOULD) and ``jku`` when given (a JWKS URL where verifiers may find the key; they
    only use it if they trust that URL). ``header`` is the optional unprotected
    header. Existing signatures are kept, so a card can carry one per key during a
    rotation; every signature covers the card *without* any signatures.

    Raises:
        ValueError: ``key`` is public or has no ``kid``, or ``header`` repeats a
            protected parameter.
        AlgorithmError: the key's algorithm cannot sign.
    """
    if not key.kid:
        raise ValueError("a card signing key needs a kid (spec §8.4.2)")
    protected_extra: dict[str, Any] = {}
    if typ is not None:
        protected_extra["typ"] = typ
    if jku is not None:
        protected_extra["jku"] = jku
    protected, signature = sign(canonical_payload(card), key, header=protected_extra)
    if header is not None and set(header) & set(decode_header(protected)):
        # RFC 7515 §7.2.1: verifiers refuse a parameter in both headers.
        raise ValueError("the unprotected header repeats a protected parameter")
    added = AgentCardSignature(
        protected=protected,
        signature=signature,
        header=dict(header) if header is not None else None,
    )
    return replace(card, signatures=(*card.signatures, added))


# --- verification -------------------------------------------------------------------


def _as_keys(keys: JWKSet | Iterable[JWK]) -> tuple[JWK, ...]:
    # Only public halves are kept: a trust store has no business holding secrets.
    pool = keys.keys if isinstance(keys, JWKSet) else tuple(keys)
    for key in pool:
        if not isinstance(key, JWK):
            raise TypeError(f"trusted keys must be JWKs, not {type(key).__name__}")
    return tuple(k.public() for k in pool)


@dataclass(frozen=True)
class TrustStore:
    """The keys a verifier trusts for agent cards (spec §8.4.3), chosen by the verifier.

    Attributes:
        keys: pinned keys (a :class:`~accord.security.jose.JWKSet` or JWKs), matched
            by ``kid``.
        jwks_urls: JWK Set URLs the verifier trusts. Their keys count only once
            fetched (over HTTPS) and added with :meth:`with_jwks`; see
            :attr:`missing_jwks` and ``accord.client.card.fetch_jwks``.
        jwks: the fetched set of each URL of ``jwks_urls``.
        algorithms: signature algorithms accepted (never ``none`` or HMAC by default).
        revoked: ``kid`` values that must never verify (spec §8.4.3: revoked keys
            MUST NOT be used); a key's own ``exp`` is honoured as well.

    Example::

        trust = TrustStore(jwks_urls=("https://agent.example/.well-known/jwks.json",))
        trust = trust.with_jwks(trust.jwks_urls[0], JWKSet.from_dict(fetched))
        verified = verify_card(card_json, trust)
    """

    keys: JWKSet | Iterable[JWK] = ()
    jwks_urls: Iterable[str] = ()
    jwks: Mapping[str, JWKSet] = field(default_factory=dict)
    algorithms: Iterable[str] = ASYMMETRIC_ALGORITHMS
    revoked: Iterable[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.jwks_urls, str):
            raise TypeError("jwks_urls is a collection of URLs, not one str")
        urls = tuple(dict.fromkeys(self.jwks_urls))
        fetched = dict(self.jwks)
        stray = [url for url in fetched if url not in urls]
        if stray:
            raise ValueError(f"JWKS for URLs not in jwks_urls: {', '.join(stray)}")
        for url, jwks in fetched.items():
            if not isinstance(jwks, JWKSet):
                raise TypeError(f"the JWKS of {url} must be a JWKSet")
        algorithms = frozenset(self.algorithms)
        if "none" in algorithms:
            raise ValueError("the 'none' algorithm can never be trusted")
        object.__setattr__(self, "keys", JWKSet(_as_keys(self.keys)))
        object.__setattr__(self, "jwks_urls", urls)
        object.__setattr__(self, "jwks", MappingProxyType(fetched))
        object.__setattr__(self, "algorithms", algorithms)
        object.__setattr__(self, "revoked", frozenset(self.revoked))

    def with_jwks(self, url: str, jwks: JWKSet | Mapping[str, Any]) -> TrustStore:
        """A copy with the fetched JWK Set of ``url`` (one of :attr:`jwks_urls`).

        Raises:
            ValueError: ``url`` is not a configured JWKS URL.
        """
        if url not in tuple(self.jwks_urls):
            raise ValueError(f"{url} is not one of the trusted jwks_urls")
        parsed = jwks if isinstance(jwks, JWKSet) else JWKSet.from_dict(jwks)
        parsed = JWKSet(_as_keys(parsed))
        return dataclasses.replace(self, jwks={**self.jwks, url: parsed})

    @property
    def missing_jwks(self) -> tuple[str, ...]:
        """Configured JWKS URLs whose keys have not been added yet."""
        return tuple(u for u in self.jwks_urls if u not in self.jwks)

    def candidates(self, header: Mapping[str, Any]) -> tuple[JWK, ...]:
        """The trusted keys a signature with this protected header may be checked with.

        A ``jku`` that names a configured (and fetched) URL narrows the search to that
        set plus the pinned keys; any other ``jku`` is ignored, never fetched.
        """
        pinned = tuple(self.keys)
        jku = header.get("jku")
        if isinstance(jku, str) and jku in self.jwks:
            return pinned + self.jwks[jku].keys
        fetched = tuple(k for jwks in self.jwks.values() for k in jwks.keys)
        return pinned + fetched


#: What a payload was rebuilt from: the received JSON, or the card as the model reads it.
PayloadForm = Literal["json", "model"]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """Which signature of a card verified, and with which trusted key.

    Attributes:
        index: position in the card's ``signatures``.
        kid: the key id (from the protected header).
        alg: the algorithm (from the protected header).
        key: the trusted key that verified it.
        header: the decoded protected header.
        signature: the signature object itself.
        form: ``"json"`` when the signature covers the received JSON as is (every
            member, known or not); ``"model"`` when it covers the card as
            :class:`~accord.types.AgentCard` reads it, so members this library does
            not model (e.g. v0.3 compatibility fields) are *not* covered.
    """

    index: int
    kid: str
    alg: str
    key: JWK
    header: Mapping[str, Any]
    signature: AgentCardSignature
    form: PayloadForm


def _signatures(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise SignatureError("the card's signatures member is not a list")
    return list(raw)


def _signature_object(raw: Any) -> AgentCardSignature:
    if isinstance(raw, AgentCardSignature):
        return raw
    if (
        isinstance(raw, Mapping)
        and isinstance(raw.get("protected"), str)
        and isinstance(raw.get("signature"), str)
        and isinstance(raw.get("header"), Mapping | None)
    ):
        unprotected = raw.get("header")
        return AgentCardSignature(
            protected=raw["protected"],
            signature=raw["signature"],
            header=None if unprotected is None else dict(unprotected),
        )
    raise SignatureError("malformed signature object (needs protected, signature)")


def _verify_one(
    index: int,
    raw: Any,
    payloads: list[tuple[PayloadForm, bytes]],
    trust: TrustStore,
    now: float | None,
) -> VerifiedSignature:
    sig = _signature_object(raw)
    header = decode_header(sig.protected)
    alg = header.get("alg")
    algorithms = frozenset(trust.algorithms)
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise AlgorithmError(f"signature algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureError("the protected header has no kid (spec §8.4.2 MUST)")
    if sig.header and set(sig.header) & set(header):
        # RFC 7515 §7.2.1: protected and unprotected parameter names are disjoint.
        raise SignatureError(
            "a parameter is in both the protected and the plain header"
        )
    if kid in frozenset(trust.revoked):
        raise KeyExpiredError(f"key {kid!r} is revoked")
    candidates = [k for k in trust.candidates(header) if k.kid == kid]
    if not candidates:
        missing = trust.missing_jwks
        hint = f" (JWKS not loaded: {', '.join(missing)})" if missing else ""
        raise UnknownKeyError(f"no trusted key with kid {kid!r}{hint}")
    mismatch: SignatureError | None = None
    for form, payload in payloads:
        try:
            checked, key = verify(
                sig.protected,
                payload,
                sig.signature,
                candidates,
                algorithms=algorithms,
                now=now,
            )
        except SignatureError as exc:  # only the payload differs between attempts
            mismatch = mismatch or exc
            continue
        return VerifiedSignature(
            index=index,
            kid=kid,
            alg=alg,
            key=key,
            header=checked,
            signature=sig,
            form=form,
        )
    assert mismatch is not None
    raise mismatch


def _payloads(card: AgentCard | Mapping[str, Any]) -> list[tuple[PayloadForm, bytes]]:
    if isinstance(card, AgentCard):
        return [("model", canonical_payload(card))]
    if not isinstance(card, Mapping):
        raise TypeError(f"expected an AgentCard or a JSON object, not {card!r}")
    received = canonical_payload_from_json(card)
    out: list[tuple[PayloadForm, bytes]] = [("json", received)]
    try:
        model = convert({k: v for k, v in card.items() if k != "signatures"}, AgentCard)
    except ProtocolError:  # not a valid card: only the JSON form exists
        return out
    modelled = canonical_payload(model)
    if modelled != received:
        out.append(("model", modelled))
    return out


def verify_card(
    card: AgentCard | Mapping[str, Any],
    trust: TrustStore,
    *,
    now: float | None = None,
) -> VerifiedSignature:
    """Check that at least one signature of ``card`` verifies with a trusted key.

    Pass the JSON object as received whenever you have it. Each signature is checked
    against the canonical form of that JSON (:func:`canonical_payload_from_json`,
    spec §8.4.3) and, when it differs, against the canonical form of the card as
    :class:`~accord.types.AgentCard` reads it (unknown members dropped, absent
    REQUIRED fields added, :func:`canonical_payload`). The second form is how a
    verifier that parses into the proto model rebuilds the payload; it is what lets
    cards served with v0.3 compatibility members (the official SDK adds them to every
    card it serves) verify. It covers every field of the returned model, so a client
    that uses the decoded card is protected either way; one that reads members
    beyond the model from the raw JSON should require ``form == "json"``.

    Args:
        card: the received card JSON (a mapping) or a card value.
        trust: the verifier's keys and policy.
        now: Unix time for key expiry (default: the current time).

    Returns:
        The first signature that verified.

    Raises:
        SignatureError: the card is not signed, a signature does not match (tampered
            card, another key) or is malformed, or the card has no canonical form.
        UnknownKeyError: no trusted key has the signature's ``kid``.
        KeyExpiredError: the matching key is expired or revoked.
        AlgorithmError: ``alg`` is ``none`` or not in ``trust.algorithms``, or does
            not fit the key.
    """
    try:
        payloads = _payloads(card)
    except ValueError as exc:
        raise SignatureError(f"the card has no canonical form: {exc}") from exc
    signatures = (
        list(card.signatures)
        if isinstance(card, AgentCard)
        else _signatures(card.get("signatures"))
    )
    if not signatures:
        raise SignatureError("card is not signed")
    failures: list[SecurityError] = []
    for index, raw in enumerate(signatures):
        try:
            return _verify_one(index, raw, payloads, trust, now)
        except SecurityError as exc:
            failures.append(exc)
    # Report the most telling failure: one where a trusted key was found beats
    # "unknown kid" (e.g. a signature by a retired key next to a tampered one).
    telling = [f for f in failures if not isinstance(f, UnknownKeyError)]
    chosen = (telling or failures)[0]
    for other in failures:
        if other is not chosen:
            chosen.add_note(
                f"another signature failed: {type(other).__name__}: {other}"
            )
    raise chosen
