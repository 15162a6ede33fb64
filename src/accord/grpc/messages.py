"""The gRPC binding's messages: Accord's compiled ``a2a.proto`` and the ProtoJSON bridge.

The message classes are built in a private :class:`DescriptorPool` from the descriptor
that ``scripts/gen_grpc.py`` compiles out of ``a2a.proto``, never in protobuf's
process-wide pool: another build of ``lf.a2a.v1`` loaded in the same process (the
reference SDK's, say) would collide there. Both builds put the same bytes on the wire.

Values cross between Accord's model (:mod:`accord.types`) and protobuf through
ProtoJSON, the mapping the JSON bindings already speak (spec §5.5): one definition of
every field's meaning, so what a gRPC peer sends decodes exactly as the same request
over JSON-RPC would, with the same validation and the same errors.

:data:`METHODS` derives the service from the operations table
(:mod:`accord.protocol.operations`): each operation is the rpc of the same name, with
the proto messages named after its request and response types (spec §10.3).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    empty_pb2,
    json_format,
    message_factory,
    struct_pb2,
    timestamp_pb2,
)
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from accord import types as t
from accord.errors import InvalidParamsError, ParseError
from accord.protocol.operations import OPERATIONS, Operation

from ._pb.a2a_descriptor import SERIALIZED
from ._pb.a2a_v03_descriptor import SERIALIZED as SERIALIZED_V03

__all__ = [
    "METHODS",
    "PACKAGE",
    "SERVICE",
    "Method",
    "ProtoMessage",
    "from_proto",
    "message_class",
    "parse",
    "to_proto",
]

T = TypeVar("T")

#: The proto package of A2A v1.0 (spec §10.1).
PACKAGE = "lf.a2a.v1"
#: The full name of the service (spec §10.3).
SERVICE = f"{PACKAGE}.A2AService"


def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for well_known in (empty_pb2, struct_pb2, timestamp_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        well_known.DESCRIPTOR.CopyToProto(file)
        pool.Add(file)
    pool.AddSerializedFile(SERIALIZED)
    pool.AddSerializedFile(SERIALIZED_V03)  # v0.3's a2a.v1 (accord.grpc.v03)
    return pool


POOL = _pool()


@cache
def message_class(name: str, package: str = PACKAGE) -> type[ProtoMessage]:
    """The protobuf class of ``name``: a ``package`` message (by default v1.0's
    ``lf.a2a.v1``; v0.3's is ``a2a.v1``), or ``Empty``."""
    full = "google.protobuf.Empty" if name == "Empty" else f"{package}.{name}"
    cls: type[ProtoMessage] = message_factory.GetMessageClass(
        POOL.FindMessageTypeByName(full)
    )
    return cls


@dataclass(frozen=True, slots=True)
class Method:
    """One rpc of the service: its operation and its two message classes."""

    operation: Operation
    request: type[ProtoMessage]
    response: type[ProtoMessage]

    @property
    def path(self) -> str:
        """The HTTP/2 path gRPC calls it by: ``/lf.a2a.v1.A2AService/<Rpc>``."""
        return f"/{SERVICE}/{self.operation.name}"


#: Every rpc, by name, in the operations table's order.
METHODS: dict[str, Method] = {
    op.name: Method(
        op,
        message_class(op.request_type.__name__),
        message_class(op.response_type.__name__),
    )
    for op in OPERATIONS
}


def to_proto(value: Any) -> ProtoMessage:
    """The protobuf message of an Accord value (``t.Task`` → ``lf.a2a.v1.Task``).

    Built with the message constructor from the value's fields (the protobuf field
    names are Accord's attribute names; enums by name, Struct fields from dicts):
    four times faster than the ProtoJSON bridge, which stays the fallback and the
    reference (tests/grpc/test_codec.py checks both give the same bytes).
    """
    cls = message_class(type(value).__name__)
    try:
        return cls(**_fields(value))
    except (TypeError, ValueError):  # pragma: no cover - the bridge is the reference
        return _to_proto_json(cls, value)


def _to_proto_json(cls: type[ProtoMessage], value: Any) -> ProtoMessage:
    message = cls()
    json_format.ParseDict(t.to_builtins(value), message)
    return message


#: Fields whose protobuf type is not what their Accord value is: timestamps are
#: strings in Accord, ``Part.data`` (a ``google.protobuf.Value``) any JSON value.
_TIMESTAMPS = frozenset(
    {("TaskStatus", "timestamp"), ("ListTasksRequest", "status_timestamp_after")}
)
_VALUES = frozenset({("Part", "data")})


def _fields(value: Any) -> dict[str, Any]:
    """The constructor arguments of the message for the Accord struct ``value``."""
    name = type(value).__name__
    out: dict[str, Any] = {}
    for field in value.__struct_fields__:
        item = getattr(value, field)
        if (name, field) in _VALUES:
            if item is not t.UNSET:  # None is JSON null, a value
                out[field] = _value(item)
        elif item is None or item is t.UNSET or item == ():
            continue
        elif (name, field) in _TIMESTAMPS:
            out[field] = _timestamp(item)
        else:
            out[field] = _arg(item)
    return out


def _arg(item: Any) -> Any:
    if isinstance(item, str):
        return str(item)  # an enum (a str subclass) by its name, as protobuf wants
    if isinstance(item, tuple):
        return [_arg(i) for i in item]
    if hasattr(item, "__struct_fields__"):
        return _fields(item)
    if (
        isinstance(item, dict)
        and item
        and hasattr(next(iter(item.values())), "__struct_fields__")
    ):
        return {k: _fields(v) for k, v in item.items()}  # a map of messages
    return item  # bytes, numbers, booleans, Struct dicts


def _timestamp(text: str) -> dict[str, int]:
    moment = datetime.fromisoformat(text)
    return {
        "seconds": calendar.timegm(moment.utctimetuple()),
        "nanos": moment.microsecond * 1000,
    }


_VALUE = "google.protobuf.Value"


def _value(item: Any) -> ProtoMessage:
    message = message_class_full(_VALUE)()
    json_format.ParseDict(item, message)
    return message


@cache
def message_class_full(full_name: str) -> type[ProtoMessage]:
    """The protobuf class of a message by its full name (in the private pool)."""
    cls: type[ProtoMessage] = message_factory.GetMessageClass(
        POOL.FindMessageTypeByName(full_name)
    )
    return cls


def from_proto(message: ProtoMessage, type_: type[T]) -> T:
    """The Accord value of a protobuf message.

    Raises:
        InvalidParamsError: the message is not a valid ``type_`` (a missing required
            field, two members of a oneof...), naming the field.
    """
    return t.convert(json_format.MessageToDict(message), type_)


def parse(data: bytes, cls: type[ProtoMessage]) -> ProtoMessage:
    """Decode the protobuf bytes of a ``cls`` message.

    Raises:
        ParseError: the bytes are not a ``cls`` message.
    """
    try:
        return cls.FromString(data)
    except DecodeError as exc:
        raise ParseError(f"Invalid {cls.DESCRIPTOR.name} message: {exc}") from None


def decode_request(method: Method, data: bytes) -> Any:
    """The Accord request value of a request's protobuf bytes.

    Raises:
        ParseError: the bytes are not a protobuf message of the rpc's request type.
        InvalidParamsError: the message is not a valid request.
    """
    message = parse(data, method.request)
    try:
        return from_proto(message, method.operation.request_type)
    except json_format.Error as exc:  # e.g. a Value holding NaN
        raise InvalidParamsError(
            f"Invalid {method.operation.request_type.__name__}: {exc}"
        ) from None
