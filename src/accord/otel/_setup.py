"""Tracer and meter providers configured from the standard ``OTEL_*`` variables.

What ``accord serve --otel`` uses (a library never reads the environment on its own,
style guide §13: this is called by the CLI, or by a program that wants the same).

* ``OTEL_TRACES_EXPORTER`` (default ``otlp``) and ``OTEL_METRICS_EXPORTER`` (default
  ``otlp``; ``prometheus`` alone with ``--metrics``): comma-separated, each ``otlp``,
  ``console`` (to stderr) or ``none``; ``prometheus`` among the metrics exporters is
  the ``/metrics`` endpoint. ``otlp`` needs an OTLP exporter package
  (``opentelemetry-exporter-otlp-proto-http``, else ``-proto-grpc``) configured by
  its own ``OTEL_EXPORTER_OTLP_*`` variables; without one it falls back to ``console``
  and says so in the log.
* ``OTEL_SERVICE_NAME`` (default: the agent's name) and ``OTEL_RESOURCE_ATTRIBUTES``
  name the service; ``OTEL_PROPAGATORS`` chooses the propagators (the API reads it).
* ``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds, default 60000): how often metrics
  are pushed to ``otlp``/``console``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from ._prometheus import PrometheusReader

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["EXPORTERS", "Telemetry", "telemetry_from_env"]

logger = logging.getLogger(__name__)

#: The exporter names ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` accept.
EXPORTERS = ("otlp", "console", "none", "prometheus")

#: Where an OTLP exporter may be found (module, span exporter, metric exporter),
#: HTTP first.
_OTLP = (
    ("opentelemetry.exporter.otlp.proto.http", "trace_exporter", "metric_exporter"),
    ("opentelemetry.exporter.otlp.proto.grpc", "trace_exporter", "metric_exporter"),
)


@dataclass
class Telemetry:
    """The providers ``accord serve --otel`` runs with, and their shutdown.

    Attributes:
        tracer_provider: spans, exported per ``OTEL_TRACES_EXPORTER``.
        meter_provider: metrics, exported per ``OTEL_METRICS_EXPORTER``.
        prometheus: the reader behind ``/metrics`` (None without it).
        exporters: what was chosen, e.g. ``{"traces": ("console",), "metrics":
            ("prometheus",)}`` (what the CLI prints).
    """

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    prometheus: PrometheusReader | None = None
    exporters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def install_global(self) -> None:
        """Make these the global providers (what ``ClientTracing()`` and
        ``trace.get_tracer(...)`` in an agent's code use). Once per process: the API
        refuses to replace them (and logs a warning) afterwards."""
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def shutdown(self) -> None:
        """Flush and stop the exporters (pending spans are sent)."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _names(environ: Mapping[str, str], variable: str, default: str) -> tuple[str, ...]:
    raw = environ.get(variable, "").strip() or default
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    for name in names:
        if name not in EXPORTERS:
            raise ValueError(
                f"{variable}={raw!r}: {name!r} is not one of {', '.join(EXPORTERS)}"
            )
    return names


def _otlp(kind: str) -> Any | None:
    """An OTLP exporter class for ``kind`` (``span``/``metric``), None if none is
    installed."""
    for package, span_module, metric_module in _OTLP:
        module_name = f"{package}.{span_module if kind == 'span' else metric_module}"
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return getattr(
            module, f"OTLP{kind.capitalize()}Exporter"
        )  # pragma: no cover - not in the extra
    return None


def _exporter(kind: str, name: str) -> tuple[str, Any]:
    """(the name used, an exporter) for exporter ``name`` of ``kind``."""
    if name == "otlp":
        otlp = _otlp(kind)
        if otlp is not None:  # pragma: no cover - no OTLP exporter in the extra
            return name, otlp()
        logger.warning(
            "OTLP %s export needs opentelemetry-exporter-otlp-proto-http (or "
            "-proto-grpc); writing them to stderr instead",
            "span" if kind == "span" else "metric",
        )
    if kind == "span":
        return "console", ConsoleSpanExporter(out=sys.stderr)
    return "console", ConsoleMetricExporter(out=sys.stderr)


def telemetry_from_env(
    service_name: str,
    *,
    traces: bool = True,
    prometheus: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Telemetry:
    """Providers configured from ``environ`` (default ``os.environ``); see the
    module docstring. ``traces=False``: spans are not exported (metrics only);
    ``prometheus``: a :class:`PrometheusReader` for ``/metrics``.

    Raises:
        ValueError: an exporter name is unknown.
    """
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service_name}
    )
    chosen: dict[str, tuple[str, ...]] = {}
    tracer_provider = TracerProvider(resource=resource)
    used: list[str] = []
    for name in _names(env, "OTEL_TRACES_EXPORTER", "otlp") if traces else ():
        if name in ("none", "prometheus"):
            continue
        used_name, exporter = _exporter("span", name)
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        used.append(used_name)
    chosen["traces"] = tuple(used)
    interval = float(env.get("OTEL_METRIC_EXPORT_INTERVAL") or 60_000)
    readers: list[MetricReader] = []
    reader = PrometheusReader() if prometheus else None
    used = []
    if reader is not None:
        readers.append(reader)
        used.append("prometheus")
    default = "prometheus" if prometheus else "otlp"
    for name in _names(env, "OTEL_METRICS_EXPORTER", default):
        if name in ("none", "prometheus"):
            continue
        used_name, exporter = _exporter("metric", name)
        readers.append(
            PeriodicExportingMetricReader(exporter, export_interval_millis=interval)
        )
        used.append(used_name)
    chosen["metrics"] = tuple(used)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(tracer_provider, meter_provider, reader, chosen)
