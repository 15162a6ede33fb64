"""REST binding: routing, bodies, query strings, responses, and the client direction."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from accord import errors as e
from accord import types as t
from accord.bindings import rest
from accord.protocol.operations import OPERATIONS, op

from .samples import (
    AWKWARD_IDS,
    TENANTS,
    request_cases,
    response_cases,
    route_fields,
    with_tenant,
)

MSG = b'{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}]}}'


def form_query(pairs: list[tuple[str, str]]) -> str:
    """Encode like httpx / the official SDK: ``+`` for spaces."""
    return urllib.parse.urlencode(pairs)


def rfc3986_query(pairs: list[tuple[str, str]]) -> str:
    """Encode strictly per RFC 3986: ``%20`` for spaces."""
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)


def round_trip(name: str, params: Any, encode_query: Any = form_query) -> rest.RestCall:
    verb, path, query, body = rest.build_request(op(name), params)
    return rest.parse_request(verb, path, encode_query(query), body or b"")


def call(method: str, path: str, query: str = "", body: bytes = b"") -> Any:
    return rest.parse_request(method, path, query, body).params


def refused(method: str, path: str, query: str = "", body: bytes = b"") -> Any:
    with pytest.raises(e.ProtocolError) as info:
        rest.parse_request(method, path, query, body)
    return info.value


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("encode_query", [form_query, rfc3986_query])
@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize(("name", "params"), request_cases())
def test_request_round_trip(
    name: str, params: Any, tenant: str, encode_query: Any
) -> None:
    params = with_tenant(params, tenant)
    assert round_trip(name, params, encode_query) == rest.RestCall(op(name), params)


@pytest.mark.parametrize("awkward", AWKWARD_IDS)
@pytest.mark.parametrize(
    ("name", "params"), [(n, p) for n, p in request_cases() if route_fields(n)]
)
def test_awkward_path_values_round_trip(name: str, params: Any, awkward: str) -> None:
    changes = {field: f"{awkward}-{field}" for field in route_fields(name)}
    changes[route_fields(name)[-1]] = awkward
    for tenant in ("", awkward):
        expected = t.replace(params, tenant=tenant, **changes)
        assert round_trip(name, expected).params == expected


@pytest.mark.parametrize(("name", "result"), response_cases())
def test_response_round_trip(name: str, result: Any) -> None:
    operation = op(name)
    if operation.streaming:
        data = rest.encode_stream_event(result)
        assert data == t.encode(result)
        assert rest.parse_stream_event(data) == result
        assert rest.parse_stream_event(data.decode()) == result
    else:
        body = rest.encode_response(result)
        assert body == t.encode(result)
        assert rest.parse_response(200, body, operation) == result


def test_every_query_route_field_can_travel_in_the_query() -> None:
    from accord.bindings import _routes

    for operation in OPERATIONS:
        for route in operation.rest:
            if route.body:
                continue
            names = set(operation.request_type.__struct_encode_fields__)  # type: ignore[attr-defined]
            in_path = {f for f in names if "{" + f + "}" in route.path}
            assert names - in_path - {"tenant"} <= set(
                _routes.query_fields(operation.request_type)
            ), operation.name


@pytest.mark.parametrize("tenant", ["", "acme"])
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", ":subscribe", b""),
        ("POST", ":subscribe", b"{}"),
        ("GET", ":subscribe", b""),
    ],
)
def test_both_subscribe_verbs(
    tenant: str, method: str, suffix: str, body: bytes
) -> None:
    prefix = f"/{tenant}" if tenant else ""
    result = rest.parse_request(method, f"{prefix}/tasks/t-1{suffix}", "", body)
    assert result.operation is op("SubscribeToTask")
    assert result.params == t.SubscribeToTaskRequest(id="t-1", tenant=tenant)


def test_client_uses_the_first_route() -> None:
    verb, path, query, body = rest.build_request(
        op("SubscribeToTask"), t.SubscribeToTaskRequest(id="t 1")
    )
    assert (verb, path, query, body) == ("POST", "/tasks/t%201:subscribe", [], b"{}")


def test_built_requests_in_detail() -> None:
    send = t.SendMessageRequest(message=t.decode(MSG, t.SendMessageRequest).message)
    assert rest.build_request(op("SendMessage"), send) == (
        "POST",
        "/message:send",
        [],
        t.encode(send),
    )
    verb, path, query, body = rest.build_request(
        op("SendMessage"), t.replace(send, tenant="a b")
    )
    assert (verb, path, query) == ("POST", "/a%20b/message:send", [])
    assert body == t.encode(send)
    cancel = t.CancelTaskRequest(id="x", tenant="t", metadata={"a": 1})
    assert rest.build_request(op("CancelTask"), cancel) == (
        "POST",
        "/t/tasks/x:cancel",
        [],
        b'{"metadata":{"a":1}}',
    )
    delete = t.DeleteTaskPushNotificationConfigRequest(task_id="a:b", id="c/d")
    assert rest.build_request(op("DeleteTaskPushNotificationConfig"), delete) == (
        "DELETE",
        "/tasks/a%3Ab/pushNotificationConfigs/c%2Fd",
        [],
        None,
    )
    card = rest.build_request(
        op("GetExtendedAgentCard"), t.GetExtendedAgentCardRequest()
    )
    assert card == ("GET", "/extendedAgentCard", [], None)


def test_list_tasks_query_pairs() -> None:
    params = t.ListTasksRequest(
        tenant="acme",
        context_id="ctx 1/2",
        status=t.TaskState.INPUT_REQUIRED,
        page_size=100,
        page_token="tok+/=",
        history_length=0,
        status_timestamp_after="2025-01-02T03:04:05.678Z",
        include_artifacts=False,
    )
    assert rest.build_request(op("ListTasks"), params) == (
        "GET",
        "/acme/tasks",
        [
            ("contextId", "ctx 1/2"),
            ("status", "TASK_STATE_INPUT_REQUIRED"),
            ("pageSize", "100"),
            ("pageToken", "tok+/="),
            ("historyLength", "0"),
            ("statusTimestampAfter", "2025-01-02T03:04:05.678Z"),
            ("includeArtifacts", "false"),
        ],
        None,
    )
    include = t.ListTasksRequest(include_artifacts=True)
    assert rest.build_request(op("ListTasks"), include)[2] == [
        ("includeArtifacts", "true")
    ]


def test_dot_segments_are_encoded() -> None:
    for value, encoded in ((".", "%2E"), ("..", "%2E%2E")):
        path = rest.build_request(
            op("GetTask"), t.GetTaskRequest(id=value, tenant=value)
        )[1]
        assert path == f"/{encoded}/tasks/{encoded}"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("GetTask", t.GetTaskRequest(id="")),
        (
            "GetTaskPushNotificationConfig",
            t.GetTaskPushNotificationConfigRequest(task_id="t", id=""),
        ),
        (
            "CreateTaskPushNotificationConfig",
            t.TaskPushNotificationConfig(url="https://x"),
        ),
    ],
)
def test_empty_path_values_cannot_be_sent(name: str, params: Any) -> None:
    with pytest.raises(e.InvalidParamsError, match="must not be empty"):
        rest.build_request(op(name), params)


def test_build_request_refuses_wrong_params_type() -> None:
    with pytest.raises(TypeError, match="CancelTask takes CancelTaskRequest"):
        rest.build_request(op("CancelTask"), t.GetTaskRequest(id="x"))


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "name", "expected"),
    [
        # Non-tenant routes win collisions (spec §11.3) ...
        ("GET", "/tasks/tasks", "GetTask", {"id": "tasks"}),
        ("GET", "/tasks/extendedAgentCard", "GetTask", {"id": "extendedAgentCard"}),
        (
            "GET",
            "/tasks/tasks/pushNotificationConfigs",
            "ListTaskPushNotificationConfigs",
            {"task_id": "tasks"},
        ),
        # ... but only when the verb matches too.
        ("POST", "/tasks/message:send", "SendMessage", {"tenant": "tasks"}),
        # Custom-verb suffixes bind before bare variables; an encoded colon is data.
        ("GET", "/tasks/x:subscribe", "SubscribeToTask", {"id": "x"}),
        ("POST", "/tasks/x:cancel", "CancelTask", {"id": "x"}),
        ("GET", "/tasks/x:cancel", "GetTask", {"id": "x:cancel"}),
        ("GET", "/tasks/x%3Acancel", "GetTask", {"id": "x:cancel"}),
        ("POST", "/tasks/x%3Acancel:cancel", "CancelTask", {"id": "x:cancel"}),
        ("GET", "/tasks/a:b:subscribe", "SubscribeToTask", {"id": "a:b"}),
        # Tenants, literals, encodings.
        ("GET", "/acme/tasks", "ListTasks", {"tenant": "acme"}),
        ("GET", "/v1/tasks", "ListTasks", {"tenant": "v1"}),
        ("GET", "/a%2Fb/extendedAgentCard", "GetExtendedAgentCard", {"tenant": "a/b"}),
        ("GET", "/tasks/%E6%97%A5%20x", "GetTask", {"id": "日 x"}),
        ("GET", "tasks/no-leading-slash", "GetTask", {"id": "no-leading-slash"}),
        ("GET", "/t/tasks/tasks", "GetTask", {"tenant": "t", "id": "tasks"}),
        (
            "DELETE",
            "/t/tasks/a/pushNotificationConfigs/b",
            "DeleteTaskPushNotificationConfig",
            {"tenant": "t", "task_id": "a", "id": "b"},
        ),
    ],
)
def test_routing(method: str, path: str, name: str, expected: dict[str, str]) -> None:
    body = MSG if name == "SendMessage" else b""
    result = rest.parse_request(method, path, "", body)
    assert result.operation is op(name)
    for field, value in expected.items():
        assert getattr(result.params, field) == value
    if "tenant" not in expected:
        assert result.params.tenant == ""


def test_encoded_literal_segment_still_matches() -> None:
    assert rest.parse_request("POST", "/message%3Asend", "", MSG).operation is op(
        "SendMessage"
    )


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/nope",
        "/tasks/",
        "//tasks",
        "/a/b/c/d/e/f",
        "/tasks/x/y",
        "/x/message:go",
    ],
)
def test_unknown_path_is_method_not_found(path: str) -> None:
    error = refused("GET", path)
    assert type(error) is e.MethodNotFoundError
    assert "No A2A operation at" in error.message
    assert rest.allowed_methods(path) == ()
    status, body = rest.encode_error(error)
    assert status == 404
    assert t.decode_json(body)["error"]["details"][0]["reason"] == "METHOD_NOT_FOUND"


def test_unknown_long_path_is_truncated() -> None:
    error = refused("GET", "/" + "x" * 1000)
    assert len(error.message) < 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/tasks/x", ("GET",)),
        ("PUT", "/message:send", ("POST",)),
        ("GET", "/message:stream", ("POST",)),
        ("DELETE", "/tasks/x:subscribe", ("GET", "POST")),
        ("POST", "/acme/tasks", ("GET",)),
        ("POST", "/tasks/a/pushNotificationConfigs/b", ("DELETE", "GET")),
        ("head", "/tasks", ("GET",)),
    ],
)
def test_wrong_verb(method: str, path: str, allowed: tuple[str, ...]) -> None:
    error = refused(method, path)
    assert type(error) is e.MethodNotFoundError
    assert error.message.endswith("allowed: " + ", ".join(allowed))
    assert method in error.message
    assert rest.allowed_methods(path) == allowed


# --- bodies -------------------------------------------------------------------------------


def test_path_wins_over_body() -> None:
    params = call(
        "POST",
        "/tasks/a:cancel",
        body=b'{"id":"b","tenant":"evil","metadata":{"k":1}}',
    )
    assert params == t.CancelTaskRequest(id="a", metadata={"k": 1})
    params = call(
        "POST",
        "/acme/tasks/a/pushNotificationConfigs",
        body=b'{"task_id":"b","taskId":"c","id":"cfg","url":"https://h","tenant":"x"}',
    )
    assert params == t.TaskPushNotificationConfig(
        tenant="acme", task_id="a", id="cfg", url="https://h"
    )


@pytest.mark.parametrize("tenant", ["", "acme"])
def test_tenant_never_comes_from_the_body(tenant: str) -> None:
    prefix = f"/{tenant}" if tenant else ""
    body = MSG[:-1] + b',"tenant":"evil"}'
    assert call("POST", f"{prefix}/message:send", body=body).tenant == tenant


def test_body_accepts_proto_names() -> None:
    body = b'{"message":{"message_id":"m","role":1,"parts":[{"text":"x"}]}}'
    assert call("POST", "/message:stream", body=body).message.role is t.Role.USER


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}"])
def test_empty_cancel_body(body: bytes) -> None:
    assert call("POST", "/tasks/a:cancel", body=body) == t.CancelTaskRequest(id="a")


def test_empty_send_body_is_invalid_params() -> None:
    error = refused("POST", "/message:send")
    assert type(error) is e.InvalidParamsError
    assert "message" in error.message


@pytest.mark.parametrize("path", ["/message:send", "/tasks/a:cancel"])
def test_body_that_is_not_json(path: str) -> None:
    error = refused("POST", path, body=b"{nope")
    assert type(error) is e.ParseError
    assert rest.encode_error(error)[0] == 400


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"1"])
def test_body_that_is_not_an_object(body: bytes) -> None:
    error = refused("POST", "/tasks/a:cancel", body=body)
    assert type(error) is e.InvalidParamsError
    assert "must be a JSON object" in error.message
    assert type(refused("POST", "/message:send", body=body)) is e.InvalidParamsError


def test_invalid_body_names_the_field() -> None:
    error = refused("POST", "/tasks/a/pushNotificationConfigs", body=b'{"id":"c"}')
    assert type(error) is e.InvalidParamsError
    assert "url" in error.message


def test_query_routes_ignore_the_body() -> None:
    assert call("GET", "/tasks/a", body=b"garbage") == t.GetTaskRequest(id="a")


def test_large_valid_body_is_fine() -> None:
    body = MSG.replace(b'"x"', b'"' + b"y" * (8 * 1024 * 1024) + b'"')
    assert len(call("POST", "/message:send", body=body).message.parts[0].text) == (
        8 * 1024 * 1024
    )


# --- query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("status=TASK_STATE_WORKING", {"status": t.TaskState.WORKING}),
        ("status=2", {"status": t.TaskState.WORKING}),
        ("status=8", {"status": t.TaskState.AUTH_REQUIRED}),
        ("status=TASK_STATE_UNSPECIFIED", {}),
        ("status=0", {}),
        ("status=", {}),
        ("includeArtifacts=true", {"include_artifacts": True}),
        ("includeArtifacts=false", {"include_artifacts": False}),
        ("includeArtifacts=TRUE", {"include_artifacts": True}),
        ("includeArtifacts=1", {"include_artifacts": True}),
        ("include_artifacts=0", {"include_artifacts": False}),
        ("includeArtifacts=", {}),
        ("pageSize=50", {"page_size": 50}),
        ("page_size=%2B7", {"page_size": 7}),
        ("historyLength=0", {"history_length": 0}),
        ("historyLength=-1", {"history_length": -1}),
        ("pageToken=a%2Bb+c%2F%3D", {"page_token": "a+b c/="}),
        ("pageToken=", {}),
        ("contextId=ctx%20with%20spaces", {"context_id": "ctx with spaces"}),
        ("contextId=a+b", {"context_id": "a b"}),
        ("contextId=a%2Fb%3Ac", {"context_id": "a/b:c"}),
        ("contextId=%E6%97%A5%E6%9C%AC", {"context_id": "日本"}),
        ("context_id=raw:colon/and/slash", {"context_id": "raw:colon/and/slash"}),
        (
            "statusTimestampAfter=2025-01-02T03:04:05Z",
            {"status_timestamp_after": "2025-01-02T03:04:05.000Z"},
        ),
        (
            "statusTimestampAfter=2025-01-02T03%3A04%3A05.123456789%2B01%3A00",
            {"status_timestamp_after": "2025-01-02T02:04:05.123Z"},
        ),
        ("status_timestamp_after=", {}),
        # Unknown parameters, A2A-Version, and tenant are ignored.
        ("A2A-Version=1.0&foo=bar&tenant=evil&&x", {}),
        # The last of repeated parameters wins.
        ("pageSize=1&pageSize=2", {"page_size": 2}),
    ],
)
def test_list_tasks_query(query: str, expected: dict[str, Any]) -> None:
    assert call("GET", "/tasks", query) == t.ListTasksRequest(**expected)


def test_get_task_and_push_config_queries() -> None:
    assert call("GET", "/t/tasks/a", "historyLength=3&id=other") == t.GetTaskRequest(
        tenant="t", id="a", history_length=3
    )
    assert call(
        "GET", "/tasks/a/pushNotificationConfigs", "pageSize=5&pageToken=p&taskId=zz"
    ) == t.ListTaskPushNotificationConfigsRequest(
        task_id="a", page_size=5, page_token="p"
    )


@pytest.mark.parametrize(
    ("query", "name", "problem"),
    [
        ("status=TASK_STATE_BOGUS", "status", "TaskState name or number"),
        ("status=working", "status", "TaskState name or number"),
        ("status=9", "status", "TaskState name or number"),
        ("status=-1", "status", "TaskState name or number"),
        ("status=%C2%B2", "status", "TaskState name or number"),
        ("includeArtifacts=yes", "includeArtifacts", "true or false"),
        ("include_artifacts=2", "include_artifacts", "true or false"),
        ("pageSize=ten", "pageSize", "decimal int32"),
        ("pageSize=1.5", "pageSize", "decimal int32"),
        ("pageSize=2147483648", "pageSize", "decimal int32"),
        ("historyLength=-2147483649", "historyLength", "decimal int32"),
        ("statusTimestampAfter=yesterday", "statusTimestampAfter", "RFC 3339"),
        ("statusTimestampAfter=2025-01-02", "statusTimestampAfter", "RFC 3339"),
        (
            "statusTimestampAfter=2025-02-30T00:00:00Z",
            "statusTimestampAfter",
            "RFC 3339",
        ),
    ],
)
def test_invalid_query_values(query: str, name: str, problem: str) -> None:
    error = refused("GET", "/tasks", query)
    assert type(error) is e.InvalidParamsError
    assert f"`{name}`" in error.message
    assert problem in error.message
    status, body = rest.encode_error(error)
    assert status == 400
    details = t.decode_json(body)["error"]["details"]
    assert details[0]["reason"] == "INVALID_PARAMS"
    assert details[1]["fieldViolations"][0]["field"] in (name, "includeArtifacts")


def test_list_push_configs_page_size_range() -> None:
    error = refused("GET", "/tasks/a/pushNotificationConfigs", "pageSize=99999999999")
    assert "`pageSize`" in error.message


# --- responses and errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"), [(200, b"{}"), (200, b""), (200, b"null"), (204, b"")]
)
def test_delete_response(status: int, body: bytes) -> None:
    operation = op("DeleteTaskPushNotificationConfig")
    assert rest.encode_response(t.Empty()) == b"{}"
    assert rest.parse_response(status, body, operation) == t.Empty()


def test_error_body_layout() -> None:
    error = e.TaskNotFoundError("Task t-1 not found", metadata={"taskId": "t-1"})
    status, body = rest.encode_error(error)
    assert status == 404
    assert t.decode_json(body) == {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "Task t-1 not found",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "TASK_NOT_FOUND",
                    "domain": "a2a-protocol.org",
                    "metadata": {"taskId": "t-1"},
                }
            ],
        }
    }


def raised(status: int, body: Any) -> Exception:
    raw = body if isinstance(body, bytes) else t.encode(body)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the class is what we check
        rest.parse_response(status, raw, op("GetTask"))
    return info.value


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"Not Found"),
        (502, b"<html>bad gateway</html>"),
        (400, {"detail": "x"}),
        (400, {"error": "invalid_request"}),
        (404, {"error": {"code": 404}}),
        (500, b""),
        (302, b""),
    ],
)
def test_non_a2a_error_bodies(status: int, body: Any) -> None:
    error = raised(status, body)
    assert type(error) is e.HTTPStatusError
    assert error.status_code == status
    assert error.body == (body if isinstance(body, bytes) else t.encode(body))


@pytest.mark.parametrize(
    ("status", "grpc", "cls"),
    [
        (400, "FAILED_PRECONDITION", e.UnsupportedOperationError),
        (400, "UNIMPLEMENTED", e.UnsupportedOperationError),
        (400, "INVALID_ARGUMENT", e.InvalidParamsError),
        (401, None, e.UnauthenticatedError),
        (403, "PERMISSION_DENIED", e.PermissionDeniedError),
        (404, "NOT_FOUND", e.TaskNotFoundError),
        (409, "FAILED_PRECONDITION", e.UnsupportedOperationError),
        (409, ["odd"], e.TaskNotCancelableError),
        (413, None, e.PayloadTooLargeError),
        (415, "INVALID_ARGUMENT", e.ContentTypeNotSupportedError),
        (500, "INTERNAL", e.InternalError),
        (502, "INTERNAL", e.InvalidAgentResponseError),
    ],
)
def test_error_without_reason_falls_back_to_status(
    status: int, grpc: Any, cls: type[e.ProtocolError]
) -> None:
    error = raised(status, {"error": {"code": status, "status": grpc, "message": "m"}})
    assert type(error) is cls
    assert error.message == "m"
    assert not getattr(error, "__notes__", [])


def test_unknown_status_without_reason_is_internal_error_with_a_note() -> None:
    error = raised(
        418, {"error": {"code": 418, "status": "TEAPOT", "message": "short"}}
    )
    assert type(error) is e.InternalError
    assert error.message == "short"
    assert any("418" in note for note in error.__notes__)


def test_reason_wins_over_status() -> None:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "VERSION_NOT_SUPPORTED",
        }
    ]
    body = {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "m",
            "details": details,
        }
    }
    assert type(raised(404, body)) is e.VersionNotSupportedError


@pytest.mark.parametrize("body", [b"not json", b'{"id":"t"}', b"[]"])
def test_invalid_success_body(body: bytes) -> None:
    with pytest.raises(e.InvalidAgentResponseError, match="Invalid GetTask response"):
        rest.parse_response(200, body, op("GetTask"))


def test_error_event_in_a_stream_is_raised() -> None:
    _, body = rest.encode_error(e.TaskNotFoundError("gone", metadata={"taskId": "t"}))
    with pytest.raises(e.TaskNotFoundError) as info:
        rest.parse_stream_event(body)
    assert info.value.metadata == {"taskId": "t"}
    with pytest.raises(e.InternalError):
        rest.parse_stream_event(b'{"error":{"message":"no code"}}')
    with pytest.raises(e.UnsupportedOperationError):
        rest.parse_stream_event(
            b'{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"x"}}'
        )


@pytest.mark.parametrize(
    "data", [b"nope", b"{}", b'{"task":{"id":"t"}}', b'{"error":{"code":1}}', b"[1]"]
)
def test_malformed_stream_event(data: bytes) -> None:
    with pytest.raises(e.InvalidAgentResponseError, match="Invalid stream event"):
        rest.parse_stream_event(data)
