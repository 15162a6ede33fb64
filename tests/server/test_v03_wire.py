"""The v0.3 JSON-RPC surface on the wire: the version is negotiated before the body
is read, v0.3 methods answer in v0.3 shapes, and the tasks are the engine's
(bindings/v03.py, server/pipelines.py)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
import pytest

from .conftest import V1

pytestmark = pytest.mark.usefixtures("server_url")


def rpc(
    http: httpx.Client,
    url: str,
    method: str,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": "v03", "method": method, "params": params}
    answer: dict[str, Any] = http.post(url + "/", json=body, headers=headers).json()
    assert answer["id"] == "v03"
    return answer


#: v0.3 message/send answers at once unless it says blocking (bindings/v03.py).
BLOCKING = {"configuration": {"blocking": True}}


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "message",
        "messageId": str(uuid.uuid4()),
        "role": "user",
        "parts": [{"kind": "text", "text": text}],
        **extra,
    }


@pytest.mark.parametrize(
    "headers", [{}, {"A2A-Version": "0.3"}, {"A2A-Version": "0.3.0"}]
)
def test_message_send_without_a_version_speaks_v03(
    server_url: str, http: httpx.Client, headers: dict[str, str]
) -> None:
    params = {"message": message("echo hi"), "configuration": {"blocking": True}}
    result = rpc(http, server_url, "message/send", params, headers)["result"]
    assert result["kind"] == "task"
    assert result["status"]["state"] == "completed"
    assert result["artifacts"][0]["parts"] == [{"kind": "text", "text": "hi"}]
    # The same task, over v1.0.
    v1 = rpc(http, server_url, "GetTask", {"id": result["id"]}, V1)["result"]
    assert v1["status"]["state"] == "TASK_STATE_COMPLETED"


def test_a_v03_method_with_version_1_0_is_not_found_and_says_why(
    server_url: str, http: httpx.Client
) -> None:
    error = rpc(http, server_url, "message/send", {"message": message("echo")}, V1)[
        "error"
    ]
    assert error["code"] == -32601
    assert "SendMessage" in error["message"]


def test_an_unsupported_version_is_refused_before_the_body_is_read(
    server_url: str, http: httpx.Client
) -> None:
    error = rpc(http, server_url, "no/such/method", {"x": 1}, {"A2A-Version": "2.0"})[
        "error"
    ]
    assert error["code"] == -32009


def test_follow_up_and_input_required_over_v03(
    server_url: str, http: httpx.Client
) -> None:
    asked = rpc(
        http, server_url, "message/send", {"message": message("ask"), **BLOCKING}
    )["result"]
    assert asked["status"]["state"] == "input-required"
    assert asked["status"]["message"]["role"] == "agent"
    done = rpc(
        http,
        server_url,
        "message/send",
        {
            "message": message("Ada", taskId=asked["id"], contextId=asked["contextId"]),
            **BLOCKING,
        },
    )["result"]
    assert done["status"]["state"] == "completed"
    assert done["artifacts"][-1]["parts"][0]["text"] == "got Ada"


def sse(
    http: httpx.Client,
    url: str,
    method: str,
    params: dict[str, Any],
    attached: threading.Event | None = None,
) -> list[Any]:
    """The results of a v0.3 stream's events; ``attached`` is set at the first."""
    body = {"jsonrpc": "2.0", "id": 5, "method": method, "params": params}
    events = []
    with http.stream("POST", url + "/", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                payload = json.loads(line[5:])
                assert payload["id"] == 5
                events.append(payload["result"])
                if attached is not None:
                    attached.set()
    return events


def test_message_stream_marks_the_last_event_final(
    server_url: str, http: httpx.Client
) -> None:
    events = sse(http, server_url, "message/stream", {"message": message("chunks 3")})
    assert [e["kind"] for e in events] == [
        "task",
        "artifact-update",
        "artifact-update",
        "artifact-update",
        "status-update",
    ]
    assert events[-1]["final"] is True
    assert events[-1]["status"]["state"] == "completed"
    assert [e.get("append", False) for e in events[1:4]] == [False, True, True]


def test_resubscribe_follows_a_running_task_until_it_ends(
    server_url: str, http: httpx.Client
) -> None:
    asked = rpc(
        http, server_url, "message/send", {"message": message("ask"), **BLOCKING}
    )["result"]
    got: list[Any] = []
    attached = threading.Event()
    follower = threading.Thread(
        target=lambda: got.extend(
            sse(http, server_url, "tasks/resubscribe", {"id": asked["id"]}, attached)
        )
    )
    follower.start()
    try:
        # The task waits for input: the subscription stays open (v1.0 §3.1.6: until
        # terminal), and the cancel ends it.
        assert attached.wait(10), "the subscription sent no first event"
        canceled = rpc(http, server_url, "tasks/cancel", {"id": asked["id"]})["result"]
    finally:
        follower.join(10)
    assert canceled["status"]["state"] == "canceled"
    assert got[0]["kind"] == "task"
    assert got[-1]["kind"] == "status-update"
    assert got[-1]["status"]["state"] == "canceled"
    assert got[-1]["final"] is True


def test_push_methods_answer_as_the_card_says(
    server_url: str, http: httpx.Client
) -> None:
    error = rpc(
        http,
        server_url,
        "tasks/pushNotificationConfig/set",
        {"taskId": "t", "pushNotificationConfig": {"url": "https://hook.test/"}},
    )["error"]
    assert error["code"] == -32003


def test_v03_errors_keep_the_codes(server_url: str, http: httpx.Client) -> None:
    error = rpc(http, server_url, "tasks/get", {"id": "no-such-task"})["error"]
    assert error["code"] == -32001
    bad = rpc(
        http, server_url, "message/send", {"message": {**message("x"), "role": "robot"}}
    )
    assert bad["error"]["code"] == -32602


def test_the_extended_card_over_v03_carries_the_v03_members(http: httpx.Client) -> None:
    from accord.server import A2AApp, Agent, build_card
    from accord.server.auth import ApiKeyRing, ApiKeyVerifier
    from accord.stores import MemoryTaskStore
    from accord.types import APIKeySecurityScheme, SecurityScheme, replace

    from .conftest import serve
    from .scripted import behave

    agent = Agent(
        behave,
        name="Extended",
        description="has an extended card",
        declare_extended_card=True,
        security_schemes={
            "key": SecurityScheme(
                api_key_security_scheme=APIKeySecurityScheme(
                    location="header", name="X-Key"
                )
            )
        },
    )
    # No interfaces of its own: the server fills in the served ones.
    agent.extended_card = replace(build_card(agent, ""), supported_interfaces=())
    keys = ApiKeyRing()
    keys.add("k" * 32, principal="p")
    app = A2AApp(agent, store=MemoryTaskStore(), auth={"key": ApiKeyVerifier(keys)})
    with serve(app) as url:
        card = rpc(
            http, url, "agent/getAuthenticatedExtendedCard", {}, {"X-Key": "k" * 32}
        )["result"]
    assert card["supportedInterfaces"][0]["protocolVersion"] == "1.0"
    assert (card["url"], card["protocolVersion"]) == (url + "/", "0.3.0")
    assert card["supportsAuthenticatedExtendedCard"] is True
    assert card["securitySchemes"]["key"]["type"] == "apiKey"


def test_the_public_card_carries_v03_members_only_when_asked(
    http: httpx.Client,
) -> None:
    from accord.server import A2AApp, Agent
    from accord.stores import MemoryTaskStore
    from accord.types import HTTPAuthSecurityScheme, SecurityScheme

    from .conftest import serve
    from .scripted import behave

    def agent(v03_card: bool) -> Agent:
        return Agent(
            behave,
            name="Card",
            description="d",
            v03_card=v03_card,
            security_schemes={
                "bearer": SecurityScheme(
                    http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer")
                )
            },
        )

    with serve(A2AApp(agent(False), store=MemoryTaskStore())) as url:
        plain = http.get(url + "/.well-known/agent-card.json").json()
    with serve(A2AApp(agent(True), store=MemoryTaskStore())) as url:
        hybrid = http.get(url + "/.well-known/agent-card.json").json()
    assert not {"url", "protocolVersion", "preferredTransport"} & set(plain)
    assert (hybrid["url"], hybrid["protocolVersion"], hybrid["preferredTransport"]) == (
        url + "/",
        "0.3.0",
        "JSONRPC",
    )
    assert hybrid["securitySchemes"]["bearer"]["type"] == "http"
    assert hybrid["supportedInterfaces"] == [
        {**i, "url": i["url"].replace(i["url"].split("/")[2], url.split("/")[2])}
        for i in plain["supportedInterfaces"]
    ]


def test_a_v03_stream_that_fails_before_it_starts_sends_its_error_as_an_event(
    server_url: str, http: httpx.Client
) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tasks/resubscribe",
        "params": {"id": "nope"},
    }
    with http.stream("POST", server_url + "/", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data:")]
    (event,) = [json.loads(line[5:]) for line in lines]
    assert (event["id"], event["error"]["code"]) == (9, -32001)
    # v1.0 answers the same refusal as a plain JSON-RPC response (spec §9.4.2).
    v1 = {**body, "method": "SubscribeToTask"}
    answer = http.post(server_url + "/", json=v1, headers=V1)
    assert answer.headers["content-type"].startswith("application/json")


def test_message_send_without_blocking_answers_at_once(
    server_url: str, http: httpx.Client
) -> None:
    """v0.3 left ``blocking`` optional with no default; the v0.3 conformance suite
    sends none and then cancels the running task."""
    started = rpc(http, server_url, "message/send", {"message": message("wait")})[
        "result"
    ]
    assert started["status"]["state"] in ("submitted", "working")
    canceled = rpc(http, server_url, "tasks/cancel", {"id": started["id"]})["result"]
    assert canceled["status"]["state"] == "canceled"
