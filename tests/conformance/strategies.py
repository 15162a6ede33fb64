"""Hypothesis strategies for every wire type in ``accord.types``.

The strategies are derived from the model's own schema (``msgspec.inspect``), so a new
field is generated without touching this file, and they respect the model's validity
rules (spec §5.7, §4):

* a field without a default is REQUIRED: strings are non-empty, enums are not
  ``*_UNSPECIFIED``;
* a oneof Struct (:data:`ONEOFS`) sets exactly one member;
* declared constraints hold: ``min_length`` (``Message.parts`` has at least one part),
  the int32 range;
* timestamps have millisecond precision within 0001-9999 (the range of
  ``google.protobuf.Timestamp``) and are given in canonical form;
* ``Struct`` / ``Value`` numbers are exact IEEE doubles (integers within +-2**53),
  because protobuf stores every JSON number in those types as a double.

``strategy_for(cls, member=...)`` pins the member of a oneof type, so tests can cover
each member of every oneof explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from functools import cache, partial
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from accord import types as t
from accord.types._base import TIMESTAMP_PATTERN

__all__ = [
    "ONEOFS",
    "WIRE_TYPES",
    "json_values",
    "strategy_for",
    "struct_values",
    "timestamps",
]

#: Every Struct accord.types exports: each is an A2A wire message.
WIRE_TYPES: tuple[type[msgspec.Struct], ...] = tuple(
    obj
    for name in t.__all__
    if isinstance(obj := getattr(t, name), type) and issubclass(obj, msgspec.Struct)
)

#: The oneofs of the model: Struct -> its members (Python attribute names), in proto
#: order. tests/conformance/test_proto_mirror.py checks this table against the proto.
ONEOFS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    t.Part: ("text", "raw", "url", "data"),
    t.SendMessageResponse: ("task", "message"),
    t.StreamResponse: ("task", "message", "status_update", "artifact_update"),
    t.SecurityScheme: (
        "api_key_security_scheme",
        "http_auth_security_scheme",
        "oauth2_security_scheme",
        "open_id_connect_security_scheme",
        "mtls_security_scheme",
    ),
    t.OAuthFlows: (
        "authorization_code",
        "client_credentials",
        "implicit",
        "password",
        "device_code",
    ),
}

_MAX_SAFE_INT = 2**53

_TEXT = st.text(max_size=12)
_KEYS = st.text(max_size=8)


def timestamps() -> st.SearchStrategy[str]:
    """Canonical ms-precision timestamps over the whole protobuf Timestamp range."""
    return st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59, 999000),
        timezones=st.just(UTC),
    ).map(
        lambda d: t.format_timestamp(
            d.replace(microsecond=d.microsecond // 1000 * 1000)
        )
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value that a ``google.protobuf.Value`` carries exactly (null too)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-_MAX_SAFE_INT, _MAX_SAFE_INT),
        st.floats(allow_nan=False, allow_infinity=False),
        _TEXT,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)
        ),
        max_leaves=8,
    )


def struct_values() -> st.SearchStrategy[dict[str, Any]]:
    """A ``google.protobuf.Struct``: a JSON object."""
    return st.dictionaries(_KEYS, json_values(), max_size=3)


def strategy_for(
    cls: type[msgspec.Struct], member: str | None = None
) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls``; ``member`` pins the oneof member that is set."""
    return _struct(cls, member)


@cache
def _struct(cls: type[msgspec.Struct], member: str | None) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    oneof = ONEOFS.get(cls, ())
    if member is not None and member not in oneof:
        raise ValueError(f"{cls.__name__} has no oneof member {member!r}")
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    members: dict[str, st.SearchStrategy[Any]] = {}
    for field in info.fields:
        strategy = _field(field.type, required=field.required)
        if field.name in oneof:
            members[field.name] = strategy
        elif field.required:
            required[field.name] = strategy
        else:
            optional[field.name] = strategy
    fields = st.fixed_dictionaries(required, optional=optional)
    if oneof:
        one = st.one_of(
            [
                members[name].map(partial(_wrap, name))
                for name in oneof
                if member in (None, name)
            ]
        )
        fields = st.tuples(fields, one).map(lambda pair: {**pair[0], **pair[1]})
    return fields.map(lambda kwargs: cls(**kwargs))


def _field(info: mi.Type, *, required: bool) -> st.SearchStrategy[Any]:
    if isinstance(info, mi.UnionType):
        # T | None: "not set" is the default, so only the value itself is generated.
        members = [m for m in info.types if not isinstance(m, mi.NoneType)]
        assert len(members) == 1, info
        return _field(members[0], required=required)
    if isinstance(info, mi.Metadata):
        return _field(info.type, required=required)
    if isinstance(info, mi.StrType):
        if info.pattern == TIMESTAMP_PATTERN:
            return timestamps()
        assert info.pattern is None, info
        min_size = max(info.min_length or 0, 1 if required else 0)
        return st.text(min_size=min_size, max_size=12)
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        return st.integers(info.ge, info.le)
    if isinstance(info, mi.BytesType):
        return st.binary(max_size=24)
    if isinstance(info, mi.EnumType):
        return _enum(info.cls, required=required)
    if isinstance(info, mi.VarTupleType | mi.ListType):
        item = _field(info.item_type, required=False)
        return st.lists(item, min_size=info.min_length or 0, max_size=2).map(tuple)
    if isinstance(info, mi.DictType):
        if isinstance(info.value_type, mi.AnyType):
            return struct_values()
        return st.dictionaries(
            _KEYS, _field(info.value_type, required=False), max_size=3
        )
    if isinstance(info, mi.AnyType):
        return json_values()
    if isinstance(info, mi.StructType):
        return _struct(info.cls, None)
    raise TypeError(f"no strategy for {info!r}")


def _enum(cls: type[Enum], *, required: bool) -> st.SearchStrategy[Any]:
    values = list(cls)
    if required:
        values = [v for v in values if not str(v.value).endswith("_UNSPECIFIED")]
    return st.sampled_from(values)


def _wrap(name: str, value: Any) -> dict[str, Any]:
    return {name: value}
