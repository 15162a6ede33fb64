"""``accord push listen``: the real console script in a child process, as a person or a
script runs it. It prints the webhook URL once listening, one line per notification
(human or ``--json``), nothing for a refused request (whose reason goes to stderr),
checks an agent's signatures with ``--agent``, ends quietly when its reader goes
away, and exits 0 on SIGINT / SIGTERM without a traceback."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import httpx
import pytest

from accord.cli.commands.push import human_line, json_line
from accord.client.webhooks import Notification
from accord.protocol.push import (
    MEDIA_TYPE,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_PUSH_EXTENSION,
    TOKEN_HEADER,
)
from accord.security import JWK, JWKSet
from accord.security.push import sign_notification
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    AgentInterface,
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    encode,
)
from tests.helpers.cli import closed_port_url, run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

#: Seconds to wait for a line or for the process to end (a deadline, not an order).
DEADLINE = 20.0
TOKEN = "tok-0123456789"
TASK = "3f2a9b8c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
KEY = JWK.generate("ES256", kid="agent-key")
_CLOCK = r"\d\d:\d\d:\d\d"


def status(text: str = "Checking availability") -> StreamResponse:
    message = Message(message_id="m1", role=Role.AGENT, parts=(Part(text=text),))
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(
            task_id=TASK, status=TaskStatus(state=TaskState.WORKING, message=message)
        )
    )


def artifact(*, append: bool = False, last_chunk: bool = False) -> StreamResponse:
    return StreamResponse(
        artifact_update=TaskArtifactUpdateEvent(
            task_id=TASK,
            artifact=Artifact(artifact_id="a1", name="slot", parts=(Part(text="10"),)),
            append=append,
            last_chunk=last_chunk,
        )
    )


class Listener:
    """``accord push listen`` in a child process; threads read its output lines."""

    def __init__(self, *argv: str, stdout: int | None = subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "accord.cli", "push", "listen", *argv],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str | None] = queue.Queue()
        self.err: queue.Queue[str | None] = queue.Queue()
        self.errors: list[str] = []
        self._readers = [
            self._read(pipe, lines)
            for pipe, lines in (
                (self.process.stdout, self.out),
                (self.process.stderr, self.err),
            )
            if pipe is not None
        ]
        try:
            self.url = self._until("Webhook URL: ").removeprefix("Webhook URL: ")
        except BaseException:
            self.kill()
            raise

    def _read(self, pipe: IO[str], lines: queue.Queue[str | None]) -> threading.Thread:
        def pump() -> None:
            for line in pipe:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        return thread

    def _until(self, prefix: str) -> str:
        """The next stderr line starting with ``prefix`` (earlier ones are kept)."""
        while True:
            line = self.err_line()
            if line.startswith(prefix):
                return line

    def err_line(self) -> str:
        line = self.err.get(timeout=DEADLINE)
        if line is None:
            raise AssertionError(f"stderr ended; it said: {self.errors}")
        self.errors.append(line)
        return line

    def out_line(self) -> str:
        line = self.out.get(timeout=DEADLINE)
        assert line is not None, f"stdout ended; stderr: {self.errors}"
        return line

    def post(
        self,
        event: StreamResponse,
        nid: str,
        *,
        token: str | None = TOKEN,
        audience: str | None = None,
        **headers: str,
    ) -> httpx.Response:
        body = encode(event)
        sent = {"Content-Type": MEDIA_TYPE, NOTIFICATION_ID_HEADER: nid, **headers}
        if token is not None:
            sent[TOKEN_HEADER] = token
        if audience is not None:
            sent[SIGNATURE_HEADER] = sign_notification(
                body, KEY, notification_id=nid, audience=audience
            )
        return httpx.post(self.url, headers=sent, content=body, timeout=DEADLINE)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum``; the exit code and what was printed after the lines read."""
        self.process.send_signal(signum)
        return self.wait()

    def wait(self) -> tuple[int, str, str]:
        code = self.process.wait(timeout=DEADLINE)
        self._close()
        return code, _drain(self.out), "\n".join([*self.errors, _drain(self.err)])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        """Join the readers (the pipes end with the process) and close the pipes."""
        for reader in self._readers:
            reader.join(DEADLINE)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _drain(lines: queue.Queue[str | None]) -> str:
    rest: list[str] = []
    while not lines.empty():
        line = lines.get_nowait()
        if line is not None:
            rest.append(line)
    return "\n".join(rest)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    """Listeners a test starts; killed if the test left one running."""
    started: list[Listener] = []
    yield started
    for listener in started:
        listener.kill()


def test_prints_each_notification_once_and_refuses_a_wrong_token(
    listeners: list[Listener],
) -> None:
    listener = Listener("--port", "0", "--token", TOKEN)
    listeners.append(listener)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", listener.url)
    assert listener.err_line() == "Checking: the token (X-A2A-Notification-Token)"

    refused = listener.post(status(), f"{TASK}/c/1", token="guess")
    assert refused.status_code == 401
    assert refused.text == f"wrong {TOKEN_HEADER}\n"
    assert listener.post(status(), f"{TASK}/c/1").status_code == 204
    # The first line printed is the accepted one: nothing for the refused request.
    assert re.fullmatch(
        rf'{_CLOCK} task {TASK} status WORKING "Checking availability"',
        listener.out_line(),
    )
    assert listener.post(status(), f"{TASK}/c/1").status_code == 200  # a duplicate
    assert listener.post(artifact(last_chunk=True), f"{TASK}/c/2").status_code == 204
    assert re.fullmatch(
        rf'{_CLOCK} task {TASK} artifact "slot" \(last chunk\)', listener.out_line()
    )

    code, out, err = listener.stop(signal.SIGINT)
    assert code == 0, err
    assert out == ""
    assert f"refused a push notification (401): wrong {TOKEN_HEADER}" in err
    assert "Traceback" not in err
    assert TOKEN not in err


def test_json_lines(listeners: list[Listener]) -> None:
    listener = Listener("--json", "--authorization", "Bearer s3cr3t")
    listeners.append(listener)
    event = status("Looking")
    answer = listener.post(
        event, f"{TASK}/c/1", token=None, Authorization="Bearer s3cr3t"
    )
    assert answer.status_code == 204
    line = json.loads(listener.out_line())
    assert line["id"] == f"{TASK}/c/1"
    assert line["taskId"] == TASK
    assert line["event"] == json.loads(encode(event))
    assert line["signedBy"] is None
    assert line["receivedAt"].endswith("Z")
    assert line["headers"]["content-type"] == MEDIA_TYPE
    assert "authorization" not in line["headers"]
    wrong = listener.post(event, f"{TASK}/c/2", token=None, Authorization="Bearer x")
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    code, out, err = listener.stop(signal.SIGTERM)
    assert (code, out) == (0, ""), err
    assert "Traceback" not in err
    assert "s3cr3t" not in err


async def _card_app(scope: Any, receive: Any, send: Any) -> None:
    """An agent's card declaring signed push notifications, and its JWK Set."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    base = f"http://{scope['server'][0]}:{scope['server'][1]}"
    if scope["path"] == "/jwks.json":
        body = json.dumps(JWKSet((KEY.public(),)).to_dict()).encode()
    else:
        card = AgentCard(
            name="Pushy",
            description="pushes",
            version="1.0.0",
            supported_interfaces=(
                AgentInterface(
                    url=base, protocol_binding="JSONRPC", protocol_version="1.0"
                ),
            ),
            capabilities=AgentCapabilities(
                push_notifications=True,
                extensions=(
                    AgentExtension(
                        uri=SIGNED_PUSH_EXTENSION,
                        params={"jwksUrl": base + "/jwks.json"},
                    ),
                ),
            ),
            default_input_modes=("text/plain",),
            default_output_modes=("text/plain",),
        )
        body = encode(card)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_agent_signatures_are_required(listeners: list[Listener]) -> None:
    with serve_in_thread(_card_app) as agent:
        listener = Listener("--agent", agent, "--json")
        listeners.append(listener)
    url = listener.url
    assert listener.err_line() == "Checking: signatures by Pushy"
    assert listener.err_line() == f"Keys: {agent}/jwks.json"
    assert url in listener.err_line()  # the audience signatures must name

    unsigned = listener.post(status(), f"{TASK}/c/1")
    assert unsigned.status_code == 401
    assert unsigned.text == f"missing {SIGNATURE_HEADER}\n"
    elsewhere = listener.post(status(), f"{TASK}/c/1", audience="http://other/")
    assert elsewhere.status_code == 401
    assert listener.post(status(), f"{TASK}/c/1", audience=url).status_code == 204
    line = json.loads(listener.out_line())
    assert line["signedBy"] == "agent-key"
    assert SIGNATURE_HEADER.lower() in line["headers"]
    code, out, err = listener.stop()
    assert (code, out) == (0, ""), err
    assert "signed for 'http://other/', not this receiver" in err


def test_a_reader_that_goes_away_ends_it_quietly(listeners: list[Listener]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        listener = Listener("--token", TOKEN, stdout=write_end)
    finally:
        os.close(write_end)
    listeners.append(listener)
    # Not printed, so not acknowledged: the agent will send it again.
    assert listener.post(status(), f"{TASK}/c/1").status_code == 500
    code, _, err = listener.wait()
    assert code == 141, err
    assert "Traceback" not in err
    assert "Exception" not in err


# -- in-process: usage errors and the line formats -------------------------------------


def test_audience_needs_agent(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "push", "listen", "--audience", "http://127.0.0.1:9/")
    assert result.code == 2
    assert "--audience" in result.err
    assert "needs --agent" in result.err


def test_a_busy_port_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(capsys, "push", "listen", "--port", str(port))
    assert result.code == 2
    assert "pick another --port (0 picks a free one)" in result.err


def test_an_unreachable_agent(capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    result = run_cli(capsys, "push", "listen", "--agent", url)
    assert result.code == 3
    assert f"cannot connect to {url}" in result.err
    assert "Traceback" not in result.err


def _notification(event: StreamResponse) -> Notification:
    return Notification(id=f"{TASK}/c/1", task_id=TASK, event=event)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            StreamResponse(
                task=Task(id=TASK, status=TaskStatus(state=TaskState.SUBMITTED))
            ),
            "snapshot SUBMITTED",
        ),
        (status("line one\nline two"), 'status WORKING "line one\\nline two"'),
        (status("x" * 100), f'status WORKING "{"x" * 59}…"'),
        (artifact(), 'artifact "slot"'),
        (
            artifact(append=True, last_chunk=True),
            'artifact "slot" (append, last chunk)',
        ),
        (
            StreamResponse(
                message=Message(
                    message_id="m",
                    role=Role.AGENT,
                    task_id=TASK,
                    parts=(Part(text="hi"),),
                )
            ),
            'message "hi"',
        ),
    ],
    ids=["snapshot", "status", "long-status", "artifact", "chunk", "message"],
)
def test_human_lines(event: StreamResponse, expected: str) -> None:
    when = 1_700_000_000.0
    line = human_line(_notification(event), when=when)
    assert re.fullmatch(rf"{_CLOCK} task {TASK} {re.escape(expected)}", line)
    short = human_line(_notification(event), when=when, short=True)
    assert f" task {TASK[:8]}… " in short


def test_json_line_leaves_credentials_out() -> None:
    notification = Notification(
        id="n",
        task_id=TASK,
        event=status(),
        signed_by="k",
        headers={
            "authorization": "Bearer s",
            "x-a2a-notification-token": "t",
            "a": "b",
        },
    )
    line = json.loads(json_line(notification, when=0.0))
    assert line["headers"] == {"a": "b"}
    assert line["receivedAt"] == "1970-01-01T00:00:00.000Z"
    assert line["signedBy"] == "k"


def test_help_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "push", "listen", "--help")
    assert result.code == 0
    assert "--token" in result.out
    assert "--agent" in result.out
