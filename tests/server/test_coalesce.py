"""One write per answer: :class:`CoalescingTransport` alone, then under a real uvicorn.

The unit tests drive the wrapper over a transport that records what it is asked to
send (the socket is the outermost edge). The server tests run ``accord serve``'s
protocol classes (both parsers) on 127.0.0.1 with a recorder under the wrapper: an
answer leaves in one write, and a streamed head is not held while the app waits.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest

from accord.server import ConnectionLimits
from accord.server._coalesce import HOLD_BYTES, CoalescingTransport
from accord.server.access_log import access_log
from accord.server.serving import http_protocol, uvicorn_options
from tests.helpers.asgi import complete_lifespan
from tests.helpers.loop_pass import pass_ends
from tests.helpers.uvicorn_thread import serve_in_thread


class Recorder(asyncio.Transport):
    """A transport that records each send call (one list per call) and closing."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[bytes]] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append([bytes(data)])
        self.events.append("write")

    def writelines(self, list_of_data: Any) -> None:
        self.calls.append([bytes(d) for d in list_of_data])
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)

    def write_eof(self) -> None:
        self.events.append("eof")

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (16, 64)

    def set_write_buffer_limits(
        self, high: int | None = None, low: int | None = None
    ) -> None:
        self.events.append(f"limits {high} {low}")

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.events.append("set_protocol")
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def pause_reading(self) -> None:
        self.events.append("pause")

    def resume_reading(self) -> None:
        self.events.append("resume")

    def is_reading(self) -> bool:
        return "pause" not in self.events[-1:]

    def joined(self) -> list[bytes]:
        """What each send call carried, joined."""
        return [b"".join(call) for call in self.calls]


def _run(test: Callable[[Recorder, CoalescingTransport], Awaitable[None]]) -> Recorder:
    async def main() -> Recorder:
        inner = Recorder()
        await test(inner, CoalescingTransport(inner, asyncio.get_running_loop()))
        return inner

    return asyncio.run(main())


def test_a_head_and_its_body_leave_in_one_call() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert inner.calls == []  # held for the body
        outer.write(b"body")
        assert inner.joined() == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        await pass_ends()
        assert len(inner.calls) == 1  # the pass's flush found nothing left

    _run(test)


def test_a_lone_write_leaves_when_the_pass_ends() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(b"head")
        assert outer.get_write_buffer_size() == 7 + 4  # counted while held
        await pass_ends()
        assert inner.joined() == [b"head"]
        outer.write(b"event")  # a later pass: held afresh, flushed afresh
        await pass_ends()
        assert inner.joined() == [b"head", b"event"]

    _run(test)


def test_writes_keep_their_order_in_pairs() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        for chunk in (b"1", b"", b"2", b"3"):  # an empty write is no write
            outer.write(chunk)
        outer.writelines([b"4", b"5"])
        await pass_ends()
        assert inner.joined() == [b"12", b"345"]

    _run(test)


def test_a_held_bytearray_is_copied_so_its_writer_may_reuse_it() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        buffer = bytearray(b"head")
        outer.write(buffer)
        buffer[:] = b"next"
        await pass_ends()
        assert inner.joined() == [b"head"]

    _run(test)


def test_a_large_write_is_neither_held_nor_copied_alone() -> None:
    big = b"x" * (HOLD_BYTES + 1)

    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(big)
        assert inner.calls == [[big]]
        outer.write(b"head")
        outer.write(big)  # joins the held head, in one call of two buffers
        assert inner.calls[1] == [b"head", big]

    _run(test)


def test_closing_sends_what_is_held_first_and_abort_drops_it() -> None:
    async def closing(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(b"refusal")
        outer.close()
        assert inner.events == ["write", "close"]
        assert inner.joined() == [b"refusal"]
        outer.write(b"late")  # a closing transport gets it at once, as without us
        assert inner.joined() == [b"refusal", b"late"]

    _run(closing)

    async def aborting(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(b"dropped")
        outer.abort()
        await pass_ends()
        assert inner.events == ["abort"]

    _run(aborting)


def test_what_is_held_is_dropped_once_the_socket_closes() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        outer.write(b"head")
        inner.closing = True  # the peer went away before the pass ended
        await pass_ends()
        assert inner.calls == []
        assert outer.is_closing()

    _run(test)


def test_the_rest_is_the_wrapped_transports() -> None:
    async def test(inner: Recorder, outer: CoalescingTransport) -> None:
        assert outer.wrapped is inner
        assert outer.get_extra_info("peername") == ("127.0.0.1", 5)
        assert outer.get_extra_info("sockname", "none") == "none"
        assert outer.can_write_eof()
        assert outer.get_write_buffer_limits() == (16, 64)
        outer.set_write_buffer_limits(64, 16)
        protocol = asyncio.Protocol()
        outer.set_protocol(protocol)
        assert outer.get_protocol() is protocol
        outer.pause_reading()
        assert not outer.is_reading()
        outer.resume_reading()
        assert outer.is_reading()
        outer.write(b"last")
        outer.write_eof()  # what is held goes first
        assert inner.events == [
            "limits 64 16",
            "set_protocol",
            "pause",
            "resume",
            "write",
            "eof",
        ]

    _run(test)


# --- under uvicorn ------------------------------------------------------------------

#: Set by a test to let ``/stream`` send its first event.
RELEASE = threading.Event()
#: Every recorder under a served connection, newest last.
RECORDERS: list[Recorder] = []


class _Spy(Recorder):
    """A recorder that also passes everything on to the socket's transport."""

    def __init__(self, real: asyncio.Transport) -> None:
        super().__init__()
        self.real = real

    def write(self, data: Any) -> None:
        super().write(data)
        self.real.write(data)

    def writelines(self, list_of_data: Any) -> None:
        chunks = list(list_of_data)
        super().writelines(chunks)
        self.real.writelines(chunks)

    def close(self) -> None:
        super().close()
        self.real.close()

    def is_closing(self) -> bool:
        return self.real.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.real.pause_reading()

    def resume_reading(self) -> None:
        self.real.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.real.set_protocol(protocol)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/answer``: a small JSON answer; ``/stream``: an event-stream head, then one
    event once :data:`RELEASE` is set."""
    if scope["type"] == "lifespan":
        await complete_lifespan(receive, send)
        return
    if scope["path"] == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        released = await anyio.to_thread.run_sync(RELEASE.wait, 10.0)
        data = b"data: released\n\n" if released else b"data: timeout\n\n"
        await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"ok":true}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _spied(parser: str) -> type[asyncio.Protocol]:
    base: Any = http_protocol(ConnectionLimits(), parser)  # type: ignore[arg-type]

    class Spied(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            spy = _Spy(transport)  # type: ignore[arg-type]
            spy.protocol = self
            RECORDERS.append(spy)
            super().connection_made(spy)

    return Spied


@pytest.fixture(scope="module", params=["httptools", "h11"])
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    options = uvicorn_options()
    options["http"] = _spied(request.param)
    with serve_in_thread(app, **options) as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before {end!r}: {data!r}")
        data += chunk
    return data


def test_an_answer_leaves_the_server_in_one_write(base_url: str) -> None:
    with _connect(base_url) as sock:
        for _ in range(3):  # keep-alive: every answer, not only the first
            sock.sendall(b"GET /answer HTTP/1.1\r\nHost: t\r\n\r\n")
            _read_until(sock, b'{"ok":true}')
        spy = RECORDERS[-1]
    answers = spy.joined()
    assert len(answers) == 3
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b'\r\n\r\n{"ok":true}')


def test_the_protocols_log_access_lines_the_short_way(base_url: str) -> None:
    with _connect(base_url) as sock:
        sock.sendall(b"GET /answer HTTP/1.1\r\nHost: t\r\n\r\n")
        _read_until(sock, b'{"ok":true}')
        protocol: Any = RECORDERS[-1].protocol
    assert protocol.access_logger is access_log()  # accord.server.access_log


def test_a_streamed_head_is_not_held_while_the_app_waits(base_url: str) -> None:
    RELEASE.clear()
    with _connect(base_url) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        head = _read_until(sock, b"\r\n\r\n")  # arrives while the app still waits
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"text/event-stream" in head
        RELEASE.set()
        assert b"data: released" in head + _read_until(sock, b"data: released")
