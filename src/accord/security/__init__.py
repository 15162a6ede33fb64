"""Security building blocks without I/O: JOSE (keys, signatures, tokens) and, on top,
Agent Card signing. Needs the ``security`` extra (``cryptography``).

* :mod:`.jose`: :class:`JWK`, :class:`JWKSet`, JWS :func:`~.jose.sign` /
  :func:`~.jose.verify`, :func:`~.jose.verify_jwt`;
* :mod:`.jcs`: RFC 8785 :func:`canonicalize`;
* :mod:`.cards`: :func:`sign_card`, :func:`verify_card` with a :class:`TrustStore`
  (spec §8.4);
* :mod:`.pins`: :func:`card_pin`, the hash that names a card's content;
* :mod:`.card_diff`: :func:`diff_cards`, what changed between two cards and whether
  partners break.

Fetching a JWK Set over HTTPS is I/O and lives in the client
(``accord.client.card.fetch_jwks``).
"""

from __future__ import annotations

from .card_diff import RULES, CardDiff, Change, Impact, Rule, diff_cards
from .cards import (
    TrustStore,
    VerifiedSignature,
    canonical_payload,
    canonical_payload_from_json,
    card_json,
    sign_card,
    verify_card,
)
from .jcs import canonicalize
from .jose import JWK, JWKSet
from .pins import card_pin, parse_pin

__all__ = [
    "JWK",
    "RULES",
    "CardDiff",
    "Change",
    "Impact",
    "JWKSet",
    "Rule",
    "TrustStore",
    "VerifiedSignature",
    "canonical_payload",
    "canonical_payload_from_json",
    "canonicalize",
    "card_json",
    "card_pin",
    "diff_cards",
    "parse_pin",
    "sign_card",
    "verify_card",
]
