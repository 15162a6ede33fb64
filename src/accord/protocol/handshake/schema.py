"""A bounded JSON Schema validator for skill inputs and outputs (a documented subset).

Skills declare the JSON Schema of the data part they take and of the data they return
(:class:`~accord.protocol.handshake.SkillContract`); the server checks every data part
sent to a skill against its input schema before the agent runs, so a caller learns
which field is wrong from a clear invalid-params error (spec §3.3.2) instead of from a
failed task.

The subset is the part of JSON Schema (2020-12 vocabulary) that describes request
shapes: ``type``, ``properties``, ``required``, ``additionalProperties``, ``items``,
``enum``, ``const``, ``minLength``/``maxLength``, ``pattern``, ``minimum``/``maximum``,
``exclusiveMinimum``/``exclusiveMaximum``, ``minItems``/``maxItems`` and ``anyOf``;
annotations (``title``, ``description``, ``examples``, ``default``, ``format``,
``$schema``, ``$id``) are allowed and not checked. A schema using any other keyword is
refused when it is declared (:func:`check_schema`), never silently half-checked.

Validation is bounded: schemas nest at most :data:`MAX_DEPTH` levels, patterns are
compiled once when declared and at most :data:`MAX_PATTERN` characters long, and
validation stops at the first violation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_PATTERN",
    "JsonSchema",
    "SchemaViolation",
    "check_schema",
]

#: Deepest nesting of subschemas a declared schema may have.
MAX_DEPTH = 32
#: Longest ``pattern`` a schema may declare (characters).
MAX_PATTERN = 512

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "format",
        "$schema",
        "$id",
        "$comment",
    }
)
_CHECKS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "anyOf",
    }
)
_TYPES = frozenset(
    {"string", "number", "integer", "boolean", "object", "array", "null"}
)


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """The first place an instance breaks its schema.

    Attributes:
        path: where, as a dotted path from the data part's root (``window.start``,
            ``items[2]``; ``""``: the root itself).
        reason: what is wrong, in words (``"is required"``, ``"is not a string"``).
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path or '(the data)'} {self.reason}"


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def _is_type(value: Any, name: str) -> bool:
    kind = _type_of(value)
    return kind == name or (name == "number" and kind == "integer")


def _number(schema: Mapping[str, Any], key: str, where: str) -> None:
    value = schema.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be finite")


def _count(schema: Mapping[str, Any], key: str, where: str) -> None:
    value = schema.get(key)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise ValueError(f"{where}: {key} must be a non-negative integer")


def check_schema(schema: Any, where: str = "schema", depth: int = 0) -> None:
    """Refuse a schema outside the supported subset (see the module docstring).

    Raises:
        ValueError: naming the place (``where``) and what is not supported.
    """
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise ValueError(f"{where}: a schema is a JSON object or a boolean")
    unknown = sorted(set(schema) - _CHECKS - _ANNOTATIONS)
    if unknown:
        raise ValueError(
            f"{where}: keyword {unknown[0]!r} is not supported (supported: "
            f"{', '.join(sorted(_CHECKS))})"
        )
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else kind
        if (
            not isinstance(kinds, list)
            or not kinds
            or any(k not in _TYPES for k in kinds)
        ):
            raise ValueError(f"{where}: type must be one of {sorted(_TYPES)} or a list")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ValueError(f"{where}: properties must be an object")
    for name, sub in properties.items():
        check_schema(sub, f"{where}.properties.{name}", depth + 1)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ValueError(f"{where}: required must be a list of names")
    for key in ("additionalProperties", "items"):
        if key in schema:
            check_schema(schema[key], f"{where}.{key}", depth + 1)
    any_of = schema.get("anyOf")
    if any_of is not None:
        if not isinstance(any_of, list) or not any_of:
            raise ValueError(f"{where}: anyOf must be a non-empty list of schemas")
        for index, sub in enumerate(any_of):
            check_schema(sub, f"{where}.anyOf[{index}]", depth + 1)
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise ValueError(f"{where}: enum must be a list")
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        _number(schema, key, where)
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        _count(schema, key, where)
    pattern = schema.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
            raise ValueError(f"{where}: pattern must be a string of <= {MAX_PATTERN}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{where}: pattern does not compile: {exc}") from None


class JsonSchema:
    """A checked schema (:func:`check_schema`), ready to validate instances.

    Raises:
        ValueError: from the constructor, when the schema is outside the subset.
    """

    __slots__ = ("_patterns", "schema")

    def __init__(self, schema: Mapping[str, Any] | bool, where: str = "schema") -> None:
        check_schema(schema, where)
        self.schema = schema
        self._patterns: dict[str, re.Pattern[str]] = {}

    def __repr__(self) -> str:
        return f"JsonSchema({self.schema!r})"

    def violation(self, instance: Any) -> SchemaViolation | None:
        """The first place ``instance`` breaks the schema, or None when it conforms."""
        return self._check(instance, self.schema, "")

    def _pattern(self, text: str) -> re.Pattern[str]:
        compiled = self._patterns.get(text)
        if compiled is None:
            compiled = self._patterns[text] = re.compile(text)
        return compiled

    def _check(
        self, value: Any, schema: Mapping[str, Any] | bool, path: str
    ) -> SchemaViolation | None:
        if schema is True:
            return None
        if schema is False:
            return SchemaViolation(path, "is not allowed")
        kind = schema.get("type")
        if kind is not None:
            kinds = [kind] if isinstance(kind, str) else kind
            if not any(_is_type(value, k) for k in kinds):
                return SchemaViolation(path, f"is not {' or '.join(kinds)}")
        if "const" in schema and value != schema["const"]:
            return SchemaViolation(path, f"must be {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(repr(v) for v in schema["enum"])
            return SchemaViolation(path, f"must be one of {allowed}")
        if isinstance(value, str):
            found = self._string(value, schema, path)
        elif _type_of(value) in ("integer", "number"):
            found = _bounds(value, schema, path)
        elif isinstance(value, Mapping):
            found = self._object(value, schema, path)
        elif isinstance(value, list | tuple):
            found = self._array(value, schema, path)
        else:
            found = None
        if found is not None:
            return found
        any_of = schema.get("anyOf")
        if any_of is not None and all(
            self._check(value, sub, path) is not None for sub in any_of
        ):
            return SchemaViolation(path, "matches none of the allowed shapes")
        return None

    def _string(
        self, value: str, schema: Mapping[str, Any], path: str
    ) -> SchemaViolation | None:
        if len(value) < schema.get("minLength", 0):
            return SchemaViolation(path, f"is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return SchemaViolation(path, f"is longer than {schema['maxLength']}")
        pattern = schema.get("pattern")
        if pattern is not None and self._pattern(pattern).search(value) is None:
            return SchemaViolation(path, f"does not match {pattern!r}")
        return None

    def _object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str
    ) -> SchemaViolation | None:
        for name in schema.get("required", ()):
            if name not in value:
                return SchemaViolation(_join(path, name), "is required")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            sub = properties.get(name, extra)
            if sub is False:
                return SchemaViolation(
                    _join(path, str(name)), "is not an accepted field"
                )
            found = self._check(item, sub, _join(path, str(name)))
            if found is not None:
                return found
        return None

    def _array(
        self, value: Sequence[Any], schema: Mapping[str, Any], path: str
    ) -> SchemaViolation | None:
        if len(value) < schema.get("minItems", 0):
            return SchemaViolation(path, f"has fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return SchemaViolation(path, f"has more than {schema['maxItems']} items")
        items = schema.get("items", True)
        for index, item in enumerate(value):
            found = self._check(item, items, f"{path}[{index}]")
            if found is not None:
                return found
        return None


def _bounds(
    value: float, schema: Mapping[str, Any], path: str
) -> SchemaViolation | None:
    if "minimum" in schema and value < schema["minimum"]:
        return SchemaViolation(path, f"is less than {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        return SchemaViolation(path, f"is more than {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return SchemaViolation(path, f"is not more than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return SchemaViolation(path, f"is not less than {schema['exclusiveMaximum']}")
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
