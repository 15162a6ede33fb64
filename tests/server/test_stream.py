"""SendStreamingMessage and SubscribeToTask over both bindings: order, fan-out, replay."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from .conftest import Wire, WireError, user_message
from .scripted import GATE


def kinds(events: list[tuple[str | None, object]]) -> list[str]:
    return [next(iter(payload)) for _, payload in events]  # type: ignore[call-overload]


def test_stream_echo_in_order_with_sequence_ids(wire: Wire) -> None:
    events = wire.stream(
        "SendStreamingMessage", {"message": user_message("echo streamed")}
    )
    assert kinds(events) == ["task", "artifactUpdate", "statusUpdate"]
    assert [i for i, _ in events] == ["1", "2", "3"]
    first = events[0][1]["task"]
    assert first["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert events[1][1]["artifactUpdate"]["artifact"]["parts"] == [{"text": "streamed"}]
    assert events[2][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert events[2][1]["statusUpdate"]["taskId"] == first["id"]


def test_stream_message_only(wire: Wire) -> None:
    events = wire.stream("SendStreamingMessage", {"message": user_message("reply yo")})
    assert kinds(events) == ["message"]
    assert events[0][0] is None


def test_stream_chunked_artifact(wire: Wire) -> None:
    events = wire.stream("SendStreamingMessage", {"message": user_message("chunks 4")})
    updates = [p["artifactUpdate"] for _, p in events if "artifactUpdate" in p]
    assert [u["artifact"]["parts"][0]["text"] for u in updates] == [
        "chunk-0 ",
        "chunk-1 ",
        "chunk-2 ",
        "chunk-3 ",
    ]
    assert [u.get("append", False) for u in updates] == [False, True, True, True]
    assert [u.get("lastChunk", False) for u in updates] == [False, False, False, True]
    assert len({u["artifact"]["artifactId"] for u in updates}) == 1


def test_stream_closes_at_input_required_and_follow_up_stream_starts_with_task(
    wire: Wire,
) -> None:
    events = wire.stream("SendStreamingMessage", {"message": user_message("ask")})
    assert (
        events[-1][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    )
    task_id = events[0][1]["task"]["id"]
    follow = wire.stream(
        "SendStreamingMessage", {"message": user_message("Ada", taskId=task_id)}
    )
    assert kinds(follow)[0] == "task"
    assert follow[0][1]["task"]["status"]["state"] == "TASK_STATE_WORKING"
    assert follow[-1][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    ids = [int(i) for i, _ in follow if i is not None]
    assert ids == sorted(ids)
    assert ids[0] > int(events[-1][0] or 0)


def test_subscribe_terminal_task_is_unsupported(wire: Wire) -> None:
    task = wire.call("SendMessage", {"message": user_message("echo a")})["task"]
    with pytest.raises(WireError) as err:
        wire.stream("SubscribeToTask", {"id": task["id"]})
    assert err.value.reason == "UNSUPPORTED_OPERATION"


def test_subscribe_unknown_task(wire: Wire) -> None:
    with pytest.raises(WireError) as err:
        wire.stream("SubscribeToTask", {"id": "missing"})
    assert err.value.reason == "TASK_NOT_FOUND"


def test_concurrent_subscribers_each_get_every_event_and_replay_by_last_event_id(
    wire: Wire, server_url: str
) -> None:
    GATE.opened = False
    task = wire.call(
        "SendMessage",
        {"message": user_message("gate"), "configuration": {"returnImmediately": True}},
    )["task"]
    results: list[list[tuple[str | None, Any]]] = [[], []]
    # Each subscriber reports its first event (the task snapshot): it is attached, so
    # the gate may open without either of them missing an event.
    attached = [threading.Event(), threading.Event()]

    def subscriber(slot: int) -> None:
        with httpx.Client(timeout=20) as http:
            results[slot] = Wire(server_url, wire.binding, http).stream(
                "SubscribeToTask",
                {"id": task["id"]},
                on_event=lambda _id, _payload: attached[slot].set(),
            )

    threads = [threading.Thread(target=subscriber, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for event in attached:
            assert event.wait(20), "a subscriber never received the task snapshot"
    finally:
        GATE.opened = True
    for t in threads:
        t.join(20)
    for events in results:
        assert kinds(events)[0] == "task"
        assert kinds(events)[-1] == "statusUpdate"
        assert (
            events[-1][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
        )
        assert any("artifactUpdate" in p for _, p in events)
    assert [i for i, _ in results[0]] == [i for i, _ in results[1]]
    # A subscriber that lost the stream after event 2 gets exactly what it missed.
    replay = wire.stream(
        "SubscribeToTask", {"id": task["id"]}, headers={"Last-Event-ID": "2"}
    )
    all_ids = [int(i) for i, _ in results[0] if i is not None]
    assert [int(i) for i, _ in replay if i is not None] == [
        n for n in range(3, max(all_ids) + 1)
    ]


def test_disconnect_does_not_kill_the_task(wire: Wire) -> None:
    events = wire.stream(
        "SendStreamingMessage", {"message": user_message("slow 0.3")}, limit=1
    )
    task_id = events[0][1]["task"]["id"]
    deadline = time.monotonic() + 10
    while (
        wire.call("GetTask", {"id": task_id})["status"]["state"]
        != "TASK_STATE_COMPLETED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
