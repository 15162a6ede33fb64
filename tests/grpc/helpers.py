"""A gRPC front end over a running engine, a transport to it, and raw wire calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from google.rpc import error_details_pb2, status_pb2

from accord import types as t
from accord.grpc import GrpcServer, GrpcTransport
from accord.grpc.messages import METHODS, to_proto
from accord.grpc.status import DETAILS_KEY
from accord.server import Agent, Engine
from grpc import aio
from tests.server.scripted import behave


def scripted_agent(**card: Any) -> Agent:
    """The scripted test agent (first word of the text picks what it does)."""
    card.setdefault("streaming", True)
    return Agent(behave, name="Scripted", description="scripted test agent", **card)


@dataclass
class Served:
    engine: Engine
    server: GrpcServer
    transport: GrpcTransport


@asynccontextmanager
async def serve_grpc(
    agent: Agent | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    server: Mapping[str, Any] | None = None,
    **engine: Any,
) -> AsyncIterator[Served]:
    """An engine for ``agent`` (default: the scripted one) served over gRPC."""
    eng = Engine(agent or scripted_agent(), **engine)
    async with (
        eng.running(),
        GrpcServer(eng, **(server or {})).serving() as front,
        GrpcTransport(front.url, headers=headers) as transport,
    ):
        yield Served(eng, front, transport)


def send_request(text: str, **message: Any) -> t.SendMessageRequest:
    message.setdefault("message_id", f"m-{text}-{id(message)}")
    return t.SendMessageRequest(
        message=t.Message(role=t.Role.USER, parts=(t.Part(text=text),), **message)
    )


@dataclass
class WireError:
    """A failed call as it crossed the wire."""

    code: str
    message: str
    reason: str | None
    domain: str | None
    metadata: dict[str, str]
    violations: list[tuple[str, str]]
    trailers: dict[str, Any]


async def raw_call(
    url: str,
    rpc: str,
    request: bytes | Any,
    metadata: tuple[tuple[str, str], ...] = (("a2a-version", "1.0"),),
) -> bytes | WireError:
    """Call ``rpc`` with raw bytes (or an Accord value); the answer or the error."""
    data = (
        request if isinstance(request, bytes) else to_proto(request).SerializeToString()
    )
    async with aio.insecure_channel(url) as channel:
        method = METHODS[rpc]
        try:
            if method.operation.streaming:
                stream: aio.UnaryStreamMultiCallable[bytes, bytes] = (
                    channel.unary_stream(method.path)
                )
                chunks = [chunk async for chunk in stream(data, metadata=metadata)]
                return b"".join(chunks)
            unary: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                method.path
            )
            return await unary(data, metadata=metadata)
        except aio.AioRpcError as exc:
            return wire_error(exc)


def wire_error(exc: aio.AioRpcError) -> WireError:
    trailers = dict(exc.trailing_metadata() or ())
    reason = domain = None
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    raw = trailers.get(DETAILS_KEY)
    if isinstance(raw, bytes):
        status = status_pb2.Status.FromString(raw)
        assert status.code == exc.code().value[0]
        assert status.message == exc.details()
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Unpack(bad):
                violations = [(v.field, v.description) for v in bad.field_violations]
    return WireError(
        exc.code().name,
        exc.details() or "",
        reason,
        domain,
        metadata,
        violations,
        trailers,
    )
