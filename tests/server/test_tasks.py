"""GetTask, ListTasks, CancelTask, push configs and the extended card over both bindings."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Wire, WireError, user_message


def new_task(wire: Wire, text: str, **message: object) -> Any:
    task = wire.call("SendMessage", {"message": user_message(text, **message)})["task"]
    assert isinstance(task, dict)
    return task


def test_get_unknown_task(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.call("GetTask", {"id": "missing"})
    assert err.value.reason == "TASK_NOT_FOUND"
    if wire.binding == "JSONRPC":
        assert err.value.code == -32001
    else:
        assert err.value.status == 404


def test_negative_history_length_is_invalid(wire: Wire) -> None:
    task = new_task(wire, "echo a")
    with pytest.raises(WireError) as err:
        wire.call("GetTask", {"id": task["id"], "historyLength": -1})
    assert err.value.reason == "INVALID_PARAMS"


def test_cancel_running_task_reaches_the_agent(wire: Wire) -> None:
    task = wire.call(
        "SendMessage",
        {"message": user_message("wait"), "configuration": {"returnImmediately": True}},
    )["task"]
    canceled = wire.call("CancelTask", {"id": task["id"]})
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
    assert (
        wire.call("GetTask", {"id": task["id"]})["status"]["state"]
        == "TASK_STATE_CANCELED"
    )
    with pytest.raises(WireError) as err:
        wire.call("CancelTask", {"id": task["id"]})
    assert err.value.reason == "TASK_NOT_CANCELABLE"


def test_cancel_input_required_task(wire: Wire) -> None:
    task = new_task(wire, "ask")
    assert (
        wire.call("CancelTask", {"id": task["id"]})["status"]["state"]
        == "TASK_STATE_CANCELED"
    )


def test_cancel_terminal_and_unknown(wire: Wire) -> None:
    task = new_task(wire, "echo a")
    with pytest.raises(WireError) as err:
        wire.call("CancelTask", {"id": task["id"]})
    assert err.value.reason == "TASK_NOT_CANCELABLE"
    with pytest.raises(WireError) as err:
        wire.call("CancelTask", {"id": "missing"})
    assert err.value.reason == "TASK_NOT_FOUND"


def test_list_tasks_filters_and_pages(wire: Wire) -> None:
    ctx = f"ctx-{uuid.uuid4()}"
    made = [new_task(wire, f"echo {i}", contextId=ctx) for i in range(5)]
    asked = new_task(wire, "ask", contextId=ctx)
    everything = wire.call("ListTasks", {"contextId": ctx})
    assert everything["totalSize"] == 6
    assert everything["nextPageToken"] == ""
    assert everything["pageSize"] == 50
    ids = [t["id"] for t in everything["tasks"]]
    assert set(ids) == {t["id"] for t in [*made, asked]}
    # newest status timestamp first (spec §3.1.4)
    stamps = [t["status"]["timestamp"] for t in everything["tasks"]]
    assert stamps == sorted(stamps, reverse=True)
    # artifacts absent unless requested (spec §3.1.4)
    assert all("artifacts" not in t for t in everything["tasks"])
    with_artifacts = wire.call(
        "ListTasks", {"contextId": ctx, "includeArtifacts": True}
    )
    assert any("artifacts" in t for t in with_artifacts["tasks"])
    # status filter
    waiting = wire.call(
        "ListTasks", {"contextId": ctx, "status": "TASK_STATE_INPUT_REQUIRED"}
    )
    assert [t["id"] for t in waiting["tasks"]] == [asked["id"]]
    # pages of 2
    seen: list[str] = []
    token = ""
    while True:
        page = wire.call(
            "ListTasks", {"contextId": ctx, "pageSize": 2, "pageToken": token}
        )
        assert page["totalSize"] == 6
        assert len(page["tasks"]) <= 2
        seen += [t["id"] for t in page["tasks"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert seen == ids
    # statusTimestampAfter keeps tasks at or after the given time
    newest = stamps[0]
    recent = wire.call("ListTasks", {"contextId": ctx, "statusTimestampAfter": newest})
    assert all(t["status"]["timestamp"] >= newest for t in recent["tasks"])
    assert recent["totalSize"] >= 1
    # historyLength applies per task
    trimmed = wire.call("ListTasks", {"contextId": ctx, "historyLength": 0})
    assert all("history" not in t for t in trimmed["tasks"])


@pytest.mark.parametrize("size", [0, 101, -5])
def test_list_tasks_page_size_out_of_range(wire: Wire, size: int) -> None:
    with pytest.raises(WireError) as err:
        wire.call("ListTasks", {"pageSize": size})
    assert err.value.reason == "INVALID_PARAMS"


def test_list_tasks_bad_token(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.call("ListTasks", {"pageToken": "not-a-token!"})
    assert err.value.reason == "INVALID_PARAMS"


def test_empty_list_has_all_fields(wire: Wire) -> None:
    page = wire.call("ListTasks", {"contextId": "nothing-here"})
    assert page == {"tasks": [], "nextPageToken": "", "pageSize": 50, "totalSize": 0}


@pytest.mark.parametrize(
    ("method", "params"),
    [
        (
            "CreateTaskPushNotificationConfig",
            {"taskId": "t", "url": "https://example.com/hook"},
        ),
        ("GetTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
        ("ListTaskPushNotificationConfigs", {"taskId": "t"}),
        ("DeleteTaskPushNotificationConfig", {"taskId": "t", "id": "c"}),
    ],
)
def test_push_config_operations_are_not_supported(
    wire: Wire, method: str, params: dict[str, object]
) -> None:
    with pytest.raises(WireError) as err:
        wire.call(method, params)
    assert err.value.reason == "PUSH_NOTIFICATION_NOT_SUPPORTED"


def test_inline_push_config_is_refused(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.call(
            "SendMessage",
            {
                "message": user_message("echo a"),
                "configuration": {
                    "taskPushNotificationConfig": {"url": "https://example.com/h"}
                },
            },
        )
    assert err.value.reason == "PUSH_NOTIFICATION_NOT_SUPPORTED"


def test_extended_card_not_declared(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.call("GetExtendedAgentCard", {})
    assert err.value.reason == "UNSUPPORTED_OPERATION"
