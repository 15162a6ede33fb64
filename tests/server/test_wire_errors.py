"""Malformed and hostile input gets spec-shaped errors on each binding."""

from __future__ import annotations

import httpx
import pytest

from .conftest import V1


def rpc(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = http.post(
        url + "/",
        content=body,
        headers={
            "Content-Type": "application/json",
            **(V1 if headers is None else headers),
        },
    )
    return r.status_code, r.json()


@pytest.mark.parametrize(
    ("body", "code", "rid"),
    [
        (b"{not json", -32700, None),
        (b"[]", -32600, None),
        (
            b'[{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}]',
            -32600,
            None,
        ),
        (b'{"jsonrpc":"1.0","id":7,"method":"GetTask","params":{"id":"x"}}', -32600, 7),
        (
            b'{"jsonrpc":"2.0","id":"s","method":"NoSuchMethod","params":{}}',
            -32601,
            "s",
        ),
        (b'{"jsonrpc":"2.0","id":3,"method":"GetTask","params":{"id":5}}', -32602, 3),
        (b'{"jsonrpc":"2.0","id":4,"method":"GetTask","params":[1]}', -32602, 4),
        (
            b'{"jsonrpc":"2.0","id":5,"method":"SendMessage","params":{"message":{"role":"ROLE_USER"}}}',
            -32602,
            5,
        ),
    ],
)
def test_jsonrpc_error_codes(
    server_url: str, http: httpx.Client, body: bytes, code: int, rid: object
) -> None:
    status, answer = rpc(http, server_url, body)
    assert status == 200
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == rid
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    for detail in answer["error"].get("data", []):
        assert "@type" in detail


def test_invalid_params_names_the_field(server_url: str, http: httpx.Client) -> None:
    _, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":5}}',
    )
    assert "id" in answer["error"]["message"]


def test_missing_version_header_is_version_not_supported(
    server_url: str, http: httpx.Client
) -> None:
    _, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}',
        headers={},
    )
    assert answer["error"]["code"] == -32009
    assert "1.0" in answer["error"]["message"]


def test_version_as_query_parameter(server_url: str, http: httpx.Client) -> None:
    r = http.get(server_url + "/tasks/missing", params={"A2A-Version": "1.0"})
    assert r.status_code == 404


def test_patch_version_is_ignored(server_url: str, http: httpx.Client) -> None:
    r = http.get(server_url + "/tasks/missing", headers={"A2A-Version": "1.0.7"})
    assert r.status_code == 404


def test_rest_unsupported_version(server_url: str, http: httpx.Client) -> None:
    r = http.get(server_url + "/tasks/x", headers={"A2A-Version": "2.0"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"
    assert error["details"][0]["domain"] == "a2a-protocol.org"


def test_oversized_body_is_refused(server_url: str, http: httpx.Client) -> None:
    big = (
        b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"x":"'
        + b"a" * (11 * 1024 * 1024)
        + b'"}}'
    )
    status, answer = rpc(http, server_url, big)
    assert status == 413
    assert "limit" in answer["error"]["message"]


def test_rest_unknown_route_and_wrong_verb(server_url: str, http: httpx.Client) -> None:
    r = http.get(server_url + "/nothing/here/at/all", headers=V1)
    assert r.status_code == 404
    assert r.json()["error"]["details"][0]["reason"] == "METHOD_NOT_FOUND"
    r = http.delete(server_url + "/message:send", headers=V1)
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]
    error = r.json()["error"]
    assert error["code"] == 405  # the body's code is the status line's (spec §11.6)
    assert error["status"] == "UNIMPLEMENTED"
    assert error["details"][0]["reason"] == "METHOD_NOT_FOUND"


def test_rest_malformed_body(server_url: str, http: httpx.Client) -> None:
    r = http.post(
        server_url + "/message:send",
        content=b"{oops",
        headers={**V1, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_wrong_content_type_is_content_type_not_supported(
    server_url: str, http: httpx.Client
) -> None:
    # HTTP+JSON: 415 Unsupported Media Type (RFC 9110 §15.5.16), body code equal.
    r = http.post(
        server_url + "/message:send",
        content=b"hello",
        headers={**V1, "Content-Type": "text/plain"},
    )
    assert r.status_code == 415
    error = r.json()["error"]
    assert error["code"] == 415
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"
    assert "text/plain" in error["message"]
    # JSON-RPC: ContentTypeNotSupportedError -32005 (spec §5.4), id unknown.
    status, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}}',
        headers={**V1, "Content-Type": "text/plain"},
    )
    assert status == 200
    assert answer["id"] is None
    assert answer["error"]["code"] == -32005
    assert answer["error"]["data"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"


def test_both_json_media_types_are_accepted(
    server_url: str, http: httpx.Client
) -> None:
    body = b'{"message":{"messageId":"m-ct","role":"ROLE_USER","parts":[{"text":"echo ct"}]}}'
    for ctype in ("application/json", "application/a2a+json; charset=utf-8"):
        r = http.post(
            server_url + "/message:send",
            content=body.replace(b"m-ct", ctype[:16].encode()),
            headers={**V1, "Content-Type": ctype},
        )
        assert r.status_code == 200, r.text
        assert r.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        # Answered in the type the request used (v1.0.0 clients: application/json).
        assert r.headers["content-type"] == ctype.split(";")[0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "application/json"),
        ({"Accept": "*/*"}, "application/json"),
        ({"Accept": "application/json"}, "application/json"),
        ({"Accept": "application/a2a+json"}, "application/a2a+json"),
    ],
)
def test_answers_and_errors_take_the_media_type_asked_for(
    server_url: str, http: httpx.Client, headers: dict[str, str], expected: str
) -> None:
    """spec v1.0.1 §11.1 prefers application/a2a+json, v1.0.0 required
    application/json: a client that asks for one gets it, errors included; one that
    asks for neither gets application/json (v1.0.0's MUST)."""
    listed = http.get(server_url + "/tasks", headers={**V1, **headers})
    missing = http.get(server_url + "/tasks/no-such-task", headers={**V1, **headers})
    assert listed.status_code == 200
    assert missing.status_code == 404
    assert listed.headers["content-type"] == missing.headers["content-type"] == expected


def test_encoded_slash_stays_inside_the_task_id(
    server_url: str, http: httpx.Client
) -> None:
    r = http.get(server_url + "/tasks/a%2Fb", headers=V1)
    assert r.status_code == 404
    details = r.json()["error"]["details"]
    assert details[0]["reason"] == "TASK_NOT_FOUND"
    assert details[0]["metadata"]["taskId"] == "a/b"


def test_deep_nesting_is_a_parse_error_not_a_crash(
    server_url: str, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b"[" * 983 + b"]" * 983
    status, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":' + deep + b"}",
    )
    assert status == 200
    assert answer["id"] is None
    assert answer["error"]["code"] == -32700
    assert "nested deeper than 100 levels" in answer["error"]["message"]
    r = http.post(
        server_url + "/message:send",
        content=b'{"message":' + deep + b"}",
        headers={**V1, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == "PARSE_ERROR"
    assert not [rec for rec in caplog.records if rec.levelno >= 40]


def test_duplicate_method_is_refused(server_url: str, http: httpx.Client) -> None:
    # A filter reading the first "method" (GetTask) must not let SendMessage through.
    status, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"message":{"messageId":'
        b'"m","role":"ROLE_USER","parts":[{"text":"echo x"}]}},"method":"SendMessage"}',
    )
    assert status == 200
    assert answer["error"]["code"] == -32700
    assert "'method' occurs more than once" in answer["error"]["message"]


def test_a_huge_task_id_is_not_echoed_in_full(
    server_url: str, http: httpx.Client
) -> None:
    huge = "t" * 5_000_000
    body = b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"%s"}}' % (
        huge.encode()
    )
    _, answer = rpc(http, server_url, body)
    assert answer["error"]["code"] == -32001
    assert len(answer["error"]["message"]) < 300
    assert len(answer["error"]["data"][0]["metadata"]["taskId"]) <= 128
    r = http.get(server_url + "/tasks/" + huge[:60_000], headers=V1)
    assert r.status_code == 404
    assert len(r.content) < 2_000


def test_an_overlong_request_id_is_refused_with_id_null(
    server_url: str, http: httpx.Client
) -> None:
    rid = "r" * 10_000
    status, answer = rpc(
        http,
        server_url,
        b'{"jsonrpc":"2.0","id":"%s","method":"GetTask","params":{"id":"x"}}'
        % rid.encode(),
    )
    assert status == 200
    assert answer["id"] is None
    assert answer["error"]["code"] == -32600
    assert "longer than 128" in answer["error"]["message"]


def test_leading_zeros_in_the_version_are_refused(
    server_url: str, http: httpx.Client
) -> None:
    r = http.get(server_url + "/tasks/x", headers={"A2A-Version": "01.00"})
    assert r.status_code == 400
    assert r.json()["error"]["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"
