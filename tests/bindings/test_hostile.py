"""Hostile request bodies: nesting, duplicate member names, huge ids and echoes."""

from __future__ import annotations

import pytest

from accord import errors as e
from accord import types as t
from accord._quote import MAX_QUOTED, shorten
from accord.bindings import details, jsonrpc, rest
from accord.bindings.media import UnsupportedMediaTypeError, check_content_type

from .test_jsonrpc import error_object, rejection

DEPTH = t.MAX_JSON_DEPTH
SEND = b'{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}}'


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def rpc(params: bytes, method: bytes = b"SendMessage", rid: bytes = b"1") -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":'
        + rid
        + b',"method":"'
        + method
        + b'","params":'
        + params
        + b"}"
    )


# --- depth ------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [DEPTH + 1, 983, 5000, 200_000])
def test_deep_nesting_is_a_parse_error_on_json_rpc(depth: int) -> None:
    meta = b'{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"k":'
    rej = rejection(rpc(meta + nested(depth) + b"}}}"))
    assert isinstance(rej.error, e.ParseError)
    assert f"nested deeper than {DEPTH} levels" in rej.error.message
    assert rej.request_id is None
    assert error_object(jsonrpc.encode_error(None, rej.error))["code"] == -32700


@pytest.mark.parametrize("depth", [DEPTH + 1, 5000])
def test_deep_nesting_is_a_parse_error_on_rest(depth: int) -> None:
    body = b'{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"k":'
    with pytest.raises(e.ParseError, match="nested deeper"):
        rest.parse_request("POST", "/message:send", "", body + nested(depth) + b"}}}")
    # Routes with path fields read the body as plain JSON, strictly too.
    with pytest.raises(e.ParseError, match="nested deeper"):
        rest.parse_request("POST", "/tasks/t-1:cancel", "", nested(depth))


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # The request object, "message", "metadata" and "k" take 4 of the levels.
    body = (
        b'{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":{"k":'
        + nested(DEPTH - 3)
        + b"}}}"
    )
    call = rest.parse_request("POST", "/message:send", "", body)
    assert call.params.message.metadata is not None
    with pytest.raises(e.ParseError):
        rest.parse_request("POST", "/message:send", "", body.replace(b"[1]", b"[[1]]"))


def test_the_shortest_bodies_at_and_over_the_limit() -> None:
    # Bodies of at most 2 * DEPTH bytes skip the count of brackets (they cannot nest
    # deeper): the shortest at the limit is accepted, the shortest over it refused.
    at_limit = b"[" * DEPTH + b"]" * DEPTH
    assert len(at_limit) == 2 * DEPTH
    assert t.decode_json(at_limit, strict=True) is not None
    over = b"[" * (DEPTH + 1) + b"]" * (DEPTH + 1)
    with pytest.raises(e.ParseError, match="nested deeper"):
        t.decode_json(over, strict=True)
    with pytest.raises(e.ParseError, match="nested deeper"):
        t.decode_json(b" " + over.replace(b"[]", b"[ ]") + b" ", strict=True)


def test_brackets_inside_strings_do_not_count() -> None:
    text = b"[{" * (DEPTH * 3)
    body = SEND.replace(b'"hi"', b'"' + text + b'"')
    call = rest.parse_request("POST", "/message:send", "", body)
    assert call.params.message.parts[0].text == text.decode()


def test_many_shallow_containers_are_accepted() -> None:
    parts = b",".join([b'{"text":"x"}'] * (DEPTH * 2))
    body = SEND.replace(b'[{"text":"hi"}]', b"[" + parts + b"]")
    call = jsonrpc.parse_request(rpc(body))
    assert len(call.params.message.parts) == DEPTH * 2


def test_non_strict_decoding_turns_recursion_into_a_parse_error() -> None:
    # The client side decodes answers non-strictly, but never crashes on depth.
    for decode in (t.decode_json, lambda d: t.decode(d, t.Task)):
        with pytest.raises(e.ParseError, match="nested deeper"):
            decode(b'{"id":' + nested(100_000) + b"}")


# --- duplicate member names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        # The envelope: a filter reading the first "method" must not be bypassed.
        (rpc(SEND, b'GetTask","method":"SendMessage'), "method"),
        (
            b'{"jsonrpc":"2.0","id":1,"id":2,"method":"GetTask","params":{"id":"x"}}',
            "id",
        ),
        (rpc(b'{"id":"a","id":"b"}', b"GetTask"), "id"),
        # Deep inside params, in a free-form Value.
        (rpc(SEND.replace(b'"hi"}', b'"hi","metadata":{"a":{"b":1,"b":2}}}')), "b"),
        # Keys that differ only in their escapes are the same member name.
        (rpc(b'{"id":"a","\\u0069d":"b"}', b"GetTask"), "id"),
        # The dropped member's colons, or the kept one's escaped colon, must not
        # balance the member the decoder dropped.
        (rpc(b'{"id":"a:b","id":"c"}', b"GetTask"), "id"),
        (rpc(b'{"id":"\\u003a","id":"\\u003a"}', b"GetTask"), "id"),
    ],
)
def test_duplicate_member_names_are_refused_on_json_rpc(body: bytes, key: str) -> None:
    rej = rejection(body)
    assert isinstance(rej.error, e.ParseError)
    assert f"member name {key!r} occurs more than once" in rej.error.message
    assert rej.request_id is None


def test_duplicate_member_names_are_refused_on_rest() -> None:
    dup = SEND.replace(b'"role"', b'"role":"ROLE_AGENT","role"')
    with pytest.raises(e.ParseError, match="'role' occurs more than once"):
        rest.parse_request("POST", "/message:send", "", dup)
    with pytest.raises(e.ParseError, match="'x' occurs more than once"):
        rest.parse_request("POST", "/tasks/t-1:cancel", "", b'{"x":1,"x":1}')


@pytest.mark.parametrize(
    "text",
    [
        b"a: b :: c",  # literal colons inside strings
        b"a\\u003a b \\u003A",  # escaped colons (the duplicate check's slow path)
        b"\\\\u003a",  # an escaped backslash followed by u003a: no colon at all
    ],
)
def test_colons_in_strings_are_not_duplicates(text: bytes) -> None:
    body = SEND.replace(b'"hi"', b'"' + text + b'"')
    call = jsonrpc.parse_request(rpc(body))
    assert call.params.message.parts[0].text == t.decode_json(b'"' + text + b'"')


def test_same_names_in_different_objects_are_fine() -> None:
    body = SEND.replace(b'"hi"}', b'"hi","metadata":{"text":{"text":1}}}')
    part = jsonrpc.parse_request(rpc(body)).params.message.parts[0]
    assert part.metadata == {"text": {"text": 1}}


# --- request ids and echoes -------------------------------------------------------------


@pytest.mark.parametrize(
    "rid",
    [
        b'"' + b"x" * (jsonrpc.MAX_ID_LENGTH + 1) + b'"',
        b'"' + b"x" * 5_000_000 + b'"',
        b"1" + b"0" * jsonrpc.MAX_ID_LENGTH,
        b"-1" + b"0" * jsonrpc.MAX_ID_LENGTH,
    ],
)
def test_overlong_request_ids_are_invalid_requests_with_id_null(rid: bytes) -> None:
    rej = rejection(rpc(b'{"id":"x"}', b"GetTask", rid))
    assert isinstance(rej.error, e.InvalidRequestError)
    assert "longer than 128" in rej.error.message
    assert rej.request_id is None


@pytest.mark.parametrize(
    ("rid", "value"),
    [
        (b'"' + b"x" * jsonrpc.MAX_ID_LENGTH + b'"', "x" * jsonrpc.MAX_ID_LENGTH),
        (b"9" * jsonrpc.MAX_ID_LENGTH, int("9" * jsonrpc.MAX_ID_LENGTH)),
        (b"1.5e300", 1.5e300),
    ],
)
def test_ids_up_to_the_bound_are_echoed_exactly(rid: bytes, value: object) -> None:
    call = jsonrpc.parse_request(rpc(b'{"id":"x"}', b"GetTask", rid))
    assert call.id == value
    assert jsonrpc.encode_result(call.id, t.Empty()).startswith(
        b'{"jsonrpc":"2.0","id":' + rid + b","
    )


def test_shorten() -> None:
    assert shorten("abc") == "abc"
    assert shorten("x" * MAX_QUOTED) == "x" * MAX_QUOTED
    cut = shorten("x" * 5_000_000)
    assert cut == "x" * (MAX_QUOTED - 1) + "\u2026"
    assert shorten("abcdef", 4) == "abc\u2026"


def test_a_huge_path_is_quoted_shortened() -> None:
    with pytest.raises(e.MethodNotFoundError) as info:
        rest.parse_request("GET", "/" + "x" * 5_000_000, "", b"")
    assert len(info.value.message) < 2 * MAX_QUOTED


def test_huge_query_values_are_quoted_shortened_and_never_crash_int() -> None:
    # int() refuses more than 4300 digits with a ValueError: never reach it.
    for query in ("pageSize=" + "9" * 5000, "status=" + "1" * 5000):
        with pytest.raises(e.InvalidParamsError) as info:
            rest.parse_request("GET", "/tasks", query, b"")
        assert len(info.value.message) < 3 * MAX_QUOTED
        assert len(info.value.field_violations[0][1]) < 2 * MAX_QUOTED


def test_errors_on_the_wire_are_bounded_whatever_built_them() -> None:
    huge = "t" * 5_000_000
    error = e.TaskNotFoundError(
        f"Task {huge} not found",
        metadata={"taskId": huge},
        field_violations=[(huge, huge)],
    )
    for body in (jsonrpc.encode_error(1, error), rest.encode_error(error)[1]):
        assert len(body) < 2 * details.MAX_MESSAGE + 4 * details.MAX_DETAIL
        assert "\u2026" in body.decode()


# --- status codes -----------------------------------------------------------------------


def test_405_carries_code_405() -> None:
    error = e.MethodNotFoundError("DELETE is not allowed on '/message:send'")
    status, body = rest.encode_error(error, status=405)
    obj = t.decode_json(body)["error"]
    assert (status, obj["code"], obj["status"]) == (405, 405, "UNIMPLEMENTED")
    assert obj["details"][0]["reason"] == "METHOD_NOT_FOUND"


@pytest.mark.parametrize(
    "ctype",
    [
        None,
        "application/json",
        "application/a2a+json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.x+json",
    ],
)
def test_json_content_types_are_accepted(ctype: str | None) -> None:
    check_content_type(ctype, "application/json")


@pytest.mark.parametrize("ctype", ["text/plain", "", "application/jsonx", "x" * 10_000])
def test_other_content_types_are_content_type_not_supported(ctype: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as info:
        check_content_type(ctype, "application/json")
    error = info.value
    assert isinstance(error, e.ContentTypeNotSupportedError)
    assert len(error.message) < 2 * MAX_QUOTED
    status, body = rest.encode_error(error)
    obj = t.decode_json(body)["error"]
    assert (status, obj["code"], obj["status"]) == (415, 415, "INVALID_ARGUMENT")
    assert obj["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"
    assert error_object(jsonrpc.encode_error(None, error))["code"] == -32005
