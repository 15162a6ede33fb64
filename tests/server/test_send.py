"""SendMessage over both bindings against a real server: blocking, immediate, multi-turn."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import Wire, WireError, user_message
from .scripted import GATE


def send(wire: Wire, text: str, **config: object) -> Any:
    params: dict[str, object] = {"message": user_message(text)}
    if config:
        params["configuration"] = config
    result = wire.call("SendMessage", params)
    assert isinstance(result, dict)
    return result


def test_blocking_send_returns_completed_task_with_artifact(wire: Wire) -> None:
    result = send(wire, "echo hello there")
    task = result["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": "hello there"}]
    assert task["artifacts"][0]["name"] == "echo"
    assert task["id"]
    assert task["contextId"]
    assert task["history"][0]["role"] == "ROLE_USER"
    assert task["history"][0]["taskId"] == task["id"]
    assert task["status"]["timestamp"].endswith("Z")


def test_message_only_reply_creates_no_task(wire: Wire) -> None:
    result = send(wire, "reply hi back")
    assert "task" not in result
    message = result["message"]
    assert message["role"] == "ROLE_AGENT"
    assert message["parts"] == [{"text": "hi back"}]
    assert message["contextId"]


def test_return_immediately_then_poll_until_done(wire: Wire) -> None:
    GATE.opened = False
    result = send(wire, "gate", returnImmediately=True)
    task = result["task"]
    assert task["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")
    GATE.opened = True
    deadline = time.monotonic() + 10
    while True:
        got = wire.call("GetTask", {"id": task["id"]})
        if got["status"]["state"] == "TASK_STATE_COMPLETED":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert got["artifacts"][0]["parts"] == [{"text": "through the gate"}]


def test_agent_exception_fails_the_task_without_leaking_it(wire: Wire) -> None:
    # The details (error id, log, opt-in) are in test_agent_errors.py.
    task = send(wire, "boom")["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    text = task["status"]["message"]["parts"][0]["text"]
    assert "error id" in text
    assert "kaboom" not in text


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("fail", "TASK_STATE_FAILED"),
        ("reject", "TASK_STATE_REJECTED"),
        ("nothing", "TASK_STATE_COMPLETED"),
        ("auth", "TASK_STATE_AUTH_REQUIRED"),
    ],
)
def test_final_states(wire: Wire, word: str, state: str) -> None:
    assert send(wire, word)["task"]["status"]["state"] == state


def test_agent_misuse_after_the_end_does_not_change_the_task(wire: Wire) -> None:
    task = send(wire, "misuse")["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"


def test_history_length_limits_history(wire: Wire) -> None:
    task = send(wire, "ask")["task"]
    follow = wire.call(
        "SendMessage",
        {
            "message": user_message("Ada", taskId=task["id"]),
            "configuration": {"historyLength": 1},
        },
    )["task"]
    assert len(follow["history"]) == 1
    full = wire.call("GetTask", {"id": task["id"]})
    assert len(full["history"]) >= 3
    none = wire.call("GetTask", {"id": task["id"], "historyLength": 0})
    assert "history" not in none


def test_multi_turn_input_required_then_follow_up_with_task_id_only(wire: Wire) -> None:
    first = send(wire, "ask")["task"]
    assert first["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert first["status"]["message"]["parts"] == [{"text": "what is your name?"}]
    # spec §3.4.3: only taskId given -> the task's context is used
    second = wire.call(
        "SendMessage", {"message": user_message("Ada", taskId=first["id"])}
    )["task"]
    assert second["id"] == first["id"]
    assert second["contextId"] == first["contextId"]
    assert second["status"]["state"] == "TASK_STATE_COMPLETED"
    assert second["artifacts"][0]["parts"] == [{"text": "got Ada"}]
    texts = [m["parts"][0]["text"] for m in second["history"]]
    assert texts[0] == "ask"
    assert "Ada" in texts


def test_message_to_terminal_task_is_unsupported(wire: Wire) -> None:
    task = send(wire, "echo x")["task"]
    with pytest.raises(WireError) as err:
        wire.call("SendMessage", {"message": user_message("more", taskId=task["id"])})
    assert err.value.reason == "UNSUPPORTED_OPERATION"


def test_context_mismatch_is_invalid_params(wire: Wire) -> None:
    task = send(wire, "ask")["task"]
    with pytest.raises(WireError) as err:
        wire.call(
            "SendMessage",
            {"message": user_message("x", taskId=task["id"], contextId="other")},
        )
    assert err.value.reason == "INVALID_PARAMS"


def test_unknown_task_id_is_task_not_found(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.call("SendMessage", {"message": user_message("x", taskId="no-such-task")})
    assert err.value.reason == "TASK_NOT_FOUND"


def test_client_context_id_is_kept(wire: Wire) -> None:
    task = wire.call(
        "SendMessage", {"message": user_message("echo a", contextId="ctx-mine")}
    )["task"]
    assert task["contextId"] == "ctx-mine"


def test_agent_role_message_is_refused(wire: Wire) -> None:
    msg = user_message("echo a")
    msg["role"] = "ROLE_AGENT"
    with pytest.raises(WireError) as err:
        wire.call("SendMessage", {"message": msg})
    assert err.value.reason == "INVALID_PARAMS"


def test_unaccepted_media_type_is_content_type_not_supported(wire: Wire) -> None:
    msg = user_message("x")
    msg["parts"] = [{"raw": "AAEC", "mediaType": "image/png"}]
    with pytest.raises(WireError) as err:
        wire.call("SendMessage", {"message": msg})
    assert err.value.reason == "CONTENT_TYPE_NOT_SUPPORTED"


def test_a_typed_part_after_untyped_ones_is_still_checked(wire: Wire) -> None:
    # intake skips the check when no part names a media type: a first text part
    # (none named) must not hide a later unaccepted one, nor an accepted one it.
    msg = user_message("x")
    msg["parts"] = [
        {"text": "look"},
        {"text": "{}", "mediaType": "application/json"},
        {"raw": "AAEC", "mediaType": "image/png"},
    ]
    with pytest.raises(WireError) as err:
        wire.call("SendMessage", {"message": msg})
    assert err.value.reason == "CONTENT_TYPE_NOT_SUPPORTED"
    assert "parts[2]" in str(err.value)


def test_submit_makes_the_task_visible_before_progress(wire: Wire) -> None:
    from .scripted import GATE

    GATE.opened = False
    task = send(wire, "submit", returnImmediately=True)["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert wire.call("GetTask", {"id": task["id"]})["status"]["state"] == (
        "TASK_STATE_SUBMITTED"
    )
    GATE.opened = True
    deadline = time.monotonic() + 10
    while wire.call("GetTask", {"id": task["id"]})["status"]["state"] != (
        "TASK_STATE_COMPLETED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
