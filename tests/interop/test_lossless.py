"""The wire checker itself: it must see a loss when there is one, and only then."""

from __future__ import annotations

import json

from a2a.types import a2a_pb2 as pb

from .lossless import accord_roundtrip, diff, instant, pb_class, sdk_roundtrip
from .wire import Exchange, check, sse_events

TASK = pb.Task.DESCRIPTOR
LIST = pb.ListTasksRequest.DESCRIPTOR
PART = pb.Part.DESCRIPTOR


def task(**extra: object) -> dict[str, object]:
    return {
        "id": "t1",
        "contextId": "c1",
        "status": {
            "state": "TASK_STATE_WORKING",
            "timestamp": "2025-01-02T03:04:05.678Z",
        },
        **extra,
    }


def test_equal_documents_have_no_difference() -> None:
    assert diff(task(), task(), TASK) == []


def test_a_dropped_or_invented_field_is_a_difference() -> None:
    with_meta = task(metadata={"a": 1})
    assert diff(with_meta, task(), TASK) == ["$.metadata: dropped by the round trip"]
    assert diff(task(), with_meta, TASK) == ["$.metadata: invented by the round trip"]


def test_an_unknown_field_is_a_difference() -> None:
    (problem,) = diff(task(extra=1), task(), TASK)
    assert "extra: not a field of lf.a2a.v1.Task" in problem


def test_a_changed_value_is_a_difference() -> None:
    changed = task(contextId="c2")
    assert diff(task(), changed, TASK) == ["$.contextId: 'c1' != 'c2'"]


def test_defaults_may_be_printed_or_omitted_but_presence_counts() -> None:
    assert diff(task(), task(history=[], artifacts=[]), TASK) == []
    assert diff({"text": "x", "filename": ""}, {"text": "x"}, PART) == []
    # historyLength is proto3 optional: 0 is not the same as unset.
    assert diff({"historyLength": 0}, {}, LIST) == [
        "$.historyLength: dropped by the round trip"
    ]
    assert diff({"historyLength": "3"}, {"historyLength": 3}, LIST) == []


def test_enums_by_name_or_number() -> None:
    assert diff({"status": 2}, {"status": "TASK_STATE_WORKING"}, LIST) == []
    assert diff({"status": 3}, {"status": "TASK_STATE_WORKING"}, LIST) != []


def test_json_values_compare_numbers_by_value_and_not_booleans() -> None:
    assert diff({"data": {"n": 1}}, {"data": {"n": 1.0}}, PART) == []
    assert diff({"data": True}, {"data": 1}, PART) != []
    assert diff({"data": None}, {}, PART) == ["$.data: dropped by the round trip"]


def test_bytes_in_any_base64_alphabet() -> None:
    assert diff({"raw": "-_8="}, {"raw": "+/8"}, PART) == []
    assert diff({"raw": "AAE="}, {"raw": "AAI="}, PART) != []


def test_timestamps_are_instants_and_may_be_cut_to_the_millisecond() -> None:
    micro = task(
        status={
            "state": "TASK_STATE_WORKING",
            "timestamp": "2025-01-02T04:04:05.678901+01:00",
        }
    )
    assert diff(micro, task(), TASK) != []
    assert diff(micro, task(), TASK, ms_timestamps=True) == []
    assert instant("2025-01-02T03:04:05Z") == instant("2025-01-02T03:04:05.000000000Z")


def test_roundtrips_decode_with_each_side() -> None:
    payload = json.dumps(
        task(artifacts=[{"artifactId": "a", "parts": [{"raw": "AAE="}]}])
    )
    descriptor = pb_class("Task").DESCRIPTOR
    assert diff(json.loads(payload), sdk_roundtrip(payload, "Task"), descriptor) == []
    assert (
        diff(json.loads(payload), accord_roundtrip(payload, "Task"), descriptor) == []
    )


def test_sse_events_keep_only_complete_events() -> None:
    body = b': ping\r\nid: 1\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: error\ndata: x\n\ndata: partial'
    events = sse_events(body)
    assert [(e.event, e.data, e.id) for e in events] == [
        ("message", '{"a":\n1}', "1"),
        ("error", "x", None),
    ]


def exchange(body: dict[str, object], **kwargs: object) -> Exchange:
    request = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t1"}}
    result = Exchange(
        method="POST",
        path="/",
        query="",
        request_headers={},
        request_body=bytearray(json.dumps(request).encode()),
        status=200,
        response_headers={"content-type": "application/json"},
        response_body=bytearray(json.dumps(body).encode()),
        complete=True,
    )
    for key, value in kwargs.items():
        setattr(result, key, value)
    return result


def test_check_reports_what_the_receiver_would_lose() -> None:
    answer = {"jsonrpc": "2.0", "id": 1, "result": task(surprise=True)}
    # Accord's server sent a field protobuf does not know: the SDK client loses it.
    outcome = check([exchange(answer)], server="accord", jsonrpc_path="/")
    assert len(outcome.problems) == 1
    assert "sdk cannot decode it" in outcome.problems[0]
    # The SDK's server sent it: Accord drops it (lenient decoding, spec §5.7).
    outcome = check([exchange(answer)], server="sdk", jsonrpc_path="/")
    assert len(outcome.problems) == 1
    assert "surprise: not a field" in outcome.problems[0]


def test_check_reads_errors_with_the_receivers_mapping() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "TASK_NOT_FOUND",
        "domain": "a2a-protocol.org",
        "metadata": {"taskId": "t1"},
    }
    good = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32001, "message": "gone", "data": [info]},
    }
    for server in ("accord", "sdk"):
        outcome = check([exchange(good)], server=server, jsonrpc_path="/")
        assert outcome.problems == []
        assert (server, "JSONRPC", "error", "TASK_NOT_FOUND") in outcome.seen
    wrong_code = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32002, "message": "gone", "data": [info]},
    }
    outcome = check([exchange(wrong_code)], server="accord", jsonrpc_path="/")
    assert outcome.problems != []
