"""JSON-RPC binding: request parsing, response encoding, and the client direction."""

from __future__ import annotations

from typing import Any

import pytest

from accord import errors as e
from accord import types as t
from accord.bindings import jsonrpc
from accord.protocol.operations import OPERATIONS, op

from .samples import REQUESTS, TENANTS, request_cases, response_cases, with_tenant

GET_TASK = op("GetTask")


def rejection(body: bytes) -> jsonrpc.JsonRpcRejection:
    with pytest.raises(jsonrpc.JsonRpcRejection) as info:
        jsonrpc.parse_request(body)
    return info.value


def error_object(body: bytes) -> dict[str, Any]:
    response = t.decode_json(body)
    assert response["jsonrpc"] == "2.0"
    assert "result" not in response
    error: dict[str, Any] = response["error"]
    return error


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize(("name", "params"), request_cases())
def test_request_round_trip(name: str, params: Any, tenant: str) -> None:
    operation = op(name)
    params = with_tenant(params, tenant)
    call = jsonrpc.parse_request(jsonrpc.build_request("req-1", operation, params))
    assert call == jsonrpc.JsonRpcCall("req-1", operation, params)
    assert call.params.tenant == tenant
    body = jsonrpc.build_request("req-1", operation, params)
    assert jsonrpc.read_request(body) == ("req-1", operation, params, "")


@pytest.mark.parametrize(("name", "result"), response_cases())
def test_response_round_trip(name: str, result: Any) -> None:
    operation = op(name)
    if operation.streaming:
        data = jsonrpc.encode_stream_event(7, result)
        assert jsonrpc.parse_stream_event(data, operation) == result
        assert jsonrpc.parse_stream_event(data.decode(), operation) == result
    else:
        body = jsonrpc.encode_result(7, result)
        assert jsonrpc.parse_response(body, operation) == result
    assert t.decode_json(body if not operation.streaming else data)["id"] == 7


def test_every_operation_is_covered() -> None:
    assert {name for name, _ in request_cases()} == {o.name for o in OPERATIONS}
    assert {name for name, _ in response_cases()} == {o.name for o in OPERATIONS}


def test_result_envelope_is_exact() -> None:
    assert jsonrpc.encode_result("a", t.Empty()) == (
        b'{"jsonrpc":"2.0","id":"a","result":{}}'
    )
    event = t.StreamResponse(message=REQUESTS["SendMessage"][0].message)
    assert jsonrpc.encode_stream_event(None, event) == (
        b'{"jsonrpc":"2.0","id":null,"result":' + t.encode(event) + b"}"
    )


@pytest.mark.parametrize(
    "request_id", ["abc", "", "1", 0, -5, 2**70, 1.5, "ünï €"], ids=repr
)
def test_request_id_is_echoed_exactly(request_id: str | int | float) -> None:
    body = jsonrpc.build_request(request_id, GET_TASK, t.GetTaskRequest(id="x"))
    call = jsonrpc.parse_request(body)
    assert call.id == request_id
    assert type(call.id) is type(request_id)
    for response in (
        jsonrpc.encode_result(call.id, t.Empty()),
        jsonrpc.encode_error(call.id, e.TaskNotFoundError()),
    ):
        echoed = t.decode_json(response)["id"]
        assert echoed == request_id
        assert type(echoed) is type(request_id)


def test_build_request_is_plain_json_rpc() -> None:
    body = jsonrpc.build_request(3, GET_TASK, t.GetTaskRequest(id="x"))
    assert t.decode_json(body) == {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "GetTask",
        "params": {"id": "x"},
    }


@pytest.mark.parametrize("bad_id", [None, True, [1], {"a": 1}])
def test_build_request_refuses_bad_ids(bad_id: Any) -> None:
    with pytest.raises(TypeError, match="request id"):
        jsonrpc.build_request(bad_id, GET_TASK, t.GetTaskRequest(id="x"))


def test_build_request_refuses_wrong_params_type() -> None:
    with pytest.raises(TypeError, match="GetTask takes GetTaskRequest"):
        jsonrpc.build_request(1, GET_TASK, t.CancelTaskRequest(id="x"))


# --- lenient but valid requests ------------------------------------------------------


def parse(params: str, method: str = "GetTask") -> Any:
    body = f'{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}'
    return jsonrpc.parse_request(body.encode()).params


def test_params_accept_proto_names_enum_numbers_and_unknown_fields() -> None:
    assert parse('{"id":"x","history_length":"2","extra":1}') == t.GetTaskRequest(
        id="x", history_length=2
    )
    assert parse('{"status":2,"includeArtifacts":true}', "ListTasks") == (
        t.ListTasksRequest(status=t.TaskState.WORKING, include_artifacts=True)
    )


def test_params_with_whitespace_and_key_order() -> None:
    body = b' {\n "params" :\t {"id": "x"} , "method": "GetTask", "id": 9,\n"jsonrpc": "2.0"}'
    call = jsonrpc.parse_request(body)
    assert (call.id, call.params) == (9, t.GetTaskRequest(id="x"))


@pytest.mark.parametrize("params", ["", ',"params":null', ',"params":{}'])
def test_params_may_be_omitted_when_nothing_is_required(params: str) -> None:
    body = f'{{"jsonrpc":"2.0","id":1,"method":"GetExtendedAgentCard"{params}}}'
    call = jsonrpc.parse_request(body.encode())
    assert call.params == t.GetExtendedAgentCardRequest()


def test_large_valid_body_is_fine() -> None:
    text = "x" * (8 * 1024 * 1024)
    message = t.Message(message_id="m", role=t.Role.USER, parts=(t.Part(text=text),))
    params = t.SendMessageRequest(message=message)
    body = jsonrpc.build_request(1, op("SendMessage"), params)
    assert jsonrpc.parse_request(body).params == params


# --- rejected requests --------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"{", b"nope", b'{"a":1}}', b"\xff\xfe"])
def test_parse_error(body: bytes) -> None:
    rej = rejection(body)
    assert isinstance(rej.error, e.ParseError)
    assert rej.request_id is None
    error = error_object(jsonrpc.encode_error(rej.request_id, rej.error))
    assert error["code"] == -32700
    assert t.decode_json(jsonrpc.encode_error(None, rej.error))["id"] is None


@pytest.mark.parametrize(
    "body", [b"[]", b' [{"jsonrpc":"2.0","id":1,"method":"GetTask"}]']
)
def test_batches_are_refused(body: bytes) -> None:
    rej = rejection(body)
    assert isinstance(rej.error, e.InvalidRequestError)
    assert "batch requests are not supported" in rej.error.message
    assert rej.request_id is None
    assert error_object(jsonrpc.encode_error(None, rej.error))["code"] == -32600


@pytest.mark.parametrize("body", [b'"x"', b"1", b"null", b"true"])
def test_non_object_is_invalid_request(body: bytes) -> None:
    rej = rejection(body)
    assert isinstance(rej.error, e.InvalidRequestError)
    assert rej.request_id is None


@pytest.mark.parametrize(
    ("envelope", "request_id"),
    [
        ('"jsonrpc":"1.0","id":5', 5),
        ('"jsonrpc":2.0,"id":"s"', "s"),
        ('"id":5', 5),
    ],
)
def test_wrong_jsonrpc_version(envelope: str, request_id: Any) -> None:
    rej = rejection(f'{{{envelope},"method":"GetTask","params":{{"id":"x"}}}}'.encode())
    assert isinstance(rej.error, e.InvalidRequestError)
    assert '"jsonrpc" must be "2.0"' in rej.error.message
    assert rej.request_id == request_id
    body = jsonrpc.encode_error(rej.request_id, rej.error)
    assert t.decode_json(body)["id"] == request_id
    assert error_object(body)["code"] == -32600


@pytest.mark.parametrize(
    ("member", "what"),
    [
        ("", "no id"),
        (',"id":null', "null"),
        (',"id":true', "null or non-scalar"),
        (',"id":[1]', "null or non-scalar"),
        (',"id":{"a":1}', "null or non-scalar"),
    ],
)
def test_missing_or_invalid_id(member: str, what: str) -> None:
    rej = rejection(f'{{"jsonrpc":"2.0","method":"GetTask"{member}}}'.encode())
    assert isinstance(rej.error, e.InvalidRequestError)
    assert "A2A requests carry a string or number id" in rej.error.message
    assert what in rej.error.message
    assert rej.request_id is None


@pytest.mark.parametrize(
    "method", ["", ',"method":1', ',"method":null', ',"method":["a"]']
)
def test_method_must_be_a_string(method: str) -> None:
    rej = rejection(f'{{"jsonrpc":"2.0","id":"q"{method}}}'.encode())
    assert isinstance(rej.error, e.InvalidRequestError)
    assert '"method" must be a string' in rej.error.message
    assert rej.request_id == "q"


@pytest.mark.parametrize("method", ["getTask", "sendMessage", "tasks/list"])
def test_unknown_method(method: str) -> None:
    rej = rejection(f'{{"jsonrpc":"2.0","id":2,"method":"{method}"}}'.encode())
    assert isinstance(rej.error, e.MethodNotFoundError)
    assert rej.error.message == f"Method not found: {method!r}"
    assert rej.request_id == 2
    assert error_object(jsonrpc.encode_error(2, rej.error))["code"] == -32601


@pytest.mark.parametrize(
    ("method", "v1"), [("message/send", "SendMessage"), ("tasks/get", "GetTask")]
)
def test_a_v03_method_in_a_v1_request_names_the_v1_one(method: str, v1: str) -> None:
    rej = rejection(f'{{"jsonrpc":"2.0","id":2,"method":"{method}"}}'.encode())
    assert isinstance(rej.error, e.MethodNotFoundError)
    assert f"call {v1}" in rej.error.message
    assert rej.request_id == 2


def test_unknown_long_method_name_is_truncated() -> None:
    method = "x" * 1000
    rej = rejection(f'{{"jsonrpc":"2.0","id":2,"method":"{method}"}}'.encode())
    assert rej.error.message == f"Method not found: {'x' * 127 + chr(0x2026)!r}"


def test_params_array_is_invalid_params() -> None:
    rej = rejection(b'{"jsonrpc":"2.0","id":3,"method":"GetTask","params":["x"]}')
    assert isinstance(rej.error, e.InvalidParamsError)
    assert "not an array" in rej.error.message
    assert rej.request_id == 3
    assert error_object(jsonrpc.encode_error(3, rej.error))["code"] == -32602


@pytest.mark.parametrize("params", ['"x"', "1", "true", "false"])
def test_scalar_params_is_invalid_request(params: str) -> None:
    body = f'{{"jsonrpc":"2.0","id":3,"method":"GetTask","params":{params}}}'
    rej = rejection(body.encode())
    assert isinstance(rej.error, e.InvalidRequestError)
    assert '"params" must be a JSON object' in rej.error.message
    assert rej.request_id == 3


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("GetTask", "{}", "id"),
        ("GetTask", None, "id"),
        ("GetTask", '{"id":"x","historyLength":"many"}', "historyLength"),
        ("ListTasks", '{"status":"TASK_STATE_BOGUS"}', "status"),
        ("ListTasks", '{"pageSize":4294967296}', "pageSize"),
        ("SendMessage", '{"message":{"messageId":"m","role":"ROLE_USER"}}', "parts"),
    ],
)
def test_params_that_do_not_decode(method: str, params: str | None, field: str) -> None:
    member = "" if params is None else f',"params":{params}'
    rej = rejection(f'{{"jsonrpc":"2.0","id":4,"method":"{method}"{member}}}'.encode())
    assert isinstance(rej.error, e.InvalidParamsError)
    assert field in rej.error.message
    assert rej.request_id == 4
    error = error_object(jsonrpc.encode_error(4, rej.error))
    assert error["code"] == -32602
    info, bad_request = error["data"]
    assert info["reason"] == "INVALID_PARAMS"
    assert bad_request["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert field in bad_request["fieldViolations"][0]["field"]


def test_rejection_carries_the_error() -> None:
    rej = rejection(b'{"jsonrpc":"2.0","id":1,"method":"Nope"}')
    assert str(rej) == rej.error.message
    assert isinstance(rej, Exception)
    assert not isinstance(rej, e.A2AError)


# --- error responses ----------------------------------------------------------------------


def test_error_object_layout() -> None:
    error = e.TaskNotFoundError("Task t-1 not found", metadata={"taskId": "t-1"})
    assert t.decode_json(jsonrpc.encode_error("r", error)) == {
        "jsonrpc": "2.0",
        "id": "r",
        "error": {
            "code": -32001,
            "message": "Task t-1 not found",
            "data": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "TASK_NOT_FOUND",
                    "domain": "a2a-protocol.org",
                    "metadata": {"taskId": "t-1"},
                }
            ],
        },
    }


def error_response(error: dict[str, Any], **extra: Any) -> bytes:
    return t.encode({"jsonrpc": "2.0", "id": 1, "error": error, **extra})


def raised(body: bytes, operation: Any = GET_TASK) -> e.ProtocolError:
    with pytest.raises(e.ProtocolError) as info:
        jsonrpc.parse_response(body, operation)
    return info.value


def test_reason_wins_over_code() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "PUSH_NOTIFICATION_NOT_SUPPORTED",
        "domain": "a2a-protocol.org",
    }
    error = raised(error_response({"code": -32001, "message": "m", "data": [info]}))
    assert type(error) is e.PushNotificationNotSupportedError
    assert error.message == "m"


def test_code_is_the_fallback() -> None:
    foreign = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "PUSH_NOTIFICATION_NOT_SUPPORTED",
        "domain": "googleapis.com",
        "metadata": {"service": "gw"},
    }
    body = error_response({"code": -32002, "message": "no", "data": [foreign]})
    error = raised(body)
    assert type(error) is e.TaskNotCancelableError
    assert error.metadata == {"service": "gw"}
    unknown = {"@type": "x/google.rpc.ErrorInfo", "reason": "SOMETHING_NEW"}
    body = error_response({"code": -32003, "message": "no", "data": [unknown]})
    assert type(raised(body)) is e.PushNotificationNotSupportedError


def test_unknown_code_becomes_internal_error_with_a_note() -> None:
    error = raised(error_response({"code": -32050, "message": "custom", "data": []}))
    assert type(error) is e.InternalError
    assert error.message == "custom"
    assert any("-32050" in note for note in error.__notes__)


def test_v03_error_data_is_kept() -> None:
    body = error_response({"code": -32001, "message": "gone", "data": {"taskId": "t"}})
    error = raised(body)
    assert type(error) is e.TaskNotFoundError
    assert error.data == {"taskId": "t"}
    assert error.metadata == {}
    error = raised(error_response({"code": -32007, "message": "no card"}))
    assert type(error) is e.ExtendedAgentCardNotConfiguredError
    assert error.data is None


def test_error_with_null_result_is_accepted() -> None:
    body = error_response({"code": -32001, "message": "m"}, result=None)
    assert type(raised(body)) is e.TaskNotFoundError


def test_error_event_in_a_stream_is_raised() -> None:
    body = jsonrpc.encode_error(1, e.UnsupportedOperationError("terminal"))
    with pytest.raises(e.UnsupportedOperationError, match="terminal"):
        jsonrpc.parse_stream_event(body, op("SubscribeToTask"))


# --- client: odd but valid, and malformed responses -------------------------------------


@pytest.mark.parametrize("result", [b"{}", b"null"])
def test_delete_result_may_be_empty_object_or_null(result: bytes) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"result":' + result + b"}"
    assert jsonrpc.parse_response(body, op("DeleteTaskPushNotificationConfig")) == (
        t.Empty()
    )


def test_lenient_result_takes_the_slow_path() -> None:
    body = (
        b'{"jsonrpc":"2.0","id":1,"error":null,"result":'
        b'{"id":"t","context_id":"c","status":{"state":3},"kind":"task"}}'
    )
    assert jsonrpc.parse_response(body, GET_TASK) == t.Task(
        id="t", context_id="c", status=t.TaskStatus(state=t.TaskState.COMPLETED)
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "not a JSON-RPC 2.0 response"),
        (b'{"id":1,"result":{}}', "not a JSON-RPC 2.0 response"),
        (b'{"jsonrpc":"1.0","id":1,"result":{}}', "not a JSON-RPC 2.0 response"),
        (b'{"jsonrpc":"2.0","id":1}', "no result or error"),
        (
            b'{"jsonrpc":"2.0","id":1,"result":{"id":"t"},"error":{"code":1}}',
            "both result and error",
        ),
        (b'{"jsonrpc":"2.0","id":1,"error":"boom"}', "int code and a string message"),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}}', "int code"),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":true,"message":"m"}}', "int code"),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":-32001}}', "string message"),
        (b'{"jsonrpc":"2.0","id":1,"result":null}', "Invalid GetTask response"),
        (b'{"jsonrpc":"2.0","id":1,"result":{"id":"t"}}', "status"),
    ],
)
def test_malformed_responses(body: bytes, problem: str) -> None:
    with pytest.raises(e.InvalidAgentResponseError) as info:
        jsonrpc.parse_response(body, GET_TASK)
    assert problem in info.value.message


def test_malformed_stream_event() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"result":{"task":{"id":"t"},"message":{}}}'
    with pytest.raises(e.InvalidAgentResponseError, match="SubscribeToTask"):
        jsonrpc.parse_stream_event(body, op("SubscribeToTask"))
