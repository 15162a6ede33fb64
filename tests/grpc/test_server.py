"""The gRPC front end (spec §10): every operation, its errors on the wire, its bounds.

Real ``grpc.aio`` servers on loopback over a real engine; the wire checks call with raw
bytes and read the status and the ``grpc-status-details-bin`` trailer directly.
"""

from __future__ import annotations

import anyio
import pytest
from google.protobuf import json_format

from accord import types as t
from accord.errors import (
    ExtendedAgentCardNotConfiguredError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from accord.grpc import v03
from accord.grpc.messages import METHODS, message_class
from accord.protocol import op
from accord.server.limits import ServerLimits
from grpc import aio

from .helpers import (
    WireError,
    raw_call,
    scripted_agent,
    send_request,
    serve_grpc,
    wire_error,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


async def test_send_get_list_cancel() -> None:
    async with serve_grpc() as s:
        sent = await s.transport.call(op("SendMessage"), send_request("echo hello"))
        task = sent.task
        assert task.status.state is t.TaskState.COMPLETED
        assert task.artifacts[0].parts[0].text == "hello"
        got = await s.transport.call(op("GetTask"), t.GetTaskRequest(id=task.id))
        assert got == task
        listed = await s.transport.call(op("ListTasks"), t.ListTasksRequest())
        assert [x.id for x in listed.tasks] == [task.id]
        waiting = await s.transport.call(
            op("SendMessage"),
            t.replace(
                send_request("wait"),
                configuration=t.SendMessageConfiguration(return_immediately=True),
            ),
        )
        canceled = await s.transport.call(
            op("CancelTask"), t.CancelTaskRequest(id=waiting.task.id)
        )
        assert canceled.status.state is t.TaskState.CANCELED


async def test_reply_is_a_message() -> None:
    async with serve_grpc() as s:
        sent = await s.transport.call(op("SendMessage"), send_request("reply hi there"))
        assert sent.task is None
        assert sent.message.parts[0].text == "hi there"
        assert sent.message.role is t.Role.AGENT


async def test_streaming_send_then_events_in_order() -> None:
    async with serve_grpc() as s:
        events = [
            event
            async for event, event_id in s.transport.stream(
                op("SendStreamingMessage"), send_request("chunks 3")
            )
        ]
    assert events[0].task is not None
    chunks = [e.artifact_update for e in events if e.artifact_update is not None]
    assert [c.artifact.parts[0].text for c in chunks] == [
        "chunk-0 ",
        "chunk-1 ",
        "chunk-2 ",
    ]
    assert [c.append for c in chunks] == [False, True, True]
    assert chunks[-1].last_chunk
    last = events[-1].status_update
    assert last is not None
    assert last.status.state is t.TaskState.COMPLETED


async def test_subscribe_sees_the_cancel() -> None:
    async with serve_grpc() as s:
        sent = await s.transport.call(
            op("SendMessage"),
            t.replace(
                send_request("wait"),
                configuration=t.SendMessageConfiguration(return_immediately=True),
            ),
        )
        task_id = sent.task.id
        states: list[t.TaskState] = []
        subscribed = anyio.Event()

        async def follow() -> None:
            stream = s.transport.stream(
                op("SubscribeToTask"), t.SubscribeToTaskRequest(id=task_id)
            )
            async for event, _ in stream:
                if event.task is not None:
                    subscribed.set()
                    states.append(event.task.status.state)
                elif event.status_update is not None:
                    states.append(event.status_update.status.state)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(follow)
                await subscribed.wait()
                await s.transport.call(
                    op("CancelTask"), t.CancelTaskRequest(id=task_id)
                )
    assert states[0] is t.TaskState.WORKING
    assert states[-1] is t.TaskState.CANCELED


async def test_task_not_found_on_the_wire() -> None:
    async with serve_grpc() as s:
        answer = await raw_call(s.server.url, "GetTask", t.GetTaskRequest(id="t-404"))
        with pytest.raises(TaskNotFoundError) as caught:
            await s.transport.call(op("GetTask"), t.GetTaskRequest(id="t-404"))
    assert isinstance(answer, WireError)
    assert answer.code == "NOT_FOUND"
    assert (answer.reason, answer.domain) == ("TASK_NOT_FOUND", "a2a-protocol.org")
    assert answer.metadata == {"taskId": "t-404"}
    assert caught.value.metadata == {"taskId": "t-404"}


async def test_subscribe_to_unknown_task_is_not_found() -> None:
    async with serve_grpc() as s:
        answer = await raw_call(
            s.server.url, "SubscribeToTask", t.SubscribeToTaskRequest(id="nope")
        )
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == ("NOT_FOUND", "TASK_NOT_FOUND")


@pytest.mark.parametrize(
    ("rpc", "request_value", "reason"),
    [
        (
            "GetTaskPushNotificationConfig",
            t.GetTaskPushNotificationConfigRequest(task_id="t", id="c"),
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
        ),
        (
            "GetExtendedAgentCard",
            t.GetExtendedAgentCardRequest(),
            "UNSUPPORTED_OPERATION",
        ),
    ],
)
async def test_unsupported_is_failed_precondition(
    rpc: str, request_value: object, reason: str
) -> None:
    # spec §5.4 (v1.0.1): FAILED_PRECONDITION; v1.0.0 said UNIMPLEMENTED (docs/interop.md)
    async with serve_grpc() as s:
        answer = await raw_call(s.server.url, rpc, request_value)
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == ("FAILED_PRECONDITION", reason)


async def test_streaming_off_refuses_streams() -> None:
    async with serve_grpc(scripted_agent(streaming=False)) as s:
        with pytest.raises(UnsupportedOperationError):
            async for _ in s.transport.stream(
                op("SendStreamingMessage"), send_request("echo x")
            ):
                pass


async def test_extended_card_not_configured() -> None:
    agent = scripted_agent(declare_extended_card=True)
    async with serve_grpc(agent) as s:
        answer = await raw_call(
            s.server.url, "GetExtendedAgentCard", t.GetExtendedAgentCardRequest()
        )
    # spec §13.3: the extended card always needs authentication, even unconfigured
    assert isinstance(answer, WireError)
    assert answer.code in ("UNAUTHENTICATED", "FAILED_PRECONDITION")
    if answer.code == "FAILED_PRECONDITION":
        assert answer.reason == ExtendedAgentCardNotConfiguredError.__name__


@pytest.mark.parametrize("version", ["0.3", "2.0", "99.0"])
async def test_other_versions_are_refused(version: str) -> None:
    async with serve_grpc() as s:
        answer = await raw_call(
            s.server.url,
            "GetTask",
            t.GetTaskRequest(id="x"),
            metadata=(("a2a-version", version),),
        )
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == (
        "FAILED_PRECONDITION",
        "VERSION_NOT_SUPPORTED",
    )
    assert answer.metadata["supportedVersions"] == "1.0"


async def test_no_version_is_served_as_this_services_version() -> None:
    async with serve_grpc() as s:
        answer = await raw_call(
            s.server.url, "SendMessage", send_request("echo v"), metadata=()
        )
    assert isinstance(answer, bytes)
    response = message_class("SendMessageResponse").FromString(answer)
    assert response.task.status.state == 3  # TASK_STATE_COMPLETED


async def test_bytes_that_are_not_the_message_are_invalid_argument() -> None:
    async with serve_grpc() as s:
        answer = await raw_call(s.server.url, "SendMessage", b"\xff\xff\xff\xff")
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == ("INVALID_ARGUMENT", "PARSE_ERROR")


async def test_an_invalid_request_names_the_field() -> None:
    empty_part = message_class("SendMessageRequest")()
    empty_part.message.message_id = "m-1"
    empty_part.message.role = 1
    empty_part.message.parts.add()  # no content: spec §4.1.6 requires one member
    async with serve_grpc() as s:
        answer = await raw_call(
            s.server.url, "SendMessage", empty_part.SerializeToString()
        )
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == ("INVALID_ARGUMENT", "INVALID_PARAMS")
    assert answer.violations
    assert answer.violations[0][0].startswith("message.parts")


async def test_oversized_requests_are_refused_by_grpc() -> None:
    limits = ServerLimits(max_body_bytes=4096)
    async with serve_grpc(limits=limits) as s:
        answer = await raw_call(s.server.url, "SendMessage", send_request("x" * 10_000))
        fits = await raw_call(s.server.url, "SendMessage", send_request("echo small"))
    assert isinstance(answer, WireError)
    assert answer.code == "RESOURCE_EXHAUSTED"
    assert isinstance(fits, bytes)


async def test_agent_errors_do_not_leak() -> None:
    async with serve_grpc() as s:
        answer = await raw_call(s.server.url, "SendMessage", send_request("boom"))
    assert isinstance(answer, bytes)
    assert b"kaboom" not in answer
    response = message_class("SendMessageResponse").FromString(answer)
    assert response.task.status.state == 4  # TASK_STATE_FAILED


async def test_required_extension_is_activated_by_metadata() -> None:
    uri = "urn:test:required"
    agent = scripted_agent(
        extensions=(t.AgentExtension(uri=uri, required=True),),
    )
    async with serve_grpc(agent) as s:
        refused = await raw_call(s.server.url, "SendMessage", send_request("echo a"))
        served = await raw_call(
            s.server.url,
            "SendMessage",
            send_request("echo b"),
            metadata=(("a2a-version", "1.0"), ("a2a-extensions", f"urn:other, {uri}")),
        )
    assert isinstance(refused, WireError)
    assert (refused.code, refused.reason) == (
        "FAILED_PRECONDITION",
        "EXTENSION_SUPPORT_REQUIRED",
    )
    assert isinstance(served, bytes)


async def test_every_rpc_is_served() -> None:
    async with serve_grpc() as s:
        for name, method in METHODS.items():
            request = method.request()
            answer = await raw_call(s.server.url, name, request.SerializeToString())
            # An empty request is never valid or never names a task: the point is that
            # no rpc is UNIMPLEMENTED (a missing handler) or UNKNOWN (a crash).
            if isinstance(answer, WireError):
                assert answer.code not in ("UNIMPLEMENTED", "UNKNOWN", "INTERNAL"), name
                assert answer.reason is not None, name


async def _v03_call(
    url: str, rpc: str, request: object, version: str | None
) -> WireError | bytes:
    method = v03.METHODS[rpc]
    data = json_format.ParseDict(request, method.request()).SerializeToString()
    metadata = () if version is None else (("a2a-version", version),)
    async with aio.insecure_channel(url) as channel:
        unary: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            f"/{v03.SERVICE}/{rpc}"
        )
        try:
            return await unary(data, metadata=metadata)
        except aio.AioRpcError as exc:
            return wire_error(exc)


async def test_the_v03_service_beside_v1() -> None:
    async with serve_grpc() as s:
        sent = await _v03_call(
            s.server.url,
            "SendMessage",
            {
                "request": {"messageId": "m-v03", "role": "ROLE_USER", "content": [{"text": "echo old"}]},
                "configuration": {"blocking": True},
            },
            None,
        )  # fmt: skip
        assert isinstance(sent, bytes)
        response = v03.METHODS["SendMessage"].response.FromString(sent)
        task_id = response.task.id
        assert response.task.artifacts[0].parts[0].text == "old"
        # The same task over v1.0.
        got = await s.transport.call(op("GetTask"), t.GetTaskRequest(id=task_id))
        assert got.artifacts[0].parts[0].text == "old"
        missing = await _v03_call(
            s.server.url, "GetTask", {"name": "tasks/nope"}, "0.3"
        )
        v1_on_v03 = await _v03_call(
            s.server.url, "GetTask", {"name": f"tasks/{task_id}"}, "1.0"
        )
        bad_name = await _v03_call(s.server.url, "GetTask", {"name": "nope"}, None)
    assert isinstance(missing, WireError)
    # v0.3 clients read the error's class from the message; the details are there too
    assert missing.message == "TaskNotFoundError: Task nope not found"
    assert (missing.code, missing.reason) == ("NOT_FOUND", "TASK_NOT_FOUND")
    assert isinstance(v1_on_v03, WireError)
    assert v1_on_v03.reason == "VERSION_NOT_SUPPORTED"
    assert isinstance(bad_name, WireError)
    assert (bad_name.code, bad_name.reason) == ("INVALID_ARGUMENT", "INVALID_PARAMS")


async def test_over_the_rate_limit_is_resource_exhausted_with_retry_after() -> None:
    from accord.server import RateLimit, RateLimiter

    limiter = RateLimiter(RateLimit(per_second=0.001, burst=1))
    async with serve_grpc(interceptors=[limiter]) as s:
        first = await raw_call(s.server.url, "GetTask", t.GetTaskRequest(id="x"))
        second = await raw_call(s.server.url, "GetTask", t.GetTaskRequest(id="x"))
    assert isinstance(first, WireError)
    assert first.reason == "TASK_NOT_FOUND"  # the first call is served
    assert isinstance(second, WireError)
    assert (second.code, second.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    assert float(second.metadata["retryAfterSeconds"]) > 900
    assert int(second.trailers["retry-after"]) >= 1
