"""Does a JSON payload survive a decode/re-encode by the *other* implementation?

Each side decodes what the other sent with its own decoder and re-encodes it:

* Accord: :func:`accord_roundtrip` = ``accord.types.decode`` into the operation's type,
  then ``accord.types.encode``;
* the official SDK: :func:`sdk_roundtrip` = ``google.protobuf.json_format.Parse`` into
  the ``a2a.types.a2a_pb2`` class, strictly (an unknown field is an error, not silently
  dropped), then ``json_format.MessageToDict``.

:func:`diff` then compares the original payload with the round-tripped one as ProtoJSON
*values*, walking the proto descriptor so that every field follows its own type's rule:

* a field may be written under its JSON name or its proto name; ``null`` for a field
  that is not a ``google.protobuf.Value`` means "not set" (ProtoJSON);
* a scalar without presence is equal to its default when absent (ProtoJSON drops
  defaults, but a sender may print them: the SDK prints ``"filename": ""`` in
  ListTasks); a field with presence (proto3 ``optional``, oneof members, messages) must
  be present on both sides or on neither;
* enums by name (numbers accepted), ints by value (strings accepted), bytes by their
  decoded value (standard or URL-safe base64), JSON (``Struct``/``Value``) values with
  numbers by value and booleans not numbers, map and object key order ignored;
* timestamps as instants. With ``ms_timestamps`` the round trip must equal the
  original *truncated to the millisecond*: Accord re-encodes every timestamp with
  exactly three fraction digits (the spec's SHOULD, §5.6.1), so the SDK's microseconds
  are cut; docs/interop.md records this (D3).

Any field the decoder dropped or invented shows up as a difference with its path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any, cast

from a2a.types import a2a_pb2
from google.protobuf import empty_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message as PbMessage

from accord import types as t

__all__ = [
    "accord_roundtrip",
    "diff",
    "instant",
    "json_equal",
    "pb_class",
    "sdk_roundtrip",
]

_TIMESTAMP = "google.protobuf.Timestamp"
_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_LIST_VALUE = "google.protobuf.ListValue"
_EMPTY = "google.protobuf.Empty"

_INTS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE})

_RFC3339 = re.compile(
    r"^(?P<dt>\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})$"
)


def pb_class(type_name: str) -> type[PbMessage]:
    """The protobuf class of an A2A message name (``Empty``: the well-known type)."""
    if type_name == "Empty":
        return cast("type[PbMessage]", empty_pb2.Empty)
    cls: type[PbMessage] = getattr(a2a_pb2, type_name)
    return cls


def accord_roundtrip(payload: bytes | str, type_name: str) -> Any:
    """Decode ``payload`` with Accord into ``type_name`` and re-encode it (as JSON)."""
    cls = getattr(t, type_name)
    return json.loads(t.encode(t.decode(payload, cls)))


#: Top-level members a card carries for v0.3 clients (bindings/v03_card.hybrid_card).
V03_CARD_MEMBERS = frozenset(
    {
        "protocolVersion",
        "url",
        "preferredTransport",
        "additionalInterfaces",
        "supportsAuthenticatedExtendedCard",
        "security",
    }
)


def without_v03_members(card: dict[str, Any]) -> dict[str, Any]:
    """A served card without its v0.3 members, which v1.0 readers ignore (the SDK's
    card resolver parses with ``ignore_unknown_fields=True``); everything else is
    still parsed strictly."""
    out = {k: v for k, v in card.items() if k not in V03_CARD_MEMBERS}
    schemes = out.get("securitySchemes")
    if isinstance(schemes, dict):
        # v1.0 writes each scheme as a oneof: one member ending in "SecurityScheme".
        out["securitySchemes"] = {
            name: {k: v for k, v in scheme.items() if k.endswith("SecurityScheme")}
            for name, scheme in schemes.items()
        }
    return out


def sdk_roundtrip(payload: bytes | str, type_name: str) -> Any:
    """Decode ``payload`` with protobuf (the SDK's codec), strictly, and re-encode it."""
    message = pb_class(type_name)()
    json_format.Parse(payload, message, ignore_unknown_fields=False)
    return json_format.MessageToDict(message)


def instant(text: str) -> tuple[int, int]:
    """An RFC 3339 timestamp as (seconds since the epoch, nanoseconds)."""
    match = _RFC3339.match(text)
    assert match is not None, f"not an RFC 3339 timestamp: {text!r}"
    tz = match["tz"]
    moment = datetime.fromisoformat(
        match["dt"].upper() + ("+00:00" if tz in ("Z", "z") else tz)
    )
    nanos = int((match["frac"] or "").ljust(9, "0"))
    return int(moment.timestamp()), nanos


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: numbers by value, booleans are not numbers, keys unordered."""
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


def diff(
    original: Any,
    roundtrip: Any,
    descriptor: Descriptor,
    *,
    ms_timestamps: bool = False,
    path: str = "$",
) -> list[str]:
    """Differences between two ProtoJSON documents of one message type (empty: same)."""
    out: list[str] = []
    _message(original, roundtrip, descriptor, path, ms_timestamps, out)
    return out


# --- the walk ------------------------------------------------------------------------


def _fields(
    obj: dict[str, Any], descriptor: Descriptor, path: str, out: list[str]
) -> dict[str, Any]:
    """Values by proto field name; unknown keys are reported; null means unset."""
    values: dict[str, Any] = {}
    for key, value in obj.items():
        field = descriptor.fields_by_camelcase_name.get(
            key
        ) or descriptor.fields_by_name.get(key)
        if field is None:
            out.append(f"{path}.{key}: not a field of {descriptor.full_name}")
            continue
        is_value = field.message_type is not None and (
            field.message_type.full_name == _VALUE
        )
        if value is None and not is_value:
            continue  # ProtoJSON: null = not set
        values[field.name] = value
    return values


def _message(
    a: Any, b: Any, descriptor: Descriptor, path: str, ms: bool, out: list[str]
) -> None:
    if not isinstance(a, dict) or not isinstance(b, dict):
        out.append(f"{path}: {a!r} != {b!r} (objects expected)")
        return
    fa = _fields(a, descriptor, path + "<original>", out)
    fb = _fields(b, descriptor, path + "<roundtrip>", out)
    for field in descriptor.fields:
        where = f"{path}.{field.json_name}"
        in_a, in_b = field.name in fa, field.name in fb
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _map(fa.get(field.name, {}), fb.get(field.name, {}), field, where, ms, out)
        elif _is_repeated(field):
            xs, ys = fa.get(field.name, []), fb.get(field.name, [])
            if not isinstance(xs, list) or not isinstance(ys, list):
                out.append(f"{where}: {xs!r} != {ys!r} (arrays expected)")
            elif len(xs) != len(ys):
                out.append(f"{where}: {len(xs)} items != {len(ys)} items")
            else:
                for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                    _single(x, y, field, f"{where}[{i}]", ms, out)
        elif field.has_presence:
            if in_a != in_b:
                state = "dropped" if in_a else "invented"
                out.append(f"{where}: {state} by the round trip")
            elif in_a:
                _single(fa[field.name], fb[field.name], field, where, ms, out)
        else:
            default = _default(field)
            _single(
                fa.get(field.name, default),
                fb.get(field.name, default),
                field,
                where,
                ms,
                out,
            )


def _map(
    a: Any, b: Any, field: FieldDescriptor, path: str, ms: bool, out: list[str]
) -> None:
    if not isinstance(a, dict) or not isinstance(b, dict):
        out.append(f"{path}: {a!r} != {b!r} (maps expected)")
        return
    if a.keys() != b.keys():
        out.append(f"{path}: keys {sorted(a)} != {sorted(b)}")
        return
    value_field = field.message_type.fields_by_name["value"]
    for key in a:
        _single(a[key], b[key], value_field, f"{path}[{key!r}]", ms, out)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _default(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[0].name
    if field.type == FieldDescriptor.TYPE_BOOL:
        return False
    if field.type in _INTS or field.type in _FLOATS:
        return 0
    return ""  # string, bytes


def _single(
    a: Any, b: Any, field: FieldDescriptor, path: str, ms: bool, out: list[str]
) -> None:
    message_type = field.message_type
    if message_type is None:
        _scalar(a, b, field, path, out)
        return
    name = message_type.full_name
    if name == _TIMESTAMP:
        if not isinstance(a, str) or not isinstance(b, str):
            out.append(f"{path}: {a!r} != {b!r} (timestamps expected)")
            return
        seconds, nanos = instant(a)
        if ms:
            nanos -= nanos % 1_000_000
        if (seconds, nanos) != instant(b):
            out.append(f"{path}: instant {a!r} != {b!r}")
    elif name in (_STRUCT, _VALUE, _LIST_VALUE):
        if not json_equal(a, b):
            out.append(f"{path}: {a!r} != {b!r}")
    elif name == _EMPTY:
        if a != {} or b != {}:
            out.append(f"{path}: {a!r} != {b!r} (empty objects expected)")
    else:
        _message(a, b, message_type, path, ms, out)


def _scalar(a: Any, b: Any, field: FieldDescriptor, path: str, out: list[str]) -> None:
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        same = _enum_name(a, field) == _enum_name(b, field)
    elif kind == FieldDescriptor.TYPE_BOOL:
        same = type(a) is bool and type(b) is bool and a == b
    elif kind in _INTS:
        same = _int(a) is not None and _int(a) == _int(b)
    elif kind in _FLOATS:
        same = _float(a) is not None and _float(a) == _float(b)
    elif kind == FieldDescriptor.TYPE_BYTES:
        same = _bytes(a) is not None and _bytes(a) == _bytes(b)
    else:
        same = isinstance(a, str) and isinstance(b, str) and a == b
    if not same:
        out.append(f"{path}: {a!r} != {b!r}")


def _enum_name(value: Any, field: FieldDescriptor) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        number = field.enum_type.values_by_number.get(value)
        return None if number is None else str(number.name)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _bytes(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
