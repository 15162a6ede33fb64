"""v0.3 JSON shapes <-> v1.0 ProtoJSON (bindings/v03.py), and the JSON-RPC parse of a
v0.3 request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord import types as t
from accord.bindings import jsonrpc, v03, v03_card
from accord.errors import (
    InvalidParamsError,
    InvalidRequestError,
    MethodNotFoundError,
    VersionNotSupportedError,
)

MESSAGE_V03 = {
    "kind": "message",
    "messageId": "m-1",
    "role": "user",
    "contextId": "c-1",
    "referenceTaskIds": ["t-0"],
    "metadata": {"k": "v"},
    "parts": [
        {"kind": "text", "text": "hi", "metadata": {"p": 1}},
        {
            "kind": "file",
            "file": {"bytes": "aGk=", "mimeType": "text/plain", "name": "a.txt"},
        },
        {"kind": "file", "file": {"uri": "https://x.test/f", "mimeType": "image/png"}},
        {"kind": "data", "data": {"a": [1, 2]}},
    ],
}


def body(method: str, params: Any) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": "r", "method": method, "params": params}
    ).encode()


def test_every_v03_method_maps_onto_a_v1_operation() -> None:
    from accord.protocol.operations import BY_METHOD

    assert set(v03.METHODS.values()) <= set(BY_METHOD)
    assert "ListTasks" not in v03.METHODS.values()  # no v0.3 method


def test_message_send_params() -> None:
    params = {
        "message": MESSAGE_V03,
        "configuration": {
            "acceptedOutputModes": ["text/plain"],
            "historyLength": 2,
            "blocking": False,
        },
        "metadata": {"m": True},
    }
    call = jsonrpc.parse_request(body("message/send", params), version="0.3")
    assert call.operation.name == "SendMessage"
    assert call.v03_method == "message/send"
    req = call.params
    assert isinstance(req, t.SendMessageRequest)
    msg = req.message
    assert (msg.message_id, msg.role, msg.context_id) == ("m-1", t.Role.USER, "c-1")
    assert msg.reference_task_ids == ("t-0",)
    text, raw, url, data = msg.parts
    assert (text.text, text.metadata) == ("hi", {"p": 1})
    assert (raw.raw, raw.media_type, raw.filename) == (b"hi", "text/plain", "a.txt")
    assert (url.url, url.media_type) == ("https://x.test/f", "image/png")
    assert data.data == {"a": [1, 2]}
    assert req.configuration is not None
    assert req.configuration.return_immediately is True
    assert req.configuration.history_length == 2
    assert req.metadata == {"m": True}


@pytest.mark.parametrize(
    ("config", "immediately"),
    [
        ({"blocking": True}, False),
        ({}, True),
        (None, True),
        ({"blocking": False}, True),
    ],
)
def test_only_blocking_true_blocks(
    config: dict[str, Any] | None, immediately: bool
) -> None:
    params: dict[str, Any] = {"message": MESSAGE_V03}
    if config is not None:
        params["configuration"] = config
    req = jsonrpc.parse_request(body("message/send", params), version="0.3").params
    assert req.configuration is not None
    assert req.configuration.return_immediately is immediately
    # A stream has no use for it.
    streamed = jsonrpc.parse_request(
        body("message/stream", {"message": MESSAGE_V03}), version="0.3"
    ).params
    assert streamed.configuration is None


def test_task_and_push_config_params() -> None:
    get = jsonrpc.parse_request(
        body("tasks/get", {"id": "t", "historyLength": 1}), version="0.3"
    )
    assert (get.params.id, get.params.history_length) == ("t", 1)
    sub = jsonrpc.parse_request(body("tasks/resubscribe", {"id": "t"}), version="0.3")
    assert sub.operation.name == "SubscribeToTask"
    push = {
        "taskId": "t",
        "pushNotificationConfig": {
            "id": "c",
            "url": "https://hook.test/",
            "token": "tok",
            "authentication": {"schemes": ["Bearer", "Basic"], "credentials": "x"},
        },
    }
    made = jsonrpc.parse_request(
        body("tasks/pushNotificationConfig/set", push), version="0.3"
    ).params
    assert (made.task_id, made.id, made.url, made.token) == (
        "t",
        "c",
        "https://hook.test/",
        "tok",
    )
    assert made.authentication is not None
    assert (made.authentication.scheme, made.authentication.credentials) == (
        "Bearer",
        "x",
    )
    got = jsonrpc.parse_request(
        body(
            "tasks/pushNotificationConfig/get",
            {"id": "t", "pushNotificationConfigId": "c"},
        ),
        version="0.3",
    ).params
    assert (got.task_id, got.id) == ("t", "c")


def test_malformed_v03_params_get_the_v1_validation_error() -> None:
    bad = {"message": {**MESSAGE_V03, "role": "robot"}}
    with pytest.raises(jsonrpc.JsonRpcRejection) as refused:
        jsonrpc.parse_request(body("message/send", bad), version="0.3")
    assert isinstance(refused.value.error, InvalidParamsError)
    assert refused.value.request_id == "r"


def test_methods_of_the_other_version() -> None:
    with pytest.raises(jsonrpc.JsonRpcRejection) as v1_in_v03:
        jsonrpc.parse_request(body("GetTask", {"id": "t"}), version="0.3")
    assert isinstance(v1_in_v03.value.error, VersionNotSupportedError)
    assert "A2A-Version: 1.0" in v1_in_v03.value.error.message
    with pytest.raises(jsonrpc.JsonRpcRejection) as v03_in_v1:
        jsonrpc.parse_request(body("tasks/get", {"id": "t"}), version="1.0")
    assert isinstance(v03_in_v1.value.error, MethodNotFoundError)
    assert "call GetTask" in v03_in_v1.value.error.message
    with pytest.raises(jsonrpc.JsonRpcRejection) as unknown:
        jsonrpc.parse_request(body("tasks/list", {}), version="0.3")
    assert isinstance(unknown.value.error, MethodNotFoundError)


TASK_V1 = {
    "id": "t",
    "contextId": "c",
    "status": {
        "state": "TASK_STATE_INPUT_REQUIRED",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "message": {
            "messageId": "a",
            "role": "ROLE_AGENT",
            "parts": [{"text": "which?"}],
        },
    },
    "history": [{"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}],
    "artifacts": [
        {
            "artifactId": "x",
            "name": "out",
            "parts": [
                {"raw": "aGk=", "mediaType": "text/plain", "filename": "a.txt"},
                {"url": "https://x.test/f"},
                {"data": [1, 2]},
                {"data": {"k": 1}, "metadata": {"m": 1}},
            ],
        }
    ],
}


def test_results_take_v03_shapes() -> None:
    task = v03.result_to_v03("SendMessage", {"task": TASK_V1})
    assert task["kind"] == "task"
    assert task["status"]["state"] == "input-required"
    assert task["status"]["message"]["role"] == "agent"
    assert task["history"][0] == {
        "kind": "message",
        "messageId": "m",
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    raw, url, listed, data = task["artifacts"][0]["parts"]
    assert raw == {
        "kind": "file",
        "file": {"bytes": "aGk=", "mimeType": "text/plain", "name": "a.txt"},
    }
    assert url == {"kind": "file", "file": {"uri": "https://x.test/f"}}
    assert listed == {
        "kind": "data",
        "data": {"value": [1, 2]},
        "metadata": {"data_part_compat": True},
    }
    assert data == {"kind": "data", "data": {"k": 1}, "metadata": {"m": 1}}
    assert v03.result_to_v03("GetTask", TASK_V1) == task
    assert v03.result_to_v03("DeleteTaskPushNotificationConfig", {}) is None
    listed_configs = v03.result_to_v03(
        "ListTaskPushNotificationConfigs",
        {
            "configs": [
                {
                    "taskId": "t",
                    "id": "c",
                    "url": "u",
                    "authentication": {"scheme": "Bearer"},
                }
            ]
        },
    )
    assert listed_configs == [
        {
            "taskId": "t",
            "pushNotificationConfig": {
                "id": "c",
                "url": "u",
                "authentication": {"schemes": ["Bearer"]},
            },
        }
    ]


def test_a_wrapped_data_part_comes_back_unwrapped() -> None:
    task = v03.result_to_v03("GetTask", TASK_V1)
    part = task["artifacts"][0]["parts"][2]
    params = {"message": {**MESSAGE_V03, "parts": [part]}}
    req = jsonrpc.parse_request(body("message/send", params), version="0.3").params
    assert req.message.parts[0].data == [1, 2]
    assert req.message.parts[0].metadata is None


@pytest.mark.parametrize(
    ("state", "subscription", "final"),
    [
        ("TASK_STATE_WORKING", False, False),
        ("TASK_STATE_INPUT_REQUIRED", False, True),
        ("TASK_STATE_INPUT_REQUIRED", True, False),
        ("TASK_STATE_COMPLETED", True, True),
    ],
)
def test_status_events_say_final_when_the_stream_ends(
    state: str, subscription: bool, final: bool
) -> None:
    event = {
        "statusUpdate": {"taskId": "t", "contextId": "c", "status": {"state": state}}
    }
    out = v03.event_to_v03(event, subscription=subscription)
    assert out["kind"] == "status-update"
    assert out["final"] is final
    artifact = v03.event_to_v03(
        {
            "artifactUpdate": {
                "taskId": "t",
                "contextId": "c",
                "artifact": {"artifactId": "a", "parts": [{"text": "x"}]},
                "append": True,
            }
        }
    )
    assert artifact == {
        "kind": "artifact-update",
        "taskId": "t",
        "contextId": "c",
        "artifact": {"artifactId": "a", "parts": [{"kind": "text", "text": "x"}]},
        "append": True,
    }


def test_hybrid_card_adds_what_v03_clients_read() -> None:
    card = {
        "name": "A",
        "capabilities": {"streaming": True, "extendedAgentCard": True},
        "supportedInterfaces": [
            {"url": "https://a.test/", "protocolBinding": "JSONRPC"},
            {"url": "https://a.test", "protocolBinding": "HTTP+JSON"},
            {"url": "127.0.0.1:50051", "protocolBinding": "GRPC"},
            {"url": "a.test:443", "protocolBinding": "GRPC"},
        ],
        "securitySchemes": {
            "key": {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}},
            "bearer": {
                "httpAuthSecurityScheme": {"scheme": "Bearer", "bearerFormat": "JWT"}
            },
            "oidc": {
                "openIdConnectSecurityScheme": {"openIdConnectUrl": "https://o.test/"}
            },
            "tls": {"mtlsSecurityScheme": {"description": "client certs"}},
            "odd": {"somethingNew": {}},
        },
        "securityRequirements": (
            {"schemes": {"bearer": {"list": ["read", "write"]}}},
            {"schemes": {"key": {}}},
        ),
    }
    out = v03_card.hybrid_card(card, "https://a.test/")
    assert {k: card[k] for k in card if k != "securitySchemes"} == {
        k: out[k] for k in card if k != "securitySchemes"
    }  # the v1.0 members are kept as they were
    assert (out["protocolVersion"], out["url"], out["preferredTransport"]) == (
        "0.3.0",
        "https://a.test/",
        "JSONRPC",
    )
    assert out["supportsAuthenticatedExtendedCard"] is True
    # Every interface speaks v0.3 too, each named by an http(s) URL as v0.3 wants.
    assert out["additionalInterfaces"] == [
        {"url": "https://a.test/", "transport": "JSONRPC"},
        {"url": "https://a.test", "transport": "HTTP+JSON"},
        {"url": "http://127.0.0.1:50051", "transport": "GRPC"},
        {"url": "https://a.test:443", "transport": "GRPC"},
    ]
    schemes = out["securitySchemes"]
    assert schemes["key"] == {
        "apiKeySecurityScheme": {"location": "header", "name": "X-Key"},
        "type": "apiKey",
        "in": "header",
        "name": "X-Key",
    }
    assert schemes["bearer"]["type"] == "http"
    assert (schemes["bearer"]["scheme"], schemes["bearer"]["bearerFormat"]) == (
        "Bearer",
        "JWT",
    )
    assert schemes["oidc"]["openIdConnectUrl"] == "https://o.test/"
    assert schemes["tls"] == {
        "mtlsSecurityScheme": {"description": "client certs"},
        "type": "mutualTLS",
        "description": "client certs",
    }
    assert schemes["odd"] == {"somethingNew": {}}
    assert out["security"] == [{"bearer": ["read", "write"]}, {"key": []}]
    plain = v03_card.hybrid_card({"capabilities": {}}, "u")
    assert "supportsAuthenticatedExtendedCard" not in plain
    assert "security" not in plain


@pytest.mark.parametrize(
    ("request_json", "error"),
    [
        (
            {"jsonrpc": "2.0", "method": "message/ssend", "params": {}},
            MethodNotFoundError,
        ),
        (
            {"jsonrpc": "2.0", "method": "message/send", "params": {"": "not_a_dict"}},
            InvalidParamsError,
        ),
        (
            {"jsonrpc": "2.0", "method": "tasks/get", "params": {"id": "t"}},
            InvalidRequestError,
        ),
        (
            {"jsonrpc": "2.0", "method": "tasks/get", "id": {"bad": 1}},
            InvalidRequestError,
        ),
    ],
)
def test_a_v03_request_without_an_id_is_refused_after_its_method_and_params(
    request_json: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(jsonrpc.JsonRpcRejection) as refused:
        jsonrpc.parse_request(json.dumps(request_json).encode(), version="0.3")
    assert type(refused.value.error) is error
    assert refused.value.request_id is None
