"""The Prometheus endpoint: the meter provider's metrics as text at ``/metrics``.

:class:`PrometheusReader` is an OpenTelemetry metric reader that collects on demand
(a scrape) and writes what it collected in Prometheus' text format with
prometheus-client's metric families: cumulative counters (``_total``), gauges and
up-down counters as gauges, histograms with cumulative buckets (``le``), the unit
appended to a histogram's name (``a2a_server_duration_seconds``).

:func:`with_metrics` puts it in front of an ASGI app: ``GET /metrics`` is answered
from the reader (after :meth:`Metrics.sample <accord.otel.Metrics.sample>`, which reads
the queue depth), every other request goes to the app. It is served on the agent's
own port, without the agent's authentication: expose that port to partners through
a proxy that keeps ``/metrics`` to your network (docs/how-to/tracing.md).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    MetricReader,
    MetricsData,
    Sum,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    from opentelemetry.sdk.metrics.export import Metric as OtelMetric

    from ._metrics import Metrics

    ASGIApp = Callable[
        [
            dict[str, Any],
            Callable[[], Awaitable[Any]],
            Callable[[Any], Awaitable[None]],
        ],
        Awaitable[None],
    ]

__all__ = ["METRICS_PATH", "PrometheusReader", "with_metrics"]

#: Where the endpoint answers.
METRICS_PATH = "/metrics"

#: Units written into a Prometheus name (Prometheus' base units, spelled out).
_UNITS = {"s": "seconds", "By": "bytes"}


def _name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _family(metric: OtelMetric) -> Metric | None:
    """One OpenTelemetry metric as a Prometheus metric family (None: not exported)."""
    name, doc, data = _name(metric.name), metric.description or "", metric.data
    points: list[Any] = list(data.data_points)
    keys = sorted({k for p in points for k in p.attributes})
    prom_keys = [_name(k) for k in keys]

    def values(point: Any) -> list[str]:
        return [str(point.attributes.get(k, "")) for k in keys]

    if isinstance(data, Histogram):
        unit = _UNITS.get(metric.unit or "", "")
        hist = HistogramMetricFamily(name, doc, labels=prom_keys, unit=unit)
        for point in points:
            running, buckets = 0, []
            for bound, count in zip(
                point.explicit_bounds, point.bucket_counts, strict=False
            ):
                running += count
                buckets.append((repr(float(bound)), float(running)))
            buckets.append(("+Inf", float(point.count)))
            hist.add_metric(values(point), buckets, float(point.sum))
        return hist
    if isinstance(data, Sum) and data.is_monotonic:
        counter = CounterMetricFamily(name, doc, labels=prom_keys)
        for point in points:
            counter.add_metric(values(point), float(point.value))
        return counter
    if isinstance(data, Sum | Gauge):
        gauge = GaugeMetricFamily(name, doc, labels=prom_keys)
        for point in points:
            gauge.add_metric(values(point), float(point.value))
        return gauge
    return None  # pragma: no cover - the SDK has no other point kind today


class PrometheusReader(MetricReader):
    """A metric reader that collects when scraped (:meth:`render`)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._data: MetricsData | None = None
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Families(self))

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._data = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release (no thread, no connection)."""

    def collect_families(self) -> Iterator[Metric]:
        """Collect now, as Prometheus metric families."""
        with self._lock:
            self.collect()
            data, self._data = self._data, None
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    family = _family(metric)
                    if family is not None:
                        yield family

    def render(self) -> bytes:
        """The current metrics in Prometheus' text format (version 0.0.4)."""
        return generate_latest(self._registry)


class _Families(Collector):
    """prometheus-client's side of a :class:`PrometheusReader` (a collector whose
    ``collect`` is the reader's families; the reader's own ``collect`` is the SDK's)."""

    def __init__(self, reader: PrometheusReader) -> None:
        self._reader = reader

    def collect(self) -> Iterable[Metric]:
        return self._reader.collect_families()

    def describe(self) -> Iterable[Metric]:
        return ()  # nothing up front: the registry collects on each scrape


def with_metrics(
    app: ASGIApp, reader: PrometheusReader, metrics: Metrics | None = None
) -> ASGIApp:
    """``app`` with ``GET /metrics`` answered from ``reader`` (see the module doc)."""

    async def serve(
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["path"] != METRICS_PATH:
            await app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"GET only\n", b"text/plain", allow=True)
            return
        if metrics is not None:
            await metrics.sample()
        body = reader.render()
        await _answer(
            send,
            200,
            body,
            CONTENT_TYPE_PLAIN_0_0_4.encode(),
            head=scope["method"] == "HEAD",
        )

    return serve


async def _answer(
    send: Callable[[Any], Awaitable[None]],
    status: int,
    body: bytes,
    content_type: bytes,
    *,
    allow: bool = False,
    head: bool = False,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
