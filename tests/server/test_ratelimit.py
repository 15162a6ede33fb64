"""Rate limits per caller (spec §13 "Rate Limiting"): the token bucket, and the 429
every binding answers with ``Retry-After`` and reason ``RATE_LIMITED``."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import pytest

from accord.client import Client, ClientConfig
from accord.errors import RateLimitedError
from accord.server import A2AApp, Agent, CallInfo, Interceptor, RateLimit, RateLimiter
from accord.types import AgentInterface

from .conftest import Wire, WireError, serve, user_message
from .scripted import behave
from .test_quotas import KEYS, keyed_agent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [
        ("5/s", 5.0, 5),
        ("300/min", 5.0, 5),
        ("1000/h:10", 1000 / 3600, 10),
        ("0.5/s", 0.5, 1),
        (" 2 / second : 7 ", 2.0, 7),
    ],
)
def test_rates_are_read(text: str, per_second: float, burst: int) -> None:
    limit = RateLimit.parse(text)
    assert limit.per_second == pytest.approx(per_second)
    assert limit.burst == burst


@pytest.mark.parametrize("text", ["5", "5/x", "0/s", "-1/s", "5/s:0", "five/s", "5/s:"])
def test_what_is_not_a_rate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"N/s|positive rate|at least 1"):
        RateLimit.parse(text)


def test_a_bucket_empties_refills_and_tells_when() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_second=1.0, burst=2), clock=clock)
    alice = ("", "alice")
    limiter.take(alice)
    limiter.take(alice)
    with pytest.raises(RateLimitedError) as refused:
        limiter.take(alice)
    assert refused.value.retry_after == pytest.approx(1.0)
    assert refused.value.metadata["retryAfterSeconds"] == "1"
    clock.now += 0.5
    with pytest.raises(RateLimitedError) as again:
        limiter.take(alice)
    assert again.value.retry_after == pytest.approx(0.5)
    assert again.value.retry_after_header == 1  # rounded up, at least 1
    clock.now += 0.5
    limiter.take(alice)
    # Another caller, or the same principal in another tenant, has its own bucket.
    limiter.take(("", "bob"))
    limiter.take(("other", "alice"))
    # A long quiet spell refills up to the burst, not beyond.
    clock.now += 3600
    limiter.take(alice)
    limiter.take(alice)
    with pytest.raises(RateLimitedError):
        limiter.take(alice)


def test_buckets_are_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimit(per_second=0.001, burst=1), clock=clock, max_callers=2
    )
    for who in ("a", "b", "c"):
        limiter.take(("", who))
    # "a" was forgotten (least recently seen): a full bucket again; "c" was not.
    limiter.take(("", "a"))
    with pytest.raises(RateLimitedError):
        limiter.take(("", "c"))
    with pytest.raises(ValueError, match="max_callers"):
        RateLimiter(RateLimit(1.0), max_callers=0)


def app_with_limit(burst: int = 2, **kwargs: Any) -> A2AApp:
    agent = kwargs.pop("agent", None) or Agent(behave, name="Limited", description="x")
    limiter = RateLimiter(RateLimit(per_second=0.001, burst=burst))
    return A2AApp(agent, interceptors=[limiter], **kwargs)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_over_the_limit_is_429_with_retry_after(
    binding: str, http: httpx.Client
) -> None:
    with serve(app_with_limit()) as url:
        wire = Wire(url, binding, http)
        for _ in range(2):
            wire.call("SendMessage", {"message": user_message("echo ok")})
        response = http.send(
            wire.request("SendMessage", {"message": user_message("echo no")})
        )
        # Every operation counts, not only messages.
        with pytest.raises(WireError) as listed:
            wire.call("ListTasks", {})
        assert listed.value.reason == "RATE_LIMITED"
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    error = wire.error(response)
    assert error.reason == "RATE_LIMITED"
    assert "Too many requests" in error.message
    if binding == "JSONRPC":
        assert error.code == -31429


@pytest.mark.anyio
async def test_each_caller_has_its_own_allowance_and_the_client_reads_the_wait() -> (
    None
):
    agent, options = keyed_agent()
    app = app_with_limit(agent=agent, **options)
    face = AgentInterface(
        url="http://agent", protocol_binding="HTTP+JSON", protocol_version="1.0"
    )
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://agent"
        ) as http:
            async with Client.from_interface(
                face, http=http, headers={"X-API-Key": KEYS["alice"]}
            ) as alice:
                await alice.list_tasks()
                await alice.list_tasks()
                with pytest.raises(RateLimitedError) as refused:
                    await alice.list_tasks()
                assert refused.value.retry_after >= 1
            async with Client.from_interface(
                face, http=http, headers={"X-API-Key": KEYS["bob"]}
            ) as bob:
                await bob.list_tasks()  # alice's flood left bob's allowance alone


def test_accord_serve_puts_the_limiter_first() -> None:
    from accord.cli.commands._serve_limits import configure_rate_limit
    from accord.cli.main import build_parser
    from accord.server import Interceptor

    class Audit(Interceptor):
        async def before(self, call: CallInfo) -> None:
            return None

    audit = Audit()
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[audit])
    configure_rate_limit(app, argparse.Namespace())
    assert app.engine.interceptors == (audit,)
    args = build_parser().parse_args(["serve", "--rate-limit", "10/min:3"])
    configure_rate_limit(app, args)
    chain = app.engine.interceptors
    assert len(chain) == 2
    assert isinstance(chain[0], RateLimiter)
    assert chain[0].limit == RateLimit(per_second=10 / 60, burst=3)
    assert chain[1] is audit


class Refuser(Interceptor):
    """Refuses the next ``refusals`` calls as over the rate limit, then lets calls by."""

    def __init__(self, refusals: int, retry_after: float = 0.01) -> None:
        self.refusals = refusals
        self.retry_after = retry_after
        self.calls = 0

    async def before(self, call: CallInfo) -> None:
        self.calls += 1
        if self.refusals > 0:
            self.refusals -= 1
            raise RateLimitedError(retry_after=self.retry_after)


@pytest.mark.parametrize(
    ("config", "refusals", "served", "calls"),
    [
        (ClientConfig(), 2, True, 3),  # refused twice, sent again twice, served
        (ClientConfig(), 3, False, 3),  # the third refusal is the caller's
        (ClientConfig(rate_limit_retries=0), 1, False, 1),
        (ClientConfig(rate_limit_max_wait=0.001), 1, False, 1),  # too long to wait
    ],
)
@pytest.mark.anyio
async def test_the_client_waits_out_a_short_retry_after_a_bounded_number_of_times(
    config: ClientConfig, refusals: int, served: bool, calls: int
) -> None:
    face = AgentInterface(
        url="http://agent", protocol_binding="JSONRPC", protocol_version="1.0"
    )
    refuser = Refuser(refusals)
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[refuser])
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://agent") as http,
            Client.from_interface(face, http=http, config=config) as client,
        ):
            if served:
                await client.list_tasks()
            else:
                with pytest.raises(RateLimitedError):
                    await client.list_tasks()
    assert refuser.calls == calls


def test_client_retry_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_limit_retries"):
        ClientConfig(rate_limit_retries=-1)
