"""Interop with the official SDK's card signing (``a2a.utils.signing``, PyJWT).

Both directions are checked for every signature algorithm on a card shape both sides
canonicalise alike, and a table records which shapes do *not* interoperate and why:
the SDK's canonicaliser deletes every empty string, list and object before RFC 8785,
REQUIRED fields and ``Struct`` contents included, where spec §8.4.1 keeps REQUIRED
fields, set sub-messages and ``optional`` fields. docs/interop.md ("Card signing")
explains the findings.

SDK cards are built the way the SDK's own client builds them (``parse_agent_card``
of the received JSON) and served the way its server serves them
(``agent_card_to_dict``, which adds v0.3 members when the card has a 0.3 interface).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from a2a.client.card_resolver import parse_agent_card
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types import a2a_pb2
from a2a.utils.signing import (
    InvalidSignaturesError,
    create_agent_card_signer,
    create_signature_verifier,
)
from google.protobuf.json_format import MessageToDict
from jwt import PyJWK

from accord.errors import SecurityError, SignatureError
from accord.security import JWK, TrustStore, card_json, sign_card, verify_card
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    AgentSkill,
    MutualTlsSecurityScheme,
    SecurityScheme,
    decode,
    replace,
)

ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]

CLEAN = AgentCard(
    name="Interop agent ☀",
    description="Signs its card",
    supported_interfaces=(
        AgentInterface(
            url="https://agent.example/a2a",
            protocol_binding="JSONRPC",
            protocol_version="1.0",
        ),
    ),
    version="1.0.0",
    capabilities=AgentCapabilities(streaming=True, push_notifications=False),
    default_input_modes=("text/plain",),
    default_output_modes=("text/plain",),
    skills=(AgentSkill(id="s", name="Skill", description="does it", tags=("t",)),),
)


def _json(value: Any) -> Any:
    """Through JSON text, as over HTTP."""
    return json.loads(json.dumps(value))


def sdk_sign(card: a2a_pb2.AgentCard, key: JWK) -> a2a_pb2.AgentCard:
    signer = create_agent_card_signer(
        signing_key=PyJWK(key.to_dict(private=True)),
        protected_header={"kid": key.kid, "alg": key.alg, "typ": "JOSE"},  # type: ignore[typeddict-item]
    )
    return signer(card)


def sdk_verify(card: a2a_pb2.AgentCard, key: JWK) -> None:
    def key_provider(kid: str | None, jku: str | None) -> PyJWK:
        assert kid == key.kid
        return PyJWK(key.public().to_dict())

    create_signature_verifier(key_provider, [key.alg])(card)


def accord_to_sdk(card: AgentCard, key: JWK) -> str:
    """Accord signs and serves; the SDK client parses and verifies. "ok" or the error."""
    received = _json(card_json(sign_card(card, key)))
    try:
        sdk_verify(parse_agent_card(received), key)
    except InvalidSignaturesError:
        return "fails"
    return "ok"


def sdk_to_accord(card: AgentCard, key: JWK) -> str:
    """The SDK signs and serves; Accord verifies the received JSON. The form or "fails"."""
    sdk_card = sdk_sign(parse_agent_card(_json(card_json(card))), key)
    received = _json(agent_card_to_dict(sdk_card))
    try:
        return verify_card(received, TrustStore(keys=[key])).form
    except SignatureError:
        return "fails"


@pytest.fixture(params=ALGORITHMS)
def key(request: pytest.FixtureRequest, keys: dict[str, JWK]) -> JWK:
    return keys[request.param]


def test_accord_signed_card_verifies_with_the_sdk(key: JWK) -> None:
    assert accord_to_sdk(CLEAN, key) == "ok"


def test_sdk_signed_card_verifies_with_accord(key: JWK) -> None:
    assert sdk_to_accord(CLEAN, key) == "json"
    # Also after decoding into Accord's model (as CardResolver returns it).
    sdk_card = sdk_sign(parse_agent_card(_json(card_json(CLEAN))), key)
    decoded = decode(json.dumps(MessageToDict(sdk_card)), AgentCard)
    assert verify_card(decoded, TrustStore(keys=[key])).index == 0


def test_both_sign_the_same_bytes_for_clean_cards(es256: JWK) -> None:
    from a2a.utils.signing import _canonicalize_agent_card  # the SDK's payload

    from accord.security import canonical_payload

    sdk_card = parse_agent_card(_json(card_json(CLEAN)))
    assert _canonicalize_agent_card(sdk_card).encode() == canonical_payload(CLEAN)


def test_tampering_is_caught_across_implementations(es256: JWK) -> None:
    received = _json(card_json(sign_card(CLEAN, es256)))
    received["description"] = "tampered"
    with pytest.raises(InvalidSignaturesError):
        sdk_verify(parse_agent_card(copy.deepcopy(received)), es256)
    sdk_card = sdk_sign(parse_agent_card(_json(card_json(CLEAN))), es256)
    served = _json(agent_card_to_dict(sdk_card))
    served["name"] = "tampered"
    with pytest.raises(SecurityError):
        verify_card(served, TrustStore(keys=[es256]))


def test_sdk_card_with_v03_compatibility_members_verifies_through_the_model(
    es256: JWK,
) -> None:
    # With a 0.3 interface the SDK serves url/preferredTransport/protocolVersion
    # at the top level, which its signature does not cover (spec §8.4.1).
    hybrid = replace(
        CLEAN,
        supported_interfaces=(
            *CLEAN.supported_interfaces,
            AgentInterface(
                url="https://agent.example/v03",
                protocol_binding="JSONRPC",
                protocol_version="0.3",
            ),
        ),
    )
    sdk_card = sdk_sign(parse_agent_card(_json(card_json(hybrid))), es256)
    served = _json(agent_card_to_dict(sdk_card))
    assert {"url", "preferredTransport", "protocolVersion"} <= set(served)
    assert verify_card(served, TrustStore(keys=[es256])).form == "model"
    assert accord_to_sdk(hybrid, es256) == "ok"


def _with(**changes: Any) -> Callable[[], AgentCard]:
    return lambda: replace(CLEAN, **changes)


def _extension(params: dict[str, Any]) -> AgentCapabilities:
    return AgentCapabilities(
        streaming=True, extensions=(AgentExtension(uri="urn:x", params=params),)
    )


#: Card shape → (Accord-signed verified by the SDK, SDK-signed verified by Accord).
SHAPES: dict[str, tuple[Callable[[], AgentCard], str, str]] = {
    "clean card": (lambda: CLEAN, "ok", "json"),
    "non-ASCII and escapes": (_with(name='Ä "q" \\ 😀\n'), "ok", "json"),
    "numbers in Struct params": (
        _with(capabilities=_extension({"i": 3, "f": 0.5, "big": 1e21, "neg": -0.0})),
        "ok",
        "json",
    ),
    "optional false (pushNotifications)": (
        _with(capabilities=AgentCapabilities(push_notifications=False)),
        "ok",
        "json",
    ),
    # REQUIRED field empty: Accord signs "description": "", the SDK deletes it. The
    # SDK serves the card without it (proto3 default), so the other way round works.
    'REQUIRED empty string ("description": "")': (
        _with(description=""),
        "fails",
        "json",
    ),
    'REQUIRED empty list ("skills": [])': (_with(skills=()), "fails", "json"),
    'REQUIRED empty list in a skill ("tags": [])': (
        _with(skills=(AgentSkill(id="s", name="n", description="d"),)),
        "fails",
        "json",
    ),
    # Set but empty sub-messages are served as {} and deleted by the SDK's cleaner.
    'empty REQUIRED message ("capabilities": {})': (
        _with(capabilities=AgentCapabilities()),
        "fails",
        "fails",
    ),
    'empty oneof member ("mtlsSecurityScheme": {})': (
        _with(
            security_schemes={
                "m": SecurityScheme(mtls_security_scheme=MutualTlsSecurityScheme())
            }
        ),
        "fails",
        "fails",
    ),
    # Struct contents are data: the SDK deletes "" / [] / {} inside them too.
    "empty values inside Struct params": (
        _with(capabilities=_extension({"note": "", "list": [], "ok": 1})),
        "fails",
        "fails",
    ),
    'optional set to "" (documentationUrl)': (
        _with(documentation_url=""),
        "fails",
        "fails",
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_interop_by_card_shape(shape: str, es256: JWK) -> None:
    make, to_sdk, to_accord = SHAPES[shape]
    card = make()
    assert (accord_to_sdk(card, es256), sdk_to_accord(card, es256)) == (
        to_sdk,
        to_accord,
    )
