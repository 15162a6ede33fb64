"""Metrics: requests, their latency, executions and the states they leave, the work
queue, push deliveries, rate-limit refusals.

:class:`Metrics` is an :class:`~accord.server.Interceptor`; put it before a
:class:`~accord.server.RateLimiter` (``instrument()`` does) so that it sees the
calls the limiter refuses. Its instruments (names as exported over OTLP; Prometheus
writes ``.`` as ``_``, adds ``_total`` to counters and the unit to the histogram):

========================================  =========  ======================================
``a2a.server.duration`` (s)               histogram  operations served and their latency
                                                     (a stream: to its end), by
                                                     ``a2a.operation``, ``a2a.binding``,
                                                     ``a2a.outcome`` (``ok`` or the error's
                                                     spec reason); its count is the number
                                                     of requests
``a2a.server.rate_limited``               counter    calls refused for the caller's rate
                                                     limit (``RATE_LIMITED`` outcomes), by
                                                     operation and binding
``a2a.server.executions.active``          gauge      executions of the agent running here
``a2a.server.executions``                 counter    ended executions, by ``a2a.task.state``
                                                     (the state each left its task in;
                                                     ``MESSAGE`` for a reply without a task)
``a2a.server.queue.depth``                gauge      tasks queued for any instance (the
                                                     store's count, read by :meth:`sample`)
``a2a.server.push.deliveries``            counter    push notification attempts, by
                                                     ``a2a.push.outcome`` (``delivered``,
                                                     ``failed``, ``dead_letter``)
========================================  =========  ======================================

The queue depth is the store's (every instance's queue), an async read: it is sampled
by :meth:`Metrics.sample`, every ``sample_interval`` seconds while the engine serves
(:meth:`Metrics.serving`, in the engine's lifetime) and before each scrape of the
Prometheus endpoint; an exporter that pushes (OTLP) sends the last sample.

Cost (bench/RESULTS-otel.md): each measurement through the SDK costs some 15 µs of
CPU, so a request records as few as carry information: one histogram point (its count
is the request counter OpenTelemetry's HTTP conventions also do without), one counter
point per execution; running executions are a plain integer read when collected.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from opentelemetry import metrics
from opentelemetry.metrics import Observation

from accord._version import __version__
from accord.server.interceptors import Interceptor

from . import _attributes as a

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from opentelemetry.metrics import CallbackOptions, MeterProvider

    from accord.server import Engine
    from accord.server.interceptors import (
        CallInfo,
        ExecutionInfo,
        Outcome,
        PushOutcome,
    )

__all__ = ["DURATION_BUCKETS", "SAMPLE_INTERVAL", "Metrics"]

logger = logging.getLogger(__name__)

#: Seconds between two reads of the queue depth while the engine serves (a count of
#: queued rows: cheap, but a query all the same).
SAMPLE_INTERVAL = 15.0

#: Histogram bucket bounds of ``a2a.server.duration`` (seconds): from a cached read
#: (a millisecond) to a long blocking SendMessage (five minutes, the client's default
#: read timeout).
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


class Metrics(Interceptor):
    """The server's metrics (see the module docstring).

    Args:
        meter_provider: where measurements go (default: the global one,
            ``opentelemetry.metrics.get_meter_provider()``).
        engine: the engine whose queue :meth:`sample` reads (set when the engine
            starts serving, :meth:`serving`).
        sample_interval: seconds between two samples of the queue depth while the
            engine serves.
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        engine: Engine | None = None,
        *,
        sample_interval: float = SAMPLE_INTERVAL,
    ) -> None:
        meter = metrics.get_meter("accord", __version__, meter_provider=meter_provider)
        self.engine = engine
        self.sample_interval = sample_interval
        self._duration = meter.create_histogram(
            "a2a.server.duration",
            unit="s",
            description="Operations served and the time each took (a stream: to "
            "its end)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._limited = meter.create_counter(
            "a2a.server.rate_limited",
            unit="{request}",
            description="Calls refused for the caller's rate limit",
        )
        self._running = 0
        meter.create_observable_gauge(
            "a2a.server.executions.active",
            callbacks=[self._observe_running],
            unit="{execution}",
            description="Executions of the agent running in this process",
        )
        self._executions = meter.create_counter(
            "a2a.server.executions",
            unit="{execution}",
            description="Ended executions, by the state each left its task in",
        )
        self._pushes = meter.create_counter(
            "a2a.server.push.deliveries",
            unit="{attempt}",
            description="Push notification attempts, by outcome",
        )
        self._depth: int | None = None
        meter.create_observable_gauge(
            "a2a.server.queue.depth",
            callbacks=[self._observe_depth],
            unit="{task}",
            description="Tasks queued for any instance (last sample)",
        )

    def __repr__(self) -> str:
        return "Metrics()"

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        """Record the call's latency; a rate-limit refusal counts apart too."""
        outcome_label = a.outcome_of(outcome.error)
        labels = {
            a.OPERATION: call.operation.name,
            a.BINDING: call.binding,
            a.OUTCOME: outcome_label,
        }
        self._duration.record(outcome.duration, labels)
        if outcome_label == "RATE_LIMITED":
            self._limited.add(
                1, {a.OPERATION: call.operation.name, a.BINDING: call.binding}
            )

    def executing(self, run: ExecutionInfo) -> Any:
        """Count the execution while it runs, and the state it ends in."""
        return self._execution(run)

    @contextmanager
    def _execution(self, run: ExecutionInfo) -> Iterator[None]:
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            state = run.state
            self._executions.add(
                1, {a.STATE: "MESSAGE" if state is None else state.value}
            )

    def push_delivery(self, task_id: str, outcome: PushOutcome) -> None:
        """Count one push attempt by its outcome."""
        self._pushes.add(1, {a.PUSH_OUTCOME: outcome})

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        """Sample the queue depth every ``sample_interval`` seconds while ``engine``
        serves (the engine enters this in its lifetime)."""
        self.engine = engine
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._sampling, name="accord-metrics-sampler")
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _sampling(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # the store is down: the gauge keeps its value
                logger.warning("metrics: cannot read the queue depth: %s", exc)
            await anyio.sleep(self.sample_interval)

    async def sample(self) -> None:
        """Read the queue depth from the engine's store (when it is running)."""
        engine = self.engine
        if engine is None or not engine.is_running:
            return
        self._depth = await engine.store.queued_count()

    def _observe_running(self, options: CallbackOptions) -> Iterable[Observation]:
        return (Observation(self._running),)

    def _observe_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        return () if self._depth is None else (Observation(self._depth),)
