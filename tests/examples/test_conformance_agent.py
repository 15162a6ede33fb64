"""The TCK conformance agent, served as ``accord serve`` would, driven on the raw wire.

Every messageId prefix of ``examples/conformance_agent.py`` is checked over both
bindings (JSON-RPC and HTTP+JSON, found through the card's ``supportedInterfaces``):
the blocking SendMessage result and the exact SSE sequence of SendStreamingMessage,
then the multi-turn, cancel, subscription and card behaviours the suite relies on.
Requests are plain httpx with ``A2A-Version: 1.0``; nothing of Accord's client is used.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from accord.cli.commands.serve import load_app
from accord.server import A2AApp
from tests.helpers.examples import EXAMPLES
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.server.webhook import receiver

AGENT_FILE = EXAMPLES / "conformance_agent.py"
V1 = {"A2A-Version": "1.0"}
SSE = {**V1, "Accept": "text/event-stream"}
FILE_RAW = base64.b64encode(b"Generated file content from TCK\n").decode()
FILE_PART = {"raw": FILE_RAW, "filename": "output.txt", "mediaType": "text/plain"}
URL_PART = {
    "url": "https://example.com/output.txt",
    "filename": "output.txt",
    "mediaType": "text/plain",
}
ASK_TEXT = "Input required: send a follow-up message on this task"
REJECTED_TEXT = "rejected: the TCK asked this agent to refuse the task"
DATA_PART = {"data": {"key": "value", "count": 42}, "mediaType": "application/json"}

SUBMITTED = "TASK_STATE_SUBMITTED"
WORKING = "TASK_STATE_WORKING"
COMPLETED = "TASK_STATE_COMPLETED"
FAILED = "TASK_STATE_FAILED"
CANCELED = "TASK_STATE_CANCELED"
INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"


def _agent_module() -> ModuleType:
    """The module ``load_app`` imported ``conformance_agent.py`` as."""
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(AGENT_FILE):
            return module
    raise LookupError(f"{AGENT_FILE} is not loaded")


def _load(db: Path) -> tuple[A2AApp, str]:
    """``load_app`` as ``accord serve examples/conformance_agent.py`` calls it."""
    saved = list(sys.path)
    try:
        return load_app(str(AGENT_FILE), str(db))
    finally:
        sys.path[:] = saved  # load_app makes the file's folder importable


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app, _ = _load(tmp_path_factory.mktemp("tck") / "tasks.db")
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def card(base_url: str, http: httpx.Client) -> dict[str, Any]:
    r = http.get(base_url + "/.well-known/agent-card.json")
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


# --- a minimal raw client per binding ---------------------------------------------------


class CallFailed(Exception):
    """An A2A error answer (JSON-RPC ``error`` or an HTTP+JSON error status)."""


_ids = itertools.count(1)


@dataclass
class Binding:
    """The operations the tests use, on the interface of one binding from the card."""

    name: str
    url: str
    http: httpx.Client

    # -- requests --

    def _rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}

    def call(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        if self.name == "JSONRPC":
            r = self.http.post(
                self.url,
                json=self._rpc(method, params),
                headers={**V1, **(headers or {})},
            )
            body = r.json()
            if "error" in body:
                raise CallFailed(body["error"])
            return body["result"]
        verb, path, payload = self._rest(method, params)
        r = self.http.request(
            verb,
            self.url.rstrip("/") + path,
            json=payload,
            headers={**V1, "Content-Type": "application/a2a+json", **(headers or {})},
        )
        if r.status_code >= 400:
            raise CallFailed(r.status_code, r.text)
        return r.json()

    @staticmethod
    def _rest(method: str, params: dict[str, Any]) -> tuple[str, str, Any]:
        task = params.get("id", "")
        routes: dict[str, tuple[str, str, Any]] = {
            "SendMessage": ("POST", "/message:send", params),
            "SendStreamingMessage": ("POST", "/message:stream", params),
            "GetTask": ("GET", f"/tasks/{task}", None),
            "CancelTask": ("POST", f"/tasks/{task}:cancel", {}),
            "SubscribeToTask": ("POST", f"/tasks/{task}:subscribe", {}),
            "GetExtendedAgentCard": ("GET", "/extendedAgentCard", None),
        }
        return routes[method]

    @contextmanager
    def open_stream(
        self, method: str, params: dict[str, Any]
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """The StreamResponse payloads of an SSE answer, read as they arrive."""
        if self.name == "JSONRPC":
            request = self.http.build_request(
                "POST", self.url, json=self._rpc(method, params), headers=SSE
            )
        else:
            verb, path, payload = self._rest(method, params)
            request = self.http.build_request(
                verb,
                self.url.rstrip("/") + path,
                json=payload,
                headers={**SSE, "Content-Type": "application/a2a+json"},
            )
        response = self.http.send(request, stream=True)
        try:
            if not response.headers["content-type"].startswith("text/event-stream"):
                response.read()
                raise CallFailed(response.status_code, response.text)
            yield self._events(response)
        finally:
            response.close()

    def _events(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        data: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                payload = json.loads("\n".join(data))
                data = []
                if self.name == "JSONRPC":
                    if "error" in payload:
                        raise CallFailed(payload["error"])
                    payload = payload["result"]
                elif "error" in payload:
                    raise CallFailed(payload["error"])
                yield payload

    def stream(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every event, until the server ends the stream."""
        with self.open_stream(method, params) as events:
            return list(events)

    # -- operations --

    def send(self, message_id: str, **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("SendMessage", request(message_id, **extra))
        return result

    def send_task(self, message_id: str, **extra: Any) -> dict[str, Any]:
        result = self.send(message_id, **extra)
        assert set(result) == {"task"}, result
        task: dict[str, Any] = result["task"]
        return task

    def get_task(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self.call("GetTask", {"id": task_id})
        return task

    def cancel(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self.call("CancelTask", {"id": task_id})
        return task


def request(
    message_id: str, *, task_id: str | None = None, **configuration: Any
) -> dict[str, Any]:
    """SendMessageRequest JSON for a user text message with this messageId."""
    message: dict[str, Any] = {
        "messageId": message_id,
        "role": "ROLE_USER",
        "parts": [{"text": "conformance check"}],
    }
    if task_id is not None:
        message["taskId"] = task_id
    body: dict[str, Any] = {"message": message}
    if configuration:
        body["configuration"] = configuration
    return body


def unique(prefix: str) -> str:
    """A messageId with this prefix, unique like the suite's (``<prefix>-<uuid>``)."""
    return f"{prefix}-{uuid.uuid4()}"


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def binding(
    request: pytest.FixtureRequest, card: dict[str, Any], http: httpx.Client
) -> Binding:
    name = str(request.param)
    urls = [
        i["url"] for i in card["supportedInterfaces"] if i["protocolBinding"] == name
    ]
    assert len(urls) == 1, card["supportedInterfaces"]
    return Binding(name, urls[0], http)


# --- expected results -------------------------------------------------------------------


def text(value: str) -> list[dict[str, Any]]:
    return [{"text": value}]


@dataclass(frozen=True)
class Outcome:
    """What a blocking SendMessage returns: the final task, summarised."""

    state: str
    artifacts: list[list[dict[str, Any]]] = field(default_factory=list)
    message: str | None = None


def joined(message: dict[str, Any]) -> str:
    """The text of a message's parts (all text parts here)."""
    return "".join(p["text"] for p in message["parts"])


def outcome(task: dict[str, Any]) -> Outcome:
    status = task["status"]
    message = status.get("message")
    if message is not None:
        assert message["role"] == "ROLE_AGENT"
        assert message["taskId"] == task["id"]
        assert message["contextId"] == task["contextId"]
    return Outcome(
        state=status["state"],
        artifacts=[a["parts"] for a in task.get("artifacts", [])],
        message=None if message is None else joined(message),
    )


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    """One SSE event as (kind, ...): enough to compare sequences exactly."""
    assert len(event) == 1, event  # a StreamResponse sets exactly one member
    if "task" in event:
        return ("task", event["task"]["status"]["state"])
    if "statusUpdate" in event:
        status = event["statusUpdate"]["status"]
        message = status.get("message")
        if message is None:
            return ("status", status["state"])
        return ("status", status["state"], joined(message))
    if "artifactUpdate" in event:
        update = event["artifactUpdate"]
        return (
            "artifact",
            update["artifact"]["parts"],
            update.get("append", False),
            update.get("lastChunk", False),
        )
    assert "message" in event, event
    return ("message", [p["text"] for p in event["message"]["parts"]])


def working_then(*artifact_parts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """task SUBMITTED -> WORKING -> one whole artifact per entry -> COMPLETED."""
    return [
        ("task", SUBMITTED),
        ("status", WORKING),
        *(("artifact", parts, False, False) for parts in artifact_parts),
        ("status", COMPLETED),
    ]


@dataclass(frozen=True)
class Case:
    prefix: str
    blocking: Outcome
    stream: list[tuple[Any, ...]]


CASES = [
    Case(
        "tck-complete-task",
        Outcome(COMPLETED, message="Hello from TCK"),
        [("task", SUBMITTED), ("status", COMPLETED, "Hello from TCK")],
    ),
    Case(
        "tck-artifact-text",
        Outcome(COMPLETED, [text("Generated text content")]),
        [
            ("task", SUBMITTED),
            ("artifact", text("Generated text content"), False, False),
            ("status", COMPLETED),
        ],
    ),
    Case(
        "tck-artifact-file-url",
        Outcome(COMPLETED, [[URL_PART]]),
        [
            ("task", SUBMITTED),
            ("artifact", [URL_PART], False, False),
            ("status", COMPLETED),
        ],
    ),
    Case(
        "tck-artifact-file",
        Outcome(COMPLETED, [[FILE_PART]]),
        [
            ("task", SUBMITTED),
            ("artifact", [FILE_PART], False, False),
            ("status", COMPLETED),
        ],
    ),
    Case(
        "tck-artifact-data",
        Outcome(COMPLETED, [[DATA_PART]]),
        [
            ("task", SUBMITTED),
            ("artifact", [DATA_PART], False, False),
            ("status", COMPLETED),
        ],
    ),
    Case(
        "tck-input-required",
        Outcome(INPUT_REQUIRED, message=ASK_TEXT),
        [("task", SUBMITTED), ("status", INPUT_REQUIRED, ASK_TEXT)],
    ),
    Case(
        "tck-reject-task",
        Outcome(FAILED, message=REJECTED_TEXT),
        [("task", SUBMITTED), ("status", FAILED, REJECTED_TEXT)],
    ),
    Case(
        "tck-stream-001",
        Outcome(COMPLETED, [text("Stream hello from TCK")]),
        working_then(text("Stream hello from TCK")),
    ),
    Case(
        "tck-stream-002",
        Outcome(COMPLETED),
        [("task", SUBMITTED), ("status", COMPLETED)],
    ),
    Case(
        "tck-stream-003",
        Outcome(COMPLETED, [text("Stream task lifecycle")]),
        working_then(text("Stream task lifecycle")),
    ),
    Case(
        "tck-stream-ordering-001",
        Outcome(COMPLETED, [text("Ordered output")]),
        working_then(text("Ordered output")),
    ),
    Case(
        "tck-stream-artifact-text",
        Outcome(COMPLETED, [text("Streamed text content")]),
        working_then(text("Streamed text content")),
    ),
    Case(
        "tck-stream-artifact-file",
        Outcome(COMPLETED, [[FILE_PART]]),
        working_then([FILE_PART]),
    ),
    Case(
        "tck-stream-artifact-chunked",
        Outcome(COMPLETED, [[{"text": "chunk-1 "}, {"text": "chunk-2"}]]),
        [
            ("task", SUBMITTED),
            ("status", WORKING),
            ("artifact", text("chunk-1 "), False, False),
            ("artifact", text("chunk-2"), True, True),
            ("status", COMPLETED),
        ],
    ),
    Case(
        # Any other tck- id (the suite's "tck-multi-004-…", "tck-infer-ctx-…", …).
        "tck-some-other-scenario",
        Outcome(COMPLETED),
        [("task", SUBMITTED), ("status", COMPLETED)],
    ),
]


# --- every prefix, blocking and streaming -----------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.prefix for c in CASES])
def test_blocking_result(binding: Binding, case: Case) -> None:
    task = binding.send_task(unique(case.prefix))
    assert outcome(task) == case.blocking
    assert binding.get_task(task["id"])["status"]["state"] == case.blocking.state


@pytest.mark.parametrize("case", CASES, ids=[c.prefix for c in CASES])
def test_stream_sequence(binding: Binding, case: Case) -> None:
    events = binding.stream("SendStreamingMessage", request(unique(case.prefix)))
    assert [summary(e) for e in events] == case.stream
    task = events[0]["task"]
    for event in events[1:]:
        (update,) = event.values()
        assert update["taskId"] == task["id"]
        assert update["contextId"] == task["contextId"]
    final = binding.get_task(task["id"])
    assert outcome(final) == case.blocking


def test_message_response(binding: Binding) -> None:
    result = binding.send(unique("tck-message-response"))
    assert set(result) == {"message"}
    message = result["message"]
    assert message["role"] == "ROLE_AGENT"
    assert message["parts"] == text("Direct message response")
    assert "taskId" not in message

    events = binding.stream(
        "SendStreamingMessage", request(unique("tck-message-response"))
    )
    assert [summary(e) for e in events] == [("message", ["Direct message response"])]


def test_artifact_file_url_is_matched_before_artifact_file(binding: Binding) -> None:
    task = binding.send_task("tck-artifact-file-url")  # the bare prefix as messageId
    assert task["artifacts"][0]["parts"] == [URL_PART]


# --- multi-turn and cancel ---------------------------------------------------------------


def test_input_required_then_follow_up_completes(binding: Binding) -> None:
    task = binding.send_task(unique("tck-input-required"))
    assert task["status"]["state"] == INPUT_REQUIRED

    # A tck-input-required follow-up asks again (the suite's history tests do this).
    again = binding.send_task(unique("tck-input-required"), task_id=task["id"])
    assert again["id"] == task["id"]
    assert again["status"]["state"] == INPUT_REQUIRED

    done = binding.send_task(unique("tck-complete-task"), task_id=task["id"])
    assert done["id"] == task["id"]
    assert done["contextId"] == task["contextId"]
    assert outcome(done) == Outcome(COMPLETED, message="Hello from TCK")
    users = [m for m in done["history"] if m["role"] == "ROLE_USER"]
    assert len(users) == 3


@pytest.mark.parametrize("follow_up", ["tck-infer-ctx", "plain-follow-up"])
def test_any_follow_up_completes(binding: Binding, follow_up: str) -> None:
    task = binding.send_task(unique("tck-input-required"))
    done = binding.send_task(unique(follow_up), task_id=task["id"])
    assert outcome(done) == Outcome(COMPLETED, message="Hello from TCK")


def test_input_required_then_cancel(binding: Binding) -> None:
    task = binding.send_task(unique("tck-input-required"))
    assert task["status"]["state"] == INPUT_REQUIRED
    assert binding.cancel(task["id"])["status"]["state"] == CANCELED
    assert binding.get_task(task["id"])["status"]["state"] == CANCELED


def test_default_id_stays_working_until_canceled(binding: Binding) -> None:
    with binding.open_stream(
        "SendStreamingMessage", request(unique("some-client-message"))
    ) as events:
        first, second = next(events), next(events)
    assert [summary(first), summary(second)] == [
        ("task", SUBMITTED),
        ("status", WORKING),
    ]
    task_id = first["task"]["id"]
    time.sleep(0.05)
    assert binding.get_task(task_id)["status"]["state"] == WORKING
    assert binding.cancel(task_id)["status"]["state"] == CANCELED
    assert binding.get_task(task_id)["status"]["state"] == CANCELED


def test_default_id_return_immediately(binding: Binding) -> None:
    task = binding.send_task(unique("plain"), returnImmediately=True)
    assert task["status"]["state"] in (SUBMITTED, WORKING)
    assert binding.cancel(task["id"])["status"]["state"] == CANCELED


def test_subscribe_target_waits_then_works_until_canceled(
    binding: Binding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCK_SUBSCRIBE_DELAY", "0.2")
    started = time.monotonic()
    with binding.open_stream(
        "SendStreamingMessage", request(unique("test-subscribe-message-id"))
    ) as events:
        first = next(events)
        assert first["task"]["status"]["state"] == SUBMITTED
        second = next(events)
    assert time.monotonic() - started >= 0.2
    assert [summary(first), summary(second)] == [
        ("task", SUBMITTED),
        ("status", WORKING),
    ]
    task_id = first["task"]["id"]
    with binding.open_stream("SubscribeToTask", {"id": task_id}) as watched:
        assert summary(next(watched)) == ("task", WORKING)
        assert binding.cancel(task_id)["status"]["state"] == CANCELED
        assert [summary(e) for e in watched] == [("status", CANCELED)]


# --- the long-running task of the resubscription test -----------------------------------


def test_resubscribe_task_completes_after_the_pause(
    binding: Binding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCK_STREAMING_TIMEOUT", "0.1")
    started = time.monotonic()
    events = binding.stream(
        "SendStreamingMessage", request(unique("test-resubscribe-message-id"))
    )
    assert time.monotonic() - started >= 0.2  # 2 x TCK_STREAMING_TIMEOUT
    assert [summary(e) for e in events] == [
        ("task", SUBMITTED),
        ("status", WORKING),
        ("status", COMPLETED),
    ]


def test_subscribe_during_the_pause_gets_the_completion(
    binding: Binding, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pause lasts until the subscriber is attached: a gate, not a duration.
    attached = threading.Event()

    async def gate(seconds: float) -> None:
        with anyio.fail_after(20):
            while not attached.is_set():  # noqa: ASYNC110 - set on the test's thread
                await anyio.sleep(0.005)

    monkeypatch.setattr(_agent_module(), "pause", gate)
    with binding.open_stream(
        "SendStreamingMessage", request(unique("test-resubscribe-message-id"))
    ) as events:
        first, second = next(events), next(events)
        assert summary(second) == ("status", WORKING)
        task_id = first["task"]["id"]
        with binding.open_stream("SubscribeToTask", {"id": task_id}) as watched:
            assert summary(next(watched)) == ("task", WORKING)
            attached.set()
            assert [summary(e) for e in watched] == [("status", COMPLETED)]
        assert [summary(e) for e in events] == [("status", COMPLETED)]
    assert binding.get_task(task_id)["status"]["state"] == COMPLETED


def test_streaming_timeout_must_be_a_number(
    binding: Binding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCK_STREAMING_TIMEOUT", "soon")
    task = binding.send_task(unique("test-resubscribe-message-id"))
    result = outcome(task)
    assert result.state == FAILED
    assert result.message is not None
    assert "TCK_STREAMING_TIMEOUT must be a number of seconds" in result.message


# --- the card -----------------------------------------------------------------------------


def test_card_declares_streaming_push_and_extended_card(
    base_url: str, http: httpx.Client, card: dict[str, Any]
) -> None:
    assert card["capabilities"].get("streaming") is True
    assert card["capabilities"].get("extendedAgentCard") is True
    assert card["capabilities"].get("pushNotifications") is True
    interfaces = card["supportedInterfaces"]
    assert [(i["protocolBinding"], i["protocolVersion"]) for i in interfaces] == [
        ("JSONRPC", "1.0"),
        ("HTTP+JSON", "1.0"),
    ]
    assert [s["id"] for s in card["skills"]] == ["tck"]
    r = http.get(base_url + "/.well-known/agent-card.json")
    assert "max-age=" in r.headers["cache-control"]
    assert r.headers["last-modified"].endswith(" GMT")


KEY = {"X-API-Key": "accord-tck-extended-card"}


def test_extended_card(binding: Binding, card: dict[str, Any], base_url: str) -> None:
    extended = binding.call("GetExtendedAgentCard", {}, KEY)
    assert extended["name"] == card["name"]
    assert [s["id"] for s in extended["skills"]] == ["tck", "tck-extended"]
    assert "authenticated view" in extended["description"]
    assert extended["capabilities"] == card["capabilities"]
    # served at the public card's interfaces, as this caller sees them
    assert extended["supportedInterfaces"] == card["supportedInterfaces"]


def test_extended_card_requires_the_key(binding: Binding) -> None:
    for headers in (None, {"X-API-Key": "not-the-right-key-at-all"}):
        with pytest.raises(CallFailed) as failed:
            binding.call("GetExtendedAgentCard", {}, headers)
        assert "401" in str(failed.value.args) or "-31401" in str(failed.value.args)


def test_other_operations_stay_anonymous(binding: Binding) -> None:
    assert (
        binding.send_task(unique("tck-complete-task"))["status"]["state"] == COMPLETED
    )


def test_extended_card_interfaces_follow_the_request(
    base_url: str, http: httpx.Client
) -> None:
    r = http.post(
        base_url + "/",
        json={"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard"},
        headers={
            **V1,
            **KEY,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "tck.example",
        },
    )
    urls = [i["url"] for i in r.json()["result"]["supportedInterfaces"]]
    assert urls == ["https://tck.example/", "https://tck.example"]


def test_accord_serve_loads_the_agent(tmp_path: Path) -> None:
    app, label = _load(tmp_path / "tasks.db")
    assert isinstance(app, A2AApp)
    assert label == f"{AGENT_FILE}:create_app"
    assert app.agent.name == "Accord TCK conformance agent"
    assert app.agent.streaming
    assert app.agent.push_notifications
    assert app.agent.declare_extended_card
    assert app.agent.extended_card is not None


def test_no_required_extension_by_default(card: dict[str, Any]) -> None:
    assert not card["capabilities"].get("extensions")


def test_required_extension_mode_refuses_messages_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: httpx.Client
) -> None:
    """``TCK_REQUIRED_EXTENSION=1``: what the suite's CORE-CAP-004 tests expect."""
    monkeypatch.setenv("TCK_REQUIRED_EXTENSION", "1")
    app, _ = _load(tmp_path / "tasks.db")
    uri = "urn:a2a:tck:required-extension"
    with serve_in_thread(app) as url:
        card = http.get(url + "/.well-known/agent-card.json").json()
        assert card["capabilities"]["extensions"] == [
            {
                "uri": uri,
                "description": "Declared for CORE-CAP-004: messages must activate it.",
                "required": True,
            }
        ]
        message = {
            "messageId": unique("tck-complete-task"),
            "role": "ROLE_USER",
            "parts": [{"text": "extension test"}],
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage"}
        refused = http.post(
            url + "/",
            json={**body, "params": {"message": message}},
            headers={"A2A-Version": "1.0"},
        ).json()
        assert refused["error"]["code"] == -32008
        message["messageId"] = unique("tck-complete-task")
        served = http.post(
            url + "/",
            json={**body, "params": {"message": message}},
            headers={"A2A-Version": "1.0", "A2A-Extensions": uri},
        ).json()
        assert served["result"]["task"]["status"]["state"] == COMPLETED


def _v03(
    http: httpx.Client, url: str, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": "legacy", "method": method, "params": params}
    answer: dict[str, Any] = http.post(url + "/", json=body).json()
    return answer


def test_v03_messages_behave_as_the_legacy_reference_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: httpx.Client
) -> None:
    monkeypatch.setenv("TCK_LEGACY_STEP", "0.01")
    app, _ = _load(tmp_path / "tasks.db")
    message = {
        "kind": "message",
        "messageId": unique("legacy"),
        "role": "user",
        "parts": [{"kind": "text", "text": "hello there"}],
    }
    with serve_in_thread(app) as url:
        blocking = {"blocking": True}
        params = {"message": message, "configuration": blocking}
        task = _v03(http, url, "message/send", params)["result"]
        follow = {
            **message,
            "messageId": unique("legacy-2"),
            "taskId": task["id"],
            "parts": [{"kind": "text", "text": "how are you"}],
        }
        again = _v03(
            http, url, "message/send", {"message": follow, "configuration": blocking}
        )
    assert task["kind"] == "task"
    assert task["status"]["state"] == "completed"
    assert task["artifacts"][0]["name"] == "response"
    assert task["artifacts"][0]["parts"] == [
        {"kind": "text", "text": "Hello World! Nice to meet you!"}
    ]
    # A follow-up to a COMPLETED task is refused, as for any terminal task.
    assert again["error"]["code"] == -32004


def test_v03_messages_can_be_canceled_during_the_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: httpx.Client
) -> None:
    monkeypatch.setenv("TCK_LEGACY_STEP", "30")
    app, _ = _load(tmp_path / "tasks.db")
    message = {
        "kind": "message",
        "messageId": unique("legacy-cancel"),
        "role": "user",
        "parts": [{"kind": "text", "text": "take your time"}],
    }
    with serve_in_thread(app) as url:
        params = {"message": message, "configuration": {"blocking": False}}
        started = _v03(http, url, "message/send", params)["result"]
        canceled = _v03(http, url, "tasks/cancel", {"id": started["id"]})["result"]
    assert started["status"]["state"] in ("submitted", "working")
    assert canceled["status"]["state"] == "canceled"


def test_v03_card_members_only_with_tck_v03_card(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http: httpx.Client,
    card: dict[str, Any],
) -> None:
    assert "url" not in card  # the v1.0 suite's schema admits no other members
    monkeypatch.setenv("TCK_V03_CARD", "1")
    app, _ = _load(tmp_path / "tasks.db")
    with serve_in_thread(app) as url:
        legacy = http.get(url + "/.well-known/agent-card.json").json()
    assert (legacy["url"], legacy["protocolVersion"]) == (url + "/", "0.3.0")


def test_push_notifications_reach_the_suites_localhost_webhook(
    binding: Binding,
) -> None:
    # The suite's receiver listens on http://localhost:PORT/webhook, which the agent's
    # allow-list admits (plain http, a loopback name): the TCK's PUSH-DELIVER tests.
    with receiver() as hook:
        webhook = hook.url.replace("127.0.0.1", "localhost")
        task = binding.call(
            "SendMessage",
            {
                "message": {
                    "messageId": unique("tck-complete-task"),
                    "role": "ROLE_USER",
                    "parts": [{"text": "push me"}],
                },
                "configuration": {
                    "taskPushNotificationConfig": {"url": webhook, "token": "tck"}
                },
            },
        )["task"]
        got = hook.wait_for(
            lambda notes: any(
                n.body.get("statusUpdate", {}).get("status", {}).get("state")
                == COMPLETED
                for n in notes
            ),
            "the completed status",
        )
    assert got[0].body["task"]["id"] == task["id"]
    assert got[0].headers["x-a2a-notification-token"] == "tck"
