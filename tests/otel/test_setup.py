"""Providers from the OTEL_* variables (what ``accord serve --otel`` runs with), and
the attributes read off requests and answers."""

from __future__ import annotations

import logging

import pytest

from accord import types as t
from accord.errors import InternalError, TaskNotFoundError
from accord.otel import telemetry_from_env
from accord.otel._attributes import ids_of, outcome_of


def test_console_and_none(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = telemetry_from_env(
        "agent",
        environ={
            "OTEL_TRACES_EXPORTER": "none,console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_SERVICE_NAME": "named",
        },
    )
    try:
        assert telemetry.exporters == {"traces": ("console",), "metrics": ()}
        assert telemetry.prometheus is None
        resource = telemetry.tracer_provider.resource
        assert resource.attributes["service.name"] == "named"
    finally:
        telemetry.shutdown()
    assert not caplog.records


def test_otlp_without_an_exporter_package_falls_back_to_console(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "accord.otel")
    telemetry = telemetry_from_env(
        "agent",
        prometheus=True,
        environ={
            "OTEL_METRICS_EXPORTER": "otlp,prometheus",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        },
    )
    try:
        assert telemetry.exporters == {
            "traces": ("console",),
            "metrics": ("prometheus", "console"),
        }
        assert telemetry.prometheus is not None
        assert telemetry.tracer_provider.resource.attributes["service.name"] == "agent"
    finally:
        telemetry.shutdown()
    warned = [r.getMessage() for r in caplog.records]
    assert any("span export needs opentelemetry-exporter-otlp" in m for m in warned)
    assert any("metric export needs opentelemetry-exporter-otlp" in m for m in warned)


def test_an_unknown_exporter_is_refused() -> None:
    with pytest.raises(ValueError, match="'zipkin' is not one of"):
        telemetry_from_env("agent", environ={"OTEL_TRACES_EXPORTER": "zipkin"})


def _message(task_id: str = "", context_id: str = "") -> t.Message:
    return t.Message(
        role=t.Role.USER,
        parts=(t.Part(text="x"),),
        message_id="m",
        task_id=task_id,
        context_id=context_id,
    )


def test_task_ids_of_requests_and_answers() -> None:
    task = t.Task(
        id="t1", context_id="c1", status=t.TaskStatus(state=t.TaskState.WORKING)
    )
    assert ids_of(
        t.SendMessageRequest(message=_message(task_id="t1", context_id="c1"))
    ) == ("t1", "c1")
    assert ids_of(t.SendMessageRequest(message=_message())) == ("", "")
    assert ids_of(t.SendMessageResponse(task=task)) == ("t1", "c1")
    assert ids_of(t.SendMessageResponse(message=_message(context_id="c2"))) == (
        "",
        "c2",
    )
    assert ids_of(task) == ("t1", "c1")
    assert ids_of(t.GetTaskRequest(id="t1")) == ("t1", "")
    assert ids_of(t.CancelTaskRequest(id="t1")) == ("t1", "")
    assert ids_of(t.SubscribeToTaskRequest(id="t1")) == ("t1", "")
    assert ids_of(t.GetTaskPushNotificationConfigRequest(task_id="t1", id="p")) == (
        "t1",
        "",
    )
    assert ids_of(t.ListTasksRequest()) == ("", "")
    assert ids_of(None) == ("", "")


def test_outcomes_are_spec_reasons_or_class_names() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(TaskNotFoundError("gone")) == "TASK_NOT_FOUND"
    assert outcome_of(InternalError("oops")) == "INTERNAL_ERROR"
    assert outcome_of(KeyError("k")) == "KeyError"
