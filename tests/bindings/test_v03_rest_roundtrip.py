"""v0.3 over HTTP+JSON, both ends sans-IO: what Accord's client builds, Accord's server
reads as the same v1.0 request, and what the server answers, the client reads back as
the same value (bindings/v03_rest.py, bindings/v03_proto.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord import types as t
from accord.bindings import v03_rest
from accord.errors import (
    HTTPStatusError,
    InvalidAgentResponseError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.protocol import op

AUTH = t.AuthenticationInfo(scheme="Bearer", credentials="secret")
PUSH = t.TaskPushNotificationConfig(
    id="c-1",
    task_id="t-1",
    url="https://hooks.test/a2a",
    token="tok",
    authentication=AUTH,
)
MESSAGE = t.Message(
    message_id="m-1",
    context_id="c-1",
    task_id="t-1",
    role=t.Role.USER,
    parts=(
        t.Part(text="hi", metadata={"k": "v"}),
        t.Part(
            url="https://x.test/a.pdf", media_type="application/pdf", filename="a.pdf"
        ),
        t.Part(raw=b"\x00\x01", media_type="image/png", filename="p.png"),
        t.Part(data={"k": [1, 2]}),
    ),
    metadata={"m": 1},
    extensions=("urn:x",),
)
TASK = t.Task(
    id="t-1",
    context_id="c-1",
    status=t.TaskStatus(
        state=t.TaskState.INPUT_REQUIRED,
        message=t.Message(
            message_id="s", context_id="c-1", task_id="t-1", role=t.Role.AGENT,
            parts=(t.Part(text="which day?"),),
        ),
        timestamp="2026-12-05T10:00:00.000Z",
    ),
    artifacts=(
        t.Artifact(
            artifact_id="a", name="n", description="d",
            parts=(t.Part(text="x"),), metadata={"z": True}, extensions=("urn:y",),
        ),
    ),
    history=(MESSAGE,),
    metadata={"task": "meta"},
)  # fmt: skip

REQUESTS: list[tuple[str, Any]] = [
    (
        "SendMessage",
        t.SendMessageRequest(
            message=MESSAGE,
            configuration=t.SendMessageConfiguration(
                accepted_output_modes=("text/plain",),
                history_length=3,
                task_push_notification_config=t.replace(PUSH, task_id=""),
            ),
            metadata={"r": 1},
        ),
    ),
    ("SendStreamingMessage", t.SendMessageRequest(message=MESSAGE)),
    ("GetTask", t.GetTaskRequest(id="t-1", history_length=2)),
    ("GetTask", t.GetTaskRequest(id="a/b")),
    ("CancelTask", t.CancelTaskRequest(id="t-1")),
    ("SubscribeToTask", t.SubscribeToTaskRequest(id="t-1")),
    ("CreateTaskPushNotificationConfig", PUSH),
    ("GetTaskPushNotificationConfig", t.GetTaskPushNotificationConfigRequest(task_id="t-1", id="c-1")),
    ("DeleteTaskPushNotificationConfig", t.DeleteTaskPushNotificationConfigRequest(task_id="t-1", id="c-1")),
    ("ListTaskPushNotificationConfigs", t.ListTaskPushNotificationConfigsRequest(task_id="t-1")),
    ("GetExtendedAgentCard", t.GetExtendedAgentCardRequest()),
]  # fmt: skip


@pytest.mark.parametrize(("name", "request_value"), REQUESTS)
def test_what_the_client_sends_the_server_reads(name: str, request_value: Any) -> None:
    verb, path, query, body = v03_rest.build_request(op(name), request_value)
    encoded = "&".join(f"{k}={v}" for k, v in query)
    if "a%2Fb" in path:  # v0.3 names tasks tasks/{id}: one segment
        with pytest.raises(Exception, match="tasks/"):
            v03_rest.parse_request(verb, path, encoded, body or b"")
        return
    call = v03_rest.parse_request(verb, path, encoded, body or b"")
    assert call.operation.name == name
    assert call.params == request_value


RESULTS: list[tuple[str, Any]] = [
    ("SendMessage", t.SendMessageResponse(task=TASK)),
    ("SendMessage", t.SendMessageResponse(message=MESSAGE)),
    ("GetTask", TASK),
    ("CancelTask", t.replace(TASK, status=t.TaskStatus(state=t.TaskState.CANCELED))),
    ("CreateTaskPushNotificationConfig", PUSH),
    ("GetTaskPushNotificationConfig", PUSH),
    ("ListTaskPushNotificationConfigs", t.ListTaskPushNotificationConfigsResponse(configs=(PUSH,))),
    ("DeleteTaskPushNotificationConfig", t.Empty()),
]  # fmt: skip


@pytest.mark.parametrize(("name", "result"), RESULTS)
def test_what_the_server_answers_the_client_reads(name: str, result: Any) -> None:
    request = dict(REQUESTS)[name] if name != "GetTask" else REQUESTS[2][1]
    verb, path, _query, body = v03_rest.build_request(op(name), request)
    call = v03_rest.parse_request(verb, path, "", body or b"")
    answered = v03_rest.encode_result(call, result)
    assert v03_rest.parse_response(200, answered, op(name)) == result


@pytest.mark.parametrize(
    "event",
    [
        t.StreamResponse(task=TASK),
        t.StreamResponse(message=MESSAGE),
        t.StreamResponse(
            status_update=t.TaskStatusUpdateEvent(
                task_id="t-1", context_id="c-1", status=t.TaskStatus(state=t.TaskState.WORKING),
                metadata={"s": 1},
            )
        ),
        t.StreamResponse(
            artifact_update=t.TaskArtifactUpdateEvent(
                task_id="t-1", context_id="c-1", artifact=TASK.artifacts[0],
                append=True, last_chunk=True, metadata={"a": 1},
            )
        ),
    ],
)  # fmt: skip
def test_stream_events_both_ways(event: t.StreamResponse) -> None:
    verb, path, _, body = v03_rest.build_request(
        op("SendStreamingMessage"), t.SendMessageRequest(message=MESSAGE)
    )
    call = v03_rest.parse_request(verb, path, "", body or b"")
    assert (
        v03_rest.parse_stream_event(v03_rest.encode_stream_event(call, event)) == event
    )


def test_the_extended_card_both_ways() -> None:
    card = t.AgentCard(
        name="A",
        description="d",
        version="1",
        supported_interfaces=(
            t.AgentInterface(url="https://a.test", protocol_binding="HTTP+JSON", protocol_version="1.0"),
        ),
        capabilities=t.AgentCapabilities(streaming=True, extended_agent_card=True),
        default_input_modes=("text/plain",),
        default_output_modes=("text/plain",),
        skills=(t.AgentSkill(id="s", name="S", description="d", tags=("x",)),),
    )  # fmt: skip
    call = v03_rest.parse_request("GET", "/v1/card", "", b"")
    answered = v03_rest.encode_result(call, card, card_url="https://a.test")
    back = v03_rest.parse_response(200, answered, op("GetExtendedAgentCard"))
    assert (back.name, back.skills, back.capabilities.streaming) == (
        "A",
        card.skills,
        True,
    )
    assert back.supported_interfaces[0].url == "https://a.test"
    assert back.supported_interfaces[0].protocol_version == "0.3"


def test_list_tasks_has_no_v03_route() -> None:
    with pytest.raises(UnsupportedOperationError, match=r"A2A 0\.3"):
        v03_rest.build_request(op("ListTasks"), t.ListTasksRequest())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, v03_rest.encode_error(TaskNotFoundError("gone"))[1], TaskNotFoundError),
        (404, json.dumps({"type": "TaskNotFoundError", "message": "gone"}).encode(), TaskNotFoundError),
        (404, b'{"type": "Nope", "message": "?"}', HTTPStatusError),
        (502, b"<html>bad gateway</html>", HTTPStatusError),
    ],
)  # fmt: skip
def test_errors_from_v03_servers(
    status: int, body: bytes, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        v03_rest.parse_response(status, body, op("GetTask"))


def test_bad_answers_and_events() -> None:
    with pytest.raises(InvalidAgentResponseError):
        v03_rest.parse_response(200, b"{not json", op("GetTask"))
    with pytest.raises(InvalidAgentResponseError):
        v03_rest.parse_response(200, b'{"status": 5}', op("GetTask"))
    with pytest.raises(InvalidAgentResponseError):
        v03_rest.parse_stream_event(b"{not json")
    with pytest.raises(InvalidAgentResponseError):
        v03_rest.parse_stream_event(b'{"task": {"status": 5}}')
    with pytest.raises(TaskNotFoundError):
        v03_rest.parse_stream_event(v03_rest.encode_error(TaskNotFoundError("gone"))[1])
    assert (
        v03_rest.parse_response(200, b"", op("DeleteTaskPushNotificationConfig"))
        == t.Empty()
    )
