"""v1.0 -> v0.3 -> v1.0 gives back what went in, for every operation's request,
result and event (bindings/v03.py, v03_card.py); and malformed input passes through
unchanged for the v1.0 validation to name."""

from __future__ import annotations

from typing import Any

import pytest

from accord import types as t
from accord.bindings import v03, v03_card
from accord.errors import InvalidParamsError

MESSAGE: dict[str, Any] = {
    "messageId": "m",
    "role": "ROLE_USER",
    "contextId": "c",
    "taskId": "t",
    "referenceTaskIds": ["t0"],
    "extensions": ["urn:x"],
    "metadata": {"k": 1},
    "parts": [
        {"text": "hi", "metadata": {"p": True}},
        {"raw": "aGk=", "mediaType": "text/plain", "filename": "a.txt"},
        {"url": "https://x.test/f", "mediaType": "image/png"},
        {"data": {"a": [1, 2]}},
        {"data": [1, 2], "metadata": {"m": 1}},
        {"data": "plain"},
    ],
}
AGENT_MESSAGE = {**MESSAGE, "role": "ROLE_AGENT", "messageId": "a"}
ARTIFACT: dict[str, Any] = {
    "artifactId": "x",
    "name": "out",
    "description": "d",
    "parts": MESSAGE["parts"],
    "metadata": {"a": 1},
    "extensions": ["urn:y"],
}
TASK: dict[str, Any] = {
    "id": "t",
    "contextId": "c",
    "status": {
        "state": "TASK_STATE_WORKING",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "message": AGENT_MESSAGE,
    },
    "history": [MESSAGE],
    "artifacts": [ARTIFACT],
    "metadata": {"t": 1},
}
PUSH = {
    "taskId": "t",
    "id": "c",
    "url": "https://hook.test/",
    "token": "tok",
    "authentication": {"scheme": "Bearer", "credentials": "secret"},
}

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "SendMessage",
        {
            "message": MESSAGE,
            "configuration": {
                "acceptedOutputModes": ["text/plain"],
                "historyLength": 3,
                "returnImmediately": True,
                "taskPushNotificationConfig": {
                    k: v for k, v in PUSH.items() if k != "taskId"
                },
            },
            "metadata": {"r": 1},
        },
    ),
    ("SendStreamingMessage", {"message": MESSAGE}),
    ("GetTask", {"id": "t", "historyLength": 2}),
    ("CancelTask", {"id": "t", "metadata": {"why": "x"}}),
    ("SubscribeToTask", {"id": "t"}),
    ("CreateTaskPushNotificationConfig", PUSH),
    ("GetTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
    ("ListTaskPushNotificationConfigs", {"taskId": "t"}),
    ("DeleteTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
    ("GetExtendedAgentCard", {}),
]


@pytest.mark.parametrize(
    ("operation", "request_json"), REQUESTS, ids=[r[0] for r in REQUESTS]
)
def test_requests_round_trip(operation: str, request_json: dict[str, Any]) -> None:
    method = v03.METHOD_OF[operation]
    sent = v03.params_to_v03(operation, request_json)
    back = v03.params_from_v03(method, sent)
    assert back == request_json
    # And v1.0 takes it.
    from accord.protocol.operations import BY_METHOD

    t.convert(back, BY_METHOD[operation].request_type)


def test_blocking_defaults_and_a_config_without_push() -> None:
    for request in ({"message": MESSAGE, "configuration": {}}, {"message": MESSAGE}):
        sent = v03.params_to_v03("SendMessage", request)
        assert sent["configuration"] == {"blocking": True}  # always said
        assert v03.params_from_v03("message/send", sent)["configuration"] == {}


RESULTS: list[tuple[str, Any]] = [
    ("SendMessage", {"task": TASK}),
    ("SendMessage", {"message": AGENT_MESSAGE}),
    ("GetTask", TASK),
    ("CancelTask", {**TASK, "status": {"state": "TASK_STATE_CANCELED"}}),
    ("CreateTaskPushNotificationConfig", PUSH),
    ("GetTaskPushNotificationConfig", PUSH),
    ("ListTaskPushNotificationConfigs", {"configs": [PUSH, {**PUSH, "id": "d"}]}),
    ("DeleteTaskPushNotificationConfig", {}),
]


@pytest.mark.parametrize(("operation", "result"), RESULTS)
def test_results_round_trip(operation: str, result: Any) -> None:
    assert (
        v03.result_from_v03(operation, v03.result_to_v03(operation, result)) == result
    )


EVENTS = [
    {"task": TASK},
    {"message": AGENT_MESSAGE},
    {
        "statusUpdate": {
            "taskId": "t",
            "contextId": "c",
            "status": TASK["status"],
            "metadata": {"e": 1},
        }
    },
    {
        "artifactUpdate": {
            "taskId": "t",
            "contextId": "c",
            "artifact": ARTIFACT,
            "append": True,
            "lastChunk": True,
            "metadata": {"e": 2},
        }
    },
]


@pytest.mark.parametrize("event", EVENTS, ids=["task", "message", "status", "artifact"])
def test_events_round_trip(event: dict[str, Any]) -> None:
    sent = v03.event_to_v03(event)
    assert v03.event_from_v03(sent) == event
    t.convert(event, t.StreamResponse)


def test_every_state_has_a_v03_name_and_back() -> None:
    for state in t.TaskState:
        name = v03.STATES[state.value]
        assert v03.STATES_V1[name] == state.value


def test_peers_that_omit_kind_are_read_by_shape() -> None:
    task = v03.result_to_v03("GetTask", TASK)
    message = v03.result_to_v03("SendMessage", {"message": AGENT_MESSAGE})
    bare_task = {k: v for k, v in task.items() if k != "kind"}
    bare_message = {k: v for k, v in message.items() if k != "kind"}
    assert v03.result_from_v03("SendMessage", bare_task) == {"task": TASK}
    assert v03.result_from_v03("SendMessage", bare_message) == {
        "message": AGENT_MESSAGE
    }
    part = {"file": {"uri": "https://x.test/f"}}  # no kind either
    assert v03.params_from_v03("message/stream", {"message": {"parts": [part]}}) == {
        "message": {"parts": [{"url": "https://x.test/f"}]}
    }


@pytest.mark.parametrize(
    "params",
    [
        "not an object",
        {"message": "not an object"},
        {"message": {"parts": "not a list"}},
        {"message": {"parts": ["not an object"]}},
        {"message": {"parts": [{"kind": "file", "file": "not an object"}]}},
        {"configuration": "not an object"},
    ],
)
def test_malformed_params_pass_through_to_the_v1_validation(params: Any) -> None:
    out = v03.params_from_v03("message/send", params)
    if not isinstance(params, dict):
        assert out == params
    with pytest.raises(InvalidParamsError):
        t.convert(out if isinstance(out, dict) else {}, t.SendMessageRequest)


def test_unknown_shapes_are_returned_as_they_are() -> None:
    assert v03.event_to_v03({"somethingNew": {}}) == {"somethingNew": {}}
    assert v03.event_from_v03("x") == "x"
    assert v03.result_from_v03("GetTask", "x") == "x"
    assert v03.result_from_v03("GetExtendedAgentCard", {"name": "n"}) == {"name": "n"}
    assert v03.result_to_v03("GetExtendedAgentCard", {"name": "n"}) == {"name": "n"}
    assert v03.result_to_v03("SendMessage", {"odd": 1}) == {"odd": 1}
    assert v03.params_from_v03("agent/getAuthenticatedExtendedCard", {"x": 1}) == {}
    assert v03.params_to_v03("ListTasks", {"pageSize": 1}) == {}


def test_a_v03_card_reads_as_v1() -> None:
    legacy = {
        "name": "Old",
        "url": "https://old.test/rpc",
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "additionalInterfaces": [
            {"url": "https://old.test/rpc", "transport": "JSONRPC"},  # the same: once
            {"url": "https://old.test/rest", "transport": "HTTP+JSON"},
            "junk",
        ],
        "supportsAuthenticatedExtendedCard": True,
        "capabilities": {"streaming": True},
        "securitySchemes": {
            "key": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Key",
                "description": "d",
            },
            "bearer": {"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"},
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "clientCredentials": {"tokenUrl": "https://t.test", "scopes": {}}
                },
            },
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://o.test"},
            "tls": {"type": "mutualTLS"},
            "hybrid": {
                "apiKeySecurityScheme": {"location": "query", "name": "k"},
                "type": "apiKey",
            },
            "odd": "junk",
        },
        "security": [{"bearer": ["read"]}, {"key": []}, "junk"],
    }
    card = v03_card.card_to_v1(legacy)
    assert card["supportedInterfaces"] == [
        {
            "url": "https://old.test/rpc",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "0.3",
        },
        {
            "url": "https://old.test/rest",
            "protocolBinding": "HTTP+JSON",
            "protocolVersion": "0.3",
        },
    ]
    assert card["capabilities"] == {"streaming": True, "extendedAgentCard": True}
    schemes = card["securitySchemes"]
    assert schemes["key"] == {
        "apiKeySecurityScheme": {
            "description": "d",
            "location": "header",
            "name": "X-Key",
        }
    }
    assert schemes["bearer"] == {
        "httpAuthSecurityScheme": {"scheme": "Bearer", "bearerFormat": "JWT"}
    }
    assert "oauth2SecurityScheme" in schemes["oauth"]
    assert schemes["oidc"] == {
        "openIdConnectSecurityScheme": {"openIdConnectUrl": "https://o.test"}
    }
    assert schemes["tls"] == {"mtlsSecurityScheme": {}}
    assert schemes["hybrid"] == {
        "apiKeySecurityScheme": {"location": "query", "name": "k"}
    }
    assert schemes["odd"] == "junk"
    assert card["securityRequirements"] == [
        {"schemes": {"bearer": {"list": ["read"]}}},
        {"schemes": {"key": {"list": []}}},
    ]
    usable = {k: v for k, v in schemes.items() if k != "odd"}
    decoded = t.convert({**card, "securitySchemes": usable}, t.AgentCard)
    assert decoded.supported_interfaces[0].protocol_version == "0.3"
    # A v1.0 (or hybrid) card is left alone.
    v1 = {"name": "New", "supportedInterfaces": [{"url": "u"}], "url": "u"}
    assert v03_card.card_to_v1(v1) is v1


def test_hybrid_and_back() -> None:
    card = {
        "name": "A",
        "supportedInterfaces": [
            {
                "url": "https://a.test/",
                "protocolBinding": "JSONRPC",
                "protocolVersion": "1.0",
            }
        ],
        "capabilities": {},
        "securitySchemes": {
            "oauth": {
                "oauth2SecurityScheme": {
                    "flows": {"clientCredentials": {"tokenUrl": "https://t"}},
                    "oauth2MetadataUrl": "https://m",
                }
            },
            "junk": "x",
            "two": {"a": 1, "b": 2},
        },
    }
    out = v03_card.hybrid_card(card, "https://a.test/")
    assert out["securitySchemes"]["oauth"]["type"] == "oauth2"
    assert out["securitySchemes"]["oauth"]["oauth2MetadataUrl"] == "https://m"
    assert out["securitySchemes"]["junk"] == "x"
    assert out["securitySchemes"]["two"] == {"a": 1, "b": 2}
