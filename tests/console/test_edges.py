"""The console's edges: blocking agents and files, streams' bounds, failures shown
to the page, sessions' expiry, the raw log's bounds."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.console import ConsoleApp, ConsoleLimits
from accord.console._recording import BODY_LIMIT, Exchange
from accord.console._session import SessionTable
from tests.helpers.cli import closed_port_url
from tests.helpers.examples import RECEPTIONIST_KEY
from tests.helpers.uvicorn_thread import serve_in_thread

from .agents import REPORT, reports_app
from .conftest import Steps


@pytest.fixture
def reports() -> Iterator[str]:
    with serve_in_thread(reports_app()) as url:
        yield url


def _sse(answer: httpx.Response) -> list[tuple[str, str]]:
    """(event name, data) of each event of a whole SSE body; comments as ("#", text)."""
    events = []
    for frame in answer.text.split("\n\n"):
        if frame.startswith(":"):
            events.append(("#", frame[1:].strip()))
            continue
        fields = dict(
            line.split(": ", 1) for line in frame.splitlines() if ": " in line
        )
        if "data" in fields:
            events.append((fields.get("event", "message"), fields["data"]))
    return events


def test_a_blocking_agent_answers_with_one_event_and_its_files(reports: str) -> None:
    with (
        serve_in_thread(ConsoleApp(agent_url=reports)) as console,
        httpx.Client(base_url=console, timeout=30) as page,
    ):
        shown = page.post("/api/connect", json={"url": reports}).json()
        assert shown["connected"] is True
        assert shown["streaming"] is False
        events = _sse(page.post("/api/send", json={"text": "weekly"}))
        assert [name for name, _ in events] == ["a2a", "end"]
        task = json.loads(events[0][1])["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        file, data = (artifact["parts"][0] for artifact in task["artifacts"])
        assert file["filename"] == "report.csv"
        assert base64.b64decode(file["raw"]) == REPORT
        assert data["data"] == {"rows": 1, "asked": "weekly"}
        greeted = _sse(page.post("/api/send", json={"text": "hello"}))
        assert json.loads(greeted[0][1])["message"]["parts"] == [
            {"text": "hello to you"}
        ]
        posts = [
            x for x in page.get("/api/raw").json()["exchanges"] if x["method"] == "POST"
        ]
        assert '"SendMessage"' in posts[0]["requestBody"]


@pytest.fixture
def short_console(agent: str) -> Iterator[str]:
    limits = ConsoleLimits(stream_seconds=0.5, keepalive=0.05)
    with serve_in_thread(ConsoleApp(agent_url=agent, limits=limits)) as url:
        yield url


def test_a_stream_ends_at_its_time_limit_with_keepalives_meanwhile(
    short_console: str, agent: str, steps: Steps
) -> None:
    steps.hold()  # the task never gets past its first step while the stream lasts
    with httpx.Client(base_url=short_console, timeout=30) as page:
        page.post("/api/connect", json={"url": agent, "apiKey": RECEPTIONIST_KEY})
        events = _sse(page.post("/api/send", json={"text": "Summary of call-1001"}))
        assert ("#", "keep-alive") in events
        name, data = events[-1]
        assert name == "end"
        assert json.loads(data)["reason"].startswith("time limit")
        # The task goes on; following it again shows where it is.
        first = next(data for name, data in events if name == "a2a")
        task_id = json.loads(first)["task"]["id"]
        steps.free()
        again = _sse(page.post(f"/api/tasks/{task_id}/subscribe", json={}))
        states = [
            json.loads(d).get("statusUpdate", {}).get("status", {}).get("state")
            for n, d in again
            if n == "a2a"
        ]
        assert "TASK_STATE_COMPLETED" in states


def test_failures_reach_the_page(console: str, agent: str) -> None:
    with httpx.Client(base_url=console, timeout=30) as page:
        # Nothing listens there: the connection is refused, and the raw view says so.
        refused = page.post("/api/connect", json={"url": closed_port_url()})
        assert refused.status_code == 502
        assert refused.json()["kind"] == "ConnectError"
        assert (
            page.get("/api/raw")
            .json()["exchanges"][-1]["error"]
            .startswith("ConnectError")
        )
        # A server that is no agent: the card is not there.
        missing = page.post("/api/connect", json={"url": console + "/elsewhere"})
        assert missing.status_code == 502
        assert "HTTP 404" in missing.json()["error"]
        # Connected without the key the card asks for: no calls until it is given.
        page.post("/api/connect", json={"url": agent})
        blocked = page.post("/api/send", json={"text": "hi"})
        assert blocked.status_code == 409
        assert "apiKey" in blocked.json()["error"]
        assert page.get("/api/tasks/").status_code == 404
        assert page.post("/api/tasks/x/unknown", json={}).status_code == 404


def _not_a_card(content: bytes) -> object:
    """An ASGI app answering every request with ``content`` as JSON."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return app


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"<html>", "is not JSON"), (b'{"name": 7}', "is not a valid agent card")],
    ids=["html", "wrong-type"],
)
def test_a_broken_card_is_shown_as_broken(
    console: str, content: bytes, said: str
) -> None:
    with serve_in_thread(_not_a_card(content)) as broken:
        shown = httpx.post(console + "/api/connect", json={"url": broken}).json()
    assert shown["usable"] is False
    assert shown["connected"] is False
    assert shown["checks"][0]["level"] == "error"
    assert said in shown["checks"][0]["message"]


def test_the_page_of_the_console_may_post(console: str) -> None:
    host = console.removeprefix("http://")
    same = httpx.post(console + "/api/disconnect", json={}, headers={"origin": console})
    assert same.status_code == 200, host


@pytest.mark.anyio
async def test_idle_sessions_expire_and_close() -> None:
    now = [0.0]
    table = SessionTable(ConsoleLimits(session_idle=60), clock=lambda: now[0])
    first = await table.create()
    now[0] = 30.0
    second = await table.create()
    now[0] = 70.0  # the first idle for 70 s, the second for 40 s
    assert await table.get(first.id) is None
    assert await table.get(second.id) is second
    assert len(table) == 1
    assert await table.get(None) is None
    await table.close()
    assert len(table) == 0


def test_limits_are_positive() -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        ConsoleLimits(max_sessions=0)


def test_the_raw_log_keeps_a_bounded_body() -> None:
    exchange = Exchange(1, 0.0, "POST", "http://x/", [], "")
    exchange.add_body(b"a" * (BODY_LIMIT - 1), BODY_LIMIT)
    exchange.add_body(b"bc", BODY_LIMIT)
    exchange.add_body(b"d", BODY_LIMIT)
    assert len(exchange.response_body) == BODY_LIMIT
    assert exchange.to_json()["responseBody"].endswith("b\n[... cut]")


def test_bodies_and_cookies_are_read_with_care(console: str, agent: str) -> None:
    with httpx.Client(base_url=console, timeout=30) as page:
        page.post("/api/connect", json={"url": agent, "apiKey": RECEPTIONIST_KEY})
        page.cookies.set("other", "value")  # the session cookie among others
        assert page.get("/api/state").json()["connection"]["connected"] is True
        json_type = {"content-type": "application/json"}
        assert (
            page.post("/api/send", content=b"{nope", headers=json_type).status_code
            == 400
        )

        def chunks() -> Iterator[bytes]:  # no content-length: read until the limit
            yield b'{"text": "'
            yield b"x" * ConsoleLimits().max_body
            yield b'"}'

        chunked = page.post("/api/send", content=chunks(), headers=json_type)
        assert chunked.status_code == 413
        unsendable = page.post("/api/connect", json={"url": agent, "apiKey": "a\nb"})
        assert unsendable.status_code == 400
        assert "a\nb" not in unsendable.text
        both = page.post(
            "/api/connect",
            json={"url": agent, "apiKey": RECEPTIONIST_KEY, "token": "t"},
        )
        assert both.json()["connected"] is True


def test_agent_errors_arrive_as_stream_events(console: str, agent: str) -> None:
    with httpx.Client(base_url=console, timeout=30) as page:
        assert page.get("/assets/nothing.js").status_code == 404
        page.post("/api/connect", json={"url": agent, "apiKey": RECEPTIONIST_KEY})
        unknown = _sse(page.post("/api/tasks/no-such-task/subscribe", json={}))
        assert [name for name, _ in unknown] == ["error"]
        assert "TASK_NOT_FOUND" in json.loads(unknown[0][1])["error"]
        page.post("/api/connect", json={"url": agent, "apiKey": "not-the-key"})
        refused = _sse(page.post("/api/send", json={"text": "Summary of call-1001"}))
        error = json.loads(refused[-1][1])
        assert error["kind"] == "UnauthenticatedError"
        assert error["error"].startswith("the agent refused the credentials")
        assert "not-the-key" not in json.dumps(page.get("/api/raw").json())
