"""The one ProtoJSON codec: every encode and decode of A2A values goes through here.

Theory of operation. Decoding has two paths:

* **Fast path**: msgspec decodes straight into the frozen Structs with unknown fields
  forbidden. Well-formed v1.0 JSON (camelCase names, enum names) takes this path only.
* **Lenient path**: when the fast path refuses the input, the JSON is re-read as plain
  values and normalised against the type's schema the way a ProtoJSON parser would
  accept it (spec §5.5, §5.7): original snake_case field names are renamed,
  enum numbers become names, int32 given as strings become numbers, URL-safe or unpadded
  base64 is accepted, ``null`` for a non-``Value`` field means "not set", and unknown
  fields are dropped. The result is converted again; what still fails is reported as an
  :class:`~accord.errors.InvalidParamsError` naming the offending field.

Encoding is plain msgspec: camelCase keys in proto field order, enum names, defaults
omitted (except where a type opts out, e.g. ``ListTasksResponse``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from msgspec import inspect as mi

from accord.errors import InvalidParamsError, InvalidRequestError, ParseError

from ._base import TIMESTAMP_PATTERN

if TYPE_CHECKING:
    import enum

__all__ = [
    "JsonRpcEnvelope",
    "convert",
    "decode",
    "decode_json",
    "encode",
    "split_jsonrpc",
    "to_builtins",
]

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_generic_decoder = msgspec.json.Decoder()


def encode(value: Any) -> bytes:
    """Encode an A2A value (or plain JSON-able data) as compact ProtoJSON bytes."""
    return _encoder.encode(value)


def to_builtins(value: Any) -> Any:
    """Return ``value`` as plain dicts/lists/strings, exactly as it would be encoded."""
    return msgspec.to_builtins(value)


def decode_json(data: bytes | str) -> Any:
    """Parse JSON into plain Python values.

    Raises:
        ParseError: when ``data`` is not valid UTF-8 JSON.
    """
    try:
        return _generic_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ParseError(f"Invalid JSON payload: {exc}") from None


@cache
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def decode(data: bytes | str, type_: type[T]) -> T:
    """Decode ProtoJSON bytes into ``type_``.

    Raises:
        ParseError: when ``data`` is not JSON.
        InvalidParamsError: when the JSON does not describe a valid ``type_``;
            the message and ``field_violations`` name the offending field.
    """
    decoder: msgspec.json.Decoder[T] = _decoder(cast("Any", type_))
    try:
        return decoder.decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise ParseError(f"Invalid JSON payload: {exc}") from None
    return _lenient(decode_json(data), type_)


def convert(obj: Any, type_: type[T]) -> T:
    """Convert plain JSON values (dicts, lists, strings, ...) into ``type_``.

    Raises:
        InvalidParamsError: as :func:`decode`.
    """
    try:
        return msgspec.convert(obj, type_)
    except msgspec.ValidationError:
        return _lenient(obj, type_)


def _lenient(obj: Any, type_: type[T]) -> T:
    normalized = _normalizer(cast("Any", type_))(obj)
    try:
        return msgspec.convert(normalized, type_)
    except msgspec.ValidationError as exc:
        raise _invalid_params(type_, str(exc)) from None


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"missing required field `(?P<field>[^`]+)`")
_TIMESTAMP_MISMATCH = f"Expected `str` matching regex {TIMESTAMP_PATTERN!r}"


def _invalid_params(type_: Any, text: str) -> InvalidParamsError:
    match = _AT.match(text)
    assert match is not None
    what, path = match["what"], (match["path"] or "").lstrip(".")
    what = what.replace(_TIMESTAMP_MISMATCH, "Expected an RFC 3339 timestamp")
    missing = _MISSING.search(what)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
    name = getattr(type_, "__name__", str(type_))
    where = f" (field `{path}`)" if path else ""
    return InvalidParamsError(
        f"Invalid {name}{where}: {what}",
        field_violations=[(path or name, what)],
    )


# --- lenient normalisation -------------------------------------------------------------

Normalizer = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@cache
def _normalizer(type_: Any) -> Normalizer:
    return _build(mi.type_info(type_))


def _build(info: mi.Type) -> Normalizer:
    if isinstance(info, mi.StructType):
        return _struct_normalizer(info)
    if isinstance(info, mi.UnionType):
        members = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(members) == 1:
            return _build(members[0])
        return _identity
    if isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        item = _build(info.item_type)
        if item is _identity:
            return _identity
        return lambda v: [item(x) for x in v] if isinstance(v, list) else v
    if isinstance(info, mi.DictType):
        value = _build(info.value_type)
        if value is _identity:
            return _identity
        return lambda v: (
            {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v
        )
    if isinstance(info, mi.EnumType):
        return _enum_normalizer(info.cls)
    if isinstance(info, mi.IntType):
        return _int_from_string
    if isinstance(info, mi.BytesType):
        return _base64_any
    return _identity


def _struct_normalizer(info: mi.StructType) -> Normalizer:
    # Built lazily: structs may refer to themselves indirectly.
    fields: dict[str, tuple[str, Normalizer, bool]] = {}

    def prepare() -> None:
        for f in info.fields:
            is_value = isinstance(f.type, mi.AnyType) or (
                isinstance(f.type, mi.UnionType)
                and any(isinstance(t, mi.AnyType) for t in f.type.types)
            )
            entry = (f.encode_name, _build(f.type), is_value)
            fields[f.encode_name] = entry
            fields[f.name] = entry

    def normalize(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if not fields:
            prepare()
        out: dict[str, Any] = {}
        for key, item in value.items():
            entry = fields.get(key)
            if entry is None:
                continue  # spec §5.7: ignore unrecognised fields
            name, norm, is_value = entry
            if item is None and not is_value:
                continue  # ProtoJSON: null for a non-Value field means "not set"
            out[name] = norm(item)
        return out

    return normalize


def _enum_normalizer(cls: type[enum.Enum]) -> Normalizer:
    # Members are declared in proto number order, so the index is the enum number.
    members = [m.value for m in cls]

    def normalize(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(members):
                return members[value]
            # A number without a name: report it as an invalid enum value.
            return str(value)
        return value

    return normalize


_JSON_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")


def _int_from_string(value: Any) -> Any:
    # ProtoJSON accepts integers as strings, and in exponent or fraction notation
    # ("1e2", 5.0) when the value is integral. Anything else stays as it is, for
    # msgspec to reject with the field's path.
    if isinstance(value, str) and _JSON_NUMBER.fullmatch(value):
        if re.fullmatch(r"[+-]?[0-9]+", value):
            return int(value)
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _base64_any(value: Any) -> Any:
    # ProtoJSON accepts standard or URL-safe base64, padded or not.
    if not isinstance(value, str):
        return value
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return value


# --- JSON-RPC envelope -------------------------------------------------------------------


class _Envelope(msgspec.Struct):
    jsonrpc: Any = msgspec.UNSET
    id: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    params: msgspec.Raw = msgspec.Raw(b"")


class JsonRpcEnvelope(msgspec.Struct, frozen=True):
    """The members of a JSON-RPC 2.0 request, with ``params`` still as raw JSON bytes.

    ``id`` is ``None`` for ``null`` and ``msgspec.UNSET`` (see :data:`has_id`) when absent.
    """

    jsonrpc: Any
    id: Any
    method: Any
    params: bytes
    has_id: bool


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def split_jsonrpc(data: bytes) -> JsonRpcEnvelope:
    """Read the envelope of a JSON-RPC request without decoding ``params`` yet.

    Raises:
        ParseError: the body is not JSON.
        InvalidRequestError: the body is JSON but not an object (e.g. a batch array).
    """
    try:
        env = _envelope_decoder.decode(data)
    except msgspec.ValidationError:
        value = decode_json(data)
        kind = "a batch (array)" if isinstance(value, list) else type(value).__name__
        raise InvalidRequestError(
            f"Invalid request: expected a JSON-RPC request object, got {kind}"
        ) from None
    except msgspec.DecodeError as exc:
        raise ParseError(f"Invalid JSON payload: {exc}") from None
    has_id = env.id is not msgspec.UNSET
    return JsonRpcEnvelope(
        jsonrpc=None if env.jsonrpc is msgspec.UNSET else env.jsonrpc,
        id=env.id if has_id else None,
        method=None if env.method is msgspec.UNSET else env.method,
        params=bytes(env.params),
        has_id=has_id,
    )
