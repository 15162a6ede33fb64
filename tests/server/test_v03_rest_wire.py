"""The v0.3 HTTP+JSON surface on the wire: ``/v1/...`` routes speak v0.3 when the
request does (no ``A2A-Version``, or 0.3), v1.0 when it says 1.0 (``v1`` is then a
tenant), and the tasks are the engine's (bindings/v03_rest.py, server/pipelines.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from .conftest import V1

pytestmark = pytest.mark.usefixtures("server_url")


def message(text: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "content": [{"text": text}],
    }


BLOCKING = {"configuration": {"blocking": True}}


@pytest.mark.parametrize("headers", [{}, {"A2A-Version": "0.3"}])
def test_send_over_v03_rest_then_read_over_v1(
    server_url: str, http: httpx.Client, headers: dict[str, str]
) -> None:
    sent = http.post(
        server_url + "/v1/message:send",
        json={"message": message("echo over rest"), **BLOCKING},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    task = sent.json()["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": "over rest"}]
    assert task["history"][0]["content"] == [{"text": "echo over rest"}]
    got = http.get(f"{server_url}/v1/tasks/{task['id']}", params={"historyLength": 0})
    assert got.json()["id"] == task["id"]
    assert "history" not in got.json()
    v1 = http.get(f"{server_url}/tasks/{task['id']}", headers=V1).json()
    assert v1["status"]["state"] == "TASK_STATE_COMPLETED"
    assert v1["artifacts"][0]["parts"] == [{"text": "over rest"}]


def test_v1_routes_with_version_1_0_are_v1_with_tenant_v1(
    server_url: str, http: httpx.Client
) -> None:
    body = {"message": {**message("echo t"), "parts": [{"text": "echo t"}]}}
    del body["message"]["content"]
    sent = http.post(server_url + "/v1/message:send", json=body, headers=V1)
    assert sent.status_code == 200, sent.text
    task = sent.json()["task"]
    # tenant "v1" (spec §10): the task is in that tenant, not in the default one
    assert (
        http.get(f"{server_url}/v1/tasks/{task['id']}", headers=V1).status_code == 200
    )
    assert http.get(f"{server_url}/tasks/{task['id']}", headers=V1).status_code == 404


def test_an_unsupported_version_on_v1_routes_is_refused(
    server_url: str, http: httpx.Client
) -> None:
    answer = http.post(
        server_url + "/v1/message:send",
        json={"message": message("x")},
        headers={"A2A-Version": "2.0"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"


def test_errors_name_their_type_for_v03_clients(
    server_url: str, http: httpx.Client
) -> None:
    missing = http.get(server_url + "/v1/tasks/no-such-task")
    assert missing.status_code == 404
    assert missing.json()["type"] == "TaskNotFoundError"
    assert missing.json()["error"]["details"][0]["reason"] == "TASK_NOT_FOUND"
    unknown = http.get(server_url + "/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "MethodNotFoundError"
    not_json = http.post(
        server_url + "/v1/message:send",
        content=b"x",
        headers={"Content-Type": "text/plain"},
    )
    assert not_json.status_code == 415


def test_stream_and_resubscribe_in_v03_proto_json(
    server_url: str, http: httpx.Client
) -> None:
    with http.stream(
        "POST", server_url + "/v1/message:stream", json={"message": message("echo s")}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line.removeprefix("data: "))
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
    assert next(iter(events[0])) == "task"
    last = events[-1]["statusUpdate"]
    assert last["status"]["state"] == "TASK_STATE_COMPLETED"
    assert last["final"] is True
    artifact = next(e["artifactUpdate"] for e in events if "artifactUpdate" in e)
    assert artifact["artifact"]["parts"] == [{"text": "s"}]


def test_push_config_routes_answer_as_the_card_says(
    server_url: str, http: httpx.Client
) -> None:
    answer = http.get(server_url + "/v1/tasks/t-1/pushNotificationConfigs")
    assert answer.status_code == 400
    assert answer.json()["type"] == "PushNotificationNotSupportedError"
