"""Receiving push notifications (spec §5.3, §13.2): :func:`verify` refuses every bad
request with the right status and accepts good ones; :class:`WebhookApp` answers over
real HTTP, drops duplicates (also under concurrency) and lets a failed notification be
retried; and a real Accord agent delivers every event of a task to it, once, in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord.client import Client
from accord.client.webhooks import (
    DEFAULT_MAX_AGE,
    Notification,
    NotificationCheck,
    NotificationRefused,
    WebhookApp,
    signing_keys_url,
    task_id_of,
    verify,
)
from accord.egress import EgressPolicy
from accord.protocol.push import (
    MEDIA_TYPE,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_PUSH_EXTENSION,
    TOKEN_HEADER,
)
from accord.security import JWK, JWKSet
from accord.security import push as signed_push
from accord.security.push import sign_notification
from accord.server import A2AApp, Agent, TaskContext
from accord.server.push import PushSettings, generate_key
from accord.stores import SQLiteTaskStore
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentExtension,
    Artifact,
    AuthenticationInfo,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    encode,
)
from tests.helpers.uvicorn_thread import serve_in_thread

HOOK = "https://receiver.example/hook"
TOKEN = "tok-0123456789"
SECRET = "s3cr3t-0123456789"
AUTH = f"Bearer {SECRET}"
TASK = "task-1"
NID = f"{TASK}/c1/1"
KEY = JWK.generate("ES256", kid="agent-key")
KEYS = JWKSet((KEY.public(),))
#: Seconds a test waits for notifications before it fails (a deadline, not an order).
DEADLINE = 20.0

FULL = NotificationCheck(
    token=TOKEN,
    authorization=AUTH,
    keys=KEYS,
    audience=HOOK,
    expected_task=lambda task_id: task_id == TASK,
)


def working(task_id: str = TASK, text: str = "Checking availability") -> StreamResponse:
    message = Message(
        message_id="m1", role=Role.AGENT, task_id=task_id, parts=(Part(text=text),)
    )
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(
            task_id=task_id,
            context_id="ctx",
            status=TaskStatus(state=TaskState.WORKING, message=message),
        )
    )


def request(
    event: StreamResponse | None = None,
    *,
    body: bytes | None = None,
    nid: str | None = NID,
    token: str | None = TOKEN,
    authorization: str | None = AUTH,
    signed: bool = True,
    key: JWK = KEY,
    audience: str = HOOK,
    signed_nid: str | None = None,
    signed_body: bytes | None = None,
    signed_at: float | None = None,
) -> tuple[dict[str, str], bytes]:
    """The headers and body of a webhook request, as an agent sends them."""
    if body is None:
        body = encode(event or working())
    headers = {"Content-Type": MEDIA_TYPE}
    if nid is not None:
        headers[NOTIFICATION_ID_HEADER] = nid
    if token is not None:
        headers[TOKEN_HEADER] = token
    if authorization is not None:
        headers["Authorization"] = authorization
    if signed:
        headers[SIGNATURE_HEADER] = sign_notification(
            body if signed_body is None else signed_body,
            key,
            notification_id=signed_nid or nid or "x",
            audience=audience,
            now=signed_at,
        )
    return headers, body


# -- verify(): refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "status", "reason"),
    [
        pytest.param({"token": None}, 401, f"missing {TOKEN_HEADER}", id="no-token"),
        pytest.param({"token": ""}, 401, f"missing {TOKEN_HEADER}", id="empty-token"),
        pytest.param({"token": "tok-x"}, 401, f"wrong {TOKEN_HEADER}", id="bad-token"),
        pytest.param(
            {"authorization": None}, 401, "missing Authorization", id="no-auth"
        ),
        pytest.param(
            {"authorization": "Bearer other"}, 401, "wrong Authorization", id="bad-auth"
        ),
        pytest.param(
            {"authorization": f"Basic {SECRET}"},
            401,
            "wrong Authorization",
            id="other-scheme",
        ),
        pytest.param(
            {"signed": False}, 401, f"missing {SIGNATURE_HEADER}", id="unsigned"
        ),
        pytest.param(
            {"signed_body": encode(working(text="something else"))},
            401,
            f"bad {SIGNATURE_HEADER}",
            id="tampered",
        ),
        pytest.param(
            {"signed_at": time.time() - DEFAULT_MAX_AGE - 60},
            401,
            "s ago",
            id="expired",
        ),
        pytest.param(
            {"signed_at": time.time() + 3600}, 401, "in the future", id="future"
        ),
        pytest.param(
            {"audience": "https://elsewhere.example/hook"},
            401,
            "signed for 'https://elsewhere.example/hook'",
            id="wrong-audience",
        ),
        pytest.param(
            {"key": JWK.generate("ES256", kid="intruder")},
            401,
            f"bad {SIGNATURE_HEADER}",
            id="unknown-key",
        ),
        pytest.param(
            {"key": JWK(kid="agent-key", alg="ES256", key=JWK.generate("ES256").key)},
            401,
            f"bad {SIGNATURE_HEADER}",
            id="impostor-key",
        ),
        pytest.param(
            {"signed_nid": f"{TASK}/c1/2"},
            401,
            "another notification",
            id="replayed-as-another",
        ),
        pytest.param(
            {"nid": None}, 400, f"missing {NOTIFICATION_ID_HEADER}", id="no-id"
        ),
        pytest.param(
            {"nid": "  "}, 400, f"missing {NOTIFICATION_ID_HEADER}", id="blank"
        ),
        pytest.param({"body": b"not json"}, 400, "not a StreamResponse", id="not-json"),
        pytest.param({"body": b"{}"}, 400, "not a StreamResponse", id="no-member"),
        pytest.param(
            {"body": b'{"task": {"id": "t"}}'},
            400,
            "not a StreamResponse",
            id="incomplete-task",
        ),
        pytest.param(
            {"body": b'{"statusUpdate": {}, "extra": 1}'},
            400,
            "not a StreamResponse",
            id="unknown-field",
        ),
        pytest.param(
            {
                "event": StreamResponse(
                    message=Message(
                        message_id="m", role=Role.AGENT, parts=(Part(text="hi"),)
                    )
                )
            },
            400,
            "names no task",
            id="message-without-task",
        ),
        pytest.param(
            {"event": working("task-2"), "nid": "task-2/c1/1"},
            404,
            "not a task this receiver expects",
            id="unexpected-task",
        ),
    ],
)
def test_verify_refuses(options: dict[str, Any], status: int, reason: str) -> None:
    headers, body = request(**options)
    with pytest.raises(NotificationRefused) as refused:
        verify(FULL, headers, body)
    assert refused.value.status == status
    assert reason in refused.value.reason
    assert TOKEN not in refused.value.reason
    assert SECRET not in refused.value.reason


def test_credentials_are_checked_before_the_body() -> None:
    # A stranger learns nothing about what else the receiver checks.
    headers, body = request(body=b"not json", token="guess", signed=False, nid=None)
    with pytest.raises(NotificationRefused) as refused:
        verify(FULL, headers, body)
    assert (refused.value.status, refused.value.reason) == (
        401,
        f"wrong {TOKEN_HEADER}",
    )


def test_an_old_signature_is_accepted_within_max_age() -> None:
    check = NotificationCheck(keys=KEYS, audience=HOOK, max_age=10.0)
    headers, body = request(signed_at=1_000.0)
    assert verify(check, headers, body, now=1_009.0).signed_by == "agent-key"
    with pytest.raises(NotificationRefused, match="signed 11 s ago"):
        verify(check, headers, body, now=1_011.0)


# -- verify(): acceptance --------------------------------------------------------------


def test_verify_accepts_a_good_notification() -> None:
    headers, body = request()
    notification = verify(FULL, headers, body)
    assert notification.id == NID
    assert notification.task_id == TASK
    assert notification.event == working()
    assert notification.signed_by == "agent-key"
    # The credentials that were checked are not handed on; the rest is.
    assert "authorization" not in notification.headers
    assert TOKEN_HEADER.lower() not in notification.headers
    assert notification.headers["content-type"] == MEDIA_TYPE
    assert SIGNATURE_HEADER.lower() in notification.headers


def test_header_names_may_use_any_case() -> None:
    headers, body = request()
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify(FULL, upper, body).id == NID
    assert verify(FULL, httpx.Headers(headers), body).id == NID


def test_a_check_without_credentials_leaves_the_headers_to_the_handler() -> None:
    headers, body = request(signed=False, event=working("any-task"))
    notification = verify(NotificationCheck(), headers, body)
    assert notification.task_id == "any-task"
    assert notification.signed_by is None
    # Not checked here: the handler may check them itself.
    assert notification.headers["authorization"] == AUTH
    assert notification.headers[TOKEN_HEADER.lower()] == TOKEN


_ARTIFACT = Artifact(artifact_id="a1", name="answer", parts=(Part(text="42"),))


@pytest.mark.parametrize(
    "event",
    [
        StreamResponse(
            task=Task(id="t-task", status=TaskStatus(state=TaskState.SUBMITTED))
        ),
        StreamResponse(
            status_update=TaskStatusUpdateEvent(
                task_id="t-status", status=TaskStatus(state=TaskState.COMPLETED)
            )
        ),
        StreamResponse(
            artifact_update=TaskArtifactUpdateEvent(
                task_id="t-artifact", artifact=_ARTIFACT
            )
        ),
        StreamResponse(
            message=Message(
                message_id="m",
                role=Role.AGENT,
                task_id="t-message",
                parts=(Part(text="hi"),),
            )
        ),
    ],
    ids=["task", "statusUpdate", "artifactUpdate", "message"],
)
def test_the_task_id_comes_from_every_kind_of_event(event: StreamResponse) -> None:
    seen: list[str] = []

    def expected(task_id: str) -> bool:
        seen.append(task_id)
        return True

    check = NotificationCheck(expected_task=expected)
    headers, body = request(event, signed=False)
    notification = verify(check, headers, body)
    assert notification.task_id == task_id_of(event) == seen[0]
    assert seen[0].startswith("t-")
    assert notification.event == event


def test_check_rules() -> None:
    with pytest.raises(ValueError, match="keys and audience go together"):
        NotificationCheck(keys=KEYS)
    with pytest.raises(ValueError, match="keys and audience go together"):
        NotificationCheck(audience=HOOK)
    with pytest.raises(ValueError, match="empty"):
        NotificationCheck(token="")
    with pytest.raises(ValueError, match="max_age"):
        NotificationCheck(max_age=0)
    shown = repr(FULL)
    assert TOKEN not in shown
    assert SECRET not in shown
    assert HOOK in shown


def test_the_default_max_age_is_the_signers() -> None:
    assert DEFAULT_MAX_AGE == signed_push.DEFAULT_MAX_AGE


def _card(*extensions: AgentExtension) -> AgentCard:
    return AgentCard(
        name="Pushy",
        description="pushes",
        version="1.0.0",
        capabilities=AgentCapabilities(push_notifications=True, extensions=extensions),
        default_input_modes=("text/plain",),
        default_output_modes=("text/plain",),
    )


def test_signing_keys_url_reads_the_cards_declaration() -> None:
    other = AgentExtension(uri="urn:example:other", params={"jwksUrl": "x"})
    signed = AgentExtension(
        uri=SIGNED_PUSH_EXTENSION,
        params={"jwksUrl": "https://agent.example/.well-known/jwks.json"},
    )
    assert signing_keys_url(_card()) is None
    assert signing_keys_url(_card(other)) is None
    assert (
        signing_keys_url(_card(other, signed))
        == "https://agent.example/.well-known/jwks.json"
    )
    with pytest.raises(ValueError, match=r"without params\.jwksUrl"):
        signing_keys_url(_card(AgentExtension(uri=SIGNED_PUSH_EXTENSION)))


# -- WebhookApp over real HTTP ---------------------------------------------------------


class Recorder:
    """A thread-safe handler: records each call; fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[Notification] = []
        self.failures = failures
        self._lock = threading.Condition()

    async def __call__(self, notification: Notification) -> None:
        with self._lock:
            self.calls.append(notification)
            self._lock.notify_all()
            if self.failures:
                self.failures -= 1
                raise RuntimeError("handler secret detail")

    def wait_for(
        self, done: Callable[[list[Notification]], bool], what: str
    ) -> list[Notification]:
        with self._lock:
            if not self._lock.wait_for(lambda: done(self.calls), DEADLINE):
                raise AssertionError(
                    f"timed out waiting for {what}; got {[n.id for n in self.calls]}"
                )
            return list(self.calls)


TOKEN_CHECK = NotificationCheck(token=TOKEN, authorization=AUTH)


@pytest.fixture
def served() -> Iterator[tuple[str, WebhookApp, Recorder]]:
    recorder = Recorder()
    app = WebhookApp(recorder, TOKEN_CHECK, max_body_bytes=4096)
    with serve_in_thread(app) as base:
        yield base + "/hook", app, recorder


def test_app_processes_once_and_acknowledges_a_replay(
    served: tuple[str, WebhookApp, Recorder],
) -> None:
    url, _, recorder = served
    headers, body = request(signed=False)
    first = httpx.post(url, headers=headers, content=body)
    again = httpx.post(url, headers=headers, content=body)
    assert (first.status_code, again.status_code) == (204, 200)
    assert [n.id for n in recorder.calls] == [NID]
    assert recorder.calls[0].event == working()


def test_app_refuses_with_the_status_and_a_short_reason(
    served: tuple[str, WebhookApp, Recorder],
) -> None:
    url, _, recorder = served
    headers, body = request(signed=False, token="guess")
    refused = httpx.post(url, headers=headers, content=body)
    assert refused.status_code == 401
    assert refused.text == f"wrong {TOKEN_HEADER}\n"
    assert refused.headers["content-type"] == "text/plain; charset=utf-8"
    assert refused.headers["www-authenticate"] == "Bearer"
    headers, _ = request(signed=False)
    malformed = httpx.post(url, headers=headers, content=b'{"task": 1}')
    assert malformed.status_code == 400
    assert "not a StreamResponse" in malformed.text
    # A repeated credential header is never the one expected.
    repeated = httpx.post(
        url,
        headers=[*headers.items(), (TOKEN_HEADER, TOKEN)],
        content=request(signed=False)[1],
    )
    assert repeated.status_code == 401
    assert recorder.calls == []


def test_app_accepts_only_post(served: tuple[str, WebhookApp, Recorder]) -> None:
    url, _, _ = served
    answer = httpx.get(url)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_app_bounds_the_body(served: tuple[str, WebhookApp, Recorder]) -> None:
    url, _, recorder = served
    headers, _ = request(signed=False)
    big = b"x" * 4097
    assert httpx.post(url, headers=headers, content=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b"x" * 4000
        yield b"x" * 97

    answer = httpx.post(url, headers=headers, content=chunks())
    assert answer.status_code == 413
    assert "over 4096 bytes" in answer.text
    # Credentials are checked before the body is read.
    stranger = {k: v for k, v in headers.items() if k != TOKEN_HEADER}
    assert httpx.post(url, headers=stranger, content=big).status_code == 401
    assert recorder.calls == []


def test_a_failed_handler_answers_500_and_the_retry_is_processed(
    served: tuple[str, WebhookApp, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    url, _, recorder = served
    recorder.failures = 1
    headers, body = request(signed=False)
    failed = httpx.post(url, headers=headers, content=body)
    assert failed.status_code == 500
    assert "secret detail" not in failed.text
    assert "handler failed on notification" in caplog.text
    retried = httpx.post(url, headers=headers, content=body)
    assert retried.status_code == 204
    assert httpx.post(url, headers=headers, content=body).status_code == 200
    assert [n.id for n in recorder.calls] == [NID, NID]


# -- WebhookApp in memory: concurrency -------------------------------------------------


async def deliver(app: WebhookApp, headers: dict[str, str], body: bytes) -> int:
    """One request through the ASGI app; its status."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/hook",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


class Gated:
    """A handler that waits at a gate; it records how many run at once."""

    def __init__(self, fail_first: bool = False) -> None:
        self.gate = anyio.Event()
        self.entered = anyio.Event()
        self.calls = 0
        self.running = 0
        self.most = 0
        self.fail_first = fail_first

    async def __call__(self, notification: Notification) -> None:
        self.calls += 1
        self.running += 1
        self.most = max(self.most, self.running)
        self.entered.set()
        try:
            if self.calls == 1:
                await self.gate.wait()
                if self.fail_first:
                    raise RuntimeError("first attempt fails")
        finally:
            self.running -= 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fail_first", "statuses", "calls"),
    [(False, [204, 200], 1), (True, [500, 204], 2)],
    ids=["first-succeeds", "first-fails"],
)
async def test_simultaneous_deliveries_of_one_id_never_run_together(
    fail_first: bool, statuses: list[int], calls: int
) -> None:
    handler = Gated(fail_first)
    app = WebhookApp(handler, TOKEN_CHECK)
    headers, body = request(signed=False)
    got: dict[str, int] = {}

    async def one(name: str) -> None:
        got[name] = await deliver(app, headers, body)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "first")
        await handler.entered.wait()
        tg.start_soon(one, "second")
        await anyio.wait_all_tasks_blocked()
        # The second is waiting for the first's outcome, not in the handler.
        assert (handler.calls, got) == (1, {})
        handler.gate.set()
    assert [got["first"], got["second"]] == statuses
    assert handler.calls == calls
    assert handler.most == 1


@pytest.mark.anyio
async def test_the_ids_remembered_are_bounded() -> None:
    recorder = Recorder()
    app = WebhookApp(recorder, TOKEN_CHECK, seen=2)

    async def send(nid: str) -> int:
        headers, body = request(signed=False, nid=nid)
        return await deliver(app, headers, body)

    assert [await send(n) for n in ("a", "b", "c", "c", "b")] == [204] * 3 + [200] * 2
    # "a" was forgotten (least recently seen): processed again.
    assert await send("a") == 204
    assert [n.id for n in recorder.calls] == ["a", "b", "c", "a"]


def test_app_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        WebhookApp(Recorder(), TOKEN_CHECK, seen=0)
    with pytest.raises(ValueError, match=">= 1"):
        WebhookApp(Recorder(), TOKEN_CHECK, max_body_bytes=0)


# -- End to end: a real agent delivering to a WebhookApp -------------------------------


async def work(ctx: TaskContext) -> None:
    await ctx.working("Checking availability")
    await ctx.add_artifact("Tuesday at 10", name="slot")
    await ctx.complete("Booked")


def completed(calls: list[Notification]) -> bool:
    return any(
        n.event.status_update is not None
        and n.event.status_update.status.state is TaskState.COMPLETED
        for n in calls
    )


@pytest.fixture
def agent_url(tmp_path: Path) -> Iterator[str]:
    agent = Agent(work, name="Pushy", description="pushes", push_notifications=True)
    settings = PushSettings(
        keys=[generate_key()],
        egress=EgressPolicy(allow=("127.0.0.1",)),
        retry_base=0.01,
        retry_max=0.05,
        poll_interval=0.05,
    )
    app = A2AApp(
        agent,
        store=SQLiteTaskStore(tmp_path / "tasks.db"),
        push=settings,
        card_signer=KEY,
    )
    with serve_in_thread(app) as url:
        yield url


def push_config(url: str) -> SendMessageConfiguration:
    return SendMessageConfiguration(
        task_push_notification_config=TaskPushNotificationConfig(
            id="c1",
            url=url,
            token=TOKEN,
            authentication=AuthenticationInfo(scheme="Bearer", credentials=SECRET),
        )
    )


def send(agent_url: str, hook_url: str) -> Task:
    async def go() -> Task:
        async with await Client.connect(agent_url) as client:
            result = await client.send_message(
                "book a slot", configuration=push_config(hook_url)
            )
        assert isinstance(result, Task)
        return result

    return anyio.run(go)


def test_an_agent_delivers_every_event_once_in_order(agent_url: str) -> None:
    recorder = Recorder()
    hook = WebhookApp(recorder, TOKEN_CHECK)
    with serve_in_thread(hook) as base:
        hook_url = base + "/hook"
        # The port is known now: require the agent's signatures, made for this URL.
        hook.check = NotificationCheck(
            token=TOKEN, authorization=AUTH, keys=KEYS, audience=hook_url
        )
        task = send(agent_url, hook_url)
        calls = recorder.wait_for(completed, "the completed status")
        ids = [n.id for n in calls]
        assert ids == [f"{task.id}/c1/{seq}" for seq in range(1, len(calls) + 1)]
        assert all(n.task_id == task.id for n in calls)
        assert all(n.signed_by == "agent-key" for n in calls)
        kinds = [
            (
                "task"
                if n.event.task
                else "artifact"
                if n.event.artifact_update
                else n.event.status_update.status.state.name
                if n.event.status_update
                else "message"
            )
            for n in calls
        ]
        assert kinds[0] == "task"
        assert kinds[1:] == ["WORKING", "artifact", "COMPLETED"]
        # A replay of a delivered notification (its very bytes and headers) is
        # acknowledged and not handled again.
        last = calls[-1]
        headers = {
            name: last.headers[name.lower()]
            for name in ("Content-Type", NOTIFICATION_ID_HEADER, SIGNATURE_HEADER)
        }
        headers |= {TOKEN_HEADER: TOKEN, "Authorization": AUTH}
        replay = httpx.post(hook_url, headers=headers, content=encode(last.event))
        assert replay.status_code == 200
        assert len(recorder.calls) == len(calls)


def test_a_failed_handler_makes_the_agent_retry(agent_url: str) -> None:
    recorder = Recorder(failures=1)
    hook = WebhookApp(recorder, TOKEN_CHECK)
    with serve_in_thread(hook) as base:
        task = send(agent_url, base + "/hook")
        calls = recorder.wait_for(completed, "the completed status")
    first = f"{task.id}/c1/1"
    # The first attempt failed (500), the agent sent it again, then the rest.
    assert [n.id for n in calls[:2]] == [first, first]
    assert [n.id for n in calls[1:]] == [
        f"{task.id}/c1/{seq}" for seq in range(1, len(calls))
    ]
