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

Hostile input. Every decode turns nesting too deep for the decoder into a
:class:`~accord.errors.ParseError` instead of a ``RecursionError``. A *strict* decode
(``strict=True``, and :func:`accord.types.jsonrpc.decode_jsonrpc`; the server uses it
on every request body) also refuses, as ParseError:

* JSON nested deeper than :data:`MAX_JSON_DEPTH` levels, so that no value deep enough
  to overflow a later encode, copy or comparison is ever accepted;
* objects with duplicate member names (RFC 8259 §4 leaves their meaning open; I-JSON,
  RFC 7493 §2.3, forbids them): msgspec keeps the last, so a filter in front of the
  server that reads the first would see a different request than the agent does.

Both checks cost a few C-level scans of the body and one encode of the decoded value
on a well-formed request; see :func:`_check_strict` for why they are exact.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from msgspec import inspect as mi

from accord._quote import shorten
from accord.errors import InvalidParamsError, ParseError

from ._base import TIMESTAMP_PATTERN

if TYPE_CHECKING:
    import enum

__all__ = [
    "MAX_JSON_DEPTH",
    "convert",
    "decode",
    "decode_json",
    "encode",
    "to_builtins",
]

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_generic_decoder = msgspec.json.Decoder()

#: Deepest nesting of arrays and objects a strict decode accepts (the default recursion
#: limit of the protobuf parsers; A2A requests are about 8 levels deep).
MAX_JSON_DEPTH = 100

_TOO_DEEP = f"Invalid JSON payload: nested deeper than {MAX_JSON_DEPTH} levels"


def encode(value: Any) -> bytes:
    """Encode an A2A value (or plain JSON-able data) as compact ProtoJSON bytes."""
    return _encoder.encode(value)


def to_builtins(value: Any) -> Any:
    """Return ``value`` as plain dicts/lists/strings, exactly as it would be encoded."""
    return msgspec.to_builtins(value)


def decode_json(data: bytes | str, *, strict: bool = False) -> Any:
    """Parse JSON into plain Python values.

    ``strict`` (for input from peers) also refuses nesting deeper than
    :data:`MAX_JSON_DEPTH` and duplicate member names.

    Raises:
        ParseError: when ``data`` is not valid UTF-8 JSON (or, strict, breaks a rule).
    """
    try:
        value = _generic_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ParseError(f"Invalid JSON payload: {exc}") from None
    except RecursionError:
        raise ParseError(_TOO_DEEP) from None
    if strict:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        _check_strict(raw, value)
    return value


def _check_strict(data: bytes, value: Any) -> None:
    """Refuse ``value`` (decoded from ``data``) if too deep or with duplicate keys.

    Depth: each level of nesting opens with its own ``{`` or ``[`` and closes with
    its own ``}`` or ``]``, so a body of at most ``2 * MAX_JSON_DEPTH`` bytes, or
    with at most :data:`MAX_JSON_DEPTH` opening brackets (those inside strings only
    add to the count), cannot be too deep; any other body is measured level by level
    (:func:`_check_depth`).

    Duplicates: outside strings, ``:`` occurs once per object member. So the body has
    ``members + L`` colons, ``L`` being the literal colons inside its strings. The
    decoded value, encoded again (no escaping of ``:``), has ``kept + K + E`` colons:
    ``kept`` members, fewer than ``members`` exactly when a duplicate was dropped,
    ``K <= L`` the literal colons of the strings kept, ``E`` the colons the body
    wrote as ``\\u003a`` in them. With ``U >= E`` the number of such escapes in the
    body, ``members + L + U == kept + K + E`` means each difference (``members -
    kept``, ``L - K``, ``U - E``; all >= 0) is zero: one C-level count of each text
    and one encode of the value, however it is nested. Only when that fails is the
    body read again, slowly, to name the duplicate.
    """
    if type(value) is not dict and type(value) is not list:
        return
    if (
        len(data) > 2 * MAX_JSON_DEPTH
        and data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH
    ):
        _check_depth(value)
    colons = data.count(b":")
    if b"\\" in data:
        colons += data.count(b"\\u003a") + data.count(b"\\u003A")
    if colons != _encoder.encode(value).count(b":"):
        _check_unique_keys(data)


def _check_depth(value: Any) -> None:
    """Refuse ``value`` if it nests deeper than :data:`MAX_JSON_DEPTH` levels."""
    level = [value]
    for _ in range(MAX_JSON_DEPTH):
        below: list[Any] = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)  # noqa: PERF401 (measured faster)
        if not below:
            return
        level = below
    raise ParseError(_TOO_DEEP)


def _check_unique_keys(data: bytes) -> None:
    # Off the hot path: only bodies with a duplicate (or an escaped colon) get here,
    # already known to be valid JSON no deeper than MAX_JSON_DEPTH.
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    raise _Duplicate(key)
                seen.add(key)
        return obj

    try:
        json.loads(data, object_pairs_hook=pairs)
    except _Duplicate as dup:
        raise ParseError(
            f"Invalid JSON payload: the member name {shorten(dup.key)!r} occurs more "
            "than once in an object (RFC 7493 §2.3); send each member once"
        ) from None
    except ValueError:  # pragma: no cover - msgspec accepted it already
        raise ParseError("Invalid JSON payload") from None


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@cache
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def decode(data: bytes | str, type_: type[T], *, strict: bool = False) -> T:
    """Decode ProtoJSON bytes into ``type_``.

    ``strict`` (for requests from peers) applies the rules of :func:`decode_json`'s
    ``strict`` first.

    Raises:
        ParseError: when ``data`` is not JSON (or, strict, breaks a rule).
        InvalidParamsError: when the JSON does not describe a valid ``type_``;
            the message and ``field_violations`` name the offending field.
    """
    if strict:
        return convert(decode_json(data, strict=True), type_)
    decoder: msgspec.json.Decoder[T] = _decoder(cast("Any", type_))
    try:
        return decoder.decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise ParseError(f"Invalid JSON payload: {exc}") from None
    except RecursionError:
        raise ParseError(_TOO_DEEP) from None
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
    except RecursionError:
        raise ParseError(_TOO_DEEP) from None


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
