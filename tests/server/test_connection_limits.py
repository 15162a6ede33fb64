"""Connection limits on a real uvicorn (127.0.0.1, port 0), raw sockets, both parsers.

Each bound of :class:`ConnectionLimits` is hit from the wire with short limits so
nothing waits long: header bytes, header fields, URL length, slow headers, silent and
idle keep-alive connections, slow bodies, and the connection cap; and a slow *app* is
not cut by any of the client deadlines.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
import uvicorn

from accord.server import ConnectionLimits
from accord.server.serving import connection_cap, http_protocol, uvicorn_options
from tests.helpers.asgi import complete_lifespan
from tests.helpers.uvicorn_thread import serve_in_thread

#: Short limits: every deadline here is a fraction of a second.
LIMITS = ConnectionLimits(
    max_header_bytes=2048,
    max_headers=8,
    max_request_line=256,
    header_timeout=0.3,
    body_timeout=0.3,
    keep_alive_timeout=0.3,
)
#: How long past a deadline the server may take to act (a loaded test machine).
SLACK = 3.0
PARSERS = ["httptools", "h11"]
#: Released by a test to let ``/held`` answer.
HELD = threading.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/echo`` answers the body it read; ``/held`` waits for :data:`HELD`;
    ``/early`` answers without reading the body."""
    if scope["type"] == "lifespan":
        await complete_lifespan(receive, send)
        return
    body = b""
    more = scope["path"] != "/early"  # /early answers without reading the body
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/held":
        released = await anyio.to_thread.run_sync(HELD.wait, 10.0)
        body = b"released" if released else b"not released"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _serve(limits: ConnectionLimits, parser: str) -> Any:
    options = uvicorn_options(limits)
    options["http"] = http_protocol(limits, parser)  # type: ignore[arg-type]
    return serve_in_thread(app, **options)


@pytest.fixture(scope="module", params=PARSERS)
def base(request: pytest.FixtureRequest) -> Iterator[str]:
    with _serve(LIMITS, request.param) as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read exactly one response (Content-Length framed) from ``sock``.

    Byte by byte up to the blank line, so a pipelined next response stays unread.
    """
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    lines = data[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything received until the server closes; fails if it stays open."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s; got {data!r}") from None
    return data


def _get(url: str, path: str = "/echo") -> int:
    with _connect(url) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return _response(sock)[0]


def _error(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["error"]
    return error


def test_oversized_header_is_refused_and_others_are_served_meanwhile(
    base: str,
) -> None:
    with _connect(base) as slow:
        slow.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 1500)
        assert _get(base) == 200  # served while the big header is half sent
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            slow.sendall(b"a" * (1024 * 1024))  # refused before the sender is done
        status, headers, body = _response(slow)
        assert time.monotonic() - started < SLACK
    assert status == 431
    assert headers["connection"] == "close"
    assert "2048 bytes" in _error(body)["message"]


def test_headers_up_to_the_limit_are_accepted(base: str) -> None:
    head = b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Fill: "
    filler = b"a" * (LIMITS.max_header_bytes - len(head) - 4)
    with _connect(base) as sock:
        sock.sendall(head + filler + b"\r\n\r\n")
        assert _response(sock)[0] == 200


def test_too_many_header_fields_get_431(base: str) -> None:
    fields = "".join(f"X-{i}: v\r\n" for i in range(LIMITS.max_headers))
    with _connect(base) as sock:
        sock.sendall(f"GET /echo HTTP/1.1\r\nHost: t\r\n{fields}\r\n".encode())
        status, _, body = _response(sock)
    assert status == 431
    assert _error(body)["status"] == "INVALID_ARGUMENT"
    assert "header fields" in _error(body)["message"]


def test_long_request_target_gets_414(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(b"GET /echo?" + b"q" * 300 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, body = _response(sock)
    assert status == 414
    assert "256 bytes" in _error(body)["message"]


def test_slowloris_headers_are_cut_at_the_deadline(base: str) -> None:
    request = b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 200
    with _connect(base) as sock:
        sock.settimeout(0.05)  # one byte per read timeout: slower than allowed
        started = time.monotonic()
        answer = b""
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            break
        elapsed = time.monotonic() - started
        answer += _closed_within(sock, SLACK)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert LIMITS.header_timeout * 0.9 <= elapsed < LIMITS.header_timeout + SLACK


def test_silent_connection_is_closed(base: str) -> None:
    with _connect(base) as sock:
        started = time.monotonic()
        assert _closed_within(sock, LIMITS.header_timeout + SLACK) == b""
    assert time.monotonic() - started >= LIMITS.header_timeout * 0.9


def test_idle_keep_alive_connection_is_closed(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _response(sock)[0] == 200
        started = time.monotonic()
        assert _closed_within(sock, LIMITS.keep_alive_timeout + SLACK) == b""
    assert time.monotonic() - started >= LIMITS.keep_alive_timeout * 0.9


def test_slow_body_gets_408(base: str) -> None:
    with _connect(base) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        sock.sendall(b"x" * 10)
        started = time.monotonic()
        answer = _closed_within(sock, LIMITS.body_timeout + SLACK)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"body" in answer
    assert time.monotonic() - started >= LIMITS.body_timeout * 0.9
    assert _get(base) == 200


def test_keep_alive_requests_each_get_their_own_deadlines(base: str) -> None:
    with _connect(base) as sock:
        for _ in range(3):
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"
            )
            assert _response(sock)[2] == b"ok"


def test_pipelined_requests_each_get_their_own_field_count(base: str) -> None:
    fields = "".join(f"X-{i}: v\r\n" for i in range(LIMITS.max_headers - 2))
    request = f"GET /echo HTTP/1.1\r\nHost: t\r\n{fields}\r\n".encode()
    with _connect(base) as sock:
        sock.sendall(request * 3)  # one write: together over the limit
        assert [_response(sock)[0] for _ in range(3)] == [200, 200, 200]


def test_a_body_still_arriving_after_the_answer_is_not_answered_twice(
    base: str,
) -> None:
    with _connect(base) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        sock.sendall(b"x" * 10)
        assert _response(sock)[0] == 200
        # The body deadline still closes the connection, with no second answer.
        assert _closed_within(sock, LIMITS.body_timeout + SLACK) == b""


def test_a_slow_app_is_not_cut_by_the_client_deadlines(base: str) -> None:
    HELD.clear()
    try:
        with _connect(base) as sock:
            sock.sendall(b"GET /held HTTP/1.1\r\nHost: t\r\n\r\n")
            # Longer than every client deadline together: the app's time is its own.
            sock.settimeout(LIMITS.header_timeout + LIMITS.body_timeout + 0.1)
            with pytest.raises(TimeoutError):
                sock.recv(1)
            HELD.set()
            sock.settimeout(5)
            assert _response(sock)[2] == b"released"
    finally:
        HELD.set()


@pytest.mark.parametrize("parser", PARSERS)
def test_connection_cap_answers_503_then_recovers(parser: str) -> None:
    limits = ConnectionLimits(max_connections=2, keep_alive_timeout=30, retry_after=3)
    with _serve(limits, parser) as url:
        held = [_connect(url) for _ in range(2)]
        try:
            for sock in held:  # answered: both are open and counted
                sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
                assert _response(sock)[0] == 200
            with _connect(url) as extra:
                status, headers, body = _response(extra)
                extra.shutdown(socket.SHUT_WR)  # the server closes on our EOF
                assert _closed_within(extra, SLACK) == b""
            assert status == 503
            assert headers["retry-after"] == "3"
            assert headers["content-type"] == "application/json"
            assert _error(body)["status"] == "UNAVAILABLE"
            assert "at capacity (2 connections)" in _error(body)["message"]
            held.pop().close()
            deadline = time.monotonic() + SLACK
            while _get(url) != 200:  # the server sees the close soon after
                assert time.monotonic() < deadline, "no capacity after a close"
        finally:
            for sock in held:
                sock.close()


def test_limits_must_be_positive_numbers() -> None:
    with pytest.raises(ValueError, match="header_timeout must be positive"):
        ConnectionLimits(header_timeout=0)
    with pytest.raises(TypeError, match="max_headers must be a number"):
        ConnectionLimits(max_headers="10")  # type: ignore[arg-type]


def test_the_cap_fits_the_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 512), hard))
    try:
        assert connection_cap(ConnectionLimits(max_connections=5000)) == 512 - 64
        assert connection_cap(ConnectionLimits(max_connections=10)) == 10
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_uvicorn_command_line_can_name_the_bounded_protocol() -> None:
    config = uvicorn.Config(app, http="accord.server.serving:BoundedProtocol")
    config.load()
    assert config.http_protocol_class is http_protocol(ConnectionLimits())
    assert config.http_protocol_class.limits == ConnectionLimits()  # type: ignore[attr-defined]


def test_a2a_app_treats_a_body_timeout_as_a_quiet_disconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from accord.server import A2AApp

    from .scripted import make_agent

    limits = ConnectionLimits(body_timeout=0.3)
    with serve_in_thread(A2AApp(make_agent()), **uvicorn_options(limits)) as url:
        with _connect(url) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            status, _, _ = _response(sock)
        assert status == 408
        assert _get(url, "/.well-known/agent-card.json") == 200
    # Not an "Exception in ASGI application" traceback per slow client.
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


@pytest.mark.parametrize("parser", PARSERS)
def test_a_shorter_deadline_fires_before_a_pending_longer_one(parser: str) -> None:
    limits = ConnectionLimits(header_timeout=30, body_timeout=0.3)
    with _serve(limits, parser) as url, _connect(url) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nx")
        started = time.monotonic()
        assert _closed_within(sock, SLACK).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < SLACK


@pytest.mark.parametrize("parser", PARSERS)
def test_deadlines_rearm_after_an_idle_spell(parser: str) -> None:
    limits = ConnectionLimits(header_timeout=0.3, keep_alive_timeout=30)
    with _serve(limits, parser) as url, _connect(url) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _response(sock)[0] == 200
        sock.settimeout(limits.header_timeout * 2)  # idle past the old deadline
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n")  # then stalls
        assert _closed_within(sock, SLACK).startswith(b"HTTP/1.1 408 ")
