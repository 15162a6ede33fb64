"""Interceptors on the wire: quota (refuse before), audit (after, with the outcome) and
tracing (around, streams included), on both bindings of a real server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.errors import TaskNotFoundError, UnavailableError
from accord.server import A2AApp, CallInfo, Interceptor, Outcome
from accord.stores import SQLiteTaskStore
from accord.types import SendMessageResponse, text_of

from .conftest import Wire, WireError, serve, user_message
from .scripted import make_agent

#: Seconds to wait for an interceptor to see the end of a call (it runs on the
#: server's thread, after the response's last byte).
DEADLINE = 10.0


class Quota(Interceptor):
    """Refuses SendMessage calls whose text is ``over quota``."""

    async def before(self, call: CallInfo) -> None:
        request = call.request
        if call.operation.name == "SendMessage" and text_of(request.message) == (
            "over quota"
        ):
            raise UnavailableError("Quota exceeded for this caller; retry in a minute")


class Audit(Interceptor):
    """Records every finished call, thread-safely; tests wait for a record."""

    def __init__(self) -> None:
        self.records: list[tuple[CallInfo, Outcome]] = []
        self._changed = threading.Condition()

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        with self._changed:
            self.records.append((call, outcome))
            self._changed.notify_all()

    def find(self, operation: str, marker: str) -> tuple[CallInfo, Outcome]:
        """The record of ``operation`` whose request mentions ``marker`` (waits)."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._match(operation, marker), timeout=DEADLINE
            )
            assert found is not None, f"no {operation} call with {marker} was audited"
            return found

    def _match(self, operation: str, marker: str) -> tuple[CallInfo, Outcome] | None:
        for call, outcome in self.records:
            if call.operation.name == operation and marker in repr(call.request):
                return call, outcome
        return None


class Tracer(Interceptor):
    """Opens a span before a call and closes it after, keyed by the call."""

    def __init__(self) -> None:
        self.open: dict[CallInfo, str] = {}
        self.closed: list[tuple[str, Outcome]] = []
        self._changed = threading.Condition()

    async def before(self, call: CallInfo) -> None:
        self.open[call] = f"{call.binding} {call.operation.name} {call.request!r}"

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        with self._changed:
            self.closed.append((self.open.pop(call), outcome))
            self._changed.notify_all()

    def span(self, marker: str) -> tuple[str, Outcome]:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((s for s in self.closed if marker in s[0]), None),
                timeout=DEADLINE,
            )
            assert found is not None, f"no span closed for {marker}"
            return found


AUDIT, TRACER = Audit(), Tracer()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db: Path = tmp_path_factory.mktemp("interceptors") / "tasks.db"
    # Audit first: it sees what the quota refuses (interceptors nest in this order).
    app = A2AApp(
        make_agent(), store=SQLiteTaskStore(db), interceptors=[AUDIT, Quota(), TRACER]
    )
    with serve(app) as base:
        yield base


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def wire(request: pytest.FixtureRequest, url: str, http: httpx.Client) -> Wire:
    return Wire(url, str(request.param), http)


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


def test_a_quota_refuses_before_the_agent_runs(wire: Wire) -> None:
    context = marker()
    message = user_message("over quota", contextId=context)
    response = wire.http.send(wire.request("SendMessage", {"message": message}))
    assert response.status_code == 503  # on both bindings: a transport-level refusal
    assert response.headers["retry-after"] == "1"
    error = wire.error(response)
    assert "Quota exceeded" in error.message
    if wire.binding == "JSONRPC":
        assert error.code == -31503
    assert wire.call("ListTasks", {"contextId": context})["tasks"] == []
    call, outcome = AUDIT.find("SendMessage", context)
    assert isinstance(outcome.error, UnavailableError)
    assert call.binding == wire.binding
    # The tracer comes after the quota: it never saw the refused call.
    assert not any(
        context in span and "SendMessage" in span for span, _ in TRACER.closed
    )


def test_audit_sees_a_success_with_its_result_and_duration(wire: Wire) -> None:
    context = marker()
    message = user_message("echo audited", contextId=context)
    result = wire.call("SendMessage", {"message": message})
    assert result["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    call, outcome = AUDIT.find("SendMessage", context)
    assert outcome.ok
    assert not outcome.streamed
    assert isinstance(outcome.result, SendMessageResponse)
    assert outcome.result.task is not None
    assert outcome.result.task.id == result["task"]["id"]
    assert outcome.duration > 0
    assert call.principal is None
    assert call.tenant == ""
    assert call.binding == wire.binding


def test_audit_sees_an_error(wire: Wire) -> None:
    missing = marker()
    with pytest.raises(WireError) as raised:
        wire.call("GetTask", {"id": missing})
    assert raised.value.status in (200, 404)
    _call, outcome = AUDIT.find("GetTask", missing)
    assert isinstance(outcome.error, TaskNotFoundError)
    assert outcome.result is None
    assert outcome.duration > 0


def test_audit_and_tracing_see_a_stream_end_with_its_event_count(wire: Wire) -> None:
    context = marker()
    message = user_message("chunks 4", contextId=context)
    events = wire.stream("SendStreamingMessage", {"message": message})
    _, outcome = AUDIT.find("SendStreamingMessage", context)
    assert outcome.ok
    assert outcome.streamed
    assert outcome.finished
    assert outcome.events == len(events)
    span, traced = TRACER.span(context)
    assert span.startswith(f"{wire.binding} SendStreamingMessage")
    assert traced.events == len(events)


def test_tracing_sees_the_end_of_a_stream_the_client_left(wire: Wire) -> None:
    context = marker()
    message = user_message("wait", contextId=context)
    events = wire.stream("SendStreamingMessage", {"message": message}, limit=1)
    assert len(events) == 1  # the client read the task snapshot, then hung up
    _, outcome = TRACER.span(context)
    assert outcome.streamed
    assert not outcome.finished
    assert outcome.error is None
    task_id = events[0][1]["task"]["id"]
    wire.call("CancelTask", {"id": task_id})  # the task itself was not affected


def test_every_operation_reaches_the_interceptors(wire: Wire) -> None:
    context = marker()
    task = wire.call("SendMessage", {"message": user_message("ask", contextId=context)})
    task_id = task["task"]["id"]
    wire.call("GetTask", {"id": task_id})
    wire.call("ListTasks", {"contextId": context})
    subscribed = wire.stream("SubscribeToTask", {"id": task_id}, limit=1)
    assert subscribed
    wire.call("CancelTask", {"id": task_id})
    for operation in ("GetTask", "SubscribeToTask", "CancelTask"):
        AUDIT.find(operation, task_id)
    AUDIT.find("ListTasks", context)
