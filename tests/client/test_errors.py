"""Error reconstruction and the translation of transport failures."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from accord import errors
from accord.client import Client, ClientTimeouts, JsonRpcTransport
from accord.errors import (
    ConnectError,
    HTTPStatusError,
    InvalidAgentResponseError,
    ProtocolError,
    TransportError,
)
from accord.protocol.operations import op
from accord.types import AgentInterface, GetTaskRequest

from .helpers import RPC_URL, FakeAgent, interface, make_card

pytestmark = pytest.mark.anyio

BINDINGS = ["JSONRPC", "HTTP+JSON"]


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "error",
    [
        errors.TaskNotFoundError("Task t-1 not found", metadata={"taskId": "t-1"}),
        errors.TaskNotCancelableError("already completed"),
        errors.UnsupportedOperationError("no"),
        errors.PushNotificationNotSupportedError(),
        errors.ContentTypeNotSupportedError("image/png"),
        errors.InvalidParamsError("bad", field_violations=[("id", "empty")]),
        errors.VersionNotSupportedError("1.0 only"),
        errors.ExtendedAgentCardNotConfiguredError(),
        errors.InternalError("boom"),
        errors.UnauthenticatedError("who are you"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_server_errors_are_raised_as_the_same_class(
    binding: str, error: ProtocolError
) -> None:
    agent = FakeAgent()

    def fail(_params: object) -> None:
        raise error

    agent.on("GetTask", fail)
    async with (
        agent.client() as http,
        Client(make_card(interface(binding)), http=http) as client,
    ):
        with pytest.raises(type(error)) as caught:
            await client.get_task("t-1")

    assert type(caught.value) is type(error)
    assert caught.value.message == error.message
    assert caught.value.metadata == error.metadata
    assert caught.value.field_violations == error.field_violations


def respond_with(response: httpx.Response) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _request: response)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "requires authentication (401 Unauthorized); it asks for: Bearer"),
        (403, "refused access (403 Forbidden)"),
        (404, "was not found (404 Not Found)"),
        (502, "answered HTTP 502 Bad Gateway — body: '<html>bad gateway</html>'"),
    ],
)
async def test_http_status_without_an_a2a_body(
    binding: str, status: int, expected: str
) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    response = httpx.Response(
        status,
        text="<html>bad gateway</html>" if status == 502 else "",
        headers=headers,
    )
    async with (
        httpx.AsyncClient(transport=respond_with(response)) as http,
        Client(make_card(interface(binding)), http=http) as client,
    ):
        with pytest.raises(HTTPStatusError) as caught:
            await client.get_task("t-1")

    assert caught.value.status_code == status
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("body", [b"not json", b'{"jsonrpc":"2.0","id":1}', b"[]"])
async def test_a_malformed_jsonrpc_answer_is_an_invalid_agent_response(
    body: bytes,
) -> None:
    response = httpx.Response(200, content=body)
    async with (
        httpx.AsyncClient(transport=respond_with(response)) as http,
        Client(make_card(interface("JSONRPC")), http=http) as client,
    ):
        with pytest.raises(InvalidAgentResponseError):
            await client.get_task("t-1")


async def test_a_malformed_rest_answer_is_an_invalid_agent_response() -> None:
    response = httpx.Response(200, content=b'{"id": 5}')
    async with (
        httpx.AsyncClient(transport=respond_with(response)) as http,
        Client(make_card(interface("HTTP+JSON")), http=http) as client,
    ):
        with pytest.raises(InvalidAgentResponseError):
            await client.get_task("t-1")


async def test_connection_refused_is_an_actionable_connect_error(binding: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/a2a"
    iface = AgentInterface(url=url, protocol_binding=binding, protocol_version="1.0")
    async with Client.from_interface(iface) as client:
        with pytest.raises(ConnectError) as caught:
            await client.get_task("t-1")

    assert str(caught.value) == (
        f"Cannot connect to {url}: connection refused — is the agent running?"
    )


async def test_connect_to_a_closed_port_fails_fetching_the_card() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ConnectError, match="connection refused — is the agent running"):
        await Client.connect(url)


@pytest.mark.parametrize(
    ("raised", "expected", "text"),
    [
        (httpx.ReadTimeout("slow"), errors.TimeoutError, "ClientTimeouts.read"),
        (httpx.ConnectTimeout("slow"), errors.TimeoutError, "Timed out connecting"),
        (httpx.PoolTimeout("busy"), errors.TimeoutError, "free connection"),
        (httpx.WriteTimeout("slow"), errors.TimeoutError, "sending the request"),
        (httpx.ConnectError("nope"), ConnectError, "nope — is the agent running"),
        (httpx.UnsupportedProtocol("ftp"), ConnectError, "unsupported URL scheme"),
        (httpx.RemoteProtocolError("peer closed"), TransportError, "peer closed"),
    ],
)
async def test_httpx_exceptions_are_translated(
    raised: Exception, expected: type[Exception], text: str
) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise raised

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = JsonRpcTransport(RPC_URL, http)
        with pytest.raises(expected, match=text) as caught:
            await transport.call(op("GetTask"), GetTaskRequest(id="t"))

    assert caught.value.__cause__ is raised


def connect_error_from(cause: BaseException) -> httpx.ConnectError:
    try:
        raise httpx.ConnectError("failed") from cause
    except httpx.ConnectError as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "text"),
    [
        (
            ExceptionGroup("attempts", [ConnectionRefusedError(111, "refused")]),
            "connection refused — is the agent running?",
        ),
        (
            socket.gaierror(-2, "Name or service not known"),
            "the host name could not be resolved",
        ),
        (ssl.SSLError(1, "WRONG_VERSION_NUMBER"), "TLS handshake failed"),
    ],
)
async def test_connect_failures_say_what_went_wrong(
    cause: BaseException, text: str
) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise connect_error_from(cause)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = JsonRpcTransport(RPC_URL, http)
        with pytest.raises(ConnectError) as caught:
            await transport.call(op("GetTask"), GetTaskRequest(id="t"))

    assert str(caught.value).startswith(f"Cannot connect to {RPC_URL}: {text}")


async def test_unary_and_stream_timeouts_differ() -> None:
    seen: list[dict[str, float | None]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(500)

    timeouts = ClientTimeouts(connect=1, read=2, stream_read=None, write=3, pool=4)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        transport = JsonRpcTransport(RPC_URL, http, timeouts=timeouts)
        with pytest.raises(HTTPStatusError):
            await transport.call(op("GetTask"), GetTaskRequest(id="t"))
        events: AsyncIterator[object] = transport.stream(
            op("SubscribeToTask"), op("SubscribeToTask").request_type(id="t")
        )
        with pytest.raises(HTTPStatusError):
            await anext(events)

    assert seen[0] == {"connect": 1, "read": 2, "write": 3, "pool": 4}
    assert seen[1] == {"connect": 1, "read": None, "write": 3, "pool": 4}


async def test_malformed_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Invalid URL"):
        await Client.connect("http://[::1")
