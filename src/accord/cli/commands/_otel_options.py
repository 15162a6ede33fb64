"""``accord serve``'s observability options: ``--otel`` (traces and metrics through
OpenTelemetry, configured by the standard ``OTEL_*`` variables), ``--metrics`` (a
Prometheus endpoint at ``/metrics`` on the server's own port) and ``--log-format
json`` (one JSON object per log line, with the trace ids of the current span).

The ``otel`` extra (:mod:`accord.otel`) is imported only when ``--otel`` or
``--metrics`` is given; ``--log-format json`` alone needs nothing more.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._errors import UsageError
from .._json_logs import JsonFormatter, uvicorn_log_config

if TYPE_CHECKING:
    import argparse

    from accord.otel import Telemetry
    from accord.server import A2AApp

__all__ = [
    "add_otel_options",
    "configure_otel",
    "describe",
    "log_formatter",
    "uvicorn_logging",
]

INSTALL_HINT = "pip install 'accord[otel]'"


def add_otel_options(serve: argparse.ArgumentParser) -> None:
    """Add the observability options to ``accord serve``."""
    group = serve.add_argument_group("observability (docs/how-to/tracing.md)")
    group.add_argument(
        "--otel",
        action="store_true",
        help=(
            "trace every operation and execution with OpenTelemetry and record "
            "metrics, exported as OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER say "
            f"(otlp, console, none); needs {INSTALL_HINT}"
        ),
    )
    group.add_argument(
        "--metrics",
        action="store_true",
        help=(
            "serve Prometheus metrics at /metrics on the server's port (no "
            f"authentication: keep it from partners); needs {INSTALL_HINT}"
        ),
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text (default) or JSON objects, with trace ids under --otel",
    )


def configure_otel(
    app: A2AApp, args: argparse.Namespace
) -> tuple[Any, Telemetry | None]:
    """Instrument ``app`` as the flags say; the ASGI app to serve (``/metrics`` in
    front with ``--metrics``) and the telemetry to shut down (None: off).

    Run after the other interceptors are in place: tracing and metrics go first, to
    see the calls the rate limit refuses.

    Raises:
        UsageError: the otel extra is not installed, or an ``OTEL_*`` exporter name
            is unknown.
    """
    tracing = bool(getattr(args, "otel", False))
    prometheus = bool(getattr(args, "metrics", False))
    if not (tracing or prometheus):
        return app, None
    try:
        from accord.otel import instrument, telemetry_from_env, with_metrics
    except ImportError as exc:
        raise UsageError(
            f"--otel and --metrics need OpenTelemetry: {INSTALL_HINT} ({exc})"
        ) from None
    try:
        telemetry = telemetry_from_env(
            app.agent.name, traces=tracing, prometheus=prometheus
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if tracing:
        # The agent's own code (its clients: ClientTracing()) uses the global ones.
        telemetry.install_global()
    added = instrument(
        app,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        tracing=tracing,
    )
    served: Any = app
    if telemetry.prometheus is not None:
        served = with_metrics(app, telemetry.prometheus, added.metrics)
    return served, telemetry


def describe(telemetry: Telemetry) -> str:
    """One line saying where traces and metrics go (printed when serving)."""
    traces = ", ".join(telemetry.exporters.get("traces", ())) or "off"
    metrics = ", ".join(
        "prometheus at /metrics" if m == "prometheus" else m
        for m in telemetry.exporters.get("metrics", ())
    )
    return f"OpenTelemetry: traces to {traces}; metrics to {metrics or 'none'}"


def log_formatter(args: argparse.Namespace) -> logging.Formatter:
    """The formatter of Accord's log lines under ``--log-format``."""
    if getattr(args, "log_format", "text") == "json":
        return JsonFormatter()
    return logging.Formatter("%(levelname)s:     %(name)s: %(message)s")


def uvicorn_logging(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's ``log_config`` option under ``--log-format``: JSON lines, or
    uvicorn's own text lines with a cheaper access formatter (:mod:`.._text_logs`)."""
    if getattr(args, "log_format", "text") == "json":
        return {"log_config": uvicorn_log_config()}
    from .._text_logs import uvicorn_text_log_config  # imports uvicorn: serving only

    return {"log_config": uvicorn_text_log_config()}
