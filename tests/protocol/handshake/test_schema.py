"""The bounded JSON Schema subset: what it checks, what it refuses to declare."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accord.protocol.handshake import (
    MAX_DEPTH,
    JsonSchema,
    SkillContract,
    check_schema,
    skill_inputs,
    skill_named,
)
from accord.types import Message, Part, Role

CALLBACK: dict[str, Any] = {
    "type": "object",
    "required": ["phone", "window"],
    "additionalProperties": False,
    "properties": {
        "phone": {"type": "string", "pattern": r"^\+\d{8,15}$"},
        "window": {
            "anyOf": [
                {"type": "string", "minLength": 3},
                {
                    "type": "object",
                    "required": ["start", "end"],
                    "properties": {"start": {"type": "string"}},
                },
            ]
        },
        "attempts": {"type": "integer", "minimum": 1, "maximum": 3},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        "priority": {"const": "high"},
        "score": {"type": "number", "exclusiveMaximum": 1},
    },
}


OK = {"phone": "+14155550123", "window": "9-12"}


@pytest.mark.parametrize(
    ("instance", "path", "reason"),
    [
        ({"window": "9-12"}, "phone", "is required"),
        ({"phone": 14155550123, "window": "9-12"}, "phone", "is not string"),
        ({"phone": "+1 415", "window": "9-12"}, "phone", "does not match"),
        ({"phone": "+14155550123", "window": 17}, "window", "matches none"),
        ({"phone": "+14155550123", "window": {"start": "x"}}, "window", "matches none"),
        ({"phone": "+14155550123", "window": "ab"}, "window", "matches none"),
        ({**OK, "x": 1}, "x", "not an accepted"),
        ({**OK, "attempts": 0}, "attempts", "less"),
        ({**OK, "attempts": 1.5}, "attempts", "not"),
        ({**OK, "tags": ["c"]}, "tags[0]", "one of"),
        ({**OK, "tags": ["a"] * 3}, "tags", "more"),
        ({**OK, "priority": "low"}, "priority", "be"),
        ({**OK, "score": 1}, "score", "not less"),
        ([1], "", "is not object"),
    ],
)
def test_violations_name_the_field(instance: Any, path: str, reason: str) -> None:
    violation = JsonSchema(CALLBACK).violation(instance)
    assert violation is not None
    assert violation.path == path
    assert reason in violation.reason


def test_conforming_instances_pass() -> None:
    schema = JsonSchema(CALLBACK)
    assert (
        schema.violation({"phone": "+14155550123", "window": "tomorrow 9-12"}) is None
    )
    ok = {"phone": "+14155550123", "window": {"start": "s", "end": "e"}, "score": 0.5}
    assert schema.violation({**ok, "attempts": 3, "tags": ["a", "b"]}) is None
    assert JsonSchema(True).violation({"anything": 1}) is None
    assert JsonSchema(False).violation(1) is not None


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#/x"}, "'$ref' is not supported"),
        ({"type": "text"}, "type must be one of"),
        ({"properties": {"a": {"oneOf": []}}}, "schema.properties.a: keyword 'oneOf'"),
        ({"pattern": "("}, "does not compile"),
        ({"pattern": "a" * 600}, "pattern must be a string"),
        ({"minLength": -1}, "non-negative integer"),
        ({"maximum": "3"}, "must be a number"),
        ({"required": "phone"}, "list of names"),
        ({"anyOf": []}, "non-empty list"),
        ([], "a JSON object or a boolean"),
    ],
)
def test_unsupported_schemas_are_refused_when_declared(
    schema: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_schema(schema)


def test_nesting_is_bounded() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 1):
        schema = {"items": schema}
    with pytest.raises(ValueError, match="nested deeper"):
        check_schema(schema)


def test_a_contract_refuses_a_bad_schema_and_declares_camel_case() -> None:
    with pytest.raises(ValueError, match=r"callback\.input_schema"):
        SkillContract("callback", input_schema={"oneOf": []})
    contract = SkillContract("callback", {"type": "object"}, {"type": "object"})
    assert contract.declared() == {
        "id": "callback",
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object"},
    }


def _message(*parts: Part, metadata: dict[str, Any] | None = None) -> Message:
    return Message(message_id="m", role=Role.USER, parts=parts, metadata=metadata)


def test_inputs_are_the_parts_naming_the_skill_without_their_routing_key() -> None:
    message = _message(
        Part(text="hello"),
        Part(data={"skill": "a", "x": 1}),
        Part(data={"skill": "b", "y": 2}),
        Part(data=[1, 2]),
    )
    assert skill_named(message) == "a"
    assert [(i.index, dict(i.data)) for i in skill_inputs(message, "a")] == [
        (1, {"x": 1})
    ]
    whole = _message(Part(data={"x": 1}), metadata={"skill": "a"})
    assert skill_named(whole) == "a"
    assert [dict(i.data) for i in skill_inputs(whole, "a")] == [{"x": 1}]
    assert skill_named(_message(Part(text="hi"))) is None


@pytest.mark.parametrize(
    ("schema", "instance", "message"),
    [
        ({"type": "string", "maxLength": 3}, "abcd", "is longer than 3"),
        ({"type": "array", "minItems": 2}, [1], "has fewer than 2 items"),
        ({"type": "number", "maximum": 5}, 6, "is more than 5"),
        ({"type": "number", "exclusiveMinimum": 5}, 5, "is not more than 5"),
        ({"type": "string"}, None, "is not string"),
        ({"type": "string"}, True, "is not string"),
    ],
)
def test_each_bound_names_what_is_wrong(
    schema: dict[str, Any], instance: Any, message: str
) -> None:
    violation = JsonSchema(schema).violation(instance)
    assert violation is not None
    assert message in str(violation)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "number", "minimum": float("inf")}, "minimum must be finite"),
        ({"type": "object", "properties": []}, "properties must be an object"),
        ({"enum": "red"}, "enum must be a list"),
    ],
)
def test_a_schema_outside_the_subset_is_refused_when_declared(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_schema(schema)
    assert repr(JsonSchema({"type": "string"})) == "JsonSchema({'type': 'string'})"
