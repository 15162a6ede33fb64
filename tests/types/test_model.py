"""The wire model's own rules: immutability, validity on construction, presence on
output, the oneof accessors (no protobuf here: the generated round trips and the
differential tests live in tests/conformance)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from accord import types as t
from tests.conformance.strategies import WIRE_TYPES

TEXT = t.Part(text="hi")
MESSAGE = t.Message(message_id="m", role=t.Role.USER, parts=(TEXT,))
STATUS = t.TaskStatus(state=t.TaskState.WORKING)
TASK = t.Task(id="t", context_id="c", status=STATUS)


@pytest.mark.parametrize("cls", WIRE_TYPES, ids=lambda cls: cls.__name__)
def test_every_type_is_frozen(cls: type[msgspec.Struct]) -> None:
    assert cls.__struct_config__.frozen
    assert cls.__struct_config__.forbid_unknown_fields


def test_values_are_immutable_and_replace_revalidates() -> None:
    with pytest.raises(AttributeError):
        TASK.id = "other"  # type: ignore[misc]
    moved = t.replace(TASK, status=t.TaskStatus(state=t.TaskState.COMPLETED))
    assert moved.status.state is t.TaskState.COMPLETED
    assert TASK.status.state is t.TaskState.WORKING
    with pytest.raises(ValueError, match="at least one part"):
        t.replace(MESSAGE, parts=())


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"text": ""}, "text"),
        ({"raw": b""}, "raw"),
        ({"url": "https://x"}, "url"),
        ({"data": None}, "data"),
        ({"data": {"k": [1]}}, "data"),
        ({"data": 0}, "data"),
    ],
)
def test_part_kind(kwargs: dict[str, Any], kind: str) -> None:
    assert t.Part(**kwargs).kind == kind


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"text": "a", "url": "b"}, {"raw": b"", "data": None}, {"media_type": "x"}],
)
def test_part_needs_exactly_one_member(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        t.Part(**kwargs)


def test_part_data_unset_is_not_null() -> None:
    assert t.encode(t.Part(text="a")) == b'{"text":"a"}'
    assert t.encode(t.Part(data=None)) == b'{"data":null}'
    assert t.Part(text="a").data is t.UNSET


def test_message_and_artifact_requirements() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        t.Message(message_id="m", role=t.Role.USER, parts=())
    with pytest.raises(ValueError, match="messageId"):
        t.Message(message_id="", role=t.Role.USER, parts=(TEXT,))
    with pytest.raises(ValueError, match="at least one part"):
        t.Artifact(artifact_id="a", parts=())
    with pytest.raises(ValueError, match="artifactId"):
        t.Artifact(artifact_id="", parts=(TEXT,))


def test_message_text_joins_text_parts() -> None:
    message = t.Message(
        message_id="m",
        role=t.Role.AGENT,
        parts=(t.Part(text="a"), t.Part(data={"x": 1}), t.Part(text="b")),
    )
    assert message.text == "ab"
    # One part (the common case, taken without a join): text, or "" for another kind.
    alone = t.Message(message_id="m", role=t.Role.AGENT, parts=(t.Part(text="a"),))
    assert alone.text == "a"
    data = t.Message(message_id="m", role=t.Role.AGENT, parts=(t.Part(data=1),))
    assert data.text == ""


@pytest.mark.parametrize(
    ("kwargs", "payload"),
    [
        ({"task": TASK}, TASK),
        ({"message": MESSAGE}, MESSAGE),
        (
            {"status_update": t.TaskStatusUpdateEvent(task_id="t", status=STATUS)},
            t.TaskStatusUpdateEvent(task_id="t", status=STATUS),
        ),
        (
            {
                "artifact_update": t.TaskArtifactUpdateEvent(
                    task_id="t", artifact=t.Artifact(artifact_id="a", parts=(TEXT,))
                )
            },
            t.TaskArtifactUpdateEvent(
                task_id="t", artifact=t.Artifact(artifact_id="a", parts=(TEXT,))
            ),
        ),
    ],
)
def test_stream_response_payload(kwargs: dict[str, Any], payload: Any) -> None:
    assert t.StreamResponse(**kwargs).payload == payload


@pytest.mark.parametrize(
    "cls", [t.StreamResponse, t.SendMessageResponse, t.SecurityScheme, t.OAuthFlows]
)
def test_oneof_wrappers_refuse_zero_members(cls: type[Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        cls()


PART_MEMBERS = {"text": "a", "raw": b"", "url": "https://x", "data": None}
STREAM_MEMBERS = {
    "task": TASK,
    "message": MESSAGE,
    "status_update": t.TaskStatusUpdateEvent(task_id="t", status=STATUS),
    "artifact_update": t.TaskArtifactUpdateEvent(
        task_id="t", artifact=t.Artifact(artifact_id="a", parts=(TEXT,))
    ),
}


def _subsets(members: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(members)
    return [
        {name: members[name] for i, name in enumerate(names) if mask >> i & 1}
        for mask in range(1 << len(names))
    ]


@pytest.mark.parametrize(
    ("cls", "members"), [(t.Part, PART_MEMBERS), (t.StreamResponse, STREAM_MEMBERS)]
)
def test_a_oneof_takes_exactly_one_of_every_combination(
    cls: type[Any], members: dict[str, Any]
) -> None:
    # Each of the 16 combinations of set members (their checks are branches).
    for kwargs in _subsets(members):
        if len(kwargs) == 1:
            cls(**kwargs)
        else:
            with pytest.raises(ValueError, match="exactly one"):
                cls(**kwargs)


def test_send_message_response_refuses_two_members() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        t.SendMessageResponse(task=TASK, message=MESSAGE)


# --- ProtoJSON presence on output (spec §5.7) --------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        # implicit presence: defaults vanish
        (TASK, b'{"id":"t","contextId":"c","status":{"state":"TASK_STATE_WORKING"}}'),
        (
            t.TaskArtifactUpdateEvent(
                task_id="t",
                artifact=t.Artifact(artifact_id="a", parts=(TEXT,)),
                append=False,
            ),
            b'{"taskId":"t","artifact":{"artifactId":"a","parts":[{"text":"hi"}]}}',
        ),
        (t.ListTasksRequest(status=t.TaskState.UNSPECIFIED), b"{}"),
        (t.AgentExtension(uri="u", required=False), b'{"uri":"u"}'),
        # explicit presence: set values are emitted even when they equal the default
        (t.SendMessageConfiguration(history_length=0), b'{"historyLength":0}'),
        (
            t.SendMessageConfiguration(return_immediately=True),
            b'{"returnImmediately":true}',
        ),
        (t.AgentCapabilities(streaming=False), b'{"streaming":false}'),
        (
            t.ListTasksRequest(include_artifacts=False, page_size=0),
            b'{"pageSize":0,"includeArtifacts":false}',
        ),
        (t.GetTaskRequest(id="t", history_length=0), b'{"id":"t","historyLength":0}'),
        (t.Part(text=""), b'{"text":""}'),
        (t.Part(text="a", metadata={}), b'{"text":"a","metadata":{}}'),
        (t.StringList(), b"{}"),
        (
            t.SecurityScheme(mtls_security_scheme=t.MutualTlsSecurityScheme()),
            b'{"mtlsSecurityScheme":{}}',
        ),
        # REQUIRED fields of ListTasksResponse are always emitted (spec §3.1.4)
        (
            t.ListTasksResponse(),
            b'{"tasks":[],"nextPageToken":"","pageSize":0,"totalSize":0}',
        ),
        (t.Empty(), b"{}"),
    ],
)
def test_presence_on_output(value: msgspec.Struct, encoded: bytes) -> None:
    assert t.encode(value) == encoded
    assert t.decode(encoded, type(value)) == value


def test_enums_are_strings_named_as_in_the_proto() -> None:
    assert str(t.TaskState.CANCELED) == "TASK_STATE_CANCELED"
    assert t.Role.AGENT.value == "ROLE_AGENT"
    assert t.encode(t.TaskState.INPUT_REQUIRED) == b'"TASK_STATE_INPUT_REQUIRED"'


def test_bytes_are_standard_padded_base64() -> None:
    assert t.encode(t.Part(raw=b"\xfb\xff")) == b'{"raw":"+/8="}'
