"""The lenient ProtoJSON decoding path, and what it still refuses (spec §5.5, §5.7).

Accepted (spec §5.5): original proto (snake_case) field names at any depth, enum
numbers, int32 as strings or in exponent notation, URL-safe / unpadded base64, ``null``
for any non-``Value`` field (= not set), unknown fields (v0.3 ``kind`` included), and
``{"data": null}`` as a data part holding JSON null.

Refused with InvalidParamsError naming the field path: wrong JSON types, two or zero
members of a oneof, empty ``parts``, unknown enum names, int32 out of range, malformed
timestamps. Non-JSON input is a ParseError.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta, timezone
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord import types as t
from accord.errors import InvalidParamsError, ParseError
from tests.conformance.oracle import pb_class, proto_to_json
from tests.conformance.strategies import WIRE_TYPES, strategy_for

# A quarter of the hypothesis profile's examples (tests/conftest.py): the property runs
# for every wire type, each example through the protobuf oracle.
_PROFILE = settings.default
assert _PROFILE is not None
SETTINGS = settings(
    max_examples=max(5, _PROFILE.max_examples // 4),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

USER = t.Role.USER
WORKING = t.TaskState.WORKING


def _task_json(**extra: Any) -> dict[str, Any]:
    return {"id": "t-1", "status": {"state": "TASK_STATE_WORKING"}, **extra}


def _decode(doc: Any, cls: type[Any]) -> Any:
    return t.decode(json.dumps(doc).encode(), cls)


# --- a ProtoJSON mangler: equivalent spellings of the same message ----------------------


class Mangler:
    """Rewrites a canonical ProtoJSON document into an equivalent lenient spelling.

    Every choice is drawn from hypothesis, so each message may get a different mix:
    proto field names, enum numbers, int32 strings, URL-safe unpadded base64, timestamps
    with offsets and 0/3/6/9 fraction digits, explicit nulls for absent fields, and
    unknown fields (a v0.3 ``kind``).
    """

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def message(self, doc: dict[str, Any], descriptor: Descriptor) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in descriptor.fields:
            if field.json_name in doc:
                value = self.field(doc[field.json_name], field)
                key = field.name if self.draw(st.booleans()) else field.json_name
                out[key] = value
            elif not _is_value(field) and self.draw(st.booleans()):
                out[field.json_name] = None  # null for a non-Value field: not set
        if self.draw(st.booleans()):
            out["kind"] = "task"  # v0.3 discriminator: an unknown field in v1.0
        return out

    def field(self, value: Any, field: FieldDescriptor) -> Any:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            value_field = message.fields_by_name["value"]
            return {k: self.single(v, value_field) for k, v in value.items()}
        if field.is_repeated:
            return [self.single(v, field) for v in value]
        return self.single(value, field)

    def single(self, value: Any, field: FieldDescriptor) -> Any:
        message = field.message_type
        if message is not None:
            if message.full_name == "google.protobuf.Timestamp":
                return self.timestamp(value)
            if message.full_name.startswith("google.protobuf."):
                return value  # Struct / Value: JSON as it is
            return self.message(value, message)
        if field.type == FieldDescriptor.TYPE_ENUM and self.draw(st.booleans()):
            return field.enum_type.values_by_name[value].number
        if field.type == FieldDescriptor.TYPE_INT32 and self.draw(st.booleans()):
            return str(value)
        if field.type == FieldDescriptor.TYPE_BYTES and self.draw(st.booleans()):
            raw = base64.b64decode(value)
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return value

    def timestamp(self, value: str) -> str:
        moment = t.parse_timestamp(value)
        minutes = self.draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
        zone = timezone(timedelta(minutes=minutes))
        try:
            local = moment.astimezone(zone)
        except OverflowError:
            local = moment
        digits = self.draw(
            st.sampled_from([0, 3, 6, 9] if moment.microsecond == 0 else [3, 6, 9])
        )
        text = local.strftime("%H:%M:%S")
        date = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        fraction = f"{local.microsecond:06d}000"[:digits]
        offset = local.strftime("%z")
        offset = "Z" if offset in ("", "+0000") else f"{offset[:3]}:{offset[3:]}"
        return f"{date}T{text}{'.' if digits else ''}{fraction}{offset}"


def _is_value(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.full_name == "google.protobuf.Value"


@pytest.mark.parametrize("cls", WIRE_TYPES, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data())
def test_lenient_spellings_decode_to_the_same_value(
    cls: type[msgspec.Struct], data: Any
) -> None:
    value = data.draw(strategy_for(cls))
    canonical = json.loads(t.encode(value))
    mangled = json.dumps(
        Mangler(data.draw).message(canonical, pb_class(cls).DESCRIPTOR)
    )
    assert t.decode(mangled, cls) == value
    assert t.convert(json.loads(mangled), cls) == value
    # protobuf reads the same spelling the same way (it needs to be told to ignore
    # unknown fields, which spec §5.7 asks of receivers).
    message = json_format.Parse(mangled, pb_class(cls)(), ignore_unknown_fields=True)
    assert t.decode(proto_to_json(message), cls) == value


# --- accepted spellings, one by one ------------------------------------------------------


def test_snake_case_names_at_every_depth() -> None:
    doc = {
        "id": "t-1",
        "context_id": "c-1",
        "status": {"state": "TASK_STATE_WORKING", "timestamp": "2025-01-01T00:00:00Z"},
        "history": [
            {
                "message_id": "m-1",
                "task_id": "t-1",
                "role": "ROLE_USER",
                "parts": [{"text": "hi", "media_type": "text/plain"}],
                "reference_task_ids": ["t-0"],
            }
        ],
    }
    task = _decode(doc, t.Task)
    assert task.context_id == "c-1"
    message = task.history[0]
    assert message.message_id == "m-1"
    assert message.reference_task_ids == ("t-0",)
    assert message.parts[0].media_type == "text/plain"


def test_snake_case_inside_maps_of_messages() -> None:
    doc = {
        "name": "a",
        "capabilities": {"push_notifications": True, "extended_agent_card": False},
        "security_schemes": {
            "oauth": {
                "oauth2_security_scheme": {
                    "flows": {
                        "authorization_code": {
                            "authorization_url": "https://a",
                            "token_url": "https://t",
                            "scopes": {"read_all": "snake_case map keys are data"},
                            "pkce_required": True,
                        }
                    }
                }
            }
        },
    }
    card = _decode(doc, t.AgentCard)
    assert card.capabilities.push_notifications is True
    assert card.capabilities.extended_agent_card is False
    scheme = card.security_schemes["oauth"].oauth2_security_scheme
    assert scheme is not None
    flow = scheme.flows.authorization_code
    assert flow is not None
    assert flow.pkce_required is True
    assert flow.scopes == {"read_all": "snake_case map keys are data"}


def test_struct_keys_are_not_renamed() -> None:
    task = _decode(_task_json(metadata={"context_id": 1, "taskId": 2}), t.Task)
    assert task.metadata == {"context_id": 1, "taskId": 2}


@pytest.mark.parametrize(
    ("number", "state"),
    [(1, "SUBMITTED"), (2, "WORKING"), (5, "CANCELED"), (8, "AUTH_REQUIRED")],
)
def test_enum_numbers(number: int, state: str) -> None:
    task = _decode({"id": "t", "status": {"state": number}}, t.Task)
    assert task.status.state is t.TaskState[state]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("5", 5), ("-3", -3), ("+7", 7), ("1e2", 100), ("5.0", 5), (5.0, 5), (1e2, 100)],
)
def test_int32_as_strings_and_exponents(given: Any, expected: int) -> None:
    request = _decode({"id": "t", "historyLength": given}, t.GetTaskRequest)
    assert request.history_length == expected


@pytest.mark.parametrize("raw", ["-_8", "-_8=", "+/8", "+/8="])
def test_base64_standard_or_url_safe_padded_or_not(raw: str) -> None:
    part = _decode({"raw": raw}, t.Part)
    assert part.raw == b"\xfb\xff"
    assert t.encode(part) == b'{"raw":"+/8="}'  # output: standard alphabet, padded


def test_null_means_not_set_for_non_value_fields() -> None:
    doc = _task_json(
        contextId=None,
        artifacts=None,
        history=[
            {
                "messageId": "m",
                "contextId": None,
                "role": "ROLE_USER",
                "parts": [{"text": "a", "url": None, "metadata": None}],
                "extensions": None,
            }
        ],
        metadata=None,
    )
    doc["status"]["message"] = None
    doc["status"]["timestamp"] = None
    task = _decode(doc, t.Task)
    assert task == t.Task(
        id="t-1",
        status=t.TaskStatus(state=WORKING),
        history=(t.Message(message_id="m", role=USER, parts=(t.Part(text="a"),)),),
    )


def test_null_for_maps_and_oneof_members() -> None:
    card = _decode(
        {"name": "a", "capabilities": {}, "securitySchemes": None}, t.AgentCard
    )
    assert card.security_schemes == {}
    event = _decode(
        {
            "task": None,
            "message": {"messageId": "m", "role": 2, "parts": [{"text": "x"}]},
        },
        t.StreamResponse,
    )
    assert isinstance(event.payload, t.Message)


def test_data_null_is_a_data_part() -> None:
    part = _decode({"data": None}, t.Part)
    assert part.kind == "data"
    assert part.data is None
    assert t.encode(part) == b'{"data":null}'
    assert _decode({"data": None, "mediaType": "application/json"}, t.Part).data is None


def test_unknown_fields_are_ignored_including_v03_kind() -> None:
    doc = _task_json(
        kind="task",
        history=[
            {
                "kind": "message",
                "messageId": "m",
                "role": "ROLE_USER",
                "parts": [{"kind": "text", "text": "hi"}],
                "someFutureField": {"nested": [1, 2]},
            }
        ],
    )
    task = _decode(doc, t.Task)
    assert task.history[0].parts == (t.Part(text="hi"),)
    assert b"kind" not in t.encode(task)


def test_list_tasks_response_is_lenient_too() -> None:
    doc = {"tasks": [], "next_page_token": "n", "page_size": "10", "total_size": 1e1}
    response = _decode(doc, t.ListTasksResponse)
    assert response == t.ListTasksResponse(
        next_page_token="n", page_size=10, total_size=10
    )


# --- refused, with the field path ------------------------------------------------------------


def _refused(doc: Any, cls: type[Any]) -> InvalidParamsError:
    with pytest.raises(InvalidParamsError) as info:
        _decode(doc, cls)
    with pytest.raises(InvalidParamsError):
        t.convert(doc, cls)
    return info.value


def _message(**overrides: Any) -> dict[str, Any]:
    return {
        "messageId": "m",
        "role": "ROLE_USER",
        "parts": [{"text": "x"}],
        **overrides,
    }


REFUSALS: list[tuple[str, type[Any], Any, str]] = [
    # (case, type, document, field path)
    ("string for string field", t.Task, {"id": 5, "status": {"state": 1}}, "id"),
    (
        "nested wrong type",
        t.Task,
        _task_json(history=[_message(parts=[{"text": 5}])]),
        "history[0].parts[0].text",
    ),
    ("object for array", t.Message, _message(parts={"text": "x"}), "parts"),
    ("array for Struct", t.Task, _task_json(metadata=[1]), "metadata"),
    (
        "string for bool",
        t.TaskArtifactUpdateEvent,
        {
            "taskId": "t",
            "artifact": {"artifactId": "a", "parts": [{"text": "x"}]},
            "append": "yes",
        },
        "append",
    ),
    (
        "bool for int32",
        t.GetTaskRequest,
        {"id": "t", "historyLength": True},
        "historyLength",
    ),
    (
        "fractional int32",
        t.GetTaskRequest,
        {"id": "t", "historyLength": 1.5},
        "historyLength",
    ),
    (
        "padded int32 string",
        t.GetTaskRequest,
        {"id": "t", "historyLength": " 5"},
        "historyLength",
    ),
    ("bad base64", t.Part, {"raw": "!!"}, "raw"),
    (
        "two Part members",
        t.Message,
        _message(parts=[{"text": "a", "url": "b"}]),
        "parts[0]",
    ),
    (
        "two members, data null",
        t.Message,
        _message(parts=[{"text": "a", "data": None}]),
        "parts[0]",
    ),
    (
        "zero Part members",
        t.Message,
        _message(parts=[{"mediaType": "text/plain"}]),
        "parts[0]",
    ),
    (
        "two payload members",
        t.StreamResponse,
        {"task": {"id": "t", "status": {"state": 1}}, "message": _message()},
        "StreamResponse",
    ),
    ("zero payload members", t.SendMessageResponse, {}, "SendMessageResponse"),
    # msgspec names a map entry `[...]`, not by its key.
    (
        "zero scheme members",
        t.AgentCard,
        {"name": "a", "capabilities": {}, "securitySchemes": {"x": {}}},
        "securitySchemes[...]",
    ),
    (
        "two flows",
        t.OAuth2SecurityScheme,
        {"flows": {"implicit": {}, "password": {}}},
        "flows",
    ),
    ("empty parts", t.Message, _message(parts=[]), "parts"),
    (
        "empty artifact parts",
        t.Task,
        _task_json(artifacts=[{"artifactId": "a", "parts": []}]),
        "artifacts[0].parts",
    ),
    ("empty messageId", t.Message, _message(messageId=""), "messageId"),
    ("missing REQUIRED field", t.Task, {"id": "t"}, "status"),
    (
        "missing nested REQUIRED",
        t.Task,
        _task_json(history=[{"messageId": "m", "parts": [{"text": "x"}]}]),
        "history[0].role",
    ),
    ("v0.3 lowercase role", t.Message, _message(role="user"), "role"),
    (
        "v0.3 CANCELLED spelling",
        t.Task,
        {"id": "t", "status": {"state": "TASK_STATE_CANCELLED"}},
        "status.state",
    ),
    (
        "unknown enum number",
        t.Task,
        {"id": "t", "status": {"state": 9}},
        "status.state",
    ),
    ("negative enum number", t.Message, _message(role=-1), "role"),
    (
        "int32 too large",
        t.GetTaskRequest,
        {"id": "t", "historyLength": 2**31},
        "historyLength",
    ),
    ("int32 too small", t.ListTasksRequest, {"pageSize": -(2**31) - 1}, "pageSize"),
    (
        "int32 string too large",
        t.ListTasksResponse,
        {"totalSize": "2147483648"},
        "totalSize",
    ),
    (
        "int32 exponent too large",
        t.ListTaskPushNotificationConfigsRequest,
        {"taskId": "t", "pageSize": "1e10"},
        "pageSize",
    ),
    (
        "timestamp without offset",
        t.Task,
        {"id": "t", "status": {"state": 1, "timestamp": "2025-01-01T00:00:00"}},
        "status.timestamp",
    ),
    (
        "timestamp with space",
        t.ListTasksRequest,
        {"statusTimestampAfter": "2025-01-01 00:00:00Z"},
        "statusTimestampAfter",
    ),
    (
        "timestamp month 13",
        t.ListTasksRequest,
        {"statusTimestampAfter": "2025-13-01T00:00:00Z"},
        "statusTimestampAfter",
    ),
    (
        "timestamp 10 digits",
        t.ListTasksRequest,
        {"statusTimestampAfter": "2025-01-01T00:00:00.1234567891Z"},
        "statusTimestampAfter",
    ),
    (
        "timestamp prose",
        t.ListTasksRequest,
        {"statusTimestampAfter": "yesterday"},
        "statusTimestampAfter",
    ),
    (
        "timestamp as number",
        t.ListTasksRequest,
        {"statusTimestampAfter": 1735689600},
        "statusTimestampAfter",
    ),
]


@pytest.mark.parametrize(
    ("cls", "doc", "path"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_refused_with_the_field_path(cls: type[Any], doc: Any, path: str) -> None:
    error = _refused(doc, cls)
    assert error.field_violations[0][0] == path
    assert error.message.startswith(f"Invalid {cls.__name__}")
    if path != cls.__name__:
        assert f"`{path}`" in error.message


def test_impossible_dates_are_refused() -> None:
    # Calendar checks happen after the syntax check, so the error names the TaskStatus.
    for text in ("2025-02-30T00:00:00Z", "0000-01-01T00:00:00.000Z"):
        error = _refused({"id": "t", "status": {"state": 1, "timestamp": text}}, t.Task)
        assert error.field_violations[0][0] == "status"
        assert "timestamp" in error.message


def test_malformed_timestamp_message_is_readable() -> None:
    doc = {"statusTimestampAfter": "yesterday"}
    error = _refused(doc, t.ListTasksRequest)
    assert "RFC 3339" in error.message
    assert "regex" not in error.message


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"not json", b'{"id": "t",}', b"{}x", b"\xff\xfe", b"NaN", b"[1, 2"],
)
def test_non_json_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        t.decode(data, t.Task)
    with pytest.raises(ParseError):
        t.decode_json(data)


@pytest.mark.parametrize("doc", [[], "task", 5, None, True])
def test_non_object_is_invalid_params(doc: Any) -> None:
    with pytest.raises(InvalidParamsError):
        _decode(doc, t.Task)
