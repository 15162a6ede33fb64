"""``accord serve --otel --metrics --log-format json``: a real server process whose
spans join the caller's trace, whose metrics are at /metrics and whose log lines are
JSON with the trace ids; and the option helpers in-process."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.cli._errors import UsageError
from accord.cli._json_logs import JsonFormatter, uvicorn_log_config
from accord.cli._text_logs import uvicorn_text_log_config
from accord.cli.commands import _otel_options as options
from accord.server import A2AApp, Agent
from tests.helpers.cli import reap, spawn_serve

AGENT = """
import logging
from accord.server import Agent

log = logging.getLogger("accord.example")

async def run(ctx):
    log.warning("working on %s", ctx.task_id)
    await ctx.complete("done")

agent = Agent(run, name="Logged", description="logs")
"""

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _send(base: str) -> dict[str, object]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": "m-1",
                "role": "ROLE_USER",
                "parts": [{"text": "hello"}],
            }
        },
    }
    headers = {"A2A-Version": "1.0", "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    response = httpx.post(base + "/", json=body, headers=headers, timeout=10)
    assert response.status_code == 200
    return response.json()["result"]["task"]  # type: ignore[no-any-return]


def test_serve_traces_measures_and_logs_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    process = spawn_serve(
        "agent.py",
        "--port",
        "0",
        "--otel",
        "--metrics",
        "--log-format",
        "json",
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("OpenTelemetry: "):
                break
        card = next(x for x in lines if x.startswith("Agent card: "))
        base = (
            card.removeprefix("Agent card: ")
            .strip()
            .removesuffix("/.well-known/agent-card.json")
        )
        assert lines[-1].strip() == (
            "OpenTelemetry: traces to console; metrics to prometheus at /metrics"
        )
        task = _send(base)
        scrape = httpx.get(base + "/metrics", timeout=10)
        assert scrape.status_code == 200
        assert (
            'a2a_server_duration_seconds_count{a2a_binding="JSONRPC",a2a_operation="SendMessage",a2a_outcome="ok"} 1.0'
            in scrape.text
        )
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        reap(process)
    assert process.returncode == 0, err
    # The access log, on stdout: JSON lines too (accord.server.access_log's path).
    access = [json.loads(x) for x in out.splitlines() if x.startswith('{"time"')]
    (sent,) = [x for x in access if '"POST / HTTP/1.1" 200' in x["message"]]
    assert sent["logger"] == "uvicorn.access"
    assert sent["level"] == "INFO"
    logged = [json.loads(x) for x in err.splitlines() if x.startswith('{"time"')]
    (working,) = [x for x in logged if x["logger"] == "accord.example"]
    assert working["message"] == f"working on {task['id']}"
    assert working["level"] == "WARNING"
    assert working["trace_id"] == TRACE_ID  # the caller's trace, through the agent
    assert len(working["span_id"]) == 16
    assert any(x["message"] == "Application shutdown complete." for x in logged)
    # The console exporter wrote the server span, child of the caller's span, at exit.
    spans = _console_spans(err)
    (server,) = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert server["name"] == "SendMessage"
    assert server["context"]["trace_id"] == f"0x{TRACE_ID}"
    assert server["parent_id"] == f"0x{PARENT_ID}"
    assert server["attributes"]["a2a.task.id"] == task["id"]
    (run,) = [s for s in spans if s["name"] == "Logged execute"]
    assert run["context"]["span_id"] == f"0x{working['span_id']}"
    assert run["parent_id"] == server["context"]["span_id"]


def _console_spans(err: str) -> list[dict[str, Any]]:
    """The JSON objects the console span exporter wrote (indented, over lines)."""
    decoder = json.JSONDecoder()
    spans: list[dict[str, Any]] = []
    index = 0
    while (start := err.find('{\n    "name"', index)) != -1:
        value, index = decoder.raw_decode(err, start)
        spans.append(value)
    return spans


def _args(**values: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    options.add_otel_options(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        setattr(args, key, value)
    return args


def _app() -> A2AApp:
    async def run(ctx: object) -> None:
        return None

    return A2AApp(Agent(run, name="Quiet", description="quiet"))


def test_without_the_flags_nothing_is_instrumented() -> None:
    app = _app()
    served, telemetry = options.configure_otel(app, _args())
    assert served is app
    assert telemetry is None
    assert app.engine.interceptors == ()
    assert isinstance(options.log_formatter(_args()), logging.Formatter)
    assert not isinstance(options.log_formatter(_args()), JsonFormatter)
    assert options.uvicorn_logging(_args()) == {"log_config": uvicorn_text_log_config()}
    assert options.uvicorn_logging(_args(log_format="json")) == {
        "log_config": uvicorn_log_config()
    }


def test_an_unknown_exporter_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "carrier-pigeon")
    with pytest.raises(UsageError, match="carrier-pigeon"):
        options.configure_otel(_app(), _args(metrics=True))


def test_without_the_extra_the_flags_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "accord.otel", None)
    with pytest.raises(UsageError, match=r"accord\[otel\]"):
        options.configure_otel(_app(), _args(otel=True))


def test_metrics_alone_instrument_without_tracing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    app = _app()
    served, telemetry = options.configure_otel(app, _args(metrics=True))
    assert telemetry is not None
    try:
        assert served is not app  # /metrics in front
        assert [type(i).__name__ for i in app.engine.interceptors] == ["Metrics"]
        assert options.describe(telemetry) == (
            "OpenTelemetry: traces to off; metrics to prometheus at /metrics"
        )
    finally:
        telemetry.shutdown()


def test_json_lines_carry_the_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord(
            "accord.x",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("here",),
            sys.exc_info(),
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here"
    assert line["level"] == "ERROR"
    assert line["time"].endswith("Z")
    assert "ValueError: bad" in line["exception"]
    assert "trace_id" not in line
