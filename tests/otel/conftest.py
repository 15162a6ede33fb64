"""Real OpenTelemetry SDK providers with in-memory exporters, one set per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

#: Seconds to wait for spans ended on a server's thread.
DEADLINE = 10.0


@dataclass
class Telemetry:
    """A tracer provider exporting to memory, and a meter provider read on demand."""

    exporter: InMemorySpanExporter
    tracer_provider: TracerProvider
    reader: InMemoryMetricReader
    meter_provider: MeterProvider

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def wait_spans(
        self, done: Callable[[Sequence[ReadableSpan]], bool]
    ) -> tuple[ReadableSpan, ...]:
        """The finished spans once ``done(spans)`` holds (a deadline poll: servers
        end their spans on their own threads)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            spans = self.spans()
            if done(spans):
                return spans
            assert time.monotonic() < deadline, [s.name for s in spans]
            time.sleep(0.005)

    def points(self, name: str) -> list[tuple[dict[str, object], object]]:
        """``(attributes, value)`` of each point of metric ``name`` (a histogram's
        value is its data point)."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, object], object]] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        value = getattr(point, "value", point)
                        found.append((dict(point.attributes or {}), value))
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(exporter, tracer_provider, reader, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()
