"""Metrics on a real server: requests and their latency by outcome, executions by end state,
push deliveries (failed, delivered, dead-lettered), rate-limit refusals, the queue
depth and running executions at /metrics (Prometheus text)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import cast

import anyio
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider

from accord import types as t
from accord.client import Client, ClientConfig, MemoryTransport
from accord.egress import EgressPolicy
from accord.errors import RateLimitedError, TaskNotFoundError
from accord.otel import METRICS_PATH, PrometheusReader, instrument, with_metrics
from accord.server import A2AApp, Agent, RateLimit, RateLimiter
from accord.server.limits import ServerLimits
from accord.server.push import PushSettings, generate_key
from tests.helpers.uvicorn_thread import serve_in_thread
from tests.server.scripted import behave
from tests.server.webhook import Answer, Receiver, receiver

from .conftest import DEADLINE, Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


def _push_app() -> A2AApp:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    settings = PushSettings(
        keys=[generate_key()],
        egress=EgressPolicy(allow=("127.0.0.1",)),
        retry_base=0.01,
        retry_max=0.05,
        poll_interval=0.05,
        give_up_after=2,
    )
    return A2AApp(agent, push=settings)


async def _until(read: Callable[[], object], what: str) -> None:
    """Wait until ``read()`` is truthy (a deadline poll: the server counts on its
    own thread)."""
    deadline = time.monotonic() + DEADLINE
    while not read():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.01)


def _sum(telemetry: Telemetry, name: str, **labels: str) -> float:
    return sum(
        float(cast("float", getattr(value, "count", value)))  # a histogram: its count
        for attrs, value in telemetry.points(name)
        if all(attrs.get(k) == v for k, v in labels.items())
    )


async def test_requests_executions_and_push_deliveries_are_counted(
    telemetry: Telemetry, hook: Receiver
) -> None:
    app = _push_app()
    instrument(app, meter_provider=telemetry.meter_provider, tracing=False)
    labels = {"a2a.operation": "SendMessage", "a2a.binding": "JSONRPC"}

    def configured(config_id: str) -> t.SendMessageConfiguration:
        return t.SendMessageConfiguration(
            task_push_notification_config=t.TaskPushNotificationConfig(
                url=hook.url, id=config_id
            )
        )

    with serve_in_thread(app) as url:
        config = ClientConfig(preferred_bindings=("JSONRPC",))
        async with await Client.connect(url, config=config) as client:
            hook.script(Answer(500), always=Answer(200))
            await client.send_message("echo one", configuration=configured("a"))
            await _until(
                lambda: (
                    _sum(
                        telemetry,
                        "a2a.server.push.deliveries",
                        **{"a2a.push.outcome": "delivered"},
                    )
                    >= 3
                ),
                "the task, its artifact and its completion delivered",
            )
            hook.script(always=Answer(500))
            await client.send_message("echo two", configuration=configured("b"))
            await _until(
                lambda: (
                    _sum(
                        telemetry,
                        "a2a.server.push.deliveries",
                        **{"a2a.push.outcome": "dead_letter"},
                    )
                    == 1
                ),
                "the second config dead-lettered",
            )
            with pytest.raises(TaskNotFoundError):
                await client.get_task("nowhere")

    def pushes(outcome: str) -> float:
        return _sum(
            telemetry, "a2a.server.push.deliveries", **{"a2a.push.outcome": outcome}
        )

    # a: one 500, then its events; b: two 500s in a row, the second gives up.
    assert pushes("failed") == 2
    assert pushes("dead_letter") == 1
    assert pushes("delivered") >= 3
    assert (
        _sum(telemetry, "a2a.server.duration", **labels, **{"a2a.outcome": "ok"}) == 2
    )
    assert (
        _sum(
            telemetry,
            "a2a.server.duration",
            **{"a2a.operation": "GetTask", "a2a.outcome": "TASK_NOT_FOUND"},
        )
        == 1
    )
    (durations,) = [
        point
        for attrs, point in telemetry.points("a2a.server.duration")
        if attrs.get("a2a.operation") == "SendMessage"
    ]
    assert durations.count == 2  # type: ignore[attr-defined]
    assert durations.sum > 0  # type: ignore[attr-defined]
    assert (
        _sum(
            telemetry,
            "a2a.server.executions",
            **{"a2a.task.state": "TASK_STATE_COMPLETED"},
        )
        == 2
    )
    assert _sum(telemetry, "a2a.server.executions.active") == 0


async def test_rate_limit_refusals_are_counted_apart(telemetry: Telemetry) -> None:
    app = A2AApp(Agent(behave, name="Limited", description="limited"))
    app.engine.interceptors = (RateLimiter(RateLimit(per_second=0.001, burst=1)),)
    instrument(app, meter_provider=telemetry.meter_provider, tracing=False)
    async with (
        app.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app)) as http,
    ):
        interface = t.AgentInterface(
            url="http://agent/", protocol_binding="HTTP+JSON", protocol_version="1.0"
        )
        config = ClientConfig(rate_limit_retries=0)
        async with Client.from_interface(interface, config=config, http=http) as client:
            await client.send_message("reply hi")
            with pytest.raises(RateLimitedError):
                await client.send_message("reply again")
    limited = {"a2a.operation": "SendMessage", "a2a.binding": "HTTP+JSON"}
    assert _sum(telemetry, "a2a.server.rate_limited", **limited) == 1
    assert (
        _sum(
            telemetry,
            "a2a.server.duration",
            **limited,
            **{"a2a.outcome": "RATE_LIMITED"},
        )
        == 1
    )
    # A reply without a task: the execution left no task state.
    assert (
        _sum(telemetry, "a2a.server.executions", **{"a2a.task.state": "MESSAGE"}) == 1
    )


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert match is not None, text
    return float(match[1])


async def test_the_prometheus_endpoint_shows_the_queue_and_running_work() -> None:
    reader = PrometheusReader()
    provider = MeterProvider(metric_readers=[reader])
    app = A2AApp(
        Agent(behave, name="Busy", description="busy"),
        limits=ServerLimits(max_running_tasks=1),
    )
    added = instrument(app, meter_provider=provider, tracing=False)
    asgi = with_metrics(app, reader, added.metrics)
    later = t.SendMessageConfiguration(return_immediately=True)
    try:
        with serve_in_thread(asgi) as url:
            async with (
                await Client.connect(url) as client,
                httpx.AsyncClient(base_url=url) as http,
            ):
                busy = await client.send_message("wait", configuration=later)
                queued = await client.send_message("echo queued", configuration=later)
                assert isinstance(busy, t.Task)
                assert isinstance(queued, t.Task)
                assert queued.status.state is t.TaskState.SUBMITTED
                scrape = await http.get(METRICS_PATH)
                assert scrape.status_code == 200
                assert scrape.headers["content-type"].startswith(
                    "text/plain; version=0.0.4"
                )
                text = scrape.text
                assert _gauge(text, "a2a_server_queue_depth") == 1
                assert _gauge(text, "a2a_server_executions_active") == 1
                assert (
                    'a2a_server_duration_seconds_count{a2a_binding="JSONRPC",a2a_operation="SendMessage",a2a_outcome="ok"} 2.0'
                    in text
                )
                assert re.search(
                    r'^a2a_server_duration_seconds_bucket\{.*le="\+Inf"\} 2\.0$',
                    text,
                    re.MULTILINE,
                ), text
                assert "a2a_server_duration_seconds_sum" in text
                head = await http.head(METRICS_PATH)
                assert head.status_code == 200
                assert head.content == b""
                post = await http.post(METRICS_PATH)
                assert post.status_code == 405
                assert post.headers["allow"] == "GET, HEAD"
                await client.cancel_task(busy.id)
                done = await client.get_task(queued.id)
                deadline = time.monotonic() + DEADLINE
                while done.status.state is not t.TaskState.COMPLETED:
                    assert time.monotonic() < deadline
                    await anyio.sleep(0.01)
                    done = await client.get_task(queued.id)
                text = (await http.get(METRICS_PATH)).text
                assert _gauge(text, "a2a_server_queue_depth") == 0
                # The app itself still answers beside the endpoint.
                card = await http.get("/.well-known/agent-card.json")
                assert card.status_code == 200
    finally:
        provider.shutdown()


async def test_the_queue_depth_is_sampled_while_serving(telemetry: Telemetry) -> None:
    app = A2AApp(
        Agent(behave, name="Busy", description="busy"),
        limits=ServerLimits(max_running_tasks=1),
    )
    added = instrument(app, meter_provider=telemetry.meter_provider, tracing=False)
    assert added.metrics is not None
    added.metrics.sample_interval = 0.01
    later = t.SendMessageConfiguration(return_immediately=True)
    async with (
        app.running(),
        httpx.AsyncClient(transport=MemoryTransport(app, lifespan=False)) as http,
        await Client.connect("http://agent", http=http) as client,
    ):
        busy = await client.send_message("wait", configuration=later)
        await client.send_message("echo queued", configuration=later)
        await _until(
            lambda: _sum(telemetry, "a2a.server.queue.depth") == 1,
            "the sampler to see the queued task",
        )
        assert isinstance(busy, t.Task)
        await client.cancel_task(busy.id)
        await _until(
            lambda: _sum(telemetry, "a2a.server.queue.depth") == 0,
            "the queued task to run",
        )
