"""Quota buckets in the real Redis on 127.0.0.1:6379: atomic, shared by instances (two
engines in one process, and two ``accord serve`` processes), and what an unreachable,
slow or strange Redis does."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord import types as t
from accord.errors import RateLimitedError
from accord.server import A2AApp, Agent, QuotaRule, Quotas, RateLimit
from accord.server.quotas import (
    Bucket,
    QuotaBackendError,
    Refusal,
    RunningLimit,
)
from accord.server.quotas._resp import RedisAddress, RespPool
from accord.server.quotas.redis import RedisBuckets
from tests.helpers.serve_process import accord_serve, stop

from .conftest import Wire, WireError, serve
from .scripted import behave

REDIS = "redis://127.0.0.1:6379/0"
AGENT = """
from accord.server import Agent

async def echo(ctx):
    await ctx.complete(ctx.text)

agent = Agent(echo, name="Echo", description="echoes")
"""


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    mine = f"accord-test:{uuid.uuid4().hex}:"
    yield mine

    async def clean() -> None:
        pool = RespPool(RedisAddress.parse(REDIS))
        try:
            keys = await pool.call("KEYS", mine + "*")
            if keys:
                await pool.call("DEL", *keys)
        finally:
            await pool.aclose()

    anyio.run(clean)


def buckets(who: str = "alice") -> tuple[Bucket, Bucket]:
    return (
        Bucket(("acme", "principal", who, ""), RateLimit(10.0, burst=10)),
        Bucket(("acme", "tenant", ""), RateLimit(0.001, burst=2)),
    )


@pytest.mark.anyio
async def test_buckets_in_redis_are_spent_all_or_nothing(prefix: str) -> None:
    async with RedisBuckets(REDIS, prefix=prefix) as redis:
        mine, shared = buckets()
        assert await redis.take([mine, shared]) is None
        assert await redis.take([mine, shared]) is None
        refusal = await redis.take([mine, shared])
        assert isinstance(refusal, Refusal)
        assert refusal.index == 1
        assert 990 < refusal.wait <= 1000
        # Nothing was spent by the refused call: 8 of alice's 10 tokens remain.
        for _ in range(8):
            assert await redis.take([mine]) is None
        assert await redis.take([mine]) is not None
        key = redis.key(shared)
        assert key == prefix + "{acme}:tenant:"  # the tenant is the hash tag
        ttl = await redis._pool.call("PTTL", key)
        assert 1000 < ttl <= 2000 * 1000 + 1000  # gone once it would be full again


@pytest.mark.anyio
async def test_keys_escape_what_would_collide(prefix: str) -> None:
    redis = RedisBuckets(REDIS, prefix=prefix)
    odd = Bucket(("a:b", "principal", "c}d", "s k"), RateLimit(1.0))
    assert redis.key(odd) == prefix + "{a%3Ab}:principal:c%7Dd:s%20k"


@pytest.mark.anyio
async def test_the_script_is_loaded_again_after_a_flush(prefix: str) -> None:
    async with RedisBuckets(REDIS, prefix=prefix) as redis:
        assert await redis.take([buckets()[0]]) is None
        await redis._pool.call("SCRIPT", "FLUSH")
        assert await redis.take([buckets()[0]]) is None


@contextmanager
def silent_server(answer: bytes | None = None) -> Iterator[tuple[int, list[int]]]:
    """A TCP server that answers ``answer`` to anything (None: never answers); yields
    its port and the list of connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    held: list[socket.socket] = []
    stop_event = threading.Event()

    def run() -> None:
        listener.settimeout(0.05)
        while not stop_event.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            held.append(conn)
            if answer is not None:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop_event.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.anyio
async def test_a_silent_redis_times_out_and_is_not_asked_again_at_once() -> None:
    with silent_server() as (port, accepted):
        redis = RedisBuckets(
            f"redis://127.0.0.1:{port}", timeout=0.2, retry_interval=60
        )
        async with redis:
            with pytest.raises(
                QuotaBackendError, match=r"did not answer within 0\.2 s"
            ):
                await redis.take([buckets()[0]])
            with pytest.raises(QuotaBackendError, match="failed less than 60 s ago"):
                await redis.take([buckets()[0]])
    assert accepted == [1]  # the second call did not even connect


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a RESP reply"),
        (b"$99999999\r\n", "over"),
        (b":notanumber\r\n", "malformed reply"),
        (b"*2000\r\n", "beyond the bounds"),
        (b"+" + b"x" * 70000, "too long"),
    ],
)
@pytest.mark.anyio
async def test_something_that_is_not_redis_is_a_backend_error(
    answer: bytes, says: str
) -> None:
    with silent_server(answer) as (port, _):
        async with RedisBuckets(f"redis://127.0.0.1:{port}", timeout=2) as redis:
            with pytest.raises(QuotaBackendError, match=says):
                await redis.take([buckets()[0]])


@pytest.mark.anyio
async def test_nothing_listening_and_a_wrong_password_are_backend_errors() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    async with RedisBuckets(f"redis://127.0.0.1:{port}") as nobody:
        with pytest.raises(QuotaBackendError):
            await nobody.take([buckets()[0]])
    async with RedisBuckets("redis://:wrong@127.0.0.1:6379/0") as wrong:
        with pytest.raises(QuotaBackendError, match="AUTH"):
            await wrong.take([buckets()[0]])


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis://127.0.0.1", RedisAddress("127.0.0.1")),
        (
            "redis://user:p%40ss@db.local:6380/3",
            RedisAddress("db.local", 6380, 3, "user", "p@ss"),
        ),
        ("redis://:secret@h/", RedisAddress("h", password="secret")),
    ],
)
def test_redis_urls_are_read(url: str, address: RedisAddress) -> None:
    assert RedisAddress.parse(url) == address
    assert "secret" not in str(RedisAddress.parse(url))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("rediss://h", "not a redis:// URL"),
        ("http://h", "not a redis:// URL"),
        ("redis://h/x", "are numbers"),
        ("redis://h:port", "are numbers"),
        ("redis:///0", "names no host"),
    ],
)
def test_what_is_not_a_redis_url_says_so(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        RedisAddress.parse(url)


def test_a_pool_has_a_connection() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RespPool(RedisAddress("h"), size=0)


# -- instances sharing Redis --------------------------------------------------------


def shared_quotas(prefix: str) -> Quotas:
    return Quotas(
        [QuotaRule(rate=RateLimit(0.001, burst=3))],
        backend=RedisBuckets(REDIS, prefix=prefix),
        on_backend_error="closed",
    )


def test_two_instances_share_one_allowance_over_both_bindings(
    prefix: str, http: httpx.Client
) -> None:
    first = A2AApp(
        Agent(behave, name="x", description="x"), interceptors=[shared_quotas(prefix)]
    )
    second = A2AApp(
        Agent(behave, name="x", description="x"), interceptors=[shared_quotas(prefix)]
    )
    with serve(first) as one, serve(second) as two:
        a, b = Wire(one, "JSONRPC", http), Wire(two, "HTTP+JSON", http)
        a.call("ListTasks", {})
        b.call("ListTasks", {})
        a.call("ListTasks", {})
        for wire in (b, a):
            with pytest.raises(WireError) as refused:
                wire.call("ListTasks", {})
            assert refused.value.reason == "RATE_LIMITED"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # grpcio's aio: asyncio only
@pytest.mark.anyio
async def test_the_grpc_binding_refuses_from_redis_too(prefix: str) -> None:
    from tests.grpc.helpers import raw_call, serve_grpc

    async with serve_grpc(interceptors=[shared_quotas(prefix)]) as s:
        answers = [
            await raw_call(s.server.url, "GetTask", t.GetTaskRequest(id="x"))
            for _ in range(4)
        ]
    *served, refused = answers
    assert [getattr(a, "reason", None) for a in served] == ["TASK_NOT_FOUND"] * 3
    assert getattr(refused, "reason", None) == "RATE_LIMITED"
    assert getattr(refused, "code", None) == "RESOURCE_EXHAUSTED"


@pytest.mark.anyio
async def test_a_client_is_refused_after_the_shared_burst(prefix: str) -> None:
    from accord.client import Client
    from accord.types import AgentInterface

    app = A2AApp(
        Agent(behave, name="x", description="x"), interceptors=[shared_quotas(prefix)]
    )
    face = AgentInterface(
        url="http://agent", protocol_binding="JSONRPC", protocol_version="1.0"
    )
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://agent") as h,
            Client.from_interface(face, http=h) as client,
        ):
            for _ in range(3):
                await client.list_tasks()
            with pytest.raises(RateLimitedError) as refused:
                await client.list_tasks()
    assert refused.value.retry_after > 900  # too long: the client did not wait


@pytest.mark.slow
def test_two_accord_serve_processes_share_redis(prefix: str, tmp_path: Path) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text(
        f'backend = "{REDIS}"\nkey_prefix = "{prefix}"\n\n[[limit]]\nrate = "1/h:4"\n'
    )
    (tmp_path / "agent.py").write_text(AGENT)
    processes = []
    try:
        urls = []
        for port_db in ("a", "b"):
            process, url = accord_serve(
                tmp_path,
                "agent.py",
                "--db",
                str(tmp_path / f"{port_db}.db"),
                "--limits",
                str(limits),
            )
            processes.append(process)
            urls.append(url)
        with httpx.Client(timeout=10) as http:
            statuses = [
                http.send(
                    Wire(urls[i % 2], "HTTP+JSON", http).request("ListTasks", {})
                ).status_code
                for i in range(6)
            ]
            card = http.get(urls[0] + "/.well-known/agent-card.json").json()
    finally:
        for process in processes:
            stop(process)
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert any(
        e["uri"] == "urn:accord:a2a:quotas:v1"
        for e in card["capabilities"]["extensions"]
    )


# -- running limits shared by instances ---------------------------------------------

PLACES = [
    RunningLimit(("t", "running", "principal", "alice", ""), 1),
    RunningLimit(("t", "running", "tenant", ""), 5),
]


async def deadline(check: Any, seconds: float = 10.0) -> None:
    """Poll ``check`` until true (a deadline: places come free in another task)."""
    with anyio.fail_after(seconds):
        while not await check():  # noqa: ASYNC110
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_a_place_is_held_all_or_nothing_and_let_go(prefix: str) -> None:
    async with (
        RedisBuckets(REDIS, prefix=prefix) as one,
        RedisBuckets(REDIS, prefix=prefix) as two,
    ):
        assert await one.hold(PLACES, "h1") is None
        assert await two.hold(PLACES, "h2") == 0  # alice's one place is taken
        # The refused holder took nothing: the tenant's set has one holder.
        tenant_key = one.key(PLACES[1])
        assert await one._pool.call("ZCARD", tenant_key) == 1
        one.let_go(PLACES, "h1")

        async def free() -> bool:
            return await two.hold(PLACES, "h2") is None

        await deadline(free)
        assert await one._pool.call("ZRANGE", tenant_key, 0, -1) == [b"h2"]


@pytest.mark.anyio
async def test_the_places_of_a_crashed_instance_come_free_after_their_ttl(
    prefix: str,
) -> None:
    crashed = RedisBuckets(REDIS, prefix=prefix, running_ttl=0.4)
    async with crashed:
        assert await crashed.hold(PLACES, "gone") is None
    # Left without letting go (as a kill -9 would): nobody renews the place.
    async with RedisBuckets(REDIS, prefix=prefix) as survivor:
        assert await survivor.hold(PLACES, "next") == 0
        started = anyio.current_time()

        async def free() -> bool:
            return await survivor.hold(PLACES, "next") is None

        await deadline(free)
        assert anyio.current_time() - started > 0.2


@pytest.mark.anyio
async def test_held_places_are_renewed_while_the_instance_lives(prefix: str) -> None:
    async with (
        RedisBuckets(REDIS, prefix=prefix, running_ttl=0.3) as live,
        RedisBuckets(REDIS, prefix=prefix) as other,
    ):
        assert await live.hold(PLACES, "working") is None
        key = live.key(PLACES[0])
        first = float(await live._pool.call("ZSCORE", key, "working"))

        async def renewed() -> bool:
            score = await live._pool.call("ZSCORE", key, "working")
            return score is not None and float(score) > first + 250

        await deadline(renewed)  # renewed well past its first expiry
        assert await other.hold(PLACES, "waiting") == 0


@pytest.mark.anyio
async def test_two_engines_share_a_running_limit(prefix: str) -> None:
    from accord.client import Client
    from accord.server import TaskContext
    from accord.types import AgentInterface, SendMessageConfiguration

    gate = anyio.Event()

    async def gated(ctx: TaskContext) -> None:
        await ctx.working("at the gate")
        await gate.wait()
        await ctx.complete()

    def instance() -> A2AApp:
        quotas = Quotas(
            [QuotaRule(running=1)], backend=RedisBuckets(REDIS, prefix=prefix)
        )
        return A2AApp(Agent(gated, name="g", description="g"), interceptors=[quotas])

    face = AgentInterface(
        url="http://agent", protocol_binding="JSONRPC", protocol_version="1.0"
    )
    now = SendMessageConfiguration(return_immediately=True)
    first, second = instance(), instance()
    async with (
        first.running(),
        second.running(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://agent"
        ) as h1,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://agent"
        ) as h2,
        Client.from_interface(face, http=h1) as on_first,
        Client.from_interface(face, http=h2) as on_second,
    ):
        await on_first.send_message("work", configuration=now)
        with pytest.raises(RateLimitedError, match="Too many running tasks"):
            await on_second.send_message("work", configuration=now)
        gate.set()

        async def admitted() -> bool:
            try:
                await on_second.send_message("again", configuration=now)
            except RateLimitedError:
                return False
            return True

        await deadline(admitted)
