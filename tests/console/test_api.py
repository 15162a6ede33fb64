"""The console's JSON/SSE API against the Receptionist, both on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.console import ConsoleApp, ConsoleLimits
from accord.security import JWK, TrustStore
from tests.helpers.examples import RECEPTIONIST_KEY
from tests.helpers.uvicorn_thread import serve_in_thread

from .conftest import SIGNING_KEY, Steps, make_tasks

#: The HTTP clients a test opened (each one a browser session), closed after it.
_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _browser(console: str) -> httpx.Client:
    """A new session: an HTTP client with its own cookie jar."""
    client = httpx.Client(base_url=console, timeout=30)
    _OPEN.append(client)
    return client


def _connected(console: str) -> httpx.Client:
    client = _browser(console)
    answer = client.post(
        "/api/connect", json={"url": _agent(client), "apiKey": RECEPTIONIST_KEY}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["connected"] is True
    return client


def _agent(client: httpx.Client) -> str:
    return str(client.get("/api/state").json()["agentUrl"])


def _events(
    client: httpx.Client, path: str, body: dict[str, Any]
) -> list[tuple[str, Any]]:
    """The SSE events of a streaming answer, as (event name, decoded data)."""
    events: list[tuple[str, Any]] = []
    with client.stream("POST", path, json=body) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"] == "text/event-stream"
        name = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
    return events


def _final_state(events: list[tuple[str, Any]]) -> str:
    states = [
        data["statusUpdate"]["status"]["state"]
        for name, data in events
        if name == "a2a" and "statusUpdate" in data
    ]
    return str(states[-1])


def test_the_page_and_its_assets_are_served_with_a_strict_policy(console: str) -> None:
    page = httpx.get(console + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'src="assets/console.js"' in page.text
    assert (
        httpx.get(console + "/assets/console.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert httpx.get(console + "/assets/console.css").status_code == 200
    assert httpx.get(console + "/assets/../app.py").status_code == 404
    assert httpx.get(console + "/nowhere").status_code == 404
    assert httpx.post(console + "/", json={}).status_code == 405


def test_connect_shows_the_card_then_asks_for_the_credentials(
    console: str, agent: str
) -> None:
    client = _browser(console)
    assert _agent(client) == agent
    answer = client.post("/api/connect", json={"url": agent})
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["card"]["name"] == "Receptionist"
    assert shown["connected"] is False
    assert "apiKey" in shown["problem"]
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    # The card's signature verifies with the key the agent publishes: self-signed.
    assert shown["signature"]["status"] == "self-signed"
    assert "receptionist-test" in shown["signature"]["detail"]
    levels = {c["message"]: c["level"] for c in shown["checks"]}
    assert levels["3 skill(s)"] == "ok"
    assert levels["credentials required: apiKey"] == "ok"
    again = client.post("/api/connect", json={"url": agent, "apiKey": RECEPTIONIST_KEY})
    assert again.json()["connected"] is True
    assert "set-cookie" not in again.headers  # the same session
    assert client.get("/api/state").json()["connection"]["connected"] is True
    assert client.post("/api/disconnect", json={}).json() == {"connected": False}
    assert client.get("/api/state").json()["connection"] is None


@pytest.mark.parametrize(
    ("keys", "status", "usable"),
    [
        ((SIGNING_KEY.public(),), "verified", True),
        ((JWK.generate("ES256", kid="receptionist-test").public(),), "invalid", False),
    ],
    ids=["trusted", "another-key"],
)
def test_signatures_are_checked_against_trusted_keys(
    agent: str, keys: tuple[JWK, ...], status: str, usable: bool
) -> None:
    with serve_in_thread(ConsoleApp(trust=TrustStore(keys=keys))) as console:
        answer = httpx.post(
            console + "/api/connect", json={"url": agent, "apiKey": RECEPTIONIST_KEY}
        )
    shown = answer.json()
    assert shown["signature"]["status"] == status
    assert shown["usable"] is usable
    assert shown["connected"] is usable


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/",
        "http://user:pw@127.0.0.1:1/",
        "ftp://127.0.0.1/",
    ],
)
def test_agent_urls_go_through_the_egress_policy(console: str, url: str) -> None:
    answer = httpx.post(console + "/api/connect", json={"url": url})
    assert answer.status_code == 403, answer.text
    assert answer.json()["kind"] == "EgressRefused"


def test_a_message_streams_back_and_is_recorded(console: str) -> None:
    client = _connected(console)
    events = _events(
        client,
        "/api/send",
        {"data": {"skill": "fetch_call_summary", "callId": "call-1001"}},
    )
    assert events[-1] == ("end", {"reason": "done"})
    names = [next(iter(data)) for name, data in events if name == "a2a"]
    assert names[0] == "task"
    assert "artifactUpdate" in names
    assert names.count("statusUpdate") >= 3  # the progress steps, then the end
    assert _final_state(events) == "TASK_STATE_COMPLETED"
    task_id = events[0][1]["task"]["id"]
    detail = client.get(f"/api/tasks/{task_id}").json()
    assert detail["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [e["kind"] for e in detail["timeline"]][:2] == ["task", "status"]
    assert detail["push"] == {"configs": [], "error": ""}
    assert [a["operation"] for a in detail["audit"]] == [
        "SendStreamingMessage",
        "GetTask",
        "ListTaskPushNotificationConfigs",
    ]
    assert detail["agentAudit"] is None
    audit = client.get("/api/audit").json()["entries"]
    assert {e["kind"] for e in audit} == {"call"}
    # The raw view shows the exchanges, and never the API key.
    raw = client.get("/api/raw").json()["exchanges"]
    sent = [x for x in raw if x["method"] == "POST"]
    assert sent
    assert "SendStreamingMessage" in sent[0]["requestBody"]
    assert ["x-api-key", "[redacted]"] in sent[0]["requestHeaders"]
    assert "event:" in sent[0]["responseBody"] or "data:" in sent[0]["responseBody"]
    newer = client.get("/api/raw", params={"after": str(raw[-1]["id"])}).json()
    assert newer["exchanges"] == []
    for path in ("/api/raw", "/api/audit", "/api/state", f"/api/tasks/{task_id}"):
        assert RECEPTIONIST_KEY not in client.get(path).text


def test_input_required_is_answered_on_the_same_task(console: str) -> None:
    client = _connected(console)
    first = _events(client, "/api/send", {"text": "Schedule a callback"})
    assert _final_state(first) == "TASK_STATE_INPUT_REQUIRED"
    task = first[0][1]["task"]
    second = _events(
        client,
        "/api/send",
        {
            "text": "+1 415 555 0123 on 2026-12-01 14:00-15:00",
            "taskId": task["id"],
            "contextId": task["contextId"],
        },
    )
    assert _final_state(second) == "TASK_STATE_COMPLETED"
    ids = {
        data["statusUpdate"]["taskId"]
        for name, data in second
        if "statusUpdate" in data
    }
    assert ids == {task["id"]}
    listed = client.get("/api/tasks", params={"state": "TASK_STATE_COMPLETED"}).json()
    assert task["id"] in [t["id"] for t in listed["tasks"]]
    none = client.get("/api/tasks", params={"state": "TASK_STATE_CANCELED"}).json()
    assert none["tasks"] == []
    assert client.get("/api/tasks", params={"state": "SLEEPY"}).status_code == 400


def test_a_running_task_is_canceled(console: str, steps: Steps) -> None:
    client = _connected(console)
    steps.hold()
    seen: list[str] = []
    with client.stream(
        "POST", "/api/send", json={"text": "Summary of call-1001"}
    ) as answer:
        lines = answer.iter_lines()
        for line in lines:  # until the first progress step: the task is WORKING
            if line.startswith("data: ") and "TASK_STATE_WORKING" in line:
                seen.append(json.loads(line[6:])["statusUpdate"]["taskId"])
                break
        canceled = client.post(f"/api/tasks/{seen[0]}/cancel", json={})
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"]["state"] == "TASK_STATE_CANCELED"
        rest = "\n".join(lines)
    assert "TASK_STATE_CANCELED" in rest
    assert "event: end" in rest


def test_refusals_are_clear(console: str) -> None:
    client = _browser(console)
    assert client.post("/api/send", json={"text": "hi"}).status_code == 409
    assert client.get("/api/tasks").json()["error"] == "connect to an agent first"
    assert (
        client.post(
            "/api/connect",
            content=b"url=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).status_code
        == 415
    )
    assert (
        client.post(
            "/api/connect", content=b"[1]", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        client.post("/api/connect", json={}).json()["error"] == "give the agent's URL"
    )
    huge = {"url": "x" * (ConsoleLimits().max_body + 1)}
    assert client.post("/api/connect", json=huge).status_code == 413
    foreign = client.post(
        "/api/connect",
        json={"url": "http://127.0.0.1:1"},
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert client.get("/api/nothing").status_code == 404
    connected = _connected(console)
    assert (
        connected.post("/api/send", json={}).json()["error"]
        == "the message is empty: type text or data"
    )
    assert connected.post("/api/send", json={"data": [1]}).status_code == 400
    missing = connected.get("/api/tasks/no-such-task")
    assert missing.status_code == 502
    assert "TASK_NOT_FOUND" in missing.json()["error"]
    assert (
        connected.post(
            "/api/connect", json={"url": "http://127.0.0.1:8000", "binding": "SMTP"}
        ).status_code
        == 400
    )


def test_a_binding_can_be_chosen(console: str, agent: str) -> None:
    client = _browser(console)
    client.post(
        "/api/connect",
        json={"url": agent, "apiKey": RECEPTIONIST_KEY, "binding": "HTTP+JSON"},
    )
    _events(client, "/api/send", {"text": "Summary of call-1002"})
    posts = [
        x for x in client.get("/api/raw").json()["exchanges"] if x["method"] == "POST"
    ]
    assert posts[0]["url"].endswith("/message:stream")


@pytest.fixture
def small_console(agent: str) -> Iterator[str]:
    limits = ConsoleLimits(max_sessions=2, streams_per_session=1)
    with serve_in_thread(ConsoleApp(agent_url=agent, limits=limits)) as url:
        yield url


def test_sessions_are_bounded(small_console: str) -> None:
    first, second, third = (_connected(small_console) for _ in range(3))
    assert third.get("/api/state").json()["connection"] is not None
    assert second.get("/api/state").json()["connection"] is not None
    # The one idle longest was evicted: its connection (and credentials) are gone.
    assert first.get("/api/state").json()["connection"] is None


def test_live_streams_per_session_are_bounded(small_console: str, steps: Steps) -> None:
    client = _connected(small_console)
    steps.hold()
    with client.stream(
        "POST", "/api/send", json={"text": "Summary of call-1001"}
    ) as answer:
        lines = answer.iter_lines()  # kept: a dropped iterator closes the response
        for line in lines:
            if "TASK_STATE_WORKING" in line:
                break
        refused = client.post("/api/send", json={"text": "Summary of call-1002"})
        assert refused.status_code == 429
    # The page left (its response closed, the task still held): the slot is freed
    # once the console sees the disconnect (polled until a deadline).
    steps.free()
    deadline = time.monotonic() + 10
    while (
        again := client.post("/api/send", json={"text": "Summary of call-1003"})
    ).status_code == 429:
        assert time.monotonic() < deadline, "the stream's slot was never freed"
        time.sleep(0.01)
    assert again.status_code == 200
    assert "TASK_STATE_COMPLETED" in again.text


def test_tasks_are_listed_a_page_at_a_time(console: str, agent: str) -> None:
    make_tasks(agent, 3)
    client = _connected(console)
    first = client.get("/api/tasks", params={"pageSize": "2"}).json()
    assert len(first["tasks"]) == 2
    rest = client.get(
        "/api/tasks", params={"pageSize": "2", "pageToken": first["nextPageToken"]}
    ).json()
    assert len(rest["tasks"]) == 1
    assert not rest.get("nextPageToken")
    ids = {t["id"] for t in first["tasks"]} | {t["id"] for t in rest["tasks"]}
    assert len(ids) == 3
    assert len(client.get("/api/tasks", params={"pageSize": "x"}).json()["tasks"]) == 3
