"""MemoryTransport: an ASGI app in-process, with real streaming, owned tasks, disconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import anyio
import httpx
import pytest

from accord.client import MemoryTransport
from accord.client.transports.memory import ClientDisconnected

from .helpers import HTTPX_TRIO_WARNINGS

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def hello(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} "
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"x-got", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text.encode() + body})


async def test_a_plain_request() -> None:
    async with httpx.AsyncClient(
        transport=MemoryTransport(hello), base_url="http://app.test"
    ) as http:
        response = await http.post("/a%20b?x=1", content=b"payload")

    assert response.status_code == 201
    assert response.headers["x-got"] == "7"
    assert response.text == "POST /a b x=1 payload"


async def test_the_request_body_is_streamed_in_chunks() -> None:
    received: list[bytes] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            received.append(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def upload() -> AsyncIterator[bytes]:
        for chunk in (b"one", b"two", b"three"):
            yield chunk

    async with httpx.AsyncClient(transport=MemoryTransport(app)) as http:
        response = await http.post("http://app.test/", content=upload())

    assert response.status_code == 204
    assert received == [b"one", b"two", b"three", b""]


async def test_an_endless_stream_is_read_partially_then_closed() -> None:
    sent: list[int] = []
    outcome: list[str] = []
    finished = anyio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        try:
            n = 0
            while True:
                n += 1
                sent.append(n)
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"data: {n}\n\n".encode(),
                        "more_body": True,
                    }
                )
        except ClientDisconnected:
            outcome.append("send raised ClientDisconnected")
            assert (await receive())["type"] == "http.disconnect"
        finally:
            finished.set()

    async with (
        httpx.AsyncClient(transport=MemoryTransport(app)) as http,
        http.stream("GET", "http://app.test/events") as response,
    ):
        chunks = []
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            if len(chunks) == 3:
                break
        assert chunks == [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
        # Bounded: the app ran ahead by at most the buffer size, not forever.
        assert len(sent) <= 3 + 16 + 1
        await response.aclose()
        with anyio.fail_after(5):
            await finished.wait()

    assert outcome == ["send raised ClientDisconnected"]


async def test_an_app_listening_for_disconnect_sees_it() -> None:
    seen: list[str] = []
    done = anyio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"start", "more_body": True})
        seen.append((await receive())["type"])
        done.set()

    async with httpx.AsyncClient(transport=MemoryTransport(app)) as http:
        async with http.stream("GET", "http://app.test/") as response:
            assert await anext(response.aiter_bytes()) == b"start"
        with anyio.fail_after(5):
            await done.wait()

    assert seen == ["http.disconnect"]


async def test_a_caller_cancelled_before_the_response_disconnects_the_app() -> None:
    seen: list[str] = []
    waiting = anyio.Event()
    done = anyio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        waiting.set()
        seen.append((await receive())["type"])  # never responds
        done.set()

    async with httpx.AsyncClient(transport=MemoryTransport(app)) as http:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(http.get, "http://app.test/")
                await waiting.wait()
                scope.cancel()
        with anyio.fail_after(5):
            await done.wait()

    assert seen == ["http.disconnect"]


async def failing_before(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        raise ValueError("app exploded")


async def failing_during(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("app exploded mid-body")


async def test_an_app_exception_is_raised_to_the_caller() -> None:
    async with httpx.AsyncClient(transport=MemoryTransport(failing_before)) as http:
        with pytest.raises(ValueError, match="app exploded"):
            await http.get("http://app.test/")
        # The transport is still serving after a failed request.
        with pytest.raises(ValueError, match="app exploded"):
            await http.get("http://app.test/")
    async with httpx.AsyncClient(transport=MemoryTransport(failing_during)) as http:
        with pytest.raises(ValueError, match="app exploded mid-body"):
            await http.get("http://app.test/")


async def test_the_callers_own_error_leaves_the_block_as_itself() -> None:
    """Not wrapped in an ExceptionGroup by the transport's task group."""

    class Refused(Exception):
        pass

    async def use_then_refuse() -> None:
        async with httpx.AsyncClient(transport=MemoryTransport(hello)) as http:
            response = await http.get("http://app.test/")
            assert response.status_code == 201
            raise Refused

    with pytest.raises(Refused):  # a group would not match
        await use_then_refuse()


async def test_an_app_exception_can_be_a_500(caplog: pytest.LogCaptureFixture) -> None:
    transport = MemoryTransport(failing_before, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport) as http:
        response = await http.get("http://app.test/")

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "app exploded" in caplog.text


async def test_an_app_exception_mid_body_breaks_the_body() -> None:
    transport = MemoryTransport(failing_during, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("http://app.test/")


async def test_an_app_that_never_answers_is_an_error() -> None:
    async def silent(scope: Scope, receive: Any, send: Any) -> None:
        return

    async with httpx.AsyncClient(transport=MemoryTransport(silent)) as http:
        with pytest.raises(RuntimeError, match="without sending a response"):
            await http.get("http://app.test/")


async def test_lifespan_runs_and_its_state_reaches_requests() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            scope["state"]["db"] = "connected"
            events.append("startup")
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            events.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        body = scope["state"]["db"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with httpx.AsyncClient(transport=MemoryTransport(app)) as http:
        assert events == ["startup"]
        assert (await http.get("http://app.test/")).text == "connected"

    assert events == ["startup", "shutdown"]


async def test_a_failed_lifespan_startup_is_raised() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    transport = MemoryTransport(app)
    with pytest.raises(RuntimeError, match="lifespan startup failed: no database"):
        async with transport:
            pass  # pragma: no cover


async def test_the_transport_must_be_running() -> None:
    http = httpx.AsyncClient(transport=MemoryTransport(hello))
    try:
        with pytest.raises(RuntimeError, match="async with MemoryTransport"):
            await http.get("http://app.test/")
    finally:
        await http.aclose()


async def test_nested_entries_share_one_task_group() -> None:
    transport = MemoryTransport(hello, lifespan=False)
    async with transport, httpx.AsyncClient(transport=transport) as http:
        assert (await http.get("http://app.test/x")).status_code == 201
        # The client's exit did not stop the transport: the outer block owns it.
        assert (await http.get("http://app.test/y")).status_code == 201
