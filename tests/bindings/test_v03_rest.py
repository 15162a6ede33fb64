"""A2A v0.3 over HTTP+JSON (sans-IO): routes, v0.3 proto bodies both ways, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord import types as t
from accord.bindings import v03_proto, v03_rest
from accord.errors import (
    InvalidParamsError,
    MethodNotFoundError,
    ParseError,
    TaskNotFoundError,
)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


MESSAGE = {
    "messageId": "m-1",
    "contextId": "c-1",
    "role": "ROLE_USER",
    "content": [
        {"text": "hi", "metadata": {"k_1": 1}},
        {"file": {"fileWithUri": "https://x.test/a.pdf", "mimeType": "application/pdf", "name": "a.pdf"}},
        {"file": {"fileWithBytes": "AAE=", "mimeType": "image/png"}},
        {"data": {"data": {"snake_key": [1, 2]}}},
    ],
}  # fmt: skip


def test_send_message_body_becomes_the_v1_request() -> None:
    call = v03_rest.parse_request(
        "POST",
        "/v1/message:send",
        "",
        _body(
            {
                "message": MESSAGE,
                "configuration": {"blocking": True, "historyLength": 2},
            }
        ),
    )
    assert (call.method, call.operation.name) == ("message/send", "SendMessage")
    request = call.params
    assert isinstance(request, t.SendMessageRequest)
    message = request.message
    assert (message.message_id, message.context_id, message.role) == (
        "m-1",
        "c-1",
        t.Role.USER,
    )
    text, url, raw, data = message.parts
    assert (text.text, text.metadata) == ("hi", {"k_1": 1})
    assert (url.url, url.media_type, url.filename) == (
        "https://x.test/a.pdf",
        "application/pdf",
        "a.pdf",
    )
    assert (raw.raw, raw.media_type) == (b"\x00\x01", "image/png")
    assert data.data == {"snake_key": [1, 2]}  # a Struct keeps its keys
    assert request.configuration is not None
    assert request.configuration.return_immediately is False
    assert request.configuration.history_length == 2


def test_proto_field_names_are_read_too() -> None:
    """The reference SDK's v0.3 REST client sends proto names (``request``, ``message_id``)."""
    snake = {
        "request": {
            "message_id": "m-2",
            "role": "ROLE_USER",
            "content": [{"text": "x"}],
        },
        "configuration": {"accepted_output_modes": ["text/plain"]},
    }
    request = v03_rest.parse_request(
        "POST", "/v1/message:stream", "", _body(snake)
    ).params
    assert request.message.message_id == "m-2"
    assert request.configuration.accepted_output_modes == ("text/plain",)
    # v0.3 left blocking optional: unset is not blocking (bindings/v03.py)
    assert request.configuration.return_immediately is True


@pytest.mark.parametrize(
    ("verb", "path", "query", "method", "expected"),
    [
        ("GET", "/v1/tasks/t-1", "historyLength=3", "tasks/get", t.GetTaskRequest(id="t-1", history_length=3)),
        ("POST", "/v1/tasks/t-1:cancel", "", "tasks/cancel", t.CancelTaskRequest(id="t-1")),
        ("POST", "/v1/tasks/t-1:subscribe", "", "tasks/resubscribe", t.SubscribeToTaskRequest(id="t-1")),
        ("GET", "/v1/tasks/t-1/pushNotificationConfigs", "", "tasks/pushNotificationConfig/list", t.ListTaskPushNotificationConfigsRequest(task_id="t-1")),
        ("GET", "/v1/tasks/t-1/pushNotificationConfigs/c-1", "", "tasks/pushNotificationConfig/get", t.GetTaskPushNotificationConfigRequest(task_id="t-1", id="c-1")),
        ("DELETE", "/v1/tasks/t-1/pushNotificationConfigs/c-1", "", "tasks/pushNotificationConfig/delete", t.DeleteTaskPushNotificationConfigRequest(task_id="t-1", id="c-1")),
        ("GET", "/v1/card", "", "agent/getAuthenticatedExtendedCard", t.GetExtendedAgentCardRequest()),
    ],
)  # fmt: skip
def test_routes(
    verb: str, path: str, query: str, method: str, expected: object
) -> None:
    call = v03_rest.parse_request(verb, path, query, b"")
    assert call.method == method
    assert call.params == expected


def test_an_encoded_slash_is_not_a_task_id() -> None:
    with pytest.raises(InvalidParamsError, match="tasks/"):
        v03_rest.parse_request("GET", "/v1/tasks/t%2F1:subscribe", "", b"")


def test_push_config_set() -> None:
    body = {
        "pushNotificationConfig": {
            "id": "c-1",
            "url": "https://hooks.test/a2a",
            "token": "tok",
            "authentication": {"schemes": ["Bearer"], "credentials": "secret"},
        }
    }
    call = v03_rest.parse_request(
        "POST", "/v1/tasks/t-1/pushNotificationConfigs", "", _body(body)
    )
    assert call.params == t.TaskPushNotificationConfig(
        id="c-1",
        task_id="t-1",
        url="https://hooks.test/a2a",
        token="tok",
        authentication=t.AuthenticationInfo(scheme="Bearer", credentials="secret"),
    )
    out = json.loads(v03_rest.encode_result(call, call.params))
    assert out == {
        "name": "tasks/t-1/pushNotificationConfigs/c-1",
        "pushNotificationConfig": body["pushNotificationConfig"],
    }


@pytest.mark.parametrize(
    ("verb", "path"),
    [
        ("PUT", "/v1/message:send"),
        ("GET", "/v1/message:send"),
        ("GET", "/v1/tasks"),
        ("DELETE", "/v1/tasks/t-1"),
        ("GET", "/v1/tasks/t-1/pushNotificationConfigs/c/x"),
        ("GET", "/v1/tasks/t-1/other"),
        ("GET", "/v1/nothing"),
    ],
)
def test_unknown_routes(verb: str, path: str) -> None:
    with pytest.raises(MethodNotFoundError):
        v03_rest.parse_request(verb, path, "", b"")


def test_bad_bodies_and_queries() -> None:
    with pytest.raises(ParseError):
        v03_rest.parse_request("POST", "/v1/message:send", "", b"{not json")
    with pytest.raises(InvalidParamsError, match="JSON object"):
        v03_rest.parse_request("POST", "/v1/message:send", "", b"[1]")
    with pytest.raises(InvalidParamsError, match="message"):
        v03_rest.parse_request("POST", "/v1/message:send", "", b"{}")
    with pytest.raises(InvalidParamsError, match="historyLength"):
        v03_rest.parse_request("GET", "/v1/tasks/t-1", "historyLength=x", b"")


def _task() -> t.Task:
    return t.Task(
        id="t-1",
        context_id="c-1",
        status=t.TaskStatus(
            state=t.TaskState.CANCELED,
            message=t.Message(message_id="s", role=t.Role.AGENT, parts=(t.Part(text="bye"),)),
            timestamp="2026-12-05T10:00:00.000Z",
        ),
        artifacts=(
            t.Artifact(artifact_id="a", parts=(t.Part(data={"k": 1}), t.Part(url="https://x.test/f", media_type="text/plain"))),
        ),
        history=(t.Message(message_id="m", role=t.Role.USER, parts=(t.Part(text="hi"),)),),
    )  # fmt: skip


def test_a_task_in_v03_proto_json() -> None:
    call = v03_rest.parse_request("GET", "/v1/tasks/t-1", "", b"")
    out = json.loads(v03_rest.encode_result(call, _task()))
    assert out["status"] == {
        "state": "TASK_STATE_CANCELLED",
        "message": {
            "messageId": "s",
            "role": "ROLE_AGENT",
            "content": [{"text": "bye"}],
        },
        "timestamp": "2026-12-05T10:00:00.000Z",
    }
    assert out["artifacts"][0]["parts"] == [
        {"data": {"data": {"k": 1}}},
        {"file": {"fileWithUri": "https://x.test/f", "mimeType": "text/plain"}},
    ]
    assert out["history"] == [
        {"messageId": "m", "role": "ROLE_USER", "content": [{"text": "hi"}]}
    ]
    assert "kind" not in json.dumps(out)


def test_send_results_are_wrapped() -> None:
    call = v03_rest.parse_request(
        "POST", "/v1/message:send", "", _body({"message": MESSAGE})
    )
    as_task = json.loads(
        v03_rest.encode_result(call, t.SendMessageResponse(task=_task()))
    )
    assert set(as_task) == {"task"}
    reply = t.Message(message_id="r", role=t.Role.AGENT, parts=(t.Part(text="ok"),))
    as_message = json.loads(
        v03_rest.encode_result(call, t.SendMessageResponse(message=reply))
    )
    assert as_message == {
        "message": {"messageId": "r", "role": "ROLE_AGENT", "content": [{"text": "ok"}]}
    }


@pytest.mark.parametrize(
    ("path", "state", "final"),
    [
        ("/v1/message:stream", t.TaskState.INPUT_REQUIRED, True),
        ("/v1/tasks/t-1:subscribe", t.TaskState.INPUT_REQUIRED, False),
        ("/v1/tasks/t-1:subscribe", t.TaskState.COMPLETED, True),
        ("/v1/message:stream", t.TaskState.WORKING, False),
    ],
)
def test_status_events_say_final(path: str, state: t.TaskState, final: bool) -> None:
    body = _body({"message": MESSAGE}) if "message" in path else b""
    call = v03_rest.parse_request("POST", path, "", body)
    event = t.StreamResponse(
        status_update=t.TaskStatusUpdateEvent(
            task_id="t-1", context_id="c-1", status=t.TaskStatus(state=state)
        )
    )
    out = json.loads(v03_rest.encode_stream_event(call, event))
    assert out["statusUpdate"]["final"] is final
    assert out["statusUpdate"]["status"]["state"] == v03_proto.STATES[
        {"TASK_STATE_INPUT_REQUIRED": "input-required", "TASK_STATE_COMPLETED": "completed", "TASK_STATE_WORKING": "working"}[state.value]
    ]  # fmt: skip


def test_errors_carry_the_v03_type_and_message() -> None:
    status, body = v03_rest.encode_error(TaskNotFoundError("Task t-9 not found"))
    out = json.loads(body)
    assert status == 404
    assert (out["type"], out["message"]) == ("TaskNotFoundError", "Task t-9 not found")
    assert out["error"]["details"][0]["reason"] == "TASK_NOT_FOUND"


def test_card_out_names_the_interfaces_as_v03_did() -> None:
    card = {
        "name": "A",
        "description": "d",
        "supportedInterfaces": [
            {"url": "https://a.test/", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": "https://a.test", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
        ],
        "version": "1",
        "capabilities": {"streaming": True, "extendedAgentCard": True},
        "securityRequirements": [{"schemes": {"key": {"list": []}}}],
        "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"], "securityRequirements": []}],
    }  # fmt: skip
    out = v03_proto.card_out(card, "https://a.test", "HTTP+JSON")
    assert out["protocolVersion"] == "0.3.0"
    assert (out["url"], out["preferredTransport"]) == ("https://a.test", "HTTP+JSON")
    assert out["additionalInterfaces"][0] == {
        "url": "https://a.test/",
        "transport": "JSONRPC",
    }
    assert out["security"] == card["securityRequirements"]
    assert out["supportsAuthenticatedExtendedCard"] is True
    assert out["capabilities"] == {"streaming": True}
    assert out["skills"][0]["security"] == []
