"""OAuth 2.0 client credentials against a real loopback token endpoint.

The lab (``lab.py``) runs under uvicorn: it serves the card, the token endpoint and
the agent, counts token requests and records what each agent request carried. The
provider's clock is fake, so expiry is decided by the test, not by waiting.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from accord.client import BearerToken, Client, ClientConfig, OAuth2ClientCredentials
from accord.client.credentials import Credentials
from accord.errors import (
    HTTPStatusError,
    UnauthenticatedError,
    UnsupportedOperationError,
)
from accord.types import Task, TaskState

from ..helpers import HTTPX_TRIO_WARNINGS
from .lab import (
    CLIENT_ID,
    CLIENT_SECRET,
    Lab,
    api_key,
    oauth2,
    oidc,
    requirement,
)

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(clock: Clock | None = None, **options: object) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        CLIENT_ID,
        CLIENT_SECRET,
        clock=clock if clock is not None else Clock(),
        **options,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def connected(
    url: str, credentials: Credentials | None, binding: str = "JSONRPC"
) -> AsyncIterator[Client]:
    config = ClientConfig(preferred_bindings=(binding,))
    async with await Client.connect(
        url, config=config, credentials=credentials
    ) as client:
        yield client


def secure_oauth(lab: Lab, *scopes: str) -> None:
    lab.secure({"oauth": oauth2()}, requirement(oauth=scopes))


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_token_is_fetched_once_and_sent_everywhere(
    lab: Lab, url: str, binding: str
) -> None:
    secure_oauth(lab, "read", "write")

    async with connected(url, [provider()], binding) as client:
        task = await client.send_message("hello")
        assert isinstance(task, Task)
        assert task.status.state == TaskState.COMPLETED
        await client.get_task(task.id)
        await client.list_tasks()
        async with client.send_streaming_message("again") as stream:
            assert [e async for e in stream]
        # Past the credential check, the agent itself answers (the task is done).
        with pytest.raises(UnsupportedOperationError):
            async with client.subscribe(task.id) as stream:
                await anext(aiter(stream))

    assert len(lab.token_requests) == 1
    sent = lab.token_requests[0]
    assert (sent.client_id, sent.client_secret) == (CLIENT_ID, CLIENT_SECRET)
    assert sent.form == {"grant_type": "client_credentials", "scope": "read write"}
    assert sent.content_type == "application/x-www-form-urlencoded"
    assert len(lab.agent_requests) == 5
    assert {s.bearer for s in lab.agent_requests} == {"tok-1"}


async def test_explicit_scopes_and_audience(lab: Lab, url: str) -> None:
    secure_oauth(lab, "read")
    creds = provider(scopes=("admin",), audience="https://vault.example")

    async with connected(url, [creds]) as client:
        await client.list_tasks()

    assert lab.token_requests[0].form == {
        "grant_type": "client_credentials",
        "scope": "admin",
        "audience": "https://vault.example",
    }


async def test_no_scope_parameter_without_scopes(lab: Lab, url: str) -> None:
    secure_oauth(lab)

    async with connected(url, [provider()]) as client:
        await client.list_tasks()

    assert lab.token_requests[0].form == {"grant_type": "client_credentials"}


async def test_refreshed_shortly_before_expiry(lab: Lab, url: str) -> None:
    secure_oauth(lab)
    lab.expires_in = 100  # renewed 30 s (REFRESH_MARGIN) before it runs out
    clock = Clock()

    async with connected(url, [provider(clock)]) as client:
        await client.list_tasks()
        clock.now += 69
        await client.list_tasks()
        assert len(lab.token_requests) == 1
        clock.now += 2  # 71 s: inside the margin
        await client.list_tasks()

    assert len(lab.token_requests) == 2
    assert [s.bearer for s in lab.agent_requests] == ["tok-1", "tok-1", "tok-2"]


async def test_short_lived_tokens_renew_at_half_life(lab: Lab, url: str) -> None:
    secure_oauth(lab)
    lab.expires_in = "10"  # a string, as some servers send it
    clock = Clock()

    async with connected(url, [provider(clock)]) as client:
        await client.list_tasks()
        clock.now += 4.9
        await client.list_tasks()
        clock.now += 0.2
        await client.list_tasks()

    assert [s.bearer for s in lab.agent_requests] == ["tok-1", "tok-1", "tok-2"]


async def test_token_without_expiry_is_kept_until_refused(lab: Lab, url: str) -> None:
    secure_oauth(lab)
    lab.expires_in = None
    clock = Clock()

    async with connected(url, [provider(clock)]) as client:
        await client.list_tasks()
        clock.now += 10**6
        await client.list_tasks()

    assert len(lab.token_requests) == 1


async def seen(condition: Callable[[], bool]) -> None:
    """Poll until ``condition()`` (the lab runs on the server's thread), bounded."""
    with anyio.fail_after(10):
        while not condition():  # noqa: ASYNC110 - set on another thread
            await anyio.sleep(0.005)


async def test_concurrent_callers_share_one_refresh(lab: Lab, url: str) -> None:
    secure_oauth(lab)
    lab.expires_in = 100
    clock = Clock()

    async with connected(url, [provider(clock)]) as client:
        await client.list_tasks()
        assert len(lab.token_requests) == 1
        clock.now += 1000  # expired
        lab.token_gate = threading.Event()
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(client.list_tasks)
            await seen(lambda: len(lab.token_requests) == 2)  # the refresh is held
            await anyio.wait_all_tasks_blocked()  # the other 19 wait for it
            lab.token_gate.set()

    assert len(lab.token_requests) == 2
    assert [s.bearer for s in lab.agent_requests[1:]] == ["tok-2"] * 20


async def test_401_is_retried_once_with_a_fresh_token(lab: Lab, url: str) -> None:
    secure_oauth(lab)

    async with connected(url, [provider()]) as client:
        await client.list_tasks()
        lab.valid.discard("tok-1")  # revoked before it expires
        response = await client.list_tasks()
        assert isinstance(response.tasks, tuple)

    assert len(lab.token_requests) == 2
    assert [s.bearer for s in lab.agent_requests] == ["tok-1", "tok-1", "tok-2"]


async def test_401_on_a_stream_is_retried_too(lab: Lab, url: str) -> None:
    secure_oauth(lab)

    async with connected(url, [provider()], "HTTP+JSON") as client:
        await client.list_tasks()
        lab.valid.clear()
        async with client.send_streaming_message("hi") as stream:
            events = [e async for e in stream]

    assert events
    assert [s.bearer for s in lab.agent_requests] == ["tok-1", "tok-1", "tok-2"]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_second_401_surfaces_without_looping(
    lab: Lab, url: str, binding: str
) -> None:
    secure_oauth(lab)
    lab.reject_all = True

    async with connected(url, [provider()], binding) as client:
        with pytest.raises(HTTPStatusError) as caught:
            await client.list_tasks()
        with pytest.raises(HTTPStatusError):
            async with client.send_streaming_message("hi") as stream:
                await anext(aiter(stream))

    assert caught.value.status_code == 401
    assert len(lab.agent_requests) == 4  # two calls, one retry each
    assert len(lab.token_requests) == 3  # the first token, one fresh one per retry
    text = f"{caught.value} {caught.value!r} {caught.value.body!r}"
    for secret in (CLIENT_SECRET, *lab.issued):
        assert secret not in text


async def test_concurrent_401s_share_one_refresh(lab: Lab, url: str) -> None:
    secure_oauth(lab)

    async with connected(url, [provider()]) as client:
        await client.list_tasks()
        lab.valid.clear()
        lab.token_gate = threading.Event()
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(client.list_tasks)
            # Every caller was refused with tok-1 and the refresh is held.
            await seen(lambda: len(lab.agent_requests) == 11)
            await seen(lambda: len(lab.token_requests) == 2)
            await anyio.wait_all_tasks_blocked()
            lab.token_gate.set()

    assert len(lab.token_requests) == 2


async def test_openid_connect_discovery(lab: Lab, url: str) -> None:
    lab.secure({"oidc": oidc()}, requirement(oidc=("openid", "a2a")))

    async with connected(url, [provider()]) as client:
        await client.list_tasks()
        await client.list_tasks()

    assert lab.discoveries == 1
    assert lab.token_requests[0].form["scope"] == "openid a2a"
    assert {s.bearer for s in lab.agent_requests} == {"tok-1"}


async def test_explicit_token_url_wins(lab: Lab, url: str) -> None:
    lab.secure(
        {"oauth": oauth2("https://unreachable.invalid/token")}, requirement(oauth=())
    )

    async with connected(url, [provider(token_url=f"{url}/oauth/token")]) as client:
        await client.list_tasks()

    assert len(lab.token_requests) == 1


async def test_refused_client_is_an_auth_error_without_secrets(
    lab: Lab, url: str
) -> None:
    secure_oauth(lab)
    wrong = OAuth2ClientCredentials(CLIENT_ID, "not-the-secret-4Zk")

    async with connected(url, [wrong]) as client:
        with pytest.raises(UnauthenticatedError) as caught:
            await client.list_tasks()

    message = str(caught.value)
    assert "refused the client credentials (invalid_client: unknown client)" in message
    assert "/oauth/token" in message
    assert "not-the-secret-4Zk" not in message + repr(caught.value)
    assert lab.agent_requests == []  # no token, no agent request


async def test_an_alternative_without_oauth_is_preferred_when_first(
    lab: Lab, url: str
) -> None:
    lab.secure(
        {"key": api_key(), "oauth": oauth2()},
        requirement(oauth=()),
        requirement(key=()),
    )

    async with connected(url, [BearerToken("tok-x"), provider()]) as client:
        with pytest.raises(HTTPStatusError):
            await client.list_tasks()  # the bearer token satisfies "oauth" first

    assert lab.token_requests == []


async def test_tokens_are_shared_by_clients_of_one_provider(lab: Lab, url: str) -> None:
    secure_oauth(lab)
    shared = provider()

    async with connected(url, [shared]) as one, connected(url, [shared]) as two:
        await one.list_tasks()
        await two.list_tasks()

    assert len(lab.token_requests) == 1


async def test_plain_http_token_endpoint_is_refused_off_loopback() -> None:
    calls: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"access_token": "t", "token_type": "bearer"})

    creds = provider(token_url="http://auth.example/token")
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        with pytest.raises(ValueError, match="must use https"):
            await creds.access_token(None, (), http)
        https = provider(token_url="https://auth.example/token")
        assert await https.access_token(None, (), http) == "t"

    assert [str(c.url) for c in calls] == ["https://auth.example/token"]


@pytest.mark.parametrize(
    ("status", "body", "expected", "error"),
    [
        (200, {"token_type": "bearer"}, "no access_token", UnauthenticatedError),
        (
            200,
            {"access_token": "t0p-secret", "token_type": "mac"},
            "not a bearer token",
            UnauthenticatedError,
        ),
        (
            200,
            {"access_token": "t0p secret"},
            "cannot be sent in a header",
            UnauthenticatedError,
        ),
        (400, {"error": "invalid_scope"}, "(invalid_scope)", UnauthenticatedError),
        (400, "not json", "(HTTP 400)", UnauthenticatedError),
        (503, {"error": "busy"}, "answered HTTP 503", HTTPStatusError),
    ],
)
async def test_bad_token_responses(
    status: int, body: object, expected: str, error: type[Exception]
) -> None:
    def endpoint(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    creds = provider(token_url="https://auth.example/token")
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        with pytest.raises(error) as caught:
            await creds.access_token(None, (), http)

    assert expected in str(caught.value)
    assert "t0p" not in str(caught.value)


async def test_discovery_failures_are_explained() -> None:
    def metadata(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="nothing")

    scheme = oidc()
    oidc_scheme = scheme.open_id_connect_security_scheme
    assert oidc_scheme is not None
    from accord.types import OpenIdConnectSecurityScheme, SecurityScheme

    declared = SecurityScheme(
        open_id_connect_security_scheme=OpenIdConnectSecurityScheme(
            open_id_connect_url="https://idp.example/.well-known/openid-configuration"
        )
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(metadata)) as http:
        with pytest.raises(
            UnauthenticatedError, match="HTTP 404 without a token_endpoint"
        ):
            await provider().access_token(declared, (), http)
        with pytest.raises(UnauthenticatedError, match="pass token_url="):
            await provider().access_token(scheme, (), http)
