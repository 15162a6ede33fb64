"""Golden ProtoJSON fixtures (tests/fixtures/*.json).

``<Type>.<label>.json`` holds one spec-shaped ``lf.a2a.v1.<Type>`` document. It must
decode, and re-encode byte-equal to its compact form: fields in proto field-number
order, defaults omitted, canonical timestamps. protobuf must accept it strictly too.

``jsonrpc-error.*.json`` and ``rest-error.*.json`` are error envelopes shaped as in
spec §9.5, §11.6; they are checked against the error table of
``accord.protocol.errors``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from accord import types as t
from accord.protocol import errors as error_table

from .oracle import assert_equivalent, proto_to_json, to_proto

FIXTURES = Path(__file__).parent.parent / "fixtures"
MODEL_FIXTURES = sorted(p for p in FIXTURES.glob("*.json") if "-error." not in p.name)
JSONRPC_ERRORS = sorted(FIXTURES.glob("jsonrpc-error.*.json"))
REST_ERRORS = sorted(FIXTURES.glob("rest-error.*.json"))

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _id(path: Path) -> str:
    return path.name.removesuffix(".json")


def compact(raw: bytes) -> bytes:
    """The compact form of a JSON document, by the standard library (keys kept)."""
    doc = json.loads(raw)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def type_of(path: Path) -> type[msgspec.Struct]:
    cls: type[msgspec.Struct] = getattr(t, path.name.split(".")[0])
    return cls


def test_fixtures_are_present() -> None:
    names = {type_of(p).__name__ for p in MODEL_FIXTURES}
    assert {
        "Task",
        "StreamResponse",
        "AgentCard",
        "ListTasksResponse",
        "SendMessageRequest",
    } <= names
    assert JSONRPC_ERRORS
    assert REST_ERRORS


@pytest.mark.parametrize("path", MODEL_FIXTURES, ids=_id)
def test_decodes_and_reencodes_byte_equal(path: Path) -> None:
    raw = path.read_bytes()
    value = t.decode(raw, type_of(path))
    assert t.encode(value) == compact(raw)


@pytest.mark.parametrize("path", MODEL_FIXTURES, ids=_id)
def test_protobuf_agrees(path: Path) -> None:
    cls = type_of(path)
    raw = compact(path.read_bytes())
    theirs = proto_to_json(to_proto(raw, cls))
    assert_equivalent(raw, theirs, cls)
    assert t.decode(theirs, cls) == t.decode(raw, cls)


def test_stream_fixtures_cover_every_event_kind() -> None:
    kinds = {
        type(t.decode(p.read_bytes(), t.StreamResponse).payload).__name__
        for p in MODEL_FIXTURES
        if p.name.startswith("StreamResponse.")
    }
    assert kinds == {
        "Task",
        "Message",
        "TaskStatusUpdateEvent",
        "TaskArtifactUpdateEvent",
    }


def test_agent_card_fixture_covers_every_scheme_and_flow() -> None:
    card = t.decode(
        (FIXTURES / "AgentCard.security_schemes.json").read_bytes(), t.AgentCard
    )
    schemes = set()
    flows = set()
    for scheme in card.security_schemes.values():
        for f in msgspec.structs.fields(scheme):
            member = getattr(scheme, f.name)
            if member is not None:
                schemes.add(f.name)
            if isinstance(member, t.OAuth2SecurityScheme):
                flows |= {
                    g.name
                    for g in msgspec.structs.fields(member.flows)
                    if getattr(member.flows, g.name) is not None
                }
    assert schemes == {f.name for f in msgspec.structs.fields(t.SecurityScheme)}
    assert flows == {f.name for f in msgspec.structs.fields(t.OAuthFlows)}


def test_list_tasks_last_page_keeps_every_field() -> None:
    # Spec §3.1.4: nextPageToken is always present, "" on the last page.
    raw = (FIXTURES / "ListTasksResponse.last_page.json").read_bytes()
    value = t.decode(raw, t.ListTasksResponse)
    assert value == t.ListTasksResponse(page_size=50)
    assert t.encode(value) == (
        b'{"tasks":[],"nextPageToken":"","pageSize":50,"totalSize":0}'
    )


# --- error envelopes -------------------------------------------------------------------


def _error_info(details: list[dict[str, Any]]) -> dict[str, Any]:
    # Spec §9.5 / §11.6: details is an array of typed objects, each with @type.
    assert all("@type" in d for d in details)
    (info,) = [d for d in details if d["@type"] == ERROR_INFO]
    assert info["domain"] == error_table.DOMAIN
    return info


@pytest.mark.parametrize("path", JSONRPC_ERRORS + REST_ERRORS, ids=_id)
def test_error_envelope_reencodes_byte_equal(path: Path) -> None:
    raw = path.read_bytes()
    assert t.encode(t.decode_json(raw)) == compact(raw)


@pytest.mark.parametrize("path", JSONRPC_ERRORS, ids=_id)
def test_jsonrpc_error_matches_the_error_table(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    assert doc["jsonrpc"] == "2.0"
    assert "id" in doc
    error = doc["error"]
    assert isinstance(error["message"], str)
    info = _error_info(error["data"])
    by_code = error_table.from_jsonrpc_code(error["code"])
    by_reason = error_table.from_reason(info["reason"])
    assert by_code is not None
    assert by_code is by_reason


@pytest.mark.parametrize("path", REST_ERRORS, ids=_id)
def test_rest_error_matches_the_error_table(path: Path) -> None:
    error = json.loads(path.read_bytes())["error"]
    row = error_table.from_reason(_error_info(error["details"])["reason"])
    assert row is not None
    assert error["code"] == row.http_status
    assert error["status"] == row.grpc_status
