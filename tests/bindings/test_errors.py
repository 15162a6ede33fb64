"""Every row of the error table round-trips through both bindings; detail edge cases."""

from __future__ import annotations

from typing import Any

import pytest

from accord import errors as e
from accord import types as t
from accord.bindings import details as wire_details
from accord.bindings import jsonrpc, rest
from accord.protocol.errors import DOMAIN, ERRORS, ErrorSpec
from accord.protocol.operations import op

ROWS = pytest.mark.parametrize("row", ERRORS, ids=lambda r: r.cls.__name__)
GET_TASK = op("GetTask")
STREAM = op("SendStreamingMessage")


def sample(row: ErrorSpec, **kwargs: Any) -> e.ProtocolError:
    return row.cls(
        f"{row.reason} happened: ünïcode ✓",
        metadata={"taskId": "t-1", "timestamp": "2025-01-02T03:04:05.000Z"},
        **kwargs,
    )


def assert_same(got: e.ProtocolError, sent: e.ProtocolError) -> None:
    assert type(got) is type(sent)
    assert got.message == sent.message
    assert got.metadata == sent.metadata
    assert got.field_violations == sent.field_violations
    assert got.data == sent.data


@ROWS
def test_jsonrpc_round_trip(row: ErrorSpec) -> None:
    sent = sample(row)
    body = jsonrpc.encode_error("id-1", sent)
    error = t.decode_json(body)["error"]
    assert error["code"] == row.jsonrpc_code
    assert error["data"][0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": row.reason,
        "domain": DOMAIN,
        "metadata": sent.metadata,
    }
    with pytest.raises(row.cls) as info:
        jsonrpc.parse_response(body, GET_TASK)
    assert_same(info.value, sent)
    with pytest.raises(row.cls) as info:
        jsonrpc.parse_stream_event(body, STREAM)
    assert_same(info.value, sent)


@ROWS
def test_rest_round_trip(row: ErrorSpec) -> None:
    sent = sample(row)
    status, body = rest.encode_error(sent)
    assert status == row.http_status
    error = t.decode_json(body)["error"]
    assert (error["code"], error["status"]) == (row.http_status, row.grpc_status)
    assert error["details"][0]["reason"] == row.reason
    with pytest.raises(row.cls) as info:
        rest.parse_response(status, body, GET_TASK)
    assert_same(info.value, sent)
    with pytest.raises(row.cls) as info:
        rest.parse_stream_event(body)
    assert_same(info.value, sent)


@ROWS
def test_code_alone_identifies_jsonrpc_errors(row: ErrorSpec) -> None:
    body = t.encode(
        {"jsonrpc": "2.0", "id": 1, "error": {"code": row.jsonrpc_code, "message": "m"}}
    )
    with pytest.raises(row.cls):
        jsonrpc.parse_response(body, GET_TASK)


@pytest.mark.parametrize("binding", ["jsonrpc", "rest"])
def test_field_violations_and_extra_details_survive(binding: str) -> None:
    extra = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    sent = e.InvalidParamsError(
        "bad",
        field_violations=[("message.parts", "empty"), ("id", "")],
        data=extra,
    )
    if binding == "jsonrpc":
        with pytest.raises(e.InvalidParamsError) as info:
            jsonrpc.parse_response(jsonrpc.encode_error(1, sent), GET_TASK)
    else:
        with pytest.raises(e.InvalidParamsError) as info:
            rest.parse_response(*rest.encode_error(sent), GET_TASK)
    assert_same(info.value, sent)


def test_subclasses_and_the_base_class_map_to_a_row() -> None:
    class Mine(e.TaskNotFoundError):
        pass

    assert rest.encode_error(Mine())[0] == 404
    base = t.decode_json(jsonrpc.encode_error(1, e.ProtocolError("x")))["error"]
    assert (base["code"], base["data"][0]["reason"]) == (-32603, "INTERNAL_ERROR")


def test_build_details() -> None:
    error = e.TaskNotFoundError(
        "m",
        metadata={"n": 5},  # type: ignore[dict-item]
        data=[{"@type": "x/Other", "a": 1}, {"no": "type"}, "junk"],
    )
    assert wire_details.build_details(error) == [
        {
            "@type": wire_details.ERROR_INFO_TYPE,
            "reason": "TASK_NOT_FOUND",
            "domain": DOMAIN,
            "metadata": {"n": "5"},
        },
        {"@type": "x/Other", "a": 1},
    ]
    assert wire_details.build_details(e.TaskNotFoundError(data={"v03": True})) == [
        {
            "@type": wire_details.ERROR_INFO_TYPE,
            "reason": "TASK_NOT_FOUND",
            "domain": DOMAIN,
        }
    ]


INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD = "type.googleapis.com/google.rpc.BadRequest"


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (None, wire_details.WireDetails()),
        ("text", wire_details.WireDetails(data="text")),
        ([], wire_details.WireDetails()),
        (
            [{"@type": INFO, "reason": "R", "metadata": {"a": 1, "b": "x"}}],
            wire_details.WireDetails("R", {"a": "1", "b": "x"}),
        ),
        (
            [{"@type": INFO, "reason": "R", "domain": "", "metadata": ["no"]}],
            wire_details.WireDetails("R", {}),
        ),
        (
            [{"@type": INFO, "reason": 7, "domain": DOMAIN}],
            wire_details.WireDetails(None, {}),
        ),
        (
            [
                {"@type": INFO, "reason": "FIRST", "domain": DOMAIN},
                {"@type": INFO, "reason": "SECOND", "domain": DOMAIN},
            ],
            wire_details.WireDetails(
                "FIRST",
                {},
                data=[{"@type": INFO, "reason": "SECOND", "domain": DOMAIN}],
            ),
        ),
        (
            [
                {
                    "@type": INFO,
                    "reason": "GW",
                    "domain": "gw.example",
                    "metadata": {"g": "1"},
                },
                {"@type": INFO, "reason": "OURS", "metadata": {"o": "2"}},
            ],
            wire_details.WireDetails(
                "OURS",
                {"o": "2"},
                data=[
                    {
                        "@type": INFO,
                        "reason": "GW",
                        "domain": "gw.example",
                        "metadata": {"g": "1"},
                    }
                ],
            ),
        ),
        (
            [
                {"@type": BAD, "field_violations": [{"field": "a"}, "junk"]},
                {"@type": BAD, "fieldViolations": {"not": "a list"}},
                {"@type": BAD, "fieldViolations": [{"field": "b", "description": "d"}]},
            ],
            wire_details.WireDetails(field_violations=(("a", ""), ("b", "d"))),
        ),
        (
            ["junk", {"@type": 5}, {"reason": "R"}],
            wire_details.WireDetails(data=["junk", {"@type": 5}, {"reason": "R"}]),
        ),
    ],
)
def test_read_details(details: Any, expected: wire_details.WireDetails) -> None:
    assert wire_details.read_details(details) == expected


def test_make_error_notes_only_guesses() -> None:
    known = wire_details.make_error(
        None, "m", wire_details.WireDetails("TASK_NOT_FOUND"), note="guess"
    )
    assert type(known) is e.TaskNotFoundError
    assert not getattr(known, "__notes__", [])
    fallback = wire_details.make_error(
        e.InvalidParamsError, "m", wire_details.WireDetails("NEW_REASON"), note="guess"
    )
    assert type(fallback) is e.InvalidParamsError
    guessed = wire_details.make_error(
        None, "", wire_details.WireDetails(), note="guess"
    )
    assert type(guessed) is e.InternalError
    assert guessed.__notes__ == ["guess"]
