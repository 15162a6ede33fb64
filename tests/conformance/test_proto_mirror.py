"""The model mirrors the proto (style guide §3, spec §4).

Every ``lf.a2a.v1`` message has a Struct of the same name with the same fields (JSON
names), in field-number order, with matching repeated / map / presence semantics and
scalar types.

The proto descriptor comes from the official SDK's generated ``a2a_pb2``.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from a2a.types import a2a_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from accord import types as t
from accord.types._base import TIMESTAMP_PATTERN

from .strategies import ONEOFS, WIRE_TYPES

FILE = a2a_pb2.DESCRIPTOR
MESSAGES: list[Descriptor] = list(FILE.message_types_by_name.values())
INT32 = (-(2**31), 2**31 - 1)

_STRUCT = "google.protobuf.Struct"
_VALUE = "google.protobuf.Value"
_TIMESTAMP = "google.protobuf.Timestamp"


def _name(obj: Any) -> str:
    return str(obj.name if isinstance(obj, Descriptor) else obj.__name__)


def _struct_info(name: str) -> mi.StructType:
    cls = getattr(t, name, None)
    assert cls is not None, (
        f"accord.types has no {name} (proto message lf.a2a.v1.{name})"
    )
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType), name
    return info


def test_package_is_lf_a2a_v1() -> None:
    assert FILE.package == "lf.a2a.v1"


def test_every_proto_message_has_a_struct_and_back() -> None:
    proto = {m.name for m in MESSAGES}
    ours = {cls.__name__ for cls in WIRE_TYPES} - {"Empty"}
    assert ours == proto


def test_empty_is_google_protobuf_empty() -> None:
    assert msgspec.structs.fields(t.Empty) == ()
    assert t.encode(t.Empty()) == b"{}"


@pytest.mark.parametrize("descriptor", MESSAGES, ids=_name)
def test_fields_in_field_number_order(descriptor: Descriptor) -> None:
    info = _struct_info(descriptor.name)
    by_number = sorted(descriptor.fields, key=lambda f: f.number)
    assert [f.encode_name for f in info.fields] == [f.json_name for f in by_number]


@pytest.mark.parametrize("descriptor", MESSAGES, ids=_name)
def test_field_types_and_presence(descriptor: Descriptor) -> None:
    info = _struct_info(descriptor.name)
    fields = {f.json_name: f for f in descriptor.fields}
    for field in info.fields:
        _check_field(
            field, fields[field.encode_name], f"{descriptor.name}.{field.name}"
        )


@pytest.mark.parametrize("descriptor", MESSAGES, ids=_name)
def test_oneofs_match_the_strategy_table(descriptor: Descriptor) -> None:
    # Real oneofs only: proto3 ``optional`` fields live in synthetic one-field oneofs.
    real = [
        o
        for o in descriptor.oneofs
        if not (len(o.fields) == 1 and o.name == f"_{o.fields[0].name}")
    ]
    cls = getattr(t, descriptor.name)
    if not real:
        assert cls not in ONEOFS
        return
    (oneof,) = real
    assert ONEOFS[cls] == tuple(f.name for f in oneof.fields)


@pytest.mark.parametrize("cls", list(ONEOFS), ids=_name)
def test_oneof_structs_refuse_zero_and_two_members(cls: type[msgspec.Struct]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        cls()
    first, second = ONEOFS[cls][:2]
    fields = {f.name: f for f in mi.type_info(cls).fields}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="exactly one"):
        cls(
            **{
                first: _minimal(fields[first].type),
                second: _minimal(fields[second].type),
            }
        )


def _minimal(info: mi.Type) -> Any:
    """The simplest valid value of a oneof member's type."""
    if isinstance(info, mi.UnionType):
        (info,) = [m for m in info.types if not isinstance(m, mi.NoneType)]
    if isinstance(info, mi.StrType):
        return "x"
    if isinstance(info, mi.BytesType):
        return b"x"
    if isinstance(info, mi.AnyType):
        return None
    assert isinstance(info, mi.StructType)
    if info.cls is t.Task:
        return t.Task(id="t", status=t.TaskStatus(state=t.TaskState.WORKING))
    if info.cls is t.Message:
        return t.Message(message_id="m", role=t.Role.USER, parts=(t.Part(text="x"),))
    return info.cls()


@pytest.mark.parametrize("enum_name", ["TaskState", "Role"])
def test_enums_mirror_the_proto(enum_name: str) -> None:
    proto = FILE.enum_types_by_name[enum_name]
    ours: type[enum.Enum] = getattr(t, enum_name)
    by_number = [v.name for v in sorted(proto.values, key=lambda v: v.number)]
    # Declared in number order: the lenient decoder maps enum numbers by position.
    assert [m.value for m in ours] == by_number
    assert [v.number for v in proto.values] == list(range(len(by_number)))
    prefix = by_number[0].removesuffix("UNSPECIFIED")
    assert [prefix + m.name for m in ours] == by_number  # TaskState.WORKING etc.


# --- one field ---------------------------------------------------------------------


def _check_field(field: mi.Field, proto: FieldDescriptor, where: str) -> None:
    message = proto.message_type
    if message is not None and message.GetOptions().map_entry:
        # map<string, V>: a dict, empty by default.
        assert isinstance(field.type, mi.DictType), where
        assert isinstance(field.type.key_type, mi.StrType), where
        assert field.default_factory is dict, where
        _check_type(field.type.value_type, message.fields_by_name["value"], where)
    elif proto.is_repeated:
        # repeated T: a tuple, empty by default unless REQUIRED (no default).
        assert isinstance(field.type, mi.VarTupleType), where
        assert field.required or field.default == (), where
        _check_type(field.type.item_type, proto, where)
    elif message is not None and message.full_name == _VALUE:
        # google.protobuf.Value: any JSON value; JSON null is a value, so "not set" is
        # msgspec.UNSET rather than None.
        assert isinstance(field.type, mi.AnyType), where
        assert not field.required, where
        assert field.default is msgspec.UNSET or field.default is msgspec.NODEFAULT, (
            where
        )
    elif proto.has_presence:
        # Explicit presence (messages, oneof members, proto3 ``optional``): ``T | None``
        # defaulting to None, or REQUIRED (no default) for a REQ sub-message.
        if field.required:
            assert message is not None, f"{where}: only REQ messages may be required"
            _check_type(field.type, proto, where)
        else:
            assert isinstance(field.type, mi.UnionType), where
            assert any(isinstance(m, mi.NoneType) for m in field.type.types), where
            assert field.default is None, where
            (inner,) = [m for m in field.type.types if not isinstance(m, mi.NoneType)]
            _check_type(inner, proto, where)
    else:
        # Implicit presence: the proto3 zero value as default, or REQUIRED.
        _check_type(field.type, proto, where)
        if not field.required:
            assert field.default == _zero(proto), f"{where}: default {field.default!r}"


def _check_type(info: mi.Type, proto: FieldDescriptor, where: str) -> None:
    if isinstance(info, mi.Metadata):
        info = info.type
    kind = proto.type
    if kind == FieldDescriptor.TYPE_STRING:
        assert isinstance(info, mi.StrType), where
        assert info.pattern is None, where
    elif kind == FieldDescriptor.TYPE_BYTES:
        assert isinstance(info, mi.BytesType), where
    elif kind == FieldDescriptor.TYPE_BOOL:
        assert isinstance(info, mi.BoolType), where
    elif kind == FieldDescriptor.TYPE_INT32:
        assert isinstance(info, mi.IntType), where
        assert (info.ge, info.le) == INT32, f"{where}: int32 range"
    elif kind == FieldDescriptor.TYPE_ENUM:
        assert isinstance(info, mi.EnumType), where
        assert info.cls.__name__ == proto.enum_type.name, where
    elif kind == FieldDescriptor.TYPE_MESSAGE:
        full = proto.message_type.full_name
        if full == _TIMESTAMP:
            assert isinstance(info, mi.StrType), where
            assert info.pattern == TIMESTAMP_PATTERN, where
        elif full == _STRUCT:
            assert isinstance(info, mi.DictType), where
            assert isinstance(info.key_type, mi.StrType), where
            assert isinstance(info.value_type, mi.AnyType), where
        else:
            assert isinstance(info, mi.StructType), where
            assert info.cls.__name__ == proto.message_type.name, where
    else:  # pragma: no cover - the A2A proto uses no other scalar types
        pytest.fail(f"{where}: unexpected proto type {kind}")


def _zero(proto: FieldDescriptor) -> Any:
    if proto.type == FieldDescriptor.TYPE_ENUM:
        return proto.enum_type.values_by_number[0].name
    return {
        FieldDescriptor.TYPE_STRING: "",
        FieldDescriptor.TYPE_BYTES: b"",
        FieldDescriptor.TYPE_BOOL: False,
        FieldDescriptor.TYPE_INT32: 0,
    }[proto.type]
