"""protobuf's ``json_format`` as the ProtoJSON oracle, and how documents are compared.

The comparison walks both JSON documents along the proto descriptor, so every field is
compared with the rule its proto type calls for. Where the spec lets our encoder differ
from protobuf's, the difference is accepted here and nowhere else:

1. **Timestamps** (spec §5.6.1, §5.5). ProtoJSON prints 0, 3, 6 or 9 fraction
   digits (``…:05Z`` when the milliseconds are zero); we always print exactly three
   (``…:05.000Z``, the spec's SHOULD). Timestamps are compared as instants, and ours
   must be in canonical form.
2. **ListTasksResponse** (spec §3.1.4, §5.7). Every field is REQUIRED and we
   always emit all four, even at their default (``"nextPageToken": ""``); protobuf drops
   defaults. A top-level field we emit and protobuf omits must hold the proto default.
3. **Numbers in Struct / Value** (proto ``struct.proto``). protobuf keeps every JSON
   number in a ``Struct``/``Value`` as a double and prints ``1`` as ``1.0``; the two are
   the same JSON number (RFC 8259 §6), so numbers compare by value. Booleans are never
   equal to numbers.
4. **Key order of maps and Structs** is not significant (a JSON object is unordered;
   protobuf's map iteration order is unspecified). The keys of messages must come in the
   same order: field-number order on both sides.
"""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
from a2a.types import a2a_pb2
from google.protobuf import empty_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message as PbMessage

from accord import types as t

__all__ = [
    "assert_equivalent",
    "pb_class",
    "proto_to_json",
    "to_proto",
]

_TIMESTAMP = "google.protobuf.Timestamp"
_JSON_TYPES = ("google.protobuf.Struct", "google.protobuf.Value")


def pb_class(cls: type[msgspec.Struct]) -> type[PbMessage]:
    """The generated protobuf class of the same name (``Empty``: well-known type)."""
    if cls is t.Empty:
        return cast("type[PbMessage]", empty_pb2.Empty)
    pb: type[PbMessage] = getattr(a2a_pb2, cls.__name__)
    return pb


def to_proto(data: bytes | str, cls: type[msgspec.Struct]) -> PbMessage:
    """Parse ProtoJSON with protobuf, strictly (unknown fields are an error)."""
    return json_format.Parse(data, pb_class(cls)(), ignore_unknown_fields=False)


def proto_to_json(message: PbMessage) -> str:
    """protobuf's own ProtoJSON output (default options: defaults omitted)."""
    return str(json_format.MessageToJson(message, indent=None))


def assert_equivalent(ours: bytes, theirs: str, cls: type[msgspec.Struct]) -> None:
    """Assert our encoding and protobuf's are the same ProtoJSON, bar the exceptions."""
    a, b = json.loads(ours), json.loads(theirs)
    descriptor = pb_class(cls).DESCRIPTOR
    if cls is t.ListTasksResponse:
        b = _with_required_defaults(a, b, descriptor)
    _message(a, b, descriptor, "$")


def _with_required_defaults(
    ours: dict[str, Any], theirs: dict[str, Any], descriptor: Descriptor
) -> dict[str, Any]:
    # Exception 2: fill in what protobuf omitted, after checking we emitted the default.
    defaults = {"tasks": [], "nextPageToken": "", "pageSize": 0, "totalSize": 0}
    assert list(defaults) == [f.json_name for f in descriptor.fields]
    filled = {}
    for key, default in defaults.items():
        if key in theirs:
            filled[key] = theirs[key]
        else:
            assert ours.get(key) == default, (key, ours.get(key))
            filled[key] = default
    return filled


def _message(a: Any, b: Any, descriptor: Descriptor, path: str) -> None:
    assert isinstance(a, dict), (path, a)
    assert isinstance(b, dict), (path, b)
    assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
    fields = {f.json_name: f for f in descriptor.fields}
    for key, value in a.items():
        _field(value, b[key], fields[key], f"{path}.{key}")


def _field(a: Any, b: Any, field: FieldDescriptor, path: str) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        assert isinstance(a, dict), (path, a)
        assert isinstance(b, dict), (path, b)
        assert a.keys() == b.keys(), path  # exception 4: map order is free
        value_field = field.message_type.fields_by_name["value"]
        for key in a:
            _single(a[key], b[key], value_field, f"{path}[{key!r}]")
    elif field.is_repeated:
        assert isinstance(a, list), (path, a)
        assert isinstance(b, list), (path, b)
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _single(x, y, field, f"{path}[{i}]")
    else:
        _single(a, b, field, path)


def _single(a: Any, b: Any, field: FieldDescriptor, path: str) -> None:
    message_type = field.message_type
    if message_type is None:
        # string, bytes (base64), bool, int32, enum (name): identical JSON scalars.
        assert type(a) is type(b), f"{path}: {a!r} != {b!r}"
        assert a == b, f"{path}: {a!r} != {b!r}"
    elif message_type.full_name == _TIMESTAMP:
        # Exception 1: same instant; ours canonical (exactly three fraction digits).
        assert a == t.normalize_timestamp(a), f"{path}: {a!r} is not canonical"
        assert t.parse_timestamp(a) == t.parse_timestamp(b), f"{path}: {a!r} != {b!r}"
    elif message_type.full_name in _JSON_TYPES:
        assert json_equal(a, b), f"{path}: {a!r} != {b!r}"
    else:
        _message(a, b, message_type, path)


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: numbers by value (exception 3), bools are not numbers,
    object key order ignored (exception 4)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            json_equal(x, y) for x, y in zip(a, b, strict=True)
        )
    return type(a) is type(b) and a == b
