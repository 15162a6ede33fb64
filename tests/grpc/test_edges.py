"""The gRPC binding's edges: a stalled reader, unexpected errors, odd trailers, binding."""

from __future__ import annotations

import socket

import anyio
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from accord import types as t
from accord.errors import InternalError, TaskNotFoundError
from accord.grpc import GrpcServer
from accord.grpc.messages import METHODS, message_class, to_proto
from accord.grpc.server import _peer
from accord.grpc.status import DETAILS_KEY, from_status, to_status
from accord.server import Agent, Engine, TaskContext
from accord.server.interceptors import CallInfo, Interceptor, Outcome
from accord.stores import Scope
from grpc import StatusCode, aio

from .helpers import WireError, raw_call, send_request, serve_grpc

pytestmark = pytest.mark.anyio

#: One artifact of the flood agent; 40 of them are far beyond any HTTP/2 window.
CHUNK = "x" * (1024 * 1024)


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


class Ends(Interceptor):
    """Sets :attr:`closed` when a stream closes, with how it ended."""

    def __init__(self) -> None:
        self.closed = anyio.Event()
        self.outcome: Outcome | None = None

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        if call.operation.streaming:
            self.outcome = outcome
            self.closed.set()


async def test_a_reader_that_stops_reading_loses_its_stream_not_the_task() -> None:
    agent = Agent(name="Flood", description="floods its stream", streaming=True)

    @agent.executor
    async def flood(ctx: TaskContext) -> None:
        for _ in range(40):
            await ctx.add_artifact(CHUNK, name="big")
        await ctx.complete()

    ends = Ends()
    async with serve_grpc(
        agent, interceptors=[ends], server={"write_timeout": 0.5}
    ) as s:
        data = to_proto(send_request("flood")).SerializeToString()
        async with aio.insecure_channel(
            s.server.url, options=(("grpc.max_receive_message_length", -1),)
        ) as channel:
            stream: aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(
                METHODS["SendStreamingMessage"].path
            )
            call = stream(data, metadata=(("a2a-version", "1.0"),))
            with anyio.fail_after(20):
                await ends.closed.wait()  # the server gave up on this reader
            received = [m async for m in call]
        assert ends.outcome is not None
        assert ends.outcome.finished is False
        events = [message_class("StreamResponse").FromString(m) for m in received]
        assert len(events) < 42  # the task, 40 artifacts, COMPLETED: not all of them
        assert not any(e.HasField("status_update") for e in events)
        # The task itself ran to its end.
        with anyio.fail_after(20):
            record = await s.engine.handler.await_state(
                events[0].task.id,
                Scope(tenant="", owner=""),
                lambda state: state is t.TaskState.COMPLETED,
                poll=1.0,
            )
        assert len(record.task.artifacts) == 40


class Boom(Interceptor):
    async def before(self, call: CallInfo) -> None:
        raise RuntimeError("secret internals")


@pytest.mark.parametrize("rpc", ["SendMessage", "SendStreamingMessage"])
async def test_an_unexpected_error_is_internal_and_says_nothing(rpc: str) -> None:
    async with serve_grpc(interceptors=[Boom()]) as s:
        answer = await raw_call(s.server.url, rpc, send_request("echo x"))
    assert isinstance(answer, WireError)
    assert (answer.code, answer.reason) == ("INTERNAL", "INTERNAL_ERROR")
    assert "secret" not in answer.message


async def test_a_taken_port_is_an_os_error() -> None:
    engine = Engine(Agent(name="A", description="a"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with engine.running():
            with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
                async with GrpcServer(engine, port=port).serving():
                    pass


def test_the_card_url() -> None:
    engine = Engine(Agent(name="A", description="a"))
    assert GrpcServer(engine, port=1).url == "127.0.0.1:1"
    assert GrpcServer(engine, host="::1", port=2).url == "[::1]:2"
    public = GrpcServer(engine, public_url="https://grpc.example.com")
    assert public.interface.url == "https://grpc.example.com"
    assert public.interface.protocol_binding == "GRPC"


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("ipv4:127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("ipv6:[::1]:6000", ("::1", 6000)),
        ("unix:/tmp/sock", None),
        ("ipv4:nonsense", None),
    ],
)
def test_peers(peer: str, expected: tuple[str, int] | None) -> None:
    assert _peer(peer) == expected


def test_trailers_that_say_little() -> None:
    # No trailer: the code decides the class.
    assert isinstance(
        from_status(StatusCode.NOT_FOUND, "gone", None, peer="p"), TaskNotFoundError
    )
    # A malformed trailer: the code still stands.
    error = from_status(
        StatusCode.NOT_FOUND, "", ((DETAILS_KEY, b"\xff\xff"),), peer="p"
    )
    assert isinstance(error, TaskNotFoundError)
    assert "NOT_FOUND" in error.message
    # An unknown detail type is kept; an ErrorInfo of another domain names nothing.
    status = status_pb2.Status(code=StatusCode.INTERNAL.value[0], message="m")
    unknown = any_pb2.Any(type_url="type.googleapis.com/acme.Thing", value=b"")
    gateway = any_pb2.Any()
    gateway.Pack(error_details_pb2.ErrorInfo(reason="QUOTA", domain="gateway.test"))
    status.details.extend([unknown, gateway])
    relayed = from_status(
        StatusCode.INTERNAL,
        "m",
        ((DETAILS_KEY, status.SerializeToString()),),
        peer="p",
    )
    assert isinstance(relayed, InternalError)
    assert relayed.data is not None
    assert {"@type": "type.googleapis.com/acme.Thing"} in relayed.data


def test_relayed_details_of_unknown_types_are_not_sent() -> None:
    error = TaskNotFoundError(
        "t", data=[{"@type": "type.googleapis.com/acme.Thing", "x": 1}]
    )
    _code, _message, trailers = to_status(error)
    status = status_pb2.Status.FromString(trailers[0][1])
    assert [d.type_url.rsplit("/", 1)[-1] for d in status.details] == [
        "google.rpc.ErrorInfo"
    ]
