"""Agent Card signing (spec §8.4): canonical payload, sign, verify, trust store."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from a2a.types import a2a_pb2
from google.api import field_behavior_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message as PbMessage
from hypothesis import given, settings

from accord.errors import (
    AlgorithmError,
    KeyExpiredError,
    SignatureError,
    UnknownKeyError,
)
from accord.security import (
    JWK,
    JWKSet,
    TrustStore,
    canonical_payload,
    canonical_payload_from_json,
    card_json,
    sign_card,
    verify_card,
)
from accord.security._card_schema import CARD_SCHEMA, Kind
from accord.security.jose import b64url_encode, decode_header, sign
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentCardSignature,
    AgentExtension,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    MutualTlsSecurityScheme,
    SecurityScheme,
    decode,
    encode,
    replace,
)
from tests.conformance.strategies import strategy_for

NOW = 1_750_000_000.0
JWKS_URL = "https://agent.example/.well-known/jwks.json"


def full_card() -> AgentCard:
    """A card that sets a little of everything, REQUIRED fields left empty included."""
    return AgentCard(
        name="Weather ☀ agent",
        description="",
        supported_interfaces=(
            AgentInterface(
                url="https://agent.example/a2a",
                protocol_binding="JSONRPC",
                protocol_version="1.0",
            ),
        ),
        provider=AgentProvider(url="https://example.com", organization="Example"),
        version="1.2.3",
        capabilities=AgentCapabilities(
            streaming=False,
            extensions=(
                AgentExtension(
                    uri="https://ext.example/v1",
                    params={"n": 1, "f": 2.5, "big": 1e21, "nested": {"ok": None}},
                ),
            ),
        ),
        security_schemes={
            "mtls": SecurityScheme(mtls_security_scheme=MutualTlsSecurityScheme())
        },
        default_input_modes=("text/plain",),
        default_output_modes=("text/plain",),
        skills=(AgentSkill(id="forecast", name="Forecast"),),
    )


def _wire(card: AgentCard) -> dict[str, Any]:
    """The card JSON as a verifier receives it over HTTP (served as card_json)."""
    return dict(json.loads(json.dumps(card_json(card))))


# --- the canonical payload ------------------------------------------------------------


SPEC_EXAMPLE = {
    "name": "Example Agent",
    "description": "",
    "capabilities": {"streaming": False, "pushNotifications": False, "extensions": []},
    "skills": [],
}
SPEC_CANONICAL = (
    b'{"capabilities":{"pushNotifications":false,"streaming":false},'
    b'"description":"","name":"Example Agent","skills":[]}'
)


def test_spec_example_from_json() -> None:
    # Spec §8.4.1, verbatim: REQUIRED "description": "" and "skills": [] stay,
    # optional "streaming": false stays, plain repeated "extensions": [] goes.
    assert canonical_payload_from_json(SPEC_EXAMPLE) == SPEC_CANONICAL
    signed_form = {**SPEC_EXAMPLE, "signatures": [{"protected": "a", "signature": "b"}]}
    assert canonical_payload_from_json(signed_form) == SPEC_CANONICAL


def test_spec_example_from_a_card_value_adds_the_absent_required_fields() -> None:
    # The spec's fragment has no supportedInterfaces/version/default*Modes; a card
    # *value* has them (empty), and REQUIRED fields are always present.
    card = decode(json.dumps(SPEC_EXAMPLE), AgentCard)
    assert canonical_payload(card) == (
        b'{"capabilities":{"pushNotifications":false,"streaming":false},'
        b'"defaultInputModes":[],"defaultOutputModes":[],"description":"",'
        b'"name":"Example Agent","skills":[],"supportedInterfaces":[],"version":""}'
    )


def test_presence_rules_on_received_json() -> None:
    received: dict[str, Any] = {
        "name": "a",
        "description": "d",
        "supported_interfaces": [  # proto name: read as supportedInterfaces
            {
                "url": "u",
                "protocolBinding": "JSONRPC",
                "tenant": "",
                "protocolVersion": "",
            }
        ],
        "provider": {},  # set sub-message: kept, even empty
        "version": "1",
        "documentationUrl": "",  # optional, explicitly set: kept
        "iconUrl": None,  # null: not set
        "capabilities": {},  # REQUIRED
        "securitySchemes": {"m": {"mtlsSecurityScheme": {}}},
        "securityRequirements": [],
        "defaultInputModes": [],
        "defaultOutputModes": ["text/plain"],
        "skills": [
            {
                "id": "s",
                "name": "",
                "description": "",
                "tags": [],
                "examples": [],
                "futureSkillField": [],  # unknown: kept as received, even empty
            }
        ],
        "capabilitiesV2": {"x": ""},  # unknown member: kept verbatim
    }
    out = json.loads(canonical_payload_from_json(received))
    assert out == {
        "name": "a",
        "description": "d",
        "supportedInterfaces": [
            {"url": "u", "protocolBinding": "JSONRPC", "protocolVersion": ""}
        ],
        "provider": {},
        "version": "1",
        "documentationUrl": "",
        "capabilities": {},
        "securitySchemes": {"m": {"mtlsSecurityScheme": {}}},
        "defaultInputModes": [],
        "defaultOutputModes": ["text/plain"],
        "skills": [
            {
                "id": "s",
                "name": "",
                "description": "",
                "tags": [],
                "futureSkillField": [],
            }
        ],
        "capabilitiesV2": {"x": ""},
    }


def test_nested_optional_and_plain_defaults() -> None:
    received = {
        "name": "a",
        "capabilities": {
            "extendedAgentCard": False,
            "extensions": [
                {"uri": "", "description": "", "required": False, "params": {}},
                {"uri": "x", "required": True, "params": {"e": "", "l": [], "z": 0}},
            ],
        },
        "securitySchemes": {
            "o": {
                "oauth2SecurityScheme": {
                    "description": "",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "",
                            "refreshUrl": "",
                            "scopes": {},
                        }
                    },
                }
            }
        },
    }
    out = json.loads(canonical_payload_from_json(received))
    assert out["capabilities"] == {
        "extendedAgentCard": False,
        "extensions": [
            {"params": {}},
            {"uri": "x", "required": True, "params": {"e": "", "l": [], "z": 0}},
        ],
    }
    assert out["securitySchemes"] == {
        "o": {
            "oauth2SecurityScheme": {
                "flows": {"clientCredentials": {"tokenUrl": "", "scopes": {}}}
            }
        }
    }


def test_a_member_under_both_names_has_no_canonical_form() -> None:
    with pytest.raises(ValueError, match="twice"):
        canonical_payload_from_json({"name": "a", "iconUrl": "x", "icon_url": "y"})
    with pytest.raises(TypeError):
        canonical_payload_from_json([1])  # type: ignore[arg-type]


def test_card_json_keeps_required_fields_and_round_trips() -> None:
    card = full_card()
    served = card_json(card)
    assert served["description"] == ""
    assert served["skills"] == [
        {"id": "forecast", "name": "Forecast", "description": "", "tags": []}
    ]
    assert served["securitySchemes"] == {"mtls": {"mtlsSecurityScheme": {}}}
    assert "description" not in json.loads(encode(card))  # the plain encoding drops it
    assert decode(json.dumps(served), AgentCard) == card


# The REQUIRED/optional markings, straight from the proto descriptor (the SDK's a2a_pb2).

_REQUIRED = field_behavior_pb2.REQUIRED


def _rule_of(field: FieldDescriptor) -> tuple[Kind, bool, str | None]:
    required = (
        _REQUIRED in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    )
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        value = message.fields_by_name["value"].message_type
        if value is None:
            return Kind.MAP, required, None
        return Kind.MESSAGE_MAP, required, value.name
    if field.is_repeated:
        if message is None:
            return Kind.LIST, required, None
        return Kind.MESSAGE_LIST, required, message.name
    if message is not None:
        if message.full_name == "google.protobuf.Struct":
            return Kind.STRUCT, required, None
        return Kind.MESSAGE, required, message.name
    oneof = field.containing_oneof
    if oneof is not None and oneof.name.startswith("_"):  # proto3 `optional`
        return Kind.OPTIONAL, required, None
    return Kind.SCALAR, required, None


def _reachable(root: Descriptor) -> dict[str, Descriptor]:
    found: dict[str, Descriptor] = {}
    pending = [root]
    while pending:
        message = pending.pop()
        if message.name in found:
            continue
        found[message.name] = message
        for field in message.fields:
            target = field.message_type
            if target is not None and target.GetOptions().map_entry:
                target = target.fields_by_name["value"].message_type
            if target is not None and target.full_name.startswith("lf.a2a.v1."):
                pending.append(target)
    return found


def test_schema_matches_the_proto_descriptor() -> None:
    messages = _reachable(a2a_pb2.AgentCard.DESCRIPTOR)
    assert set(CARD_SCHEMA) == set(messages)
    for name, descriptor in messages.items():
        proto = {f.json_name: _rule_of(f) for f in descriptor.fields}
        ours = {
            n: (r.kind, r.required, r.message) for n, r in CARD_SCHEMA[name].items()
        }
        assert ours == proto, name


# An independent oracle: presence computed by protobuf itself (HasField, defaults, the
# descriptor's REQUIRED marks), canonicalised by the rfc8785 package.


def _pb_json(message: PbMessage, *, top: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if top and field.name == "signatures":
            continue
        kind, required, _ = _rule_of(field)
        value = getattr(message, field.name)
        if kind in (Kind.LIST, Kind.MESSAGE_LIST, Kind.MAP, Kind.MESSAGE_MAP):
            present = len(value) > 0
        elif field.has_presence:
            present = message.HasField(field.name)
        else:
            present = value != field.default_value
        if not (present or required):
            continue
        if kind is Kind.STRUCT:
            out[field.json_name] = json_format.MessageToDict(value)
        elif kind is Kind.MESSAGE:
            out[field.json_name] = _pb_json(value)
        elif kind is Kind.MESSAGE_LIST:
            out[field.json_name] = [_pb_json(v) for v in value]
        elif kind is Kind.MESSAGE_MAP:
            out[field.json_name] = {k: _pb_json(v) for k, v in value.items()}
        elif kind is Kind.LIST:
            out[field.json_name] = list(value)
        elif kind is Kind.MAP:
            out[field.json_name] = dict(value)
        else:
            out[field.json_name] = value
    return out


def protobuf_oracle(card: AgentCard) -> bytes:
    message = json_format.ParseDict(json.loads(encode(card)), a2a_pb2.AgentCard())
    return rfc8785.dumps(_pb_json(message, top=True))


@settings(deadline=None)  # examples: the profile (conftest)
@given(strategy_for(AgentCard))
def test_canonical_payload_matches_the_protobuf_oracle(card: AgentCard) -> None:
    assert canonical_payload(card) == protobuf_oracle(card)
    assert canonical_payload_from_json(_wire(card)) == canonical_payload(card)
    assert decode(encode(card_json(card)), AgentCard) == card


def test_oracle_on_the_full_card() -> None:
    assert canonical_payload(full_card()) == protobuf_oracle(full_card())


# --- signing ------------------------------------------------------------------------------


def test_sign_card_header(es256: JWK) -> None:
    signed = sign_card(full_card(), es256, jku=JWKS_URL, header={"note": "x"})
    (signature,) = signed.signatures
    assert decode_header(signature.protected) == {
        "alg": "ES256",
        "kid": es256.kid,
        "typ": "JOSE",
        "jku": JWKS_URL,
    }
    assert signature.header == {"note": "x"}
    bare = sign_card(full_card(), es256, typ=None).signatures[0]
    assert decode_header(bare.protected) == {"alg": "ES256", "kid": es256.kid}


def test_sign_card_refuses_public_and_kidless_keys(es256: JWK) -> None:
    with pytest.raises(ValueError, match="private"):
        sign_card(full_card(), es256.public())
    with pytest.raises(ValueError, match="kid"):
        sign_card(full_card(), JWK(kid="", alg="ES256", key=es256.key))


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"])
def test_sign_and_verify_each_algorithm(keys: dict[str, JWK], alg: str) -> None:
    signed = sign_card(full_card(), keys[alg])
    trust = TrustStore(keys=[keys[alg]])  # private keys are stored as public halves
    assert all(not k.is_private for k in trust.keys)
    verified = verify_card(_wire(signed), trust)
    assert (verified.index, verified.kid, verified.alg) == (0, keys[alg].kid, alg)
    assert verified.form == "json"
    assert verify_card(signed, trust).kid == keys[alg].kid  # the card value works too
    assert verify_card(decode(json.dumps(_wire(signed)), AgentCard), trust)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c.update(name="Evil agent"),
        lambda c: c["skills"][0].update(description="now with malware"),
        lambda c: c["capabilities"].pop("streaming"),  # optional false removed
        lambda c: c["capabilities"]["extensions"][0]["params"].update(n=2),
        lambda c: c["supportedInterfaces"][0].update(url="https://evil.example/a2a"),
    ],
)
def test_tampered_card_does_not_verify(es256: JWK, tamper: Any) -> None:
    wire = _wire(sign_card(full_card(), es256))
    tamper(wire)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_card(wire, TrustStore(keys=[es256]))


def test_default_valued_members_are_insignificant(es256: JWK) -> None:
    # Adding or dropping members equal to a plain default changes nothing (spec §8.4.3).
    wire = _wire(sign_card(full_card(), es256))
    wire["securityRequirements"] = []
    wire["supportedInterfaces"][0]["tenant"] = ""
    wire["iconUrl"] = None
    wire["capabilities"]["extensions"][0]["required"] = False
    assert verify_card(wire, TrustStore(keys=[es256]))


def test_members_beyond_the_model_are_covered_only_by_the_json_form(
    es256: JWK,
) -> None:
    trust = TrustStore(keys=[es256])
    wire = _wire(sign_card(full_card(), es256))
    assert verify_card(wire, trust).form == "json"
    # A v0.3-style member added after signing: the received JSON no longer matches,
    # but the card as the model reads it (which has no such member) still does.
    wire["url"] = "https://elsewhere.example"
    assert verify_card(wire, trust).form == "model"
    assert "url" not in card_json(decode(json.dumps(wire), AgentCard))


def test_a_sender_that_omits_required_defaults_verifies_through_the_model(
    es256: JWK,
) -> None:
    # The plain encoding drops "description": "", so the received JSON no longer
    # holds what was signed; the model form (REQUIRED fields added) still does.
    # That is why the server serves card_json: then the JSON form verifies.
    signed = sign_card(full_card(), es256)
    verified = verify_card(json.loads(encode(signed)), TrustStore(keys=[es256]))
    assert verified.form == "model"


def test_unicode_and_escaping_survive_transport(es256: JWK) -> None:
    card = replace(full_card(), name='Ümlaut "quoted" \\ 😀 \u2028', description="\n\t")
    wire = card_json(sign_card(card, es256))
    for text in (json.dumps(wire), json.dumps(wire, ensure_ascii=False)):
        assert verify_card(json.loads(text), TrustStore(keys=[es256]))


def test_wrong_key_with_the_same_kid(es256: JWK) -> None:
    impostor = JWK(kid=es256.kid, alg="ES256", key=JWK.generate("ES256").key)
    wire = _wire(sign_card(full_card(), impostor))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_card(wire, TrustStore(keys=[es256]))


def test_unknown_kid(es256: JWK, keys: dict[str, JWK]) -> None:
    wire = _wire(sign_card(full_card(), es256))
    with pytest.raises(UnknownKeyError, match=es256.kid):
        verify_card(wire, TrustStore(keys=[keys["EdDSA"]]))
    with pytest.raises(UnknownKeyError, match="JWKS not loaded"):
        verify_card(wire, TrustStore(jwks_urls=[JWKS_URL]))


def test_expired_and_revoked_keys(es256: JWK) -> None:
    wire = _wire(sign_card(full_card(), es256))
    expiring = JWK(es256.kid, "ES256", es256.key, not_after=NOW)
    with pytest.raises(KeyExpiredError):
        verify_card(wire, TrustStore(keys=[expiring]), now=NOW + 1)
    assert verify_card(wire, TrustStore(keys=[expiring]), now=NOW - 1)
    with pytest.raises(KeyExpiredError, match="revoked"):
        verify_card(wire, TrustStore(keys=[es256], revoked={es256.kid}))


def _with_signature(
    card: AgentCard, header: dict[str, Any], key: JWK
) -> dict[str, Any]:
    """The card with a signature whose protected header is exactly ``header``."""
    from accord.security._jws import _raw_sign

    protected = b64url_encode(json.dumps(header).encode())
    signing_input = f"{protected}.{b64url_encode(canonical_payload(card))}".encode()
    raw = _raw_sign(key, key.alg, signing_input) if key.alg != "none" else b""
    wire = _wire(card)
    wire["signatures"] = [{"protected": protected, "signature": b64url_encode(raw)}]
    return wire


def test_alg_none_is_refused(es256: JWK) -> None:
    wire = _with_signature(
        full_card(), {"alg": "none", "kid": es256.kid}, JWK("k", "none", b"")
    )
    with pytest.raises(AlgorithmError, match="'none'"):
        verify_card(wire, TrustStore(keys=[es256]))
    with pytest.raises(ValueError, match="none"):
        TrustStore(keys=[es256], algorithms={"ES256", "none"})


def test_disallowed_algorithms_are_refused(keys: dict[str, JWK]) -> None:
    hs = keys["HS256"]
    wire = _with_signature(full_card(), {"alg": "HS256", "kid": hs.kid}, hs)
    with pytest.raises(AlgorithmError):
        verify_card(wire, TrustStore(keys=[keys["ES256"]]))
    signed = _wire(sign_card(full_card(), keys["ES256"]))
    with pytest.raises(AlgorithmError, match="ES256"):
        verify_card(signed, TrustStore(keys=[keys["ES256"]], algorithms={"EdDSA"}))
    # A header whose alg does not fit the trusted key (ES256 key, RS256 claimed).
    confused = _with_signature(
        full_card(), {"alg": "RS256", "kid": keys["ES256"].kid}, keys["RS256"]
    )
    with pytest.raises(AlgorithmError):
        verify_card(confused, TrustStore(keys=[keys["ES256"]]))


@pytest.mark.parametrize("signatures", [None, []])
def test_unsigned_card(signatures: Any, es256: JWK) -> None:
    wire = _wire(full_card())
    if signatures is not None:
        wire["signatures"] = signatures
    with pytest.raises(SignatureError, match="card is not signed"):
        verify_card(wire, TrustStore(keys=[es256]))
    with pytest.raises(SignatureError, match="card is not signed"):
        verify_card(full_card(), TrustStore(keys=[es256]))


@pytest.mark.parametrize(
    ("signatures", "message"),
    [
        ("abc", "not a list"),
        (["abc"], "malformed signature object"),
        ([{"protected": "x"}], "malformed signature object"),
        ([{"protected": 1, "signature": "x"}], "malformed signature object"),
        ([{"protected": "e30", "signature": "x", "header": 5}], "malformed"),
        ([{"protected": "!!", "signature": "x"}], "malformed JWS protected header"),
    ],
)
def test_malformed_signatures(es256: JWK, signatures: Any, message: str) -> None:
    wire = _wire(full_card())
    wire["signatures"] = signatures
    with pytest.raises(SignatureError, match=message):
        verify_card(wire, TrustStore(keys=[es256]))


def test_header_rules(es256: JWK) -> None:
    trust = TrustStore(keys=[es256])
    no_kid = _with_signature(full_card(), {"alg": "ES256"}, es256)
    with pytest.raises(SignatureError, match="no kid"):
        verify_card(no_kid, trust)
    crit = _with_signature(
        full_card(), {"alg": "ES256", "kid": es256.kid, "crit": ["x"], "x": 1}, es256
    )
    with pytest.raises(SignatureError, match="crit"):
        verify_card(crit, trust)
    with pytest.raises(ValueError, match="repeats"):
        sign_card(full_card(), es256, header={"kid": "other"})
    wire = _wire(sign_card(full_card(), es256))
    wire["signatures"][0]["header"] = {"kid": "other"}
    with pytest.raises(SignatureError, match="both"):
        verify_card(wire, trust)


def test_no_canonical_form(es256: JWK) -> None:
    wire = _wire(sign_card(full_card(), es256))
    wire["capabilities"]["extensions"][0]["params"]["nan"] = float("nan")
    with pytest.raises(SignatureError, match="no canonical form"):
        verify_card(wire, TrustStore(keys=[es256]))


# --- several signatures (rotation) ----------------------------------------------------------


def test_one_valid_signature_suffices(keys: dict[str, JWK]) -> None:
    old, new = keys["ES256"], keys["EdDSA"]
    signed = sign_card(sign_card(full_card(), old), new)
    assert [decode_header(s.protected)["kid"] for s in signed.signatures] == [
        old.kid,
        new.kid,
    ]
    # Both signatures cover the card without any signature.
    assert verify_card(_wire(signed), TrustStore(keys=[old])).index == 0
    assert verify_card(_wire(signed), TrustStore(keys=[new])).index == 1


def test_the_most_telling_failure_is_reported(keys: dict[str, JWK]) -> None:
    old, new = keys["ES256"], keys["EdDSA"]
    wire = _wire(sign_card(sign_card(full_card(), old), new))
    wire["name"] = "tampered"
    with pytest.raises(SignatureError) as info:
        verify_card(wire, TrustStore(keys=[new]))  # old kid unknown, new one mismatches
    assert any("UnknownKeyError" in note for note in info.value.__notes__)
    with pytest.raises(UnknownKeyError):
        verify_card(wire, TrustStore(keys=[keys["ES384"]]))


# --- trust store and jku ----------------------------------------------------------------------


def test_jku_from_the_signer_alone_is_never_trusted(keys: dict[str, JWK]) -> None:
    es = keys["ES256"]
    wire = _wire(sign_card(full_card(), es, jku="https://evil.example/jwks.json"))
    trust = TrustStore(jwks_urls=[JWKS_URL])
    with pytest.raises(UnknownKeyError):
        verify_card(wire, trust)
    # The key counts once it comes from a configured location, whatever jku says.
    assert verify_card(wire, trust.with_jwks(JWKS_URL, JWKSet((es,)).to_dict()))


def test_a_trusted_jku_narrows_the_search(keys: dict[str, JWK]) -> None:
    es, ed = keys["ES256"], keys["EdDSA"]
    other = "https://other.example/jwks.json"
    trust = (
        TrustStore(jwks_urls=[JWKS_URL, other])
        .with_jwks(JWKS_URL, JWKSet((ed,)))
        .with_jwks(other, JWKSet((es,)))
    )
    assert trust.missing_jwks == ()
    assert verify_card(_wire(sign_card(full_card(), es, jku=other)), trust)
    assert verify_card(_wire(sign_card(full_card(), es)), trust)  # no jku: all sets
    with pytest.raises(UnknownKeyError):  # es is not in the set jku names
        verify_card(_wire(sign_card(full_card(), es, jku=JWKS_URL)), trust)


def test_trust_store_validation(es256: JWK) -> None:
    trust = TrustStore(jwks_urls=[JWKS_URL, JWKS_URL])
    assert trust.jwks_urls == (JWKS_URL,)
    assert trust.missing_jwks == (JWKS_URL,)
    with pytest.raises(ValueError, match="not one of the trusted"):
        trust.with_jwks("https://elsewhere.example/jwks.json", JWKSet())
    with pytest.raises(ValueError, match="not in jwks_urls"):
        TrustStore(jwks={JWKS_URL: JWKSet()})
    with pytest.raises(TypeError, match="JWKSet"):
        TrustStore(jwks_urls=[JWKS_URL], jwks={JWKS_URL: {"keys": []}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="not one str"):
        TrustStore(jwks_urls=JWKS_URL)
    with pytest.raises(TypeError, match="JWKs"):
        TrustStore(keys=["not a key"])  # type: ignore[list-item]
    stored = TrustStore(keys=JWKSet((es256,))).keys
    assert isinstance(stored, JWKSet)
    assert [k.is_private for k in stored] == [False]


def test_card_signature_objects_are_accepted(es256: JWK) -> None:
    signed = sign_card(full_card(), es256)
    wire = _wire(full_card())
    wire["signatures"] = [signed.signatures[0]]
    assert verify_card(wire, TrustStore(keys=[es256])).signature == signed.signatures[0]
    assert isinstance(signed.signatures[0], AgentCardSignature)


def test_signing_payload_excludes_existing_signatures(es256: JWK) -> None:
    card = full_card()
    once = sign_card(card, es256)
    assert canonical_payload(once) == canonical_payload(card)
    protected, signature = sign(canonical_payload(card), es256, header={"typ": "JOSE"})
    manual = replace(
        card, signatures=(AgentCardSignature(protected=protected, signature=signature),)
    )
    assert verify_card(_wire(manual), TrustStore(keys=[es256]))
