"""OpenTelemetry for Accord: spans, metrics, trace ids in logs (the ``otel`` extra).

Nothing else in Accord imports OpenTelemetry: without this package, tracing costs
nothing. With it, tracing is explicit:

* :func:`instrument` puts :class:`Tracing` (a SERVER span per operation, an execution
  span per run of the agent, both with A2A attributes, children of the caller's W3C
  ``traceparent``) and :class:`Metrics` first among an engine's interceptors;
* :class:`ClientTracing` is a client call hook: a CLIENT span per call, its context
  sent with the call (HTTP headers, gRPC metadata). Used inside an agent's
  execution, its spans are children of the execution span: one trace follows a
  request from the first caller through every agent it reaches;
* :class:`PrometheusReader` and :func:`with_metrics` serve the metrics at
  ``/metrics``; :func:`telemetry_from_env` configures providers from the ``OTEL_*``
  variables (``accord serve --otel``); :func:`current_ids` gives the trace and span
  ids JSON log lines carry.

Example::

    from accord.otel import ClientTracing, instrument

    app = A2AApp(agent)
    instrument(app)  # spans and metrics, to the global providers
    config = ClientConfig(hooks=(ClientTracing(),))  # for the calls the agent makes

Install with ``pip install 'accord[otel]'``; see docs/how-to/tracing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.server import Engine

from ._metrics import DURATION_BUCKETS, SAMPLE_INTERVAL, Metrics
from ._prometheus import METRICS_PATH, PrometheusReader, with_metrics
from ._setup import Telemetry, telemetry_from_env
from ._tracing import ClientTracing, Tracing, current_ids

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import TracerProvider

    from accord.server import A2AApp

__all__ = [
    "DURATION_BUCKETS",
    "METRICS_PATH",
    "SAMPLE_INTERVAL",
    "ClientTracing",
    "Instrumentation",
    "Metrics",
    "PrometheusReader",
    "Telemetry",
    "Tracing",
    "current_ids",
    "instrument",
    "telemetry_from_env",
    "with_metrics",
]


@dataclass(frozen=True, slots=True)
class Instrumentation:
    """What :func:`instrument` added to an engine."""

    tracing: Tracing | None
    metrics: Metrics | None


def instrument(
    target: Engine | A2AApp,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    propagator: TextMapPropagator | None = None,
    tracing: bool = True,
    metrics: bool = True,
) -> Instrumentation:
    """Trace and measure the operations and executions of an engine (or an app's).

    :class:`Tracing` and :class:`Metrics` go *first* among its interceptors (read when
    the engine starts), so they see the calls later interceptors refuse (a
    :class:`~accord.server.RateLimiter`'s 429s). Providers default to the global
    ones.
    """
    engine = target if isinstance(target, Engine) else target.engine
    tracer = Tracing(tracer_provider, propagator) if tracing else None
    meter = Metrics(meter_provider, engine) if metrics else None
    added = tuple(i for i in (tracer, meter) if i is not None)
    engine.interceptors = (*added, *engine.interceptors)
    return Instrumentation(tracer, meter)
